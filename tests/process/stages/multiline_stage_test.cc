// Tests of stage.multiline (agent/process/stages/multiline.cc), built by name as loki.process
// builds it, case by case after Alloy's own tests (stages/*_test.go).
#include <memory>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/process/stages/stage_fixture.h"
#include "tests/support/block_builder.h"

namespace sluice {
namespace {

using testing::BlockBuilder;
using testing::Bool;
using testing::Entry;
using testing::Int;
using testing::Labels;
using testing::StageTest;
using testing::Str;

class MultilineStageTest : public StageTest {
 protected:
  std::unique_ptr<Stage> Ml(BlockBuilder b) { return Build(b.Build()); }
  static BlockBuilder Start() {
    return std::move(BlockBuilder("stage.multiline").Attr("firstline", Str("^START")));
  }
  // Feeds `lines` of stream `label` at one-millisecond steps; returns what came out.
  std::vector<ProcessEntry> Feed(Stage& s, std::vector<std::pair<std::string, std::string>> lines) {
    std::vector<ProcessEntry> out;
    for (auto& [line, label] : lines) {
      clock_.Advance(1'000'000);
      ProcessEntry e = Entry(line, Labels({{"value", label}}), clock_.NowUnixNanos());
      s.Process(std::move(e), [&](ProcessEntry&& o) { out.push_back(std::move(o)); });
    }
    return out;
  }
};

TEST_F(MultilineStageTest, MergesBlocksAndPassesLinesBeforeTheFirstStart) {
  auto s = Ml(Start());
  ASSERT_NE(s, nullptr);
  std::vector<ProcessEntry> out = Feed(*s, {{"not a start line before 1", "label"},
                                            {"not a start line before 2", "label"},
                                            {"START line 1", "label"},
                                            {"not a start line", "label"},
                                            {"START line 2", "label"},
                                            {"START line 3", "label"}});
  std::vector<ProcessEntry> rest = FlushAll(*s);
  out.insert(out.end(), std::make_move_iterator(rest.begin()), std::make_move_iterator(rest.end()));
  EXPECT_EQ(Lines(out), (std::vector<std::string>{
                            "not a start line before 1", "not a start line before 2",
                            "START line 1\nnot a start line", "START line 2", "START line 3"}));
}

TEST_F(MultilineStageTest, KeepsStreamsApartAndTrimsNewlines) {
  auto s = Ml(Start());
  std::vector<ProcessEntry> out = Feed(*s, {{"START line 1\r\n", "one"},
                                            {"not a start line 1\r\n", "one"},
                                            {"START line 1\n", "two"},
                                            {"not a start line 2\n", "one"},
                                            {"START line 2\n", "two"},
                                            {"START line 2", "one"},
                                            {"not a start line 1", "one"}});
  std::vector<ProcessEntry> rest = FlushAll(*s);
  out.insert(out.end(), std::make_move_iterator(rest.begin()), std::make_move_iterator(rest.end()));
  std::sort(out.begin(), out.end(), [](const ProcessEntry& a, const ProcessEntry& b) {
    return a.timestamp_ns < b.timestamp_ns;
  });
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].line, "START line 1\nnot a start line 1\nnot a start line 2");
  EXPECT_EQ(*out[0].labels.Get("value"), "one");
  EXPECT_EQ(out[1].line, "START line 1");
  EXPECT_EQ(*out[1].labels.Get("value"), "two");
  EXPECT_EQ(out[2].line, "START line 2");
  EXPECT_EQ(*out[2].labels.Get("value"), "two");
  EXPECT_EQ(out[3].line, "START line 2\nnot a start line 1");
  EXPECT_EQ(*out[3].labels.Get("value"), "one");
}

TEST_F(MultilineStageTest, LeavesNewlinesWhenTrimIsOff) {
  auto s = Ml(Start().Attr("trim_newlines", Bool(false)));
  std::vector<ProcessEntry> out = Feed(*s, {{"START line 1\n", "label"},
                                            {"not a start line", "label"},
                                            {"START line 2\r\n", "label"},
                                            {"START line 3", "label"}});
  EXPECT_EQ(Lines(out),
            (std::vector<std::string>{"START line 1\n\nnot a start line", "START line 2\r\n"}));
}

TEST_F(MultilineStageTest, MaxWaitTimeFlushesFromTickAndForgetsTheStream) {
  auto s = Ml(Start().Attr("max_wait_time", Str("100ms")));
  EXPECT_TRUE(Feed(*s, {{"START line", "label"}}).empty());
  const int64_t seen = clock_.MonotonicNanos();
  EXPECT_EQ(s->NextDeadline(), seen + 100'000'000);
  EXPECT_TRUE(TickAt(*s, seen + 99'999'999).empty());
  clock_.Advance(150'000'000);
  EXPECT_EQ(Lines(TickAt(*s, clock_.MonotonicNanos())), (std::vector<std::string>{"START line"}));
  EXPECT_EQ(s->NextDeadline(), INT64_MAX);
  // The stream is forgotten: a continuation line now passes through on its own.
  EXPECT_EQ(Lines(Feed(*s, {{"not a start line hitting timeout", "label"}})),
            (std::vector<std::string>{"not a start line hitting timeout"}));
}

TEST_F(MultilineStageTest, TimeoutOnlyAffectsIdleStreams) {
  auto s = Ml(Start().Attr("max_wait_time", Str("100ms")));
  Feed(*s, {{"START idle", "idle"}, {"START active", "active"}});
  clock_.Advance(80'000'000);
  Feed(*s, {{"continuation active", "active"}});
  clock_.Advance(50'000'000);
  EXPECT_EQ(Lines(TickAt(*s, clock_.MonotonicNanos())), (std::vector<std::string>{"START idle"}));
  EXPECT_EQ(Lines(FlushAll(*s)), (std::vector<std::string>{"START active\ncontinuation active"}));
}

TEST_F(MultilineStageTest, StaleBlockIsSentWhenTheNextLineArrivesBeforeTheTick) {
  auto s = Ml(Start().Attr("max_wait_time", Str("100ms")));
  Feed(*s, {{"START first", "label"}});
  const int64_t start_ts = clock_.NowUnixNanos();
  clock_.Advance(150'000'000);
  // No Tick ran: the block goes out first, and the stream still knows its start line, so the
  // continuation begins a block of its own under the start line's time.
  std::vector<ProcessEntry> out = Feed(*s, {{"continuation after timeout", "label"}});
  EXPECT_EQ(Lines(out), (std::vector<std::string>{"START first"}));
  out = Feed(*s, {{"START second", "label"}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].line, "continuation after timeout");
  EXPECT_EQ(out[0].timestamp_ns, start_ts);
  EXPECT_EQ(Lines(FlushAll(*s)), (std::vector<std::string>{"START second"}));
}

TEST_F(MultilineStageTest, MaxLinesSplitsBlocksThatKeepTheStartLinesMetadata) {
  auto s = Ml(Start().Attr("max_lines", Int(2)));
  ProcessEntry first = Entry("START line 1", Labels({{"value", "label"}}), 1000);
  first.structured_metadata = {{"trace", "t1"}};
  first.extracted["k"] = ExtractedValue::String("v");
  std::vector<ProcessEntry> out = Run(*s, std::move(first));
  for (int i = 1; i <= 4; ++i) {
    std::vector<ProcessEntry> o =
        Run(*s, Entry("continuation " + std::to_string(i), Labels({{"value", "label"}}), 1000 + i));
    out.insert(out.end(), std::make_move_iterator(o.begin()), std::make_move_iterator(o.end()));
  }
  std::vector<ProcessEntry> rest = FlushAll(*s);
  out.insert(out.end(), std::make_move_iterator(rest.begin()), std::make_move_iterator(rest.end()));
  EXPECT_EQ(Lines(out),
            (std::vector<std::string>{"START line 1\ncontinuation 1",
                                      "continuation 2\ncontinuation 3", "continuation 4"}));
  for (const ProcessEntry& e : out) {
    EXPECT_EQ(e.timestamp_ns, 1000);
    EXPECT_EQ(*e.labels.Get("value"), "label");
    ASSERT_EQ(e.structured_metadata.size(), 1u);
    EXPECT_EQ(e.structured_metadata[0].second, "t1");
    EXPECT_EQ(e.extracted.at("k").str, "v");
  }
}

TEST_F(MultilineStageTest, EachBlockKeepsItsOwnStartLinesMetadata) {
  auto s = Ml(Start());
  ProcessEntry a = Entry("START line 1", Labels({{"value", "one"}}), 1);
  a.structured_metadata = {{"sm-key1", "sm-value1"}};
  ProcessEntry b = Entry("START line 2", Labels({{"value", "one"}}), 2);
  b.structured_metadata = {{"sm-key2", "sm-value2"}};
  Run(*s, std::move(a));
  std::vector<ProcessEntry> out = Run(*s, std::move(b));
  std::vector<ProcessEntry> rest = FlushAll(*s);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(out[0].structured_metadata[0].first, "sm-key1");
  EXPECT_EQ(rest[0].structured_metadata[0].first, "sm-key2");
}

TEST_F(MultilineStageTest, MergedEntrySpansTheFilePositionsOfItsLines) {
  auto s = Ml(Start());
  auto at = [](std::string line, int64_t start, int64_t end) {
    ProcessEntry e = Entry(std::move(line));
    e.source = {7, 1, start, end};
    return e;
  };
  Run(*s, at("START", 100, 106));
  Run(*s, at("  more", 106, 113));
  int held = 0;
  s->ForEachHeld([&](const ProcessEntry& e) {
    ++held;
    EXPECT_EQ(e.source.start, 100);
    EXPECT_EQ(e.source.end, 113);
  });
  EXPECT_EQ(held, 1);
  std::vector<ProcessEntry> out = Run(*s, at("START again", 113, 125));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].line, "START\n  more");
  EXPECT_EQ(out[0].source.file_id, 7u);
  EXPECT_EQ(out[0].source.start, 100);
  EXPECT_EQ(out[0].source.end, 113);
}

TEST_F(MultilineStageTest, LineOfAnotherFileUnderTheSameLabelsClosesTheBlock) {
  auto s = Ml(Start());
  ProcessEntry a = Entry("START");
  a.source = {1, 1, 0, 6};
  ProcessEntry b = Entry("more");
  b.source = {2, 1, 0, 5};
  Run(*s, std::move(a));
  EXPECT_EQ(Lines(Run(*s, std::move(b))), (std::vector<std::string>{"START"}));
  std::vector<ProcessEntry> rest = FlushAll(*s);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].line, "more");
  EXPECT_EQ(rest[0].source.file_id, 2u);
}

TEST_F(MultilineStageTest, FlushEmptiesEverything) {
  auto s = Ml(Start());
  Feed(*s, {{"START a", "stream-a"}, {"START b", "stream-b"}, {"START c", "stream-c"}});
  EXPECT_EQ(FlushAll(*s).size(), 3u);
  int held = 0;
  s->ForEachHeld([&](const ProcessEntry&) { ++held; });
  EXPECT_EQ(held, 0);
  EXPECT_EQ(s->NextDeadline(), INT64_MAX);
  // Streams are forgotten too: a continuation passes through.
  EXPECT_EQ(Feed(*s, {{"cont", "stream-a"}}).size(), 1u);
}

TEST_F(MultilineStageTest, MissingFirstline) {
  EXPECT_EQ(Ml(BlockBuilder("stage.multiline")), nullptr);
  EXPECT_EQ(OnlyError(), "missing required attribute \"firstline\"");
}

TEST_F(MultilineStageTest, EmptyFirstline) {
  EXPECT_EQ(Ml(BlockBuilder("stage.multiline").Attr("firstline", Str(""))), nullptr);
  EXPECT_EQ(OnlyError(), "multiline stage config must define `firstline` regular expression");
}

TEST_F(MultilineStageTest, InvalidFirstline) {
  EXPECT_EQ(Ml(BlockBuilder("stage.multiline").Attr("firstline", Str("(?P<x"))), nullptr);
  EXPECT_EQ(OnlyError(),
            "multiline stage first line regex compilation error: error parsing regexp: invalid "
            "named capture: `(?P<x`");
}

TEST_F(MultilineStageTest, MaxWaitTimeMustBePositive) {
  EXPECT_EQ(Ml(Start().Attr("max_wait_time", Str("0s"))), nullptr);
  EXPECT_EQ(OnlyError(), "max_wait_time must be greater than 0");
}

TEST_F(MultilineStageTest, NegativeMaxLines) {
  EXPECT_EQ(Ml(Start().Attr("max_lines", Int(-1))), nullptr);
  EXPECT_EQ(OnlyError(), "max_lines must not be negative, got -1");
}

}  // namespace
}  // namespace sluice
