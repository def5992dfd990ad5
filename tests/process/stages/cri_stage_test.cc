// Tests of stage.cri (agent/process/stages/cri.cc), case by case after Alloy's
// stages/*_test.go behaviour.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/process/stages/stage_test_util.h"

namespace sluice::testing {
namespace {

using ::testing::ElementsAre;

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
  for (const ProcessEntry& e : es) out.push_back(e.line);
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

}  // namespace
}  // namespace sluice::testing
