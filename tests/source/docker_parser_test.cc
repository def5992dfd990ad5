// Tests for the docker json-file line parser (agent/source/docker_parser.h).
#include "agent/source/docker_parser.h"

#include <string>

#include "gtest/gtest.h"

namespace sluice {
namespace {

using std::string_literals::operator""s;

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kTs = 1704164645 * kSecond + 123456789;  // 2024-01-02T03:04:05.123456789Z

// Builds a docker line around an already-escaped "log" value.
std::string Line(std::string_view escaped_log, std::string_view stream = "stdout",
                 std::string_view time = "2024-01-02T03:04:05.123456789Z") {
  std::string s = "{\"log\":\"";
  s += escaped_log;
  s += "\",\"stream\":\"";
  s += stream;
  s += "\",\"time\":\"";
  s += time;
  s += "\"}";
  return s;
}

TEST(DockerParserTest, Normal) {
  DockerParser parser;
  DockerLine l;
  ASSERT_TRUE(parser.Parse(Line("hello world\\n"), &l));
  EXPECT_EQ(l.timestamp_ns, kTs);
  EXPECT_EQ(l.stream, LogStream::kStdout);
  EXPECT_FALSE(l.partial);
  EXPECT_EQ(l.content, "hello world");

  ASSERT_TRUE(parser.Parse(Line("oops\\n", "stderr", "2024-01-02T05:04:05.123456789+02:00"), &l));
  EXPECT_EQ(l.timestamp_ns, kTs);
  EXPECT_EQ(l.stream, LogStream::kStderr);
  EXPECT_EQ(l.content, "oops");
}

TEST(DockerParserTest, Partial) {
  DockerParser parser;
  DockerLine l;
  ASSERT_TRUE(parser.Parse(Line("first 16 KiB of a long line"), &l));
  EXPECT_TRUE(l.partial);
  EXPECT_EQ(l.content, "first 16 KiB of a long line");
  // Only the last '\n' is the terminator; one inside the text is content.
  ASSERT_TRUE(parser.Parse(Line("a\\nb"), &l));
  EXPECT_TRUE(l.partial);
  EXPECT_EQ(l.content, "a\nb");
  ASSERT_TRUE(parser.Parse(Line("a\\n\\n"), &l));
  EXPECT_FALSE(l.partial);
  EXPECT_EQ(l.content, "a\n");
  // An empty line written by the container.
  ASSERT_TRUE(parser.Parse(Line("\\n"), &l));
  EXPECT_FALSE(l.partial);
  EXPECT_EQ(l.content, "");
  // A carriage return stays: the caller decides.
  ASSERT_TRUE(parser.Parse(Line("dos\\r\\n"), &l));
  EXPECT_FALSE(l.partial);
  EXPECT_EQ(l.content, "dos\r");
}

TEST(DockerParserTest, Escapes) {
  DockerParser parser;
  DockerLine l;
  ASSERT_TRUE(parser.Parse(Line(R"(tab\there \"quoted\" back\\slash caf\u00e9 \/\n)"), &l));
  EXPECT_EQ(l.content, "tab\there \"quoted\" back\\slash caf\xC3\xA9 /");
  // Docker escapes <, > and & the way Go's encoding/json does.
  ASSERT_TRUE(parser.Parse(Line(R"(\u003cb\u003e \u0026 \u0000 \b\f\r\n)"), &l));
  EXPECT_EQ(l.content, "<b> & \0 \b\f\r"s);
  // A surrogate pair: U+1F600.
  ASSERT_TRUE(parser.Parse(Line(R"(smile \ud83d\ude00\n)"), &l));
  EXPECT_EQ(l.content, "smile \xF0\x9F\x98\x80");
  // Raw UTF-8 passes through.
  ASSERT_TRUE(parser.Parse(Line("\xE6\x97\xA5\xE6\x9C\xAC\\n"), &l));
  EXPECT_EQ(l.content, "\xE6\x97\xA5\xE6\x9C\xAC");
}

TEST(DockerParserTest, FieldOrderAndExtraFields) {
  DockerParser parser;
  DockerLine l;
  ASSERT_TRUE(parser.Parse(
      R"({"time":"2024-01-02T03:04:05.123456789Z","stream":"stderr","log":"x\n"})", &l));
  EXPECT_EQ(l.content, "x");
  EXPECT_EQ(l.stream, LogStream::kStderr);
  EXPECT_EQ(l.timestamp_ns, kTs);
  ASSERT_TRUE(
      parser.Parse(R"({"log":"y\n","stream":"stdout","attrs":{"tag":"a","n":[1,2.5,null,true]},)"
                   R"("time":"2024-01-02T03:04:05.123456789Z"})",
                   &l));
  EXPECT_EQ(l.content, "y");
  // Whitespace around tokens is fine.
  ASSERT_TRUE(parser.Parse(
      " { \"log\" : \"z\\n\" , \"stream\" : \"stdout\" , \"time\" : \"2024-01-02T03:04:05Z\" } ",
      &l));
  EXPECT_EQ(l.content, "z");
}

TEST(DockerParserTest, MissingOrMistypedFields) {
  const std::string bad[] = {
      R"({"stream":"stdout","time":"2024-01-02T03:04:05Z"})",
      R"({"log":"x\n","time":"2024-01-02T03:04:05Z"})",
      R"({"log":"x\n","stream":"stdout"})",
      R"({"log":42,"stream":"stdout","time":"2024-01-02T03:04:05Z"})",
      R"({"log":null,"stream":"stdout","time":"2024-01-02T03:04:05Z"})",
      R"({"log":["x"],"stream":"stdout","time":"2024-01-02T03:04:05Z"})",
      R"({"log":{"a":"x"},"stream":"stdout","time":"2024-01-02T03:04:05Z"})",
      R"({"log":"x\n","stream":1,"time":"2024-01-02T03:04:05Z"})",
      R"({"log":"x\n","stream":"stdout","time":1704164645})",
      R"({"log":"x\n","stream":"stdin","time":"2024-01-02T03:04:05Z"})",
      R"({"log":"x\n","stream":"","time":"2024-01-02T03:04:05Z"})",
      R"({"log":"x\n","stream":"stdout","time":"2024-01-02 03:04:05"})",
      R"({"log":"x\n","stream":"stdout","time":""})",
      R"({"log":"x\n","stream":"stdout","time":"2024-02-30T03:04:05Z"})",
      R"({"LOG":"x\n","stream":"stdout","time":"2024-01-02T03:04:05Z"})",
  };
  DockerParser parser;
  for (const std::string& line : bad) {
    DockerLine l;
    l.content = "untouched";
    EXPECT_FALSE(parser.Parse(line, &l)) << line;
    EXPECT_EQ(l.content, "untouched");
  }
}

TEST(DockerParserTest, InvalidJson) {
  const std::string good = Line("x\\n");
  const std::string bad[] = {
      "",
      " ",
      "garbage",
      "null",
      "\"a string\"",
      "[1,2,3]",
      "{}",
      good.substr(0, good.size() - 1),  // truncated
      good.substr(0, good.size() / 2),
      good + "}",
      good + good,  // two documents on one line
      good + " x",
      R"({"log":"x\n","stream":"stdout","time":"2024-01-02T03:04:05Z",})",  // trailing comma
      R"({"log":"x\n","stream":"stdout" "time":"2024-01-02T03:04:05Z"})",   // missing comma
      R"({"log":"x\n","stream":"stdout","time":"2024-01-02T03:04:05Z","a":tru})",
      R"({'log':'x\n','stream':'stdout','time':'2024-01-02T03:04:05Z'})",  // single quotes
      R"({"log":"bad \q escape","stream":"stdout","time":"2024-01-02T03:04:05Z"})",
      R"({"log":"lone \ud800 surrogate","stream":"stdout","time":"2024-01-02T03:04:05Z"})",
      R"({"log":"lone \udc00 surrogate","stream":"stdout","time":"2024-01-02T03:04:05Z"})",
      "{\"log\":\"raw\ttab\",\"stream\":\"stdout\",\"time\":\"2024-01-02T03:04:05Z\"}",
      "{\"log\":\"bad utf8 \xFF\",\"stream\":\"stdout\",\"time\":\"2024-01-02T03:04:05Z\"}",
      "{\"log\":\"x\\n\",\"stream\":\"stdout\",\"time\":\"2024-01-02T03:04:05Z\"}\0"s,
      "2024-01-02T03:04:05Z stdout F x",  // a CRI line
  };
  DockerParser parser;
  for (const std::string& line : bad) {
    DockerLine l;
    EXPECT_FALSE(parser.Parse(line, &l)) << ::testing::PrintToString(line);
  }
  // The parser is still usable after failures.
  DockerLine l;
  ASSERT_TRUE(parser.Parse(good, &l));
  EXPECT_EQ(l.content, "x");
}

TEST(DockerParserTest, LargeLine) {
  // 300 KiB of log text with an escape every 100 bytes; far beyond docker's own 16 KiB split, so
  // it exercises buffer growth.
  std::string escaped, expected;
  for (int i = 0; i < 300 * 1024 / 100; ++i) {
    escaped += std::string(98, static_cast<char>('a' + i % 26)) + "\\t";
    expected += std::string(98, static_cast<char>('a' + i % 26)) + "\t";
  }
  DockerParser parser;
  DockerLine l;
  ASSERT_TRUE(parser.Parse(Line("small\\n"), &l));
  const size_t small_capacity = parser.buffer_capacity();
  ASSERT_TRUE(parser.Parse(Line(escaped + "\\n"), &l));
  EXPECT_FALSE(l.partial);
  EXPECT_EQ(l.content.size(), expected.size());
  EXPECT_TRUE(l.content == expected);
  const size_t large_capacity = parser.buffer_capacity();
  EXPECT_GT(large_capacity, small_capacity);
  EXPECT_GE(large_capacity, escaped.size());
  // Smaller lines afterwards reuse the grown buffers.
  ASSERT_TRUE(parser.Parse(Line("small again\\n"), &l));
  EXPECT_EQ(l.content, "small again");
  ASSERT_TRUE(parser.Parse(Line(escaped), &l));
  EXPECT_TRUE(l.partial);
  EXPECT_EQ(parser.buffer_capacity(), large_capacity);
}

TEST(DockerParserTest, ContentValidUntilNextParse) {
  DockerParser parser;
  DockerLine first, second;
  ASSERT_TRUE(parser.Parse(Line("one\\n"), &first));
  EXPECT_EQ(first.content, "one");
  // `content` borrows from the parser, not from the caller's line.
  std::string line = Line("two\\n");
  ASSERT_TRUE(parser.Parse(line, &second));
  line.assign(line.size(), 'X');
  EXPECT_EQ(second.content, "two");
}

}  // namespace
}  // namespace sluice
