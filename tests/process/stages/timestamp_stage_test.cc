// Tests of stage.timestamp (agent/process/stages/timestamp.cc), built by name as loki.process
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

using testing::Arr;
using testing::BlockBuilder;
using testing::Entry;
using testing::Labels;
using testing::StageTest;
using testing::Str;
using testing::UnixNs;

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

}  // namespace
}  // namespace sluice
