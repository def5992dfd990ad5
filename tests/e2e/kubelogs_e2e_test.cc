// End-to-end tests of loki.source.kubernetes (and loki.source.podlogs): the real `sluice run`
// tails containers through a fake API server's pod log endpoint (tests/support/fake_kube.h, a
// server that is not sluice's code) and sends to the in-process FakeLoki. Lines carry unique ids;
// each must arrive exactly once, with Alloy's labels, across broken streams and restarts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/support/fake_kube.h"
#include "tests/support/fake_loki.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace sluice {
namespace {

using ::sluice::testing::FakeKube;
using ::sluice::testing::FakeLoki;
using ::sluice::testing::FakePod;
using ::sluice::testing::ReadFile;
using ::sluice::testing::Subprocess;
using ::sluice::testing::TempDir;
using ::sluice::testing::WriteFile;
using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(120);

class KubeLogsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(loki_.Start().ok());
    ASSERT_TRUE(kube_.Start().ok());
    // Lines start a minute ago (Loki takes them), 1ms apart, in order.
    t0_ = absl::ToUnixNanos(absl::Now() - absl::Minutes(1));
  }
  void TearDown() override {
    if (agent_ && agent_->running()) {
      agent_->Signal(SIGKILL);
      agent_->Wait(absl::Seconds(10));
    }
    if (HasFailure()) {
      std::fprintf(stderr, "--- agent stderr ---\n%s\n", ReadFile(dir_.Join("agent.err")).c_str());
    }
    kube_.Stop();
    loki_.Stop();
  }
  void Run(const std::string& config, std::vector<std::string> extra = {}) {
    WriteFile(dir_.Join("config.alloy"), config);
    std::vector<std::string> argv = {SLUICE_BINARY,
                                     "run",
                                     dir_.Join("config.alloy"),
                                     "--storage.path",
                                     dir_.Join("state"),
                                     "--server.http.listen-addr",
                                     "127.0.0.1:0",
                                     "--positions-interval",
                                     "200ms"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    agent_ = std::make_unique<Subprocess>();
    ASSERT_TRUE(agent_->Start(argv, dir_.Join("agent.out"), dir_.Join("agent.err")));
  }
  int Stop() {
    agent_->Signal(SIGTERM);
    return agent_->Wait(absl::Seconds(60));
  }
  std::string Writer() const {
    return absl::StrCat("loki.write \"default\" {\n  endpoint {\n    url = \"", loki_.push_url(),
                        "\"\n    batch_wait = \"50ms\"\n  }\n}\n");
  }
  // Appends `n` lines "<prefix>-<i>" to a container's log.
  void Log(const FakePod& pod, const std::string& container, const std::string& prefix, int from,
           int n) {
    for (int i = from; i < from + n; ++i) {
      kube_.AppendPodLog(pod.ns, pod.name, container, absl::StrCat(prefix, "-", i),
                         t0_ + (seq_++) * 1000000);
    }
  }
  // Every line with its count, and the labels of its stream.
  std::map<std::string, int> Counts(std::map<std::string, std::string>* labels = nullptr) const {
    std::map<std::string, int> out;
    for (const auto& s : loki_.Streams()) {
      for (const auto& e : s.entries) {
        ++out[e.line];
        if (labels != nullptr) (*labels)[e.line] = s.labels;
      }
    }
    return out;
  }
  void ExpectExactlyOnce(const std::string& prefix, int n) {
    std::map<std::string, int> counts = Counts();
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(counts[absl::StrCat(prefix, "-", i)], 1) << prefix << "-" << i;
    }
    EXPECT_EQ(loki_.duplicates(), 0u);
  }
  std::string HttpPort() {
    for (int i = 0; i < 200; ++i) {
      std::string err = ReadFile(dir_.Join("agent.err"));
      size_t hp = err.find("http_port=");
      if (hp != std::string::npos) {
        return err.substr(hp + 10, err.find_first_of(" \n", hp) - hp - 10);
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    return "";
  }
  std::string Metrics() {
    std::string port = HttpPort();
    Subprocess p;
    EXPECT_TRUE(p.Start({"/usr/bin/python3", "-c",
                         "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen("
                         "'http://127.0.0.1:" +
                             port + "/metrics').read().decode())"},
                        dir_.Join("m.out"), dir_.Join("m.err")));
    p.Wait(absl::Seconds(30));
    return ReadFile(dir_.Join("m.out"));
  }

  TempDir dir_;
  FakeLoki loki_;
  FakeKube kube_;
  std::unique_ptr<Subprocess> agent_;
  int64_t t0_ = 0;
  int64_t seq_ = 0;
};

// discovery.kubernetes -> loki.source.kubernetes -> loki.write: every line once, with Alloy's
// labels (job = the component id, instance = ns/pod:container); a stream cut mid-line by the
// server and one ended cleanly are reopened from where they were, without repeats.
TEST_F(KubeLogsE2eTest, DiscoveredPodsTailedOnceAcrossBrokenStreams) {
  FakePod web = testing::MakeDeploymentPod("shop", "web", "node-1", "10.1.0.5");
  web.uid = "uid-web";
  kube_.SetPods({web});
  Log(web, "web", "a", 0, 50);
  Run(absl::StrCat("discovery.kubernetes \"pods\" {\n  role = \"pod\"\n  api_server = \"",
                   kube_.base_url(),
                   "\"\n}\n"
                   "loki.source.kubernetes \"pods\" {\n"
                   "  targets = discovery.kubernetes.pods.targets\n"
                   "  forward_to = [loki.write.default.receiver]\n"
                   "  client {\n    api_server = \"",
                   kube_.base_url(), "\"\n  }\n}\n", Writer()));
  ASSERT_TRUE(loki_.WaitForEntries(50, kWait)) << loki_.total_entries();
  ASSERT_TRUE(kube_.WaitForLogStreams(1, kWait));
  Log(web, "web", "a", 50, 50);
  ASSERT_TRUE(loki_.WaitForEntries(100, kWait)) << loki_.total_entries();

  // Cut mid-line with a reset: reopened with sinceTime, the partial line never sent.
  kube_.EndLogStreams(/*abrupt=*/true);
  Log(web, "web", "a", 100, 50);
  ASSERT_TRUE(loki_.WaitForEntries(150, kWait)) << loki_.total_entries();
  // Ended cleanly while the container runs: reopened too.
  ASSERT_TRUE(kube_.WaitForLogStreams(1, kWait));
  kube_.EndLogStreams(/*abrupt=*/false);
  ASSERT_TRUE(kube_.WaitForLogStreamsStarted(3, kWait));
  Log(web, "web", "a", 150, 50);
  ASSERT_TRUE(loki_.WaitForEntries(200, kWait)) << loki_.total_entries();

  std::map<std::string, std::string> labels;
  std::map<std::string, int> counts = Counts(&labels);
  ExpectExactlyOnce("a", 200);
  EXPECT_EQ(counts.size(), 200u);
  EXPECT_EQ(counts.count("cut-in-the-mid"), 0u);
  EXPECT_EQ(labels["a-0"], absl::StrCat("{instance=\"shop/", web.name,
                                        ":web\", job=\"loki.source.kubernetes.pods\"}"));
  // The reopened streams asked from the last line's second: what came again was skipped.
  bool since = false;
  for (const auto& r : kube_.Requests()) {
    if (r.path.find("/log") == std::string::npos) continue;
    EXPECT_EQ(r.params.at("follow"), "true");
    EXPECT_EQ(r.params.at("timestamps"), "true");
    EXPECT_EQ(r.params.at("container"), "web");
    if (r.params.count("sinceTime") != 0) since = true;
  }
  EXPECT_TRUE(since);
  const std::string metrics = Metrics();
  EXPECT_THAT(metrics, HasSubstr("sluice_kubernetes_logs_skipped_lines_total{component_id="
                                 "\"loki.source.kubernetes.pods\",component_path=\"/\"}"));
  EXPECT_THAT(metrics, HasSubstr("sluice_kubernetes_logs_read_lines_total{component_id="
                                 "\"loki.source.kubernetes.pods\",component_path=\"/\"} 200"));
  EXPECT_EQ(Stop(), 0);
}

std::string StaticTargets(const FakePod& a, const FakePod& b) {
  auto one = [](const FakePod& p, const std::string& c) {
    return absl::StrCat("    {\"__meta_kubernetes_namespace\" = \"", p.ns,
                        "\", \"__meta_kubernetes_pod_name\" = \"", p.name,
                        "\", \"__meta_kubernetes_pod_container_name\" = \"", c,
                        "\", \"__meta_kubernetes_pod_uid\" = \"", p.uid, "\", \"namespace\" = \"",
                        p.ns, "\", \"pod\" = \"", p.name, "\", \"container\" = \"", c, "\"},\n");
  };
  return absl::StrCat("  targets = [\n", one(a, a.containers[0].name), one(b, b.containers[0].name),
                      "  ]\n");
}

// Static targets, two containers; the agent stopped (SIGTERM) and killed (SIGKILL) between
// lines: after each restart it resumes from the saved places, nothing lost or sent twice, and
// the positions file holds Alloy's keys.
TEST_F(KubeLogsE2eTest, RestartsResumeFromTheSavedPlaces) {
  FakePod web = testing::MakeDeploymentPod("shop", "web", "node-1", "10.1.0.5");
  web.uid = "uid-web";
  FakePod api = testing::MakeDeploymentPod("shop", "api", "node-1", "10.1.0.6");
  api.uid = "uid-api";
  kube_.SetPods({web, api});
  const std::string config =
      absl::StrCat("loki.source.kubernetes \"static\" {\n", StaticTargets(web, api),
                   "  forward_to = [loki.write.default.receiver]\n  client {\n    api_server = \"",
                   kube_.base_url(), "\"\n  }\n}\n", Writer());
  Log(web, "web", "w", 0, 30);
  Log(api, "api", "p", 0, 30);
  Run(config);
  ASSERT_TRUE(loki_.WaitForEntries(60, kWait)) << loki_.total_entries();
  EXPECT_EQ(Stop(), 0);
  const std::string positions =
      ReadFile(dir_.Join("state/loki.source.kubernetes.static/positions.yml"));
  EXPECT_THAT(positions, HasSubstr(absl::StrCat("cursor-shop/", web.name, ":web:uid-web")));
  EXPECT_THAT(positions, HasSubstr("job=\"loki.source.kubernetes.static\""));

  // Lines written while it was down, then a graceful restart.
  Log(web, "web", "w", 30, 20);
  Log(api, "api", "p", 30, 20);
  Run(config);
  ASSERT_TRUE(loki_.WaitForEntries(100, kWait)) << loki_.total_entries();
  // Killed once everything is acknowledged and the place written.
  const std::string pos_path = dir_.Join("state/loki.source.kubernetes.static/positions.yml");
  const std::string want_us = std::to_string((t0_ + (seq_ - 1) * 1000000) / 1000);
  for (int i = 0; i < 600 && ReadFile(pos_path).find(want_us) == std::string::npos; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_THAT(ReadFile(pos_path), HasSubstr(want_us));
  agent_->Signal(SIGKILL);
  agent_->Wait(absl::Seconds(30));
  Log(web, "web", "w", 50, 10);
  Log(api, "api", "p", 50, 10);
  Run(config);
  ASSERT_TRUE(loki_.WaitForEntries(120, kWait)) << loki_.total_entries();
  // A moment for anything sent twice to arrive too.
  ASSERT_TRUE(kube_.WaitForLogStreams(2, kWait));
  EXPECT_EQ(Stop(), 0);
  std::map<std::string, std::string> labels;
  std::map<std::string, int> counts = Counts(&labels);
  ExpectExactlyOnce("w", 60);
  ExpectExactlyOnce("p", 60);
  EXPECT_EQ(counts.size(), 120u);
  EXPECT_EQ(labels["p-59"],
            absl::StrCat("{container=\"api\", instance=\"shop/", api.name,
                         ":api\", job=\"loki.source.kubernetes.static\", namespace=\"shop\", "
                         "pod=\"",
                         api.name, "\"}"));
}

// loki.source.podlogs: a PodLogs selects pods by label; their containers are tailed with the
// reconciler's labels (job = <podlogs ns>/<name>, relabelings applied); a pod that appears later
// is picked up by the watch.
TEST_F(KubeLogsE2eTest, PodLogsSelectsPodsAndTailsThem) {
  kube_.SetNamespaces({{"shop", {{"team", "a"}}, {}}, {"mon", {}, {}}});
  FakePod web = testing::MakeDeploymentPod("shop", "web", "node-1", "10.1.0.5");
  web.uid = "uid-web";
  FakePod db = testing::MakeDeploymentPod("shop", "db", "node-1", "10.1.0.6");
  db.uid = "uid-db";
  kube_.SetPods({web, db});
  testing::FakePodLogs pl;
  pl.ns = "mon";
  pl.name = "web-logs";
  pl.selector = {{"app.kubernetes.io/name", "web"}};
  pl.relabelings_json =
      R"([{"sourceLabels":["__meta_kubernetes_namespace"],"targetLabel":"namespace"}])";
  kube_.SetPodLogs({pl});
  Log(web, "web", "web", 0, 20);
  Log(db, "db", "db", 0, 5);  // not selected
  Run(
      absl::StrCat("loki.source.podlogs \"pl\" {\n"
                   "  forward_to = [loki.write.default.receiver]\n"
                   "  client {\n    api_server = \"",
                   kube_.base_url(), "\"\n  }\n}\n", Writer()));
  ASSERT_TRUE(loki_.WaitForEntries(20, kWait)) << loki_.total_entries();
  // A second replica appears: the pod watch brings it.
  FakePod web2 = testing::MakeDeploymentPod("shop", "web", "node-1", "10.1.0.8", 1);
  web2.uid = "uid-web2";
  Log(web2, "web", "web2", 0, 10);
  kube_.UpsertPod(web2);
  ASSERT_TRUE(loki_.WaitForEntries(30, kWait)) << loki_.total_entries();
  EXPECT_EQ(Stop(), 0);
  std::map<std::string, std::string> labels;
  std::map<std::string, int> counts = Counts(&labels);
  ExpectExactlyOnce("web", 20);
  ExpectExactlyOnce("web2", 10);
  EXPECT_EQ(counts.count("db-0"), 0u);
  EXPECT_EQ(labels["web-0"], absl::StrCat("{instance=\"shop/", web.name,
                                          ":web\", job=\"mon/web-logs\", namespace=\"shop\"}"));
}

// Loki holds the first push: the pipeline holds the memory budget, reading pauses (counted), the
// lines written meanwhile wait in the API server's stream; released, every line arrives once.
TEST_F(KubeLogsE2eTest, ReadingPausesUnderTheMemoryBudget) {
  FakePod web = testing::MakeDeploymentPod("shop", "web", "node-1", "10.1.0.5");
  web.uid = "uid-web";
  kube_.SetPods({web});
  const std::string pad(100, 'x');
  for (int i = 0; i < 10; ++i) {
    kube_.AppendPodLog("shop", web.name, "web", absl::StrCat("m-", i, "-", pad),
                       t0_ + (seq_++) * 1000000);
  }
  loki_.StallNext(1);
  Run(absl::StrCat("loki.source.kubernetes \"pods\" {\n  targets = [{\"__pod_namespace__\" = "
                   "\"shop\", \"__pod_name__\" = \"",
                   web.name,
                   "\", \"__pod_container_name__\" = \"web\", \"__pod_uid__\" = \"uid-web\"}]\n"
                   "  forward_to = [loki.write.default.receiver]\n  client {\n    api_server = \"",
                   kube_.base_url(), "\"\n  }\n}\n", Writer()),
      {"--memory-budget", "512"});
  ASSERT_TRUE(loki_.WaitForStalled(1, kWait));
  for (int i = 10; i < 110; ++i) {
    kube_.AppendPodLog("shop", web.name, "web", absl::StrCat("m-", i, "-", pad),
                       t0_ + (seq_++) * 1000000);
  }
  const std::string paused =
      "sluice_kubernetes_logs_paused_total{component_id=\"loki.source.kubernetes.pods\","
      "component_path=\"/\"} ";
  std::string metrics;
  for (int i = 0; i < 300; ++i) {
    metrics = Metrics();
    if (metrics.find(paused) != std::string::npos &&
        metrics.find(paused + "0\n") == std::string::npos) {
      break;
    }
  }
  EXPECT_THAT(metrics, ::testing::Not(HasSubstr(paused + "0\n")));
  EXPECT_THAT(metrics, HasSubstr(paused));
  // Reading paused within the first ten lines (how many of them depends on how the stream's
  // bytes arrived): none of the hundred written after the stall was read.
  const std::string read_lines =
      "sluice_kubernetes_logs_read_lines_total{component_id=\"loki.source.kubernetes.pods\","
      "component_path=\"/\"} ";
  size_t at = metrics.find(read_lines);
  ASSERT_NE(at, std::string::npos);
  const int read = std::atoi(metrics.c_str() + at + read_lines.size());
  EXPECT_GE(read, 1);
  EXPECT_LE(read, 10);
  loki_.ReleaseStall();
  ASSERT_TRUE(loki_.WaitForEntries(110, kWait)) << loki_.total_entries();
  EXPECT_EQ(Stop(), 0);
  std::map<std::string, int> counts = Counts();
  EXPECT_EQ(counts.size(), 110u);
  for (const auto& [line, n] : counts) EXPECT_EQ(n, 1) << line;
  EXPECT_EQ(loki_.duplicates(), 0u);
}

// Bad input is counted, never fatal: a target without a uid is refused, a log request the API
// server fails is retried, a line over --max-line-size is cut.
TEST_F(KubeLogsE2eTest, BadTargetsFailedStreamsAndLongLinesAreCounted) {
  FakePod web = testing::MakeDeploymentPod("shop", "web", "node-1", "10.1.0.5");
  web.uid = "uid-web";
  kube_.SetPods({web});
  const std::string log_path = absl::StrCat("/api/v1/namespaces/shop/pods/", web.name, "/log");
  kube_.FailNext(2, 500, log_path);
  Log(web, "web", "ok", 0, 5);
  kube_.AppendPodLog("shop", web.name, "web", std::string(3000, 'L'), t0_ + (seq_++) * 1000000);
  // Just over the limit: cut after its timestamp is taken off.
  kube_.AppendPodLog("shop", web.name, "web", std::string(1030, 'M'), t0_ + (seq_++) * 1000000);
  Log(web, "web", "ok", 5, 5);
  Run(absl::StrCat("loki.source.kubernetes \"pods\" {\n  targets = [\n"
                   "    {\"__pod_namespace__\" = \"shop\", \"__pod_name__\" = \"",
                   web.name,
                   "\", \"__pod_container_name__\" = \"web\", \"__pod_uid__\" = \"uid-web\"},\n"
                   "    {\"__pod_namespace__\" = \"shop\", \"__pod_name__\" = \"x\", "
                   "\"__pod_container_name__\" = \"web\"},\n  ]\n"
                   "  forward_to = [loki.write.default.receiver]\n  client {\n    api_server = \"",
                   kube_.base_url(), "\"\n  }\n}\n", Writer()),
      {"--max-line-size", "1KiB"});
  ASSERT_TRUE(loki_.WaitForEntries(12, kWait)) << loki_.total_entries();
  const std::string metrics = Metrics();
  const std::string l = "{component_id=\"loki.source.kubernetes.pods\",component_path=\"/\"} ";
  EXPECT_THAT(metrics, HasSubstr("sluice_kubernetes_logs_invalid_targets_total" + l + "1\n"));
  EXPECT_THAT(metrics, HasSubstr("sluice_kubernetes_logs_stream_failures_total" + l + "2\n"));
  EXPECT_THAT(metrics, HasSubstr("sluice_kubernetes_logs_truncated_lines_total" + l + "2\n"));
  EXPECT_EQ(Stop(), 0);
  std::map<std::string, int> counts = Counts();
  ExpectExactlyOnce("ok", 10);
  EXPECT_EQ(counts[std::string(1024, 'L')], 1);
  EXPECT_EQ(counts[std::string(1024, 'M')], 1);
  EXPECT_THAT(ReadFile(dir_.Join("agent.err")), HasSubstr("missing pod UID label"));
}

// A finished init container's stream ends and is not opened again (its status says it will not
// run again); the app container's is reopened each time it ends.
TEST_F(KubeLogsE2eTest, FinishedContainersAreNotReopened) {
  FakePod db = testing::MakePodWithInitContainers("shop", "db", "node-1", "10.1.0.6");
  db.uid = "uid-db";
  kube_.SetPods({db});
  Log(db, "init-config", "init", 0, 3);
  Log(db, "db", "app", 0, 3);
  auto target = [&](const std::string& c) {
    return absl::StrCat("    {\"__pod_namespace__\" = \"shop\", \"__pod_name__\" = \"", db.name,
                        "\", \"__pod_container_name__\" = \"", c,
                        "\", \"__pod_uid__\" = \"uid-db\"},\n");
  };
  Run(absl::StrCat("loki.source.kubernetes \"pods\" {\n  targets = [\n", target("init-config"),
                   target("db"),
                   "  ]\n  forward_to = [loki.write.default.receiver]\n  client {\n"
                   "    api_server = \"",
                   kube_.base_url(), "\"\n  }\n}\n", Writer()));
  ASSERT_TRUE(loki_.WaitForEntries(6, kWait)) << loki_.total_entries();
  auto opened = [&](const std::string& c) {
    size_t n = 0;
    for (const auto& r : kube_.Requests()) {
      auto it = r.params.find("container");
      if (r.path.ends_with("/log") && it != r.params.end() && it->second == c) ++n;
    }
    return n;
  };
  for (size_t round = 2; round <= 3; ++round) {
    ASSERT_TRUE(kube_.WaitForLogStreams(round == 2 ? 2 : 1, kWait));
    kube_.EndLogStreams();
    for (int i = 0; i < 1200 && opened("db") < round; ++i) absl::SleepFor(absl::Milliseconds(50));
    ASSERT_EQ(opened("db"), round);
  }
  EXPECT_EQ(opened("init-config"), 1u);
  EXPECT_THAT(ReadFile(dir_.Join("agent.err")), HasSubstr("container terminated, stopping tailer"));
  Log(db, "db", "app", 3, 2);
  ASSERT_TRUE(loki_.WaitForEntries(8, kWait)) << loki_.total_entries();
  EXPECT_EQ(Stop(), 0);
  ExpectExactlyOnce("init", 3);
  ExpectExactlyOnce("app", 5);
}

}  // namespace
}  // namespace sluice
