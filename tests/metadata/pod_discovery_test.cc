// PodDiscovery against the fake kubelet / API server over HTTPS: what it exports, and how it
// behaves when the token rotates, the kubelet goes away, pods come and go, and a pod directory
// appears that the kubelet does not know yet.
#include "agent/metadata/pod_discovery.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"

#include <chrono>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include "agent/metadata/kubeconfig.h"
#include "agent/metadata/node_discovery.h"
#include "tests/support/fake_kube.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_certs.h"

namespace sluice::metadata {
namespace {

// Waits are measured on the monotonic clock: a step of the wall clock (NTP on a CI machine) must
// not end them early.
std::chrono::steady_clock::time_point SteadyNow() { return std::chrono::steady_clock::now(); }

using sluice::testing::FakeKube;
using sluice::testing::FakeNamespace;
using sluice::testing::FakeNode;
using sluice::testing::FakePod;
using ::testing::ElementsAre;
using Addresses = std::vector<std::pair<std::string, std::string>>;  // FakeNode::addresses
using ::testing::UnorderedElementsAre;

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream f(path, std::ios::trunc);
  f << content;
}

class PodDiscoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = sluice::testing::MakeTestPki();
    FakeKube::Options o;
    o.tls = FakeKube::Options::Tls{pki_.server_cert_pem, pki_.server_key_pem};
    o.bearer_token = "token-1";
    kube_ = std::make_unique<FakeKube>(o);
    ASSERT_TRUE(kube_->Start().ok());
    WriteFile(dir_.Join("token"), "token-1\n");
    WriteFile(dir_.Join("ca.crt"), pki_.ca_cert_pem);
    std::filesystem::create_directories(dir_.Join("pods"));
    io_thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (disc_) OnIo([this] { disc_->Stop(); });
    if (nodes_) OnIo([this] { nodes_->Stop(); });
    work_.reset();
    io_.stop();
    io_thread_.join();
    disc_.reset();
    nodes_.reset();
  }

  template <typename Fn>
  void OnIo(Fn fn) {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }

  KubeEndpoint Endpoint() {
    KubeEndpoint e;
    e.base_url = kube_->base_url();
    e.http.authorization = AuthorizationConfig{"Bearer", "", dir_.Join("token")};
    e.http.tls.ca_file = dir_.Join("ca.crt");
    return e;
  }

  PodDiscoveryOptions KubeletOptions() {
    PodDiscoveryOptions o;
    o.component_id = "discovery.kubelet.pods";
    o.kubelet = Endpoint();
    o.refresh_interval = absl::Milliseconds(200);
    o.min_refresh_gap = absl::Milliseconds(50);
    o.pods_dir = dir_.Join("pods");
    return o;
  }

  void StartDiscovery(PodDiscoveryOptions o) {
    disc_ = std::make_unique<PodDiscovery>(&io_, std::move(o), RealClock::Get(), &metrics_,
                                           [this](std::vector<LabelSet> t) {
                                             std::lock_guard<std::mutex> lock(mu_);
                                             if (!t.empty()) nonempty_.push_back(t);
                                             targets_ = std::move(t);
                                             ++publishes_;
                                           });
    OnIo([this] { disc_->Start(); });
  }
  void StartNodes(NodeDiscoveryOptions o) {
    nodes_ = std::make_unique<NodeDiscovery>(&io_, std::move(o), &metrics_,
                                             [this](std::vector<LabelSet> t) {
                                               std::lock_guard<std::mutex> lock(mu_);
                                               targets_ = std::move(t);
                                               ++publishes_;
                                             });
    OnIo([this] { nodes_->Start(); });
  }
  // Waits (bounded) until `pred` holds for the exported targets.
  bool WaitTargets(std::function<bool(const std::vector<LabelSet>&)> pred,
                   absl::Duration timeout = absl::Seconds(10)) {
    auto deadline = SteadyNow() + absl::ToChronoNanoseconds(timeout);
    while (SteadyNow() < deadline) {
      if (pred(Targets())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pred(Targets());
  }
  // The node targets by node name (`instance`).
  std::map<std::string, LabelSet> NodeTargets() {
    std::map<std::string, LabelSet> out;
    for (LabelSet& t : Targets()) out[std::string(*t.Get("instance"))] = t;
    return out;
  }
  static std::string Label(const LabelSet& t, std::string_view name) {
    LabelValue v = t.Get(name);
    return v ? std::string(*v) : "<absent>";
  }
  uint64_t CounterOf(std::string_view name, MetricLabels labels) {
    return metrics_.CounterValue(name, labels);
  }

  // The pod names (containers joined) of the current targets, "(path)" for path-only ones.
  std::vector<std::string> Names() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const LabelSet& t : targets_) {
      std::string s = absl::StrCat(Av(*t.Get("__meta_kubernetes_pod_name")), "/",
                                   Av(*t.Get("__meta_kubernetes_pod_container_name")));
      if (!t.Has("__meta_kubernetes_pod_ip")) s += "(path)";
      out.push_back(s);
    }
    return out;
  }
  std::vector<LabelSet> Targets() {
    std::lock_guard<std::mutex> lock(mu_);
    return targets_;
  }

  // Waits (bounded) until `pred` holds for the exported names.
  bool WaitNames(std::function<bool(const std::vector<std::string>&)> pred,
                 absl::Duration timeout = absl::Seconds(10)) {
    auto deadline = SteadyNow() + absl::ToChronoNanoseconds(timeout);
    while (SteadyNow() < deadline) {
      if (pred(Names())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pred(Names());
  }
  bool WaitCounter(std::string_view name, uint64_t at_least,
                   absl::Duration timeout = absl::Seconds(10)) {
    auto deadline = SteadyNow() + absl::ToChronoNanoseconds(timeout);
    MetricLabels l = {{"component_id", "discovery.kubelet.pods"}};
    while (SteadyNow() < deadline) {
      if (metrics_.CounterValue(name, l) >= at_least) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  static auto Has(std::string name) {
    return [name](const std::vector<std::string>& v) {
      return std::find(v.begin(), v.end(), name) != v.end();
    };
  }

  sluice::testing::TestPki pki_;
  sluice::testing::TempDir dir_;
  std::unique_ptr<FakeKube> kube_;
  MetricsRegistry metrics_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  std::thread io_thread_;
  std::unique_ptr<PodDiscovery> disc_;
  std::unique_ptr<NodeDiscovery> nodes_;
  std::mutex mu_;
  std::vector<LabelSet> targets_;
  std::vector<std::vector<LabelSet>> nonempty_;  // every non-empty publish, in order
  int publishes_ = 0;
};

TEST_F(PodDiscoveryTest, ExportsKubeletPodsOverHttpsWithTheTokenFile) {
  FakePod web = sluice::testing::MakeDeploymentPod("shop", "web", "node-1", "10.1.0.5");
  web.uid = "uid-web";
  FakePod pending = sluice::testing::MakePendingPod("shop", "later", "node-1");
  kube_->SetPods({web, pending});
  StartDiscovery(KubeletOptions());
  ASSERT_TRUE(WaitNames(Has(web.name + "/web")));
  EXPECT_THAT(Names(), ElementsAre(web.name + "/web"));  // the pod without IP: no target
  EXPECT_EQ(kube_->last_authorization(), "Bearer token-1");
  LabelSet t = Targets()[0];
  EXPECT_EQ(*t.Get("__meta_kubernetes_pod_label_app_kubernetes_io_name"), "web");
  EXPECT_EQ(*t.Get("__meta_kubernetes_pod_uid"), web.uid);
  EXPECT_EQ(*t.Get("__address__"), "10.1.0.5:8080");
  EXPECT_EQ(metrics_.CounterValue("sluice_kubelet_refresh_errors_total",
                                  {{"component_id", "discovery.kubelet.pods"}}),
            0u);
}

TEST_F(PodDiscoveryTest, RotatedTokenIsReadAtTheNextRequest) {
  kube_->SetPods({sluice::testing::MakeDeploymentPod("shop", "web", "node-1", "10.1.0.5")});
  StartDiscovery(KubeletOptions());
  ASSERT_TRUE(kube_->WaitForRequests("/pods", 1, absl::Seconds(10)));
  // The kubelet now only takes the new token; the file is replaced as kubelet's projected
  // volumes do (a new file renamed over the old one).
  kube_->SetBearerToken("token-2");
  WriteFile(dir_.Join("token.new"), "token-2\n");
  std::filesystem::rename(dir_.Join("token.new"), dir_.Join("token"));
  size_t before = kube_->request_count("/pods");
  ASSERT_TRUE(kube_->WaitForRequests("/pods", before + 2, absl::Seconds(10)));
  EXPECT_EQ(kube_->last_authorization(), "Bearer token-2");
}

TEST_F(PodDiscoveryTest, KubeletDownThenUpKeepsTargetsAndCountsErrors) {
  FakePod web = sluice::testing::MakeDeploymentPod("shop", "web", "node-1", "10.1.0.5");
  kube_->SetPods({web});
  PodDiscoveryOptions o = KubeletOptions();
  o.index.grace_period = absl::Hours(1);
  StartDiscovery(o);
  ASSERT_TRUE(WaitNames(Has(web.name + "/web")));
  ASSERT_TRUE(kube_->SetDown(true).ok());
  ASSERT_TRUE(WaitCounter("sluice_kubelet_refresh_errors_total", 2));
  // A failed refresh changes nothing: the last pods stay known.
  EXPECT_THAT(Names(), ElementsAre(web.name + "/web"));
  EXPECT_EQ(
      metrics_.GetGauge("sluice_kubelet_up", "", {{"component_id", "discovery.kubelet.pods"}})
          ->value(),
      0);
  FakePod db = sluice::testing::MakeDeploymentPod("shop", "db", "node-1", "10.1.0.6");
  kube_->SetPods({web, db});
  ASSERT_TRUE(kube_->SetDown(false).ok());
  // Backoff starts at 1s and doubles: back within a few seconds.
  ASSERT_TRUE(WaitNames(Has(db.name + "/db"), absl::Seconds(15)));
  EXPECT_EQ(
      metrics_.GetGauge("sluice_kubelet_up", "", {{"component_id", "discovery.kubelet.pods"}})
          ->value(),
      1);
}

TEST_F(PodDiscoveryTest, PodChurnWithGracePeriod) {
  FakePod a = sluice::testing::MakeDeploymentPod("shop", "web", "node-1", "10.1.0.5", 1);
  FakePod b = sluice::testing::MakeDeploymentPod("shop", "web", "node-1", "10.1.0.7", 2);
  kube_->SetPods({a});
  PodDiscoveryOptions o = KubeletOptions();
  o.index.grace_period = absl::Milliseconds(600);
  StartDiscovery(o);
  ASSERT_TRUE(WaitNames(Has(a.name + "/web")));
  kube_->SetPods({b});  // a rolling update: a replaced by b
  ASSERT_TRUE(WaitNames(Has(b.name + "/web")));
  // a stays for its grace period, then goes.
  EXPECT_TRUE(Has(a.name + "/web")(Names()));
  ASSERT_TRUE(WaitNames([&](const auto& v) { return !Has(a.name + "/web")(v); }));
  EXPECT_THAT(Names(), ElementsAre(b.name + "/web"));
}

TEST_F(PodDiscoveryTest, NewPodDirectoryRefreshesAtOnceAndUnknownPodFallsBackToPath) {
  PodDiscoveryOptions o = KubeletOptions();
  o.refresh_interval = absl::Hours(1);  // only the directory can make it ask again
  o.index.unknown_pod_wait = absl::Milliseconds(500);
  kube_->SetPods({});
  StartDiscovery(o);
  ASSERT_TRUE(kube_->WaitForRequests("/pods", 1, absl::Seconds(10)));
  // A pod starts: the kubelet knows it by the time its directory appears.
  FakePod web = sluice::testing::MakeDeploymentPod("shop", "web", "node-1", "10.1.0.5");
  web.uid = "uid-web";
  kube_->SetPods({web});
  std::filesystem::create_directories(
      dir_.Join(absl::StrCat("pods/shop_", web.name, "_", web.uid, "/web")));
  ASSERT_TRUE(WaitNames(Has(web.name + "/web")))
      << kube_->request_count("/pods") << " " << ::testing::PrintToString(Names());
  EXPECT_GE(kube_->request_count("/pods"), 2u);
  // A directory the kubelet never reports: after the wait, a target from its path.
  std::filesystem::create_directories(dir_.Join("pods/batch_job-x_uid-zzz/main"));
  ASSERT_TRUE(WaitNames(Has("job-x/main(path)")));
  LabelSet path_only;
  for (const LabelSet& t : Targets()) {
    if (*t.Get("__meta_kubernetes_pod_name") == "job-x") path_only = t;
  }
  EXPECT_EQ(*path_only.Get("__meta_kubernetes_namespace"), "batch");
  EXPECT_EQ(*path_only.Get("__meta_kubernetes_pod_uid"), "uid-zzz");
  EXPECT_TRUE(WaitCounter("sluice_kubelet_path_only_targets_total", 1));
  // It becomes known: the same container gets its full labels.
  FakePod job;
  job.ns = "batch";
  job.name = "job-x";
  job.uid = "uid-zzz";
  job.node_name = "node-1";
  job.pod_ip = "10.1.0.9";
  job.containers.push_back({"main", "busybox", "containerd://1", {}});
  kube_->SetPods({web, job});
  // (The next refresh, here made by another pod's directory, tells.)
  std::filesystem::create_directories(dir_.Join("pods/batch_job-y_uid-yyy/main"));
  ASSERT_TRUE(WaitNames(Has("job-x/main")));
  EXPECT_FALSE(Has("job-x/main(path)")(Names()));
}

TEST_F(PodDiscoveryTest, ApiServerListWithSelectorsAndNodeMetadata) {
  FakePod mine = sluice::testing::MakeDeploymentPod("shop", "web", "node-1", "10.1.0.5");
  FakePod other = sluice::testing::MakeDeploymentPod("shop", "db", "node-2", "10.1.0.6");
  kube_->SetPods({mine, other});
  kube_->SetNodes({{"node-1", {{"topology.kubernetes.io/zone", "eu-1a"}}, {}, ""}});
  PodDiscoveryOptions o;
  o.component_id = "discovery.kubelet.pods";
  o.apiserver = Endpoint();
  o.refresh_interval = absl::Milliseconds(200);
  o.field_selector = "spec.nodeName=node-1";
  o.label_selector = "app.kubernetes.io/name in (web,db)";
  o.attach_node = true;
  o.node_name = "node-1";
  o.index.flavor = TargetFlavor::kKubernetes;
  StartDiscovery(o);
  ASSERT_TRUE(WaitNames(Has(mine.name + "/web")));
  EXPECT_THAT(Names(), ElementsAre(mine.name + "/web"));
  EXPECT_EQ(*Targets()[0].Get("__meta_kubernetes_node_label_topology_kubernetes_io_zone"), "eu-1a");
  bool saw_selectors = false;
  for (const auto& r : kube_->Requests()) {
    if (r.path != "/api/v1/pods") continue;
    saw_selectors = r.params.count("fieldSelector") &&
                    r.params.at("fieldSelector") == "spec.nodeName=node-1" &&
                    r.params.at("labelSelector") == "app.kubernetes.io/name in (web,db)" &&
                    r.params.at("resourceVersion") == "0";
  }
  EXPECT_TRUE(saw_selectors);
}

TEST_F(PodDiscoveryTest, ApiServerWatchFollowsChangesAndRelistsWhenTheVersionExpires) {
  FakePod a = sluice::testing::MakeDeploymentPod("shop", "web", "node-1", "10.1.0.5", 1);
  FakePod other = sluice::testing::MakeDeploymentPod("shop", "db", "node-2", "10.1.0.6");
  kube_->SetPods({a, other});
  PodDiscoveryOptions o;
  o.component_id = "discovery.kubelet.pods";
  o.apiserver = Endpoint();
  o.refresh_interval = absl::Hours(1);  // nothing but the watch can tell
  o.field_selector = "spec.nodeName=node-1";
  o.watch = true;
  o.index.flavor = TargetFlavor::kKubernetes;
  o.index.grace_period = absl::ZeroDuration();
  StartDiscovery(o);
  ASSERT_TRUE(WaitNames(Has(a.name + "/web")));
  ASSERT_TRUE(kube_->WaitForWatches(1, absl::Seconds(10)));
  FakePod b = sluice::testing::MakeDeploymentPod("shop", "web", "node-1", "10.1.0.7", 2);
  kube_->UpsertPod(b);
  ASSERT_TRUE(WaitNames(Has(b.name + "/web")));
  ASSERT_TRUE(kube_->DeletePod("shop", a.name));
  ASSERT_TRUE(WaitNames([&](const auto& v) { return !Has(a.name + "/web")(v); }));
  EXPECT_THAT(Names(), ElementsAre(b.name + "/web"));
  EXPECT_EQ(kube_->request_count("/api/v1/pods") - kube_->watches_started(), 1u);  // one list
  // The server ends the watch: watched again from the last version, no new list.
  kube_->CloseWatches();
  ASSERT_TRUE(kube_->WaitForWatches(1, absl::Seconds(10)));
  FakePod c = sluice::testing::MakeDeploymentPod("shop", "web", "node-1", "10.1.0.8", 3);
  kube_->UpsertPod(c);
  ASSERT_TRUE(WaitNames(Has(c.name + "/web")));
  // Its history compacted past the last version the agent saw (a change on another node, which
  // its selector filtered out), the next watch gets 410 Gone: listed again.
  size_t lists = kube_->request_count("/api/v1/pods") - kube_->watches_started();
  other.pod_ip = "10.1.0.66";
  kube_->UpsertPod(other);
  kube_->CompactHistory();
  kube_->CloseWatches();
  FakePod d = sluice::testing::MakeDeploymentPod("shop", "web", "node-1", "10.1.0.9", 4);
  kube_->UpsertPod(d);
  ASSERT_TRUE(WaitNames(Has(d.name + "/web")));
  EXPECT_GT(kube_->request_count("/api/v1/pods") - kube_->watches_started(), lists);
  EXPECT_EQ(metrics_.CounterValue("sluice_kubelet_refresh_errors_total",
                                  {{"component_id", "discovery.kubelet.pods"}}),
            0u);
}

TEST_F(PodDiscoveryTest, KubeletThatNeverAnswersHandsOverToTheApiServer) {
  FakePod mine = sluice::testing::MakeDeploymentPod("shop", "web", "node-1", "10.1.0.5");
  kube_->SetPods({mine});
  PodDiscoveryOptions o;
  o.component_id = "discovery.kubelet.pods";
  o.kubelet = Endpoint();
  o.kubelet->base_url = "https://127.0.0.1:1";  // nothing listens there
  o.apiserver = Endpoint();
  o.refresh_interval = absl::Milliseconds(100);
  o.fields = *FieldSelector::Parse("spec.nodeName=node-1");
  o.field_selector = "spec.nodeName=node-1";
  o.index.flavor = TargetFlavor::kKubernetes;
  StartDiscovery(o);
  // Three failures, with backoff 1s then 2s, then the API server.
  ASSERT_TRUE(WaitNames(Has(mine.name + "/web"), absl::Seconds(20)));
  EXPECT_GE(kube_->request_count("/api/v1/pods"), 1u);
  EXPECT_GE(metrics_.CounterValue("sluice_kubelet_refresh_errors_total",
                                  {{"component_id", "discovery.kubelet.pods"}}),
            3u);
}

// discovery.kubernetes role "node": the node list+watch with the node selectors, one target per
// node as Prometheus' node role builds it, kept current by the watch.
TEST_F(PodDiscoveryTest, NodeRoleListsAndWatchesTheSelectedNodes) {
  FakeNode a{"node-a",
             {{"pool", "logs"}, {"topology.kubernetes.io/zone", "eu-1a"}},
             {{"node.alpha.kubernetes.io/ttl", "0"}},
             "10.0.0.11"};
  a.provider_id = "kind://docker/kind/node-a";
  a.conditions = {{"Ready", "True"}, {"DiskPressure", "False"}};
  FakeNode b{"node-b", {{"pool", "logs"}}, {}, ""};
  b.addresses =
      Addresses{{"Hostname", "node-b"}, {"ExternalIP", "203.0.113.5"}, {"InternalIP", "fd00::b"}};
  b.kubelet_port = 10255;
  FakeNode other{"node-c", {{"pool", "batch"}}, {}, ""};    // not selected by label
  FakeNode cordoned{"node-d", {{"pool", "logs"}}, {}, ""};  // not selected by field
  cordoned.unschedulable = true;
  kube_->SetNodes({a, b, other, cordoned});
  NodeDiscoveryOptions o;
  o.component_id = "discovery.kubernetes.nodes";
  o.apiserver = Endpoint();
  o.label_selector = "pool in (logs)";
  o.field_selector = "spec.unschedulable=false";
  StartNodes(o);
  ASSERT_TRUE(WaitTargets([](const auto& t) { return t.size() == 2; }));
  std::map<std::string, LabelSet> by = NodeTargets();
  std::map<std::string, std::string> want = {
      {"__address__", "10.0.0.11:10250"},
      {"instance", "node-a"},
      {"__meta_kubernetes_node_name", "node-a"},
      {"__meta_kubernetes_node_provider_id", "kind://docker/kind/node-a"},
      {"__meta_kubernetes_node_condition_ready", "true"},
      {"__meta_kubernetes_node_condition_diskpressure", "false"},
      {"__meta_kubernetes_node_address_InternalIP", "10.0.0.11"},
      {"__meta_kubernetes_node_address_Hostname", "node-a"},
      {"__meta_kubernetes_node_label_pool", "logs"},
      {"__meta_kubernetes_node_labelpresent_pool", "true"},
      {"__meta_kubernetes_node_label_topology_kubernetes_io_zone", "eu-1a"},
      {"__meta_kubernetes_node_labelpresent_topology_kubernetes_io_zone", "true"},
      {"__meta_kubernetes_node_annotation_node_alpha_kubernetes_io_ttl", "0"},
      {"__meta_kubernetes_node_annotationpresent_node_alpha_kubernetes_io_ttl", "true"},
  };
  const auto& node_a = by["node-a"].labels();
  EXPECT_EQ((std::map<std::string, std::string>(node_a.begin(), node_a.end())), want);
  // InternalIP before ExternalIP and Hostname, bracketed: an IPv6 address.
  EXPECT_EQ(Label(by["node-b"], "__address__"), "[fd00::b]:10255");
  EXPECT_EQ(Label(by["node-b"], "__meta_kubernetes_node_address_ExternalIP"), "203.0.113.5");
  EXPECT_EQ(Label(by["node-b"], "__meta_kubernetes_node_provider_id"), "");
  // The selectors went to the API server, on the list and on the watch.
  ASSERT_TRUE(kube_->WaitForWatches(1, absl::Seconds(10)));
  int lists = 0, watches = 0;
  for (const auto& r : kube_->Requests()) {
    if (r.path != "/api/v1/nodes") continue;
    EXPECT_EQ(r.params.at("labelSelector"), "pool in (logs)");
    EXPECT_EQ(r.params.at("fieldSelector"), "spec.unschedulable=false");
    if (r.watch) {
      ++watches;
      EXPECT_EQ(r.params.at("allowWatchBookmarks"), "true");
    } else {
      ++lists;
      EXPECT_EQ(r.params.at("resourceVersion"), "0");
    }
  }
  EXPECT_EQ(lists, 1);
  EXPECT_EQ(watches, 1);

  // Watched: a node joins, another leaves, one changes.
  FakeNode e{"node-e", {{"pool", "logs"}}, {}, "10.0.0.15"};
  kube_->UpsertNode(e);
  ASSERT_TRUE(kube_->DeleteNode("node-b"));
  a.labels["topology.kubernetes.io/zone"] = "eu-1b";
  kube_->UpsertNode(a);
  ASSERT_TRUE(WaitTargets([&](const auto&) {
    auto now = NodeTargets();
    return now.size() == 2 && now.count("node-e") &&
           Label(now["node-a"], "__meta_kubernetes_node_label_topology_kubernetes_io_zone") ==
               "eu-1b";
  }));
  // A node that loses its addresses keeps its target (Prometheus sends nothing for it); one
  // that never had any has none. Both are counted.
  a.addresses = Addresses{};
  kube_->UpsertNode(a);
  FakeNode bare{"node-f", {{"pool", "logs"}}, {}, ""};
  bare.addresses = Addresses{};
  kube_->UpsertNode(bare);
  MetricLabels l = {{"component_id", "discovery.kubernetes.nodes"}};
  auto deadline = SteadyNow() + absl::ToChronoNanoseconds(absl::Seconds(10));
  while (CounterOf("sluice_kubernetes_nodes_without_address_total", l) < 2 &&
         SteadyNow() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(CounterOf("sluice_kubernetes_nodes_without_address_total", l), 2u);
  by = NodeTargets();
  EXPECT_EQ(by.size(), 2u);
  EXPECT_EQ(Label(by["node-a"], "__address__"), "10.0.0.11:10250");

  // The watch's version compacted away: 410, listed again, no failure.
  kube_->CompactHistory();
  kube_->CloseWatches();
  kube_->UpsertNode(FakeNode{"node-g", {{"pool", "logs"}}, {}, "10.0.0.17"});
  ASSERT_TRUE(WaitTargets([&](const auto&) { return NodeTargets().count("node-g") > 0; }));
  EXPECT_EQ(CounterOf("sluice_kubernetes_watch_failures_total",
                      {{"component_id", "discovery.kubernetes.nodes"}, {"resource", "nodes"}}),
            0u);
  OnIo([this] { EXPECT_EQ(nodes_->Unhealthy(), std::nullopt); });
}

TEST_F(PodDiscoveryTest, NodeRoleRetriesAFailedListAndCountsIt) {
  kube_->SetNodes({FakeNode{"node-a", {}, {}, "10.0.0.11"}});
  kube_->FailNext(2, 403, "/api/v1/nodes");
  NodeDiscoveryOptions o;
  o.component_id = "discovery.kubernetes.nodes";
  o.apiserver = Endpoint();
  StartNodes(o);
  MetricLabels l = {{"component_id", "discovery.kubernetes.nodes"}, {"resource", "nodes"}};
  auto deadline = SteadyNow() + absl::ToChronoNanoseconds(absl::Seconds(10));
  while (CounterOf("sluice_kubernetes_watch_failures_total", l) < 1 && SteadyNow() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::optional<std::string> unhealthy;
  OnIo([&] { unhealthy = nodes_->Unhealthy(); });
  ASSERT_TRUE(unhealthy.has_value());
  EXPECT_THAT(*unhealthy, ::testing::HasSubstr("watching nodes failed: error response from API "
                                               "server: 403 Forbidden"));
  // Backoff 1s, then 2s: the third list works.
  ASSERT_TRUE(WaitTargets([](const auto& t) { return t.size() == 1; }, absl::Seconds(15)));
  EXPECT_EQ(CounterOf("sluice_kubernetes_watch_failures_total", l), 2u);
  EXPECT_EQ(metrics_.GetGauge("sluice_kubernetes_watch_up", "", l)->value(), 1);
  OnIo([&] { unhealthy = nodes_->Unhealthy(); });
  EXPECT_EQ(unhealthy, std::nullopt);
}

// attach_metadata { namespace = true }: every pod target carries its namespace's labels and
// annotations from the first publish on, and follows their changes.
TEST_F(PodDiscoveryTest, AttachNamespaceMetadataFollowsTheNamespaces) {
  FakePod web = sluice::testing::MakeDeploymentPod("shop", "web", "node-1", "10.1.0.5");
  FakePod dns = sluice::testing::MakeDeploymentPod("kube-system", "coredns", "node-1", "10.1.0.6");
  kube_->SetPods({web, dns});
  kube_->SetNamespaces(
      {{"shop", {{"team", "payments"}}, {{"example.com/owner", "bob"}}}, {"kube-system", {}, {}}});
  PodDiscoveryOptions o;
  o.component_id = "discovery.kubernetes.pods";
  o.apiserver = Endpoint();
  o.watch = true;
  o.attach_namespace = true;
  o.index.flavor = TargetFlavor::kKubernetes;
  o.index.grace_period = absl::ZeroDuration();
  StartDiscovery(o);
  ASSERT_TRUE(WaitNames([&](const auto& v) { return v.size() == 2; }));
  auto by_pod = [&] {
    std::map<std::string, LabelSet> out;
    for (LabelSet& t : Targets()) out[std::string(*t.Get("__meta_kubernetes_pod_name"))] = t;
    return out;
  };
  auto pods = by_pod();
  const LabelSet& w = pods[web.name];
  EXPECT_EQ(Label(w, "__meta_kubernetes_namespace"), "shop");
  EXPECT_EQ(Label(w, "__meta_kubernetes_namespace_label_team"), "payments");
  EXPECT_EQ(Label(w, "__meta_kubernetes_namespace_labelpresent_team"), "true");
  EXPECT_EQ(Label(w, "__meta_kubernetes_namespace_label_kubernetes_io_metadata_name"), "shop");
  EXPECT_EQ(Label(w, "__meta_kubernetes_namespace_annotation_example_com_owner"), "bob");
  EXPECT_EQ(Label(w, "__meta_kubernetes_namespace_annotationpresent_example_com_owner"), "true");
  const LabelSet& d = pods[dns.name];
  EXPECT_EQ(Label(d, "__meta_kubernetes_namespace_label_kubernetes_io_metadata_name"),
            "kube-system");
  EXPECT_EQ(Label(d, "__meta_kubernetes_namespace_label_team"), "<absent>");
  {
    // The first targets published already had them: the namespaces were waited for.
    std::lock_guard<std::mutex> lock(mu_);
    ASSERT_FALSE(nonempty_.empty());
    EXPECT_TRUE(nonempty_.front()
                    .front()
                    .Get("__meta_kubernetes_namespace_label_kubernetes_io_metadata_name")
                    .has_value());
  }
  // Namespaces are listed and watched whole: no selectors.
  ASSERT_TRUE(kube_->WaitForWatches(2, absl::Seconds(10)));
  for (const auto& r : kube_->Requests()) {
    if (r.path != "/api/v1/namespaces") continue;
    EXPECT_EQ(r.params.count("labelSelector"), 0u);
    EXPECT_EQ(r.params.count("fieldSelector"), 0u);
  }
  // A namespace relabelled: its pods' targets follow.
  kube_->UpsertNamespace({"shop", {{"team", "checkout"}}, {}});
  ASSERT_TRUE(WaitTargets([&](const auto&) {
    auto now = by_pod();
    return Label(now[web.name], "__meta_kubernetes_namespace_label_team") == "checkout" &&
           Label(now[web.name], "__meta_kubernetes_namespace_annotation_example_com_owner") ==
               "<absent>";
  }));
  EXPECT_EQ(CounterOf("sluice_kubernetes_watch_failures_total",
                      {{"component_id", "discovery.kubernetes.pods"}, {"resource", "namespaces"}}),
            0u);
}

// Namespaces that cannot be listed hold the targets back for the unknown-pod wait at most: then
// they go out without the namespace labels, which come once the namespaces can be listed.
TEST_F(PodDiscoveryTest, AttachNamespaceMetadataNeverHoldsTargetsBackLongerThanTheWait) {
  FakePod web = sluice::testing::MakeDeploymentPod("shop", "web", "node-1", "10.1.0.5");
  kube_->SetPods({web});
  kube_->SetNamespaces({{"shop", {{"team", "payments"}}, {}}});
  kube_->FailNext(-1, 403, "/api/v1/namespaces");
  PodDiscoveryOptions o;
  o.component_id = "discovery.kubernetes.pods";
  o.apiserver = Endpoint();
  o.watch = true;
  o.attach_namespace = true;
  o.index.flavor = TargetFlavor::kKubernetes;
  o.index.unknown_pod_wait = absl::Milliseconds(700);
  absl::Time start = absl::Now();
  StartDiscovery(o);
  ASSERT_TRUE(WaitNames(Has(web.name + "/web")));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(600));
  EXPECT_EQ(Label(Targets()[0], "__meta_kubernetes_namespace_label_team"), "<absent>");
  MetricLabels l = {{"component_id", "discovery.kubernetes.pods"}, {"resource", "namespaces"}};
  EXPECT_GE(CounterOf("sluice_kubernetes_watch_failures_total", l), 1u);
  std::optional<std::string> unhealthy;
  OnIo([&] { unhealthy = disc_->Unhealthy(); });
  ASSERT_TRUE(unhealthy.has_value());
  EXPECT_THAT(*unhealthy, ::testing::HasSubstr("watching namespaces failed"));
  kube_->ClearFaults();
  ASSERT_TRUE(WaitTargets(
      [&](const auto& t) {
        return t.size() == 1 && Label(t[0], "__meta_kubernetes_namespace_label_team") == "payments";
      },
      absl::Seconds(15)));
}

// kubeconfig_file: the current context's cluster and user, data fields decoded, relative
// paths from the file's directory, plugins refused.
TEST(KubeconfigTest, CurrentContextClusterAndUser) {
  sluice::testing::TempDir dir;
  sluice::testing::WriteFile(dir.Join("kc.yaml"), R"(apiVersion: v1
kind: Config
current-context: b
contexts:
- name: a
  context: {cluster: one, user: u1}
- name: b
  context:
    cluster: two
    user: u2
clusters:
- name: one
  cluster: {server: "https://one:6443"}
- name: two
  cluster:
    server: https://two:6443/
    certificate-authority-data: Q0EtUEVN
    tls-server-name: api.two
users:
- name: u1
  user: {token: t1}
- name: u2
  user:
    tokenFile: secrets/token
    client-certificate-data: Q0VSVA==
    client-key: keys/k.pem
)");
  absl::StatusOr<KubeEndpoint> ep = LoadKubeconfig(dir.Join("kc.yaml"));
  ASSERT_TRUE(ep.ok()) << ep.status();
  EXPECT_EQ(ep->base_url, "https://two:6443");
  EXPECT_EQ(ep->http.tls.ca_pem, "CA-PEM");
  EXPECT_EQ(ep->http.tls.server_name, "api.two");
  EXPECT_EQ(ep->http.tls.cert_pem, "CERT");
  EXPECT_EQ(ep->http.tls.key_file, dir.Join("keys/k.pem"));
  ASSERT_TRUE(ep->http.authorization.has_value());
  EXPECT_EQ(ep->http.authorization->credentials_file, dir.Join("secrets/token"));

  sluice::testing::WriteFile(dir.Join("exec.yaml"), R"(current-context: a
contexts: [{name: a, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "https://c"}}]
users: [{name: u, user: {exec: {command: aws}}}]
)");
  EXPECT_THAT(std::string(LoadKubeconfig(dir.Join("exec.yaml")).status().message()),
              ::testing::HasSubstr("exec or auth-provider plugin"));
  sluice::testing::WriteFile(dir.Join("bad.yaml"), "current-context: x\n");
  EXPECT_THAT(std::string(LoadKubeconfig(dir.Join("bad.yaml")).status().message()),
              ::testing::HasSubstr("context \"x\" not found"));
}

}  // namespace
}  // namespace sluice::metadata
