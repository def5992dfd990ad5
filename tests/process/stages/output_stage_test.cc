// Tests of stage.output (agent/process/stages/output.cc), case by case after Alloy's
// stages/*_test.go behaviour.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/process/stages/stage_test_util.h"

namespace sluice::testing {
namespace {

using ::testing::ElementsAre;

TEST(OutputStageTest, ReplacesLineWithExtractedValue) {
  StageHarness h = Make(NewOutputStage, BlockBuilder("stage.output").Attr("source", Str("msg")));
  ProcessEntry in = Entry("original");
  in.extracted["msg"] = ExtractedValue::String("new line");
  EXPECT_EQ(h.One(std::move(in)).line, "new line");
  ProcessEntry num = Entry("original");
  num.extracted["msg"] = ExtractedValue::Number(42);
  EXPECT_EQ(h.One(std::move(num)).line, "42");
  ProcessEntry nul = Entry("original");
  nul.extracted["msg"] = ExtractedValue::Null();
  EXPECT_EQ(h.One(std::move(nul)).line, "original");
  EXPECT_EQ(h.One(Entry("original")).line, "original");
}

TEST(OutputStageTest, ValidatesArguments) {
  EXPECT_THAT(BuildErrors(NewOutputStage, BlockBuilder("stage.output")),
              ElementsAre("missing required attribute \"source\""));
  EXPECT_THAT(BuildErrors(NewOutputStage, BlockBuilder("stage.output").Attr("source", Str(""))),
              ElementsAre("output source value is required if output is specified"));
}

}  // namespace
}  // namespace sluice::testing
