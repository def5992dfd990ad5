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
  r.has_identity = true;
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

// A record as Alloy's file gives it: path, labels, offset, no identity.
PositionRecord Alloy(std::string path, std::string labels, int64_t offset) {
  PositionRecord r;
  r.path = std::move(path);
  r.labels = std::move(labels);
  r.offset = offset;
  return r;
}

TEST(PositionsTest, RenderIsAlloysMapPlusSluiceSection) {
  PositionRecord r = Rec("/var/log/pods/ns_pod_uid/app/0.log", 17623, 1234567);
  r.labels = R"({container="app", namespace="ns", pod="pod"})";
  EXPECT_EQ(RenderPositions({r}),
            "sluice:\n"
            "  version: 2\n"
            "  files:\n"
            "  - path: /var/log/pods/ns_pod_uid/app/0.log\n"
            "    labels: '{container=\"app\", namespace=\"ns\", pod=\"pod\"}'\n"
            "    offset: 17623\n"
            "    device: 2049\n"
            "    inode: 1234567\n"
            "    fingerprint: \"9f3a0c1d2e5e30f0\"\n"
            "    fingerprint_len: 1024\n"
            "  count: 1\n"
            "positions:\n"
            "  ? path: /var/log/pods/ns_pod_uid/app/0.log\n"
            "    labels: '{container=\"app\", namespace=\"ns\", pod=\"pod\"}'\n"
            "  : \"17623\"\n");
  EXPECT_EQ(RenderPositions({}), "sluice:\n  version: 2\n  files: []\n  count: 0\npositions: {}\n");
}

// Documents as gopkg.in/yaml.v2 (Alloy's encoder) writes them, for paths and label values that
// need every quoting form it uses: plain, single-quoted ('' for a quote), double-quoted with
// escapes, long scalars folded over lines, !!binary for bytes that are not UTF-8.
// (alloy_format_test checks these forms against yaml.v2 itself where Go is installed.)
// loki.source.docker's records: Alloy's cursor key and seconds in the map, the exact timestamp
// and its count in the sluice section; an edit of the map (or Alloy's own write) drops them.
TEST(PositionsTest, TimestampCursorsRoundTripAndYieldToAnEditedMap) {
  PositionRecord r;
  r.path = "cursor-0123abcd";
  r.labels = R"({__meta_docker_container_id="0123abcd", job="docker"})";
  r.offset = 1700000000;
  r.has_timestamp = true;
  r.timestamp_ns = 1700000000123456789;
  r.timestamp_count = 2;
  std::string doc = RenderPositions({r});
  EXPECT_THAT(doc, HasSubstr("timestamp_ns: 1700000000123456789"));
  EXPECT_THAT(doc, HasSubstr(": \"1700000000\""));
  auto back = ParsePositions(doc);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_THAT(*back, ElementsAre(r));

  std::string edited = doc;
  size_t at = edited.rfind("\"1700000000\"");
  ASSERT_NE(at, std::string::npos);
  edited.replace(at, 12, "\"1600000000\"");
  auto moved = ParsePositions(edited);
  ASSERT_TRUE(moved.ok()) << moved.status();
  ASSERT_EQ(moved->size(), 1u);
  EXPECT_EQ((*moved)[0].offset, 1600000000);
  EXPECT_FALSE((*moved)[0].has_timestamp);
}

TEST(PositionsTest, ReadsEveryQuotingFormOfAlloysFile) {
  auto parsed = ParsePositions(
      "positions:\n"
      "  ? path: /var/log/pods/ns_pod_uid/app/0.log\n"
      "    labels: '{container=\"app\", namespace=\"ns\", pod=\"pod\"}'\n"
      "  : \"17623\"\n"
      "  ? path: '/var/log/it''s: here.log'\n"
      "    labels: '{app=\"a\\\\b\", q=\"say \\\"hi\\\"\"}'\n"
      "  : \"5\"\n"
      "  ? path: \"/var/log/tab\\there\\x01.log\"\n"
      "    labels: '{}'\n"
      "  : \"6\"\n"
      "  ? path: /var/log/ünïcødé/日本.log\n"
      "    labels: '{app=\"ü\", container=\"a-very-long-container-name\", "
      "job=\"some-namespace/some-app\",\n"
      "      namespace=\"some-namespace\", pod=\"some-pod-6d4cf56db6-abcde\"}'\n"
      "  : \"7\"\n"
      "  ? path: !!binary L3Zhci9sb2cv/y5sb2c=\n"
      "    labels: '{}'\n"
      "  : \"8\"\n"
      "  ? path: \"123\"\n"
      "    labels: \"\"\n"
      "  : \"9\"\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(
      *parsed,
      ElementsAre(
          Alloy("/var/log/pods/ns_pod_uid/app/0.log",
                R"({container="app", namespace="ns", pod="pod"})", 17623),
          Alloy("/var/log/it's: here.log", R"({app="a\\b", q="say \"hi\""})", 5),
          Alloy("/var/log/tab\there\x01.log", "{}", 6),
          Alloy(
              "/var/log/ünïcødé/日本.log",
              R"({app="ü", container="a-very-long-container-name", job="some-namespace/some-app", namespace="some-namespace", pod="some-pod-6d4cf56db6-abcde"})",
              7),
          Alloy("/var/log/\xff.log", "{}", 8), Alloy("123", "", 9)));
}

// Paths and labels that need every quoting form, identities at their extremes, and a record
// without identity.
std::vector<PositionRecord> OddRecords() {
  std::vector<PositionRecord> records = {
      Rec("/var/log/a b.log", 5),
      Rec("/var/log/it's: \"here\" #1.log", 6, 2),
      Rec("/var/log/\t\r\n\x01\x7f.log", 7, 3),
      Rec("/var/log/ünï/日本.log", 8, 4),
      Rec("/var/log/\xff\xfe bytes.log", 9, 5),
      Rec("- leading dash", 10, 6),
      Rec("true", 11, 7),
      Rec("0x1F", 12, 8),
      Rec(" leading and trailing space ", 13, 9),
      Rec(std::string(300, 'x') + " " + std::string(300, 'y'), 14, 10),
      Alloy("/var/log/no-identity.log", "{}", std::numeric_limits<int64_t>::max()),
  };
  records[0].labels = R"({a="x", b="y\\z", c="\"q\"", d="ü"})";
  records[1].labels = "{" + std::string(200, 'l') + "=\"v v v v v v v v v v v v v v v v v v\"}";
  records[2].labels = "";
  records[3].labels = "'single' quotes";
  records[4].id.device = std::numeric_limits<uint64_t>::max();
  records[4].id.inode = std::numeric_limits<uint64_t>::max();
  records[4].id.fingerprint = std::numeric_limits<uint64_t>::max();
  records[5].id.fingerprint = 0;
  records[5].id.fingerprint_len = 0;
  return records;
}

TEST(PositionsTest, RoundTripOddPathsAndLabels) {
  std::vector<PositionRecord> records = OddRecords();
  std::string text = RenderPositions(records);
  auto parsed = ParsePositions(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << text;
  EXPECT_EQ(*parsed, records) << text;
}

TEST(PositionsTest, RoundTripRandomBytePaths) {
  std::mt19937 rng(7);
  std::vector<PositionRecord> records;
  for (int i = 0; i < 200; ++i) {
    std::string path;
    std::string labels;
    int n = 1 + static_cast<int>(rng() % 40);
    for (int j = 0; j < n; ++j) path.push_back(static_cast<char>(1 + rng() % 255));
    for (int j = 0; j < n; ++j) labels.push_back(static_cast<char>(1 + rng() % 255));
    PositionRecord r = Rec(path, static_cast<int64_t>(rng()), i);
    r.labels = labels;
    records.push_back(r);
  }
  std::string text = RenderPositions(records);
  auto parsed = ParsePositions(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, records);
}

// The renderer's text is RenderPositions' byte for byte: for the pod files a tailer writes
// (without a whole render after the first), for every quoting form, and when the offsets, the
// identities and the list change between calls.
TEST(PositionsTest, RendererWritesWhatRenderPositionsWrites) {
  PositionsRenderer renderer;
  std::vector<PositionRecord> pods;
  for (int i = 0; i < 40; ++i) {
    PositionRecord r = Rec(absl::StrCat("/var/log/pods/ns-", i, "_pod-", i,
                                        "_0b6c1e9a-5f0e-4a43-9d1b-7a0e6f1c2d3e/app/0.log"),
                           1000 + i, 100 + i);
    r.labels = absl::StrCat(R"({app="app-)", i, R"(", container="app", job="ns-)", i,
                            R"(/app", namespace="ns-)", i, R"(", pod="pod-)", i, R"("})");
    r.id.fingerprint = (i % 2 == 0) ? 0x0123456789012345ULL + i : 0xabcdef0123456789ULL + i;
    if (i % 7 == 0) r.has_identity = false;
    if (i % 5 == 0) {
      r.has_timestamp = true;
      r.timestamp_ns = 1700000000123456789 + i;
      r.timestamp_count = i;
    }
    pods.push_back(r);
  }
  pods.push_back(pods[3]);  // the same (path, labels) twice: the map keeps the first
  pods.back().offset = 5;
  pods[4].offset = -1;
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(renderer.Render(pods), RenderPositions(pods));
    for (PositionRecord& r : pods) {
      r.offset += 4096 * (round + 1);
      r.id.fingerprint_len = 1024 * (round + 1);
    }
  }
  EXPECT_EQ(renderer.whole_renders(), 0u);
  EXPECT_EQ(renderer.cached(), 40u);
  pods.resize(10);
  EXPECT_EQ(renderer.Render(pods), RenderPositions(pods));
  EXPECT_EQ(renderer.cached(), 10u);  // the pairs of the last document only
  EXPECT_EQ(renderer.whole_renders(), 0u);
  EXPECT_EQ(renderer.Render({}), RenderPositions({}));

  std::vector<PositionRecord> odd = OddRecords();
  odd.push_back(Rec("", 12, 8));
  odd.push_back(Rec("? key", 12, 8));
  odd.push_back(Rec(std::string(100, 'x') + "\n" + std::string(100, 'y'), 14, 10));
  odd[6].labels = std::string(70, 'a') + " " + std::string(70, 'b') + " c: d # e";
  for (const PositionRecord& r : odd) {
    std::vector<PositionRecord> two = {pods[0], r};
    EXPECT_EQ(renderer.Render(two), RenderPositions(two)) << r.path;
  }
  std::mt19937 rng(11);
  std::vector<PositionRecord> random;
  for (int i = 0; i < 300; ++i) {
    std::string path;
    std::string labels;
    int n = 1 + static_cast<int>(rng() % 120);
    for (int j = 0; j < n; ++j) path.push_back(static_cast<char>(1 + rng() % 255));
    for (int j = 0; j < n; ++j) labels.push_back(static_cast<char>(32 + rng() % 95));
    PositionRecord r = Rec(path, static_cast<int64_t>(rng()), i);
    r.labels = labels;
    r.id.fingerprint = (static_cast<uint64_t>(rng()) << 32) | rng();
    random.push_back(r);
    std::vector<PositionRecord> two = {pods[1], r};
    EXPECT_EQ(renderer.Render(two), RenderPositions(two)) << i;
  }
  EXPECT_EQ(renderer.Render(random), RenderPositions(random));
}

TEST(PositionsTest, PromtailsMapIsReadAsAlloysEmptyLabelsKey) {
  auto parsed = ParsePositions(
      "positions:\n"
      "  /var/log/pods/ns_a_1/c/0.log: \"1234\"\n"
      "  '/var/log/odd: name.log': \"7\"\n"
      "  /var/log/plain.log: 99\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(*parsed, ElementsAre(Alloy("/var/log/pods/ns_a_1/c/0.log", "{}", 1234),
                                   Alloy("/var/log/odd: name.log", "{}", 7),
                                   Alloy("/var/log/plain.log", "{}", 99)));
}

TEST(PositionsTest, JournalCursorsAndUnknownKeysAreSkipped) {
  auto parsed = ParsePositions(
      "# a comment\n"
      "unknown_top_level: {a: 1}\n"
      "positions:\n"
      "  ? path: cursor-loki.source.journal.default\n"
      "    labels: '{}'\n"
      "  : s=abc;i=12\n"
      "  ? path: /a.log\n"
      "    labels: '{}'\n"
      "    extra: ignored\n"
      "  : \"3\"\n"
      "  ? path: /b.log\n"
      "    labels: '{}'\n"
      "  : \"-5\"\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(*parsed, ElementsAre(Alloy("/a.log", "{}", 3)));
}

constexpr char kCursor[] =
    "s=6bdaddb91c3345dfa57cf14c887a2206;i=1;b=0123456789abcdef0123456789abcdef;m=3e8;"
    "t=661ad29939f76;x=c369eecb9c64d2de";

// The file Alloy's loki.source.journal writes: its cursor under "cursor-<id>" with labels "".
TEST(PositionsTest, JournalCursorsAreKeptByTheDocumentFunctions) {
  auto parsed =
      ParsePositionsDocument(absl::StrCat("positions:\n"
                                          "  ? path: cursor-loki.source.journal.read\n"
                                          "    labels: \"\"\n"
                                          "  : ",
                                          kCursor,
                                          "\n"
                                          "  ? path: /a.log\n"
                                          "    labels: '{}'\n"
                                          "  : \"3\"\n"
                                          "  ? path: cursor-other\n"
                                          "    labels: \"\"\n"
                                          "  : first\n"
                                          "  ? path: cursor-other\n"
                                          "    labels: \"\"\n"
                                          "  : second\n"));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(parsed->files, ElementsAre(Alloy("/a.log", "{}", 3)));
  EXPECT_THAT(parsed->cursors,
              ElementsAre(PositionCursor{"cursor-loki.source.journal.read", "", kCursor},
                          PositionCursor{"cursor-other", "", "second"}));
  // ParsePositions still gives the files only (loki.source.file's book).
  auto files = ParsePositions(RenderPositions(parsed->files, parsed->cursors));
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files, ElementsAre(Alloy("/a.log", "{}", 3)));
}

TEST(PositionsTest, JournalCursorRenderIsAlloysAndRoundTrips) {
  std::vector<PositionCursor> cursors = {
      PositionCursor{PositionsCursorKey("loki.source.journal.read"), "", kCursor}};
  EXPECT_EQ(PositionsCursorKey("loki.source.journal.read"), "cursor-loki.source.journal.read");
  std::string doc = RenderPositions({}, cursors);
  EXPECT_EQ(doc, absl::StrCat("sluice:\n  version: 2\n  files: []\n  count: 0\n"
                              "positions:\n"
                              "  ? path: cursor-loki.source.journal.read\n"
                              "    labels: \"\"\n"
                              "  : ",
                              kCursor, "\n"));
  auto back = ParsePositionsDocument(doc);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->files.empty());
  EXPECT_EQ(back->cursors, cursors);
  // Files and cursors together; odd cursor text (quotes, spaces, a number-like value, not
  // UTF-8) survives too.
  std::vector<PositionRecord> files = {Rec("/var/log/a.log", 10, 1)};
  std::vector<PositionCursor> odd = {
      PositionCursor{"cursor-a", "", "has 'quotes' and \"doubles\": yes"},
      PositionCursor{"cursor-b", "", "true"},
      PositionCursor{"cursor-c", "{}", std::string("\xff\xfe;i=1", 6)},
      PositionCursor{"cursor-d", "", "-7"}};
  auto both = ParsePositionsDocument(RenderPositions(files, odd));
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(both->files, files);
  EXPECT_EQ(both->cursors, odd);
}

TEST(PositionsFileTest, ReadPositionsDocumentKeepsCursors) {
  TempDir dir;
  std::string path = dir.path() + "/journal/positions.yml";
  std::vector<PositionCursor> cursors = {PositionCursor{"cursor-x", "", kCursor}};
  ASSERT_TRUE(WritePositionsData(path, RenderPositions({}, cursors), true).ok());
  auto doc = ReadPositionsDocument(path);
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->cursors, cursors);
  EXPECT_TRUE(absl::IsNotFound(ReadPositionsDocument(dir.path() + "/none.yml").status()));
}

TEST(PositionsTest, AKeyGivenTwiceKeepsItsLastOffset) {
  auto parsed = ParsePositions(
      "positions:\n"
      "  ? {path: /a.log, labels: '{}'}\n"
      "  : \"1\"\n"
      "  /b.log: \"2\"\n"
      "  ? {path: /a.log, labels: '{}'}\n"
      "  : \"3\"\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(*parsed, ElementsAre(Alloy("/a.log", "{}", 3), Alloy("/b.log", "{}", 2)));
}

TEST(PositionsTest, TheMapEditedAfterSluiceWroteItWins) {
  std::vector<PositionRecord> records = {Rec("/a", 100, 1), Rec("/b", 200, 2)};
  std::string text = RenderPositions(records);
  // Someone moved /a back to 10 in Alloy's map (the section still says 100).
  size_t at = text.find(": \"100\"");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 7, ": \"10\"");
  auto parsed = ParsePositions(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(*parsed, ElementsAre(Alloy("/a", "{}", 10), Rec("/b", 200, 2)));
}

TEST(PositionsTest, ASectionOfAnotherVersionLeavesTheMap) {
  auto parsed = ParsePositions(
      "sluice:\n  version: 3\n  whatever: [1, 2]\n"
      "positions:\n  ? path: /a\n    labels: '{}'\n  : \"4\"\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(*parsed, ElementsAre(Alloy("/a", "{}", 4)));
}

TEST(PositionsTest, EveryTruncationIsDetectedOrHarmless) {
  std::vector<PositionRecord> records;
  for (int i = 0; i < 12; ++i) records.push_back(Rec(absl::StrCat("/var/log/", i, ".log"), i, i));
  records[5].labels = R"({app="x", namespace="a-rather-long-namespace-name", pod="pod-abc-12345"})";
  records.push_back(Alloy("/var/log/alloy-only.log", "{}", 42));
  std::string text = RenderPositions(records);
  // A document cut anywhere either fails to parse, or (cut inside Alloy's map, after the
  // section's `count`) still gives every record: never fewer records or a shortened number.
  size_t count_end = text.find("  count: 13\n") + 12;
  for (size_t len = 1; len < text.size(); ++len) {
    auto parsed = ParsePositions(std::string_view(text).substr(0, len));
    if (len + 1 < count_end) {  // the line `  count: 13` itself may lack its newline
      EXPECT_FALSE(parsed.ok()) << "prefix of " << len << " bytes parsed:\n" << text.substr(0, len);
    } else if (parsed.ok()) {
      EXPECT_EQ(*parsed, records) << "prefix of " << len << " bytes:\n" << text.substr(0, len);
    }
  }
}

TEST(PositionsTest, CountMismatchNamesTheLine) {
  auto parsed = ParsePositions(
      "sluice:\n  version: 2\n  files:\n  - path: /a\n    offset: 1\n"
      "  count: 2\n");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("line 6, column 10: count is 2 but"));
}

TEST(PositionsTest, NulBytes) {
  auto all_nul = ParsePositions(std::string(4096, '\0'));
  ASSERT_FALSE(all_nul.ok());
  EXPECT_THAT(all_nul.status().message(), HasSubstr("line 1, column 1"));
  // A valid start followed by zero-filled blocks (a crash on a file system without ordered
  // data): an error, not fewer records.
  std::string text = RenderPositions({Rec("/a", 1)});
  text.resize(text.find("  count:"));
  text.append(100, '\0');
  auto tail_nul = ParsePositions(text);
  ASSERT_FALSE(tail_nul.ok());
  EXPECT_THAT(tail_nul.status().message(), HasSubstr("line 11, column 1"));
  // A NUL through an escape cannot become part of a path.
  auto escaped = ParsePositions("positions:\n  ? path: \"/a\\0b\"\n    labels: '{}'\n  : \"1\"\n");
  ASSERT_FALSE(escaped.ok());
  EXPECT_THAT(escaped.status().message(), HasSubstr("line 2, column 11: path contains a NUL"));
}

TEST(PositionsTest, Garbage) {
  for (std::string_view text : {
           std::string_view("hello world"),
           std::string_view("[1, 2]"),
           std::string_view("positions: [1, 2]"),
           std::string_view("positions: 5"),
           std::string_view("positions:\n  ? [1]\n  : \"1\"\n"),
           std::string_view("positions:\n  /a.log: {x: 1}\n"),
           std::string_view("\xff\xfe\xfd"),
           std::string_view("positions: {\n"),
           std::string_view("positions:\n  ? path: \"/a\n"),
           std::string_view("sluice: 5\n"),
           std::string_view("sluice:\n  files: []\n  count: 0\n"),
           std::string_view("sluice:\n  version: 2\n  files: []\n"),
           std::string_view("sluice:\n  version: 2\n  count: 0\n"),
           std::string_view("sluice:\n  version: two\n  files: []\n  count: 0\n"),
           std::string_view("sluice:\n  version: 2\n  files: [5]\n  count: 1\n"),
           std::string_view("sluice:\n  version: 2\n  files: [{offset: 1}]\n  count: 1\n"),
           std::string_view("sluice:\n  version: 2\n  files: [{path: /a}]\n  count: 1\n"),
           std::string_view("sluice:\n  version: 2\n  files: [{path: /a, offset: 1, inode: 5}]\n"
                            "  count: 1\n"),
           std::string_view("sluice:\n  version: 2\n  files: [{path: /a, offset: 1, device: 1, "
                            "inode: 5, fingerprint: xyz, fingerprint_len: 1}]\n  count: 1\n"),
           std::string_view("sluice:\n  version: 2\n  files: [{path: /a, offset: 1, device: 1, "
                            "inode: 5, fingerprint: ab, fingerprint_len: 1025}]\n  count: 1\n"),
           std::string_view("sluice:\n  version: 2\n  files: [{path: /a, offset: 1e3}]\n"
                            "  count: 1\n"),
       }) {
    auto parsed = ParsePositions(text);
    EXPECT_FALSE(parsed.ok()) << "accepted: " << text;
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << text;
      EXPECT_THAT(parsed.status().message(), HasSubstr("line ")) << text;
    }
  }
  // As Alloy: nothing at all, or an empty map, is no positions.
  for (std::string_view text : {std::string_view(""), std::string_view("\n# only a comment\n"),
                                std::string_view("positions:\n"), std::string_view("positions: {}"),
                                std::string_view("{}")}) {
    auto parsed = ParsePositions(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status();
    EXPECT_TRUE(parsed->empty()) << text;
  }
}

// A node upgraded from sluice's first format resumes where it was.
TEST(PositionsTest, ReadsSluiceVersion1Files) {
  auto parsed = ParsePositions(
      "# sluice positions: offsets acknowledged by Loki.\n"
      "version: 1\n"
      "positions:\n"
      "  - path: \"/var/log/pods/ns_pod_uid/app/0.log\"\n"
      "    device: 2049\n"
      "    inode: 1234567\n"
      "    fingerprint: \"9f3a0c1d2e4b5a69\"\n"
      "    fingerprint_len: 1024\n"
      "    offset: 17623\n"
      "  - path: \"/var/log/odd\\xff.log\"\n"
      "    device: 1\n"
      "    inode: 2\n"
      "    fingerprint: \"0000000000000001\"\n"
      "    fingerprint_len: 0\n"
      "    offset: 5\n"
      "count: 2\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 2u);
  PositionRecord want = Rec("/var/log/pods/ns_pod_uid/app/0.log", 17623, 1234567);
  want.id.fingerprint = 0x9f3a0c1d2e4b5a69ULL;
  EXPECT_EQ((*parsed)[0], want);
  EXPECT_EQ((*parsed)[1].path, "/var/log/odd\xff.log");
  EXPECT_EQ((*parsed)[1].offset, 5);
  // And a truncated one is still an error.
  EXPECT_FALSE(ParsePositions("version: 1\npositions:\n  - path: \"/a\"\n    device: 1\n").ok());
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
  read = ReadPositionsFile(path);
  ASSERT_TRUE(read.ok()) << read.status();  // nothing left of the longer document before
  EXPECT_TRUE(read->empty());
  // The replaced document stays as the next write's spare.
  EXPECT_THAT(ListDir(dir.path()), UnorderedElementsAre(".positions.yml.tmp", "positions.yml"));
}

TEST(PositionsFileTest, WritesAlternateTwoFilesAndCutTheSparesOlderDocument) {
  TempDir dir;
  std::string path = dir.Join("positions.yml");
  std::string spare = dir.Join(".positions.yml.tmp");
  auto inode = [](const std::string& p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0 ? st.st_ino : 0;
  };
  std::string longest = "# " + std::string(10000, 'x') + "\npositions: {}\n";
  ASSERT_TRUE(WritePositionsData(path, longest, /*sync=*/false).ok());
  ino_t first = inode(path);
  const std::string b = RenderPositions({Rec("/b", 2)});
  const std::string c = RenderPositions({Rec("/c", 3)});
  ASSERT_TRUE(WritePositionsData(path, b, false).ok());
  ino_t second = inode(path);
  EXPECT_NE(first, second);
  EXPECT_EQ(inode(spare), first);  // the replaced file, kept
  EXPECT_EQ(ReadFile(spare), longest);
  // The third write goes to the first file, whose longer content must not show past the new end.
  ASSERT_LT(c.size(), longest.size());
  ASSERT_TRUE(WritePositionsData(path, c, false).ok());
  EXPECT_EQ(inode(path), first);
  EXPECT_EQ(inode(spare), second);
  EXPECT_EQ(ReadFile(path), c);
  EXPECT_EQ(ReadFile(spare), b);
  // With sync too.
  ASSERT_TRUE(WritePositionsData(path, RenderPositions({Rec("/d", 4)}), true).ok());
  EXPECT_EQ(inode(path), second);
  EXPECT_THAT(*ReadPositionsFile(path), ElementsAre(Rec("/d", 4)));
}

TEST(PositionsFileTest, AHardLinkToThePositionsFileIsNeverWrittenInto) {
  TempDir dir;
  std::string path = dir.Join("positions.yml");
  const std::string first = RenderPositions({Rec("/a", 1)});
  ASSERT_TRUE(WritePositionsData(path, first, false).ok());
  ASSERT_EQ(link(path.c_str(), dir.Join("backup.yml").c_str()), 0);
  // The exchange moves the linked inode to the spare's name; the writes after it must take a
  // new spare rather than rewrite the backup.
  for (int i = 2; i <= 4; ++i) {
    ASSERT_TRUE(WritePositionsData(path, RenderPositions({Rec("/a", i)}), false).ok());
    EXPECT_THAT(*ReadPositionsFile(path), ElementsAre(Rec("/a", i)));
    EXPECT_EQ(ReadFile(dir.Join("backup.yml")), first) << i;
  }
}

TEST(PositionsFileTest, ASymlinkAtThePathIsReplacedNotMovedAside) {
  TempDir dir;
  std::string path = dir.Join("positions.yml");
  WriteFile(dir.Join("elsewhere.yml"), "positions: {}\n");
  ASSERT_EQ(symlink(dir.Join("elsewhere.yml").c_str(), path.c_str()), 0);
  ASSERT_TRUE(WritePositionsFile(path, {Rec("/a", 1)}).ok());
  struct stat st;
  ASSERT_EQ(lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(ReadFile(dir.Join("elsewhere.yml")), "positions: {}\n");
  EXPECT_THAT(ListDir(dir.path()), UnorderedElementsAre("elsewhere.yml", "positions.yml"));
  // And the next write, over a regular file now, exchanges.
  ASSERT_TRUE(WritePositionsFile(path, {Rec("/a", 2)}).ok());
  EXPECT_THAT(*ReadPositionsFile(path), ElementsAre(Rec("/a", 2)));
  EXPECT_THAT(ListDir(dir.path()),
              UnorderedElementsAre(".positions.yml.tmp", "elsewhere.yml", "positions.yml"));
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
  WriteFile(path, "sluice:\n  version: 2\n  files:\n  - path: /a\n    offset: -1\n  count: 1\n");
  auto read = ReadPositionsFile(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(read.status().message(), HasSubstr(path));
  EXPECT_THAT(read.status().message(), HasSubstr("line 5, column 13: expected a decimal integer"));

  WriteFile(path, std::string(8192, '\0'));
  read = ReadPositionsFile(path);
  EXPECT_FALSE(read.ok());
  EXPECT_THAT(read.status().message(), HasSubstr("line 1, column 1: control characters"));

  // Empty is no positions, as for Alloy (a first start, or a file Alloy left empty).
  WriteFile(path, "");
  read = ReadPositionsFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(read->empty());
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
