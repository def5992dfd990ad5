// Tests of stage.static_labels (agent/process/stages/static_labels.cc), case by case after Alloy's
// stages/*_test.go behaviour.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/process/stages/stage_test_util.h"

namespace sluice::testing {
namespace {

using ::testing::ElementsAre;

TEST(StaticLabelsStageTest, SetsValuesAndSkipsEmptyOnes) {
  StageHarness h =
      Make(NewStaticLabelsStage,
           BlockBuilder("stage.static_labels")
               .Attr("values",
                     Obj({{"env", Str("prod")}, {"empty", Str("")}, {"nul", config::Value()}})));
  ProcessEntry e = h.One(Entry("l", {{"env", "dev"}, {"empty", "keep"}}));
  EXPECT_EQ(Label(e, "env"), "prod");
  EXPECT_EQ(Label(e, "empty"), "keep");
  EXPECT_EQ(Label(e, "nul"), "<absent>");
}

TEST(StaticLabelsStageTest, ValidatesArguments) {
  EXPECT_THAT(BuildErrors(NewStaticLabelsStage, BlockBuilder("stage.static_labels")),
              ElementsAre("missing required attribute \"values\""));
  EXPECT_THAT(
      BuildErrors(NewStaticLabelsStage,
                  BlockBuilder("stage.static_labels").Attr("values", Obj({{"", Str("x")}}))),
      ElementsAre("invalid label name: "));
  EXPECT_THAT(
      BuildErrors(NewStaticLabelsStage,
                  BlockBuilder("stage.static_labels").Attr("values", Obj({{"a", Str("\xff")}}))),
      ElementsAre("invalid label value: \xff"));
}

}  // namespace
}  // namespace sluice::testing
