// Tests of stage.label_keep (agent/process/stages/label_keep.cc), case by case after Alloy's
// stages/*_test.go behaviour.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/process/stages/stage_test_util.h"

namespace sluice::testing {
namespace {

using ::testing::ElementsAre;

TEST(LabelKeepStageTest, KeepsOnlyNamedLabels) {
  StageHarness h = Make(NewLabelKeepStage,
                        BlockBuilder("stage.label_keep").Attr("values", Arr({Str("b"), Str("c")})));
  ProcessEntry e = h.One(Entry("l", {{"a", "1"}, {"b", "2"}, {"__tenant_id__", "t"}}));
  EXPECT_EQ(e.labels.size(), 1u);
  EXPECT_EQ(Label(e, "b"), "2");
}

TEST(LabelKeepStageTest, ValidatesArguments) {
  EXPECT_THAT(
      BuildErrors(NewLabelKeepStage, BlockBuilder("stage.label_keep").Attr("values", Arr({}))),
      ElementsAre("labelallow stage config cannot be empty"));
  EXPECT_THAT(BuildErrors(NewLabelKeepStage, BlockBuilder("stage.label_keep")),
              ElementsAre("missing required attribute \"values\""));
}

}  // namespace
}  // namespace sluice::testing
