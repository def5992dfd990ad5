// End-to-end tests: the real sluice binary against the in-process Loki-protocol receiver.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
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

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", t, absl::UTCTimeZone());
}

// A CRI line with a recognisable payload: file tag and sequence number.
std::string CriLine(const std::string& tag, int seq, const char* stream = "stdout") {
  // Timestamps advance 1 ms per sequence number from 2024-06-01 (any recent-ish date works: the
  // receiver rejects only entries older than a week relative to... its clock; use "now").
  int64_t now_s = static_cast<int64_t>(absl::ToUnixSeconds(absl::Now())) - 60;
  absl::Time t = absl::FromUnixSeconds(now_s) + absl::Milliseconds(seq);
  return absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", t, absl::UTCTimeZone()), " ", stream,
                      " F ", tag, " seq=", seq, " payload-", std::string(seq % 50, 'x'), "\n");
}

class TailE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(loki_.Start().ok()); }
  void TearDown() override {
    if (agent_ && agent_->running()) {
      agent_->Signal(SIGKILL);
      agent_->Wait(absl::Seconds(10));
    }
    if (HasFailure()) {
      std::fprintf(stderr, "--- agent stderr ---\n%s\n", ReadFile(stderr_path()).c_str());
    }
    loki_.Stop();
  }
  std::string pods() { return dir_.Join("pods"); }
  std::string stderr_path() { return dir_.Join("agent.err"); }
  std::string stdout_path() { return dir_.Join("agent.out"); }
  std::string PodLog(const std::string& ns, const std::string& pod, const std::string& c) {
    return absl::StrCat(pods(), "/", ns, "_", pod, "_uid-", pod, "/", c, "/0.log");
  }
  void StartAgent(std::vector<std::string> extra = {}, bool with_url = true, std::string url = "") {
    std::vector<std::string> argv = wrapper_;
    std::vector<std::string> own = {SLUICE_BINARY,
                                    "tail",
                                    pods(),
                                    "--storage.path",
                                    dir_.Join("state"),
                                    "--batch-wait",
                                    "100ms",
                                    "--min-backoff",
                                    "20ms",
                                    "--max-backoff",
                                    "200ms",
                                    "--rescan-interval",
                                    "1s"};
    argv.insert(argv.end(), own.begin(), own.end());
    if (with_url) {
      argv.push_back("--url");
      argv.push_back(url.empty() ? loki_.push_url() : url);
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    agent_ = std::make_unique<Subprocess>();
    ASSERT_TRUE(agent_->Start(argv, stdout_path(), stderr_path()));
  }
  int StopAgent() {
    agent_->Signal(SIGTERM);
    return agent_->Wait(absl::Seconds(30));
  }
  // Every line of `want` arrived exactly once (in any order across files), and Loki saw no
  // duplicate entry.
  void ExpectEachLineOnce(const std::vector<std::string>& want) {
    std::vector<std::string> got = loki_.AllLines();
    std::multiset<std::string> got_set(got.begin(), got.end());
    std::multiset<std::string> want_set(want.begin(), want.end());
    EXPECT_EQ(got_set, want_set) << "every line exactly once";
    EXPECT_EQ(loki_.duplicates(), 0u);
  }
  // Lines received per stream label set, in arrival order.
  std::map<std::string, std::vector<std::string>> ByStream() {
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& s : loki_.Streams()) {
      for (const auto& e : s.entries) out[s.labels].push_back(e.line);
    }
    return out;
  }

  TempDir dir_;
  FakeLoki loki_;
  std::unique_ptr<Subprocess> agent_;
  std::vector<std::string> wrapper_;  // runs the agent through this command (e.g. setpriv)
};

// The payload of CriLine without the CRI prefix.
std::string Payload(const std::string& cri) {
  std::vector<std::string> parts = absl::StrSplit(cri, absl::MaxSplits(' ', 3));
  std::string p = parts[3];
  p.pop_back();
  return p;
}

TEST_F(TailE2eTest, EveryLineArrivesOnceInOrderWithLabels) {
  std::map<std::string, std::vector<std::string>> expected;  // path -> payloads
  std::vector<std::string> files = {PodLog("prod", "web-1", "app"),
                                    PodLog("prod", "web-1", "proxy"),
                                    PodLog("dev", "db-0", "postgres")};
  for (const auto& f : files) {
    std::string data;
    for (int i = 0; i < 300; ++i) {
      std::string line = CriLine(f.substr(f.size() - 20), i);
      data += line;
      expected[f].push_back(Payload(line));
    }
    AppendFile(f, data);
  }
  // A partial line split in three pieces.
  std::string split = PodLog("prod", "web-1", "app");
  absl::Time t0 = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  AppendFile(split, Rfc3339(t0 + absl::Nanoseconds(1)) + " stdout P joined-\n" +
                        Rfc3339(t0 + absl::Nanoseconds(2)) + " stdout P from-\n");
  StartAgent();
  ASSERT_TRUE(loki_.WaitForEntries(900, absl::Seconds(20)));
  AppendFile(split, Rfc3339(t0 + absl::Nanoseconds(3)) + " stdout F pieces\n");
  // Files written while the agent runs, and a pod that appears later.
  std::string late = PodLog("prod", "late-2", "app");
  for (int i = 0; i < 100; ++i) {
    std::string line = CriLine("late", i);
    AppendFile(late, line);
    expected[late].push_back(Payload(line));
  }
  ASSERT_TRUE(loki_.WaitForEntries(1001, absl::Seconds(20))) << loki_.total_entries();
  EXPECT_EQ(StopAgent(), 0);

  auto by_stream = ByStream();
  for (const auto& [path, payloads] : expected) {
    std::filesystem::path p(path);
    std::string container = p.parent_path().filename();
    std::string pod_dir = p.parent_path().parent_path().filename();
    std::vector<std::string> parts = absl::StrSplit(pod_dir, '_');
    std::string labels = absl::StrFormat(
        "{container=\"%s\", filename=\"%s\", namespace=\"%s\", pod=\"%s\", "
        "stream=\"stdout\"}",
        container, path, parts[0], parts[1]);
    ASSERT_TRUE(by_stream.count(labels)) << labels;
    std::vector<std::string> got = by_stream[labels];
    if (path == split) {
      ASSERT_EQ(got.back(), "joined-from-pieces");
      got.pop_back();
    }
    EXPECT_EQ(got, payloads) << path;
  }
  EXPECT_EQ(loki_.total_entries(), 1001u);
  EXPECT_EQ(loki_.duplicates(), 0u);
  EXPECT_EQ(loki_.rejected_entries(), 0u);
  // Timestamps come from the lines.
  auto joined = loki_.FindStream(absl::StrFormat(
      "{container=\"app\", filename=\"%s\", namespace=\"prod\", pod=\"web-1\", stream=\"stdout\"}",
      split));
  ASSERT_TRUE(joined.has_value());
  // A joined line has its final piece's timestamp, as through Alloy's stage.cri.
  EXPECT_EQ(joined->entries.back().timestamp_ns, absl::ToUnixNanos(t0) + 3);
  for (const auto& r : loki_.Requests()) {
    EXPECT_EQ(r.content_type, "application/x-protobuf");
    EXPECT_EQ(r.content_encoding, "snappy");
    EXPECT_THAT(r.user_agent, ::testing::StartsWith("sluice/"));
  }
}

// How many times `needle` occurs in the file at `path` (0 if it does not exist).
size_t CountInFile(const std::string& path, const std::string& needle) {
  std::string text = ReadFile(path);
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Polls the agent's log (e2e tests may wait on a real process; unit tests never sleep).
bool WaitForLog(const std::string& path, const std::string& needle, size_t times,
                absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (CountInFile(path, needle) < times) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

// A port nothing listens on (the kernel picked it, then it was closed again).
int UnusedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return -1;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

TEST_F(TailE2eTest, ReceiverFailuresLoseNothing) {
  std::string f = PodLog("prod", "api-1", "app");
  std::vector<std::string> payloads;
  std::string data;
  for (int i = 0; i < 2000; ++i) {
    std::string line = CriLine("api", i);
    data += line;
    payloads.push_back(Payload(line));
  }
  AppendFile(f, data);
  // Every fault queued before the agent starts, each taken by exactly one push request: set
  // while the agent sends, a fault could miss a request already under way, or replace one that
  // had not been used up yet. A success between the groups: delivery goes on between failures.
  using Fault = FakeLoki::Fault;
  loki_.QueueFaults({Fault::Status(3, 503), Fault::Pass(), Fault::Status(2, 429, "rate limited", 1),
                     Fault::Pass(), Fault::Drop(2), Fault::Status(2, 500, "boom")});
  StartAgent({"--batch-size", "8KiB", "--tenant", "team-a"});
  ASSERT_TRUE(loki_.WaitForEntries(2000, absl::Seconds(60))) << loki_.total_entries();
  // 2,000 lines take far more than the queue's two successful requests: all of it was used.
  EXPECT_EQ(loki_.queued_faults(), 0u);
  EXPECT_EQ(StopAgent(), 0);
  auto by_stream = ByStream();
  ASSERT_EQ(by_stream.size(), 1u);
  EXPECT_EQ(by_stream.begin()->second, payloads);
  EXPECT_EQ(loki_.duplicates(), 0u);
  auto statuses = loki_.requests_by_status();
  EXPECT_EQ(statuses[503], 3u);
  EXPECT_EQ(statuses[429], 2u);
  EXPECT_EQ(statuses[0], 2u);  // dropped connections
  EXPECT_EQ(statuses[500], 2u);
  for (const auto& r : loki_.Requests()) EXPECT_EQ(r.org_id, "team-a");
  std::string err = ReadFile(stderr_path());
  // sluice tail runs loki.write "tail": Alloy's metric, with its component labels.
  EXPECT_THAT(err, ::testing::HasSubstr("loki_write_batch_retries_total{component_id="
                                        "\\\"loki.write.tail\\\",component_path=\\\"/\\\",host="));
}

TEST_F(TailE2eTest, BadRequestIsDroppedCountedAndNotRetried) {
  std::string f = PodLog("prod", "api-1", "app");
  AppendFile(f, CriLine("first", 1) + CriLine("first", 2));
  loki_.FailNext(1, 400, "entry for stream has timestamp too old");
  StartAgent();
  ASSERT_TRUE(loki_.WaitForRequests(1, absl::Seconds(20)));
  AppendFile(f, CriLine("second", 3));
  ASSERT_TRUE(loki_.WaitForEntries(1, absl::Seconds(20)));
  EXPECT_EQ(StopAgent(), 0);
  EXPECT_EQ(loki_.requests_by_status()[400], 1u);
  ASSERT_EQ(loki_.AllLines().size(), 1u);
  EXPECT_THAT(loki_.AllLines()[0], ::testing::HasSubstr("second seq=3"));
  std::string err = ReadFile(stderr_path());
  EXPECT_THAT(err, ::testing::HasSubstr("timestamp too old"));  // Loki's message is logged
  EXPECT_THAT(err, ::testing::HasSubstr("reason=\\\"ingester_error\\\""));
  EXPECT_THAT(err, ::testing::HasSubstr("loki_write_dropped_entries_total{"));
  // The dropped batch counts as handled: a restart does not send it again.
  StartAgent();
  AppendFile(f, CriLine("third", 4));
  ASSERT_TRUE(loki_.WaitForEntries(2, absl::Seconds(20)));
  EXPECT_EQ(StopAgent(), 0);
  EXPECT_EQ(loki_.total_entries(), 2u);
  EXPECT_EQ(loki_.requests_by_status()[400], 1u);
}

TEST_F(TailE2eTest, RestartResumesWithoutLossOrDuplicates) {
  std::string f = PodLog("prod", "api-1", "app");
  std::vector<std::string> payloads;
  auto write = [&](int from, int to) {
    std::string data;
    for (int i = from; i < to; ++i) {
      std::string line = CriLine("r", i);
      data += line;
      payloads.push_back(Payload(line));
    }
    AppendFile(f, data);
  };
  write(0, 500);
  StartAgent();
  ASSERT_TRUE(loki_.WaitForEntries(500, absl::Seconds(20)));
  EXPECT_EQ(StopAgent(), 0);
  std::string positions = ReadFile(dir_.Join("state/tail/positions.yml"));
  EXPECT_THAT(positions, ::testing::HasSubstr(f));
  write(500, 800);  // written while the agent is down
  StartAgent();
  write(800, 1000);  // and after it is back
  ASSERT_TRUE(loki_.WaitForEntries(1000, absl::Seconds(20))) << loki_.total_entries();
  EXPECT_EQ(StopAgent(), 0);
  auto by_stream = ByStream();
  ASSERT_EQ(by_stream.size(), 1u);
  EXPECT_EQ(by_stream.begin()->second, payloads);
  EXPECT_EQ(loki_.duplicates(), 0u);
}

TEST_F(TailE2eTest, StalledReceiverKeepsMemoryBoundedThenDeliversAll) {
  std::string f = PodLog("prod", "spam-1", "app");
  loki_.StallNext(-1);
  StartAgent({"--memory-budget", "4MiB", "--remote-timeout", "120s"});
  // 48 MiB written while Loki holds every request: far more than the budget.
  const int kLines = 48 * 1024 * 1024 / 256;
  absl::Time base = absl::Now() - absl::Minutes(1);
  std::string chunk;
  int seq = 0;
  while (seq < kLines) {
    chunk.clear();
    for (int i = 0; i < 4096 && seq < kLines; ++i, ++seq) {
      std::string line = absl::StrCat(Rfc3339(base + absl::Nanoseconds(seq)),
                                      absl::StrFormat(" stdout F seq=%08d ", seq));
      line.append(256 - line.size() - 1, 'p');
      line.push_back('\n');
      chunk += line;
    }
    AppendFile(f, chunk);
  }
  ASSERT_TRUE(loki_.WaitForStalled(1, absl::Seconds(20)));
  // Give the agent time to read up to its budget and stop (observed through its memory, which
  // must stay bounded however long we wait).
  size_t peak = 0;
  for (int i = 0; i < 40; ++i) {
    usleep(50'000);
    peak = std::max(peak, agent_->PeakRssBytes());
  }
  std::fprintf(stderr, "peak RSS while stalled: %zu KiB\n", peak / 1024);
  EXPECT_GT(peak, 0u);
#ifndef SLUICE_SANITIZER_BUILD
  // (Under ASan the quarantine of freed memory inflates RSS; the bound is checked in the plain
  // build.)
  EXPECT_LT(peak, 32u * 1024 * 1024) << "RSS must stay near the 4 MiB budget, not the 48 MiB file";
#endif
  loki_.ReleaseStall();
  loki_.ClearFaults();
  ASSERT_TRUE(loki_.WaitForEntries(kLines, absl::Seconds(120))) << loki_.total_entries();
  EXPECT_EQ(StopAgent(), 0);
  EXPECT_EQ(loki_.total_entries(), static_cast<size_t>(kLines));
  EXPECT_EQ(loki_.duplicates(), 0u);
  std::string err = ReadFile(stderr_path());
  EXPECT_THAT(err, ::testing::HasSubstr("sluice_backpressure_pauses_total"));
}

TEST_F(TailE2eTest, ShutdownDuringStallKeepsDeadlineAndLosesNothing) {
  std::string f = PodLog("prod", "api-1", "app");
  std::vector<std::string> payloads;
  std::string data;
  for (int i = 0; i < 200; ++i) {
    std::string line = CriLine("s", i);
    data += line;
    payloads.push_back(Payload(line));
  }
  AppendFile(f, data);
  loki_.StallNext(-1);
  StartAgent({"--remote-timeout", "120s", "--shutdown-timeout", "1s"});
  ASSERT_TRUE(loki_.WaitForStalled(1, absl::Seconds(20)));
  absl::Time t0 = absl::Now();
  EXPECT_EQ(StopAgent(), 0);
  // The in-flight request is abandoned at the deadline, not after the 120 s remote timeout.
  EXPECT_LT(absl::Now() - t0, absl::Seconds(10));
  EXPECT_THAT(ReadFile(stderr_path()), ::testing::HasSubstr("not acknowledged"));
  // Nothing was acknowledged, so nothing was committed: the next run sends it all (to a fresh
  // receiver, so that the abandoned request held by the first one cannot be counted).
  loki_.Stop();
  FakeLoki second;
  ASSERT_TRUE(second.Start().ok());
  StartAgent({}, true, second.push_url());
  ASSERT_TRUE(second.WaitForEntries(200, absl::Seconds(20)));
  EXPECT_EQ(StopAgent(), 0);
  std::vector<std::string> got = second.AllLines();
  EXPECT_EQ(got, payloads);
}

TEST_F(TailE2eTest, SecondSignalExitsAtOnceWithConsistentPositions) {
  std::string f = PodLog("prod", "api-1", "app");
  AppendFile(f, CriLine("first", 1));
  StartAgent();
  ASSERT_TRUE(loki_.WaitForEntries(1, absl::Seconds(20)));
  EXPECT_EQ(StopAgent(), 0);  // positions now hold the first line
  AppendFile(f, CriLine("second", 2));
  loki_.StallNext(-1);
  StartAgent({"--remote-timeout", "120s", "--shutdown-timeout", "60s"});
  ASSERT_TRUE(loki_.WaitForStalled(1, absl::Seconds(20)));
  agent_->Signal(SIGTERM);
  ASSERT_EQ(agent_->Wait(absl::Milliseconds(300)), -1) << "first signal waits for the batch";
  agent_->Signal(SIGTERM);
  EXPECT_EQ(agent_->Wait(absl::Seconds(5)), 1);
  EXPECT_THAT(ReadFile(stderr_path()), ::testing::HasSubstr("second signal"));
  // The positions file is intact and still says: first line done, second not.
  loki_.Stop();
  FakeLoki second;
  ASSERT_TRUE(second.Start().ok());
  StartAgent({}, true, second.push_url());
  ASSERT_TRUE(second.WaitForEntries(1, absl::Seconds(20)));
  EXPECT_EQ(StopAgent(), 0);
  ASSERT_EQ(second.AllLines().size(), 1u);
  EXPECT_THAT(second.AllLines()[0], ::testing::HasSubstr("second seq=2"));
}

TEST_F(TailE2eTest, RepeatedKillNineLosesNothing) {
  std::string f = PodLog("prod", "api-1", "app");
  std::vector<std::string> payloads;
  int seq = 0;
  auto write = [&](int n) {
    std::string data;
    for (int i = 0; i < n; ++i, ++seq) {
      std::string line = CriLine("k", seq);
      data += line;
      payloads.push_back(Payload(line));
    }
    AppendFile(f, data);
  };
  auto unique_lines = [&] {
    std::set<std::string> u;
    for (const std::string& l : loki_.AllLines()) u.insert(l);
    return u;
  };
  auto wait_all = [&] {
    for (int i = 0; i < 600 && unique_lines().size() < payloads.size(); ++i) usleep(20'000);
    return unique_lines().size() == payloads.size();
  };
  for (int round = 0; round < 5; ++round) {
    write(2000);
    StartAgent({"--batch-size", "16KiB", "--positions-interval", "100ms"});
    ASSERT_TRUE(wait_all()) << "round " << round;
    usleep(500'000);  // a positions write (every 100 ms) has recorded them
    size_t requests = loki_.request_count();
    write(500);  // lines written while it runs, and dies
    ASSERT_TRUE(loki_.WaitForRequests(requests + 1, absl::Seconds(20)));
    agent_->Signal(SIGKILL);
    EXPECT_EQ(agent_->Wait(absl::Seconds(10)), 128 + SIGKILL);
  }
  StartAgent();
  ASSERT_TRUE(wait_all());
  EXPECT_EQ(StopAgent(), 0);
  std::set<std::string> want(payloads.begin(), payloads.end());
  EXPECT_EQ(unique_lines(), want) << "every line arrives";
  size_t total = loki_.total_entries() + loki_.duplicates();
  size_t dups = total - want.size();
  std::fprintf(stderr, "5 kill -9 rounds: %zu lines, %zu sent twice\n", want.size(), dups);
  // Only what was sent after the last positions write of each run can come twice: at most the
  // 500 lines written just before each kill.
  EXPECT_LE(dups, 5u * 500u);
}

// True once the agent holds `path` (as it is now: the same inode) open, within 20 s.
bool AgentHasOpen(pid_t pid, const std::string& path) {
  struct stat want;
  if (::stat(path.c_str(), &want) != 0) return false;
  std::string dir = absl::StrCat("/proc/", pid, "/fd");
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    struct stat st;
    if (::stat(e.path().c_str(), &st) == 0 && st.st_ino == want.st_ino &&
        st.st_dev == want.st_dev) {
      return true;
    }
  }
  return false;
}

TEST_F(TailE2eTest, RotationsWhilePausedLoseNothing) {
  auto WaitForOpen = [&](const std::string& path) {
    for (int i = 0; i < 1000; ++i) {
      if (AgentHasOpen(agent_->pid(), path)) return true;
      usleep(20'000);
    }
    return false;
  };
  // kubelet rotation (rename to 0.log.<time>, new 0.log, the old one gzipped and deleted) three
  // times while Loki holds every request and the agent sits at its memory budget.
  std::string f = PodLog("prod", "rot-1", "app");
  std::vector<std::string> payloads;
  int seq = 0;
  auto write = [&](int n) {
    std::string data;
    for (int i = 0; i < n; ++i, ++seq) {
      std::string line = CriLine("rot", seq);
      data += line;
      payloads.push_back(Payload(line));
    }
    AppendFile(f, data);
  };
  loki_.StallNext(-1);
  StartAgent({"--memory-budget", "64KiB", "--batch-size", "16KiB", "--remote-timeout", "120s"});
  write(3000);
  ASSERT_TRUE(loki_.WaitForStalled(1, absl::Seconds(20)));
  for (int r = 0; r < 3; ++r) {
    std::string rotated = absl::StrCat(f, ".2026112", r, "-120000");
    std::filesystem::rename(f, rotated);
    write(3000);  // the new 0.log
    // kubelet keeps a rotated file for a while (until the next rotation); here it goes at once,
    // so wait until the agent has the new file open, as it would long before kubelet's next
    // rotation (a slow machine, e.g. under ASan, can otherwise lose the race, and the file with
    // it: counted, see FileDeletedBeforeItCouldBeOpenedIsCounted).
    ASSERT_TRUE(WaitForOpen(f)) << "round " << r;
    // kubelet compresses the rotated file and removes it (the agent still holds it open).
    std::string gz = rotated + ".gz";
    AppendFile(gz, "not really gzip, never read: the name does not end in .log\n");
    std::filesystem::remove(rotated);
  }
  loki_.ReleaseStall();
  loki_.ClearFaults();
  ASSERT_TRUE(loki_.WaitForEntries(payloads.size(), absl::Seconds(60))) << loki_.total_entries();
  EXPECT_EQ(StopAgent(), 0);
  ExpectEachLineOnce(payloads);
}

// Loki down (connection refused), then up but answering so slowly that the request times out,
// then answering 400 for one stream of a request (Loki keeps the other streams): everything on
// disk arrives once, and the 400 is not retried.
TEST_F(TailE2eTest, RefusedThenTimedOutThenPartialSuccessLosesNothing) {
  int port = UnusedPort();
  ASSERT_GT(port, 0);
  std::string good = PodLog("prod", "api-1", "app");
  std::string old = PodLog("prod", "batch-1", "job");
  std::vector<std::string> payloads;
  auto write_good = [&](int from, int to) {
    std::string data;
    for (int i = from; i < to; ++i) {
      std::string line = CriLine("good", i);
      data += line;
      payloads.push_back(Payload(line));
    }
    AppendFile(good, data);
  };
  write_good(0, 200);
  // 30 days old: past Loki's reject_old_samples_max_age (7 days).
  absl::Time month_ago = absl::Now() - absl::Hours(24 * 30);
  AppendFile(old, absl::StrCat(Rfc3339(month_ago), " stdout F too old\n"));
  StartAgent({"--remote-timeout", "500ms"}, true,
             absl::StrCat("http://127.0.0.1:", port, "/loki/api/v1/push"));
  ASSERT_TRUE(WaitForLog(stderr_path(), "push failed, will retry", 3, absl::Seconds(20)));

  FakeLoki::Options options;
  options.listen_port = static_cast<uint16_t>(port);
  FakeLoki loki(options);
  ASSERT_TRUE(loki.Start().ok());
  loki.StallNext(1);  // the first request gets no answer: the agent's 500ms timeout fires
  ASSERT_TRUE(loki.WaitForStalled(1, absl::Seconds(20)));
  ASSERT_TRUE(loki.WaitForEntries(200, absl::Seconds(20))) << loki.total_entries();
  write_good(200, 300);
  ASSERT_TRUE(loki.WaitForEntries(300, absl::Seconds(20))) << loki.total_entries();
  EXPECT_EQ(StopAgent(), 0);
  auto statuses = loki.requests_by_status();
  EXPECT_EQ(statuses[400], 1u) << "a partially accepted request is never sent again";
  EXPECT_EQ(loki.rejected_by_reason()["greater_than_max_sample_age"], 1u);
  std::vector<std::string> got;
  for (const auto& s : loki.Streams()) {
    for (const auto& e : s.entries) got.push_back(e.line);
  }
  EXPECT_EQ(got, payloads);
  EXPECT_EQ(loki.duplicates(), 0u);
  std::string err = ReadFile(stderr_path());
  EXPECT_THAT(err, ::testing::HasSubstr("Client.Timeout exceeded"));
  EXPECT_THAT(err, ::testing::HasSubstr("batch dropped"));
  EXPECT_THAT(err, ::testing::HasSubstr("loki_write_dropped_entries_total{"));
  loki.Stop();
}

// A positions file full of NUL bytes, then one cut in half: a warning naming the file, the
// documented policy applied, no crash; the file is written whole again.
TEST_F(TailE2eTest, CorruptPositionsFileWarnsAndAppliesThePolicy) {
  std::string f = PodLog("prod", "api-1", "app");
  std::vector<std::string> payloads;
  auto write = [&](int from, int to) {
    std::string data;
    for (int i = from; i < to; ++i) {
      std::string line = CriLine("p", i);
      data += line;
      payloads.push_back(Payload(line));
    }
    AppendFile(f, data);
  };
  write(0, 100);
  std::string positions = dir_.Join("state/tail/positions.yml");
  std::filesystem::create_directories(dir_.Join("state/tail"));
  AppendFile(positions, std::string(4096, '\0'));
  StartAgent();  // default: restart_from_beginning
  ASSERT_TRUE(loki_.WaitForEntries(100, absl::Seconds(20)));
  EXPECT_EQ(StopAgent(), 0);
  std::string err = ReadFile(stderr_path());
  EXPECT_THAT(err, ::testing::HasSubstr("positions file unreadable"));
  EXPECT_THAT(err, ::testing::HasSubstr(positions));
  EXPECT_THAT(ReadFile(positions), ::testing::HasSubstr(f));  // whole again

  // Cut in half, with `skip`: the files present at start are not read (their content may have
  // been shipped already); files that appear later are.
  std::string text = ReadFile(positions);
  std::filesystem::resize_file(positions, text.size() / 2);
  AppendFile(f, CriLine("skipped", 100));
  StartAgent({"--positions.on-error", "skip"});
  ASSERT_TRUE(WaitForLog(stderr_path(), "policy skip", 1, absl::Seconds(20)));
  std::string g = PodLog("prod", "api-2", "app");
  std::string data;
  for (int i = 0; i < 20; ++i) {
    std::string line = CriLine("new", i);
    data += line;
    payloads.push_back(Payload(line));
  }
  AppendFile(g, data);
  ASSERT_TRUE(loki_.WaitForEntries(120, absl::Seconds(20))) << loki_.total_entries();
  EXPECT_EQ(StopAgent(), 0);
  err = ReadFile(stderr_path());
  EXPECT_THAT(err, ::testing::HasSubstr("skipping the files present now"));
  EXPECT_THAT(err, ::testing::HasSubstr(f));  // the skipped file is named
  ExpectEachLineOnce(payloads);
}

// copytruncate, a file replaced under its name, and a symlinked tree (as /var/log/containers)
// next to the real one: every line once, labelled from the real path.
TEST_F(TailE2eTest, CopyTruncateReplacementAndSymlinkedTreeLoseNothing) {
  std::string a = PodLog("prod", "ct-1", "app");
  std::string b = PodLog("prod", "rp-1", "app");
  std::vector<std::string> payloads;
  int seq = 0;
  auto lines = [&](const std::string& tag, int n) {
    std::string data;
    for (int i = 0; i < n; ++i, ++seq) {
      std::string line = CriLine(tag, seq);
      data += line;
      payloads.push_back(Payload(line));
    }
    return data;
  };
  AppendFile(a, lines("a", 100));
  AppendFile(b, lines("b", 100));
  std::string containers = dir_.Join("containers");
  std::filesystem::create_directories(containers);
  std::filesystem::create_symlink(a, containers + "/ct-1_prod_app-0123.log");
  std::filesystem::create_symlink(b, containers + "/rp-1_prod_app-4567.log");
  StartAgent({containers});
  ASSERT_TRUE(loki_.WaitForEntries(200, absl::Seconds(20))) << loki_.total_entries();
  // copytruncate: the content was copied elsewhere, the file cut to zero, then written again.
  std::filesystem::resize_file(a, 0);
  AppendFile(a, lines("a2", 30));
  // Replaced: a new file renamed over the old name.
  std::string tmp = b + ".tmp";
  AppendFile(tmp, lines("b2", 40));
  std::filesystem::rename(tmp, b);
  ASSERT_TRUE(loki_.WaitForEntries(270, absl::Seconds(20))) << loki_.total_entries();
  EXPECT_EQ(StopAgent(), 0);
  ExpectEachLineOnce(payloads);
  for (const auto& s : loki_.Streams()) {
    EXPECT_THAT(s.labels, ::testing::HasSubstr("filename=\"" + pods())) << s.labels;
  }
  EXPECT_THAT(ReadFile(stderr_path()), ::testing::HasSubstr("sluice_file_truncations_total"));
}

// A file the agent may not read (EACCES) is counted and named, and read once it may. As root
// every file is readable, so there the agent runs as nobody.
TEST_F(TailE2eTest, UnreadableFileIsCountedThenReadOnceAllowed) {
  std::string ok = PodLog("prod", "ok-1", "app");
  std::string locked = PodLog("prod", "locked-1", "app");
  AppendFile(ok, CriLine("ok", 1));
  AppendFile(locked, CriLine("locked", 1));
  ASSERT_EQ(chmod(locked.c_str(), 0), 0);
  if (geteuid() == 0) {
    ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
    std::filesystem::create_directories(dir_.Join("state"));
    ASSERT_EQ(chown(dir_.Join("state").c_str(), 65534, 65534), 0);
    wrapper_ = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"};
  }
  StartAgent();
  ASSERT_TRUE(loki_.WaitForEntries(1, absl::Seconds(20)));
  ASSERT_TRUE(WaitForLog(stderr_path(), "cannot open file", 1, absl::Seconds(20)));
  EXPECT_THAT(ReadFile(stderr_path()), ::testing::HasSubstr(locked));
  ASSERT_EQ(chmod(locked.c_str(), 0644), 0);
  ASSERT_TRUE(loki_.WaitForEntries(2, absl::Seconds(20))) << "read at the next rescan";
  EXPECT_EQ(StopAgent(), 0);
  std::string err = ReadFile(stderr_path());
  EXPECT_THAT(err, ::testing::HasSubstr("sluice_file_read_errors_total"));
  EXPECT_EQ(loki_.total_entries(), 2u);
}

TEST_F(TailE2eTest, BadInputIsHandledBoundedAndCounted) {
  std::string f = PodLog("prod", "bad-1", "app");
  std::string ts = Rfc3339(absl::Now() - absl::Minutes(1));
  std::string data;
  data += ts + " stdout F " + std::string("nul\0byte\n", 9);  // NUL bytes pass through
  data += ts + " stdout F bad utf8 \xff\xfe here\n";          // replaced with U+FFFD
  data += ts + " stdout F crlf line\r\n";                     // CR dropped
  data += "not a cri line at all\n";                          // shipped as is, counted
  data += ts + " stdout F " + std::string(50 << 20, 'L');     // 50 MB, no newline yet
  AppendFile(f, std::string_view(data.data(), data.size()));
  // An empty file and a directory named like a log file.
  AppendFile(PodLog("prod", "bad-1", "empty"), "");
  std::filesystem::create_directories(PodLog("prod", "bad-1", "dir") + "/x.log");
  StartAgent();
  ASSERT_TRUE(loki_.WaitForEntries(4, absl::Seconds(30))) << loki_.total_entries();
  AppendFile(f, "\n" + ts + " stdout F after\n");
  ASSERT_TRUE(loki_.WaitForEntries(6, absl::Seconds(30))) << loki_.total_entries();
  size_t peak = agent_->PeakRssBytes();
  EXPECT_EQ(StopAgent(), 0);
  std::vector<std::string> lines = loki_.AllLines();
  ASSERT_EQ(lines.size(), 6u);
  std::multiset<std::string> got(lines.begin(), lines.end());
  EXPECT_EQ(got.count(std::string("nul\0byte", 8)), 1u);
  EXPECT_EQ(got.count("bad utf8 \xEF\xBF\xBD\xEF\xBF\xBD here"), 1u);
  EXPECT_EQ(got.count("crlf line"), 1u);
  EXPECT_EQ(got.count("not a cri line at all"), 1u);
  EXPECT_EQ(got.count("after"), 1u);
  EXPECT_EQ(got.count(std::string(256 * 1024, 'L')), 1u) << "cut at 256 KiB";
  EXPECT_EQ(loki_.rejected_entries(), 0u);
#ifndef SLUICE_SANITIZER_BUILD
  EXPECT_LT(peak, 40u << 20) << "a 50 MB line is never held whole";
#endif
  (void)peak;
  std::string err = ReadFile(stderr_path());
  EXPECT_THAT(err, ::testing::HasSubstr("sluice_lines_truncated_total 1"));
  EXPECT_THAT(err, ::testing::HasSubstr("sluice_lines_invalid_utf8_total 1"));
  EXPECT_THAT(err, ::testing::HasSubstr("sluice_lines_malformed_total{format=\\\"cri\\\"} 1"));
}

// Open descriptors and inotify watches of a process, from /proc.
struct ProcHandles {
  size_t fds = 0;
  size_t watches = 0;
};
ProcHandles CountHandles(pid_t pid) {
  ProcHandles h;
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    ++h.fds;
    std::error_code lec;
    std::string target = std::filesystem::read_symlink(e.path(), lec).string();
    if (target.find("inotify") == std::string::npos) continue;
    std::string info =
        ReadFile("/proc/" + std::to_string(pid) + "/fdinfo/" + e.path().filename().string());
    for (size_t p = info.find("inotify wd:"); p != std::string::npos;
         p = info.find("inotify wd:", p + 1)) {
      ++h.watches;
    }
  }
  return h;
}

TEST_F(TailE2eTest, PodChurnLeaksNoDescriptorsOrWatches) {
  // A first pod that stays: the agent is running and its connection to Loki is open.
  AppendFile(PodLog("prod", "steady", "app"), CriLine("steady", 1));
  StartAgent({"--batch-wait", "50ms"});
  ASSERT_TRUE(loki_.WaitForEntries(1, absl::Seconds(20)));
  usleep(300'000);
  ProcHandles base = CountHandles(agent_->pid());
  ASSERT_GT(base.watches, 0u);
  size_t total = 1;
  for (int round = 0; round < 3; ++round) {
    // 300 pods x 3 containers appear, write, and are deleted.
    std::vector<std::string> dirs;
    for (int p = 0; p < 300; ++p) {
      std::string pod = absl::StrCat("churn", round, "-", p);
      dirs.push_back(absl::StrCat(pods(), "/prod_", pod, "_uid-", pod));
      for (const char* c : {"app", "sidecar", "init"}) {
        AppendFile(PodLog("prod", pod, c), CriLine(pod, 1) + CriLine(pod, 2));
        total += 2;
      }
    }
    ASSERT_TRUE(loki_.WaitForEntries(total, absl::Seconds(60))) << loki_.total_entries();
    ProcHandles busy = CountHandles(agent_->pid());
    EXPECT_GE(busy.fds, base.fds + 900);
    for (const std::string& d : dirs) std::filesystem::remove_all(d);
    // Deleted files are drained, then let go after the 5 s quiet period.
    ProcHandles now;
    for (int i = 0; i < 300; ++i) {
      now = CountHandles(agent_->pid());
      if (now.fds <= base.fds && now.watches <= base.watches) break;
      usleep(50'000);
    }
    EXPECT_LE(now.fds, base.fds) << "round " << round;
    EXPECT_LE(now.watches, base.watches) << "round " << round;
  }
  EXPECT_EQ(StopAgent(), 0);
  EXPECT_EQ(loki_.total_entries(), total);
  EXPECT_EQ(loki_.duplicates(), 0u);
}

// 10,000 files in 2,000 pod directories with room for 500 open files: every line once, the
// descriptors stay within the limit, and once the pods are deleted their descriptors and
// watches are released.
// The sanitizer builds run the agent three (ASan) to ten (TSan) times slower: there the test
// takes half the files and half the limit (the same twenty files per descriptor), so that it fits
// its ctest time and the CI budget; Release and plain Debug builds take all 10,000.
#ifdef SLUICE_SANITIZER_BUILD
constexpr bool kUnderSanitizer = true;
#else
constexpr bool kUnderSanitizer = false;
#endif

TEST_F(TailE2eTest, TenThousandFilesWithinAnOpenFileLimit) {
  const int pods_count = kUnderSanitizer ? 1000 : 2000;  // five files each
  const size_t open_limit = kUnderSanitizer ? 250 : 500;
  AppendFile(PodLog("prod", "steady", "app"), CriLine("steady", 1));
  StartAgent({"--max-open-files", std::to_string(open_limit), "--batch-size", "256KiB"});
  ASSERT_TRUE(loki_.WaitForEntries(1, absl::Seconds(20)));
  usleep(300'000);
  ProcHandles base = CountHandles(agent_->pid());
  std::vector<std::string> dirs;
  size_t total = 1;
  for (int p = 0; p < pods_count; ++p) {
    std::string pod = absl::StrCat("scale-", p);
    dirs.push_back(absl::StrCat(pods(), "/prod_", pod, "_uid-", pod));
    for (int c = 0; c < 5; ++c) {
      AppendFile(PodLog("prod", pod, absl::StrCat("c", c)), CriLine(pod, 1) + CriLine(pod, 2));
      total += 2;
    }
  }
  // The bound is on progress, not on the whole (TSan on a busy machine takes minutes, a Release
  // build one or two seconds): the test gives up only when nothing has arrived for a minute.
  absl::Time written = absl::Now();
  size_t max_fds = 0;
  size_t last_count = 0;
  absl::Time last_progress = written;
  while (loki_.total_entries() < total && absl::Now() < last_progress + absl::Minutes(1)) {
    max_fds = std::max(max_fds, CountHandles(agent_->pid()).fds);
    size_t count = loki_.total_entries();
    if (count != last_count) {
      last_count = count;
      last_progress = absl::Now();
    }
    usleep(50'000);
  }
  ASSERT_TRUE(loki_.WaitForEntries(total, absl::ZeroDuration())) << loki_.total_entries();
  absl::Time delivered = absl::Now();
  // base holds one log file; 500 log files at most, plus transient descriptors (a directory
  // being listed, the positions file being written, a file opened before an idle one closes).
  EXPECT_LE(max_fds, base.fds + (open_limit - 1) + 4) << "the open-file limit holds";
  for (const std::string& d : dirs) std::filesystem::remove_all(d);
  absl::Time removed = absl::Now();
  ProcHandles now = CountHandles(agent_->pid());
  while ((now.fds > base.fds || now.watches > base.watches) &&
         absl::Now() < removed + absl::Minutes(2)) {
    usleep(50'000);
    now = CountHandles(agent_->pid());
  }
  std::fprintf(stderr, "%d files delivered in %s, released %s after their deletion\n",
               pods_count * 5, absl::FormatDuration(delivered - written).c_str(),
               absl::FormatDuration(absl::Now() - removed).c_str());
  EXPECT_LE(now.fds, base.fds);
  EXPECT_LE(now.watches, base.watches);
  EXPECT_EQ(StopAgent(), 0);
  EXPECT_EQ(loki_.total_entries(), total);
  EXPECT_EQ(loki_.duplicates(), 0u);
  EXPECT_THAT(ReadFile(stderr_path()), ::testing::HasSubstr("sluice_files_parked_total"));
}

// The kernel's inotify limits reached: a clear message, and what could not be watched is read
// by the rescan. The limits are set inside a user namespace of the agent's own (they are per
// user namespace), so the machine's are untouched.
TEST_F(TailE2eTest, InotifyLimitsReachedFallBackToTheRescan) {
  if (std::system("unshare --user --map-root-user true >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "user namespaces unavailable here";
  }
  auto limited = [](const std::string& setting) {
    return std::vector<std::string>{"/usr/bin/unshare",
                                    "--user",
                                    "--map-root-user",
                                    "sh",
                                    "-c",
                                    absl::StrCat("echo ", setting, " && exec \"$0\" \"$@\"")};
  };
  std::vector<std::string> payloads;
  auto write = [&](int pods_n, int seq) {
    for (int p = 0; p < pods_n; ++p) {
      std::string line = CriLine(absl::StrCat("lim", p), seq);
      AppendFile(PodLog("prod", absl::StrCat("lim-", p), "app"), line);
      payloads.push_back(Payload(line));
    }
  };
  // 3 watches: the root and a pod or so; the other 9 pods' directories cannot be watched.
  write(10, 1);
  wrapper_ = limited("3 > /proc/sys/user/max_inotify_watches");
  StartAgent();
  ASSERT_TRUE(loki_.WaitForEntries(10, absl::Seconds(20))) << loki_.total_entries();
  write(10, 2);  // appended later: found by the 1 s rescan where no watch reports it
  ASSERT_TRUE(loki_.WaitForEntries(20, absl::Seconds(20))) << loki_.total_entries();
  EXPECT_EQ(StopAgent(), 0);
  std::string err = ReadFile(stderr_path());
  EXPECT_THAT(err, ::testing::HasSubstr("raise fs.inotify.max_user_watches"));
  EXPECT_THAT(err, ::testing::HasSubstr("sluice_inotify_watch_errors_total"));

  // No inotify instance at all: everything through the rescan.
  wrapper_ = limited("0 > /proc/sys/user/max_inotify_instances");
  StartAgent();
  ASSERT_TRUE(WaitForLog(stderr_path(), "msg=started", 1, absl::Seconds(20)));
  write(10, 3);
  ASSERT_TRUE(loki_.WaitForEntries(30, absl::Seconds(20))) << loki_.total_entries();
  EXPECT_EQ(StopAgent(), 0);
  EXPECT_THAT(ReadFile(stderr_path()), ::testing::HasSubstr("raise fs.inotify.max_user_instances"));
  ExpectEachLineOnce(payloads);
}

// While the agent is down, its file's inode comes back holding other content (an inode reused
// by a new file; here: the same inode rewritten, which is the same thing to the agent). The
// stored fingerprint tells them apart: the new content is read from its start, not from the
// old offset.
TEST_F(TailE2eTest, InodeReusedWhileDownIsToldApartByFingerprint) {
  std::string f = PodLog("prod", "reuse-1", "app");
  std::string first;
  for (int i = 0; i < 100; ++i) first += CriLine("old", i);
  AppendFile(f, first);
  StartAgent();
  ASSERT_TRUE(loki_.WaitForEntries(100, absl::Seconds(20)));
  EXPECT_EQ(StopAgent(), 0);
  struct stat old_st;
  ASSERT_EQ(stat(f.c_str(), &old_st), 0);
  ino_t before = old_st.st_ino;
  std::vector<std::string> payloads;
  std::string second;
  for (int i = 0; i < 300; ++i) {  // longer than the stored offset
    std::string line = CriLine("new", i);
    second += line;
    payloads.push_back(Payload(line));
  }
  {
    std::ofstream out(f, std::ios::trunc | std::ios::binary);  // same inode, new content
    out << second;
  }
  struct stat st;
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  ASSERT_EQ(st.st_ino, before);
  loki_.ClearObservations();
  StartAgent();
  ASSERT_TRUE(loki_.WaitForEntries(300, absl::Seconds(20))) << loki_.total_entries();
  EXPECT_EQ(StopAgent(), 0);
  EXPECT_EQ(loki_.AllLines(), payloads);
}

TEST_F(TailE2eTest, EchoModePrintsJsonLines) {
  std::string f = PodLog("demo", "hello-1", "app");
  AppendFile(f, CriLine("echo", 1) + CriLine("echo", 2, "stderr"));
  StartAgent({}, /*with_url=*/false);
  std::string out;
  for (int i = 0; i < 400 && std::count(out.begin(), out.end(), '\n') < 2; ++i) {
    usleep(25'000);
    out = ReadFile(stdout_path());
  }
  EXPECT_EQ(StopAgent(), 0);
  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << out;
  EXPECT_THAT(lines[0],
              ::testing::MatchesRegex(
                  R"re(\{"timestamp":"[0-9T:.Z-]+","labels":\{"container":"app",)re"
                  R"re("filename":".*","namespace":"demo","pod":"hello-1",)re"
                  R"re("stream":"std(out|err)"\},"line":"echo seq=[12] payload-x*"\})re"));
}

TEST(CliTest, VersionHelpAndUsageErrors) {
  TempDir dir;
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), SLUICE_BINARY);
    Subprocess p;
    EXPECT_TRUE(p.Start(args, dir.Join("out"), dir.Join("err")));
    return p.Wait(absl::Seconds(20));
  };
  EXPECT_EQ(run({"--version"}), 0);
  EXPECT_THAT(ReadFile(dir.Join("out")), ::testing::StartsWith("sluice "));
  EXPECT_EQ(run({"--help"}), 0);
  EXPECT_EQ(run({"tail", "--help"}), 0);
  EXPECT_THAT(ReadFile(dir.Join("out")), ::testing::HasSubstr("--memory-budget"));
  EXPECT_EQ(run({}), 2);
  EXPECT_EQ(run({"frobnicate"}), 2);
  EXPECT_EQ(run({"tail", "/tmp", "--bogus"}), 2);
  EXPECT_THAT(ReadFile(dir.Join("err")), ::testing::HasSubstr("unknown option --bogus"));
  EXPECT_EQ(run({"tail", "/tmp", "--batch-size", "12XB"}), 2);
  EXPECT_THAT(ReadFile(dir.Join("err")), ::testing::HasSubstr("invalid byte size unit"));
  EXPECT_EQ(run({"tail", "/tmp", "--url", "loki:3100"}), 2);
  EXPECT_EQ(run({"tail", "/tmp", "--label", "bad-name=x"}), 2);
  EXPECT_EQ(run({"tail", "/tmp", "--batch-wait", "soon"}), 2);
}

}  // namespace
}  // namespace sluice
