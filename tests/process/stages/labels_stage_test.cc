// Tests of stage.labels (agent/process/stages/labels.cc), case by case after Alloy's
// stages/*_test.go behaviour.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/process/stages/stage_test_util.h"

namespace sluice::testing {
namespace {

using ::testing::ElementsAre;

TEST(LabelsStageTest, SetsLabelsFromExtractedValues) {
  StageHarness h = Make(NewLabelsStage, BlockBuilder("stage.labels")
                                            .Attr("values", Obj({{"level", Str("")},
                                                                 {"app_name", Str("app")},
                                                                 {"n", Str("")},
                                                                 {"flag", Str("")},
                                                                 {"gone", Str("")},
                                                                 {"nul", Str("")}})));
  ProcessEntry in = Entry("line", {{"level", "old"}});
  in.extracted["level"] = ExtractedValue::String("WARN");
  in.extracted["app"] = ExtractedValue::String("loki");
  in.extracted["n"] = ExtractedValue::Number(1.5);
  in.extracted["flag"] = ExtractedValue::Bool(true);
  in.extracted["nul"] = ExtractedValue::Null();
  ProcessEntry e = h.One(std::move(in));
  EXPECT_EQ(Label(e, "level"), "WARN");
  EXPECT_EQ(Label(e, "app_name"), "loki");
  EXPECT_EQ(Label(e, "n"), "1.5");
  EXPECT_EQ(Label(e, "flag"), "true");
  EXPECT_EQ(Label(e, "gone"), "<absent>");
  EXPECT_EQ(Label(e, "nul"), "<absent>");
}

TEST(LabelsStageTest, NullSourceMeansSameName) {
  StageHarness h = Make(NewLabelsStage,
                        BlockBuilder("stage.labels").Attr("values", Obj({{"a", config::Value()}})));
  ProcessEntry in = Entry("line");
  in.extracted["a"] = ExtractedValue::String("1");
  EXPECT_EQ(Label(h.One(std::move(in)), "a"), "1");
}

TEST(LabelsStageTest, SkipsInvalidUtf8Values) {
  StageHarness h =
      Make(NewLabelsStage, BlockBuilder("stage.labels").Attr("values", Obj({{"a", Str("")}})));
  ProcessEntry in = Entry("line");
  in.extracted["a"] = ExtractedValue::String("\xFF");
  EXPECT_EQ(Label(h.One(std::move(in)), "a"), "<absent>");
}

TEST(LabelsStageTest, FromStructuredMetadata) {
  StageHarness h = Make(NewLabelsStage, BlockBuilder("stage.labels")
                                            .Attr("values", Obj({{"trace", Str("trace_id")}}))
                                            .Attr("source_type", Str("structured_metadata")));
  ProcessEntry in = Entry("line");
  in.structured_metadata = {{"trace_id", "abc"}, {"trace_id", "second"}};
  in.extracted["trace_id"] = ExtractedValue::String("from-extracted");
  EXPECT_EQ(Label(h.One(std::move(in)), "trace"), "abc");
}

TEST(LabelsStageTest, ValidatesArguments) {
  EXPECT_THAT(BuildErrors(NewLabelsStage, BlockBuilder("stage.labels")),
              ElementsAre("missing required attribute \"values\""));
  EXPECT_THAT(BuildErrors(NewLabelsStage,
                          BlockBuilder("stage.labels").Attr("values", Obj({{"\xfd", Str("")}}))),
              ElementsAre("invalid label name: \xfd"));
  EXPECT_THAT(BuildErrors(NewLabelsStage, BlockBuilder("stage.labels")
                                              .Attr("values", Obj({{"a", Str("")}}))
                                              .Attr("source_type", Str("line"))),
              ElementsAre("invalid labels source_type: line. Can only be 'extracted' or "
                          "'structured_metadata'"));
  EXPECT_THAT(BuildErrors(NewLabelsStage, BlockBuilder("stage.labels")
                                              .Attr("values", Obj({{"a", Str("")}}))
                                              .Attr("source_type", Str("invalid_source_type"))),
              ElementsAre("unknown source_type: invalid_source_type"));
  // Names only need to be valid UTF-8 (prometheus/common's default scheme in Alloy).
  StageHarness h;
  EXPECT_TRUE(
      h.Build(NewLabelsStage,
              BlockBuilder("stage.labels").Attr("values", Obj({{"a-b.c", Str("")}})).Build()));
}

}  // namespace
}  // namespace sluice::testing
