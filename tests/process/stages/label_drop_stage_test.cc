// Tests of stage.label_drop (agent/process/stages/label_drop.cc), case by case after Alloy's
// stages/*_test.go behaviour.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/process/stages/stage_test_util.h"

namespace sluice::testing {
namespace {

using ::testing::ElementsAre;

TEST(LabelDropStageTest, RemovesNamedLabels) {
  StageHarness h =
      Make(NewLabelDropStage,
           BlockBuilder("stage.label_drop").Attr("values", Arr({Str("a"), Str("missing")})));
  ProcessEntry e = h.One(Entry("l", {{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(Label(e, "a"), "<absent>");
  EXPECT_EQ(Label(e, "b"), "2");
}

TEST(LabelDropStageTest, ValidatesArguments) {
  EXPECT_THAT(
      BuildErrors(NewLabelDropStage, BlockBuilder("stage.label_drop").Attr("values", Arr({}))),
      ElementsAre("labeldrop stage config cannot be empty"));
  EXPECT_THAT(
      BuildErrors(NewLabelDropStage, BlockBuilder("stage.label_drop").Attr("values", Str("a"))),
      ElementsAre("expected array, got string"));
}

}  // namespace
}  // namespace sluice::testing
