// Tests of stage.structured_metadata (agent/process/stages/structured_metadata.cc), case by case
// after Alloy's stages/*_test.go behaviour.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/process/stages/stage_test_util.h"

namespace sluice::testing {
namespace {

using ::testing::ElementsAre;

TEST(StructuredMetadataStageTest, FromExtractedValues) {
  StageHarness h = Make(NewStructuredMetadataStage,
                        BlockBuilder("stage.structured_metadata")
                            .Attr("values", Obj({{"trace", Str("trace_id")}, {"app", Str("")}})));
  ProcessEntry in = Entry("line");
  in.extracted["trace_id"] = ExtractedValue::String("abc");
  in.extracted["app"] = ExtractedValue::Number(3);
  in.structured_metadata = {{"app", "old"}};
  ProcessEntry e = h.One(std::move(in));
  EXPECT_THAT(e.structured_metadata,
              ElementsAre(std::pair<std::string, std::string>("app", "3"),
                          std::pair<std::string, std::string>("trace", "abc")));
}

TEST(StructuredMetadataStageTest, MovesLabelsNamedAsSources) {
  StageHarness h =
      Make(NewStructuredMetadataStage,
           BlockBuilder("stage.structured_metadata").Attr("values", Obj({{"pod", Str("")}})));
  ProcessEntry e = h.One(Entry("line", {{"pod", "p-1"}, {"ns", "n"}}));
  EXPECT_EQ(Label(e, "pod"), "<absent>");
  EXPECT_EQ(Label(e, "ns"), "n");
  EXPECT_THAT(e.structured_metadata,
              ElementsAre(std::pair<std::string, std::string>("pod", "p-1")));
}

TEST(StructuredMetadataStageTest, RegexOnExtractedAndLabels) {
  StageHarness h = Make(NewStructuredMetadataStage,
                        BlockBuilder("stage.structured_metadata").Attr("regex", Str("^trace_")));
  ProcessEntry in = Entry("line", {{"trace_label", "L"}, {"other", "o"}});
  in.extracted["trace_id"] = ExtractedValue::String("abc");
  in.extracted["trace_null"] = ExtractedValue::Null();
  in.extracted["span"] = ExtractedValue::String("s");
  ProcessEntry e = h.One(std::move(in));
  EXPECT_THAT(e.structured_metadata,
              ElementsAre(std::pair<std::string, std::string>("trace_id", "abc"),
                          std::pair<std::string, std::string>("trace_label", "L")));
  EXPECT_EQ(Label(e, "trace_label"), "<absent>");
  EXPECT_EQ(Label(e, "other"), "o");
}

TEST(StructuredMetadataStageTest, ValidatesArguments) {
  StageHarness h;
  EXPECT_TRUE(
      h.Build(NewStructuredMetadataStage, BlockBuilder("stage.structured_metadata").Build()));
  EXPECT_THAT(
      BuildErrors(
          NewStructuredMetadataStage,
          BlockBuilder("stage.structured_metadata").Attr("values", Obj({{"\xfd", Str("")}}))),
      ElementsAre("invalid label name: \xfd"));
  EXPECT_THAT(BuildErrors(NewStructuredMetadataStage,
                          BlockBuilder("stage.structured_metadata").Attr("regex", Str("("))),
              ElementsAre("error parsing regexp: missing closing ): `(`"));
}

}  // namespace
}  // namespace sluice::testing
