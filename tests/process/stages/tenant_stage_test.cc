// Tests of stage.tenant (agent/process/stages/tenant.cc), case by case after Alloy's
// stages/*_test.go behaviour.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/process/stages/stage_test_util.h"

namespace sluice::testing {
namespace {

using ::testing::ElementsAre;

TEST(TenantStageTest, FromValueSourceOrLabel) {
  StageHarness v = Make(NewTenantStage, BlockBuilder("stage.tenant").Attr("value", Str("team-a")));
  EXPECT_EQ(Label(v.One(Entry("l")), "__tenant_id__"), "team-a");

  StageHarness s = Make(NewTenantStage, BlockBuilder("stage.tenant").Attr("source", Str("cust")));
  ProcessEntry in = Entry("l", {{"__tenant_id__", "old"}});
  in.extracted["cust"] = ExtractedValue::String("team-b");
  EXPECT_EQ(Label(s.One(std::move(in)), "__tenant_id__"), "team-b");
  EXPECT_EQ(Label(s.One(Entry("l", {{"__tenant_id__", "old"}})), "__tenant_id__"), "old");
  ProcessEntry empty = Entry("l");
  empty.extracted["cust"] = ExtractedValue::String("");
  EXPECT_EQ(Label(s.One(std::move(empty)), "__tenant_id__"), "<absent>");

  StageHarness l = Make(NewTenantStage, BlockBuilder("stage.tenant").Attr("label", Str("ns")));
  EXPECT_EQ(Label(l.One(Entry("l", {{"ns", "team-c"}})), "__tenant_id__"), "team-c");
  EXPECT_EQ(Label(l.One(Entry("l")), "__tenant_id__"), "<absent>");
}

TEST(TenantStageTest, ValidatesArguments) {
  EXPECT_THAT(BuildErrors(NewTenantStage, BlockBuilder("stage.tenant")),
              ElementsAre("label, source or value config are required"));
  EXPECT_THAT(
      BuildErrors(NewTenantStage,
                  BlockBuilder("stage.tenant").Attr("source", Str("a")).Attr("value", Str("b"))),
      ElementsAre("label, source and value are mutually exclusive: you should set source, "
                  "value or label but not all"));
  EXPECT_THAT(
      BuildErrors(NewTenantStage,
                  BlockBuilder("stage.tenant").Attr("label", Str("a")).Attr("source", Str("b"))),
      ElementsAre("label, source and value are mutually exclusive: you should set source, "
                  "value or label but not all"));
}

}  // namespace
}  // namespace sluice::testing
