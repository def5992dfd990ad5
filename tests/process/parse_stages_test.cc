// Tests of the parsing stages (agent/process/stages/: cri, docker, json, logfmt, regex, replace,
// pack, decolorize, truncate, pattern, eventlogmessage), case by case after Alloy's
// stages/*_test.go behaviour.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "agent/process/stages/json_parser.h"
#include "tests/process/stage_test_util.h"

namespace sluice::testing {
namespace {

using ::testing::ElementsAre;

// ------------------------------------------------------------------------------------------
// stage.cri

constexpr char kCriTime[] = "2019-01-01T01:00:00.000000001Z";
constexpr int64_t kCriTimeNs = 1546304400000000001;

StageHarness Cri(BlockBuilder b = BlockBuilder("stage.cri")) {
  StageHarness h;
  EXPECT_TRUE(h.Build(NewCriStage, b.Build())) << ::testing::PrintToString(h.Errors());
  return h;
}

TEST(CriStageTest, ParsesFullLine) {
  StageHarness h = Cri();
  ProcessEntry e = h.One(Entry(std::string(kCriTime) + " stderr F message"));
  EXPECT_EQ(e.line, "message");
  EXPECT_EQ(e.timestamp_ns, kCriTimeNs);
  EXPECT_EQ(Label(e, "stream"), "stderr");
  EXPECT_EQ(X(e, "flags"), "F");
  EXPECT_EQ(X(e, "stream"), "stderr");
  EXPECT_EQ(X(e, "content"), "message");
  EXPECT_EQ(X(e, "time"), kCriTime);
}

TEST(CriStageTest, KeepsEmbeddedNewlines) {
  StageHarness h = Cri();
  EXPECT_EQ(h.One(Entry(std::string(kCriTime) + " stdout F message\nmessage2")).line,
            "message\nmessage2");
}

TEST(CriStageTest, InvalidTimestampKeepsEntryTime) {
  StageHarness h = Cri();
  ProcessEntry e = h.One(Entry("3242 stderr F message", {}, 77));
  EXPECT_EQ(e.line, "message");
  EXPECT_EQ(e.timestamp_ns, 77);
  EXPECT_EQ(Label(e, "stream"), "stderr");
}

TEST(CriStageTest, NonCriLinePassesUnchanged) {
  StageHarness h = Cri();
  ProcessEntry e = h.One(Entry("i'm invalid!!!", {}, 77));
  EXPECT_EQ(e.line, "i'm invalid!!!");
  EXPECT_TRUE(e.labels.empty());
  EXPECT_TRUE(e.extracted.empty());
  EXPECT_EQ(h.One(Entry(std::string(kCriTime) + "\tstdout F x")).line,
            std::string(kCriTime) + "\tstdout F x");
  EXPECT_EQ(h.One(Entry(std::string(kCriTime) + " stdoutF x")).line,
            std::string(kCriTime) + " stdoutF x");
}

TEST(CriStageTest, MissingFlagMeansFull) {
  StageHarness h = Cri();
  ProcessEntry e = h.One(Entry("something stderr looks like it could be cri"));
  EXPECT_EQ(e.line, "looks like it could be cri");
  EXPECT_EQ(X(e, "flags"), "F");
  EXPECT_EQ(h.One(Entry("ts stdout F")).line, "");
}

std::vector<std::string> Lines(const std::vector<ProcessEntry>& es) {
  std::vector<std::string> out;
  for (const ProcessEntry& e : es) out.emplace_back(e.line);
  return out;
}

TEST(CriStageTest, JoinsPartialLinesPerStream) {
  StageHarness h = Cri();
  const std::string t = "2019-05-07T18:57:50.904275087+00:00 stdout ";
  EXPECT_TRUE(h.Run(Entry(t + "P partial line 1 ", {{"foo", "bar"}})).empty());
  EXPECT_TRUE(h.Run(Entry(t + "P partial line 2 ", {{"foo", "bar2"}})).empty());
  int held = 0;
  h.stage->ForEachHeld([&](const ProcessEntry&) { ++held; });
  EXPECT_EQ(held, 2);
  EXPECT_THAT(Lines(h.Run(Entry(t + "F log finished", {{"foo", "bar"}}))),
              ElementsAre("partial line 1 log finished"));
  EXPECT_THAT(Lines(h.Run(Entry(t + "F another full log", {{"foo", "bar2"}}))),
              ElementsAre("partial line 2 another full log"));
  held = 0;
  h.stage->ForEachHeld([&](const ProcessEntry&) { ++held; });
  EXPECT_EQ(held, 0);
}

TEST(CriStageTest, StdoutAndStderrAreDifferentStreams) {
  StageHarness h = Cri();
  EXPECT_TRUE(h.Run(Entry("t stdout P out ")).empty());
  EXPECT_THAT(Lines(h.Run(Entry("t stderr F err"))), ElementsAre("err"));
  EXPECT_THAT(Lines(h.Run(Entry("t stdout F end"))), ElementsAre("out end"));
}

TEST(CriStageTest, JoinedEntryCoversTheFileRangeOfItsPieces) {
  StageHarness h = Cri();
  ProcessEntry p = Entry("t stdout P a");
  p.source = SourcePos{7, 1, 100, 120};
  ProcessEntry f = Entry("t stdout F b");
  f.source = SourcePos{7, 1, 120, 140};
  EXPECT_TRUE(h.Run(std::move(p)).empty());
  ProcessEntry out = h.One(std::move(f));
  EXPECT_EQ(out.line, "ab");
  EXPECT_EQ(out.source.start, 100);
  EXPECT_EQ(out.source.end, 140);
}

TEST(CriStageTest, MaxPartialLinesFlushesEveryPendingStream) {
  StageHarness h = Cri(BlockBuilder("stage.cri").Attr("max_partial_lines", Int(3)));
  const std::string p = "2019-05-07T18:57:50.904275087+00:00 stdout P ";
  const std::string f = "2019-05-07T18:57:55.904275087+00:00 stdout F ";
  std::vector<std::string> got;
  auto run = [&](const std::string& line, std::vector<std::pair<std::string, std::string>> l) {
    for (auto& s : Lines(h.Run(Entry(line, std::move(l))))) got.push_back(s);
  };
  run(p + "partial line 1 ", {{"label1", "val1"}, {"label2", "val2"}});
  run(p + "partial line 2 ", {{"label1", "val1"}});
  run(p + "partial line 3 ", {{"label1", "val1"}, {"label2", "val2"}});
  run(p + "partial line 4 ", {{"label1", "val3"}});
  EXPECT_TRUE(got.empty());
  run(p + "partial line 5 ", {{"label1", "val4"}});  // a 4th stream: the 3 pending go out
  EXPECT_THAT(got,
              ElementsAre("partial line 1 partial line 3 ", "partial line 2 ", "partial line 4 "));
  run(f + "log finished", {{"label1", "val1"}, {"label2", "val2"}});
  run(f + "another full log", {{"label1", "val3"}});
  run(f + "yet an another full log", {{"label1", "val4"}});
  EXPECT_THAT(got, ElementsAre("partial line 1 partial line 3 ", "partial line 2 ",
                               "partial line 4 ", "log finished", "another full log",
                               "partial line 5 yet an another full log"));
  EXPECT_EQ(h.Counter("loki_process_cri_partial_lines_flushed_total"), 3u);
}

TEST(CriStageTest, OneStreamNeverHitsMaxPartialLines) {
  StageHarness h = Cri(BlockBuilder("stage.cri").Attr("max_partial_lines", Int(3)));
  for (int i = 1; i <= 4; ++i) {
    EXPECT_TRUE(h.Run(Entry("t stdout P partial line " + std::to_string(i) + " ")).empty());
  }
  EXPECT_THAT(Lines(h.Run(Entry("t stdout F log finished"))),
              ElementsAre("partial line 1 partial line 2 partial line 3 partial line 4 log "
                          "finished"));
  EXPECT_EQ(h.Counter("loki_process_cri_partial_lines_flushed_total"), 0u);
}

TEST(CriStageTest, TruncatesJoinedLinesWhenAsked) {
  StageHarness h = Cri(BlockBuilder("stage.cri")
                           .Attr("max_partial_line_size", Int(11))
                           .Attr("max_partial_line_size_truncate", Bool(true)));
  EXPECT_TRUE(h.Run(Entry("t stdout P partial line 1 ", {{"foo", "bar"}})).empty());
  EXPECT_TRUE(h.Run(Entry("t stdout P partial", {{"foo", "bar2"}})).empty());
  EXPECT_THAT(Lines(h.Run(Entry("t stdout F log finished", {{"foo", "bar"}}))),
              ElementsAre("partial lin"));
  EXPECT_THAT(Lines(h.Run(Entry("t stdout F full", {{"foo", "bar2"}}))),
              ElementsAre("partialfull"));
  EXPECT_EQ(h.Counter("loki_process_cri_lines_truncated_total"), 2u);
}

TEST(CriStageTest, SizeWithoutTruncateDoesNothing) {
  StageHarness h = Cri(BlockBuilder("stage.cri").Attr("max_partial_line_size", Int(3)));
  EXPECT_TRUE(h.Run(Entry("t stdout P abcdef")).empty());
  EXPECT_THAT(Lines(h.Run(Entry("t stdout F gh"))), ElementsAre("abcdefgh"));
}

TEST(CriStageTest, FlushReleasesPendingPartials) {
  StageHarness h = Cri();
  EXPECT_TRUE(h.Run(Entry("t stdout P a", {{"s", "1"}})).empty());
  EXPECT_TRUE(h.Run(Entry("t stdout P b", {{"s", "2"}})).empty());
  EXPECT_EQ(h.stage->NextDeadline(), INT64_MAX);  // Alloy has no timeout for partials
  EXPECT_THAT(Lines(h.Flush()), ElementsAre("a", "b"));
  EXPECT_TRUE(h.Flush().empty());
}

TEST(CriStageTest, ValidatesArguments) {
  StageHarness h;
  EXPECT_FALSE(
      h.Build(NewCriStage, BlockBuilder("stage.cri").Attr("max_partial_lines", Int(0)).Build()));
  EXPECT_THAT(h.Errors(), ElementsAre("max_partial_lines must be greater than 0"));
  EXPECT_FALSE(h.Build(NewCriStage,
                       BlockBuilder("stage.cri").Attr("max_partial_line_size", Int(-1)).Build()));
  EXPECT_FALSE(h.Build(NewCriStage, BlockBuilder("stage.cri").Attr("bogus", Int(1)).Build()));
  EXPECT_THAT(h.Errors(), ElementsAre("unrecognized attribute name \"bogus\""));
}

// ------------------------------------------------------------------------------------------
// stage.docker

StageHarness Docker() {
  StageHarness h;
  EXPECT_TRUE(h.Build(NewDockerStage, BlockBuilder("stage.docker").Build()));
  return h;
}

TEST(DockerStageTest, ParsesJsonFileLines) {
  StageHarness h = Docker();
  ProcessEntry e = h.One(Entry(
      R"({"log":"level=info msg=\"Adding target\"\n","stream":"stderr","time":"2019-04-30T02:12:41.8443515Z"})"));
  EXPECT_EQ(e.line, "level=info msg=\"Adding target\"\n");  // the newline stays, as in Alloy
  EXPECT_EQ(Label(e, "stream"), "stderr");
  EXPECT_EQ(e.timestamp_ns, 1556590361844351500);
  EXPECT_EQ(X(e, "output"), e.line);
  EXPECT_EQ(X(e, "stream"), "stderr");
  EXPECT_EQ(X(e, "timestamp"), "2019-04-30T02:12:41.8443515Z");
}

TEST(DockerStageTest, InvalidTimestampKeepsEntryTime) {
  StageHarness h = Docker();
  ProcessEntry e = h.One(Entry(R"({"log":"log message\n","stream":"stderr","time":"hi!"})", {}, 5));
  EXPECT_EQ(e.line, "log message\n");
  EXPECT_EQ(e.timestamp_ns, 5);
  EXPECT_EQ(Label(e, "stream"), "stderr");
}

TEST(DockerStageTest, OtherInputPassesUnchanged) {
  StageHarness h = Docker();
  for (const std::string line :
       {"i'm not json!", R"({"msg": "test"})", R"({"log": ""})", R"({"log": 5})", "null",
        R"(["log"])", R"({"log":"x"} trailing)"}) {
    ProcessEntry e = h.One(Entry(line));
    EXPECT_EQ(e.line, line);
    EXPECT_TRUE(e.labels.empty()) << line;
  }
}

TEST(DockerStageTest, KeysMatchCaseInsensitivelyAndLastWins) {
  StageHarness h = Docker();
  ProcessEntry e = h.One(Entry(R"({"LOG":"a","Log":"b","Stream":"stdout","time":null})", {}, 9));
  EXPECT_EQ(e.line, "b");
  EXPECT_EQ(Label(e, "stream"), "stdout");
  EXPECT_EQ(e.timestamp_ns, 9);
}

// ------------------------------------------------------------------------------------------
// stage.json

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

// One-field expressions are looked up without the interpreter: the same values as through it
// (the last of repeated keys, as Go's map; types kept; a field of a non-object is null).
TEST(JsonStageTest, FieldExpressionsMatchTheInterpreter) {
  StageHarness h =
      Json(BlockBuilder("stage.json")
               .Attr("expressions", Obj({{"a", Str("")},
                                         {"quoted", Str(R"("a")")},
                                         {"b", Str("")},
                                         {"n", Str("")},
                                         {"big", Str("")},
                                         {"arr", Str("")},
                                         {"via_pipe", Str("a | @")},  // the interpreter's path
                                         {"missing", Str("")}})));
  ProcessEntry e = h.One(
      Entry(R"({"a":"1","b":true,"n":null,"big":18446744073709551615,"arr":[1,"x"],"a":"2"})"));
  EXPECT_EQ(X(e, "a"), "2");
  EXPECT_EQ(X(e, "quoted"), "2");
  EXPECT_EQ(X(e, "via_pipe"), "2");
  EXPECT_EQ(X(e, "b"), "<bool:true>");
  EXPECT_EQ(X(e, "n"), "<null>");
  EXPECT_EQ(X(e, "big"), "<num:1.8446744073709552e+19>");
  EXPECT_EQ(X(e, "arr"), R"([1,"x"])");
  EXPECT_EQ(X(e, "missing"), "<null>");
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

// A line lent with padding after it (the tail's read buffer) is parsed where it is; other text
// is copied into the parser's padded buffer first. The padding's bytes are never part of the
// document.
TEST(JsonStageTest, APaddedLineIsParsedInPlace) {
  stage_util::JsonParser p;
  std::string buf = R"({"level":"warn","n":12})";
  const size_t len = buf.size();
  buf.append(kEntryLinePadding, '{');  // readable, and not JSON
  const std::string_view doc = std::string_view(buf).substr(0, len);
  simdjson::dom::element root;
  ASSERT_TRUE(p.Parse(doc, &root, /*padded=*/true));
  EXPECT_EQ(p.copied_bytes(), 0u);
  std::string_view level;
  ASSERT_EQ(root["level"].get_string().get(level), simdjson::SUCCESS);
  EXPECT_EQ(level, "warn");
  EXPECT_FALSE(p.Parse(doc.substr(0, len - 1), &root, /*padded=*/true)) << "cut: malformed";
  EXPECT_EQ(p.copied_bytes(), 0u);
  ASSERT_TRUE(p.Parse(doc, &root, /*padded=*/false));
  EXPECT_EQ(p.copied_bytes(), len);

  // Through the stage: the same values from a lent, padded line.
  StageHarness h = Json(BlockBuilder("stage.json").Attr("expressions", Obj({{"n", Str("")}})));
  ProcessEntry e;
  e.line.Borrow(doc, /*padded=*/true);
  EXPECT_EQ(X(h.One(std::move(e)), "n"), "<num:12>");
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

// ------------------------------------------------------------------------------------------
// stage.logfmt

constexpr char kLogfmtLine[] =
    "\n\t\ttime=2012-11-01T22:08:41+00:00 app=loki\tlevel=WARN duration=125 message=\"this is a "
    "log line\" extra=\"user=foo\"\"\n\t";

StageHarness Logfmt(BlockBuilder b) {
  StageHarness h;
  EXPECT_TRUE(h.Build(NewLogfmtStage, b.Build())) << ::testing::PrintToString(h.Errors());
  return h;
}

TEST(LogfmtStageTest, MappingExtractsAsStrings) {
  StageHarness h = Logfmt(BlockBuilder("stage.logfmt")
                              .Attr("mapping", Obj({{"out", Str("message")},
                                                    {"app", Str("")},
                                                    {"duration", Str("")},
                                                    {"unknown", Str("")}})));
  ProcessEntry e = h.One(Entry(kLogfmtLine));
  EXPECT_EQ(X(e, "out"), "this is a log line");
  EXPECT_EQ(X(e, "app"), "loki");
  EXPECT_EQ(X(e, "duration"), "125");
  EXPECT_EQ(X(e, "unknown"), "<absent>");
  EXPECT_EQ(e.extracted.size(), 3u);
}

TEST(LogfmtStageTest, SourceAndRegex) {
  StageHarness h = Logfmt(BlockBuilder("stage.logfmt")
                              .Attr("mapping", Obj({{"user", Str("")}}))
                              .Attr("source", Str("extra")));
  ProcessEntry in = Entry("ignored");
  in.extracted["extra"] = ExtractedValue::String("user=foo");
  EXPECT_EQ(X(h.One(std::move(in)), "user"), "foo");
  EXPECT_EQ(X(h.One(Entry("user=bar")), "user"), "<absent>");  // source absent

  StageHarness re = Logfmt(BlockBuilder("stage.logfmt").Attr("regex", Str("pod_.*")));
  ProcessEntry e = re.One(Entry("time=x pod_name=my-pod-123 pod_label=my-label"));
  EXPECT_EQ(X(e, "pod_name"), "my-pod-123");
  EXPECT_EQ(X(e, "pod_label"), "my-label");
  EXPECT_EQ(X(e, "time"), "<absent>");
}

TEST(LogfmtStageTest, InvalidLogfmtKeepsPairsBeforeTheError) {
  StageHarness h = Logfmt(BlockBuilder("stage.logfmt").Attr("regex", Str(".*")));
  ProcessEntry e = h.One(Entry(kLogfmtLine));
  EXPECT_EQ(X(e, "extra"), "user=foo");
  EXPECT_EQ(e.extracted.size(), 6u);
  EXPECT_TRUE(h.One(Entry(R"({"invalid":"logfmt"})")).extracted.empty());
}

TEST(LogfmtStageTest, ValidatesArguments) {
  StageHarness h;
  EXPECT_FALSE(h.Build(NewLogfmtStage, BlockBuilder("stage.logfmt").Build()));
  EXPECT_THAT(h.Errors(), ElementsAre("logfmt mapping or regex is required"));
  EXPECT_FALSE(
      h.Build(NewLogfmtStage, BlockBuilder("stage.logfmt").Attr("regex", Str("[")).Build()));
  EXPECT_THAT(h.Errors(), ElementsAre("error parsing regexp: missing closing ]: `[`"));
}

// ------------------------------------------------------------------------------------------
// stage.regex

constexpr char kAccessLine[] =
    R"(11.11.11.11 - frank [25/Jan/2000:14:00:01 -0500] "GET /1986.js HTTP/1.1" 200 932 "-" "Mozilla/5.0 (Windows; U; Windows NT 5.1; de; rv:1.9.1.7) Gecko/20091221 Firefox/3.5.7 GTB6")";

StageHarness Regex(BlockBuilder b) {
  StageHarness h;
  EXPECT_TRUE(h.Build(NewRegexStage, b.Build())) << ::testing::PrintToString(h.Errors());
  return h;
}

TEST(RegexStageTest, NamedGroupsAreExtracted) {
  StageHarness h = Regex(
      BlockBuilder("stage.regex")
          .Attr(
              "expression",
              Str(R"re(^(?P<ip>\S+) (?P<identd>\S+) (?P<user>\S+) \[(?P<timestamp>[\w:/]+\s[+\-]\d{4})\] "(?P<action>\S+)\s?(?P<path>\S+)?\s?(?P<protocol>\S+)?" (?P<status>\d{3}|-) (\d+|-)\s?"?(?P<referer>[^"]*)"?\s?"?(?P<useragent>[^"]*)?"?$)re")));
  ProcessEntry e = h.One(Entry(kAccessLine));
  EXPECT_EQ(X(e, "ip"), "11.11.11.11");
  EXPECT_EQ(X(e, "user"), "frank");
  EXPECT_EQ(X(e, "timestamp"), "25/Jan/2000:14:00:01 -0500");
  EXPECT_EQ(X(e, "status"), "200");
  EXPECT_EQ(X(e, "referer"), "-");
  EXPECT_EQ(e.extracted.size(), 10u);
  EXPECT_TRUE(e.labels.empty());
}

TEST(RegexStageTest, NoMatchLeavesEntry) {
  StageHarness h = Regex(BlockBuilder("stage.regex").Attr("expression", Str("(?P<x>^z)")));
  EXPECT_TRUE(h.One(Entry("abc")).extracted.empty());
}

TEST(RegexStageTest, UnmatchedOptionalGroupIsEmpty) {
  StageHarness h = Regex(BlockBuilder("stage.regex").Attr("expression", Str("a(?P<b>b)?")));
  EXPECT_EQ(X(h.One(Entry("ac")), "b"), "");
}

TEST(RegexStageTest, SourceReadsExtractedValues) {
  StageHarness h = Regex(BlockBuilder("stage.regex")
                             .Attr("expression", Str(R"(^(?P<year>\d+))"))
                             .Attr("source", Str("time")));
  ProcessEntry in = Entry("line");
  in.extracted["time"] = ExtractedValue::String("2019-01-01");
  EXPECT_EQ(X(h.One(std::move(in)), "year"), "2019");
  ProcessEntry num = Entry("line");
  num.extracted["time"] = ExtractedValue::Number(125);  // converted with getString
  EXPECT_EQ(X(h.One(std::move(num)), "year"), "125");
  EXPECT_EQ(X(h.One(Entry("2020")), "year"), "<absent>");
}

TEST(RegexStageTest, LabelsFromGroups) {
  StageHarness h = Regex(BlockBuilder("stage.regex")
                             // \C (any byte) lets the test capture invalid UTF-8.
                             .Attr("expression", Str("^(?P<level>\\w+) (?P<msg>\\C*)$"))
                             .Attr("labels_from_groups", Bool(true)));
  ProcessEntry e = h.One(Entry("error it broke", {{"level", "old"}}));
  EXPECT_EQ(Label(e, "level"), "error");
  EXPECT_EQ(Label(e, "msg"), "it broke");
  // A value that is not valid UTF-8 is extracted but not made a label.
  ProcessEntry bad = h.One(Entry("warn \xFF"));
  EXPECT_EQ(X(bad, "msg"), "\xFF");
  EXPECT_EQ(Label(bad, "msg"), "<absent>");
}

TEST(RegexStageTest, ValidatesArguments) {
  StageHarness h;
  EXPECT_FALSE(h.Build(NewRegexStage, BlockBuilder("stage.regex").Build()));
  EXPECT_THAT(h.Errors(), ElementsAre("missing required attribute \"expression\""));
  EXPECT_FALSE(
      h.Build(NewRegexStage, BlockBuilder("stage.regex").Attr("expression", Str("")).Build()));
  EXPECT_THAT(h.Errors(), ElementsAre("expression is required"));
  EXPECT_FALSE(h.Build(NewRegexStage, BlockBuilder("stage.regex")
                                          .Attr("expression", Str("(?P<ts>[0-9]+).*"))
                                          .Attr("source", Str(""))
                                          .Build()));
  EXPECT_THAT(h.Errors(), ElementsAre("empty source"));
  EXPECT_FALSE(
      h.Build(NewRegexStage,
              BlockBuilder("stage.regex").Attr("expression", Str("(?P<ts[0-9]+).*")).Build()));
  ASSERT_EQ(h.Errors().size(), 1u);
  EXPECT_EQ(
      h.Errors()[0].rfind(
          "could not compile regular expression: error parsing regexp: invalid named capture", 0),
      0u);
}

// ------------------------------------------------------------------------------------------
// stage.replace

StageHarness Replace(BlockBuilder b) {
  StageHarness h;
  EXPECT_TRUE(h.Build(NewReplaceStage, b.Build())) << ::testing::PrintToString(h.Errors());
  return h;
}

constexpr char kUpperTemplate[] =
    "{{ if eq .Value \"200\" }}{{ Replace .Value \"200\" \"HttpStatusOk\" -1 }}{{ else }}{{ "
    ".Value | ToUpper }}{{ end }}";
constexpr char kReplacedLine[] =
    R"(11.11.11.11 - FRANK [25/JAN/2000:14:00:01 -0500] "GET /1986.JS HTTP/1.1" HttpStatusOk 932 "-" "MOZILLA/5.0 (WINDOWS; U; WINDOWS NT 5.1; DE; RV:1.9.1.7) GECKO/20091221 FIREFOX/3.5.7 GTB6")";

TEST(ReplaceStageTest, ReplacesCaptureGroupsOfTheLine) {
  StageHarness h = Replace(BlockBuilder("stage.replace")
                               .Attr("expression", Str(R"(11.11.11.11 - (\S+) .*)"))
                               .Attr("replace", Str("dummy")));
  ProcessEntry e = h.One(Entry(kAccessLine));
  EXPECT_EQ(e.line.substr(0, 20), "11.11.11.11 - dummy ");
  EXPECT_TRUE(e.extracted.empty());
}

TEST(ReplaceStageTest, SourceIsReplacedInPlace) {
  StageHarness h = Replace(BlockBuilder("stage.replace")
                               .Attr("expression", Str(R"(\S+ - "POST (\S+) .*)"))
                               .Attr("source", Str("msg"))
                               .Attr("replace", Str("/loki/api/v1/push/")));
  ProcessEntry in = Entry("the line");
  in.extracted["msg"] =
      ExtractedValue::String(R"(11.11.11.11 - "POST /loki/api/push/ HTTP/1.1" 200)");
  ProcessEntry e = h.One(std::move(in));
  EXPECT_EQ(X(e, "msg"), R"(11.11.11.11 - "POST /loki/api/v1/push/ HTTP/1.1" 200)");
  EXPECT_EQ(e.line, "the line");
}

TEST(ReplaceStageTest, TemplateWithNamedGroups) {
  StageHarness h = Replace(
      BlockBuilder("stage.replace")
          .Attr(
              "expression",
              Str(R"re(^(?P<ip>\S+) (?P<identd>\S+) (?P<user>\S+) \[(?P<timestamp>[\w:/]+\s[+\-]\d{4})\] "(?P<action>\S+)\s?(?P<path>\S+)?\s?(?P<protocol>\S+)?" (?P<status>\d{3}|-) (\d+|-)\s?"?(?P<referer>[^"]*)"?\s?"?(?P<useragent>[^"]*)?"?$)re"))
          .Attr("replace", Str(kUpperTemplate)));
  ProcessEntry e = h.One(Entry(kAccessLine));
  EXPECT_EQ(e.line, kReplacedLine);
  EXPECT_EQ(X(e, "user"), "FRANK");
  EXPECT_EQ(X(e, "status"), "HttpStatusOk");
  EXPECT_EQ(X(e, "path"), "/1986.JS");
  EXPECT_EQ(X(e, "ip"), "11.11.11.11");
  EXPECT_EQ(e.extracted.size(), 10u);
}

TEST(ReplaceStageTest, NestedGroupsAreReplacedOnce) {
  StageHarness h = Replace(
      BlockBuilder("stage.replace")
          .Attr(
              "expression",
              Str(R"re((?P<ip_user>^(?P<ip>\S+) (?P<identd>\S+) (?P<user>\S+)) \[(?P<timestamp>[\w:/]+\s[+\-]\d{4})\] "(?P<action_path>(?P<action>\S+)\s?(?P<path>\S+)?)\s?(?P<protocol>\S+)?" (?P<status>\d{3}|-) (\d+|-)\s?"?(?P<referer>[^"]*)"?\s?"?(?P<useragent>[^"]*)?"?$)re"))
          .Attr("replace", Str(kUpperTemplate)));
  ProcessEntry e = h.One(Entry(kAccessLine));
  EXPECT_EQ(e.line, kReplacedLine);
  EXPECT_EQ(X(e, "ip_user"), "11.11.11.11 - FRANK");
  EXPECT_EQ(X(e, "action_path"), "GET /1986.JS");
  EXPECT_EQ(X(e, "user"), "FRANK");
}

TEST(ReplaceStageTest, UnnamedGroupsWithTemplate) {
  StageHarness h = Replace(
      BlockBuilder("stage.replace")
          .Attr(
              "expression",
              Str(R"re(^(\S+) (\S+) (\S+) \[([\w:/]+\s[+\-]\d{4})\] "(\S+)\s?(\S+)?\s?(\S+)?" (\d{3}|-) (\d+|-)\s?"?([^"]*)"?\s?"?([^"]*)?"?$)re"))
          .Attr("replace", Str(kUpperTemplate)));
  ProcessEntry e = h.One(Entry(kAccessLine));
  EXPECT_EQ(e.line, kReplacedLine);
  EXPECT_TRUE(e.extracted.empty());
}

TEST(ReplaceStageTest, EmptyReplaceRemovesCaptures) {
  StageHarness h = Replace(BlockBuilder("stage.replace")
                               .Attr("expression", Str(R"(11.11.11.11 - (\S+\s))"))
                               .Attr("replace", Str("")));
  EXPECT_EQ(h.One(Entry(kAccessLine)).line.substr(0, 16), "11.11.11.11 - [2");
  StageHarness adj = Replace(BlockBuilder("stage.replace").Attr("expression", Str("(a|b|c)")));
  EXPECT_EQ(adj.One(Entry("abc")).line, "");
}

TEST(ReplaceStageTest, TemplateReadsExtractedValues) {
  StageHarness h = Replace(BlockBuilder("stage.replace")
                               .Attr("expression", Str("user=(\\w+)"))
                               .Attr("replace", Str("{{ .Value }}@{{ .host }}")));
  ProcessEntry in = Entry("user=bob ok");
  in.extracted["host"] = ExtractedValue::String("h1");
  EXPECT_EQ(h.One(std::move(in)).line, "user=bob@h1 ok");
}

TEST(ReplaceStageTest, HashRedactsValues) {
  StageHarness h = Replace(BlockBuilder("stage.replace")
                               .Attr("expression", Str("password (\\S+)"))
                               .Attr("replace", Str("{{ .Value | Sha2Hash \"a\" }}")));
  EXPECT_EQ(h.One(Entry("password bc!")).line.substr(0, 15), "password 53e0ef");
}

TEST(ReplaceStageTest, NoMatchOrTemplateErrorLeavesEntry) {
  StageHarness h = Replace(BlockBuilder("stage.replace")
                               .Attr("expression", Str("x(\\d)"))
                               .Attr("replace", Str("{{ ToUpper .nothing }}")));
  EXPECT_EQ(h.One(Entry("abc")).line, "abc");
  EXPECT_EQ(h.One(Entry("x1")).line, "x1");
  StageHarness src = Replace(
      BlockBuilder("stage.replace").Attr("expression", Str("(a)")).Attr("source", Str("missing")));
  EXPECT_EQ(src.One(Entry("a")).line, "a");
}

TEST(ReplaceStageTest, ValidatesArguments) {
  StageHarness h;
  EXPECT_FALSE(h.Build(NewReplaceStage, BlockBuilder("stage.replace").Build()));
  EXPECT_THAT(h.Errors(), ElementsAre("missing required attribute \"expression\""));
  EXPECT_FALSE(
      h.Build(NewReplaceStage, BlockBuilder("stage.replace").Attr("expression", Str("")).Build()));
  EXPECT_THAT(h.Errors(), ElementsAre("expression is required"));
  EXPECT_FALSE(
      h.Build(NewReplaceStage,
              BlockBuilder("stage.replace").Attr("expression", Str("(?P<ts[0-9]+).*")).Build()));
  EXPECT_EQ(h.Errors()[0].rfind("could not compile regular expression: error parsing regexp: ", 0),
            0u);
  EXPECT_FALSE(h.Build(NewReplaceStage, BlockBuilder("stage.replace")
                                            .Attr("expression", Str("(a)"))
                                            .Attr("replace", Str("{{ nope .Value }}"))
                                            .Build()));
  ASSERT_EQ(h.Errors().size(), 1u);
  EXPECT_EQ(h.Errors()[0].rfind(
                "failed to compile template: template: pipeline_template:1: function \"nope\" not "
                "defined",
                0),
            0u);
}

// ------------------------------------------------------------------------------------------
// stage.pack

StageHarness Pack(BlockBuilder b) {
  StageHarness h;
  EXPECT_TRUE(h.Build(NewPackStage, b.Build())) << ::testing::PrintToString(h.Errors());
  return h;
}

ProcessEntry WithExtracted(ProcessEntry e) {
  // The pipeline copies the labels into the extracted map before the first stage.
  for (const auto& [k, v] : e.labels.labels()) {
    e.extracted[std::string(k)] = ExtractedValue::String(std::string(v));
  }
  return e;
}

TEST(PackStageTest, NoLabelsWrapsTheLine) {
  StageHarness h = Pack(
      BlockBuilder("stage.pack").Attr("labels", Arr({})).Attr("ingest_timestamp", Bool(false)));
  ProcessEntry e = h.One(WithExtracted(Entry("test line 1", {{"foo", "bar"}}, 1)));
  EXPECT_EQ(e.line, R"({"_entry":"test line 1"})");
  EXPECT_EQ(e.timestamp_ns, 1);
  EXPECT_EQ(Label(e, "foo"), "bar");
}

TEST(PackStageTest, PacksLabelsSortedAndRemovesThem) {
  StageHarness h = Pack(BlockBuilder("stage.pack")
                            .Attr("labels", Arr({Str("foo"), Str("bar"), Str("nope")}))
                            .Attr("ingest_timestamp", Bool(false)));
  ProcessEntry e =
      h.One(WithExtracted(Entry("test line 1", {{"foo", "bar"}, {"bar", "baz"}, {"x", "y"}}, 1)));
  EXPECT_EQ(e.line, R"({"bar":"baz","foo":"bar","_entry":"test line 1"})");
  EXPECT_EQ(Label(e, "foo"), "<absent>");
  EXPECT_EQ(Label(e, "bar"), "<absent>");
  EXPECT_EQ(Label(e, "x"), "y");
}

TEST(PackStageTest, PacksExtractedValuesAndEscapes) {
  StageHarness h = Pack(BlockBuilder("stage.pack")
                            .Attr("labels", Arr({Str("ex\"tr2"), Str("n")}))
                            .Attr("ingest_timestamp", Bool(false)));
  ProcessEntry in = Entry("<a & b>\n", {}, 1);
  in.extracted["ex\"tr2"] = ExtractedValue::String("\"fd\"");
  in.extracted["n"] = ExtractedValue::Null();  // not convertible: skipped
  EXPECT_EQ(h.One(std::move(in)).line,
            R"({"ex\"tr2":"\"fd\"","_entry":"\u003ca \u0026 b\u003e\n"})");
}

TEST(PackStageTest, IngestTimestampDefaultsToNow) {
  StageHarness h = Pack(BlockBuilder("stage.pack").Attr("labels", Arr({})));
  EXPECT_EQ(h.One(Entry("x", {}, 1)).timestamp_ns, h.clock->NowUnixNanos());
}

TEST(PackStageTest, LabelsAreRequired) {
  StageHarness h;
  EXPECT_FALSE(h.Build(NewPackStage, BlockBuilder("stage.pack").Build()));
  EXPECT_THAT(h.Errors(), ElementsAre("missing required attribute \"labels\""));
}

// ------------------------------------------------------------------------------------------
// stage.decolorize

TEST(DecolorizeStageTest, RemovesAnsiEscapes) {
  StageHarness h;
  ASSERT_TRUE(h.Build(NewDecolorizeStage, BlockBuilder("stage.decolorize").Build()));
  EXPECT_EQ(h.One(Entry("sample text")).line, "sample text");
  EXPECT_EQ(h.One(Entry("\033[0;32mgreen\033[0m \033[0;31mred\033[0m")).line, "green red");
  EXPECT_EQ(h.One(Entry("\033[1;4;38;5;196mbold\033[K!")).line, "bold!");
  EXPECT_EQ(h.One(Entry("\xC2\x9B"
                        "31mc1\xC2\x9Bm"))
                .line,
            "c1");                                               // C1 CSI
  EXPECT_EQ(h.One(Entry("\033]0;title\007text")).line, "text");  // OSC with BEL
  EXPECT_EQ(h.One(Entry("caf\xC3\xA9 \033[0m")).line, "caf\xC3\xA9 ");
  EXPECT_FALSE(
      h.Build(NewDecolorizeStage, BlockBuilder("stage.decolorize").Attr("x", Int(1)).Build()));
}

// ------------------------------------------------------------------------------------------
// stage.truncate

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

namespace sluice::testing {
namespace {

// stage.pattern with Loki's matching rules: a leading literal anchors, `<_>` skips, a literal
// that is not found ends the match with the capture taking the rest.
TEST(PatternStageTest, LokiPatternCaptures) {
  StageHarness h;
  ASSERT_TRUE(h.Build(NewPatternStage,
                      BlockBuilder("stage.pattern")
                          .Attr("pattern", Str("<ip> - - <_> \"<method> <path> <_>\" <status>"))
                          .Attr("labels_from_groups", config::Value::Bool(true))
                          .Build()))
      << ::testing::PrintToString(h.Errors());
  ProcessEntry e =
      h.One(Entry("10.0.0.1 - - [02/Dec/2026:10:00:00 +0000] \"GET /api/v1 HTTP/1.1\" 200 512"));
  EXPECT_EQ(X(e, "ip"), "10.0.0.1");
  EXPECT_EQ(X(e, "method"), "GET");
  EXPECT_EQ(X(e, "path"), "/api/v1");
  EXPECT_EQ(X(e, "status"), "200 512") << "the last capture takes the rest";
  EXPECT_EQ(*e.labels.Get("method"), "GET");

  StageHarness anchored;
  ASSERT_TRUE(anchored.Build(
      NewPatternStage,
      BlockBuilder("stage.pattern").Attr("pattern", Str("level=<level> msg=<msg>")).Build()));
  EXPECT_EQ(X(anchored.One(Entry("ts=1 level=info msg=x")), "level"), "<absent>")
      << "a leading literal must start the line";
  ProcessEntry partial = anchored.One(Entry("level=warn and no message"));
  EXPECT_EQ(X(partial, "level"), "warn and no message") << "a missing literal ends the match";

  for (const auto& [pattern, error] : std::vector<std::pair<std::string, std::string>>{
           {"<_> foo", "failed to parse pattern: at least one capture is required"},
           {"<a><b>", "failed to parse pattern: found consecutive capture: invalid expression"},
           {"<a> <a>", "failed to parse pattern: duplicate capture name (a): invalid expression"},
           {"", "pattern is required"}}) {
    StageHarness bad;
    EXPECT_FALSE(bad.Build(NewPatternStage,
                           BlockBuilder("stage.pattern").Attr("pattern", Str(pattern)).Build()));
    EXPECT_EQ(bad.Errors(), std::vector<std::string>{error}) << pattern;
  }
}

// ------------------------------------------------------------------------------------------
// stage.eventlogmessage

StageHarness EventLogMessage(BlockBuilder b = BlockBuilder("stage.eventlogmessage")) {
  StageHarness h;
  EXPECT_TRUE(h.Build(NewEventLogMessageStage, b.Build())) << ::testing::PrintToString(h.Errors());
  return h;
}

// An entry whose extracted map holds `values` (strings).
ProcessEntry WithExtracted(std::vector<std::pair<std::string, std::string>> values) {
  ProcessEntry e = Entry("line");
  for (auto& [k, v] : values) e.extracted[k] = ExtractedValue::String(std::move(v));
  return e;
}

// The extracted map as sorted "key=value" strings (X's rendering of non-strings).
std::vector<std::string> ExtractedPairs(const ProcessEntry& e) {
  std::vector<std::string> out;
  for (const auto& [k, v] : e.extracted) out.push_back(k + "=" + X(e, k));
  std::sort(out.begin(), out.end());
  return out;
}

TEST(EventLogMessageStageTest, SplitsTheMessageIntoKeysAndValues) {
  StageHarness h = EventLogMessage();
  const std::string msg =
      "Alpha: first value\r\nBeta:second\r\nGamma: has: colons \r\nno colon here";
  ProcessEntry e = h.One(WithExtracted({{"message", msg}, {"other", "kept"}}));
  EXPECT_THAT(ExtractedPairs(e), ElementsAre("Alpha=first value", "Beta=second",
                                             "Gamma=has: colons", "message=" + msg, "other=kept"));
  EXPECT_EQ(e.line, "line");
}

TEST(EventLogMessageStageTest, CustomSourceAndEmptyValues) {
  StageHarness h =
      EventLogMessage(BlockBuilder("stage.eventlogmessage").Attr("source", Str("Msg")));
  ProcessEntry e = h.One(
      WithExtracted({{"Msg", "Process created:\r\nImage: C:\\Tools\\agent.exe\r\nPid:\t 42 \u00a0"},
                     {"message", "NotParsed: x"}}));
  EXPECT_EQ(X(e, "Process_created"), "");
  EXPECT_EQ(X(e, "Image"), "C:\\Tools\\agent.exe");
  EXPECT_EQ(X(e, "Pid"), "42") << "Unicode spaces (U+00A0) are trimmed as Go's TrimSpace does";
  EXPECT_EQ(X(e, "NotParsed"), "<absent>");
}

TEST(EventLogMessageStageTest, InvalidKeysAreSanitised) {
  StageHarness h = EventLogMessage();
  ProcessEntry e = h.One(WithExtracted(
      {{"message",
        "Some Key: 1\r\n9lives: 2\r\nat@sign: 3\r\n: 4\r\n\tSecurity ID: 5\r\nCaf\u00e9: 6\r\n"
        "Bad\xff\xfe: 7"}}));
  EXPECT_EQ(X(e, "Some_Key"), "1");
  EXPECT_EQ(X(e, "_lives"), "2");
  EXPECT_EQ(X(e, "at_sign"), "3");
  EXPECT_EQ(X(e, "_"), "4") << "an empty key becomes _";
  EXPECT_EQ(X(e, "_Security_ID"), "5");
  EXPECT_EQ(X(e, "Caf_"), "6") << "one _ per rune";
  EXPECT_EQ(X(e, "Bad__"), "7") << "one _ per byte of invalid UTF-8";
}

TEST(EventLogMessageStageTest, DropInvalidLabelsSkipsThem) {
  StageHarness h = EventLogMessage(
      BlockBuilder("stage.eventlogmessage").Attr("drop_invalid_labels", Bool(true)));
  ProcessEntry e =
      h.One(WithExtracted({{"message", "Some Key: 1\r\n9lives: 2\r\n: 3\r\nGood_Key9: 4"}}));
  EXPECT_THAT(
      ExtractedPairs(e),
      ElementsAre("Good_Key9=4", "message=Some Key: 1\r\n9lives: 2\r\n: 3\r\nGood_Key9: 4"));
}

TEST(EventLogMessageStageTest, ExistingKeysGetASuffixUnlessOverwritten) {
  StageHarness keep = EventLogMessage();
  ProcessEntry e =
      keep.One(WithExtracted({{"message", "test: new\r\nDup: 1\r\nDup: 2"}, {"test", "old"}}));
  EXPECT_EQ(X(e, "test"), "old");
  EXPECT_EQ(X(e, "test_extracted"), "new");
  EXPECT_EQ(X(e, "Dup"), "1");
  EXPECT_EQ(X(e, "Dup_extracted"), "2") << "keys of earlier lines count as existing";
  // The source itself is an existing key too.
  EXPECT_EQ(X(keep.One(WithExtracted({{"message", "message: inner"}})), "message_extracted"),
            "inner");

  StageHarness overwrite =
      EventLogMessage(BlockBuilder("stage.eventlogmessage").Attr("overwrite_existing", Bool(true)));
  ProcessEntry o =
      overwrite.One(WithExtracted({{"message", "test: new\r\nDup: 1\r\nDup: 2"}, {"test", "old"}}));
  EXPECT_EQ(X(o, "test"), "new");
  EXPECT_EQ(X(o, "test_extracted"), "<absent>");
  EXPECT_EQ(X(o, "Dup"), "2");
  EXPECT_EQ(X(overwrite.One(WithExtracted({{"message", "message: inner"}})), "message"), "inner");
}

TEST(EventLogMessageStageTest, MalformedMessagesAddNothing) {
  StageHarness h = EventLogMessage();
  for (const std::string msg :
       {"\n\rno; separator here\n\r", "", "Key1: \xff\xfe\xfd", "Only\nLF: is not a line break"}) {
    ProcessEntry e = h.One(WithExtracted({{"message", msg}}));
    if (msg.find("LF") != std::string::npos) {
      EXPECT_EQ(X(e, "Only_LF"), "is not a line break");
      continue;
    }
    EXPECT_THAT(ExtractedPairs(e), ElementsAre("message=" + msg)) << msg;
  }
}

TEST(EventLogMessageStageTest, MissingSourcePassesNullSourceDrops) {
  StageHarness h = EventLogMessage();
  ProcessEntry missing = h.One(WithExtracted({{"msg", "A: 1"}}));
  EXPECT_THAT(ExtractedPairs(missing), ElementsAre("msg=A: 1"));
  EXPECT_EQ(missing.line, "line");

  // Alloy's getString fails on nil, and the stage then drops the entry.
  ProcessEntry null_source = Entry("line");
  null_source.extracted["message"] = ExtractedValue::Null();
  EXPECT_TRUE(h.Run(std::move(null_source)).empty());

  // Numbers and bools convert to strings first (no colon: nothing added).
  ProcessEntry number = Entry("line");
  number.extracted["message"] = ExtractedValue::Number(12.5);
  EXPECT_EQ(h.One(std::move(number)).extracted.size(), 1u);
}

TEST(EventLogMessageStageTest, SourceMustBeALegacyLabelName) {
  for (const auto& [value, error] : std::vector<std::pair<config::Value, std::string>>{
           {Str("the message"), "invalid label name: the message"},
           {Str(""), "invalid label name: "},
           {Int(1), "invalid label name: 1"},
           {Str("m\u00e9ssage"), "invalid label name: m\u00e9ssage"}}) {
    StageHarness h;
    config::Block b = BlockBuilder("stage.eventlogmessage").Attr("source", value).Build();
    EXPECT_FALSE(h.Build(NewEventLogMessageStage, b));
    EXPECT_EQ(h.Errors(), std::vector<std::string>{error});
    ASSERT_EQ(h.diags.list().size(), 1u);
    EXPECT_EQ(h.diags.list()[0].span.begin, b.body.attrs[0].value_span.begin);
  }
  StageHarness unknown;
  EXPECT_FALSE(
      unknown.Build(NewEventLogMessageStage,
                    BlockBuilder("stage.eventlogmessage").Attr("overwrite", Bool(true)).Build()));
  EXPECT_EQ(unknown.Errors(),
            std::vector<std::string>{"unrecognized attribute name \"overwrite\""});
}

}  // namespace
}  // namespace sluice::testing
