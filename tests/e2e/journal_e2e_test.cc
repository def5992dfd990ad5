// End-to-end tests of loki.source.journal with the real `sluice run`: journal files written
// offline by systemd-journal-remote into a directory (no journald), FakeLoki receiving. Every
// line arrives exactly once with Alloy's labels (after relabel_rules), across a kill -9 and a
// restart with files added while the agent was down and while it runs; entries without MESSAGE
// are counted, `matches` filters; an Alloy positions file's cursor is taken over.
//
// Nothing waits a fixed time for correctness: every wait polls with a generous deadline, so a
// slow (sanitizer) build or a busy machine only makes it slower.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tests/support/fake_loki.h"
#include "tests/support/journal_files.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace sluice {
namespace {

using ::sluice::testing::ExportEntry;
using ::sluice::testing::FakeLoki;
using ::sluice::testing::ReadFile;
using ::sluice::testing::Subprocess;
using ::sluice::testing::TempDir;
using ::sluice::testing::WriteFile;
using ::sluice::testing::WriteJournalFile;
using ::testing::HasSubstr;

constexpr absl::Duration kDeadline = absl::Seconds(180);
constexpr char kId[] = "loki.source.journal.read";

// What entry i of a test looks like: its unit, priority, transport (matches keeps "journal"
// only) and whether it has a MESSAGE.
struct Spec {
  int i;
  std::string unit() const { return i % 2 ? "containerd.service" : "kubelet.service"; }
  int priority() const { return i % 8; }
  bool filtered() const { return i % 7 == 3; }  // _TRANSPORT=stdout
  bool no_message() const { return i % 10 == 5; }
  bool sent() const { return !filtered() && !no_message(); }
};

const char* kKeywords[] = {"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"};

class JournalE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::HaveJournalRemote()) GTEST_SKIP() << "systemd-journal-remote not installed";
    ASSERT_TRUE(loki_.Start().ok());
    journal_ = dir_.Join("journal");
    ASSERT_EQ(mkdir(journal_.c_str(), 0755), 0);
    base_usec_ = static_cast<uint64_t>(absl::ToUnixMicros(absl::Now() - absl::Minutes(30)));
    token_ = absl::StrCat(absl::ToUnixNanos(absl::Now()));
  }
  void TearDown() override {
    if (agent_ && agent_->running()) {
      agent_->Signal(SIGKILL);
      agent_->Wait(absl::Seconds(10));
    }
    if (HasFailure()) {
      for (int r = 1; r <= runs_; ++r) {
        std::fprintf(stderr, "--- agent stderr (run %d) ---\n%s\n", r,
                     ReadFile(ErrPath(r)).c_str());
      }
    }
    loki_.Stop();
  }
  std::string ErrPath(int run) { return dir_.Join(absl::StrCat("agent.", run, ".err")); }
  uint64_t Realtime(int i) const { return base_usec_ + static_cast<uint64_t>(i) * 1000; }
  std::string Line(int i) const { return absl::StrCat("journal-e2e ", token_, " id=", i); }

  // Entries [first, last] as the journal file `name`.
  void WriteEntries(const std::string& name, int first, int last) {
    std::string text;
    for (int i = first; i <= last; ++i) {
      Spec s{i};
      std::vector<std::pair<std::string, std::string>> fields = {
          {"_SYSTEMD_UNIT", s.unit()},
          {"PRIORITY", absl::StrCat(s.priority())},
          {"_TRANSPORT", s.filtered() ? "stdout" : "journal"},
          {"SYSLOG_IDENTIFIER", "e2e"}};
      if (!s.no_message()) fields.emplace_back("MESSAGE", Line(i));
      text += ExportEntry(Realtime(i), 1000000 + static_cast<uint64_t>(i) * 1000, fields);
    }
    absl::Status st = WriteJournalFile(dir_.Join("stage"), journal_ + "/" + name, text);
    ASSERT_TRUE(st.ok()) << st;
  }

  std::string WriteConfig() {
    std::string config = dir_.Join("config.alloy");
    WriteFile(config, absl::StrCat(R"(
loki.relabel "journal" {
  forward_to = []
  rule {
    action        = "replace"
    source_labels = ["__journal__systemd_unit"]
    target_label  = "unit"
  }
  rule {
    source_labels = ["__journal_priority_keyword"]
    target_label  = "priority_keyword"
  }
}
loki.source.journal "read" {
  path          = ")",
                                   journal_, R"("
  matches       = "_TRANSPORT=journal"
  relabel_rules = loki.relabel.journal.rules
  labels        = {cluster = "e2e"}
  forward_to    = [loki.write.default.receiver]
}
loki.write "default" {
  endpoint {
    url                = ")",
                                   loki_.push_url(), R"("
    batch_size         = "16KiB"
    batch_wait         = "100ms"
    min_backoff_period = "20ms"
    max_backoff_period = "200ms"
  }
}
)"));
    return config;
  }
  void Start() {
    ++runs_;
    agent_ = std::make_unique<Subprocess>();
    ASSERT_TRUE(agent_->Start({SLUICE_BINARY, "run", WriteConfig(), "--storage.path",
                               dir_.Join("state"), "--server.http.listen-addr", "127.0.0.1:0",
                               "--memory-budget", "64KiB", "--log.level", "debug"},
                              dir_.Join(absl::StrCat("agent.", runs_, ".out")), ErrPath(runs_)));
  }
  std::string PositionsPath() { return dir_.Join(absl::StrCat("state/", kId, "/positions.yml")); }

  // The sent ids among [0, last].
  std::set<int> Expected(int last) {
    std::set<int> out;
    for (int i = 0; i <= last; ++i) {
      if (Spec{i}.sent()) out.insert(i);
    }
    return out;
  }
  bool WaitForEntries(size_t n) { return loki_.WaitForEntries(n, kDeadline); }
  // Waits until the saved cursor is entry i's (its realtime is in the cursor as t=<hex>).
  bool WaitForCursorAt(int i) {
    std::string want = absl::StrFormat("t=%x;", Realtime(i));
    absl::Time deadline = absl::Now() + kDeadline;
    while (absl::Now() < deadline) {
      if (ReadFile(PositionsPath()).find(want) != std::string::npos) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }
  // The last id in [first, last] that the agent reads (not filtered by matches).
  int LastRead(int last) {
    while (Spec{last}.filtered()) --last;
    return last;
  }

  // Every entry received: once each, with its labels and timestamp; returns the ids.
  std::multiset<int> CheckReceived() {
    std::multiset<int> ids;
    for (const testing::FakeLokiStream& s : loki_.Streams()) {
      for (const testing::FakeLokiEntry& e : s.entries) {
        size_t at = e.line.rfind(" id=");
        EXPECT_NE(at, std::string::npos) << e.line;
        if (at == std::string::npos) continue;
        int i = std::stoi(e.line.substr(at + 4));
        ids.insert(i);
        Spec spec{i};
        EXPECT_EQ(e.line, Line(i));
        std::map<std::string, std::string> want = {
            {"cluster", "e2e"},
            {"job", kId},
            {"unit", spec.unit()},
            {"priority_keyword", kKeywords[spec.priority()]}};
        EXPECT_EQ(s.label_map, want) << s.labels;
        EXPECT_EQ(e.timestamp_ns, static_cast<int64_t>(Realtime(i)) * 1000) << i;
      }
    }
    return ids;
  }

  std::string Metrics() {
    std::string http_port;
    absl::Time deadline = absl::Now() + kDeadline;
    while (http_port.empty() && absl::Now() < deadline) {
      std::string err = ReadFile(ErrPath(runs_));
      size_t hp = err.find("http_port=");
      if (hp != std::string::npos) {
        http_port = err.substr(hp + 10, err.find_first_of(" \n", hp) - hp - 10);
      } else {
        absl::SleepFor(absl::Milliseconds(50));
      }
    }
    if (http_port.empty()) return "";
    Subprocess p;
    EXPECT_TRUE(p.Start({"/usr/bin/python3", "-c",
                         "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen("
                         "'http://127.0.0.1:" +
                             http_port + "/metrics').read().decode())"},
                        dir_.Join("metrics.out"), dir_.Join("metrics.err")));
    EXPECT_EQ(p.Wait(absl::Seconds(60)), 0);
    return ReadFile(dir_.Join("metrics.out"));
  }

  TempDir dir_;
  FakeLoki loki_;
  std::unique_ptr<Subprocess> agent_;
  std::string journal_;
  uint64_t base_usec_ = 0;
  std::string token_;
  int runs_ = 0;
};

TEST_F(JournalE2eTest, EveryEntryOnceWithAlloysLabelsAcrossKillAndRestart) {
  // Run 1: the first file; killed (-9) once its last entry is acknowledged and saved.
  WriteEntries("a.journal", 0, 199);
  Start();
  std::set<int> want = Expected(199);
  ASSERT_TRUE(WaitForEntries(want.size())) << loki_.total_entries() << " of " << want.size();
  ASSERT_TRUE(WaitForCursorAt(LastRead(199))) << ReadFile(PositionsPath());
  agent_->Signal(SIGKILL);
  agent_->Wait(absl::Seconds(30));

  // Written while the agent is down.
  WriteEntries("b.journal", 200, 399);
  Start();
  want = Expected(399);
  ASSERT_TRUE(WaitForEntries(want.size())) << loki_.total_entries() << " of " << want.size();
  // Written while it runs.
  WriteEntries("c.journal", 400, 599);
  want = Expected(599);
  ASSERT_TRUE(WaitForEntries(want.size())) << loki_.total_entries() << " of " << want.size();
  ASSERT_TRUE(WaitForCursorAt(LastRead(599)));

  // Run 2 read entries 200..599: Alloy's counters.
  int no_message = 0, lines = 0;
  for (int i = 200; i <= 599; ++i) {
    Spec s{i};
    if (s.filtered()) continue;
    if (s.no_message()) {
      ++no_message;
    } else {
      ++lines;
    }
  }
  std::string metrics = Metrics();
  EXPECT_THAT(metrics, HasSubstr(absl::StrCat(
                           "loki_source_journal_target_parsing_errors_total{component_id=\"", kId,
                           "\",component_path=\"/\",error=\"no_message\"} ", no_message)));
  EXPECT_THAT(metrics, HasSubstr(absl::StrCat("loki_source_journal_target_lines_total{"
                                              "component_id=\"",
                                              kId, "\",component_path=\"/\"} ", lines)));

  agent_->Signal(SIGTERM);
  EXPECT_EQ(agent_->Wait(absl::Seconds(60)), 0);

  std::multiset<int> ids = CheckReceived();
  EXPECT_EQ(std::set<int>(ids.begin(), ids.end()), want) << "nothing lost, nothing filtered in";
  EXPECT_EQ(ids.size(), want.size()) << "nothing twice";
  EXPECT_EQ(loki_.duplicates(), 0u);
  EXPECT_EQ(loki_.rejected_entries(), 0u);
  // The cursor is under Alloy's key, with Alloy's empty labels.
  std::string positions = ReadFile(PositionsPath());
  EXPECT_THAT(positions, HasSubstr(absl::StrCat("? path: cursor-", kId, "\n    labels: \"\"\n")));
}

// The cursor moves only once Loki answered: while Loki holds the first push nothing is saved,
// and a kill -9 then loses nothing (what was held is sent again).
TEST_F(JournalE2eTest, TheCursorWaitsForLokisAnswer) {
  WriteEntries("a.journal", 0, 49);
  loki_.StallNext(1);
  Start();
  ASSERT_TRUE(loki_.WaitForStalled(1, kDeadline));
  EXPECT_EQ(ReadFile(PositionsPath()).find("cursor-"), std::string::npos)
      << "a cursor saved before Loki answered";
  agent_->Signal(SIGKILL);
  agent_->Wait(absl::Seconds(30));
  loki_.ReleaseStall();
  Start();
  std::set<int> want = Expected(49);
  ASSERT_TRUE(WaitForEntries(want.size()));
  ASSERT_TRUE(WaitForCursorAt(LastRead(49)));
  agent_->Signal(SIGTERM);
  EXPECT_EQ(agent_->Wait(absl::Seconds(60)), 0);
  std::multiset<int> ids = CheckReceived();
  EXPECT_EQ(std::set<int>(ids.begin(), ids.end()), want) << "nothing lost";
  // The held push reached Loki but its answer never reached the killed agent, so those entries
  // come again (at least once: Loki drops an identical entry of a stream); nothing more.
  for (int i : want) EXPECT_LE(ids.count(i), 2u) << i;
}

// A node's Alloy positions file: the cursor it saved is where sluice goes on.
TEST_F(JournalE2eTest, TakesOverAlloysCursor) {
  WriteEntries("a.journal", 0, 99);
  // The cursor of entry 49, as journalctl shows it.
  Subprocess jc;
  ASSERT_TRUE(
      jc.Start({"/usr/bin/journalctl", "--directory", journal_, "-o", "export", "--no-pager"},
               dir_.Join("export.out"), dir_.Join("export.err")));
  ASSERT_EQ(jc.Wait(absl::Seconds(60)), 0) << ReadFile(dir_.Join("export.err"));
  std::string exported = ReadFile(dir_.Join("export.out"));
  std::string cursor;
  size_t at = exported.find(absl::StrFormat("t=%x;", Realtime(49)));
  ASSERT_NE(at, std::string::npos);
  size_t start = exported.rfind("__CURSOR=", at) + 9;
  cursor = exported.substr(start, exported.find('\n', start) - start);
  std::filesystem::create_directories(dir_.Join(absl::StrCat("state/", kId)));
  WriteFile(PositionsPath(), absl::StrCat("positions:\n  ? path: cursor-", kId,
                                          "\n    labels: \"\"\n  : ", cursor, "\n"));
  Start();
  std::set<int> want;
  for (int i = 50; i <= 99; ++i) {
    if (Spec{i}.sent()) want.insert(i);
  }
  ASSERT_TRUE(WaitForEntries(want.size()));
  ASSERT_TRUE(WaitForCursorAt(LastRead(99)));
  agent_->Signal(SIGTERM);
  EXPECT_EQ(agent_->Wait(absl::Seconds(60)), 0);
  std::multiset<int> ids = CheckReceived();
  EXPECT_EQ(std::set<int>(ids.begin(), ids.end()), want);
  EXPECT_EQ(ids.size(), want.size());
}

// The node example configuration (pods + journal) is a valid configuration.
TEST(JournalExampleTest, NodeJournalExampleValidates) {
  TempDir dir;
  Subprocess p;
  ASSERT_TRUE(p.Start(
      {SLUICE_BINARY, "validate", absl::StrCat(SLUICE_SOURCE_DIR, "/config/node-journal.alloy")},
      dir.Join("validate.out"), dir.Join("validate.err")));
  EXPECT_EQ(p.Wait(absl::Seconds(60)), 0) << ReadFile(dir.Join("validate.err"));
}

}  // namespace
}  // namespace sluice
