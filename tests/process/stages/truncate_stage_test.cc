// Tests of stage.truncate (agent/process/stages/truncate.cc), case by case after Alloy's
// stages/*_test.go behaviour.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/process/stages/stage_test_util.h"

namespace sluice::testing {
namespace {

using ::testing::ElementsAre;

config::Block Rule(std::vector<std::pair<std::string, config::Value>> attrs) {
  BlockBuilder b("rule");
  for (auto& [k, v] : attrs) b.Attr(k, v);
  return b.Build();
}

StageHarness Truncate(std::vector<config::Block> rules) {
  BlockBuilder b("stage.truncate");
  for (auto& r : rules) b.Child(r);
  StageHarness h;
  EXPECT_TRUE(h.Build(NewTruncateStage, b.Build())) << ::testing::PrintToString(h.Errors());
  return h;
}

TEST(TruncateStageTest, TruncatesTheLineWithSuffix) {
  StageHarness h = Truncate({Rule({{"limit", Str("10B")}, {"suffix", Str("...")}})});
  EXPECT_EQ(h.One(Entry("short")).line, "short");
  // The limit counts the suffix: at most 7 bytes of the line stay.
  EXPECT_EQ(h.One(Entry("0123456")).line, "0123456");
  EXPECT_EQ(h.One(Entry("01234567")).line, "0123456...");
  ProcessEntry e = h.One(Entry("0123456789abc"));
  EXPECT_EQ(e.line, "0123456...");
  EXPECT_EQ(X(e, "truncated"), "line");
  EXPECT_EQ(h.Counter("loki_process_truncated_fields_total", {{"field", "line"}}), 2u);
}

TEST(TruncateStageTest, LabelsAllOrNamed) {
  StageHarness all = Truncate({Rule({{"limit", Str("4B")}, {"source_type", Str("label")}})});
  ProcessEntry e = all.One(Entry("line", {{"a", "123456"}, {"b", "12"}}));
  EXPECT_EQ(Label(e, "a"), "1234");
  EXPECT_EQ(Label(e, "b"), "12");
  EXPECT_EQ(X(e, "truncated"), "label");
  StageHarness named = Truncate(
      {Rule({{"limit", Str("4B")}, {"source_type", Str("label")}, {"sources", Arr({Str("b")})}})});
  e = named.One(Entry("line", {{"a", "123456"}, {"b", "123456"}}));
  EXPECT_EQ(Label(e, "a"), "123456");
  EXPECT_EQ(Label(e, "b"), "1234");
}

TEST(TruncateStageTest, StructuredMetadataAndExtracted) {
  StageHarness h = Truncate(
      {Rule({{"limit", Int(3)}, {"source_type", Str("structured_metadata")}}),
       Rule({{"limit", Int(3)}, {"source_type", Str("extracted")}, {"sources", Arr({Str("x")})}})});
  ProcessEntry in = Entry("line");
  in.structured_metadata = {{"m", "abcdef"}, {"k", "ab"}};
  in.extracted["x"] = ExtractedValue::String("abcdef");
  in.extracted["y"] = ExtractedValue::String("abcdef");
  ProcessEntry e = h.One(std::move(in));
  EXPECT_EQ(e.structured_metadata[0].second, "abc");
  EXPECT_EQ(e.structured_metadata[1].second, "ab");
  EXPECT_EQ(X(e, "x"), "abc");
  EXPECT_EQ(X(e, "y"), "abcdef");
  EXPECT_EQ(X(e, "truncated"), "extracted,structured_metadata");
  EXPECT_EQ(h.Counter("loki_process_truncated_fields_total", {{"field", "extracted"}}), 1u);
  EXPECT_EQ(h.Counter("loki_process_truncated_fields_total", {{"field", "structured_metadata"}}),
            1u);
}

TEST(TruncateStageTest, MergesWithAnEarlierTruncatedMarker) {
  StageHarness h = Truncate({Rule({{"limit", Str("1KiB")}})});
  ProcessEntry in = Entry(std::string(2000, 'x'));
  in.extracted["truncated"] = ExtractedValue::String("label");
  ProcessEntry e = h.One(std::move(in));
  EXPECT_EQ(e.line.size(), 1024u);
  EXPECT_EQ(X(e, "truncated"), "label,line");
}

std::vector<std::string> TruncateErrors(std::vector<std::pair<std::string, config::Value>> attrs) {
  StageHarness h;
  BlockBuilder b("stage.truncate");
  b.Child(Rule(std::move(attrs)));
  EXPECT_FALSE(h.Build(NewTruncateStage, b.Build()));
  return h.Errors();
}

TEST(TruncateStageTest, ValidatesRules) {
  StageHarness h;
  EXPECT_FALSE(h.Build(NewTruncateStage, BlockBuilder("stage.truncate").Build()));
  EXPECT_THAT(h.Errors(), ElementsAre("missing required block \"rule\""));
  EXPECT_THAT(TruncateErrors({}), ElementsAre("missing required attribute \"limit\""));
  EXPECT_THAT(TruncateErrors({{"limit", Str("0B")}}),
              ElementsAre("limit must be greater than zero"));
  EXPECT_THAT(TruncateErrors({{"limit", Str("10B")}, {"sources", Arr({Str("app")})}}),
              ElementsAre("sources cannot be set when source_type is 'line'"));
  EXPECT_THAT(TruncateErrors({{"limit", Str("10B")}, {"suffix", Str("12345678901")}}),
              ElementsAre("suffix length cannot be greater than or equal to limit"));
  EXPECT_THAT(TruncateErrors({{"limit", Str("1MiB")}, {"source_type", Str("test")}}),
              ElementsAre("unknown source_type: test"));
  EXPECT_THAT(TruncateErrors({{"limit", Str("1b")}}), ElementsAre("units: unknown unit b in 1b"));
  EXPECT_THAT(TruncateErrors({{"limit", Str("10")}}), ElementsAre("units: unknown unit  in 10"));
}

TEST(TruncateStageTest, AcceptsAlloyByteUnits) {
  for (const auto& [text, n] : std::vector<std::pair<std::string, size_t>>{
           {"1KB", 1024}, {"1KiB", 1024}, {"1.5KiB", 1536}, {"1KiB512B", 1536}, {"2MB", 2 << 20}}) {
    StageHarness h = Truncate({Rule({{"limit", Str(text)}})});
    EXPECT_EQ(h.One(Entry(std::string(3 << 20, 'x'))).line.size(), n) << text;
  }
}

}  // namespace
}  // namespace sluice::testing
