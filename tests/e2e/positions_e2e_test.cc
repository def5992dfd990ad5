// End-to-end tests of positions with the real binary: what a crash costs (kill -9 while Loki is
// slow), and a node's Alloy positions file taken over and handed back.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "agent/source/positions.h"
#include "tests/support/fake_loki.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace sluice {
namespace {

using ::sluice::testing::AppendFile;
using ::sluice::testing::FakeLoki;
using ::sluice::testing::ReadFile;
using ::sluice::testing::Subprocess;
using ::sluice::testing::TempDir;
using ::sluice::testing::WriteFile;

constexpr size_t kPayloadBytes = 200;  // every line's payload has exactly this many bytes
constexpr size_t kBudget = 1 << 20;    // --memory-budget
constexpr size_t kBatch = 256 << 10;   // batch_size

// A CRI line whose payload (what Loki receives) is `kPayloadBytes` long and unique: a mix of
// JSON, logfmt and plain text, as real logs are.
std::string CriLine(int file, int seq, std::string* payload) {
  absl::Time t = absl::Now() - absl::Minutes(1) + absl::Microseconds(seq);
  std::string p;
  switch (seq % 3) {
    case 0:
      p = absl::StrCat(R"({"level":"info","file":)", file, R"(,"seq":)", seq, R"(,"msg":")");
      break;
    case 1:
      p = absl::StrCat("level=warn file=", file, " seq=", seq, " msg=\"");
      break;
    default:
      p = absl::StrCat("plain text from file ", file, " line ", seq, ": ");
      break;
  }
  p.append(kPayloadBytes - p.size(), static_cast<char>('a' + (seq * 7 + file) % 26));
  *payload = p;
  return absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", t, absl::UTCTimeZone()),
                      " stdout F ", p, "\n");
}

class PositionsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(loki_.Start().ok()); }
  void TearDown() override {
    if (agent_ && agent_->running()) {
      agent_->Signal(SIGKILL);
      agent_->Wait(absl::Seconds(10));
    }
    if (HasFailure()) {
      std::fprintf(stderr, "--- agent stderr (last run) ---\n%s\n", ReadFile(err_path()).c_str());
    }
    loki_.Stop();
  }
  std::string pods() { return dir_.Join("pods"); }
  // One file per start: after a failure, every run's log can be read.
  std::string err_path() { return dir_.Join(absl::StrCat("agent.", runs_, ".err")); }
  std::string PodLog(int i) {
    return absl::StrCat(pods(), "/ns_pod-", i, "_uid-", i, "/app/0.log");
  }
  std::string RunConfig() {
    std::string config = dir_.Join("config.alloy");
    WriteFile(config, absl::StrCat(R"(
local.file_match "pods" {
  path_targets = [{"__path__" = ")",
                                   pods(), R"(/*/*/*.log", "job" = "e2e"}]
}
loki.source.file "pods" {
  targets    = local.file_match.pods.targets
  forward_to = [loki.process.cri.receiver]
}
loki.process "cri" {
  stage.cri {}
  forward_to = [loki.write.default.receiver]
}
loki.write "default" {
  endpoint {
    url                = ")",
                                   loki_.push_url(), R"("
    batch_size         = "256KiB"
    batch_wait         = "100ms"
    min_backoff_period = "20ms"
    max_backoff_period = "200ms"
  }
}
)"));
    return config;
  }
  void Start(bool run_mode) {
    ++runs_;
    std::vector<std::string> argv;
    if (run_mode) {
      argv = {SLUICE_BINARY, "run", RunConfig(), "--server.http.listen-addr", "127.0.0.1:0"};
    } else {
      argv = {SLUICE_BINARY,  "tail",          pods(),         "--url", loki_.push_url(),
              "--batch-size", "256KiB",        "--batch-wait", "100ms", "--min-backoff",
              "20ms",         "--max-backoff", "200ms"};
    }
    std::vector<std::string> common = {"--storage.path", dir_.Join("state"), "--memory-budget",
                                       "1MiB",           "--log.level",      "debug"};
    argv.insert(argv.end(), common.begin(), common.end());
    agent_ = std::make_unique<Subprocess>();
    ASSERT_TRUE(agent_->Start(argv, dir_.Join("agent.out"), err_path()));
  }
  int Stop() {
    agent_->Signal(SIGTERM);
    return agent_->Wait(absl::Seconds(60));
  }

  // The scenario of issue 12: files read while Loki answers slowly (40 ms a request), the agent
  // killed with SIGKILL at 1/6 ... 5/6 of the way, then run to the end. What is sent again must
  // be no more than what was read and not yet acknowledged at each kill: at most the memory
  // budget plus one batch, per kill.
  void KillNineFiveTimes(bool run_mode) {
    constexpr int kFiles = 16;
    constexpr int kLines = 4000;  // per file: 16 x 4000 x 200 B = 12.2 MiB of payload
    std::vector<std::string> want;
    for (int f = 0; f < kFiles; ++f) {
      std::string data;
      for (int i = 0; i < kLines; ++i) {
        std::string payload;
        data += CriLine(f, i, &payload);
        want.push_back(payload);
      }
      AppendFile(PodLog(f), data);
    }
    const size_t total = want.size();
    loki_.StallNext(-1, absl::Milliseconds(40));  // every request: a slow Loki
    Start(run_mode);
    for (int k = 1; k <= 5; ++k) {
      ASSERT_TRUE(loki_.WaitForEntries(total * k / 6, absl::Seconds(300)))
          << "kill " << k << ": " << loki_.total_entries() << " of " << total;
      agent_->Signal(SIGKILL);
      agent_->Wait(absl::Seconds(30));
      Start(run_mode);
    }
    // Like Loki, FakeLoki drops a repeated entry only when it repeats the stream's last one:
    // lines sent again after a restart are stored again. Count distinct lines.
    std::set<std::string> got_set;
    std::vector<std::string> got;
    absl::Time deadline = absl::Now() + absl::Seconds(300);
    while (got_set.size() < total && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(100));
      got = loki_.AllLines();
      got_set = std::set<std::string>(got.begin(), got.end());
    }
    EXPECT_EQ(Stop(), 0);
    got = loki_.AllLines();
    got_set = std::set<std::string>(got.begin(), got.end());
    size_t lost = 0;
    for (const std::string& w : want) lost += got_set.contains(w) ? 0 : 1;
    EXPECT_EQ(lost, 0u);
    EXPECT_EQ(got_set.size(), total);
    size_t again = got.size() - got_set.size() + loki_.duplicates();
    size_t duplicated_bytes = again * kPayloadBytes;
    size_t bound = 5 * (kBudget + kBatch);
    std::fprintf(stderr, "%s: %zu lines, %zu sent again (%zu bytes; bound %zu)\n",
                 run_mode ? "run" : "tail", total, again, duplicated_bytes, bound);
    EXPECT_LE(duplicated_bytes, bound) << again << " lines sent again";
  }

  TempDir dir_;
  FakeLoki loki_;
  std::unique_ptr<Subprocess> agent_;
  int runs_ = 0;
};

TEST_F(PositionsE2eTest, KillNineDuringASlowLokiSendsAgainOnlyWhatWasUnacknowledgedTail) {
  KillNineFiveTimes(false);
}

TEST_F(PositionsE2eTest, KillNineDuringASlowLokiSendsAgainOnlyWhatWasUnacknowledgedRun) {
  KillNineFiveTimes(true);
}

// Alloy's reader where Go and gopkg.in/yaml.v2 are installed (tests/tools/goyaml_positions):
// the positions file's entries as "path labels offset" lines. Empty when unavailable.
std::vector<std::string> ReadWithAlloysYaml(const TempDir& dir, const std::string& file) {
  if (std::system("command -v go >/dev/null 2>&1") != 0 ||
      access("/usr/share/gocode/src/gopkg.in/yaml.v2/yaml.go", R_OK) != 0) {
    return {};
  }
  std::string bin = dir.Join("goyaml");
  std::string cmd = absl::StrCat(
      "cd '", SLUICE_SOURCE_DIR, "/tests/tools/goyaml_positions' && GO111MODULE=off ",
      "GOPATH=/usr/share/gocode GOCACHE='", dir.Join("gocache"), "' GOFLAGS= go build -o '", bin,
      "' . && '", bin, "' unmarshal <'", file, "' >'", dir.Join("alloy.out"), "'");
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  std::vector<std::string> out;
  for (absl::string_view line :
       absl::StrSplit(ReadFile(dir.Join("alloy.out")), '\n', absl::SkipEmpty())) {
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    if (parts.size() != 3) continue;
    out.push_back(absl::StrCat(absl::HexStringToBytes(parts[0]), " ",
                               absl::HexStringToBytes(parts[1]), " ", parts[2]));
  }
  return out;
}

// A node where Alloy ran: its positions file, where Alloy keeps it, says how far each file was
// read. sluice resumes there (no line before the offset is sent again), and leaves a file that
// Alloy reads back with the new offsets under the same keys.
TEST_F(PositionsE2eTest, TakesOverAlloysPositionsFileAndHandsItBack) {
  std::string log = PodLog(0);
  std::string other = PodLog(1);
  std::vector<std::string> want;
  std::string data;
  size_t offset = 0;
  for (int i = 0; i < 100; ++i) {
    std::string payload;
    data += CriLine(0, i, &payload);
    if (i == 39) offset = data.size();
    if (i >= 40) want.push_back(payload);
  }
  AppendFile(log, data);
  // A second file Alloy had read entirely, under a key with labels sluice's target no longer
  // has (a relabel changed): found by path alone, nothing sent again.
  std::string other_data;
  for (int i = 0; i < 10; ++i) {
    std::string payload;
    other_data += CriLine(1, i, &payload);
  }
  AppendFile(other, other_data);
  std::string state = dir_.Join("state/loki.source.file.pods");
  std::filesystem::create_directories(state);
  // As Alloy's yaml.v2 writes it (long label sets are folded over two lines).
  WriteFile(state + "/positions.yml",
            absl::StrCat("positions:\n"
                         "  ? path: ",
                         log,
                         "\n"
                         "    labels: '{job=\"e2e\"}'\n"
                         "  : \"",
                         offset,
                         "\"\n"
                         "  ? path: ",
                         other,
                         "\n"
                         "    labels: '{container=\"app\", job=\"e2e\", namespace=\"ns\", "
                         "pod=\"a-pod-that-was-relabelled\",\n"
                         "      stream=\"stdout\"}'\n"
                         "  : \"",
                         other_data.size(), "\"\n"));
  Start(true);
  ASSERT_TRUE(loki_.WaitForEntries(want.size(), absl::Seconds(60))) << loki_.total_entries();
  // Appended while it runs: shipped too.
  std::string more;
  std::string payload;
  more = CriLine(0, 100, &payload);
  want.push_back(payload);
  AppendFile(log, more);
  ASSERT_TRUE(loki_.WaitForEntries(want.size(), absl::Seconds(60))) << loki_.total_entries();
  EXPECT_EQ(Stop(), 0);
  std::vector<std::string> got = loki_.AllLines();
  EXPECT_EQ(std::multiset<std::string>(got.begin(), got.end()),
            std::multiset<std::string>(want.begin(), want.end()));
  EXPECT_EQ(loki_.duplicates(), 0u);
  EXPECT_THAT(ReadFile(err_path()), ::testing::HasSubstr("positions loaded"));

  std::string file = state + "/positions.yml";
  struct stat st;
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  int64_t log_size = static_cast<int64_t>(data.size() + more.size());
  int64_t other_size = static_cast<int64_t>(other_data.size());
  absl::StatusOr<std::vector<PositionRecord>> ours = ReadPositionsFile(file);
  ASSERT_TRUE(ours.ok()) << ours.status();
  EXPECT_THAT(*ours,
              ::testing::UnorderedElementsAre(
                  ::testing::AllOf(::testing::Field(&PositionRecord::path, log),
                                   ::testing::Field(&PositionRecord::labels, "{job=\"e2e\"}"),
                                   ::testing::Field(&PositionRecord::offset, log_size)),
                  ::testing::AllOf(::testing::Field(&PositionRecord::path, other),
                                   ::testing::Field(&PositionRecord::labels, "{job=\"e2e\"}"),
                                   ::testing::Field(&PositionRecord::offset, other_size))));
  std::vector<std::string> alloy = ReadWithAlloysYaml(dir_, file);
  if (!alloy.empty()) {
    EXPECT_THAT(
        alloy, ::testing::UnorderedElementsAre(absl::StrCat(log, " {job=\"e2e\"} ", log_size),
                                               absl::StrCat(other, " {job=\"e2e\"} ", other_size)));
  }

  // Rolled back to Alloy, which rewrote the file in its own form (no sluice section) and read
  // nothing more; sluice comes back and sends nothing again.
  WriteFile(file, absl::StrCat("positions:\n  ? path: ", log,
                               "\n    labels: '{job=\"e2e\"}'\n  : \"", log_size, "\"\n  ? path: ",
                               other, "\n    labels: '{job=\"e2e\"}'\n  : \"", other_size, "\"\n"));
  loki_.ClearObservations();
  Start(true);
  more = CriLine(0, 101, &payload);
  AppendFile(log, more);
  ASSERT_TRUE(loki_.WaitForEntries(1, absl::Seconds(60)));
  EXPECT_EQ(Stop(), 0);
  EXPECT_THAT(loki_.AllLines(), ::testing::ElementsAre(payload));
}

}  // namespace
}  // namespace sluice
