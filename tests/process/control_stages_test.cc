// Tests of stage.timestamp, stage.drop, stage.match, stage.multiline and stage.limit, case by
// case after Alloy's own tests (internal/component/loki/process/stages/*_test.go).
#include <memory>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "agent/common/clock.h"
#include "agent/common/metrics.h"
#include "agent/config/decode.h"
#include "agent/process/pipeline.h"
#include "agent/process/stage.h"
#include "gtest/gtest.h"
#include "tests/support/block_builder.h"
#include "tests/support/labels.h"

namespace sluice {
namespace {

using testing::Arr;
using testing::BlockBuilder;
using testing::Bool;
using testing::Int;
using testing::Num;
using testing::Str;

int64_t UnixNs(int64_t y, int mo, int d, int h, int mi, int s, int64_t ns = 0) {
  return absl::ToUnixNanos(
             absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone())) +
         ns;
}

ProcessEntry Entry(std::string line, LabelSet labels = {}, int64_t ts = 1'000'000'000) {
  ProcessEntry e;
  e.line = std::move(line);
  e.labels = std::move(labels);
  e.timestamp_ns = ts;
  return e;
}

using testing::Labels;

class StageTest : public ::testing::Test {
 protected:
  // Builds one stage through BuildStages (the way loki.process does).
  std::unique_ptr<Stage> Build(const config::Block& b) {
    std::vector<std::unique_ptr<Stage>> s = BuildStages({&b}, &diags_, ctx_);
    if (s.size() != 1) return nullptr;
    return std::move(s[0]);
  }
  // The message of the only diagnostic (test fails if there is not exactly one).
  std::string OnlyError() {
    EXPECT_EQ(diags_.list().size(), 1u);
    return diags_.list().empty() ? "" : diags_.list()[0].message;
  }
  std::vector<ProcessEntry> Run(Stage& s, ProcessEntry e) {
    std::vector<ProcessEntry> out;
    s.Process(std::move(e), [&](ProcessEntry&& o) { out.push_back(std::move(o)); });
    return out;
  }
  std::vector<ProcessEntry> TickAt(Stage& s, int64_t now) {
    std::vector<ProcessEntry> out;
    s.Tick(now, [&](ProcessEntry&& o) { out.push_back(std::move(o)); });
    return out;
  }
  std::vector<ProcessEntry> FlushAll(Stage& s) {
    std::vector<ProcessEntry> out;
    s.Flush([&](ProcessEntry&& o) { out.push_back(std::move(o)); });
    return out;
  }
  static std::vector<std::string> Lines(const std::vector<ProcessEntry>& v) {
    std::vector<std::string> out;
    for (const auto& e : v) out.emplace_back(e.line);
    return out;
  }
  uint64_t Dropped(std::string reason) {
    return metrics_.CounterValue(
        "loki_process_dropped_lines_total",
        {{"component_id", "loki.process.test"}, {"component_path", "/"}, {"reason", reason}});
  }

  FakeClock clock_;  // 2023-11-14T22:13:20Z
  MetricsRegistry metrics_;
  StageContext ctx_{&clock_, &metrics_, "loki.process.test"};
  config::Diags diags_;
};

// ============================================================================================
// stage.timestamp
// ============================================================================================

class TimestampStageTest : public StageTest {
 protected:
  std::unique_ptr<Stage> Ts(std::string format, std::string source = "ts") {
    return Build(BlockBuilder("stage.timestamp")
                     .Attr("source", Str(source))
                     .Attr("format", Str(format))
                     .Build());
  }
  int64_t Parse(Stage& s, ExtractedValue v, int64_t input_ts = 1) {
    ProcessEntry e = Entry("line", {}, input_ts);
    e.extracted["ts"] = std::move(v);
    std::vector<ProcessEntry> out = Run(s, std::move(e));
    EXPECT_EQ(out.size(), 1u);
    return out.empty() ? 0 : out[0].timestamp_ns;
  }
};

TEST_F(TimestampStageTest, Rfc3339) {
  auto s = Ts("RFC3339");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Parse(*s, ExtractedValue::String("2012-11-01T22:08:41-04:00")),
            UnixNs(2012, 11, 2, 2, 8, 41));
}

TEST_F(TimestampStageTest, UnixFormats) {
  const int64_t base = UnixNs(2019, 7, 9, 21, 48, 36);
  EXPECT_EQ(Parse(*Ts("Unix"), ExtractedValue::String("1562708916")), base);
  EXPECT_EQ(Parse(*Ts("Unix"), ExtractedValue::String("1562708916.414123")), base + 414'123'000);
  EXPECT_EQ(Parse(*Ts("Unix"), ExtractedValue::String("1562708916.000000123")), base + 123);
  EXPECT_EQ(Parse(*Ts("UnixMs"), ExtractedValue::String("1562708916414")), base + 414'000'000);
  EXPECT_EQ(Parse(*Ts("UnixUs"), ExtractedValue::String("1562708916414123")), base + 414'123'000);
  EXPECT_EQ(Parse(*Ts("UnixNs"), ExtractedValue::String("1562708916000000123")), base + 123);
  // Numbers from the extracted map are converted the way Alloy's getString does.
  EXPECT_EQ(Parse(*Ts("Unix"), ExtractedValue::Number(1562708916)), base);
}

TEST_F(TimestampStageTest, UnixRejectsWhatGoRejects) {
  auto s = Ts("Unix");
  // action_on_failure fudge with nothing known yet: the entry keeps its time.
  EXPECT_EQ(Parse(*s, ExtractedValue::String("15627x"), 7), 7);
  EXPECT_EQ(Parse(*s, ExtractedValue::String("1.2.3"), 7), 7);
  EXPECT_EQ(Parse(*Ts("UnixMs"), ExtractedValue::String("1562708916.4"), 7), 7);
  // Beyond what int64 nanoseconds hold (year 2262).
  EXPECT_EQ(Parse(*s, ExtractedValue::String("99999999999"), 7), 7);
}

TEST_F(TimestampStageTest, CustomLayoutWithLocation) {
  auto s = Build(BlockBuilder("stage.timestamp")
                     .Attr("source", Str("ts"))
                     .Attr("format", Str("2006-01-02 15:04:05"))
                     .Attr("location", Str("America/New_York"))
                     .Build());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Parse(*s, ExtractedValue::String("2019-07-22 20:29:32")),
            UnixNs(2019, 7, 23, 0, 29, 32));
}

TEST_F(TimestampStageTest, CustomLayoutWithoutLocationIsUtc) {
  EXPECT_EQ(Parse(*Ts("2006-01-02"), ExtractedValue::String("2009-01-01")),
            UnixNs(2009, 1, 1, 0, 0, 0));
}

TEST_F(TimestampStageTest, NamedFormatsIgnoreTheLocation) {
  auto s = Build(BlockBuilder("stage.timestamp")
                     .Attr("source", Str("ts"))
                     .Attr("format", Str("ANSIC"))
                     .Attr("location", Str("America/New_York"))
                     .Build());
  ASSERT_NE(s, nullptr);
  // Alloy reads the named formats with time.Parse: a time without zone is UTC.
  EXPECT_EQ(Parse(*s, ExtractedValue::String("Mon Jul 22 20:29:32 2019")),
            UnixNs(2019, 7, 22, 20, 29, 32));
}

TEST_F(TimestampStageTest, FallbackFormats) {
  auto s = Build(BlockBuilder("stage.timestamp")
                     .Attr("source", Str("ts"))
                     .Attr("format", Str("UnixMs"))
                     .Attr("fallback_formats",
                           Arr({Str("2006-01-02 03:04:05.000000000 +0000 UTC"), Str("RFC3339")}))
                     .Build());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Parse(*s, ExtractedValue::String("2012-11-01T22:08:41-04:00")),
            UnixNs(2012, 11, 2, 2, 8, 41));
  EXPECT_EQ(Parse(*s, ExtractedValue::String("1562708916414")),
            UnixNs(2019, 7, 9, 21, 48, 36, 414'000'000));
}

TEST_F(TimestampStageTest, YearlessLayoutTakesTheCurrentYear) {
  EXPECT_EQ(Parse(*Ts("Jan 02 15:04:05"), ExtractedValue::String("Jul 15 01:02:03")),
            UnixNs(2023, 7, 15, 1, 2, 3));
}

TEST_F(TimestampStageTest, YearlessLayoutAcrossNewYear) {
  // December timestamps read in January belong to the year before.
  FakeClock january(UnixNs(2024, 1, 10, 12, 0, 0));
  ctx_.clock = &january;
  EXPECT_EQ(Parse(*Ts("Jan 02 15:04:05"), ExtractedValue::String("Dec 31 23:59:59")),
            UnixNs(2023, 12, 31, 23, 59, 59));
  // January timestamps read in December belong to the year after.
  FakeClock december(UnixNs(2023, 12, 20, 12, 0, 0));
  ctx_.clock = &december;
  EXPECT_EQ(Parse(*Ts("Jan 02 15:04:05"), ExtractedValue::String("Jan 01 00:00:01")),
            UnixNs(2024, 1, 1, 0, 0, 1));
  // Otherwise the current year.
  EXPECT_EQ(Parse(*Ts("Jan 02 15:04:05"), ExtractedValue::String("Dec 01 00:00:01")),
            UnixNs(2023, 12, 1, 0, 0, 1));
  ctx_.clock = &clock_;
}

TEST_F(TimestampStageTest, YearlessLayoutRefusesAYearReadAfterAll) {
  // Go keeps "GMT+3" as the zone without moving the instant, so Dec 31 23:00 of year 0 is in
  // year 1 in that zone: Alloy refuses such a timestamp (here: skip keeps the entry's time).
  auto s = Build(BlockBuilder("stage.timestamp")
                     .Attr("source", Str("ts"))
                     .Attr("format", Str("Jan 02 15:04:05 MST"))
                     .Attr("action_on_failure", Str("skip"))
                     .Build());
  EXPECT_EQ(Parse(*s, ExtractedValue::String("Dec 31 23:00:00 GMT+3"), 9), 9);
  EXPECT_EQ(Parse(*s, ExtractedValue::String("Dec 31 20:00:00 GMT+3"), 9),
            UnixNs(2023, 12, 31, 20, 0, 0));
}

TEST_F(TimestampStageTest, FudgesFromTheLastTimestampOnFailure) {
  auto s = Ts("RFC3339Nano", "time");
  const int64_t t0 = UnixNs(2019, 10, 1, 1, 2, 3, 400'000'000);
  ProcessEntry a = Entry("a");
  a.extracted["time"] = ExtractedValue::String("2019-10-01T01:02:03.400000000Z");
  EXPECT_EQ(Run(*s, std::move(a))[0].timestamp_ns, t0);
  EXPECT_EQ(Run(*s, Entry("b"))[0].timestamp_ns, t0 + 1);
  EXPECT_EQ(Run(*s, Entry("c"))[0].timestamp_ns, t0 + 2);
  // A null value cannot be converted: a failure too.
  ProcessEntry d = Entry("d");
  d.extracted["time"] = ExtractedValue::Null();
  EXPECT_EQ(Run(*s, std::move(d))[0].timestamp_ns, t0 + 3);
}

TEST_F(TimestampStageTest, FudgeIsPerLabelSet) {
  auto s = Ts("RFC3339Nano", "time");
  const int64_t t1 = UnixNs(2019, 10, 1, 1, 2, 3, 400'000'000);
  const int64_t t2 = UnixNs(2019, 10, 1, 1, 2, 3, 800'000'000);
  auto with = [](std::string file, std::string time) {
    ProcessEntry e = Entry("x", Labels({{"filename", file}}));
    if (!time.empty()) e.extracted["time"] = ExtractedValue::String(time);
    return e;
  };
  EXPECT_EQ(Run(*s, with("/1.log", "2019-10-01T01:02:03.4Z"))[0].timestamp_ns, t1);
  EXPECT_EQ(Run(*s, with("/2.log", "2019-10-01T01:02:03.8Z"))[0].timestamp_ns, t2);
  EXPECT_EQ(Run(*s, with("/1.log", ""))[0].timestamp_ns, t1 + 1);
  EXPECT_EQ(Run(*s, with("/2.log", ""))[0].timestamp_ns, t2 + 1);
  EXPECT_EQ(Run(*s, with("/1.log", ""))[0].timestamp_ns, t1 + 2);
  // A stream with no timestamp parsed yet keeps its own time.
  EXPECT_EQ(Run(*s, with("/3.log", ""))[0].timestamp_ns, 1'000'000'000);
}

TEST_F(TimestampStageTest, SkipKeepsTheEntrysTime) {
  auto s = Build(BlockBuilder("stage.timestamp")
                     .Attr("source", Str("time"))
                     .Attr("format", Str("RFC3339Nano"))
                     .Attr("action_on_failure", Str("skip"))
                     .Build());
  ASSERT_NE(s, nullptr);
  ProcessEntry a = Entry("a");
  a.extracted["time"] = ExtractedValue::String("2019-10-01T01:02:03.4Z");
  Run(*s, std::move(a));
  EXPECT_EQ(Run(*s, Entry("b", {}, 5))[0].timestamp_ns, 5);
}

TEST_F(TimestampStageTest, DuplicateTimestampsAreFudgedByDefault) {
  auto s = Ts("RFC3339Nano", "time");
  const int64_t t0 = UnixNs(2019, 10, 1, 1, 2, 3, 400'000'000);
  for (int i = 0; i < 3; ++i) {
    ProcessEntry e = Entry("a");
    e.extracted["time"] = ExtractedValue::String("2019-10-01T01:02:03.4Z");
    EXPECT_EQ(Run(*s, std::move(e))[0].timestamp_ns, t0 + i);
  }
  // A different parsed time is taken as it is.
  ProcessEntry e = Entry("a");
  e.extracted["time"] = ExtractedValue::String("2019-10-01T01:02:03.5Z");
  EXPECT_EQ(Run(*s, std::move(e))[0].timestamp_ns, t0 + 100'000'000);
}

TEST_F(TimestampStageTest, DuplicateTimestampsKept) {
  auto s = Build(BlockBuilder("stage.timestamp")
                     .Attr("source", Str("time"))
                     .Attr("format", Str("RFC3339Nano"))
                     .Attr("action_on_duplicate_timestamp", Str("keep"))
                     .Build());
  ASSERT_NE(s, nullptr);
  const int64_t t0 = UnixNs(2019, 10, 1, 1, 2, 3, 400'000'000);
  for (int i = 0; i < 3; ++i) {
    ProcessEntry e = Entry("a");
    e.extracted["time"] = ExtractedValue::String("2019-10-01T01:02:03.4Z");
    EXPECT_EQ(Run(*s, std::move(e))[0].timestamp_ns, t0);
  }
}

TEST_F(TimestampStageTest, MissingSourceAndFormatAttributes) {
  EXPECT_EQ(Build(BlockBuilder("stage.timestamp").Attr("format", Str("RFC3339")).Build()), nullptr);
  EXPECT_EQ(OnlyError(), "missing required attribute \"source\"");
  diags_.Clear();
  EXPECT_EQ(Build(BlockBuilder("stage.timestamp").Attr("source", Str("ts")).Build()), nullptr);
  EXPECT_EQ(OnlyError(), "missing required attribute \"format\"");
}

TEST_F(TimestampStageTest, EmptySource) {
  EXPECT_EQ(Ts("RFC3339", ""), nullptr);
  EXPECT_EQ(OnlyError(), "timestamp source value is required if timestamp is specified");
}

TEST_F(TimestampStageTest, EmptyFormat) {
  EXPECT_EQ(Ts(""), nullptr);
  EXPECT_EQ(OnlyError(), "timestamp format is required");
}

TEST_F(TimestampStageTest, InvalidLocation) {
  config::Block b = BlockBuilder("stage.timestamp")
                        .Attr("source", Str("ts"))
                        .Attr("format", Str("2006-01-02"))
                        .Attr("location", Str("America/Canada"))
                        .Build();
  EXPECT_EQ(Build(b), nullptr);
  EXPECT_EQ(OnlyError(), "invalid location specified: %v: unknown time zone America/Canada");
  EXPECT_EQ(diags_.list()[0].span.begin, b.body.attrs[2].value_span.begin);
}

TEST_F(TimestampStageTest, InvalidActions) {
  EXPECT_EQ(Build(BlockBuilder("stage.timestamp")
                      .Attr("source", Str("ts"))
                      .Attr("format", Str("RFC3339"))
                      .Attr("action_on_failure", Str("foo"))
                      .Build()),
            nullptr);
  EXPECT_EQ(OnlyError(), "invalid action on failure (supported values are [skip fudge])");
  diags_.Clear();
  EXPECT_EQ(Build(BlockBuilder("stage.timestamp")
                      .Attr("source", Str("ts"))
                      .Attr("format", Str("RFC3339"))
                      .Attr("action_on_duplicate_timestamp", Str("invalid"))
                      .Build()),
            nullptr);
  EXPECT_EQ(OnlyError(),
            "invalid action on duplicate timestamp (supported values are [keep fudge])");
}

TEST_F(TimestampStageTest, UnknownAttribute) {
  EXPECT_EQ(Build(BlockBuilder("stage.timestamp")
                      .Attr("source", Str("ts"))
                      .Attr("format", Str("RFC3339"))
                      .Attr("fromat", Str("x"))
                      .Build()),
            nullptr);
  EXPECT_EQ(OnlyError(), "unrecognized attribute name \"fromat\"");
}

// ============================================================================================
// stage.drop
// ============================================================================================

class DropStageTest : public StageTest {
 protected:
  // True when `e` is dropped by a drop stage built from `b`.
  bool Drops(BlockBuilder b, ProcessEntry e) {
    auto s = Build(b.Build());
    EXPECT_NE(s, nullptr) << (diags_.ok() ? "" : diags_.list()[0].message);
    if (s == nullptr) return false;
    return Run(*s, std::move(e)).empty();
  }
  static ProcessEntry With(std::initializer_list<std::pair<std::string, ExtractedValue>> kv,
                           std::string line = "") {
    ProcessEntry e = Entry(std::move(line));
    for (const auto& [k, v] : kv) e.extracted[k] = v;
    return e;
  }
};

using EV = ExtractedValue;

TEST_F(DropStageTest, LongerThan) {
  auto b = [] { return BlockBuilder("stage.drop").Attr("longer_than", Str("10B")); };
  EXPECT_TRUE(Drops(b(), Entry("12345678901")));
  EXPECT_FALSE(Drops(b(), Entry("1234567890")));  // equal is not longer
  EXPECT_FALSE(Drops(b(), Entry("123456789")));
}

TEST_F(DropStageTest, LongerThanUnitsArePowersOf1024) {
  auto b = [] { return BlockBuilder("stage.drop").Attr("longer_than", Str("1KB")); };
  EXPECT_FALSE(Drops(b(), Entry(std::string(1024, 'x'))));
  EXPECT_TRUE(Drops(b(), Entry(std::string(1025, 'x'))));
  EXPECT_FALSE(Drops(BlockBuilder("stage.drop").Attr("longer_than", Str("1KiB")),
                     Entry(std::string(1024, 'x'))));
}

TEST_F(DropStageTest, OlderThan) {
  auto b = [] { return BlockBuilder("stage.drop").Attr("older_than", Str("1h")); };
  const int64_t now = clock_.NowUnixNanos();
  EXPECT_TRUE(Drops(b(), Entry("x", {}, now - 2 * 3600'000'000'000)));
  EXPECT_FALSE(Drops(b(), Entry("x", {}, now - 5 * 60'000'000'000)));
}

TEST_F(DropStageTest, SourceAlone) {
  auto b = [](std::string src) { return BlockBuilder("stage.drop").Attr("source", Str(src)); };
  EXPECT_TRUE(Drops(b("key"), With({{"key", EV::String("")}})));
  EXPECT_FALSE(Drops(b("key1"), With({{"key", EV::String("val1")}})));
  // Every name of a list must be present; a null value counts as present.
  EXPECT_TRUE(Drops(b("a,b"), With({{"a", EV::String("1")}, {"b", EV::Null()}})));
  EXPECT_FALSE(Drops(b("a,b"), With({{"a", EV::String("1")}})));
}

TEST_F(DropStageTest, SourceAsListIsAccepted) {
  EXPECT_TRUE(Drops(BlockBuilder("stage.drop")
                        .Attr("source", Arr({Str("key1"), Str("key2")}))
                        .Attr("value", Str("val1;val2")),
                    With({{"key1", EV::String("val1")}, {"key2", EV::String("val2")}})));
}

TEST_F(DropStageTest, SourceAndValue) {
  auto b = [](std::string src, std::string value) {
    return BlockBuilder("stage.drop").Attr("source", Str(src)).Attr("value", Str(value));
  };
  EXPECT_TRUE(Drops(b("key", "val1"), With({{"key", EV::String("val1")}})));
  EXPECT_FALSE(Drops(b("key", "val1"), With({{"key", EV::String("VALRUE1")}})));
  EXPECT_FALSE(Drops(b("key", "val1"), With({{"key", EV::String("val12")}})));  // exact match
  EXPECT_TRUE(Drops(b("level", "50"), With({{"level", EV::Number(50)}})));
  EXPECT_FALSE(Drops(b("level", "50"), With({{"level", EV::Number(100)}})));
  EXPECT_FALSE(Drops(b("level", "50"), With({{"level", EV::String("100")}})));
  // `value` is matched literally, not as a regex.
  EXPECT_TRUE(Drops(b("key1,key2", "val1;val200.*"),
                    With({{"key1", EV::String("val1")}, {"key2", EV::String("val200.*")}})));
  EXPECT_FALSE(Drops(b("key", "a.c"), With({{"key", EV::String("abc")}})));
}

TEST_F(DropStageTest, SourceAndValueWithSeparator) {
  EXPECT_TRUE(Drops(BlockBuilder("stage.drop")
                        .Attr("source", Str("key1,key2"))
                        .Attr("separator", Str("|"))
                        .Attr("value", Str("val1|val200[a]")),
                    With({{"key1", EV::String("val1")}, {"key2", EV::String("val200[a]")}})));
}

TEST_F(DropStageTest, SourceAndExpression) {
  auto b = [](std::string src, std::string expr) {
    return BlockBuilder("stage.drop").Attr("source", Str(src)).Attr("expression", Str(expr));
  };
  EXPECT_TRUE(Drops(b("key", "50"), With({{"key", EV::Number(50)}})));
  EXPECT_TRUE(Drops(b("key", "50"), With({{"key", EV::String("50")}})));
  EXPECT_TRUE(Drops(b("key1,key2", R"(val\d{1};val\d{3}$)"),
                    With({{"key1", EV::String("val1")}, {"key2", EV::String("val200")}})));
  EXPECT_FALSE(Drops(b("key", ".*val.*"), With({{"key", EV::String("pal1")}})));
  EXPECT_FALSE(Drops(b("key1,key2", R"(match\d+;match\d+)"),
                     With({{"key1", EV::String("match1")}, {"key2", EV::String("notmatch2")}})));
  // A missing name is left out of the joined value; here nothing is left, and "" does not match.
  EXPECT_FALSE(Drops(b("key", ".*val.*"), With({{"pokey", EV::String("pal1")}})));
  // A value that cannot be a string (null) keeps the line.
  EXPECT_FALSE(Drops(b("key", ".*"), With({{"key", EV::Null()}})));
}

TEST_F(DropStageTest, SourceAndExpressionWithSeparator) {
  auto b = [](std::string expr) {
    return BlockBuilder("stage.drop")
        .Attr("source", Str("key1,key2"))
        .Attr("separator", Str("#"))
        .Attr("expression", Str(expr));
  };
  EXPECT_TRUE(Drops(b(R"(val\d{1}#val\d{3}$)"),
                    With({{"key1", EV::String("val1")}, {"key2", EV::String("val200")}})));
  EXPECT_FALSE(Drops(b(R"(match\d;match\d)"),
                     With({{"key1", EV::String("match1")}, {"key2", EV::String("match2")}})));
}

TEST_F(DropStageTest, ExpressionOnTheLine) {
  auto b = [] { return BlockBuilder("stage.drop").Attr("expression", Str(".*val.*")); };
  EXPECT_FALSE(Drops(b(), Entry("this is a line which does not match the regex")));
  EXPECT_TRUE(Drops(b(), Entry("this is a line with the word value in it")));
  // Unanchored.
  EXPECT_TRUE(
      Drops(BlockBuilder("stage.drop").Attr("expression", Str("debug")), Entry("a debug line")));
}

TEST_F(DropStageTest, EveryConditionMustHold) {
  auto b = [] {
    return BlockBuilder("stage.drop").Attr("source", Str("key")).Attr("longer_than", Str("10B"));
  };
  EXPECT_TRUE(Drops(b(), With({{"key", EV::String("pal1")}}, "12345678901")));
  EXPECT_FALSE(Drops(b(), With({{"key", EV::String("pal1")}}, "123456789")));
  EXPECT_FALSE(Drops(b(), With({{"WOOO", EV::String("pal1")}}, "123456789012")));
  const int64_t now = clock_.NowUnixNanos();
  ProcessEntry all = With({{"key", EV::String("must contain value to match")}}, "12345678901");
  all.timestamp_ns = now - 2 * 3600'000'000'000;
  EXPECT_TRUE(Drops(BlockBuilder("stage.drop")
                        .Attr("source", Str("key"))
                        .Attr("expression", Str(".*val.*"))
                        .Attr("older_than", Str("1h"))
                        .Attr("longer_than", Str("10B")),
                    std::move(all)));
}

TEST_F(DropStageTest, CountsDropsWithTheReason) {
  auto s = Build(BlockBuilder("stage.drop").Attr("expression", Str("x")).Build());
  auto t = Build(BlockBuilder("stage.drop")
                     .Attr("expression", Str("y"))
                     .Attr("drop_counter_reason", Str("too noisy"))
                     .Build());
  Run(*s, Entry("x"));
  Run(*s, Entry("x"));
  Run(*s, Entry("z"));
  Run(*t, Entry("y"));
  EXPECT_EQ(Dropped("drop_stage"), 2u);
  EXPECT_EQ(Dropped("too noisy"), 1u);
}

TEST_F(DropStageTest, EmptyConfig) {
  EXPECT_EQ(Build(BlockBuilder("stage.drop").Build()), nullptr);
  EXPECT_EQ(OnlyError(),
            "drop stage config must contain at least one of `source`, `expression`, `older_than` "
            "or `longer_than`");
}

TEST_F(DropStageTest, ValueAndExpressionTogether) {
  EXPECT_EQ(Build(BlockBuilder("stage.drop")
                      .Attr("source", Str("a"))
                      .Attr("value", Str("b"))
                      .Attr("expression", Str("c"))
                      .Build()),
            nullptr);
  EXPECT_EQ(OnlyError(),
            "drop stage config error, `value` and `expression` cannot both be defined at the same "
            "time");
}

TEST_F(DropStageTest, ValueWithoutSource) {
  EXPECT_EQ(Build(BlockBuilder("stage.drop")
                      .Attr("value", Str("b"))
                      .Attr("longer_than", Str("1B"))
                      .Build()),
            nullptr);
  EXPECT_EQ(OnlyError(), "drop stage config must contain `source` if `value` is specified");
}

TEST_F(DropStageTest, InvalidRegex) {
  config::Block b = BlockBuilder("stage.drop").Attr("expression", Str("(?P<ts[0-9]+).*")).Build();
  EXPECT_EQ(Build(b), nullptr);
  EXPECT_EQ(OnlyError(),
            "drop stage regex compilation error: error parsing regexp: invalid named capture: "
            "`(?P<ts[0-9]+).*`");
  EXPECT_EQ(diags_.list()[0].span.begin, b.body.attrs[0].value_span.begin);
}

TEST_F(DropStageTest, InvalidLongerThan) {
  EXPECT_EQ(Build(BlockBuilder("stage.drop").Attr("longer_than", Str("8kB")).Build()), nullptr);
  EXPECT_EQ(OnlyError(), "units: unknown unit kB in 8kB");
  diags_.Clear();
  EXPECT_EQ(Build(BlockBuilder("stage.drop").Attr("longer_than", Str("100")).Build()), nullptr);
  EXPECT_EQ(OnlyError(), "units: unknown unit  in 100");
}

TEST_F(DropStageTest, InvalidOlderThan) {
  EXPECT_EQ(Build(BlockBuilder("stage.drop").Attr("older_than", Str("1 day")).Build()), nullptr);
  EXPECT_EQ(OnlyError(), "time: invalid duration \"1 day\"");
}

// ============================================================================================
// stage.match
// ============================================================================================

class MatchStageTest : public StageTest {
 protected:
  // A nested stage that sets the timestamp from the extracted value "ts" (Unix seconds): shows
  // whether the nested stages ran.
  static config::Block NestedTs(std::string source = "ts") {
    return BlockBuilder("stage.timestamp")
        .Attr("source", Str(source))
        .Attr("format", Str("Unix"))
        .Attr("action_on_failure", Str("skip"))
        .Build();
  }
  std::unique_ptr<Stage> Keep(std::string selector) {
    return Build(
        BlockBuilder("stage.match").Attr("selector", Str(selector)).Child(NestedTs()).Build());
  }
  std::unique_ptr<Stage> DropMatching(std::string selector) {
    return Build(BlockBuilder("stage.match")
                     .Attr("selector", Str(selector))
                     .Attr("action", Str("drop"))
                     .Build());
  }
  static ProcessEntry WithTs(std::string line, LabelSet labels) {
    ProcessEntry e = Entry(std::move(line), std::move(labels), 5);
    e.extracted["ts"] = ExtractedValue::String("100");
    return e;
  }
  // 0: dropped, 1: passed without running the nested stages, 2: nested stages ran.
  int Outcome(Stage& s, std::string line, LabelSet labels) {
    std::vector<ProcessEntry> out = Run(s, WithTs(std::move(line), std::move(labels)));
    if (out.empty()) return 0;
    return out[0].timestamp_ns == 100'000'000'000 ? 2 : 1;
  }
};

TEST_F(MatchStageTest, KeepRunsNestedStagesOnMatchingEntriesOnly) {
  const LabelSet foo = Labels({{"foo", "bar"}});
  EXPECT_EQ(Outcome(*Keep(R"({foo="bar"} |= "foo")"), "foo", foo), 2);
  EXPECT_EQ(Outcome(*Keep(R"({foo="bar"} |~ "foo")"), "foo", foo), 2);
  EXPECT_EQ(Outcome(*Keep(R"({foo="bar"} |= "bar")"), "foo", foo), 1);
  EXPECT_EQ(Outcome(*Keep(R"({foo="bar"} |~ "bar")"), "foo", foo), 1);
  EXPECT_EQ(Outcome(*Keep(R"({foo="bar"} != "bar")"), "foo", foo), 2);
  EXPECT_EQ(Outcome(*Keep(R"({foo="bar"} !~ "bar")"), "foo", foo), 2);
  EXPECT_EQ(Outcome(*Keep(R"({foo="bar"} != "foo")"), "foo", foo), 1);
  EXPECT_EQ(Outcome(*Keep(R"({foo="bar"})"), "foo", foo), 2);
  EXPECT_EQ(Outcome(*Keep(R"({foo=""})"), "foo", foo), 1);
  EXPECT_EQ(Outcome(*Keep(R"({foo=""})"), "foo", {}), 2);
  EXPECT_EQ(Outcome(*Keep(R"({foo!="bar"})"), "foo", foo), 1);
  EXPECT_EQ(Outcome(*Keep(R"({foo="bar",bar!="test"})"), "foo", foo), 2);
  const LabelSet both = Labels({{"foo", "bar"}, {"bar", "test"}});
  EXPECT_EQ(Outcome(*Keep(R"({foo="bar",bar!="test"})"), "foo", both), 1);
  EXPECT_EQ(Outcome(*Keep(R"({foo="bar",bar=~"te.*"})"), "foo", both), 2);
  EXPECT_EQ(Outcome(*Keep(R"({foo="bar",bar!~"te.*"})"), "foo", both), 1);
}

TEST_F(MatchStageTest, DropDropsMatchingEntries) {
  const LabelSet foo = Labels({{"foo", "bar"}});
  EXPECT_EQ(Outcome(*DropMatching(R"({foo="bar"} |= "foo")"), "foo", foo), 0);
  EXPECT_EQ(Outcome(*DropMatching(R"({foo="bar"} |~ "foo")"), "foo", foo), 0);
  EXPECT_EQ(Outcome(*DropMatching(R"({foo="bar"} |= "bar")"), "foo", foo), 1);
  EXPECT_EQ(Outcome(*DropMatching(R"({foo="bar"} != "bar")"), "foo", foo), 0);
  EXPECT_EQ(Outcome(*DropMatching(R"({foo="bar"} !~ "bar")"), "foo", foo), 0);
  EXPECT_EQ(Outcome(*DropMatching(R"({foo="bar"} != "foo")"), "foo", foo), 1);
  EXPECT_EQ(Outcome(*DropMatching(R"({foo!="bar"})"), "foo", foo), 1);
  EXPECT_EQ(Outcome(*DropMatching(R"({foo="bar",bar!="test"})"), "foo", foo), 0);
  const LabelSet both = Labels({{"foo", "bar"}, {"bar", "test"}});
  EXPECT_EQ(Outcome(*DropMatching(R"({foo="bar",bar=~"te.*"})"), "foo", both), 0);
  EXPECT_EQ(Outcome(*DropMatching(R"({foo="bar",bar!~"te.*"})"), "foo", both), 1);
  EXPECT_EQ(Dropped("match_stage"), 6u);
}

TEST_F(MatchStageTest, DropCounterReason) {
  auto s = Build(BlockBuilder("stage.match")
                     .Attr("selector", Str(R"({app="x"} |~ ".*noisy error.*")"))
                     .Attr("action", Str("drop"))
                     .Attr("drop_counter_reason", Str("discard_noisy_errors"))
                     .Build());
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(Run(*s, Entry("a noisy error", Labels({{"app", "x"}}))).empty());
  EXPECT_EQ(Run(*s, Entry("a quiet error", Labels({{"app", "x"}}))).size(), 1u);
  EXPECT_EQ(Dropped("discard_noisy_errors"), 1u);
  EXPECT_EQ(Dropped("match_stage"), 0u);
}

TEST_F(MatchStageTest, NestedStagesSeeLabelsAsExtractedValues) {
  auto s = Build(BlockBuilder("stage.match")
                     .Attr("selector", Str(R"({app="x"})"))
                     .Attr("pipeline_name", Str("app_x"))
                     .Child(NestedTs("epoch"))
                     .Build());
  ASSERT_NE(s, nullptr);
  std::vector<ProcessEntry> out = Run(*s, Entry("l", Labels({{"app", "x"}, {"epoch", "7"}})));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].timestamp_ns, 7'000'000'000);
}

TEST_F(MatchStageTest, NestedBufferingStagesAreDrivenThroughTheMatch) {
  auto s = Build(BlockBuilder("stage.match")
                     .Attr("selector", Str(R"({app="x"})"))
                     .Child(BlockBuilder("stage.multiline")
                                .Attr("firstline", Str("^START"))
                                .Attr("max_wait_time", Str("1s"))
                                .Build())
                     .Build());
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(Run(*s, Entry("START a", Labels({{"app", "x"}}))).empty());
  int held = 0;
  s->ForEachHeld([&](const ProcessEntry&) { ++held; });
  EXPECT_EQ(held, 1);
  EXPECT_EQ(s->NextDeadline(), 1'000'000'000);
  std::vector<ProcessEntry> out = TickAt(*s, 1'000'000'000);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].line, "START a");
  EXPECT_EQ(Run(*s, Entry("START b", Labels({{"app", "x"}}))).size(), 0u);
  EXPECT_EQ(FlushAll(*s).size(), 1u);
}

TEST_F(MatchStageTest, NestedLimitMakesTheMatchBacklogged) {
  auto s = Build(BlockBuilder("stage.match")
                     .Attr("selector", Str(R"({app="x"})"))
                     .Child(BlockBuilder("stage.limit")
                                .Attr("rate", Num(0.1))
                                .Attr("burst", Int(1))
                                .Attr("drop", Bool(false))
                                .Build())
                     .Build());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Run(*s, Entry("a", Labels({{"app", "x"}}))).size(), 1u);
  EXPECT_FALSE(s->Backlogged());
  EXPECT_TRUE(Run(*s, Entry("b", Labels({{"app", "x"}}))).empty());
  EXPECT_TRUE(s->Backlogged());
  // Entries the selector does not take are not held back by the nested limit.
  EXPECT_EQ(Run(*s, Entry("c", Labels({{"app", "y"}}))).size(), 1u);
  EXPECT_EQ(FlushAll(*s).size(), 1u);
  EXPECT_FALSE(s->Backlogged());
}

TEST_F(MatchStageTest, MissingSelector) {
  EXPECT_EQ(Build(BlockBuilder("stage.match").Child(NestedTs()).Build()), nullptr);
  EXPECT_EQ(OnlyError(), "missing required attribute \"selector\"");
}

TEST_F(MatchStageTest, EmptySelector) {
  EXPECT_EQ(Keep(""), nullptr);
  EXPECT_EQ(OnlyError(), "selector statement required for match stage");
}

TEST_F(MatchStageTest, BadAction) {
  EXPECT_EQ(Build(BlockBuilder("stage.match")
                      .Attr("selector", Str(R"({app="foo"})"))
                      .Attr("action", Str("nope"))
                      .Build()),
            nullptr);
  EXPECT_EQ(OnlyError(), "match stage action should be 'keep' or 'drop'");
}

TEST_F(MatchStageTest, KeepNeedsStages) {
  EXPECT_EQ(Build(BlockBuilder("stage.match").Attr("selector", Str(R"({app="foo"})")).Build()),
            nullptr);
  EXPECT_EQ(OnlyError(),
            "match stage requires at least one additional stage to be defined in '- stages'");
}

TEST_F(MatchStageTest, DropCannotHaveStages) {
  EXPECT_EQ(Build(BlockBuilder("stage.match")
                      .Attr("selector", Str(R"({app="foo"})"))
                      .Attr("action", Str("drop"))
                      .Child(NestedTs())
                      .Build()),
            nullptr);
  EXPECT_EQ(OnlyError(), "match stage configured to drop entries cannot contains stages");
}

TEST_F(MatchStageTest, BadSelector) {
  EXPECT_EQ(Keep(R"({app="foo})"), nullptr);
  EXPECT_EQ(OnlyError(),
            "invalid selector syntax for match stage: parse error at line 1, col 6: literal not "
            "terminated");
  diags_.Clear();
  EXPECT_EQ(Keep("{}"), nullptr);
  EXPECT_EQ(OnlyError(),
            "invalid selector syntax for match stage: parse error at line 1, col 2: syntax error: "
            "unexpected }, expecting IDENTIFIER");
  diags_.Clear();
  EXPECT_EQ(Keep(R"({foo="bar"} |= "foo" | status >= 200)"), nullptr);
  EXPECT_EQ(OnlyError().rfind("invalid selector syntax for match stage: ", 0), 0u);
}

TEST_F(MatchStageTest, BadLineFilterRegex) {
  EXPECT_EQ(DropMatching(R"({foo="bar"} !~ "[]")"), nullptr);
  EXPECT_EQ(OnlyError(), "error parsing pipeline: error parsing regexp: missing closing ]: `[]`");
}

TEST_F(MatchStageTest, NestedErrorsAreReportedAtTheNestedBlock) {
  config::Block nested = BlockBuilder("stage.timestamp").Attr("source", Str("ts")).Build();
  EXPECT_EQ(Build(BlockBuilder("stage.match")
                      .Attr("selector", Str(R"({app="foo"})"))
                      .Child(nested)
                      .Build()),
            nullptr);
  EXPECT_EQ(OnlyError(), "missing required attribute \"format\"");
  EXPECT_EQ(diags_.list()[0].span.begin, nested.span.begin);
}

TEST_F(MatchStageTest, NestedUnsupportedStage) {
  config::Block nested = BlockBuilder("stage.windowsevent").Attr("source", Str("x")).Build();
  EXPECT_EQ(Build(BlockBuilder("stage.match")
                      .Attr("selector", Str(R"({app="foo"})"))
                      .Child(nested)
                      .Build()),
            nullptr);
  EXPECT_EQ(OnlyError(), "stage \"windowsevent\" is not supported by sluice");
  EXPECT_EQ(diags_.list()[0].span.begin, nested.span.begin);
}

TEST_F(MatchStageTest, NestedMatch) {
  auto s = Build(BlockBuilder("stage.match")
                     .Attr("selector", Str(R"({app="x"})"))
                     .Child(BlockBuilder("stage.match")
                                .Attr("selector", Str(R"({app="x"} |= "drop me")"))
                                .Attr("action", Str("drop"))
                                .Build())
                     .Build());
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(Run(*s, Entry("please drop me", Labels({{"app", "x"}}))).empty());
  EXPECT_EQ(Run(*s, Entry("keep me", Labels({{"app", "x"}}))).size(), 1u);
}

// ============================================================================================
// stage.multiline
// ============================================================================================

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

// ============================================================================================
// stage.limit
// ============================================================================================

class LimitStageTest : public StageTest {
 protected:
  static BlockBuilder Limit(double rate, int64_t burst, bool drop) {
    return std::move(BlockBuilder("stage.limit")
                         .Attr("rate", Num(rate))
                         .Attr("burst", Int(burst))
                         .Attr("drop", Bool(drop)));
  }
  int Passed(Stage& s, int n, LabelSet labels = {}) {
    int passed = 0;
    for (int i = 0; i < n; ++i) passed += static_cast<int>(Run(s, Entry("x", labels)).size());
    return passed;
  }
};

TEST_F(LimitStageTest, DropDiscardsWhatExceedsTheRate) {
  auto s = Build(Limit(1, 1, true).Build());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Passed(*s, 10), 1);
  EXPECT_EQ(Dropped("ratelimit_drop_stage"), 9u);
  clock_.Advance(1'000'000'000);
  EXPECT_EQ(Passed(*s, 10), 1);
  EXPECT_FALSE(s->Backlogged());
}

TEST_F(LimitStageTest, BurstIsTheBucketSize) {
  auto s = Build(Limit(10, 3, true).Build());
  EXPECT_EQ(Passed(*s, 5), 3);
  clock_.Advance(100'000'000);  // one token at 10/s
  EXPECT_EQ(Passed(*s, 5), 1);
  clock_.Advance(10'000'000'000);  // refills up to the burst only
  EXPECT_EQ(Passed(*s, 5), 3);
}

TEST_F(LimitStageTest, WithoutDropEntriesWaitForTokens) {
  auto s = Build(Limit(1, 1, false).Build());
  ASSERT_NE(s, nullptr);
  std::vector<std::string> out;
  for (int i = 0; i < 5; ++i) {
    s->Process(Entry("l" + std::to_string(i)), [&](ProcessEntry&& e) { out.emplace_back(e.line); });
  }
  EXPECT_EQ(out, (std::vector<std::string>{"l0"}));
  EXPECT_TRUE(s->Backlogged());
  int held = 0;
  s->ForEachHeld([&](const ProcessEntry&) { ++held; });
  EXPECT_EQ(held, 4);
  EXPECT_EQ(s->NextDeadline(), 1'000'000'000);
  clock_.Advance(1'000'000'000);
  std::vector<ProcessEntry> t = TickAt(*s, clock_.MonotonicNanos());
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].line, "l1");
  EXPECT_EQ(s->NextDeadline(), 2'000'000'000);
  // Order is kept: a new entry queues behind the held ones even when a token is there.
  clock_.Advance(1'000'000'000);
  EXPECT_TRUE(Run(*s, Entry("l5")).empty());
  EXPECT_EQ(Lines(TickAt(*s, clock_.MonotonicNanos())), (std::vector<std::string>{"l2"}));
  EXPECT_EQ(Dropped("ratelimit_drop_stage"), 0u);
}

TEST_F(LimitStageTest, FlushReleasesEverythingHeld) {
  auto s = Build(Limit(0.1, 1, false).Build());
  Passed(*s, 4);
  EXPECT_TRUE(s->Backlogged());
  EXPECT_EQ(FlushAll(*s).size(), 3u);
  EXPECT_FALSE(s->Backlogged());
  EXPECT_EQ(s->NextDeadline(), INT64_MAX);
}

TEST_F(LimitStageTest, HeldQueueIsBounded) {
  auto s = Build(Limit(0.001, 1, false).Build());
  Passed(*s, 1 + 4096 + 10);
  int held = 0;
  s->ForEachHeld([&](const ProcessEntry&) { ++held; });
  EXPECT_EQ(held, 4096);
  EXPECT_EQ(Dropped("ratelimit_drop_stage"), 10u);
}

TEST_F(LimitStageTest, ByLabelName) {
  auto s = Build(Limit(1, 1, true).Attr("by_label_name", Str("app")).Build());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Passed(*s, 5, Labels({{"app", "loki"}})), 1);
  EXPECT_EQ(Passed(*s, 5, Labels({{"app", "poki"}})), 1);
  EXPECT_EQ(Passed(*s, 5, Labels({})), 5);  // no label: not limited
  EXPECT_EQ(Dropped("ratelimit_drop_stage"), 8u);
  auto by_label = [&](std::string v) {
    return metrics_.CounterValue("loki_process_dropped_lines_by_label_total",
                                 {{"component_id", "loki.process.test"},
                                  {"component_path", "/"},
                                  {"label_name", "app"},
                                  {"label_value", v}});
  };
  EXPECT_EQ(by_label("loki"), 4u);
  EXPECT_EQ(by_label("poki"), 4u);
}

TEST_F(LimitStageTest, ByLabelKeepsBucketsAcrossGenerations) {
  // max_distinct_labels is raised to 10000 at least; fill a generation and check that a value
  // still in use keeps its (empty) bucket.
  auto s = Build(Limit(1, 1, true).Attr("by_label_name", Str("app")).Build());
  EXPECT_EQ(Passed(*s, 2, Labels({{"app", "hot"}})), 1);
  for (int i = 0; i < 10000; ++i) Passed(*s, 1, Labels({{"app", "v" + std::to_string(i)}}));
  EXPECT_EQ(Passed(*s, 1, Labels({{"app", "hot"}})), 0);
}

TEST_F(LimitStageTest, RateAndBurstMustBePositive) {
  EXPECT_EQ(Build(Limit(0, 1, true).Build()), nullptr);
  EXPECT_EQ(OnlyError(), "limit stage failed to parse rate or burst");
  diags_.Clear();
  EXPECT_EQ(Build(Limit(1, 0, true).Build()), nullptr);
  EXPECT_EQ(OnlyError(), "limit stage failed to parse rate or burst");
}

TEST_F(LimitStageTest, ByLabelNeedsDrop) {
  EXPECT_EQ(Build(Limit(1, 1, false).Attr("by_label_name", Str("app")).Build()), nullptr);
  EXPECT_EQ(OnlyError(), "when ratelimiting by label, drop must be true");
}

TEST_F(LimitStageTest, RateAndBurstAreRequired) {
  EXPECT_EQ(Build(BlockBuilder("stage.limit").Attr("rate", Num(1)).Build()), nullptr);
  EXPECT_EQ(OnlyError(), "missing required attribute \"burst\"");
}

TEST_F(LimitStageTest, BurstMustBeAnInteger) {
  EXPECT_EQ(Build(BlockBuilder("stage.limit").Attr("rate", Num(1)).Attr("burst", Num(1.5)).Build()),
            nullptr);
  EXPECT_EQ(OnlyError(), "cannot assign non-integer number 1.5 to an integer");
}

}  // namespace
}  // namespace sluice
