// Tests for RFC 3339 parsing/formatting (agent/common/timestamp.h).
#include "agent/common/timestamp.h"

#include <cstdint>
#include <limits>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace sluice {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

// Parses `text`, failing the test if it does not parse.
int64_t MustParse(std::string_view text) {
  int64_t nanos = -42;
  EXPECT_TRUE(ParseRfc3339Nano(text, &nanos)) << text;
  return nanos;
}

bool Parses(std::string_view text) {
  int64_t nanos = 0;
  return ParseRfc3339Nano(text, &nanos);
}

std::string Format(int64_t nanos) {
  std::string out;
  AppendRfc3339Nano(nanos, &out);
  return out;
}

TEST(TimestampTest, ParsesEpochAndKnownInstants) {
  EXPECT_EQ(MustParse("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(MustParse("2024-01-02T03:04:05Z"), 1704164645 * kSecond);
  EXPECT_EQ(MustParse("2024-01-02T03:04:05.123456789Z"), 1704164645 * kSecond + 123456789);
  EXPECT_EQ(MustParse("2001-09-09T01:46:40Z"), 1'000'000'000 * kSecond);
  EXPECT_EQ(MustParse("2038-01-19T03:14:08Z"), (int64_t{1} << 31) * kSecond);
}

TEST(TimestampTest, FractionOfZeroToNineDigits) {
  const int64_t base = 1704164645 * kSecond;
  EXPECT_EQ(MustParse("2024-01-02T03:04:05Z"), base);
  EXPECT_EQ(MustParse("2024-01-02T03:04:05.1Z"), base + 100000000);
  EXPECT_EQ(MustParse("2024-01-02T03:04:05.12Z"), base + 120000000);
  EXPECT_EQ(MustParse("2024-01-02T03:04:05.123Z"), base + 123000000);
  EXPECT_EQ(MustParse("2024-01-02T03:04:05.1234Z"), base + 123400000);
  EXPECT_EQ(MustParse("2024-01-02T03:04:05.12345Z"), base + 123450000);
  EXPECT_EQ(MustParse("2024-01-02T03:04:05.123456Z"), base + 123456000);
  EXPECT_EQ(MustParse("2024-01-02T03:04:05.1234567Z"), base + 123456700);
  EXPECT_EQ(MustParse("2024-01-02T03:04:05.12345678Z"), base + 123456780);
  EXPECT_EQ(MustParse("2024-01-02T03:04:05.123456789Z"), base + 123456789);
  EXPECT_EQ(MustParse("2024-01-02T03:04:05.000000001Z"), base + 1);
  EXPECT_EQ(MustParse("2024-01-02T03:04:05.0Z"), base);
}

TEST(TimestampTest, ExtraFractionDigitsAreTruncatedLikeGo) {
  EXPECT_EQ(MustParse("2024-01-02T03:04:05.1234567891Z"), 1704164645 * kSecond + 123456789);
  EXPECT_EQ(MustParse("2024-01-02T03:04:05.999999999999999+00:00"),
            1704164645 * kSecond + 999999999);
}

TEST(TimestampTest, TimezoneOffsets) {
  const int64_t utc = MustParse("2024-01-02T03:04:05.5Z");
  EXPECT_EQ(MustParse("2024-01-02T05:04:05.5+02:00"), utc);
  EXPECT_EQ(MustParse("2024-01-01T20:04:05.5-07:00"), utc);
  EXPECT_EQ(MustParse("2024-01-02T08:34:05.5+05:30"), utc);
  EXPECT_EQ(MustParse("2024-01-02T03:04:05.5+00:00"), utc);
  EXPECT_EQ(MustParse("2024-01-02T03:04:05.5-00:00"), utc);
  EXPECT_EQ(MustParse("2024-01-03T03:03:05.5+23:59"), utc);
  EXPECT_EQ(MustParse("2024-01-01T03:05:05.5-23:59"), utc);
  // An offset that crosses a year boundary.
  EXPECT_EQ(MustParse("2023-12-31T23:30:00-01:00"), MustParse("2024-01-01T00:30:00Z"));
}

TEST(TimestampTest, LowercaseTAndZ) {
  EXPECT_EQ(MustParse("2024-01-02t03:04:05.5z"), MustParse("2024-01-02T03:04:05.5Z"));
}

TEST(TimestampTest, LeapYears) {
  EXPECT_TRUE(Parses("2024-02-29T00:00:00Z"));
  EXPECT_TRUE(Parses("2000-02-29T00:00:00Z"));   // divisible by 400
  EXPECT_FALSE(Parses("2100-02-29T00:00:00Z"));  // divisible by 100 only
  EXPECT_FALSE(Parses("2023-02-29T00:00:00Z"));
  EXPECT_EQ(MustParse("2024-03-01T00:00:00Z") - MustParse("2024-02-28T00:00:00Z"),
            2 * 86400 * kSecond);
  EXPECT_EQ(MustParse("2023-03-01T00:00:00Z") - MustParse("2023-02-28T00:00:00Z"), 86400 * kSecond);
  EXPECT_FALSE(Parses("2024-04-31T00:00:00Z"));
  EXPECT_TRUE(Parses("2024-12-31T23:59:59Z"));
}

TEST(TimestampTest, BeforeEpoch) {
  EXPECT_EQ(MustParse("1969-12-31T23:59:59Z"), -kSecond);
  EXPECT_EQ(MustParse("1969-12-31T23:59:59.999999999Z"), -1);
  EXPECT_EQ(MustParse("1900-01-01T00:00:00Z"), int64_t{-2208988800} * kSecond);
  EXPECT_EQ(MustParse("1700-03-01T00:00:00Z"), int64_t{-8515238400} * kSecond);
}

TEST(TimestampTest, Int64Range) {
  // The int64 limits are 1677-09-21T00:12:43.145224192Z and 2262-04-11T23:47:16.854775807Z.
  EXPECT_EQ(MustParse("2262-04-11T23:47:16.854775807Z"), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(MustParse("1677-09-21T00:12:43.145224192Z"), std::numeric_limits<int64_t>::min());
  EXPECT_FALSE(Parses("2262-04-11T23:47:16.854775808Z"));
  EXPECT_FALSE(Parses("1677-09-21T00:12:43.145224191Z"));
  EXPECT_FALSE(Parses("9999-12-31T23:59:59Z"));
  EXPECT_FALSE(Parses("0000-01-01T00:00:00Z"));
  // The offset can push an in-range local time out of range.
  EXPECT_FALSE(Parses("2262-04-11T23:47:16.854775807-01:00"));
  EXPECT_TRUE(Parses("2262-04-11T23:47:16.854775807+01:00"));
  EXPECT_TRUE(Parses("2200-06-15T12:00:00Z"));
}

TEST(TimestampTest, RejectsMalformed) {
  const char* bad[] = {
      "",
      "2024",
      "2024-01-02",
      "2024-01-02T03:04:05",           // no zone
      "2024-01-02 03:04:05Z",          // space instead of T
      "2024-01-02T03:04:05.Z",         // '.' without digits
      "2024-01-02T03:04:05.123",       // no zone after fraction
      "2024-01-02T03:04:05,123Z",      // comma
      "2024-01-02T03:04:05ZZ",         // trailing junk
      "2024-01-02T03:04:05Z ",         // trailing space
      " 2024-01-02T03:04:05Z",         // leading space
      "2024-1-02T03:04:05Z",           // one-digit month
      "24-01-02T03:04:05Z",            // two-digit year
      "+2024-01-02T03:04:05Z",         // sign
      "2024-00-02T03:04:05Z",          // month 0
      "2024-13-02T03:04:05Z",          // month 13
      "2024-01-00T03:04:05Z",          // day 0
      "2024-01-32T03:04:05Z",          // day 32
      "2024-01-02T24:00:00Z",          // hour 24
      "2024-01-02T03:60:05Z",          // minute 60
      "2024-01-02T03:04:60Z",          // leap second
      "2024-01-02T03:04:05+0200",      // offset without colon
      "2024-01-02T03:04:05+02",        // short offset
      "2024-01-02T03:04:05+24:00",     // offset hour 24
      "2024-01-02T03:04:05+02:60",     // offset minute 60
      "2024-01-02T03:04:05+02:00:00",  // offset seconds
      "2024-01-02T03:04:05.1+2:00",    // one-digit offset hour
      "2024-01-02T03:04:05UTC",        // zone name
      "2024/01/02T03:04:05Z",          // wrong separators
      "2024-01-02T03-04-05Z",
      "2024-01-02T03:04:0aZ",
      "2O24-01-02T03:04:05Z",  // letter O
      "2024-01-02T03:04:05.12a4Z",
  };
  for (const char* text : bad) {
    int64_t nanos = 12345;
    EXPECT_FALSE(ParseRfc3339Nano(text, &nanos)) << text;
    EXPECT_EQ(nanos, 12345) << "output must be untouched on failure: " << text;
  }
  // Embedded NUL.
  EXPECT_FALSE(Parses(std::string_view("2024-01-02T03:04:05\0Z", 21)));
  EXPECT_FALSE(Parses(std::string_view("2024-01-02T03:04:05Z\0", 21)));
}

// The parser remembers the last minute it parsed (per thread): what follows the minute is still
// checked in full, and a text the minute's bytes differ from by one byte is parsed afresh.
TEST(TimestampTest, TheRememberedMinuteChangesNoResult) {
  const int64_t minute = MustParse("2024-01-02T03:04:00Z");
  EXPECT_EQ(MustParse("2024-01-02T03:04:05.5Z"), minute + 5 * kSecond + kSecond / 2);
  EXPECT_EQ(MustParse("2024-01-02T03:04:59+01:00"), minute + 59 * kSecond - 3600 * kSecond);
  for (const char* bad : {"2024-01-02T03:04:60Z", "2024-01-02T03:04-05Z", "2024-01-02T03:04:5Z",
                          "2024-01-02T03:04:05", "2024-01-02T03:04:05.Z", "2024-01-02T03:04:05ZZ",
                          "2024-01-02T03:04:0aZ"}) {
    ASSERT_TRUE(Parses("2024-01-02T03:04:01Z"));  // the minute remembered
    int64_t nanos = 12345;
    EXPECT_FALSE(ParseRfc3339Nano(bad, &nanos)) << bad;
    EXPECT_EQ(nanos, 12345) << bad;
  }
  EXPECT_EQ(MustParse("2024-01-02t03:04:05Z"), minute + 5 * kSecond);  // other bytes, same instant
  EXPECT_EQ(MustParse("2024-01-02T03:05:05Z"), minute + 65 * kSecond);
  EXPECT_EQ(MustParse("2024-01-02T03:04:05Z"), minute + 5 * kSecond);
  // 16 NUL bytes never match a minute: not a real one, nor a new thread's empty memory.
  const std::string_view nuls("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0:05Z", 20);
  EXPECT_FALSE(Parses(nuls));
  bool fresh_thread_parsed = true;
  std::thread([&] { fresh_thread_parsed = Parses(nuls); }).join();
  EXPECT_FALSE(fresh_thread_parsed);
  // Invalid minutes stay invalid after a valid parse of the next one.
  ASSERT_TRUE(Parses("2024-02-29T03:04:05Z"));
  EXPECT_FALSE(Parses("2023-02-29T03:04:05Z"));
  EXPECT_FALSE(Parses("2024-01-02T03:60:05Z"));
}

TEST(TimestampTest, FormatsLikeGoRfc3339Nano) {
  EXPECT_EQ(Format(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(Format(1), "1970-01-01T00:00:00.000000001Z");
  EXPECT_EQ(Format(-1), "1969-12-31T23:59:59.999999999Z");
  EXPECT_EQ(Format(1704164645 * kSecond + 123456789), "2024-01-02T03:04:05.123456789Z");
  EXPECT_EQ(Format(1704164645 * kSecond + 120000000), "2024-01-02T03:04:05.12Z");
  EXPECT_EQ(Format(1704164645 * kSecond + 100), "2024-01-02T03:04:05.0000001Z");
  EXPECT_EQ(Format(1704164645 * kSecond), "2024-01-02T03:04:05Z");
  EXPECT_EQ(Format(std::numeric_limits<int64_t>::max()), "2262-04-11T23:47:16.854775807Z");
  EXPECT_EQ(Format(std::numeric_limits<int64_t>::min()), "1677-09-21T00:12:43.145224192Z");
  std::string out = "ts=";
  AppendRfc3339Nano(0, &out);
  EXPECT_EQ(out, "ts=1970-01-01T00:00:00Z");
}

TEST(TimestampTest, FormatParseRoundTrip) {
  // Every day across the whole representable range (plus a varying time of day and fraction),
  // which walks every month, leap day and century rule.
  const int64_t min_day = std::numeric_limits<int64_t>::min() / (86400 * kSecond) + 1;
  const int64_t max_day = std::numeric_limits<int64_t>::max() / (86400 * kSecond) - 1;
  uint64_t x = 88172645463325252ULL;  // xorshift state: deterministic pseudo-random offsets
  int64_t previous = std::numeric_limits<int64_t>::min();
  for (int64_t day = min_day; day <= max_day; ++day) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const int64_t nanos = day * 86400 * kSecond + static_cast<int64_t>(x % (86400 * kSecond));
    std::string text;
    AppendRfc3339Nano(nanos, &text);
    int64_t parsed = 0;
    ASSERT_TRUE(ParseRfc3339Nano(text, &parsed)) << text;
    ASSERT_EQ(parsed, nanos) << text;
    ASSERT_LT(previous, parsed) << text;  // formatting is monotonic day over day
    ASSERT_LE(text.size(), kMaxRfc3339NanoLength);
    previous = parsed;
  }
  for (int64_t nanos : {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                        int64_t{-1}, int64_t{0}, int64_t{1}, -kSecond, kSecond - 1}) {
    int64_t parsed = 0;
    ASSERT_TRUE(ParseRfc3339Nano(Format(nanos), &parsed)) << Format(nanos);
    EXPECT_EQ(parsed, nanos);
  }
}

}  // namespace
}  // namespace sluice
