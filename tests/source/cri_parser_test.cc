// Tests for the CRI log line parser (agent/source/cri_parser.h).
#include "agent/source/cri_parser.h"

#include <string>

#include "agent/common/timestamp.h"
#include "gtest/gtest.h"

namespace sluice {
namespace {

using std::string_literals::operator""s;

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kTs = 1704164645 * kSecond + 123456789;  // 2024-01-02T03:04:05.123456789Z

// Parses `line`, failing the test if it does not parse.
CriLine MustParse(std::string_view line) {
  CriLine out;
  EXPECT_TRUE(ParseCriLine(line, &out)) << ::testing::PrintToString(line);
  return out;
}

bool Parses(std::string_view line) {
  CriLine out;
  return ParseCriLine(line, &out);
}

TEST(CriParserTest, ValidStdoutFull) {
  const std::string line = "2024-01-02T03:04:05.123456789Z stdout F hello world";
  const CriLine l = MustParse(line);
  EXPECT_EQ(l.timestamp_ns, kTs);
  EXPECT_EQ(l.stream, LogStream::kStdout);
  EXPECT_FALSE(l.partial);
  EXPECT_EQ(l.content, "hello world");
  // The content is a view into the input, not a copy.
  EXPECT_EQ(l.content.data(), line.data() + line.size() - 11);
}

TEST(CriParserTest, ValidStderrPartial) {
  const CriLine l = MustParse("2024-01-02T03:04:05.123456789Z stderr P first half of a long li");
  EXPECT_EQ(l.timestamp_ns, kTs);
  EXPECT_EQ(l.stream, LogStream::kStderr);
  EXPECT_TRUE(l.partial);
  EXPECT_EQ(l.content, "first half of a long li");
}

TEST(CriParserTest, StderrFullAndStdoutPartial) {
  CriLine l = MustParse("2024-01-02T03:04:05Z stderr F x");
  EXPECT_EQ(l.stream, LogStream::kStderr);
  EXPECT_FALSE(l.partial);
  l = MustParse("2024-01-02T03:04:05Z stdout P y");
  EXPECT_EQ(l.stream, LogStream::kStdout);
  EXPECT_TRUE(l.partial);
  EXPECT_EQ(l.content, "y");
}

TEST(CriParserTest, EmptyMessage) {
  const std::string no_space = "2024-01-02T03:04:05.123456789Z stdout F";
  CriLine l = MustParse(no_space);
  EXPECT_EQ(l.content, "");
  EXPECT_FALSE(l.partial);
  EXPECT_EQ(l.content.data(), no_space.data() + no_space.size());  // still inside the input
  l = MustParse("2024-01-02T03:04:05.123456789Z stdout F ");
  EXPECT_EQ(l.content, "");
  l = MustParse("2024-01-02T03:04:05.123456789Z stderr P");
  EXPECT_EQ(l.content, "");
  EXPECT_TRUE(l.partial);
  EXPECT_EQ(l.stream, LogStream::kStderr);
}

TEST(CriParserTest, MessageKeepsSpacesTabsAndCarriageReturn) {
  EXPECT_EQ(MustParse("2024-01-02T03:04:05Z stdout F a  b\tc  ").content, "a  b\tc  ");
  EXPECT_EQ(MustParse("2024-01-02T03:04:05Z stdout F  leading space").content, " leading space");
  EXPECT_EQ(MustParse("2024-01-02T03:04:05Z stdout F \tindented").content, "\tindented");
  EXPECT_EQ(MustParse("2024-01-02T03:04:05Z stdout F windows\r").content, "windows\r");
  EXPECT_EQ(MustParse("2024-01-02T03:04:05Z stdout F  ").content, " ");
  // Text that looks like another header stays in the message.
  EXPECT_EQ(MustParse("2024-01-02T03:04:05Z stdout F 2024-01-02T03:04:05Z stderr P x").content,
            "2024-01-02T03:04:05Z stderr P x");
  // Content bytes are not interpreted: NUL, invalid UTF-8 and JSON all pass through.
  EXPECT_EQ(MustParse("2024-01-02T03:04:05Z stdout F a\0b\xFF"s).content, "a\0b\xFF"s);
  EXPECT_EQ(MustParse(R"(2024-01-02T03:04:05Z stdout F {"level":"info","msg":"hi"})").content,
            R"({"level":"info","msg":"hi"})");
}

TEST(CriParserTest, TimezoneOffsets) {
  EXPECT_EQ(MustParse("2024-01-02T05:04:05.123456789+02:00 stdout F x").timestamp_ns, kTs);
  EXPECT_EQ(MustParse("2024-01-01T20:04:05.123456789-07:00 stdout F x").timestamp_ns, kTs);
  EXPECT_EQ(MustParse("2024-01-02T08:34:05.123456789+05:30 stdout F x").timestamp_ns, kTs);
}

TEST(CriParserTest, FractionsOfZeroToNineDigits) {
  const int64_t base = 1704164645 * kSecond;
  const std::string digits = "123456789";
  int64_t expected_fraction[10] = {0,         100000000, 120000000, 123000000, 123400000,
                                   123450000, 123456000, 123456700, 123456780, 123456789};
  for (int n = 0; n <= 9; ++n) {
    std::string line = "2024-01-02T03:04:05";
    if (n > 0) line += "." + digits.substr(0, n);
    line += "Z stdout F msg";
    const CriLine l = MustParse(line);
    EXPECT_EQ(l.timestamp_ns, base + expected_fraction[n]) << line;
    EXPECT_EQ(l.content, "msg");
  }
}

TEST(CriParserTest, DatesAcrossTheRange) {
  EXPECT_EQ(MustParse("2024-02-29T00:00:00Z stdout F leap").timestamp_ns, 1709164800 * kSecond);
  EXPECT_EQ(MustParse("1969-12-31T23:59:59.5Z stdout F before epoch").timestamp_ns, -kSecond / 2);
  EXPECT_EQ(MustParse("1900-01-01T00:00:00Z stdout F old").timestamp_ns,
            int64_t{-2208988800} * kSecond);
  EXPECT_EQ(MustParse("2262-04-11T23:47:16.854775807Z stdout F last").timestamp_ns, INT64_MAX);
  EXPECT_FALSE(Parses("2262-04-11T23:47:16.854775808Z stdout F past the end"));
  EXPECT_FALSE(Parses("2023-02-29T00:00:00Z stdout F not a leap year"));
}

TEST(CriParserTest, MalformedLines) {
  const std::string bad[] = {
      "",
      " ",
      "garbage",
      "2024-01-02T03:04:05Z",               // only a timestamp
      "2024-01-02T03:04:05Z ",              // timestamp and space
      "2024-01-02T03:04:05Z stdout",        // no tag
      "2024-01-02T03:04:05Z stdout ",       // empty tag
      "2024-01-02T03:04:05Z stdout  F x",   // double space before tag
      "2024-01-02T03:04:05Z  stdout F x",   // double space before stream
      "2024-01-02T03:04:05Z stdout X x",    // bad tag
      "2024-01-02T03:04:05Z stdout f x",    // lowercase tag
      "2024-01-02T03:04:05Z stdout FF x",   // long tag
      "2024-01-02T03:04:05Z stdout F:x x",  // multi-tag form
      "2024-01-02T03:04:05Z stdout Fx",     // tag glued to message
      "2024-01-02T03:04:05Z stdin F x",     // bad stream
      "2024-01-02T03:04:05Z STDOUT F x",    // bad stream case
      "2024-01-02T03:04:05Z stdoutt F x",   // long stream
      "2024-01-02T03:04:05Z std F x",       // short stream
      "2024-01-02T03:04:05Z\tstdout F x",   // tab separator
      "2024-01-02 03:04:05Z stdout F x",    // space in the timestamp
      "2024-13-02T03:04:05Z stdout F x",    // bad month
      "2024-01-02T03:04:05 stdout F x",     // no zone
      "1704164645 stdout F x",              // epoch seconds
      "stdout F 2024-01-02T03:04:05Z x",    // fields out of order
      " 2024-01-02T03:04:05Z stdout F x",   // leading space
      "{\"log\":\"x\\n\",\"stream\":\"stdout\",\"time\":\"2024-01-02T03:04:05Z\"}",  // docker
      "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"s,       // preallocated
      "2024-01-02T03:04:05Z\0stdout F x"s,
      "2024-01-02T03:04:05Z stdout\0F x"s,
      "2024-01-02T03:04:05Z stdout F\0x"s,
      "\0002024-01-02T03:04:05Z stdout F x"s,
  };
  for (const std::string& line : bad) {
    CriLine out;
    out.content = "untouched";
    EXPECT_FALSE(ParseCriLine(line, &out)) << ::testing::PrintToString(line);
    EXPECT_EQ(out.content, "untouched");
  }
}

TEST(CriParserTest, TimestampReformatsToTheSameText) {
  const CriLine l = MustParse("2024-01-02T03:04:05.12345Z stdout F x");
  std::string text;
  AppendRfc3339Nano(l.timestamp_ns, &text);
  EXPECT_EQ(text, "2024-01-02T03:04:05.12345Z");
}

TEST(CriParserTest, LongMessage) {
  const std::string message(64 * 1024, 'm');
  const std::string line = "2024-01-02T03:04:05Z stdout P " + message;
  const CriLine l = MustParse(line);
  EXPECT_EQ(l.content.size(), message.size());
  EXPECT_TRUE(l.partial);
}

TEST(CriParserTest, StreamNames) {
  EXPECT_EQ(LogStreamName(LogStream::kStdout), "stdout");
  EXPECT_EQ(LogStreamName(LogStream::kStderr), "stderr");
  EXPECT_EQ(LogStreamName(LogStream::kNone), "");
}

}  // namespace
}  // namespace sluice
