#include "agent/go/time.h"

#include <string>

#include "gtest/gtest.h"

namespace sluice {
namespace {

absl::Time Utc(int64_t y, int mo, int d, int h, int mi, int s, int64_t ns = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone()) +
         absl::Nanoseconds(ns);
}

// Parses as Go's time.Parse with `local` as time.Local.
absl::Time MustParse(std::string_view layout, std::string_view value,
                     const GoZone& local = GoZone::Utc()) {
  GoTime t;
  std::string error;
  EXPECT_TRUE(GoLayout(layout).Parse(value, GoZone::Utc(), local, &t, &error))
      << layout << " / " << value << ": " << error;
  return t.instant;
}

std::string ParseError(std::string_view layout, std::string_view value) {
  GoTime t;
  std::string error;
  EXPECT_FALSE(GoLayout(layout).Parse(value, GoZone::Utc(), GoZone::Utc(), &t, &error))
      << layout << " / " << value;
  return error;
}

GoZone Zone(std::string_view name) {
  absl::StatusOr<GoZone> z = GoZone::Load(name);
  EXPECT_TRUE(z.ok()) << z.status();
  return z.ok() ? *z : GoZone::Utc();
}

std::string_view Named(std::string_view n) { return GoNamedLayout(n); }

TEST(GoNamedLayoutTest, KnowsEveryAlloyShorthand) {
  EXPECT_EQ(Named("ANSIC"), "Mon Jan _2 15:04:05 2006");
  EXPECT_EQ(Named("UnixDate"), "Mon Jan _2 15:04:05 MST 2006");
  EXPECT_EQ(Named("RubyDate"), "Mon Jan 02 15:04:05 -0700 2006");
  EXPECT_EQ(Named("RFC822"), "02 Jan 06 15:04 MST");
  EXPECT_EQ(Named("RFC822Z"), "02 Jan 06 15:04 -0700");
  EXPECT_EQ(Named("RFC850"), "Monday, 02-Jan-06 15:04:05 MST");
  EXPECT_EQ(Named("RFC1123"), "Mon, 02 Jan 2006 15:04:05 MST");
  EXPECT_EQ(Named("RFC1123Z"), "Mon, 02 Jan 2006 15:04:05 -0700");
  EXPECT_EQ(Named("RFC3339"), "2006-01-02T15:04:05Z07:00");
  EXPECT_EQ(Named("RFC3339Nano"), "2006-01-02T15:04:05.999999999Z07:00");
  EXPECT_EQ(Named("Kitchen"), "");  // not one of Alloy's names
  EXPECT_EQ(Named("rfc3339"), "");
}

TEST(GoLayoutTest, Ansic) {
  EXPECT_EQ(MustParse(Named("ANSIC"), "Thu Feb  4 21:00:57 2010"), Utc(2010, 2, 4, 21, 0, 57));
  // "_2" takes a one-digit day after a single space too, and two digits.
  EXPECT_EQ(MustParse(Named("ANSIC"), "Thu Feb 4 21:00:57 2010"), Utc(2010, 2, 4, 21, 0, 57));
  EXPECT_EQ(MustParse(Named("ANSIC"), "Thu Feb 14 21:00:57 2010"), Utc(2010, 2, 14, 21, 0, 57));
}

TEST(GoLayoutTest, UnixDateWithUnknownAbbreviationIsOffsetZero) {
  EXPECT_EQ(MustParse(Named("UnixDate"), "Thu Feb  4 21:00:57 PST 2010"),
            Utc(2010, 2, 4, 21, 0, 57));
}

TEST(GoLayoutTest, UnixDateWithAbbreviationOfTheLocalZone) {
  GoZone la = Zone("America/Los_Angeles");
  EXPECT_EQ(MustParse(Named("UnixDate"), "Thu Feb  4 21:00:57 PST 2010", la),
            Utc(2010, 2, 5, 5, 0, 57));
}

TEST(GoLayoutTest, RubyDate) {
  EXPECT_EQ(MustParse(Named("RubyDate"), "Thu Feb 04 21:00:57 -0800 2010"),
            Utc(2010, 2, 5, 5, 0, 57));
}

TEST(GoLayoutTest, Rfc822AndTwoDigitYears) {
  EXPECT_EQ(MustParse(Named("RFC822"), "04 Feb 10 21:00 UTC"), Utc(2010, 2, 4, 21, 0, 0));
  EXPECT_EQ(MustParse(Named("RFC822Z"), "04 Feb 10 21:00 -0800"), Utc(2010, 2, 5, 5, 0, 0));
  // 69..99 are 19xx, 00..68 are 20xx.
  EXPECT_EQ(MustParse(Named("RFC822"), "04 Feb 69 21:00 UTC"), Utc(1969, 2, 4, 21, 0, 0));
  EXPECT_EQ(MustParse(Named("RFC822"), "04 Feb 68 21:00 UTC"), Utc(2068, 2, 4, 21, 0, 0));
}

TEST(GoLayoutTest, Rfc850) {
  EXPECT_EQ(MustParse(Named("RFC850"), "Thursday, 04-Feb-10 21:00:57 UTC"),
            Utc(2010, 2, 4, 21, 0, 57));
}

TEST(GoLayoutTest, Rfc1123) {
  EXPECT_EQ(MustParse(Named("RFC1123"), "Thu, 04 Feb 2010 21:00:57 GMT"),
            Utc(2010, 2, 4, 21, 0, 57));
  EXPECT_EQ(MustParse(Named("RFC1123Z"), "Thu, 04 Feb 2010 21:00:57 -0800"),
            Utc(2010, 2, 5, 5, 0, 57));
}

TEST(GoLayoutTest, Rfc3339) {
  EXPECT_EQ(MustParse(Named("RFC3339"), "2010-02-04T21:00:57-08:00"), Utc(2010, 2, 5, 5, 0, 57));
  EXPECT_EQ(MustParse(Named("RFC3339"), "2010-02-04T21:00:57Z"), Utc(2010, 2, 4, 21, 0, 57));
  EXPECT_EQ(MustParse(Named("RFC3339"), "2012-11-01T22:08:41+00:00"), Utc(2012, 11, 1, 22, 8, 41));
  // A fraction the layout does not name is read anyway.
  EXPECT_EQ(MustParse(Named("RFC3339"), "2010-02-04T21:00:57.5Z"),
            Utc(2010, 2, 4, 21, 0, 57, 500'000'000));
}

TEST(GoLayoutTest, Rfc3339Nano) {
  EXPECT_EQ(MustParse(Named("RFC3339Nano"), "2010-02-04T21:00:57.012345678-08:00"),
            Utc(2010, 2, 5, 5, 0, 57, 12'345'678));
  EXPECT_EQ(MustParse(Named("RFC3339Nano"), "2019-10-01T01:02:03.4Z"),
            Utc(2019, 10, 1, 1, 2, 3, 400'000'000));
  EXPECT_EQ(MustParse(Named("RFC3339Nano"), "2019-10-01T01:02:03Z"), Utc(2019, 10, 1, 1, 2, 3));
}

TEST(GoLayoutTest, FractionZerosNeedExactlyThatManyDigits) {
  EXPECT_EQ(MustParse("15:04:05.000", "21:00:57.012"), Utc(0, 1, 1, 21, 0, 57, 12'000'000));
  EXPECT_EQ(MustParse("15:04:05.000000", "21:00:57.000123"), Utc(0, 1, 1, 21, 0, 57, 123'000));
  EXPECT_EQ(MustParse("15:04:05.000000000", "21:00:57.000000123"), Utc(0, 1, 1, 21, 0, 57, 123));
  EXPECT_NE(ParseError("15:04:05.000", "21:00:57.01"), "");
  EXPECT_NE(ParseError("15:04:05.000", "21:00:57"), "");
  // The fraction's separator in the value may be either one.
  EXPECT_EQ(MustParse("15:04:05,000", "21:00:57,250"), Utc(0, 1, 1, 21, 0, 57, 250'000'000));
  EXPECT_EQ(MustParse("15:04:05.000", "21:00:57,250"), Utc(0, 1, 1, 21, 0, 57, 250'000'000));
}

TEST(GoLayoutTest, FractionNinesTakeAnyDigitsOrNone) {
  EXPECT_EQ(MustParse("15:04:05.999", "21:00:57.01"), Utc(0, 1, 1, 21, 0, 57, 10'000'000));
  EXPECT_EQ(MustParse("15:04:05.999", "21:00:57"), Utc(0, 1, 1, 21, 0, 57));
  EXPECT_EQ(MustParse("15:04:05.999", "21:00:57.123456"), Utc(0, 1, 1, 21, 0, 57, 123'456'000));
  EXPECT_EQ(MustParse("15:04:05.999999999", "21:00:57.123456789"),
            Utc(0, 1, 1, 21, 0, 57, 123'456'789));
  // Digits past the ninth are dropped.
  EXPECT_EQ(MustParse("15:04:05.999999999", "21:00:57.1234567891"),
            Utc(0, 1, 1, 21, 0, 57, 123'456'789));
}

TEST(GoLayoutTest, FractionAfterSecondsWithoutOneInTheLayout) {
  EXPECT_EQ(MustParse("2006-01-02 15:04:05", "2010-02-04 21:00:57.123456"),
            Utc(2010, 2, 4, 21, 0, 57, 123'456'000));
}

TEST(GoLayoutTest, DocumentedCommaLayout) {
  // Alloy's documentation example for a custom format.
  EXPECT_EQ(MustParse("2006-01-02T15:04:05,000-07:00", "2024-12-20T09:14:58,381+02:00"),
            Utc(2024, 12, 20, 7, 14, 58, 381'000'000));
}

TEST(GoLayoutTest, NumericZoneForms) {
  EXPECT_EQ(MustParse("15:04 -0700", "21:00 -0130"), Utc(0, 1, 1, 22, 30, 0));
  EXPECT_EQ(MustParse("15:04 -07:00", "21:00 +01:30"), Utc(0, 1, 1, 19, 30, 0));
  EXPECT_EQ(MustParse("15:04 -07", "21:00 -03"), Utc(0, 1, 2, 0, 0, 0));
  EXPECT_EQ(MustParse("15:04 -070000", "21:00 +010203"), Utc(0, 1, 1, 19, 57, 57));
  EXPECT_EQ(MustParse("15:04 -07:00:00", "21:00 +01:02:03"), Utc(0, 1, 1, 19, 57, 57));
  // A numeric zone does not accept "Z"; the ISO 8601 forms do.
  EXPECT_NE(ParseError("15:04 -0700", "21:00 Z"), "");
  EXPECT_EQ(MustParse("15:04 Z0700", "21:00 Z"), Utc(0, 1, 1, 21, 0, 0));
  EXPECT_EQ(MustParse("15:04 Z0700", "21:00 +0100"), Utc(0, 1, 1, 20, 0, 0));
  EXPECT_EQ(MustParse("15:04 Z07:00", "21:00 Z"), Utc(0, 1, 1, 21, 0, 0));
  EXPECT_EQ(MustParse("15:04 Z07", "21:00 +01"), Utc(0, 1, 1, 20, 0, 0));
  EXPECT_EQ(MustParse("15:04 Z070000", "21:00 -000001"), Utc(0, 1, 1, 21, 0, 1));
  EXPECT_EQ(MustParse("15:04 Z07:00:00", "21:00 Z"), Utc(0, 1, 1, 21, 0, 0));
  EXPECT_NE(ParseError("15:04 -07:00", "21:00 +0100"), "");
  EXPECT_EQ(ParseError("15:04 -0700", "21:00 +2500"),
            "parsing time \"21:00 +2500\": time zone offset hour out of range");
}

TEST(GoLayoutTest, ZoneAbbreviations) {
  GoZone ny = Zone("America/New_York");
  EXPECT_EQ(MustParse("2006-01-02 15:04:05 MST", "2010-02-04 12:00:00 EST", ny),
            Utc(2010, 2, 4, 17, 0, 0));
  EXPECT_EQ(MustParse("2006-01-02 15:04:05 MST", "2010-07-04 12:00:00 EDT", ny),
            Utc(2010, 7, 4, 16, 0, 0));
  // EST named in July, when EDT is in effect: the offset of the zone of that name.
  EXPECT_EQ(MustParse("2006-01-02 15:04:05 MST", "2010-07-04 12:00:00 EST", ny),
            Utc(2010, 7, 4, 17, 0, 0));
  // "UTC" is UTC whatever the local zone.
  EXPECT_EQ(MustParse("2006-01-02 15:04:05 MST", "2010-07-04 12:00:00 UTC", ny),
            Utc(2010, 7, 4, 12, 0, 0));
  // Unknown: offset 0. GMT+h: kept as the zone but the instant is not moved (as Go does).
  EXPECT_EQ(MustParse("2006-01-02 15:04:05 MST", "2010-07-04 12:00:00 XYZ", ny),
            Utc(2010, 7, 4, 12, 0, 0));
  GoTime t;
  ASSERT_TRUE(GoLayout("2006-01-02 15:04:05 MST")
                  .Parse("2010-07-04 12:00:00 GMT+3", GoZone::Utc(), ny, &t, nullptr));
  EXPECT_EQ(t.instant, Utc(2010, 7, 4, 12, 0, 0));
  EXPECT_EQ(t.zone.At(t.instant).offset, 3 * 3600);
  // Four or five capitals ending in T, and the special cases.
  EXPECT_EQ(MustParse("15:04 MST", "12:00 AEST"), Utc(0, 1, 1, 12, 0, 0));
  EXPECT_EQ(MustParse("15:04 MST", "12:00 ChST"), Utc(0, 1, 1, 12, 0, 0));
  EXPECT_NE(ParseError("15:04 MST", "12:00 ABCD"), "");
  EXPECT_NE(ParseError("15:04 MST", "12:00 ab"), "");
}

TEST(GoLayoutTest, MonthAndDayNames) {
  EXPECT_EQ(MustParse("January 2, 2006", "February 4, 2010"), Utc(2010, 2, 4, 0, 0, 0));
  EXPECT_EQ(MustParse("Jan 2, 2006", "feb 4, 2010"), Utc(2010, 2, 4, 0, 0, 0));  // any case
  EXPECT_EQ(MustParse("Monday Jan 2 2006", "Sunday Feb 4 2010"), Utc(2010, 2, 4, 0, 0, 0));
  EXPECT_EQ(MustParse("Mon Jan 2 2006", "WED Feb 4 2010"), Utc(2010, 2, 4, 0, 0, 0));
  EXPECT_NE(ParseError("Mon Jan 2 2006", "Xyz Feb 4 2010"), "");
  EXPECT_NE(ParseError("Jan 2 2006", "Fex 4 2010"), "");
  // "Jan" followed by a lower-case letter is literal text.
  EXPECT_EQ(MustParse("Janet 2006", "Janet 2010"), Utc(2010, 1, 1, 0, 0, 0));
  EXPECT_EQ(MustParse("1/2/2006", "2/4/2010"), Utc(2010, 2, 4, 0, 0, 0));
  EXPECT_EQ(MustParse("01/02/2006", "02/04/2010"), Utc(2010, 2, 4, 0, 0, 0));
  EXPECT_NE(ParseError("01/02/2006", "2/4/2010"), "");
}

TEST(GoLayoutTest, TwelveHourClock) {
  EXPECT_EQ(MustParse("3:04PM", "9:00PM"), Utc(0, 1, 1, 21, 0, 0));
  EXPECT_EQ(MustParse("03:04:05 PM", "03:04:05 PM"), Utc(0, 1, 1, 15, 4, 5));
  EXPECT_EQ(MustParse("03:04:05 PM", "12:00:00 AM"), Utc(0, 1, 1, 0, 0, 0));
  EXPECT_EQ(MustParse("03:04:05 PM", "12:30:00 PM"), Utc(0, 1, 1, 12, 30, 0));
  EXPECT_EQ(MustParse("3:04 pm", "9:15 am"), Utc(0, 1, 1, 9, 15, 0));
  EXPECT_NE(ParseError("3:04 PM", "9:15 pm"), "");  // the case of AM/PM must match the layout
  EXPECT_NE(ParseError("3:04 PM", "13:15 PM"), "");
}

TEST(GoLayoutTest, DayOfYear) {
  EXPECT_EQ(MustParse("2006-002", "2010-035"), Utc(2010, 2, 4, 0, 0, 0));
  EXPECT_EQ(MustParse("2006 __2", "2012  60"), Utc(2012, 2, 29, 0, 0, 0));
  EXPECT_EQ(MustParse("2006-002", "2012-366"), Utc(2012, 12, 31, 0, 0, 0));
  EXPECT_EQ(ParseError("2006-002", "2010-366"),
            "parsing time \"2010-366\": day-of-year out of range");
  EXPECT_EQ(ParseError("2006-01-002", "2010-03-035"),
            "parsing time \"2010-03-035\": day-of-year does not match month");
}

TEST(GoLayoutTest, LiteralUnderscoreBeforeLongYear) {
  EXPECT_EQ(MustParse("x_2006", "x_2010"), Utc(2010, 1, 1, 0, 0, 0));
}

TEST(GoLayoutTest, SpacesInTheLayoutMatchAnyRun) {
  EXPECT_EQ(MustParse("2006-01-02 15:04", "2010-02-04    21:00"), Utc(2010, 2, 4, 21, 0, 0));
}

TEST(GoLayoutTest, RangeAndCalendarChecks) {
  EXPECT_EQ(ParseError("2006-01-02", "2010-02-30"),
            "parsing time \"2010-02-30\": day out of range");
  EXPECT_EQ(MustParse("2006-01-02", "2012-02-29"), Utc(2012, 2, 29, 0, 0, 0));
  EXPECT_EQ(ParseError("2006-01-02", "2010-13-01"),
            "parsing time \"2010-13-01\": month out of range");
  EXPECT_EQ(ParseError("15:04", "25:00"), "parsing time \"25:00\": hour out of range");
  EXPECT_EQ(ParseError("15:04:05", "21:60:00"), "parsing time \"21:60:00\": minute out of range");
  EXPECT_EQ(ParseError("15:04:05", "21:00:60"), "parsing time \"21:00:60\": second out of range");
}

TEST(GoLayoutTest, ErrorMessagesAsGo) {
  EXPECT_EQ(ParseError("2006-01-02", "2010-0x-04"),
            "parsing time \"2010-0x-04\" as \"2006-01-02\": cannot parse \"0x-04\" as \"01\"");
  EXPECT_EQ(ParseError("2006-01-02", "2010-02-04x"),
            "parsing time \"2010-02-04x\": extra text: \"x\"");
  EXPECT_EQ(ParseError("2006-01-02", "2010/02/04"),
            "parsing time \"2010/02/04\" as \"2006-01-02\": cannot parse \"/02/04\" as \"-\"");
}

TEST(GoLayoutTest, MissingFieldsDefaultToYearZeroJanuaryFirst) {
  GoTime t;
  ASSERT_TRUE(GoLayout("15:04").Parse("21:00", GoZone::Utc(), GoZone::Utc(), &t, nullptr));
  EXPECT_EQ(t.Year(), 0);
  EXPECT_EQ(t.instant, Utc(0, 1, 1, 21, 0, 0));
}

TEST(GoLayoutTest, ParseInLocationReadsZonelessValuesInThatZone) {
  GoZone ny = Zone("America/New_York");
  GoTime t;
  ASSERT_TRUE(GoLayout("2006-01-02 15:04:05").Parse("2019-07-22 20:29:32", ny, ny, &t, nullptr));
  EXPECT_EQ(t.instant, Utc(2019, 7, 23, 0, 29, 32));
  ASSERT_TRUE(GoLayout("2006-01-02 15:04:05").Parse("2019-01-22 20:29:32", ny, ny, &t, nullptr));
  EXPECT_EQ(t.instant, Utc(2019, 1, 23, 1, 29, 32));
}

TEST(GoLayoutTest, NumericOffsetOfTheLocalZoneKeepsTheLocalZone) {
  GoZone ny = Zone("America/New_York");
  GoTime t;
  ASSERT_TRUE(
      GoLayout("2006-01-02 15:04 -0700").Parse("2019-07-22 20:29 -0400", ny, ny, &t, nullptr));
  EXPECT_EQ(t.instant, Utc(2019, 7, 23, 0, 29, 0));
  EXPECT_EQ(t.zone.name(), ny.tz().name());
  ASSERT_TRUE(
      GoLayout("2006-01-02 15:04 -0700").Parse("2019-07-22 20:29 -0300", ny, ny, &t, nullptr));
  EXPECT_NE(t.zone.name(), ny.tz().name());
  EXPECT_EQ(t.zone.At(t.instant).offset, -3 * 3600);
}

TEST(GoTimeTest, AddYearsNormalisesFebruary29) {
  GoTime t;
  ASSERT_TRUE(
      GoLayout("Jan 2 15:04").Parse("Feb 29 10:00", GoZone::Utc(), GoZone::Utc(), &t, nullptr));
  EXPECT_EQ(t.Year(), 0);
  EXPECT_EQ(t.AddYears(2024).instant, Utc(2024, 2, 29, 10, 0, 0));
  EXPECT_EQ(t.AddYears(2023).instant, Utc(2023, 3, 1, 10, 0, 0));
}

TEST(GoZoneTest, LoadFollowsGo) {
  EXPECT_TRUE(GoZone::Load("").ok());
  EXPECT_TRUE(GoZone::Load("UTC").ok());
  EXPECT_TRUE(GoZone::Load("Local").ok());
  EXPECT_TRUE(GoZone::Load("Europe/Berlin").ok());
  EXPECT_EQ(GoZone::Load("America/Canada").status().message(), "unknown time zone America/Canada");
  EXPECT_EQ(GoZone::Load("/etc/localtime").status().message(), "time: invalid location name");
  EXPECT_EQ(GoZone::Load("../etc/x").status().message(), "time: invalid location name");
}

TEST(GoZoneTest, LookupNameUsesTheZonesAbbreviations) {
  GoZone berlin = Zone("Europe/Berlin");
  int offset = 0;
  EXPECT_TRUE(berlin.LookupName("CET", absl::ToUnixSeconds(Utc(2020, 1, 1, 0, 0, 0)), &offset));
  EXPECT_EQ(offset, 3600);
  EXPECT_TRUE(berlin.LookupName("CEST", absl::ToUnixSeconds(Utc(2020, 7, 1, 0, 0, 0)), &offset));
  EXPECT_EQ(offset, 7200);
  EXPECT_FALSE(berlin.LookupName("EST", 0, &offset));
  EXPECT_FALSE(GoZone::Utc().LookupName("UTC", 0, &offset));
}

}  // namespace
}  // namespace sluice
