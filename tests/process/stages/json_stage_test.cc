// Tests of stage.json (agent/process/stages/json.cc), case by case after Alloy's
// stages/*_test.go behaviour.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/process/stages/stage_test_util.h"

namespace sluice::testing {
namespace {

using ::testing::ElementsAre;

constexpr char kJsonLine[] = R"({
  "time":"2012-11-01T22:08:41+00:00", "app":"loki", "component": ["parser","type"],
  "level" : "WARN", "nested" : {"child":"value"}, "duration" : 125,
  "message" : "this is a log line", "extra": "{\"user\":\"marco\"}"
})";

StageHarness Json(BlockBuilder b) {
  StageHarness h;
  EXPECT_TRUE(h.Build(NewJsonStage, b.Build())) << ::testing::PrintToString(h.Errors());
  return h;
}

TEST(JsonStageTest, ExtractsExpressions) {
  StageHarness h = Json(BlockBuilder("stage.json")
                            .Attr("expressions", Obj({{"out", Str("message")},
                                                      {"app", Str("")},
                                                      {"nested", Str("")},
                                                      {"duration", Str("")},
                                                      {"unknown", Str("")},
                                                      {"first", Str("component[0]")},
                                                      {"child", Str("nested.child")}})));
  ProcessEntry e = h.One(Entry(kJsonLine));
  EXPECT_EQ(X(e, "out"), "this is a log line");
  EXPECT_EQ(X(e, "app"), "loki");
  EXPECT_EQ(X(e, "nested"), R"({"child":"value"})");
  EXPECT_EQ(X(e, "duration"), "<num:125>");
  EXPECT_EQ(X(e, "unknown"), "<null>");  // a path that finds nothing sets null
  EXPECT_EQ(X(e, "first"), "parser");
  EXPECT_EQ(X(e, "child"), "value");
  EXPECT_EQ(e.line, kJsonLine);
}

TEST(JsonStageTest, NullValuesForNullDocument) {
  StageHarness h = Json(BlockBuilder("stage.json").Attr("expressions", Obj({{"a", Str("")}})));
  EXPECT_EQ(X(h.One(Entry("null")), "a"), "<null>");
}

TEST(JsonStageTest, SourceReadsAnExtractedValue) {
  StageHarness h = Json(BlockBuilder("stage.json")
                            .Attr("expressions", Obj({{"user", Str("")}}))
                            .Attr("source", Str("extra")));
  ProcessEntry in = Entry("not json at all");
  in.extracted["extra"] = ExtractedValue::String(R"({"user":"marco"})");
  EXPECT_EQ(X(h.One(std::move(in)), "user"), "marco");
  // An absent or null source leaves the entry alone.
  ProcessEntry absent = h.One(Entry("x"));
  EXPECT_EQ(X(absent, "user"), "<absent>");
  ProcessEntry null_src = Entry("x");
  null_src.extracted["extra"] = ExtractedValue::Null();
  EXPECT_EQ(X(h.One(std::move(null_src)), "user"), "<absent>");
}

TEST(JsonStageTest, RegexExtractsMatchingTopLevelKeys) {
  StageHarness h = Json(BlockBuilder("stage.json").Attr("regex", Str("pod_.*")));
  ProcessEntry e = h.One(Entry(
      R"({"time":"2012-11-01T22:08:41+00:00", "pod_name": "my-pod-123", "pod_label": "my-label"})"));
  EXPECT_EQ(X(e, "pod_name"), "my-pod-123");
  EXPECT_EQ(X(e, "pod_label"), "my-label");
  EXPECT_EQ(X(e, "time"), "<absent>");
}

TEST(JsonStageTest, RegexAllAndExpressionsTogether) {
  StageHarness all = Json(BlockBuilder("stage.json").Attr("regex", Str(".*")));
  ProcessEntry e = all.One(Entry(kJsonLine));
  EXPECT_EQ(e.extracted.size(), 8u);
  EXPECT_EQ(X(e, "component"), R"(["parser","type"])");
  StageHarness both =
      Json(BlockBuilder("stage.json")
               .Attr("expressions", Obj({{"out", Str("message")}, {"app", Str("")}}))
               .Attr("regex", Str("(app|duration)")));
  e = both.One(Entry(kJsonLine));
  EXPECT_EQ(e.extracted.size(), 3u);
  EXPECT_EQ(X(e, "out"), "this is a log line");
  EXPECT_EQ(X(e, "duration"), "<num:125>");
}

TEST(JsonStageTest, MalformedPassesOrIsDropped) {
  StageHarness keep = Json(BlockBuilder("stage.json").Attr("expressions", Obj({{"a", Str("")}})));
  for (const std::string line : {"not json", "[1,2]", "\"str\"", "{\"a\":1} x"}) {
    ProcessEntry e = keep.One(Entry(line));
    EXPECT_EQ(e.line, line);
    EXPECT_TRUE(e.extracted.empty()) << line;
  }
  StageHarness drop = Json(BlockBuilder("stage.json")
                               .Attr("expressions", Obj({{"a", Str("")}}))
                               .Attr("drop_malformed", Bool(true)));
  EXPECT_TRUE(drop.Run(Entry("not json")).empty());
  EXPECT_TRUE(drop.Run(Entry("[1]")).empty());
  EXPECT_EQ(drop.Run(Entry(R"({"a":1})")).size(), 1u);
  EXPECT_EQ(drop.metrics->CounterValue("loki_process_dropped_lines_total",
                                       {{"component_id", "loki.process.test"},
                                        {"component_path", "/"},
                                        {"reason", "malformed_json"}}),
            2u);
  // An unusable source is not "malformed": nothing is dropped.
  StageHarness src = Json(BlockBuilder("stage.json")
                              .Attr("expressions", Obj({{"a", Str("")}}))
                              .Attr("source", Str("s"))
                              .Attr("drop_malformed", Bool(true)));
  EXPECT_EQ(src.Run(Entry("x")).size(), 1u);
}

TEST(JsonStageTest, IntegersBeyond64BitsAreFloats) {
  StageHarness h = Json(BlockBuilder("stage.json").Attr("regex", Str(".*")));
  ProcessEntry e = h.One(Entry(R"({"big": 12345678901234567890123, "neg": -92233720368547758090,
                                   "s": "12345678901234567890123", "u": 18446744073709551615})"));
  EXPECT_EQ(X(e, "big"), "<num:1.2345678901234568e+22>");
  EXPECT_EQ(X(e, "neg"), "<num:-9.2233720368547758e+19>");
  EXPECT_EQ(X(e, "s"), "12345678901234567890123");
  EXPECT_EQ(X(e, "u"), "<num:1.8446744073709552e+19>");
}

TEST(JsonStageTest, ValidatesArguments) {
  StageHarness h;
  EXPECT_FALSE(h.Build(NewJsonStage, BlockBuilder("stage.json").Build()));
  EXPECT_THAT(h.Errors(), ElementsAre("JMES expressions or regex is required"));
  EXPECT_FALSE(h.Build(NewJsonStage, BlockBuilder("stage.json")
                                         .Attr("expressions", Obj({{"a", Str("")}}))
                                         .Attr("source", Str(""))
                                         .Build()));
  EXPECT_THAT(h.Errors(), ElementsAre("empty source"));
  EXPECT_FALSE(h.Build(
      NewJsonStage,
      BlockBuilder("stage.json").Attr("expressions", Obj({{"extr1", Str("3##@$#33")}})).Build()));
  ASSERT_EQ(h.Errors().size(), 1u);
  EXPECT_EQ(
      h.Errors()[0].rfind("could not compile JMES expression: SyntaxError: Unknown char: '#'", 0),
      0u);
  EXPECT_NE(h.Errors()[0].find("3##@$#33"), std::string::npos);
  EXPECT_FALSE(h.Build(
      NewJsonStage,
      BlockBuilder("stage.json").Attr("expressions", Obj({{"n", Str("length(a)")}})).Build()));
  EXPECT_NE(h.Errors()[0].find("not supported"), std::string::npos);
  EXPECT_FALSE(h.Build(NewJsonStage, BlockBuilder("stage.json").Attr("regex", Str("(")).Build()));
  EXPECT_THAT(h.Errors(), ElementsAre("error parsing regexp: missing closing ): `(`"));
}

}  // namespace
}  // namespace sluice::testing
