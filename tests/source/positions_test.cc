#include "agent/source/positions.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace sluice {
namespace {

using ::sluice::testing::ReadFile;
using ::sluice::testing::TempDir;
using ::sluice::testing::WriteFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

PositionRecord Rec(std::string path, int64_t offset, uint64_t inode = 1) {
  PositionRecord r;
  r.path = std::move(path);
  r.offset = offset;
  r.id.device = 2049;
  r.id.inode = inode;
  r.id.fingerprint = 0x9f3a0c1d2e4b5a69ULL + inode;
  r.id.fingerprint_len = 1024;
  return r;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(d);
  return names;
}

// Documents are built from these lines so each test states only what it changes.
std::string Doc(std::string_view entries, std::string_view count) {
  return absl::StrCat("version: 1\npositions:\n", Av(entries), "count: ", Av(count), "\n");
}

TEST(PositionsTest, RenderMatchesDocumentedShape) {
  PositionRecord r = Rec("/var/log/pods/ns_pod_uid/app/0.log", 17623, 1234567);
  r.id.fingerprint = 0x9f3a0c1d2e4b5a69ULL;
  r.labels = "{container=\"app\", namespace=\"ns\"}";
  EXPECT_EQ(RenderPositions({r}),
            "# sluice positions: offsets acknowledged by Loki. Written atomically; safe to delete "
            "(files restart per policy).\n"
            "version: 1\n"
            "positions:\n"
            "  - path: \"/var/log/pods/ns_pod_uid/app/0.log\"\n"
            "    device: 2049\n"
            "    inode: 1234567\n"
            "    fingerprint: \"9f3a0c1d2e4b5a69\"\n"
            "    fingerprint_len: 1024\n"
            "    offset: 17623\n"
            "    labels: \"{container=\\\"app\\\", namespace=\\\"ns\\\"}\"\n"
            "count: 1\n");
}

TEST(PositionsTest, RoundTripOddPathsAndExtremeNumbers) {
  std::vector<std::string> paths = {
      "/var/log/pods/ns_pod_uid/app/0.log",
      "/tmp/with space/and  two",
      "/tmp/\"quoted\"/'single'",
      "/tmp/back\\slash\\\\double\\",
      "/tmp/unicode/日本語/émoji-😀.log",
      "/tmp/newline\nand\ttab\rand\x01\x1f\x7f",
      "/tmp/invalid-utf8/\xff\xfe/\xc0\x80/\xe2\x82/\x80/\xed\xa0\x80/\xf4\x90\x80\x80",
      "/tmp/yaml: looks like a key # and a comment - [x] {y} &z *w !t |l >f",
      "relative/path",
      std::string(4096, 'p'),
      "-",
      "\\x41 not an escape",
  };
  std::vector<PositionRecord> records;
  uint64_t inode = 1;
  for (const std::string& p : paths)
    records.push_back(Rec(p, static_cast<int64_t>(inode * 7), inode));
  ++inode;
  PositionRecord big = Rec("/max", std::numeric_limits<int64_t>::max());
  big.id.device = std::numeric_limits<uint64_t>::max();
  big.id.inode = std::numeric_limits<uint64_t>::max();
  big.id.fingerprint = std::numeric_limits<uint64_t>::max();
  big.id.fingerprint_len = kFingerprintMaxBytes;
  big.labels = "{a=\"\\\"\", b=\"日本\", c=\"\n\"}";
  records.push_back(big);
  PositionRecord zero;
  zero.path = "/zero";
  records.push_back(zero);

  std::string text = RenderPositions(records);
  auto parsed = ParsePositions(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << text;
  EXPECT_EQ(*parsed, records);
  // Valid UTF-8 stays readable; only the invalid bytes are escaped.
  EXPECT_THAT(text, HasSubstr("日本語/émoji-😀.log"));
  EXPECT_THAT(text, HasSubstr("\\xff\\xfe/\\xc0\\x80/\\xe2\\x82/\\x80/\\xed\\xa0\\x80/\\xf4\\x90"));
}

TEST(PositionsTest, RoundTripRandomBytePaths) {
  for (uint32_t seed : {1u, 2u, 3u, 4u, 5u}) {
    std::mt19937 rng(seed);
    std::vector<PositionRecord> records;
    for (int i = 0; i < 50; ++i) {
      std::string path = "/";
      size_t len = rng() % 40;
      for (size_t k = 0; k < len; ++k) path.push_back(static_cast<char>(1 + rng() % 255));
      records.push_back(Rec(absl::StrCat(path, "/", i), i, static_cast<uint64_t>(rng())));
      records.back().labels = path;
    }
    auto parsed = ParsePositions(RenderPositions(records));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, records);
  }
}

TEST(PositionsTest, EmptyList) {
  std::string text = RenderPositions({});
  EXPECT_THAT(text, HasSubstr("positions: []\n"));
  auto parsed = ParsePositions(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->empty());
  // The block form of an empty list is accepted too.
  EXPECT_TRUE(ParsePositions("version: 1\npositions:\ncount: 0\n").ok());
}

TEST(PositionsTest, EveryTruncationIsDetected) {
  std::vector<PositionRecord> records;
  for (int i = 0; i < 12; ++i) records.push_back(Rec(absl::StrCat("/var/log/", i, ".log"), i));
  records[5].labels = "{app=\"x\"}";
  std::string text = RenderPositions(records);
  // Cutting the document anywhere before the final newline loses information, and the parser
  // must say so rather than return fewer records or a shortened number.
  for (size_t len = 0; len + 1 < text.size(); ++len) {
    auto parsed = ParsePositions(std::string_view(text).substr(0, len));
    EXPECT_FALSE(parsed.ok()) << "prefix of " << len << " bytes parsed:\n" << text.substr(0, len);
  }
  // Only the trailing newline is optional.
  auto parsed = ParsePositions(std::string_view(text).substr(0, text.size() - 1));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, records);
}

TEST(PositionsTest, CountMismatchNamesTheLine) {
  std::string text = Doc("  - path: \"/a\"\n    offset: 1\n", "2");
  auto parsed = ParsePositions(text);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("line 5:"));
  EXPECT_THAT(parsed.status().message(), HasSubstr("count is 2 but 1"));
}

TEST(PositionsTest, NulBytes) {
  auto all_nul = ParsePositions(std::string(4096, '\0'));
  ASSERT_FALSE(all_nul.ok());
  EXPECT_THAT(all_nul.status().message(), HasSubstr("line 1: NUL"));
  // A valid start followed by zero-filled blocks: the error names the first bad line.
  std::string text = RenderPositions({Rec("/a", 1)});
  text.resize(text.size() - 9);  // drop "count: 1\n"
  text.append(100, '\0');
  auto tail_nul = ParsePositions(text);
  ASSERT_FALSE(tail_nul.ok());
  EXPECT_THAT(tail_nul.status().message(), HasSubstr("line 10: NUL"));
  // A NUL sneaked in through an escape cannot become part of a path.
  auto escaped = ParsePositions(Doc("  - path: \"/a\\x00b\"\n    offset: 1\n", "1"));
  ASSERT_FALSE(escaped.ok());
  EXPECT_THAT(escaped.status().message(), HasSubstr("line 3: path contains a NUL"));
}

TEST(PositionsTest, Garbage) {
  for (std::string_view text : {
           std::string_view(""),
           std::string_view("hello world"),
           std::string_view("{\"positions\": {}}"),
           std::string_view("positions:\n  /var/log/a.log: \"12\"\n"),  // Promtail's shape
           std::string_view("\xff\xfe\xfd"),
           std::string_view("version: 1\n"),
           std::string_view("version: 1\npositions: []\n"),
           std::string_view("version: one\npositions: []\ncount: 0\n"),
           std::string_view("version: 1\npositions: [] junk\ncount: 0\n"),
           std::string_view("version: 1\npositions: []\ncount: 0\nversion: 1\n"),
           std::string_view("version: 1\nversion: 1\npositions: []\ncount: 0\n"),
           std::string_view("version: 1\n\tpositions: []\ncount: 0\n"),
           std::string_view("  indented: 1\nversion: 1\npositions: []\ncount: 0\n"),
       }) {
    auto parsed = ParsePositions(text);
    EXPECT_FALSE(parsed.ok()) << text;
    if (!parsed.ok()) {
      EXPECT_THAT(parsed.status().message(), HasSubstr("line ")) << text;
    }
  }
  std::mt19937 rng(42);
  for (int i = 0; i < 200; ++i) {
    std::string junk(rng() % 300, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    EXPECT_FALSE(ParsePositions(junk).ok());
  }
}

TEST(PositionsTest, BadEntries) {
  struct Case {
    std::string entries;
    std::string count;
    std::string message;
  };
  const Case cases[] = {
      {"  - path: \"/a\"\n    offset: -5\n", "1", "line 4: negative offset"},
      {"  - path: \"/a\"\n    offset: 9223372036854775808\n", "1", "line 4: number out of range"},
      {"  - path: \"/a\"\n    offset: 99999999999999999999999\n", "1", "line 4: number out of"},
      {"  - path: \"/a\"\n    offset: 1\n    inode: 18446744073709551616\n", "1",
       "line 5: number out of range"},
      {"  - path: \"/a\"\n    offset: 1\n    device: -1\n", "1", "line 5: negative number"},
      {"  - path: \"/a\"\n    offset: 1\n    fingerprint_len: 1025\n", "1", "line 5: number out"},
      {"  - path: \"/a\"\n    offset: 1\n    fingerprint: \"123\"\n", "1", "line 5: fingerprint"},
      {"  - path: \"/a\"\n    offset: 1\n    fingerprint: \"zzzzzzzzzzzzzzzz\"\n", "1",
       "line 5: fingerprint"},
      {"  - path: \"/a\"\n    offset: 1.5\n", "1", "line 4: unexpected text"},
      {"  - path: \"/a\"\n    offset: 0x10\n", "1", "line 4: unexpected text"},
      {"  - path: \"/a\"\n    offset:\n", "1", "line 4: expected a non-negative"},
      {"  - path: \"/a\"\n", "1", "line 3: entry has no `offset`"},
      {"  - offset: 3\n", "1", "line 3: entry has no `path`"},
      {"  - path: \"\"\n    offset: 3\n", "1", "line 3: empty path"},
      {"  - path: /unquoted\n    offset: 3\n", "1", "line 3: expected a double-quoted"},
      {"  - path: \"/a\n    offset: 3\n", "1", "line 3: unterminated string"},
      {"  - path: \"/a\\q\"\n    offset: 3\n", "1", "line 3: unsupported escape \\q"},
      {"  - path: \"/a\\x4\"\n    offset: 3\n", "1", "line 3: bad \\x escape"},
      {"  - path: \"/a\" trailing\n    offset: 3\n", "1", "line 3: unexpected text"},
      {"  - path: \"/a\"\n    offset: 1\n    offset: 2\n", "1", "line 5: duplicate key `offset`"},
      {"  - path: \"/a\"\n      offset: 1\n", "1", "line 4: bad indentation"},
      {"    offset: 1\n", "0", "line 3: expected a list entry"},
      {"  - path: \"/a\"\n    offset 1\n", "1", "line 4: expected `key: value`"},
  };
  for (const Case& c : cases) {
    auto parsed = ParsePositions(Doc(c.entries, c.count));
    ASSERT_FALSE(parsed.ok()) << c.entries;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << c.entries;
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.message)) << c.entries;
  }
}

TEST(PositionsTest, UnsupportedVersion) {
  auto parsed = ParsePositions("version: 2\npositions: []\ncount: 0\n");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(parsed.status().message(), HasSubstr("line 1: unsupported positions version 2"));
}

TEST(PositionsTest, ToleratesCommentsUnknownKeysAndCrlf) {
  std::string text =
      "# written by a future sluice\r\n"
      "version: 1   # the format version\r\n"
      "written_at: \"2030-01-01T00:00:00Z\"\r\n"
      "future_block:\r\n"
      "  nested: 1\r\n"
      "  - list item\r\n"
      "\r\n"
      "positions:   # entries\r\n"
      "  -\r\n"
      "    path: \"/a\"   # comment after a string\r\n"
      "    offset: 10 # comment after a number\r\n"
      "    rotated_from: \"/a.1\"\r\n"
      "    future_map:\r\n"
      "      path: \"/not/a/key/of/the/entry\"\r\n"
      "      offset: 99\r\n"
      "    labels: \"{}\"\r\n"
      "  # a comment between entries\r\n"
      "  - path: \"/b\"\r\n"
      "    offset: 0020\r\n"
      "count: 2\r\n";
  auto parsed = ParsePositions(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].path, "/a");
  EXPECT_EQ((*parsed)[0].offset, 10);
  EXPECT_EQ((*parsed)[0].labels, "{}");
  EXPECT_EQ((*parsed)[0].id, FileIdentity{});
  EXPECT_EQ((*parsed)[1].path, "/b");
  EXPECT_EQ((*parsed)[1].offset, 20);
}

TEST(PositionsTest, DuplicatePathLastWins) {
  std::vector<PositionRecord> records = {Rec("/a", 1, 1), Rec("/b", 2, 2), Rec("/a", 3, 3)};
  auto parsed = ParsePositions(RenderPositions(records));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(*parsed, ElementsAre(Rec("/a", 3, 3), Rec("/b", 2, 2)));
}

TEST(PositionsFileTest, MissingFileIsNotFound) {
  TempDir dir;
  auto read = ReadPositionsFile(dir.Join("nope/positions.yml"));
  EXPECT_EQ(read.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(read.status().message(), HasSubstr(dir.Join("nope/positions.yml")));
}

TEST(PositionsFileTest, WriteReadRoundTripModeAndNoTempFiles) {
  TempDir dir;
  std::string path = dir.Join("state/deeper/positions.yml");  // parents created on demand
  std::vector<PositionRecord> records = {Rec("/var/log/a b.log", 5), Rec("/var/log/ü.log", 9, 2)};
  ASSERT_TRUE(WritePositionsFile(path, records).ok());
  auto read = ReadPositionsFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, records);

  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_THAT(ListDir(dir.Join("state/deeper")), ElementsAre("positions.yml"));
}

TEST(PositionsFileTest, ModeIs0600EvenWithPermissiveUmaskAndStaleTemp) {
  TempDir dir;
  std::string path = dir.Join("positions.yml");
  // A stale temporary from a crash, with a wide mode: the write must reuse and tighten it.
  WriteFile(dir.Join(".positions.yml.tmp"), "half-written garbage");
  ASSERT_EQ(chmod(dir.Join(".positions.yml.tmp").c_str(), 0666), 0);
  mode_t old = umask(0);
  absl::Status st = WritePositionsFile(path, {Rec("/a", 1)});
  umask(old);
  ASSERT_TRUE(st.ok()) << st;
  struct stat info;
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0600u);
  EXPECT_THAT(ListDir(dir.path()), ElementsAre("positions.yml"));
}

TEST(PositionsFileTest, WriteReplacesExistingFile) {
  TempDir dir;
  std::string path = dir.Join("positions.yml");
  ASSERT_TRUE(WritePositionsFile(path, {Rec("/a", 1), Rec("/b", 2)}).ok());
  struct stat before;
  ASSERT_EQ(stat(path.c_str(), &before), 0);
  ASSERT_TRUE(WritePositionsFile(path, {Rec("/c", 3)}).ok());
  auto read = ReadPositionsFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_THAT(*read, ElementsAre(Rec("/c", 3)));
  // Replaced by rename, not rewritten in place: a reader never sees a half-written file.
  struct stat after;
  ASSERT_EQ(stat(path.c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino);
  ASSERT_TRUE(WritePositionsFile(path, {}).ok());
  EXPECT_TRUE(ReadPositionsFile(path)->empty());
  EXPECT_THAT(ListDir(dir.path()), ElementsAre("positions.yml"));
}

TEST(PositionsFileTest, FailedWriteKeepsOldContentAndRemovesTemp) {
  TempDir dir;
  // `path` is a non-empty directory: the final rename fails after the data was written.
  std::string path = dir.Join("positions.yml");
  WriteFile(dir.Join("positions.yml/inside"), "x");
  absl::Status st = WritePositionsFile(path, {Rec("/a", 1)});
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr(path));
  EXPECT_THAT(ListDir(dir.path()), ElementsAre("positions.yml"));
  EXPECT_EQ(ReadFile(dir.Join("positions.yml/inside")), "x");
}

TEST(PositionsFileTest, CorruptFileErrorNamesPathAndLine) {
  TempDir dir;
  std::string path = dir.Join("positions.yml");
  WriteFile(path, "version: 1\npositions:\n  - path: \"/a\"\n    offset: -1\ncount: 1\n");
  auto read = ReadPositionsFile(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(read.status().message(), HasSubstr(path));
  EXPECT_THAT(read.status().message(), HasSubstr("line 4: negative offset"));

  WriteFile(path, std::string(8192, '\0'));
  read = ReadPositionsFile(path);
  EXPECT_THAT(read.status().message(), HasSubstr("line 1: NUL"));

  WriteFile(path, "");
  read = ReadPositionsFile(path);
  EXPECT_THAT(read.status().message(), HasSubstr("empty document"));
}

TEST(PositionsFileTest, NotARegularFileOrNotADirectory) {
  TempDir dir;
  auto read = ReadPositionsFile(dir.path());
  EXPECT_FALSE(read.ok());
  EXPECT_THAT(read.status().message(), HasSubstr("not a regular file"));

  WriteFile(dir.Join("file"), "x");
  read = ReadPositionsFile(dir.Join("file/positions.yml"));
  EXPECT_FALSE(read.ok());
  EXPECT_NE(read.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(read.status().message(), HasSubstr(dir.Join("file/positions.yml")));

  absl::Status st = WritePositionsFile(dir.Join("file/positions.yml"), {});
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr(dir.Join("file/positions.yml")));
  EXPECT_FALSE(WritePositionsFile(dir.Join("ends-in-slash/"), {}).ok());
}

// Runs `body` in a child process without root's permission override (tests often run as root,
// which ignores directory modes), and exits with 0 when it returns true.
void RunUnprivileged(const std::function<bool()>& body) {
  if (geteuid() == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) std::_Exit(2);
  }
  std::_Exit(body() ? 0 : 1);
}

TEST(PositionsFileTest, UnreadableDirectoryIsPermissionDenied) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  TempDir dir;
  std::string locked = dir.Join("locked");
  std::string path = locked + "/positions.yml";
  ASSERT_TRUE(WritePositionsFile(path, {Rec("/a", 1)}).ok());
  ASSERT_EQ(chmod(locked.c_str(), 0), 0);
  // Let the unprivileged child reach `locked` itself.
  ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);
  EXPECT_EXIT(RunUnprivileged([&] {
                auto read = ReadPositionsFile(path);
                return read.status().code() == absl::StatusCode::kPermissionDenied &&
                       read.status().message().find(path) != absl::string_view::npos;
              }),
              ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(RunUnprivileged([&] {
                absl::Status st = WritePositionsFile(path, {});
                return st.code() == absl::StatusCode::kPermissionDenied &&
                       st.message().find(path) != absl::string_view::npos;
              }),
              ::testing::ExitedWithCode(0), "");
  ASSERT_EQ(chmod(locked.c_str(), 0700), 0);  // so TempDir can clean up
  EXPECT_THAT(ListDir(locked), UnorderedElementsAre("positions.yml"));
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

TEST(PositionsTest, ControlBytesInPathsRoundTripThroughGoEscapes) {
  PositionRecord r;
  r.path = std::string("/var/log/odd\a\b\f\v\x01\x7f\xff/0.log", 24);
  r.offset = 7;
  std::string text = RenderPositions({r});
  EXPECT_NE(text.find("\\a\\b\\f\\v\\x01\\x7f\\xff"), std::string::npos) << text;
  absl::StatusOr<std::vector<PositionRecord>> back = ParsePositions(text);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].path, r.path);
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

TEST(LegacyPositionsTest, PromtailFormat) {
  auto p = ParseLegacyPositions(
      "positions:\n"
      "  /var/log/pods/ns_a_1/c/0.log: \"1234\"\n"
      "  '/var/log/odd: name.log': \"7\"\n"
      "  /var/log/plain.log: 99\n");
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->size(), 3u);
  EXPECT_EQ((*p)[0], std::make_pair(std::string("/var/log/pods/ns_a_1/c/0.log"), int64_t{1234}));
  EXPECT_EQ((*p)[1].first, "/var/log/odd: name.log");
  EXPECT_EQ((*p)[2].second, 99);
}

TEST(LegacyPositionsTest, AlloyFormatAndLastOffsetWins) {
  auto p = ParseLegacyPositions(
      "positions:\n"
      "  ? path: /var/log/pods/ns_pod_uid/app/0.log\n"
      "    labels: '{container=\"app\", namespace=\"ns\"}'\n"
      "  : \"17623\"\n"
      "  ? path: /var/log/pods/ns_pod_uid/app/0.log\n"
      "    labels: '{container=\"app\"}'\n"
      "  : \"20000\"\n");
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->size(), 1u);
  EXPECT_EQ((*p)[0].second, 20000);
}

TEST(LegacyPositionsTest, EmptyAndBroken) {
  auto empty = ParseLegacyPositions("positions: {}\n");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_FALSE(ParseLegacyPositions("positions:\n  /a.log: \"-5\"\n").ok());
  EXPECT_FALSE(ParseLegacyPositions("positions:\n  /a.log \"5\"\n").ok());
  auto bad = ParseLegacyPositions("positions:\n  ? path: /a.log\n");
  EXPECT_FALSE(bad.ok());
  EXPECT_FALSE(ParseLegacyPositions(std::string("positions:\n  \0\0\0\0", 16)).ok());
}

}  // namespace
}  // namespace sluice
