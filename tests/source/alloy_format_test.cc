// sluice's positions file against Alloy's own YAML library: the file sluice writes is read by
// gopkg.in/yaml.v2 (Alloy's decoder, into Alloy's types) with every offset under Alloy's keys,
// and the file yaml.v2 writes is read by sluice. Uses tests/tools/goyaml_positions, built with
// Debian's golang-go and golang-gopkg-yaml.v2-dev (scripts/setup.sh installs them); skipped where
// they are missing.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/source/positions.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace sluice {
namespace {

using ::sluice::testing::ReadFile;
using ::sluice::testing::TempDir;
using ::sluice::testing::WriteFile;

constexpr char kGoPath[] = "/usr/share/gocode";

class AlloyFormatTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (std::system("command -v go >/dev/null 2>&1") != 0 ||
        access(absl::StrCat(kGoPath, "/src/gopkg.in/yaml.v2/yaml.go").c_str(), R_OK) != 0) {
      return;
    }
    dir_ = new TempDir();
    std::string cmd = absl::StrCat("cd '", SLUICE_SOURCE_DIR, "/tests/tools/goyaml_positions' && ",
                                   "GO111MODULE=off GOPATH=", kGoPath, " GOCACHE='",
                                   dir_->Join("cache"), "' GOFLAGS= go build -o '",
                                   dir_->Join("goyaml"), "' . 2>'", dir_->Join("build.log"), "'");
    built_ = std::system(cmd.c_str()) == 0;
    if (!built_) build_log_ = ReadFile(dir_->Join("build.log"));
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (dir_ == nullptr) GTEST_SKIP() << "go or gopkg.in/yaml.v2 not installed (scripts/setup.sh)";
    ASSERT_TRUE(built_) << build_log_;
  }

  // Runs the tool in `mode` on `input`; its stdout.
  static std::string Run(const std::string& mode, const std::string& input) {
    WriteFile(dir_->Join("in"), input);
    std::string cmd = absl::StrCat("'", dir_->Join("goyaml"), "' ", mode, " <'", dir_->Join("in"),
                                   "' >'", dir_->Join("out"), "' 2>'", dir_->Join("err"), "'");
    int rc = std::system(cmd.c_str());
    EXPECT_EQ(rc, 0) << ReadFile(dir_->Join("err"));
    return ReadFile(dir_->Join("out"));
  }

  static std::string Line(const std::string& path, const std::string& labels, int64_t offset) {
    return absl::StrCat(absl::BytesToHexString(path), " ", absl::BytesToHexString(labels), " ",
                        offset);
  }
  static std::vector<std::string> Lines(const std::vector<PositionRecord>& records) {
    std::vector<std::string> out;
    for (const PositionRecord& r : records) out.push_back(Line(r.path, r.labels, r.offset));
    std::sort(out.begin(), out.end());
    return out;
  }

  static TempDir* dir_;
  static bool built_;
  static std::string build_log_;
};

TempDir* AlloyFormatTest::dir_ = nullptr;
bool AlloyFormatTest::built_ = false;
std::string AlloyFormatTest::build_log_;

// Paths and label sets that take yaml.v2 through each of its scalar forms.
std::vector<PositionRecord> OddRecords() {
  std::vector<std::pair<std::string, std::string>> cases = {
      {"/var/log/pods/ns_pod_uid/app/0.log", R"({container="app", namespace="ns", pod="pod"})"},
      {"/var/log/pods/some-namespace_some-pod-6d4cf56db6-abcde_0b1c2d3e-4f50-6172-8394-"
       "a5b6c7d8e9f0/app/0.log",
       R"({app="x", container="app", job="some-namespace/app", namespace="some-namespace", pod="some-pod-6d4cf56db6-abcde", stream="stdout"})"},
      {"/var/log/it's: here #1.log", R"({q="say \"hi\"", s="back\\slash", t="it's"})"},
      {"/var/log/ünïcødé/日本語.log", R"({app="ü", emoji="🚀"})"},
      {"/var/log/tab\there\x01\x7f.log", "{}"},
      {"/var/log/\xff\xfe-not-utf8.log", "{}"},
      {"123", ""},
      {"true", "null"},
      {" leading space", "trailing space "},
      {"- dash", "? question"},
      {"/var/log/" + std::string(120, 'a') + " " + std::string(120, 'b') + ".log",
       "{" + std::string(90, 'k') + "=\"" + std::string(40, 'v') + " " + std::string(40, 'w') +
           "\"}"},
      {"/var/log/line\nbreak.log", "{a=\"1\\n2\"}"},
      {"/var/log/\xc2\x85nel\xe2\x80\xa8ls.log", "{}"},
  };
  std::vector<PositionRecord> out;
  int64_t offset = 1;
  for (auto& [path, labels] : cases) {
    PositionRecord r;
    r.path = path;
    r.labels = labels;
    r.offset = offset * 1000 + 7;
    r.has_identity = true;
    r.id.device = 2049;
    r.id.inode = static_cast<uint64_t>(offset);
    r.id.fingerprint = 0xabcdef0123456789ULL;
    r.id.fingerprint_len = 1024;
    out.push_back(r);
    ++offset;
  }
  return out;
}

TEST_F(AlloyFormatTest, AlloyReadsTheFileSluiceWrites) {
  std::vector<PositionRecord> records = OddRecords();
  std::string text = RenderPositions(records);
  std::vector<std::string> alloy = absl::StrSplit(Run("unmarshal", text), '\n', absl::SkipEmpty());
  EXPECT_EQ(alloy, Lines(records)) << text;
}

TEST_F(AlloyFormatTest, SluiceReadsTheFileAlloyWrites) {
  std::vector<PositionRecord> records = OddRecords();
  std::string input;
  for (const PositionRecord& r : records)
    absl::StrAppend(&input, Line(r.path, r.labels, r.offset), "\n");
  std::string text = Run("marshal", input);
  absl::StatusOr<std::vector<PositionRecord>> parsed = ParsePositions(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << text;
  for (const PositionRecord& r : *parsed) EXPECT_FALSE(r.has_identity);
  EXPECT_EQ(Lines(*parsed), Lines(records)) << text;
}

// Entry by entry, Alloy's map in sluice's file is the very text yaml.v2 writes for it.
TEST_F(AlloyFormatTest, TheMapIsWhatYamlV2Writes) {
  for (const PositionRecord& r : OddRecords()) {
    std::string alloy = Run("marshal", Line(r.path, r.labels, r.offset) + "\n");
    std::string ours = RenderPositions({r});
    std::string map = ours.substr(ours.find("\npositions:\n") + 1);
    EXPECT_EQ(map, alloy);
  }
}

TEST_F(AlloyFormatTest, RandomStringsBothWays) {
  std::mt19937 rng(11);
  std::vector<PositionRecord> records;
  for (int i = 0; i < 300; ++i) {
    PositionRecord r;
    int n = 1 + static_cast<int>(rng() % 60);
    for (int j = 0; j < n; ++j) {
      // Mostly printable ASCII with YAML's indicators, some UTF-8 and control bytes.
      uint32_t pick = rng() % 100;
      if (pick < 80) {
        r.path.push_back(static_cast<char>(32 + rng() % 95));
        r.labels.push_back(static_cast<char>(32 + rng() % 95));
      } else if (pick < 90) {
        r.path.append("é");
        r.labels.append("日");
      } else {
        r.path.push_back(static_cast<char>(1 + rng() % 31));
        r.labels.push_back(static_cast<char>(1 + rng() % 31));
      }
    }
    r.offset = static_cast<int64_t>(rng());
    records.push_back(r);
  }
  std::string text = RenderPositions(records);
  std::vector<std::string> alloy = absl::StrSplit(Run("unmarshal", text), '\n', absl::SkipEmpty());
  // The map holds one entry per key: compare sets of distinct keys.
  std::vector<std::string> want = Lines(records);
  want.erase(std::unique(want.begin(), want.end()), want.end());
  EXPECT_EQ(alloy, want);

  std::string input;
  for (const PositionRecord& r : records)
    absl::StrAppend(&input, Line(r.path, r.labels, r.offset), "\n");
  absl::StatusOr<std::vector<PositionRecord>> parsed = ParsePositions(Run("marshal", input));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(Lines(*parsed), want);
}

}  // namespace
}  // namespace sluice
