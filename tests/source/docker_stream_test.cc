#include "agent/source/docker_stream.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace sluice {
namespace {

struct Got {
  bool is_stderr;
  int64_t ts;
  std::string text;
  bool operator==(const Got&) const = default;
};

std::string Frame(int stream, std::string_view payload) {
  uint32_t n = static_cast<uint32_t>(payload.size());
  std::string h = {static_cast<char>(stream),
                   0,
                   0,
                   0,
                   static_cast<char>(n >> 24),
                   static_cast<char>(n >> 16),
                   static_cast<char>(n >> 8),
                   static_cast<char>(n)};
  return h + std::string(payload);
}

constexpr int64_t kT1 = 1700000000123456789;  // 2023-11-14T22:13:20.123456789Z
constexpr char kTs1[] = "2023-11-14T22:13:20.123456789Z";
constexpr char kTs2[] = "2023-11-14T22:13:21Z";
constexpr int64_t kT2 = 1700000001000000000;

std::vector<Got> FeedAll(DockerLogStream& s, const std::vector<std::string>& pieces,
                         bool finish = true) {
  std::vector<Got> out;
  auto fn = [&](const DockerLogLine& l) {
    out.push_back(Got{l.is_stderr, l.timestamp_ns, std::string(l.text)});
  };
  for (const std::string& p : pieces) s.Feed(p, fn);
  if (finish) s.Finish(fn);
  return out;
}

TEST(DockerLogStreamTest, DemuxesStdoutAndStderr) {
  DockerLogStream s(/*tty=*/false);
  std::string body =
      Frame(1, absl::StrCat(kTs1, " hello\n")) + Frame(2, absl::StrCat(kTs2, " oops\n"));
  EXPECT_THAT(FeedAll(s, {body}),
              ::testing::ElementsAre(Got{false, kT1, "hello"}, Got{true, kT2, "oops"}));
  EXPECT_EQ(s.counters().lines, 2u);
}

TEST(DockerLogStreamTest, HeadersAndTimestampsSplitAcrossReadsAtEveryByte) {
  std::string body =
      Frame(1, absl::StrCat(kTs1, " first line\n")) + Frame(2, absl::StrCat(kTs2, " second\r\n"));
  for (size_t step = 1; step < body.size(); ++step) {
    DockerLogStream s(false);
    std::vector<std::string> pieces;
    for (size_t i = 0; i < body.size(); i += step) pieces.push_back(body.substr(i, step));
    EXPECT_THAT(FeedAll(s, pieces),
                ::testing::ElementsAre(Got{false, kT1, "first line"}, Got{true, kT2, "second"}))
        << "step " << step;
  }
}

TEST(DockerLogStreamTest, JoinsALineDockerCutIntoFrames) {
  DockerLogStream s(false);
  std::string a(16384, 'a'), b(100, 'b');
  std::string body = Frame(1, absl::StrCat(kTs1, " ", a)) + Frame(2, absl::StrCat(kTs2, " err\n")) +
                     Frame(1, absl::StrCat(kTs2, " ", b, "\n"));
  EXPECT_THAT(FeedAll(s, {body}),
              ::testing::ElementsAre(Got{true, kT2, "err"}, Got{false, kT1, a + b}));
}

TEST(DockerLogStreamTest, TtyIsRawTextOnStdout) {
  DockerLogStream s(/*tty=*/true);
  EXPECT_THAT(FeedAll(s, {absl::StrCat(kTs1, " one\r\n", kTs2, " tw"), "o\r\n"}),
              ::testing::ElementsAre(Got{false, kT1, "one"}, Got{false, kT2, "two"}));
}

TEST(DockerLogStreamTest, CountsLinesWithoutTimestampAndSkipsEmptyOnes) {
  DockerLogStream s(false);
  std::string body = Frame(1, "no timestamp here\n") + Frame(1, absl::StrCat(kTs1, " \n")) +
                     Frame(1, absl::StrCat(kTs1, " kept\n"));
  EXPECT_THAT(FeedAll(s, {body}), ::testing::ElementsAre(Got{false, kT1, "kept"}));
  EXPECT_EQ(s.counters().parse_errors, 1u);
  EXPECT_EQ(s.counters().empty, 1u);
}

TEST(DockerLogStreamTest, TruncatesLongFramesAndLines) {
  DockerLogStream s(false, /*max_frame=*/64, /*max_line=*/40);
  std::string big = absl::StrCat(kTs1, " ", std::string(200, 'x'), "\n");
  std::string body = Frame(1, big) + Frame(1, absl::StrCat(kTs2, " after\n"));
  std::vector<Got> got = FeedAll(s, {body});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].ts, kT1);
  EXPECT_EQ(got[0].text, std::string(40 - sizeof(kTs1), 'x'));
  EXPECT_EQ(got[1], (Got{false, kT2, "after"}));
  EXPECT_EQ(s.counters().truncated_frames, 1u);
  EXPECT_EQ(s.counters().truncated_lines, 1u);
}

TEST(DockerLogStreamTest, SkipsSystemErrorFramesAndFinishesPartialLines) {
  DockerLogStream s(false);
  std::string body = Frame(3, "engine error") + Frame(1, absl::StrCat(kTs1, " no newline"));
  EXPECT_THAT(FeedAll(s, {body}), ::testing::ElementsAre(Got{false, kT1, "no newline"}));
  EXPECT_EQ(s.counters().bad_stream_ids, 1u);
}

}  // namespace
}  // namespace sluice
