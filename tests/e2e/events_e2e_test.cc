// End-to-end tests of loki.source.kubernetes_events: the real `sluice run` binary against the
// in-process fake API server (FakeKube: Events list/watch, 410 Gone, Leases) and FakeLoki.
// Every event carries a unique id in its message; each must arrive exactly once, with Alloy's
// labels and line, across restarts, relists and a change of leader.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "tests/support/fake_kube.h"
#include "tests/support/fake_loki.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace sluice {
namespace {

using ::sluice::testing::FakeEvent;
using ::sluice::testing::FakeKube;
using ::sluice::testing::FakeLoki;
using ::sluice::testing::ReadFile;
using ::sluice::testing::Subprocess;
using ::sluice::testing::TempDir;
using ::sluice::testing::WriteFile;
using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(60);
constexpr char kStream[] =
    "{instance=\"loki.source.kubernetes_events.cluster\", job=\"integrations/kubernetes/"
    "eventhandler\", namespace=\"shop\"}";

// Polls `cond` every 50ms until it holds or `timeout` passes.
template <class Cond>
bool Eventually(Cond cond, absl::Duration timeout = kWait) {
  const absl::Time end = absl::Now() + timeout;
  while (!cond()) {
    if (absl::Now() > end) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return true;
}

class EventsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(loki_.Start().ok());
    ASSERT_TRUE(kube_.Start().ok());
    // Recent, distinct seconds: Loki takes them, and each event has a time of its own.
    base_ = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) - 3600);
  }
  void TearDown() override {
    for (auto& [name, agent] : agents_) {
      if (agent->running()) {
        agent->Signal(SIGKILL);
        agent->Wait(absl::Seconds(10));
      }
      if (HasFailure()) {
        std::fprintf(stderr, "--- %s stderr ---\n%s\n", name.c_str(),
                     ReadFile(dir_.Join(name + ".err")).c_str());
      }
    }
    loki_.Stop();
    kube_.Stop();
  }

  std::string Config(const std::string& log_format = "logfmt") {
    return absl::StrCat(R"(
loki.source.kubernetes_events "cluster" {
  job_name   = "integrations/kubernetes/eventhandler"
  log_format = ")",
                        log_format, R"("
  client {
    api_server = ")",
                        kube_.base_url(), R"("
  }
  forward_to = [loki.write.default.receiver]
}

loki.write "default" {
  endpoint {
    url        = ")",
                        loki_.push_url(), R"("
    batch_wait = "100ms"
  }
}
)");
  }

  // Starts agent `name` (own storage path, stderr in <name>.err) with `env` set for it only.
  void Start(const std::string& name, const std::string& config_text,
             const std::map<std::string, std::string>& env = {}) {
    const std::string config = dir_.Join(name + ".alloy");
    WriteFile(config, config_text);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    auto agent = std::make_unique<Subprocess>();
    bool started =
        agent->Start({SLUICE_BINARY, "run", config, "--storage.path", dir_.Join(name + "-state"),
                      "--server.http.listen-addr", "127.0.0.1:0"},
                     dir_.Join(name + ".out"), dir_.Join(name + ".err"));
    for (const auto& [k, v] : env) unsetenv(k.c_str());
    ASSERT_TRUE(started);
    agents_[name] = std::move(agent);
  }
  int Stop(const std::string& name) {
    agents_[name]->Signal(SIGTERM);
    return agents_[name]->Wait(absl::Seconds(30));
  }
  std::string Metrics(const std::string& name) {
    std::string port;
    Eventually([&] {
      std::string err = ReadFile(dir_.Join(name + ".err"));
      size_t hp = err.find("http_port=");
      if (hp == std::string::npos) return false;
      port = err.substr(hp + 10, err.find_first_of(" \n", hp) - hp - 10);
      return true;
    });
    Subprocess p;
    EXPECT_TRUE(p.Start({"/usr/bin/python3", "-c",
                         "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen("
                         "'http://127.0.0.1:" +
                             port + "/metrics').read().decode())"},
                        dir_.Join("metrics.out"), dir_.Join("metrics.err")));
    p.Wait(absl::Seconds(30));
    return ReadFile(dir_.Join("metrics.out"));
  }

  // Event `n`: id "evt-<n>" in its message, lastTimestamp base + n seconds.
  FakeEvent Event(int n) {
    FakeEvent e;
    e.ns = "shop";
    e.name = absl::StrCat("web-", n, ".17c3a");
    e.involved_name = absl::StrCat("web-", n);
    e.involved_resource_version = "900";
    e.reason = "Started";
    e.message = absl::StrCat("Started container evt-", n);
    e.source_component = "kubelet";
    e.source_host = "node-a";
    e.first_timestamp = Time(n);
    e.last_timestamp = Time(n);
    return e;
  }
  std::string Time(int n) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", base_ + absl::Seconds(n), absl::UTCTimeZone());
  }
  int64_t Micros(int n) { return absl::ToUnixMicros(base_ + absl::Seconds(n)); }
  void Add(int from, int to) {
    for (int n = from; n < to; ++n) kube_.UpsertEvent(Event(n));
  }
  // How often each id arrived, over every stream.
  std::map<std::string, int> Ids() {
    std::map<std::string, int> ids;
    for (const std::string& line : loki_.AllLines()) {
      size_t at = line.find("evt-");
      if (at == std::string::npos) continue;
      ids[line.substr(at, line.find('"', at) - at)]++;
    }
    return ids;
  }
  // Each of ids [0, n) arrived exactly once, and nothing else.
  void ExpectExactlyOnce(int n) {
    std::map<std::string, int> ids = Ids();
    EXPECT_EQ(ids.size(), static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) EXPECT_EQ(ids[absl::StrCat("evt-", i)], 1) << "evt-" << i;
    EXPECT_EQ(loki_.duplicates(), 0u);
  }

  TempDir dir_;
  FakeLoki loki_;
  FakeKube kube_;
  absl::Time base_;
  std::map<std::string, std::unique_ptr<Subprocess>> agents_;
};

TEST_F(EventsE2eTest, ShipsEachEventOnceAcrossRestartAndRelist) {
  Add(0, 10);
  Start("a", Config());
  ASSERT_TRUE(loki_.WaitForEntries(10, kWait));
  std::optional<testing::FakeLokiStream> stream = loki_.FindStream(kStream);
  ASSERT_TRUE(stream.has_value());
  // Alloy's line: fields in its order, values bare, the message Go-quoted, a trailing space.
  bool found = false;
  for (const auto& e : stream->entries) {
    if (e.line.find("evt-3\"") == std::string::npos) continue;
    found = true;
    EXPECT_EQ(e.line, absl::StrCat("name=web-3 kind=Pod objectAPIversion=v1 objectRV=900 eventRV=",
                                   kube_.Events()[3].resource_version,
                                   " sourcecomponent=kubelet sourcehost=node-a reason=Started "
                                   "type=Normal count=1 msg=\"Started container evt-3\" "));
    EXPECT_EQ(e.timestamp_ns, Micros(3) * 1000);
  }
  EXPECT_TRUE(found);
  ExpectExactlyOnce(10);

  // Bad input is counted, not shipped: an event without an involved object.
  FakeEvent bad = Event(100);
  bad.involved_name = "";
  bad.message = "no object";
  kube_.UpsertEvent(bad);
  EXPECT_TRUE(Eventually([&] {
    return Metrics("a").find(
               "sluice_kubernetes_events_skipped_total{component_id=\"loki.source."
               "kubernetes_events.cluster\",component_path=\"/\",reason=\"invalid\"}"
               " 1") != std::string::npos;
  }));

  // The acknowledged place is saved in Alloy's format and key.
  const std::string positions =
      dir_.Join("a-state/loki.source.kubernetes_events.cluster/positions.yml");
  ASSERT_TRUE(Eventually([&] {
    return ReadFile(positions).find(absl::StrCat("\"", Micros(9), "\"")) != std::string::npos;
  }));
  EXPECT_THAT(ReadFile(positions), HasSubstr("path: cursor-events\n"));
  EXPECT_THAT(ReadFile(positions), HasSubstr("labels: \"\"\n"));
  EXPECT_EQ(Stop("a"), 0);

  // While it is down, more events; the restart sends those and nothing of before.
  Add(10, 15);
  Start("a", Config());
  ASSERT_TRUE(loki_.WaitForEntries(15, kWait));
  EXPECT_TRUE(Eventually([&] {
    return Metrics("a").find(
               "sluice_kubernetes_events_skipped_total{component_id=\"loki.source."
               "kubernetes_events.cluster\",component_path=\"/\",reason=\"not_newer\"}"
               " 10") != std::string::npos;
  }));

  // The watch cut and its resumption answered 410 Gone (its version compacted away): the agent
  // lists again and ships only what it had not seen.
  const size_t requests = kube_.request_count("/api/v1/events");
  const size_t watches = kube_.watches_started();
  kube_.FailNext(1, 410, "/api/v1/events");
  kube_.CloseWatches();
  ASSERT_TRUE(Eventually([&] {
    return kube_.request_count("/api/v1/events") >= requests + 3 &&
           kube_.watches_started() >= watches + 1;
  }));
  std::vector<testing::FakeKubeRequest> log = kube_.Requests();
  bool relisted = false;
  for (size_t i = 1; i < log.size(); ++i) {
    relisted |= log[i - 1].status == 410 && log[i].path == "/api/v1/events" && !log[i].watch &&
                log[i].params.count("watch") == 0;
  }
  EXPECT_TRUE(relisted) << "a 410 is followed by a list";
  Add(15, 20);
  ASSERT_TRUE(loki_.WaitForEntries(20, kWait));
  // A changed event (a repeat: count 2, a newer lastTimestamp) is shipped again, as Alloy does.
  FakeEvent again = Event(4);
  again.count = 2;
  again.last_timestamp = Time(30);
  kube_.UpsertEvent(again);
  ASSERT_TRUE(loki_.WaitForEntries(21, kWait));
  absl::SleepFor(absl::Milliseconds(500));  // nothing more may come
  std::map<std::string, int> ids = Ids();
  EXPECT_EQ(ids["evt-4"], 2);
  ids.erase("evt-4");
  EXPECT_EQ(ids.size(), 19u);
  for (const auto& [id, count] : ids) EXPECT_EQ(count, 1) << id;
  EXPECT_EQ(loki_.total_entries(), 21u);
  EXPECT_EQ(Stop("a"), 0);
}

TEST_F(EventsE2eTest, JsonFormat) {
  Add(0, 1);
  Start("a", Config("json"));
  ASSERT_TRUE(loki_.WaitForEntries(1, kWait));
  EXPECT_EQ(loki_.AllLines()[0],
            absl::StrCat("{\"count\":1,\"eventRV\":\"", kube_.Events()[0].resource_version,
                         "\",\"kind\":\"Pod\",\"msg\":\"Started container evt-0\",\"name\":\"web-"
                         "0\",\"objectAPIversion\":\"v1\",\"objectRV\":\"900\",\"reason\":"
                         "\"Started\",\"sourcecomponent\":\"kubelet\",\"sourcehost\":\"node-a\","
                         "\"type\":\"Normal\"}"));
  EXPECT_EQ(Stop("a"), 0);
}

TEST_F(EventsE2eTest, OneLeaderShipsAndASuccessorTakesOverWithoutLossOrDuplicates) {
  auto env = [](const std::string& identity) {
    return std::map<std::string, std::string>{{"SLUICE_EVENTS_LEASE_NAME", "sluice-events"},
                                              {"SLUICE_EVENTS_LEASE_NAMESPACE", "monitoring"},
                                              {"SLUICE_EVENTS_LEASE_DURATION", "3s"},
                                              {"SLUICE_EVENTS_LEASE_IDENTITY", identity}};
  };
  Add(0, 10);
  Start("a", Config(), env("pod-a"));
  Start("b", Config(), env("pod-b"));
  ASSERT_TRUE(loki_.WaitForEntries(10, kWait));
  Add(10, 15);
  ASSERT_TRUE(loki_.WaitForEntries(15, kWait));
  std::optional<testing::FakeLease> lease = kube_.GetLease("monitoring", "sluice-events");
  ASSERT_TRUE(lease.has_value());
  const std::string leader = lease->holder == "pod-a" ? "a" : "b";
  const std::string follower = leader == "a" ? "b" : "a";
  ASSERT_TRUE(lease->holder == "pod-a" || lease->holder == "pod-b") << lease->holder;
  // Only the leader watches events.
  EXPECT_THAT(Metrics(follower), HasSubstr("sluice_kubernetes_events_leader{component_id=\"loki."
                                           "source.kubernetes_events.cluster\",component_path=\"/"
                                           "\"} 0"));
  // The leader keeps its acknowledged cursor in the Lease for a successor.
  const std::string key = "sluice.grafana.com/events-cursors.cluster";
  ASSERT_TRUE(Eventually([&] {
    std::optional<testing::FakeLease> l = kube_.GetLease("monitoring", "sluice-events");
    return l && l->annotations.count(key) &&
           l->annotations.at(key) == absl::StrCat("{\"cursor-events\":", Micros(14), "}");
  }));
  ExpectExactlyOnce(15);

  // The leader dies without a word; the follower takes over once the lease expires.
  agents_[leader]->Signal(SIGKILL);
  agents_[leader]->Wait(absl::Seconds(10));
  Add(15, 20);
  ASSERT_TRUE(loki_.WaitForEntries(20, kWait));
  EXPECT_TRUE(Eventually([&] {
    std::optional<testing::FakeLease> l = kube_.GetLease("monitoring", "sluice-events");
    return l && l->holder == "pod-" + follower && l->lease_transitions == 1;
  }));
  absl::SleepFor(absl::Milliseconds(500));  // nothing more may come
  ExpectExactlyOnce(20);

  // A clean stop releases the lease.
  EXPECT_EQ(Stop(follower), 0);
  lease = kube_.GetLease("monitoring", "sluice-events");
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ(lease->holder, "");
  EXPECT_EQ(lease->annotations.at(key), absl::StrCat("{\"cursor-events\":", Micros(19), "}"));
}

// config/cluster-events.alloy, what k8s-monitoring's clusterEvents feature renders, validates
// and ships (pointed at the fakes instead of the cluster's service and Loki).
TEST_F(EventsE2eTest, ClusterEventsExampleConfig) {
  const std::string path = absl::StrCat(SLUICE_SOURCE_DIR, "/config/cluster-events.alloy");
  Subprocess v;
  ASSERT_TRUE(v.Start({SLUICE_BINARY, "validate", path}, dir_.Join("v.out"), dir_.Join("v.err")));
  EXPECT_EQ(v.Wait(absl::Seconds(30)), 0) << ReadFile(dir_.Join("v.err"));
  std::string text = ReadFile(path);
  ASSERT_THAT(text, HasSubstr("http://loki.loki.svc:3100/loki/api/v1/push"));
  ASSERT_THAT(text, HasSubstr("job_name   = \"integrations/kubernetes/eventhandler\""));
  text = absl::StrReplaceAll(
      text, {{"http://loki.loki.svc:3100/loki/api/v1/push", loki_.push_url()},
             {"job_name   = \"integrations/kubernetes/eventhandler\"",
              absl::StrCat("job_name   = \"integrations/kubernetes/eventhandler\"\n    client { "
                           "api_server = \"",
                           kube_.base_url(), "\" }")}});
  Add(0, 5);
  Start("a", text);
  ASSERT_TRUE(loki_.WaitForEntries(5, kWait));
  ExpectExactlyOnce(5);
  std::vector<testing::FakeLokiStream> streams = loki_.Streams();
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].label_map.at("job"), "integrations/kubernetes/eventhandler");
  EXPECT_EQ(streams[0].label_map.at("cluster"), "my-cluster");
  EXPECT_EQ(streams[0].label_map.at("namespace"), "shop");
  EXPECT_EQ(Stop("a"), 0);
}

}  // namespace
}  // namespace sluice
