// End-to-end tests of `sluice run|validate|fmt`: the real binary runs the example configurations
// of config/ against the in-process Loki-protocol receiver.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <snappy.h>
#include <stdlib.h>
#include <zlib.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "push.pb.h"
#include "tests/support/compress.h"
#include "tests/support/fake_kube.h"
#include "tests/support/fake_loki.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_certs.h"

namespace sluice {
namespace {

using ::sluice::testing::AppendFile;
using ::sluice::testing::FakeLoki;
using ::sluice::testing::Gzip;
using ::sluice::testing::ReadFile;
using ::sluice::testing::Subprocess;
using ::sluice::testing::TempDir;
using ::sluice::testing::WriteFile;
using ::testing::HasSubstr;

std::string Config(const std::string& name) {
  return absl::StrCat(SLUICE_SOURCE_DIR, "/config/", name);
}

std::string CriLine(const std::string& text, int seq, const char* stream = "stdout",
                    const char* tag = "F") {
  absl::Time t = absl::Now() - absl::Minutes(1) + absl::Milliseconds(seq);
  return absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", t, absl::UTCTimeZone()), " ", stream,
                      " ", tag, " ", text, "\n");
}

class RunE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(loki_.Start().ok()); }
  void TearDown() override {
    if (agent_ && agent_->running()) {
      agent_->Signal(SIGKILL);
      agent_->Wait(absl::Seconds(10));
    }
    if (HasFailure()) {
      std::fprintf(stderr, "--- agent stderr ---\n%s\n", ReadFile(dir_.Join("agent.err")).c_str());
    }
    loki_.Stop();
    for (const std::string& name : env_) unsetenv(name.c_str());
  }
  void Env(const std::string& name, const std::string& value) {
    setenv(name.c_str(), value.c_str(), 1);
    env_.push_back(name);
  }
  void Run(const std::string& config, std::vector<std::string> extra = {}) {
    // A port from the kernel: tests never collide with each other or with a running agent.
    std::vector<std::string> argv = {SLUICE_BINARY,
                                     "run",
                                     config,
                                     "--storage.path",
                                     dir_.Join("state"),
                                     "--server.http.listen-addr",
                                     "127.0.0.1:0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    agent_ = std::make_unique<Subprocess>();
    ASSERT_TRUE(agent_->Start(argv, dir_.Join("agent.out"), dir_.Join("agent.err")));
  }
  int Stop() {
    agent_->Signal(SIGTERM);
    return agent_->Wait(absl::Seconds(30));
  }
  // Runs a command to completion; returns its exit code, with stdout and stderr.
  int RunToEnd(std::vector<std::string> argv, std::string* out, std::string* err) {
    Subprocess p;
    EXPECT_TRUE(p.Start(argv, dir_.Join("cmd.out"), dir_.Join("cmd.err")));
    int rc = p.Wait(absl::Seconds(30));
    *out = ReadFile(dir_.Join("cmd.out"));
    *err = ReadFile(dir_.Join("cmd.err"));
    return rc;
  }

  // The `loki.write "default"` block the configs here end with: the fake Loki, 100 ms batches.
  std::string LokiWrite() {
    return absl::StrCat("loki.write \"default\" {\n  endpoint {\n    url        = \"",
                        loki_.push_url(), "\"\n    batch_wait = \"100ms\"\n  }\n}\n");
  }

  // The shared libraries the running agent has mapped whose file name contains `name`.
  std::vector<std::string> MappedLibraries(const std::string& name) {
    std::vector<std::string> found;
    std::string maps = ReadFile(absl::StrCat("/proc/", agent_->pid(), "/maps"));
    for (absl::string_view line : absl::StrSplit(maps, '\n')) {
      if (absl::StrContains(line, name)) found.emplace_back(line);
    }
    return found;
  }

  TempDir dir_;
  FakeLoki loki_;
  std::unique_ptr<Subprocess> agent_;
  std::vector<std::string> env_;
};

// The DaemonSet pipeline as the chart runs it: the kubelet (fake, HTTPS, service-account token
// and CA from files) lists the node's pods; every file gets its pod's labels; a pod directory the
// kubelet does not report goes out with the labels of its path after the wait.
TEST_F(RunE2eTest, KubernetesPodsConfigLabelsFromTheKubelet) {
  testing::TestPki pki = testing::MakeTestPki();
  testing::FakeKube::Options ko;
  ko.tls = testing::FakeKube::Options::Tls{pki.server_cert_pem, pki.server_key_pem};
  ko.bearer_token = "sa-token";
  testing::FakeKube kube(ko);
  ASSERT_TRUE(kube.Start().ok());
  std::string sa = dir_.Join("serviceaccount");
  std::filesystem::create_directories(sa);
  WriteFile(sa + "/token", "sa-token\n");
  WriteFile(sa + "/ca.crt", pki.ca_cert_pem);

  testing::FakePod cart = testing::MakeDeploymentPod("shop", "cart", "node-1", "10.1.0.5");
  cart.uid = "uid-cart";
  testing::FakePod etcd = testing::MakeStaticPod("kube-system", "etcd", "node-1");
  const std::string etcd_hash = etcd.annotations.at("kubernetes.io/config.mirror");
  testing::FakePod api = testing::MakePodWithInitContainers("shop", "api", "node-1", "10.1.0.6");
  api.uid = "uid-api";
  testing::FakePod pending = testing::MakePendingPod("shop", "later", "node-1");
  kube.SetPods({cart, etcd, api, pending});

  std::string pods = dir_.Join("pods");
  std::string cart_log = absl::StrCat(pods, "/shop_", cart.name, "_uid-cart/cart/0.log");
  std::string etcd_log =
      absl::StrCat(pods, "/kube-system_", etcd.name, "_", etcd_hash, "/etcd/0.log");
  std::string init_log = absl::StrCat(pods, "/shop_", api.name, "_uid-api/init-config/0.log");
  std::string api_log = absl::StrCat(pods, "/shop_", api.name, "_uid-api/api/0.log");
  std::string job_log = pods + "/batch_job-x_uid-unknown/main/0.log";
  for (const std::string& f : {cart_log, etcd_log, init_log, api_log, job_log}) {
    std::filesystem::create_directories(std::filesystem::path(f).parent_path());
  }
  WriteFile(cart_log, CriLine("cart one", 1) + CriLine("cart two ", 2, "stdout", "P") +
                          CriLine("joined", 3) + CriLine("cart err", 4, "stderr"));
  WriteFile(etcd_log, CriLine("etcd one", 1));
  WriteFile(init_log, CriLine("config written", 1));
  WriteFile(api_log, CriLine("api one", 1));
  WriteFile(job_log, CriLine("job one", 1));

  Env("PODS_DIR", pods);
  Env("LOKI_URL", loki_.push_url());
  Env("HOSTNAME", "node-1");
  Env("CLUSTER_NAME", "homelab");
  Env("KUBELET_URL", kube.base_url());
  Env("SERVICE_ACCOUNT_DIR", sa);
  Env("KUBELET_TLS_INSECURE", "false");
  Run(Config("kubernetes-pods.alloy"),
      {"--kubernetes.pods-dir", pods, "--kubernetes.unknown-pod-wait", "2s"});
  using Labels = std::map<std::string, std::string>;
  auto labels = [](Labels l) {
    l["cluster"] = "homelab";
    l["node_name"] = "node-1";
    if (!l.count("stream")) l["stream"] = "stdout";
    return testing::FormatLokiLabels(l);
  };
  std::map<std::string, std::vector<std::string>> want = {
      {labels({{"app", "cart"},
               {"container", "cart"},
               {"filename", cart_log},
               {"job", "shop/cart"},
               {"namespace", "shop"},
               {"pod", cart.name}}),
       {"cart one", "cart two joined"}},
      {labels({{"app", "cart"},
               {"container", "cart"},
               {"filename", cart_log},
               {"job", "shop/cart"},
               {"namespace", "shop"},
               {"pod", cart.name},
               {"stream", "stderr"}}),
       {"cart err"}},
      {labels({{"container", "etcd"},
               {"filename", etcd_log},
               {"job", "kube-system/etcd"},
               {"namespace", "kube-system"},
               {"pod", etcd.name}}),
       {"etcd one"}},
      {labels({{"app", "api"},
               {"container", "init-config"},
               {"filename", init_log},
               {"job", "shop/init-config"},
               {"namespace", "shop"},
               {"pod", api.name}}),
       {"config written"}},
      {labels({{"app", "api"},
               {"container", "api"},
               {"filename", api_log},
               {"job", "shop/api"},
               {"namespace", "shop"},
               {"pod", api.name}}),
       {"api one"}},
      // Unknown to the kubelet: the labels its path gives, after the wait.
      {labels({{"container", "main"},
               {"filename", job_log},
               {"job", "batch/main"},
               {"namespace", "batch"},
               {"pod", "job-x"}}),
       {"job one"}},
  };
  ASSERT_TRUE(loki_.WaitForEntries(7, absl::Seconds(30)));
  // The kubelet (HTTPS, bearer token, CA file) and Loki are direct endpoints: AsioHttpClient
  // serves them and libcurl, with its thirty libraries, is never loaded; nor is libsystemd, which
  // only a loki.source.journal loads.
  EXPECT_THAT(MappedLibraries("libcurl"), ::testing::IsEmpty());
  EXPECT_THAT(MappedLibraries("libsystemd"), ::testing::IsEmpty());
  std::map<std::string, std::vector<std::string>> got;
  for (const auto& st : loki_.Streams()) {
    for (const auto& e : st.entries) got[testing::FormatLokiLabels(st.label_map)].push_back(e.line);
  }
  EXPECT_EQ(got, want);
  EXPECT_GE(kube.request_count("/pods"), 1u);
  EXPECT_EQ(kube.last_authorization(), "Bearer sa-token");

  // A pod that starts later: the kubelet knows it when its directory appears.
  testing::FakePod web = testing::MakeDeploymentPod("shop", "web", "node-1", "10.1.0.7");
  web.uid = "uid-web";
  kube.SetPods({cart, etcd, api, pending, web});
  std::string web_log = absl::StrCat(pods, "/shop_", web.name, "_uid-web/web/0.log");
  std::filesystem::create_directories(std::filesystem::path(web_log).parent_path());
  WriteFile(web_log, CriLine("web one", 1));
  ASSERT_TRUE(loki_.WaitForEntries(8, absl::Seconds(30)));
  bool found = false;
  for (const auto& st : loki_.Streams()) {
    if (st.label_map.count("pod") && st.label_map.at("pod") == web.name) {
      found = true;
      EXPECT_EQ(st.label_map.at("app"), "web");
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(Stop(), 0);

  // Restarted: nothing again, new lines only.
  AppendFile(cart_log, CriLine("cart after restart", 5));
  Run(Config("kubernetes-pods.alloy"),
      {"--kubernetes.pods-dir", pods, "--kubernetes.unknown-pod-wait", "2s"});
  ASSERT_TRUE(loki_.WaitForEntries(9, absl::Seconds(30)));
  EXPECT_EQ(Stop(), 0);
  EXPECT_EQ(loki_.total_entries(), 9u);
  EXPECT_EQ(loki_.duplicates(), 0u);
}

// The kubelet is down when the agent starts: nothing waits for it longer than the wait; the
// files go out with their path's labels, and with the full ones once it answers.
TEST_F(RunE2eTest, KubernetesPodsConfigNeverWaitsOnADownKubelet) {
  testing::FakeKube kube;  // the read-only port: plain HTTP, no token
  ASSERT_TRUE(kube.Start().ok());
  ASSERT_TRUE(kube.SetDown(true).ok());
  testing::FakePod cart = testing::MakeDeploymentPod("shop", "cart", "node-1", "10.1.0.5");
  cart.uid = "uid-cart";
  kube.SetPods({cart});
  std::string pods = dir_.Join("pods");
  std::string log = absl::StrCat(pods, "/shop_", cart.name, "_uid-cart/cart/0.log");
  std::filesystem::create_directories(std::filesystem::path(log).parent_path());
  WriteFile(log, CriLine("before the kubelet", 1));
  Env("PODS_DIR", pods);
  Env("LOKI_URL", loki_.push_url());
  Env("HOSTNAME", "node-1");
  Env("KUBELET_URL", kube.base_url());
  std::string sa = dir_.Join("serviceaccount");
  std::filesystem::create_directories(sa);
  WriteFile(sa + "/token", "unused-on-the-read-only-port\n");
  Env("SERVICE_ACCOUNT_DIR", sa);
  Run(Config("kubernetes-pods.alloy"),
      {"--kubernetes.pods-dir", pods, "--kubernetes.unknown-pod-wait", "1s"});
  ASSERT_TRUE(loki_.WaitForEntries(1, absl::Seconds(30)));
  auto streams = loki_.Streams();
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].label_map.at("pod"), cart.name);
  EXPECT_EQ(streams[0].label_map.count("app"), 0u);  // the path does not know it
  ASSERT_TRUE(kube.SetDown(false).ok());
  // Backoff: 1s, 2s, 4s... the kubelet answers within seconds; then the same file gets `app`.
  ASSERT_TRUE(kube.WaitForRequests("/pods", 1, absl::Seconds(30)));
  // Lines appended from now on get `app` once the new labels reach the tailer: append until one
  // does (each line is still delivered once, labelled one way or the other).
  bool labelled = false;
  size_t sent = 1;
  for (int i = 0; i < 50 && !labelled; ++i) {
    AppendFile(log, CriLine(absl::StrCat("after the kubelet ", i), 2 + i));
    ++sent;
    ASSERT_TRUE(loki_.WaitForEntries(sent, absl::Seconds(30)));
    for (const auto& st : loki_.Streams()) {
      labelled |= st.label_map.count("app") && st.label_map.at("app") == "cart";
    }
  }
  EXPECT_TRUE(labelled);
  EXPECT_EQ(Stop(), 0);
  EXPECT_EQ(loki_.total_entries(), sent);
  EXPECT_EQ(loki_.duplicates(), 0u);
  EXPECT_THAT(ReadFile(dir_.Join("agent.err")), HasSubstr("refreshing the pod list failed"));
}

// discovery.kubernetes from the API server as the k8s-monitoring chart renders it for node-level
// collection: role "node" with a node selector, relabelled into one file per node, and role
// "pod" with attach_metadata { namespace = true }, whose namespace labels decide which pods are
// collected and label their streams. Both are watched: a node that joins later is collected too.
TEST_F(RunE2eTest, KubernetesNodeRoleAndNamespaceMetadataFromTheApiServer) {
  testing::FakeKube kube;
  ASSERT_TRUE(kube.Start().ok());
  using testing::FakeNode;
  kube.SetNodes(
      {FakeNode{
           "node-a", {{"pool", "logs"}, {"topology.kubernetes.io/zone", "eu-1a"}}, {}, "10.0.0.11"},
       FakeNode{
           "node-b", {{"pool", "logs"}, {"topology.kubernetes.io/zone", "eu-1b"}}, {}, "10.0.0.12"},
       FakeNode{"node-x", {{"pool", "gpu"}}, {}, "10.0.0.13"}});
  kube.SetNamespaces(
      {{"shop", {{"logs.example.com/team", "payments"}}, {}}, {"kube-system", {}, {}}});
  testing::FakePod cart = testing::MakeDeploymentPod("shop", "cart", "node-a", "10.1.0.5");
  cart.uid = "uid-cart";
  testing::FakePod dns = testing::MakeDeploymentPod("kube-system", "coredns", "node-b", "10.1.0.6");
  dns.uid = "uid-dns";
  kube.SetPods({cart, dns});

  std::string nodes = dir_.Join("nodes");
  for (const char* n : {"node-a", "node-b", "node-x", "node-c"}) {
    WriteFile(absl::StrCat(nodes, "/", n, ".log"), absl::StrCat("journal of ", n, "\n"));
  }
  std::string pods = dir_.Join("pods");
  std::string cart_log = absl::StrCat(pods, "/shop_", cart.name, "_uid-cart/cart/0.log");
  std::string dns_log = absl::StrCat(pods, "/kube-system_", dns.name, "_uid-dns/coredns/0.log");
  WriteFile(cart_log, "cart one\n");
  WriteFile(dns_log, "dns one\n");

  std::string config = dir_.Join("config.alloy");
  WriteFile(config, R"(discovery.kubernetes "nodes" {
  role       = "node"
  api_server = sys.env("KUBE_URL")
  selectors {
    role  = "node"
    label = "pool=logs"
  }
}

discovery.relabel "nodes" {
  targets = discovery.kubernetes.nodes.targets
  rule {
    source_labels = ["__meta_kubernetes_node_name"]
    target_label  = "__path__"
    replacement   = sys.env("NODE_LOGS") + "/$1.log"
  }
  rule {
    source_labels = ["__meta_kubernetes_node_name"]
    target_label  = "node"
  }
  rule {
    source_labels = ["__meta_kubernetes_node_label_topology_kubernetes_io_zone"]
    target_label  = "zone"
  }
  rule {
    source_labels = ["__address__"]
    target_label  = "kubelet"
  }
}

local.file_match "nodes" {
  path_targets = discovery.relabel.nodes.output
}

loki.source.file "nodes" {
  targets    = local.file_match.nodes.targets
  forward_to = [loki.write.out.receiver]
}

discovery.kubernetes "pods" {
  role       = "pod"
  api_server = sys.env("KUBE_URL")
  attach_metadata {
    namespace = true
  }
}

discovery.relabel "pods" {
  targets = discovery.kubernetes.pods.targets
  rule {
    source_labels = ["__meta_kubernetes_namespace_label_logs_example_com_team"]
    regex         = ""
    action        = "drop"
  }
  rule {
    source_labels = ["__meta_kubernetes_namespace_label_logs_example_com_team"]
    target_label  = "team"
  }
  rule {
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_name"]
    target_label  = "pod"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_uid", "__meta_kubernetes_pod_container_name"]
    separator     = "/"
    target_label  = "__path__"
    replacement   = sys.env("PODS_DIR") + "/*$1/*.log"
  }
}

local.file_match "pods" {
  path_targets = discovery.relabel.pods.output
}

loki.source.file "pods" {
  targets    = local.file_match.pods.targets
  forward_to = [loki.write.out.receiver]
}

loki.write "out" {
  endpoint {
    url        = sys.env("LOKI_URL")
    batch_wait = "100ms"
  }
}
)");
  Env("KUBE_URL", kube.base_url());
  Env("NODE_LOGS", nodes);
  Env("PODS_DIR", pods);
  Env("LOKI_URL", loki_.push_url());
  Run(config, {"--kubernetes.pods-dir", pods});

  using Labels = std::map<std::string, std::string>;
  auto node_labels = [&](const std::string& node, const std::string& zone, const std::string& ip) {
    return testing::FormatLokiLabels(Labels{{"filename", absl::StrCat(nodes, "/", node, ".log")},
                                            {"instance", node},
                                            {"kubelet", ip + ":10250"},
                                            {"node", node},
                                            {"zone", zone}});
  };
  std::map<std::string, std::vector<std::string>> want = {
      {node_labels("node-a", "eu-1a", "10.0.0.11"), {"journal of node-a"}},
      {node_labels("node-b", "eu-1b", "10.0.0.12"), {"journal of node-b"}},
      // kube-system has no team label: its pods are dropped.
      {testing::FormatLokiLabels(Labels{{"filename", cart_log},
                                        {"namespace", "shop"},
                                        {"pod", cart.name},
                                        {"team", "payments"}}),
       {"cart one"}},
  };
  auto got = [&] {
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& st : loki_.Streams()) {
      for (const auto& e : st.entries)
        out[testing::FormatLokiLabels(st.label_map)].push_back(e.line);
    }
    return out;
  };
  ASSERT_TRUE(loki_.WaitForEntries(3, absl::Seconds(30)));
  EXPECT_EQ(got(), want);

  // A node joins the pool: the watch brings it, its file is read.
  kube.UpsertNode(FakeNode{"node-c", {{"pool", "logs"}}, {}, "10.0.0.14"});
  ASSERT_TRUE(loki_.WaitForEntries(4, absl::Seconds(30)));
  want[testing::FormatLokiLabels(Labels{{"filename", absl::StrCat(nodes, "/node-c.log")},
                                        {"instance", "node-c"},
                                        {"kubelet", "10.0.0.14:10250"},
                                        {"node", "node-c"}})] = {"journal of node-c"};
  EXPECT_EQ(got(), want);
  EXPECT_EQ(Stop(), 0);
  EXPECT_EQ(loki_.total_entries(), 4u);
  EXPECT_EQ(loki_.duplicates(), 0u);

  // The node selector went to the API server; the namespaces were listed and watched whole.
  bool node_selector = false, namespaces_watched = false;
  for (const auto& r : kube.Requests()) {
    if (r.path == "/api/v1/nodes") {
      node_selector =
          r.params.count("labelSelector") && r.params.at("labelSelector") == "pool=logs";
    }
    if (r.path == "/api/v1/namespaces" && r.watch) namespaces_watched = true;
  }
  EXPECT_TRUE(node_selector);
  EXPECT_TRUE(namespaces_watched);
}

TEST_F(RunE2eTest, LocalConfigGlobsNestedDirectoriesWithTenant) {
  std::string logs = dir_.Join("logs");
  std::filesystem::create_directories(logs + "/a/b");
  WriteFile(logs + "/top.log", "plain top\n");
  WriteFile(logs + "/a/b/deep.log", "plain deep\n");
  WriteFile(logs + "/a/skip.txt", "not a log\n");
  Env("LOG_DIR", logs);
  Env("LOKI_URL", loki_.push_url());
  Env("LOKI_TENANT", "team-a");
  Run(Config("local-to-loki.alloy"));
  ASSERT_TRUE(loki_.WaitForEntries(2, absl::Seconds(20)));
  EXPECT_EQ(Stop(), 0);
  std::set<std::string> files;
  for (const auto& s : loki_.Streams()) {
    EXPECT_EQ(s.tenant, "team-a");
    EXPECT_EQ(s.label_map.at("job"), "local");
    EXPECT_FALSE(s.label_map.at("host").empty());
    EXPECT_EQ(s.label_map.count("__path__"), 0u);
    files.insert(s.label_map.at("filename"));
  }
  EXPECT_EQ(files, (std::set<std::string>{logs + "/top.log", logs + "/a/b/deep.log"}));
  EXPECT_EQ(loki_.total_entries(), 2u);
}

// A loki.process whose first stage is a plain `stage.cri {}` has its CRI lines parsed by the
// tailer instead (the fast path); what the later stages see must be what stage.cri gives them
// (Alloy's extracted `time`, `flags`, `content`, `stream`, and a joined line's timestamp taken
// from its final piece), exactly as through the stage itself (forced here by an argument).
TEST_F(RunE2eTest, TheTailersCriParsingLeavesWhatStageCriWouldExtract) {
  const std::string content =
      "2026-12-03T10:00:00.123456789Z stdout F hello world\n"
      "2026-12-03T10:00:01.000000000Z stderr P part one, \n"
      "2026-12-03T10:00:02.500000000Z stderr F part two\n";
  for (const char* d : {"/fast/ns_pod_uid/c", "/stage/ns_pod_uid/c"}) {
    std::filesystem::create_directories(dir_.Join(d));
    WriteFile(dir_.Join(d) + "/0.log", content);
  }
  std::string config = dir_.Join("config.alloy");
  std::string body;
  for (const char* name : {"fast", "stage"}) {
    absl::StrAppend(&body, R"(
local.file_match ")",
                    name, R"(" {
  path_targets = [{"__path__" = ")",
                    dir_.Join(name), R"(/*/*/*.log", "job" = ")", name, R"("}]
}
loki.source.file ")",
                    name, R"(" {
  targets    = local.file_match.)",
                    name, R"(.targets
  forward_to = [loki.process.)",
                    name, R"(.receiver]
}
loki.process ")",
                    name, R"(" {
  stage.cri {)",
                    std::string(name) == "stage" ? " max_partial_lines = 100 " : "", R"(}
  stage.template {
    source   = "t"
    template = "{{ .time }}|{{ .flags }}|{{ .stream }}|{{ .content }}|{{ .job }}"
  }
  stage.output { source = "t" }
  forward_to = [loki.write.default.receiver]
}
)");
  }
  absl::StrAppend(&body, "\n", LokiWrite());
  WriteFile(config, body);
  Run(config);
  ASSERT_TRUE(loki_.WaitForEntries(4, absl::Seconds(20)));
  EXPECT_EQ(Stop(), 0);
  std::map<std::string, std::vector<std::string>> got;  // by job: "ts line"
  for (const auto& s : loki_.Streams()) {
    for (const auto& e : s.entries) {
      got[s.label_map.at("job")].push_back(absl::StrCat(e.timestamp_ns, " ", e.line));
    }
  }
  for (auto& [job, lines] : got) std::sort(lines.begin(), lines.end());
  const std::vector<std::string> want_fast = {
      "1796292000123456789 2026-12-03T10:00:00.123456789Z|F|stdout|hello world|fast",
      "1796292002500000000 2026-12-03T10:00:02.500000000Z|F|stderr|part two|fast"};
  EXPECT_EQ(got["fast"], want_fast);
  ASSERT_EQ(got["stage"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    std::string want = want_fast[i];
    want.replace(want.size() - 4, 4, "stage");
    EXPECT_EQ(got["stage"][i], want);
  }
}

// A plain `stage.docker {}` runs as Alloy's stage: each json-file record is one entry (docker's
// 16 KiB pieces are not joined), the log keeps its trailing newline, and the later stages find
// the extracted `output`, `stream` and `timestamp`.
TEST_F(RunE2eTest, StageDockerRunsAsAlloysStage) {
  std::string dir = dir_.Join("pods/ns_pod_uid/c");
  std::filesystem::create_directories(dir);
  WriteFile(dir + "/0.log",
            "{\"log\":\"first piece \",\"stream\":\"stdout\",\"time\":\"2026-12-03T10:00:00.5Z\"}\n"
            "{\"log\":\"second\\n\",\"stream\":\"stderr\",\"time\":\"2026-12-03T10:00:01Z\"}\n");
  std::string config = dir_.Join("config.alloy");
  WriteFile(config, absl::StrCat(R"(
local.file_match "pods" {
  path_targets = [{"__path__" = ")",
                                 dir_.Join("pods"), R"(/*/*/*.log", "job" = "docker"}]
}
loki.source.file "pods" {
  targets    = local.file_match.pods.targets
  forward_to = [loki.process.docker.receiver]
}
loki.process "docker" {
  stage.docker {}
  stage.template {
    source   = "t"
    template = "{{ .timestamp }}|{{ .stream }}|{{ .output }}"
  }
  stage.labels { values = { t = "" } }
  forward_to = [loki.write.default.receiver]
}
)",
                                 LokiWrite()));
  Run(config);
  ASSERT_TRUE(loki_.WaitForEntries(2, absl::Seconds(20)));
  EXPECT_EQ(Stop(), 0);
  std::vector<std::string> got;  // "ts line|label t"
  for (const auto& s : loki_.Streams()) {
    for (const auto& e : s.entries) {
      got.push_back(absl::StrCat(e.timestamp_ns, " ", e.line, "|", s.label_map.at("t")));
    }
  }
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{
                     "1796292000500000000 first piece |2026-12-03T10:00:00.5Z|stdout|first piece ",
                     "1796292001000000000 second\n|2026-12-03T10:00:01Z|stderr|second\n"}));
}

TEST_F(RunE2eTest, ProcessingConfigFeedsTwoEndpointsIndependently) {
  FakeLoki secondary;
  ASSERT_TRUE(secondary.Start().ok());
  std::string app = dir_.Join("app");
  std::filesystem::create_directories(app);
  std::string ts =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now() - absl::Minutes(2), absl::UTCTimeZone());
  WriteFile(
      app + "/checkout.log",
      absl::StrCat(R"({"ts":")", ts,
                   R"(","level":"info","msg":"paid","trace_id":"t1","user":{"id":7}})", "\n",
                   R"({"ts":")", ts, R"(","level":"debug","msg":"noise"})", "\n", R"({"ts":")", ts,
                   R"(","level":"error","msg":"declined","trace_id":"t2"})", "\n"));
  Env("APP_LOG_DIR", app);
  Env("PRIMARY_URL", loki_.push_url());
  Env("SECONDARY_URL", secondary.push_url());
  // The primary holds every request: the secondary must still get everything.
  loki_.StallNext(-1);
  Run(Config("processing-two-endpoints.alloy"));
  ASSERT_TRUE(secondary.WaitForEntries(2, absl::Seconds(20)));
  EXPECT_EQ(loki_.total_entries(), 0u);
  std::vector<std::string> lines = secondary.AllLines();
  EXPECT_THAT(lines, ::testing::UnorderedElementsAre("paid", "declined"));
  for (const auto& s : secondary.Streams()) {
    EXPECT_EQ(s.tenant, "archive");
    EXPECT_EQ(s.label_map.at("env"), "prod");
    EXPECT_EQ(s.label_map.at("service"), "checkout");
    EXPECT_EQ(s.label_map.at("cluster"), "demo");
    EXPECT_EQ(s.label_map.count("trace_id"), 0u);
    ASSERT_EQ(s.entries.size(), 1u);
    const auto& e = s.entries[0];
    std::map<std::string, std::string> meta(e.structured_metadata.begin(),
                                            e.structured_metadata.end());
    if (e.line == "paid") {
      EXPECT_EQ(s.label_map.at("level"), "info");
      EXPECT_EQ(meta["trace_id"], "t1");
      EXPECT_EQ(meta["user_id"], "7");
    } else {
      EXPECT_EQ(s.label_map.at("level"), "error");
      EXPECT_EQ(meta["trace_id"], "t2");
    }
    // stage.timestamp took the line's own time, not the read time.
    EXPECT_LT(e.timestamp_ns, absl::ToUnixNanos(absl::Now() - absl::Seconds(90)));
  }
  loki_.ReleaseStall();
  loki_.ClearFaults();
  ASSERT_TRUE(loki_.WaitForEntries(2, absl::Seconds(30)));
  EXPECT_EQ(Stop(), 0);
  EXPECT_EQ(loki_.AllLines().size(), 2u);
  EXPECT_EQ(loki_.Streams()[0].tenant, "");
  EXPECT_THAT(ReadFile(dir_.Join("agent.err")), HasSubstr("debug_lines"));
  secondary.Stop();
}

// The grafana/alloy chart's container arguments, the top-level blocks its users write, and
// logging.write_to: sluice's own log lines reach Loki as Alloy sends its own, labelled
// {component="alloy"} with the line as written.
TEST_F(RunE2eTest, AlloyChartArgumentsTopLevelBlocksAndLoggingWriteTo) {
  std::string config = dir_.Join("config.alloy");
  WriteFile(config, absl::StrCat(R"(livedebugging {
  enabled = true
}
tracing {
  sampling_fraction = 0.1
}
remotecfg { }
logging {
  level    = "info"
  format   = "json"
  write_to = [loki.write.self.receiver]
}
loki.write "self" {
  endpoint {
    url = ")",
                                 loki_.push_url(), R"("
    batch_wait = "100ms"
  }
}
)"));
  agent_ = std::make_unique<Subprocess>();
  ASSERT_TRUE(agent_->Start(
      {SLUICE_BINARY, "run", config, "--storage.path=" + dir_.Join("state"),
       "--server.http.listen-addr=127.0.0.1:0", "--server.http.ui-path-prefix=/",
       "--disable-reporting", "--stability.level=generally-available", "--cluster.enabled=true",
       "--cluster.join-addresses=alloy-cluster:12345", "--config.format=alloy"},
      dir_.Join("agent.out"), dir_.Join("agent.err")));
  // The started line comes after the tap is installed, the flag and livedebugging warnings
  // before: only the former must arrive.
  ASSERT_TRUE(loki_.WaitForEntries(1, absl::Seconds(20)));
  EXPECT_EQ(Stop(), 0);
  auto streams = loki_.Streams();
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].labels, "{component=\"alloy\"}");
  bool started = false;
  for (const auto& e : streams[0].entries) {
    EXPECT_EQ(e.line.back(), '\n') << "the line as written, newline included";
    EXPECT_EQ(e.line.front(), '{') << "format = json: " << e.line;
    if (e.line.find("\"msg\":\"started\"") != std::string::npos) started = true;
  }
  EXPECT_TRUE(started);
  std::string err = ReadFile(dir_.Join("agent.err"));
  EXPECT_THAT(err, HasSubstr("clustering is not supported"));
  EXPECT_THAT(err, HasSubstr("livedebugging: enabled = true has no effect"));
  EXPECT_THAT(err, ::testing::Not(HasSubstr("ui-path-prefix")));

  // A flag alloy run does not have, and a format sluice does not read, stop at once and point
  // at run's help.
  std::string out;
  EXPECT_EQ(RunToEnd({SLUICE_BINARY, "run", config, "--no-such-flag"}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("unknown option --no-such-flag\nRun 'sluice run --help'"));
  EXPECT_EQ(RunToEnd({SLUICE_BINARY, "run", config, "--config.format=promtail"}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("alloy convert --source-format=promtail"));
}

// Modules as real configurations use them: a feature declare instantiated with its
// destinations (k8s-monitoring's shape), a declare from a git repository (import.git, polled:
// a new commit reloads the graph) and one served over HTTP (import.http). Lines reach Loki with
// the labels the modules' stages add, the positions file sits under the instance's global id.
TEST_F(RunE2eTest, ModulesFromDeclareGitAndHttp) {
  auto sh = [&](const std::string& cmd) {
    std::string out, err;
    return RunToEnd({"/bin/sh", "-c", cmd}, &out, &err);
  };
  std::string repo = dir_.Join("repo");
  auto tagger = [](const std::string& source) {
    return absl::StrCat(R"(declare "tagger" {
  argument "to" { }
  loki.process "t" {
    stage.static_labels {
      values = { source = ")",
                        source, R"(" }
    }
    forward_to = argument.to.value
  }
  export "input" {
    value = loki.process.t.receiver
  }
}
)");
  };
  WriteFile(repo + "/modules/tagger.alloy", tagger("git1"));
  ASSERT_EQ(sh("cd " + repo +
               " && git init -q -b main && git add -A && git -c user.name=t -c "
               "user.email=t@t commit -qm one"),
            0);
  // import.http: a module served by Python's http.server on a port from the kernel.
  std::string www = dir_.Join("www");
  WriteFile(www + "/relay.alloy", R"(declare "relay" {
  argument "to" { }
  loki.relabel "r" {
    rule {
      target_label = "via"
      replacement  = "http"
    }
    forward_to = argument.to.value
  }
  export "input" {
    value = loki.relabel.r.receiver
  }
}
)");
  Subprocess web;
  ASSERT_TRUE(web.Start({"/usr/bin/python3", "-u", "-m", "http.server", "--bind", "127.0.0.1",
                         "--directory", www, "0"},
                        dir_.Join("web.out"), dir_.Join("web.err")));
  std::string port;
  for (int i = 0; i < 200 && port.empty(); ++i) {
    std::string out = ReadFile(dir_.Join("web.out"));
    size_t at = out.find(" port ");
    if (at != std::string::npos) port = out.substr(at + 6, out.find(' ', at + 6) - at - 6);
    if (port.empty()) absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_FALSE(port.empty()) << ReadFile(dir_.Join("web.err"));

  // import.string made of a local.file's content (Alloy's documented shape).
  auto stamper = [](const std::string& stamp) {
    return absl::StrCat(R"(declare "stamper" {
  argument "to" { }
  loki.relabel "s" {
    rule {
      target_label = "stamp"
      replacement  = ")",
                        stamp, R"("
    }
    forward_to = argument.to.value
  }
  export "input" {
    value = loki.relabel.s.receiver
  }
}
)");
  };
  WriteFile(dir_.Join("stamper.alloy"), stamper("v1"));
  std::string logs = dir_.Join("logs");
  WriteFile(logs + "/app.log", "first line\n");
  std::string config = dir_.Join("config.alloy");
  WriteFile(config, absl::StrCat(R"(local.file "stamper" {
  filename       = ")",
                                 dir_.Join("stamper.alloy"), R"("
  poll_frequency = "1s"
}
import.string "stamping" {
  content = local.file.stamper.content
}
import.git "gitmods" {
  repository     = ")",
                                 repo, R"("
  revision       = "main"
  path           = "modules"
  pull_frequency = "1s"
}
import.http "web" {
  url = "http://127.0.0.1:)",
                                 port, R"(/relay.alloy"
}
declare "pod_logs" {
  argument "logs_destinations" {
    comment = "Must be a list of log destinations where collected logs should be forwarded to"
  }
  local.file_match "logs" {
    path_targets = [{"__path__" = ")",
                                 logs, R"(/*.log", "job" = "app"}]
  }
  loki.source.file "logs" {
    targets    = local.file_match.logs.targets
    forward_to = argument.logs_destinations.value
  }
}
pod_logs "feature" {
  logs_destinations = [web.relay.r.input]
}
web.relay "r" {
  to = [stamping.stamper.s.input]
}
stamping.stamper "s" {
  to = [gitmods.tagger.t.input]
}
gitmods.tagger "t" {
  to = [loki.write.default.receiver]
}
)",
                                 LokiWrite()));
  Run(config);
  ASSERT_TRUE(loki_.WaitForEntries(1, absl::Seconds(20)));
  auto streams = loki_.Streams();
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].label_map.at("source"), "git1");
  EXPECT_EQ(streams[0].label_map.at("via"), "http");
  EXPECT_EQ(streams[0].label_map.at("job"), "app");
  EXPECT_EQ(streams[0].label_map.at("stamp"), "v1");
  EXPECT_TRUE(std::filesystem::exists(dir_.Join("state") +
                                      "/pod_logs.feature/loki.source.file.logs/positions.yml"))
      << "positions under the component's global id, as Alloy's data path";

  // The local file changes: the poller reads it again and the graph reloads from the saved
  // positions. Then a new commit does the same.
  auto reloads = [&] {
    std::string err = ReadFile(dir_.Join("agent.err"));
    size_t n = 0;
    for (size_t at = err.find("configuration reloaded"); at != std::string::npos;
         at = err.find("configuration reloaded", at + 1)) {
      ++n;
    }
    return n;
  };
  auto wait_reloads = [&](size_t n) {
    for (int i = 0; i < 300 && reloads() < n; ++i) absl::SleepFor(absl::Milliseconds(50));
    return reloads() >= n;
  };
  WriteFile(dir_.Join("stamper.alloy"), stamper("v2"));
  ASSERT_TRUE(wait_reloads(1));
  AppendFile(logs + "/app.log", "second line\n");
  ASSERT_TRUE(loki_.WaitForEntries(2, absl::Seconds(20)));
  WriteFile(repo + "/modules/tagger.alloy", tagger("git2"));
  ASSERT_EQ(sh("cd " + repo + " && git -c user.name=t -c user.email=t@t commit -qam two"), 0);
  ASSERT_TRUE(wait_reloads(2));
  AppendFile(logs + "/app.log", "third line\n");
  ASSERT_TRUE(loki_.WaitForEntries(3, absl::Seconds(20)));
  EXPECT_EQ(Stop(), 0);
  std::map<std::string, std::string> source_of;
  for (const auto& st : loki_.Streams()) {
    for (const auto& e : st.entries) {
      source_of[e.line] = st.label_map.at("source") + "/" + st.label_map.at("stamp");
    }
  }
  EXPECT_EQ(source_of,
            (std::map<std::string, std::string>{
                {"first line", "git1/v1"}, {"second line", "git1/v2"}, {"third line", "git2/v2"}}));
  EXPECT_EQ(loki_.total_entries(), 3u) << "nothing read twice across the reloads";
}

// A Loki destination as the k8s-monitoring chart renders it: credentials and tenant from a
// Secret (remote.kubernetes.secret; the password stays a secret, the rest goes through
// convert.nonsensitive), an otelcol.exporter.loki nothing feeds, a label from a ConfigMap and a
// header from a local.file. A rotated password is read at the next poll and applied by a reload,
// without losing or repeating a line.
TEST_F(RunE2eTest, DestinationCredentialsFromSecretConfigMapAndLocalFile) {
  testing::FakeKube kube;
  ASSERT_TRUE(kube.Start().ok());
  kube.SetData("secrets", "monitoring", "loki-k8s-monitoring",
               {{"host", loki_.push_url()},
                {"username", "u1"},
                {"password", "s3cr3t-one"},
                {"tenantId", "team-a"}});
  kube.SetData("configmaps", "monitoring", "cluster-info", {{"name", "homelab"}});
  std::string header_file = dir_.Join("header.txt");
  WriteFile(header_file, "from-file");
  std::string logs = dir_.Join("logs");
  WriteFile(logs + "/app.log", "line one\n");
  std::string config = dir_.Join("config.alloy");
  WriteFile(config, absl::StrCat(R"(local.file_match "logs" {
  path_targets = [{"__path__" = ")",
                                 logs, R"(/*.log", "job" = "app"}]
}
loki.source.file "logs" {
  targets    = local.file_match.logs.targets
  forward_to = [loki.write.loki.receiver]
}
// Destination: loki (loki)
otelcol.exporter.loki "loki" {
  forward_to = [loki.write.loki.receiver]
}
local.file "header" {
  filename  = ")",
                                 header_file, R"("
  is_secret = false
}
loki.write "loki" {
  endpoint {
    url       = convert.nonsensitive(remote.kubernetes.secret.loki.data["host"])
    tenant_id = convert.nonsensitive(remote.kubernetes.secret.loki.data["tenantId"])
    headers   = { "X-From-File" = local.file.header.content }
    basic_auth {
      username = convert.nonsensitive(remote.kubernetes.secret.loki.data["username"])
      password = remote.kubernetes.secret.loki.data["password"]
    }
    batch_wait = "100ms"
    tls_config {
      insecure_skip_verify = false
    }
  }
  external_labels = {
    cluster = remote.kubernetes.configmap.cluster.data["name"],
  }
}
remote.kubernetes.secret "loki" {
  name      = "loki-k8s-monitoring"
  namespace = "monitoring"
  poll_frequency = "1s"
  client {
    api_server = ")",
                                 kube.base_url(), R"("
  }
}
remote.kubernetes.configmap "cluster" {
  name      = "cluster-info"
  namespace = "monitoring"
  client {
    kubeconfig_file = ")",
                                 dir_.Join("kubeconfig"), R"("
  }
}
)"));
  // The config map's client from a kubeconfig (the secret's from api_server).
  WriteFile(dir_.Join("kubeconfig"), absl::StrCat(R"(apiVersion: v1
kind: Config
current-context: test
contexts:
- name: test
  context:
    cluster: fake
    user: sa
clusters:
- name: fake
  cluster:
    server: )",
                                                  kube.base_url(), R"(
users:
- name: sa
  user:
    token: kube-token
)"));
  Run(config);
  ASSERT_TRUE(loki_.WaitForEntries(1, absl::Seconds(20)));
  auto streams = loki_.Streams();
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].tenant, "team-a");
  EXPECT_EQ(streams[0].label_map.at("cluster"), "homelab");
  // The fake records a request's metadata after its entries: wait for it.
  ASSERT_TRUE(loki_.WaitForRequests(1, absl::Seconds(20)));
  auto requests = loki_.Requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(requests.back().authorization, "Basic dTE6czNjcjN0LW9uZQ==");  // u1:s3cr3t-one
  bool header = false;
  for (const auto& [k, v] : requests.back().headers)
    header |= k == "X-From-File" && v == "from-file";
  EXPECT_TRUE(header);

  // The password rotates: the next poll sees it, the writer is rebuilt by a reload.
  kube.SetData("secrets", "monitoring", "loki-k8s-monitoring",
               {{"host", loki_.push_url()},
                {"username", "u1"},
                {"password", "s3cr3t-two"},
                {"tenantId", "team-a"}});
  bool reloaded = false;
  for (int i = 0; i < 300 && !reloaded; ++i) {
    reloaded = ReadFile(dir_.Join("agent.err")).find("configuration reloaded") != std::string::npos;
    if (!reloaded) absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(reloaded);
  AppendFile(logs + "/app.log", "line two\n");
  ASSERT_TRUE(loki_.WaitForEntries(2, absl::Seconds(20)));
  EXPECT_EQ(Stop(), 0);
  bool rotated = false;
  for (int i = 0; i < 400 && !rotated; ++i) {
    for (const auto& r : loki_.Requests())
      rotated |= r.authorization == "Basic dTE6czNjcjN0LXR3bw==";
    if (!rotated) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(rotated) << "u1:s3cr3t-two after the rotation";
  EXPECT_EQ(loki_.total_entries(), 2u);
  std::string err = ReadFile(dir_.Join("agent.err"));
  EXPECT_EQ(err.find("s3cr3t"), std::string::npos) << "secret values are never logged";
  kube.Stop();

  // An unreachable secret fails the load and says which; `validate` reads nothing (as alloy
  // validate, it checks a file away from its cluster): the keys used get empty values.
  std::string out;
  EXPECT_EQ(RunToEnd({SLUICE_BINARY, "run", config, "--storage.path", dir_.Join("state2"),
                      "--server.http.listen-addr", "127.0.0.1:0"},
                     &out, &err),
            1);
  EXPECT_THAT(err, HasSubstr("reading secret monitoring/loki-k8s-monitoring"));
  std::filesystem::remove(header_file);
  EXPECT_EQ(RunToEnd({SLUICE_BINARY, "validate", config}, &out, &err), 0) << err;
}

// loki.source.file's decompression and encoding as Alloy's documentation shows them: an archive
// of gzip-compressed logs read whole once, and a UTF-16LE file (Windows tools write them) turned
// into UTF-8; a restart sends nothing twice.
TEST_F(RunE2eTest, CompressedAndUtf16FilesArriveOnceAsUtf8) {
  std::string archive = dir_.Join("archive");
  std::filesystem::create_directories(archive);
  std::string text;
  for (int i = 0; i < 3000; ++i) text += absl::StrCat("level=info gz line ", i, "\n");
  const std::string gz = Gzip(text);
  WriteFile(archive + "/app.log.1.gz", gz);
  std::string wide = "\xFF\xFE";
  for (char ch : std::string("r\xC3\xA9sum\xC3\xA9 windows line\r\n")) {
    // Only ASCII and é (U+00E9) here: UTF-16LE is the byte and a zero.
    if (ch == '\xC3') continue;
    wide.push_back(ch == '\xA9' ? '\xE9' : ch);
    wide.push_back('\0');
  }
  std::string utf16 = dir_.Join("win");
  std::filesystem::create_directories(utf16);
  WriteFile(utf16 + "/service.log", wide);
  std::string config = dir_.Join("files.alloy");
  WriteFile(config, absl::StrCat(R"(
local.file_match "archive" {
  path_targets = [{"__path__" = ")",
                                 archive, R"(/*.gz", "job" = "archive"}]
}
loki.source.file "archive" {
  targets    = local.file_match.archive.targets
  forward_to = [loki.write.default.receiver]
  decompression {
    enabled       = true
    initial_delay = "10ms"
    format        = "gz"
  }
}
local.file_match "windows" {
  path_targets = [{"__path__" = ")",
                                 utf16, R"(/*.log", "job" = "windows"}]
}
loki.source.file "windows" {
  targets    = local.file_match.windows.targets
  forward_to = [loki.write.default.receiver]
  encoding   = "UTF-16LE"
}
loki.write "default" {
  endpoint {
    url = ")",
                                 loki_.push_url(), R"("
  }
}
)"));
  Run(config);
  ASSERT_TRUE(loki_.WaitForEntries(3001, absl::Seconds(30)));
  EXPECT_EQ(Stop(), 0);
  std::vector<std::string> gz_lines, win_lines;
  for (const auto& s : loki_.Streams()) {
    for (const auto& e : s.entries) {
      (s.label_map.at("job") == "archive" ? gz_lines : win_lines).push_back(e.line);
    }
  }
  ASSERT_EQ(gz_lines.size(), 3000u);
  for (int i = 0; i < 3000; ++i) EXPECT_EQ(gz_lines[i], absl::StrCat("level=info gz line ", i));
  EXPECT_THAT(win_lines, ::testing::ElementsAre("r\xC3\xA9sum\xC3\xA9 windows line"));

  // Restarted: the archive was read to its end and the UTF-16 file to its last line.
  Run(config);
  std::string more = "\xFF\xFE";
  for (char ch : std::string("after restart\r\n")) {
    more.push_back(ch);
    more.push_back('\0');
  }
  AppendFile(utf16 + "/service.log", more.substr(2));
  ASSERT_TRUE(loki_.WaitForEntries(3002, absl::Seconds(30)));
  EXPECT_EQ(Stop(), 0);
  EXPECT_EQ(loki_.total_entries(), 3002u) << "nothing read twice";
  bool seen = false;
  for (const auto& s : loki_.Streams()) {
    for (const auto& e : s.entries) seen |= e.line == "after restart";
  }
  EXPECT_TRUE(seen);
}

// loki.source.api as a gateway: ordinary HTTP clients (Python's urllib) push snappy protobuf
// (made with the generated logproto classes), JSON, gzip'd JSON and raw lines; every entry
// reaches Loki once, with the stream's labels, the component's labels, the relabel rules and the
// tenant header applied; a stream whose labels do not parse is answered 400 while the others go.
TEST_F(RunE2eTest, LokiSourceApiReceivesPushesFromOrdinaryClients) {
  std::string config = dir_.Join("api.alloy");
  WriteFile(config, absl::StrCat(R"(loki.relabel "rules" {
  forward_to = []
  rule {
    source_labels = ["job"]
    regex         = "drop-me"
    action        = "drop"
  }
}
loki.source.api "gw" {
  http {
    listen_address = "127.0.0.1"
    listen_port    = 0
  }
  forward_to    = [loki.write.default.receiver]
  labels        = { forwarded = "true" }
  relabel_rules = loki.relabel.rules.rules
  use_incoming_timestamp = true
  max_send_message_size  = "1MiB"
}
)",
                                 LokiWrite()));
  Run(config);
  std::string port;
  for (int i = 0; i < 200 && port.empty(); ++i) {
    std::string err = ReadFile(dir_.Join("agent.err"));
    size_t at = err.find("msg=listening");
    if (at != std::string::npos) {
      size_t p = err.find("port=", at);
      if (p != std::string::npos) port = err.substr(p + 5, err.find_first_of(" \n", p) - p - 5);
    }
    if (port.empty()) absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_FALSE(port.empty());
  const std::string base = "http://127.0.0.1:" + port;
  WriteFile(dir_.Join("post.py"), R"(import sys, urllib.request, urllib.error
url, method, ctype, enc, tenant, path = sys.argv[1:7]
data = open(path, 'rb').read() if path != '-' else None
req = urllib.request.Request(url, data=data, method=method)
for name, value in (('Content-Type', ctype), ('Content-Encoding', enc), ('X-Scope-OrgID', tenant)):
    if value != '-':
        req.add_header(name, value)
try:
    r = urllib.request.urlopen(req, timeout=20)
    print(r.status, r.read().decode(), end='')
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode(), end='')
except (ConnectionError, urllib.error.URLError) as e:
    print('refused', type(e).__name__, end='')
)");
  auto post = [&](const std::string& path, const std::string& method, const std::string& ctype,
                  const std::string& enc, const std::string& tenant, const std::string& body) {
    std::string file = "-";
    if (!body.empty()) {
      file = dir_.Join("body.bin");
      WriteFile(file, body);
    }
    std::string out, err;
    RunToEnd(
        {"/usr/bin/python3", dir_.Join("post.py"), base + path, method, ctype, enc, tenant, file},
        &out, &err);
    return out + err;
  };
  EXPECT_EQ(post("/ready", "GET", "-", "-", "-", ""), "200 ready");

  logproto::PushRequest req;
  auto* s = req.add_streams();
  s->set_labels("{job=\"proto\", __internal=\"x\"}");
  for (int i = 0; i < 3; ++i) {
    auto* e = s->add_entries();
    e->mutable_timestamp()->set_seconds(absl::ToUnixSeconds(absl::Now()) - 60);
    e->mutable_timestamp()->set_nanos(i);
    e->set_line(absl::StrCat("proto line ", i));
  }
  req.add_streams()->set_labels("{job=\"drop-me\"}");
  req.mutable_streams(1)->add_entries()->set_line("dropped by relabel_rules");
  std::string raw, snappy_body;
  req.SerializeToString(&raw);
  snappy::Compress(raw.data(), raw.size(), &snappy_body);
  EXPECT_EQ(post("/loki/api/v1/push", "POST", "application/x-protobuf", "-", "team-a", snappy_body),
            "204 ");

  const std::string ts = std::to_string(absl::ToUnixNanos(absl::Now() - absl::Minutes(1)));
  const std::string json = absl::StrCat(R"({"streams":[{"stream":{"job":"json"},"values":[[")", ts,
                                        R"(","json line",{"trace_id":"t1"}]]}]})");
  EXPECT_EQ(post("/api/v1/push", "POST", "application/json", "-", "-", json), "204 ");
  const std::string gz = Gzip(absl::StrCat(R"({"streams":[{"stream":{"job":"gzip"},"values":[[")",
                                           ts, R"(","gzip line"]]}]})"));
  EXPECT_EQ(post("/loki/api/v1/push", "POST", "application/json", "gzip", "-", gz), "204 ");
  EXPECT_EQ(post("/loki/api/v1/raw", "POST", "text/plain", "-", "-", "raw one\r\n\nraw two\n"),
            "204 ");
  // One stream's labels cannot be parsed: 400, and the good stream still goes.
  logproto::PushRequest mixed;
  mixed.add_streams()->set_labels("{job=unquoted}");
  mixed.mutable_streams(0)->add_entries()->set_line("never");
  mixed.add_streams()->set_labels("{job=\"mixed\"}");
  auto* me = mixed.mutable_streams(1)->add_entries();
  me->mutable_timestamp()->set_seconds(absl::ToUnixSeconds(absl::Now()) - 60);
  me->set_line("mixed good line");
  raw.clear();
  snappy_body.clear();
  mixed.SerializeToString(&raw);
  snappy::Compress(raw.data(), raw.size(), &snappy_body);
  EXPECT_THAT(post("/loki/api/v1/push", "POST", "application/x-protobuf", "-", "-", snappy_body),
              ::testing::StartsWith("400 1:"));
  EXPECT_THAT(post("/loki/api/v1/push", "POST", "application/x-protobuf", "br", "-", "x"),
              ::testing::StartsWith("400 Content-Encoding \"br\" not supported"));
  EXPECT_THAT(post("/loki/api/v1/push", "GET", "-", "-", "-", ""), ::testing::StartsWith("405"));
  EXPECT_THAT(post("/nope", "POST", "-", "-", "-", "x"), ::testing::StartsWith("404"));
  // Refused: answered 413, or (when the server closed before the client finished sending) a
  // reset connection; either way nothing of it goes on (the total below).
  EXPECT_THAT(post("/loki/api/v1/raw", "POST", "text/plain", "-", "-", std::string(2 << 20, 'x')),
              ::testing::AnyOf(::testing::StartsWith("413"), ::testing::StartsWith("refused")))
      << "a body past max_send_message_size";

  ASSERT_TRUE(loki_.WaitForEntries(8, absl::Seconds(20)));
  EXPECT_EQ(Stop(), 0);
  std::map<std::string, std::string> labels_of;
  std::map<std::string, std::string> tenant_of;
  for (const auto& st : loki_.Streams()) {
    for (const auto& e : st.entries) {
      labels_of[e.line] = st.labels;
      tenant_of[e.line] = st.tenant;
    }
  }
  EXPECT_EQ(loki_.total_entries(), 8u) << "each entry once";
  EXPECT_EQ(labels_of["proto line 0"], "{forwarded=\"true\", job=\"proto\"}");
  EXPECT_EQ(tenant_of["proto line 2"], "team-a");
  EXPECT_EQ(labels_of["json line"], "{forwarded=\"true\", job=\"json\"}");
  EXPECT_EQ(labels_of["gzip line"], "{forwarded=\"true\", job=\"gzip\"}");
  EXPECT_EQ(labels_of["raw one"], "{forwarded=\"true\"}");
  EXPECT_EQ(labels_of["raw two"], "{forwarded=\"true\"}");
  EXPECT_EQ(labels_of["mixed good line"], "{forwarded=\"true\", job=\"mixed\"}");
  EXPECT_EQ(labels_of.count("dropped by relabel_rules"), 0u);
  EXPECT_EQ(labels_of.count("never"), 0u);
  for (const auto& st : loki_.Streams()) {
    for (const auto& e : st.entries) {
      if (e.line == "json line") {
        EXPECT_THAT(e.structured_metadata,
                    ::testing::ElementsAre(::testing::Pair("trace_id", "t1")));
        EXPECT_EQ(std::to_string(e.timestamp_ns), ts) << "use_incoming_timestamp";
      }
    }
  }
}

// Backpressure: while Loki holds the first push (the pipeline holds the memory budget), a
// second is answered 429 and counted; once Loki answers, the client's retry goes through.
TEST_F(RunE2eTest, LokiSourceApiAnswers429WhileThePipelineIsFull) {
  std::string config = dir_.Join("api.alloy");
  WriteFile(config, absl::StrCat(R"(loki.source.api "gw" {
  http {
    listen_address = "127.0.0.1"
    listen_port    = 0
  }
  forward_to = [loki.write.default.receiver]
}
loki.write "default" {
  endpoint {
    url                = ")",
                                 loki_.push_url(), R"("
    batch_wait         = "50ms"
    min_backoff_period = "50ms"
  }
}
)"));
  loki_.StallNext(1);
  Run(config, {"--memory-budget", "4KiB"});
  std::string port, http_port;
  for (int i = 0; i < 200 && (port.empty() || http_port.empty()); ++i) {
    std::string err = ReadFile(dir_.Join("agent.err"));
    size_t at = err.find("msg=listening");
    if (at != std::string::npos && port.empty()) {
      size_t p = err.find("port=", at);
      port = err.substr(p + 5, err.find_first_of(" \n", p) - p - 5);
    }
    size_t hp = err.find("http_port=");
    if (hp != std::string::npos && http_port.empty()) {
      http_port = err.substr(hp + 10, err.find_first_of(" \n", hp) - hp - 10);
    }
    if (port.empty() || http_port.empty()) absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_FALSE(port.empty());
  ASSERT_FALSE(http_port.empty());
  WriteFile(dir_.Join("post.py"), R"(import sys, urllib.request, urllib.error
url, line = sys.argv[1:3]
body = ('{"streams":[{"stream":{"job":"bp"},"values":[["1","' + line + '"]]}]}').encode()
req = urllib.request.Request(url, data=body, method='POST')
req.add_header('Content-Type', 'application/json')
try:
    print(urllib.request.urlopen(req, timeout=20).status, end='')
except urllib.error.HTTPError as e:
    print(e.code, end='')
)");
  auto push = [&](const std::string& line) {
    std::string out, err;
    RunToEnd({"/usr/bin/python3", dir_.Join("post.py"),
              "http://127.0.0.1:" + port + "/loki/api/v1/push", line},
             &out, &err);
    return out + err;
  };
  const std::string first(3000, 'a'), second(3000, 'b');
  EXPECT_EQ(push(first), "204");
  ASSERT_TRUE(loki_.WaitForStalled(1, absl::Seconds(20)));
  EXPECT_EQ(push(second), "429") << "the first push holds the budget";
  std::string out, err;
  RunToEnd({"/usr/bin/python3", "-c",
            "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://"
            "127.0.0.1:" +
                http_port + "/metrics').read().decode())"},
           &out, &err);
  EXPECT_THAT(out, HasSubstr("sluice_source_api_backpressure_total{component_id=\"loki.source.api."
                             "gw\",component_path=\"/\"} 1"));
  loki_.ReleaseStall();
  std::string answer;
  for (int i = 0; i < 100 && answer != "204"; ++i) {
    answer = push(second);
    if (answer != "204") absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(answer, "204") << "the retry goes through once Loki answered";
  ASSERT_TRUE(loki_.WaitForEntries(2, absl::Seconds(20)));
  EXPECT_EQ(Stop(), 0);
  EXPECT_EQ(loki_.total_entries(), 2u);
}

TEST_F(RunE2eTest, EchoPrintsEntries) {
  std::string logs = dir_.Join("logs");
  std::filesystem::create_directories(logs);
  WriteFile(logs + "/x.log", "hello echo\n");
  std::string cfg = dir_.Join("echo.alloy");
  WriteFile(cfg, absl::StrCat("local.file_match \"x\" {\n  path_targets = [{\"__path__\" = \"",
                              logs, "/*.log\", app = \"demo\"}]\n}\n",
                              "loki.source.file \"x\" {\n  targets = local.file_match.x.targets\n"
                              "  forward_to = [loki.echo.out.receiver]\n}\n",
                              "loki.echo \"out\" { }\n"));
  Run(cfg);
  std::string out;
  for (int i = 0; i < 200 && out.find("hello echo") == std::string::npos; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
    out = ReadFile(dir_.Join("agent.out"));
  }
  EXPECT_EQ(Stop(), 0);
  EXPECT_THAT(out, HasSubstr("\"line\":\"hello echo\""));
  EXPECT_THAT(out, HasSubstr("\"app\":\"demo\""));
}

TEST_F(RunE2eTest, ValidateNamesFileLineAndColumn) {
  std::string cfg = dir_.Join("bad.alloy");
  WriteFile(cfg,
            "loki.write \"default\" {\n"
            "  endpoint {\n"
            "    url = \"http://x/loki/api/v1/push\"\n"
            "    bogus = 1\n"
            "  }\n"
            "}\n"
            "prometheus.scrape \"x\" { }\n");
  std::string out, err;
  EXPECT_EQ(RunToEnd({SLUICE_BINARY, "validate", cfg}, &out, &err), 1);
  EXPECT_THAT(err, HasSubstr(cfg + ":7:1: "));
  EXPECT_THAT(err, HasSubstr("prometheus.scrape"));

  WriteFile(cfg,
            "loki.write \"default\" {\n"
            "  endpoint {\n"
            "    url = \"http://x/loki/api/v1/push\"\n"
            "    bogus = 1\n"
            "  }\n"
            "}\n");
  EXPECT_EQ(RunToEnd({SLUICE_BINARY, "validate", cfg}, &out, &err), 1);
  EXPECT_THAT(err, HasSubstr(cfg + ":4:5: unrecognized attribute name \"bogus\""));
  EXPECT_THAT(err, HasSubstr("^^^^^"));

  // A wrong type names the expression, as Alloy does.
  WriteFile(cfg,
            "local.file_match \"x\" {\n"
            "  path_targets = [{__path__ = \"/tmp/*.log\"}]\n"
            "  sync_period = 5 * 2\n"
            "}\n");
  EXPECT_EQ(RunToEnd({SLUICE_BINARY, "validate", cfg}, &out, &err), 1);
  EXPECT_THAT(err, HasSubstr(cfg + ":3:17: 5 * 2 should be string, got number"));

  for (const char* name : {"kubernetes-pods.alloy", "local-to-loki.alloy",
                           "processing-two-endpoints.alloy", "k8s-monitoring-pod-logs.alloy"}) {
    EXPECT_EQ(RunToEnd({SLUICE_BINARY, "validate", Config(name)}, &out, &err), 0) << name << "\n"
                                                                                  << err;
  }
}

TEST_F(RunE2eTest, ValidateChecksKubernetesDiscoveryArguments) {
  struct Case {
    std::string config;
    std::string error;
  };
  std::vector<Case> cases = {
      {"discovery.kubernetes \"p\" {\n  role = \"service\"\n}\n",
       ":2:10: sluice: role \"service\" is not supported (sluice supports roles \"pod\" and "
       "\"node\")"},
      {"discovery.kubernetes \"n\" {\n  role = \"node\"\n  api_server = \"https://a:6443\"\n"
       "  selectors {\n    role = \"node\"\n    field = \"spec.nodeName=x\"\n  }\n}\n",
       ":6:13: field selector \"spec.nodeName=x\": field label not supported: spec.nodeName"},
      {"discovery.kubernetes \"n\" {\n  role = \"node\"\n  api_server = \"https://a:6443\"\n"
       "  selectors {\n    role = \"pod\"\n    label = \"app=x\"\n  }\n}\n",
       ":4:3: sluice: selectors for role \"pod\" cannot apply to role \"node\""},
      {"discovery.kubelet \"k\" {\n  url = \"ftp://x:10250\"\n}\n",
       ":2:9: sluice: url \"ftp://x:10250\" must start with http:// or https://"},
      {"discovery.kubernetes \"p\" {\n  role = \"pod\"\n  api_server = \"https://a:6443\"\n"
       "  selectors {\n    role = \"pod\"\n    field = \"spec.containers=x\"\n  }\n}\n",
       ":6:13: field selector \"spec.containers=x\": field label not supported: spec.containers"},
      {"discovery.kubelet \"k\" {\n  bearer_token = \"a\"\n  bearer_token_file = \"/b\"\n}\n",
       ":1:1: at most one of basic_auth, authorization, oauth2, bearer_token & bearer_token_file "
       "must be configured"},
      {"discovery.kubelet \"k\" {\n  refresh = \"5s\"\n}\n",
       ":2:3: unrecognized attribute name \"refresh\""},
      {"discovery.kubernetes \"p\" {\n  role = \"pod\"\n"
       "  kubeconfig_file = \"/nonexistent/k\"\n}\n",
       ":3:21: open /nonexistent/k: No such file or directory"},
  };
  for (const Case& c : cases) {
    std::string cfg = dir_.Join("bad.alloy");
    WriteFile(cfg, c.config);
    std::string out, err;
    EXPECT_EQ(RunToEnd({SLUICE_BINARY, "validate", cfg}, &out, &err), 1) << c.config;
    EXPECT_THAT(err, HasSubstr(cfg + c.error)) << c.config;
  }
  // A complete discovery.kubernetes block as Alloy users write it validates.
  std::string cfg = dir_.Join("good.alloy");
  WriteFile(cfg,
            "discovery.kubernetes \"pods\" {\n"
            "  role = \"pod\"\n"
            "  api_server = \"https://10.0.0.1:6443\"\n"
            "  bearer_token_file = \"/var/run/secrets/kubernetes.io/serviceaccount/token\"\n"
            "  namespaces {\n    names = [\"shop\", \"kube-system\"]\n  }\n"
            "  selectors {\n    role  = \"pod\"\n    field = \"spec.nodeName=node-1\"\n"
            "    label = \"app.kubernetes.io/name\"\n  }\n"
            "  attach_metadata {\n    node = true\n    namespace = true\n  }\n"
            "}\n"
            "discovery.relabel \"r\" {\n  targets = discovery.kubernetes.pods.targets\n}\n"
            // As the k8s-monitoring chart renders node-level collection (in the cluster).
            "discovery.kubernetes \"nodes\" {\n  role = \"node\"\n"
            "  selectors {\n    role  = \"node\"\n    field = \"metadata.name=node-1\"\n  }\n}\n"
            "discovery.relabel \"n\" {\n  targets = discovery.kubernetes.nodes.targets\n}\n");
  std::string out, err;
  EXPECT_EQ(RunToEnd({SLUICE_BINARY, "validate", cfg}, &out, &err), 0) << err;
}

TEST_F(RunE2eTest, FmtPrintsCanonicalFormAndRewrites) {
  std::string cfg = dir_.Join("messy.alloy");
  WriteFile(cfg,
            "loki.echo \"x\" {\n}\nlocal.file_match \"y\" {\npath_targets=[{__path__=\"/a\"}]\n"
            "  sync_period   =  \"1s\"\n}\n");
  std::string out, err;
  ASSERT_EQ(RunToEnd({SLUICE_BINARY, "fmt", cfg}, &out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr("\tsync_period  = \"1s\"\n"));
  std::string formatted = out;
  ASSERT_EQ(RunToEnd({SLUICE_BINARY, "fmt", "--write", cfg}, &out, &err), 0) << err;
  EXPECT_EQ(ReadFile(cfg), formatted);
  // Formatting is stable.
  ASSERT_EQ(RunToEnd({SLUICE_BINARY, "fmt", cfg}, &out, &err), 0);
  EXPECT_EQ(out, formatted);
  WriteFile(cfg, "# not a comment in Alloy\n");
  EXPECT_EQ(RunToEnd({SLUICE_BINARY, "fmt", cfg}, &out, &err), 1);
  EXPECT_THAT(err, HasSubstr(cfg + ":1:1: illegal character U+0023 '#'"));
}

// A proxy is libcurl's job (AsioHttpClient serves direct connections only): the library is loaded
// when the first client needs it, and the push goes through the proxy (FakeLoki itself here; the
// URL's host does not resolve, so only the proxy can deliver it).
TEST_F(RunE2eTest, ProxiedEndpointLoadsLibcurlOnDemand) {
  std::string logs = dir_.Join("logs");
  std::filesystem::create_directories(logs);
  WriteFile(logs + "/app.log", "through the proxy\n");
  std::string config = dir_.Join("proxy.alloy");
  WriteFile(config, absl::StrCat(R"(local.file_match "app" {
  path_targets = [{"__path__" = ")",
                                 logs, R"(/*.log"}]
}
loki.source.file "app" {
  targets    = local.file_match.app.targets
  forward_to = [loki.write.default.receiver]
}
loki.write "default" {
  endpoint {
    url        = "http://loki.invalid:)",
                                 loki_.port(), R"(/loki/api/v1/push"
    proxy_url  = ")",
                                 loki_.base_url(), R"("
    batch_wait = "100ms"
  }
}
)"));
  Run(config);
  ASSERT_TRUE(loki_.WaitForEntries(1, absl::Seconds(20)));
  EXPECT_THAT(MappedLibraries("libcurl"), ::testing::Not(::testing::IsEmpty()));
  EXPECT_EQ(Stop(), 0);
  ASSERT_EQ(loki_.Streams().size(), 1u);
  EXPECT_EQ(loki_.Streams()[0].entries.at(0).line, "through the proxy");
}

}  // namespace
}  // namespace sluice
