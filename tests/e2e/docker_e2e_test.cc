// End-to-end: the real `sluice run` with discovery.docker -> loki.source.docker -> loki.write
// against a fake Docker Engine on a unix socket (tests/support/fake_docker.h) and the in-process
// FakeLoki. Lines carry unique ids; each must arrive exactly once with Alloy's labels, through a
// cut stream, a SIGKILL and restart, a TTY container and a container started later.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/support/fake_docker.h"
#include "tests/support/fake_loki.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace sluice {
namespace {

using ::sluice::testing::FakeDocker;
using ::sluice::testing::FakeDockerContainer;
using ::sluice::testing::FakeDockerNetwork;
using ::sluice::testing::FakeLoki;
using ::sluice::testing::ReadFile;
using ::sluice::testing::Subprocess;
using ::sluice::testing::TempDir;
using ::sluice::testing::WriteFile;
using ::testing::HasSubstr;

const std::string kWeb(64, 'a');
const std::string kTty(64, 'b');
const std::string kLate(64, 'c');

class DockerE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(loki_.Start().ok());
    ASSERT_TRUE(docker_.Start(dir_.Join("docker.sock")).ok());
    docker_.AddNetwork(FakeDockerNetwork{"net-1", "bridge", "local", false, {}});
    base_ns_ = absl::GetCurrentTimeNanos() - int64_t{600} * 1000000000;
  }
  void TearDown() override {
    if (agent_ && agent_->running()) {
      agent_->Signal(SIGKILL);
      agent_->Wait(absl::Seconds(10));
    }
    if (HasFailure()) {
      for (int i = 1; i <= runs_; ++i) {
        std::fprintf(stderr, "--- agent stderr (run %d) ---\n%s\n", i,
                     ReadFile(dir_.Join(absl::StrCat("agent.", i, ".err"))).c_str());
      }
    }
    docker_.Stop();
    loki_.Stop();
  }
  FakeDockerContainer Container(const std::string& id, const std::string& name, bool tty,
                                const std::string& ip) {
    FakeDockerContainer c;
    c.id = id;
    c.name = name;
    c.tty = tty;
    c.labels = {{"com.example.app", name.substr(1)}};
    c.networks = {{"bridge", ip}};
    c.ports = {{8080, 0, "", "tcp"}};
    return c;
  }
  // A line with a unique id at a time of its own (strictly increasing).
  std::string Log(const std::string& container, const std::string& id, int stream = 1) {
    std::string text = absl::StrCat("msg id=", id, " from=", container.substr(0, 3));
    last_ts_[container] = base_ns_ + (++seq_) * 1000;
    docker_.AppendLog(container, text, stream, last_ts_[container]);
    return text;
  }
  void Start(std::vector<std::string> extra = {}) {
    ++runs_;
    std::string config = dir_.Join("config.alloy");
    std::string host = "unix://" + dir_.Join("docker.sock");
    WriteFile(config, absl::StrCat(R"cfg(
discovery.docker "local" {
  host             = ")cfg",
                                   host, R"cfg("
  refresh_interval = "500ms"
}
loki.relabel "docker" {
  forward_to = []
  rule {
    source_labels = ["__meta_docker_container_name"]
    regex         = "/(.*)"
    target_label  = "container"
  }
  rule {
    source_labels = ["__meta_docker_container_log_stream"]
    target_label  = "stream"
  }
}
loki.source.docker "default" {
  host          = ")cfg",
                                   host, R"cfg("
  targets       = discovery.docker.local.targets
  labels        = {"job" = "docker"}
  relabel_rules = loki.relabel.docker.rules
  forward_to    = [loki.write.default.receiver]
}
loki.write "default" {
  endpoint {
    url                = ")cfg",
                                   loki_.push_url(), R"cfg("
    batch_wait         = "100ms"
    min_backoff_period = "20ms"
    max_backoff_period = "200ms"
  }
}
)cfg"));
    agent_ = std::make_unique<Subprocess>();
    std::vector<std::string> argv = {SLUICE_BINARY,
                                     "run",
                                     config,
                                     "--storage.path",
                                     dir_.Join("state"),
                                     "--server.http.listen-addr",
                                     "127.0.0.1:0",
                                     "--log.level",
                                     "debug"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    ASSERT_TRUE(agent_->Start(argv, dir_.Join("agent.out"),
                              dir_.Join(absl::StrCat("agent.", runs_, ".err"))));
  }
  // How many times each line arrived in stream `labels`.
  std::map<std::string, int> Got(const std::string& labels) {
    std::map<std::string, int> out;
    auto s = loki_.FindStream(labels);
    if (!s) return out;
    for (const auto& e : s->entries) ++out[e.line];
    return out;
  }
  // Waits until every line of `want` arrived in `labels`.
  bool WaitFor(const std::string& labels, const std::vector<std::string>& want) {
    absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      std::map<std::string, int> got = Got(labels);
      bool all = true;
      for (const std::string& w : want) all = all && got.count(w) > 0;
      if (all) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }
  void ExpectExactlyOnce(const std::string& labels, const std::vector<std::string>& want) {
    std::map<std::string, int> got = Got(labels);
    EXPECT_EQ(got.size(), want.size()) << labels;
    for (const std::string& w : want) EXPECT_EQ(got[w], 1) << labels << ": " << w;
  }
  // The agent's /metrics, read with Python's urllib (not sluice's code); "" until it serves.
  std::string Metrics() {
    std::string err = ReadFile(dir_.Join(absl::StrCat("agent.", runs_, ".err")));
    size_t hp = err.find("http_port=");
    if (hp == std::string::npos) return "";
    std::string port = err.substr(hp + 10, err.find_first_of(" \n", hp) - hp - 10);
    Subprocess p;
    if (!p.Start({"/usr/bin/python3", "-c",
                  "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen("
                  "'http://127.0.0.1:" +
                      port + "/metrics', timeout=20).read().decode())"},
                 dir_.Join("metrics.out"), dir_.Join("metrics.err"))) {
      return "";
    }
    p.Wait(absl::Seconds(30));
    return ReadFile(dir_.Join("metrics.out"));
  }
  std::string Positions() {
    return ReadFile(dir_.Join("state/loki.source.docker.default/positions.yml"));
  }

  TempDir dir_;
  FakeLoki loki_;
  FakeDocker docker_;
  std::unique_ptr<Subprocess> agent_;
  int runs_ = 0;
  int64_t base_ns_ = 0;
  int seq_ = 0;
  std::map<std::string, int64_t> last_ts_;  // the newest line's timestamp, per container
};

TEST_F(DockerE2eTest, EveryLineOnceThroughCutsRestartsTtyAndNewContainers) {
  docker_.AddContainer(Container(kWeb, "/web", false, "172.17.0.2"));
  docker_.AddContainer(Container(kTty, "/console", true, "172.17.0.3"));
  const std::string web_out = R"({container="web", job="docker", stream="stdout"})";
  const std::string web_err = R"({container="web", job="docker", stream="stderr"})";
  const std::string tty_out = R"({container="console", job="docker", stream="stdout"})";
  std::vector<std::string> out, err, tty;
  for (int i = 0; i < 5; ++i) out.push_back(Log(kWeb, absl::StrCat("o", i)));
  for (int i = 0; i < 3; ++i) err.push_back(Log(kWeb, absl::StrCat("e", i), 2));
  for (int i = 0; i < 3; ++i) tty.push_back(Log(kTty, absl::StrCat("t", i)));
  // A line longer than Docker's 16 KiB frames arrives whole.
  std::string long_line = std::string(40000, 'x') + " id=long";
  docker_.AppendLog(kWeb, long_line, 1, base_ns_ + (++seq_) * 1000);
  out.push_back(long_line);

  Start();
  ASSERT_TRUE(WaitFor(web_out, out));
  ASSERT_TRUE(WaitFor(web_err, err));
  ASSERT_TRUE(WaitFor(tty_out, tty));

  // The engine cuts the streams: sluice reconnects from where it was, nothing twice.
  docker_.DropStreams();
  for (int i = 5; i < 10; ++i) out.push_back(Log(kWeb, absl::StrCat("o", i)));
  for (int i = 3; i < 5; ++i) tty.push_back(Log(kTty, absl::StrCat("t", i)));
  ASSERT_TRUE(WaitFor(web_out, out));
  ASSERT_TRUE(WaitFor(tty_out, tty));
  {
    const std::string c = R"({component_id="loki.source.docker.default",component_path="/"})";
    std::string m = Metrics();
    EXPECT_THAT(m, HasSubstr("loki_source_docker_target_entries_total" + c + " " +
                             std::to_string(out.size() + err.size() + tty.size())));
    EXPECT_THAT(m, HasSubstr("loki_source_docker_target_parsing_errors_total" + c + " 0"));
    EXPECT_THAT(m,
                ::testing::ContainsRegex("sluice_source_docker_reconnects_total\\{[^}]*\\} [1-9]"));
  }

  // Positions in Alloy's format, written once Loki acknowledged the last lines; then a SIGKILL.
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  auto acked = [&] {
    std::string p = Positions();
    return p.find(absl::StrCat("timestamp_ns: ", last_ts_[kWeb])) != std::string::npos &&
           p.find(absl::StrCat("timestamp_ns: ", last_ts_[kTty])) != std::string::npos;
  };
  while (absl::Now() < deadline && !acked()) absl::SleepFor(absl::Milliseconds(50));
  ASSERT_TRUE(acked()) << Positions();
  EXPECT_THAT(Positions(), HasSubstr(absl::StrCat("path: cursor-", kWeb)));
  EXPECT_THAT(Positions(), HasSubstr("__meta_docker_container_id=\"" + kWeb + "\""));
  agent_->Signal(SIGKILL);
  agent_->Wait(absl::Seconds(30));

  // While it is down: more lines, and a container that starts later.
  for (int i = 10; i < 15; ++i) out.push_back(Log(kWeb, absl::StrCat("o", i)));
  for (int i = 5; i < 7; ++i) err.push_back(Log(kWeb, absl::StrCat("e", i), 2));
  Start();
  ASSERT_TRUE(WaitFor(web_out, out));
  ASSERT_TRUE(WaitFor(web_err, err));

  docker_.AddContainer(Container(kLate, "/late", false, "172.17.0.4"));
  const std::string late_out = R"({container="late", job="docker", stream="stdout"})";
  std::vector<std::string> late;
  for (int i = 0; i < 4; ++i) late.push_back(Log(kLate, absl::StrCat("l", i)));
  ASSERT_TRUE(WaitFor(late_out, late));

  // A container that stops: its stream ends (read to the end) and is not opened again.
  for (int i = 7; i < 9; ++i) tty.push_back(Log(kTty, absl::StrCat("t", i)));
  ASSERT_TRUE(WaitFor(tty_out, tty));
  docker_.SetRunning(kTty, false);
  deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline && docker_.OpenStreams() != 2) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(docker_.OpenStreams(), 2);  // web and late

  agent_->Signal(SIGTERM);
  EXPECT_EQ(agent_->Wait(absl::Seconds(60)), 0);
  ExpectExactlyOnce(web_out, out);
  ExpectExactlyOnce(web_err, err);
  ExpectExactlyOnce(tty_out, tty);
  ExpectExactlyOnce(late_out, late);
  // Nothing else: no stream without Alloy's labels.
  EXPECT_EQ(loki_.stream_count(), 4u);
}

// A SIGKILL while lines are still arriving: what Loki acknowledged is not sent again, the rest
// comes after the restart.
TEST_F(DockerE2eTest, KilledMidStreamLosesNothing) {
  docker_.AddContainer(Container(kWeb, "/web", false, "172.17.0.2"));
  const std::string web_out = R"({container="web", job="docker", stream="stdout"})";
  std::vector<std::string> out;
  for (int i = 0; i < 2000; ++i) out.push_back(Log(kWeb, absl::StrCat("k", i)));
  docker_.SetWriteSplit(5);  // frame headers and timestamps split across reads
  Start();
  ASSERT_TRUE(loki_.WaitForEntries(500, absl::Seconds(60)));
  agent_->Signal(SIGKILL);
  agent_->Wait(absl::Seconds(30));
  for (int i = 2000; i < 2100; ++i) out.push_back(Log(kWeb, absl::StrCat("k", i)));
  Start();
  ASSERT_TRUE(WaitFor(web_out, out));
  agent_->Signal(SIGTERM);
  EXPECT_EQ(agent_->Wait(absl::Seconds(60)), 0);
  // Lines acknowledged before the kill whose position write the kill beat may come twice (the
  // positions file is written after each acknowledgement); none is lost.
  std::map<std::string, int> got = Got(web_out);
  for (const std::string& w : out) EXPECT_GE(got[w], 1) << w;
}

// The memory budget: while Loki holds the first push, the stream is not read much past the
// budget; once Loki answers, everything arrives once.
TEST_F(DockerE2eTest, ReadingPausesAtTheMemoryBudget) {
  docker_.AddContainer(Container(kWeb, "/web", false, "172.17.0.2"));
  const std::string web_out = R"({container="web", job="docker", stream="stdout"})";
  std::vector<std::string> out;
  const std::string pad(200, 'p');
  for (int i = 0; i < 3000; ++i) out.push_back(Log(kWeb, absl::StrCat("b", i, " ", pad)));
  loki_.StallNext(1);
  Start({"--memory-budget", "16KiB"});
  ASSERT_TRUE(loki_.WaitForStalled(1, absl::Seconds(60)));
  // A chance for a reader that ignored the budget to run ahead (the assertion holds either way).
  absl::SleepFor(absl::Milliseconds(500));
  const std::string c = R"({component_id="loki.source.docker.default",component_path="/"})";
  std::string m = Metrics();
  size_t at = m.find("loki_source_docker_target_entries_total" + c + " ");
  ASSERT_NE(at, std::string::npos) << m;
  size_t handed = std::stoul(
      m.substr(at + std::string("loki_source_docker_target_entries_total").size() + c.size() + 1));
  // The budget, plus what one read of the stream (curl's 16 KiB buffer) and the batch in the
  // making hold: far below the 3000 lines (~660 KiB) there are.
  EXPECT_LT(handed * 220, size_t{16 << 10} + (128 << 10)) << handed;
  loki_.ReleaseStall();
  ASSERT_TRUE(WaitFor(web_out, out));
  agent_->Signal(SIGTERM);
  EXPECT_EQ(agent_->Wait(absl::Seconds(60)), 0);
  ExpectExactlyOnce(web_out, out);
}

}  // namespace
}  // namespace sluice
