// Tests of FakeKube through libcurl, as a client (the agent's discovery) sees it.
#include "tests/support/fake_kube.h"

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tests/support/test_certs.h"

namespace sluice::testing {
namespace {

constexpr absl::Duration kWait = absl::Seconds(10);

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct Response {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
};

// One GET on a fresh handle (no connection reuse between calls, so SetDown is seen at once).
Response Get(const std::string& url, const std::string& token = "", const std::string& ca = "") {
  Response r;
  CURL* curl = curl_easy_init();
  curl_slist* headers = nullptr;
  if (!token.empty()) {
    headers = curl_slist_append(headers, absl::StrCat("Authorization: Bearer ", token).c_str());
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (!ca.empty()) {
    curl_blob blob{const_cast<char*>(ca.data()), ca.size(), CURL_BLOB_COPY};
    curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
  }
  r.code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return r;
}

// A parsed JSON document with JSON-pointer accessors ("/items/0/metadata/name"; '/' in a key is
// written ~1). Missing members read as "<missing>" / -1 / false, so assertions show what is off.
class Json {
 public:
  explicit Json(const std::string& text) : padded_(text) {
    ok_ = parser_.parse(padded_).get(root_) == simdjson::SUCCESS;
  }
  bool ok() const { return ok_; }
  bool Has(std::string_view ptr) const {
    simdjson::dom::element e;
    return ok_ && root_.at_pointer(ptr).get(e) == simdjson::SUCCESS;
  }
  std::string S(std::string_view ptr) const {
    std::string_view v;
    if (!ok_ || root_.at_pointer(ptr).get_string().get(v) != simdjson::SUCCESS) return "<missing>";
    return std::string(v);
  }
  int64_t I(std::string_view ptr) const {
    int64_t v;
    if (!ok_ || root_.at_pointer(ptr).get_int64().get(v) != simdjson::SUCCESS) return -1;
    return v;
  }
  bool B(std::string_view ptr) const {
    bool v;
    return ok_ && root_.at_pointer(ptr).get_bool().get(v) == simdjson::SUCCESS && v;
  }
  size_t Size(std::string_view ptr) const {
    simdjson::dom::element e;
    if (!ok_ || root_.at_pointer(ptr).get(e) != simdjson::SUCCESS) return 0;
    if (e.is_array()) return simdjson::dom::array(e).size();
    if (e.is_object()) return simdjson::dom::object(e).size();
    return 0;
  }
  // Names of the items of a list (/items/*/metadata/name).
  std::vector<std::string> ItemNames() const {
    std::vector<std::string> out;
    for (size_t i = 0; i < Size("/items"); ++i)
      out.push_back(S(absl::StrCat("/items/", i, "/metadata/name")));
    return out;
  }

 private:
  simdjson::padded_string padded_;
  simdjson::dom::parser parser_;
  simdjson::dom::element root_;
  bool ok_ = false;
};

// A watch request running on its own thread; lines arrive as the server sends them.
class WatchClient {
 public:
  WatchClient(const std::string& url, const std::string& token, const std::string& ca)
      : url_(url), token_(token), ca_(ca) {
    thread_ = std::thread([this] { Run(); });
  }
  ~WatchClient() {
    stop_ = true;
    thread_.join();
  }
  // Blocks until `n` complete lines have arrived; returns them (fewer on timeout).
  std::vector<std::string> WaitForLines(size_t n, absl::Duration timeout) {
    std::unique_lock l(mu_);
    cv_.wait_for(l, absl::ToChronoNanoseconds(timeout), [&] { return Lines().size() >= n; });
    return Lines();
  }
  // Blocks until the transfer has ended; its result.
  std::optional<CURLcode> WaitForEnd(absl::Duration timeout) {
    std::unique_lock l(mu_);
    cv_.wait_for(l, absl::ToChronoNanoseconds(timeout), [&] { return result_.has_value(); });
    return result_;
  }

 private:
  std::vector<std::string> Lines() const {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t nl; (nl = data_.find('\n', start)) != std::string::npos; start = nl + 1)
      out.push_back(data_.substr(start, nl - start));
    return out;
  }
  static size_t OnData(char* data, size_t size, size_t n, void* self) {
    auto* w = static_cast<WatchClient*>(self);
    std::lock_guard l(w->mu_);
    w->data_.append(data, size * n);
    w->cv_.notify_all();
    return size * n;
  }
  // Lets the destructor end a watch the server keeps open.
  static int OnProgress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<WatchClient*>(self)->stop_.load() ? 1 : 0;
  }
  void Run() {
    CURL* curl = curl_easy_init();
    curl_slist* headers = nullptr;
    if (!token_.empty()) {
      headers = curl_slist_append(headers, absl::StrCat("Authorization: Bearer ", token_).c_str());
    }
    curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnData);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, this);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 60000L);
    curl_blob blob{const_cast<char*>(ca_.data()), ca_.size(), CURL_BLOB_COPY};
    if (!ca_.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
    const CURLcode code = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    std::lock_guard l(mu_);
    result_ = code;
    cv_.notify_all();
  }

  const std::string url_, token_, ca_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::string data_;                // under mu_
  std::optional<CURLcode> result_;  // under mu_
  std::thread thread_;
};

class FakeKubeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new TestPki(MakeTestPki()); }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  void StartKube(bool tls = true, std::string token = "secret-1") {
    FakeKube::Options o;
    if (tls) o.tls = FakeKube::Options::Tls{pki_->server_cert_pem, pki_->server_key_pem};
    o.bearer_token = std::move(token);
    token_ = o.bearer_token;
    kube_ = std::make_unique<FakeKube>(std::move(o));
    ASSERT_TRUE(kube_->Start().ok());
  }
  Response Call(const std::string& path) {
    return Get(kube_->base_url() + path, token_, pki_->ca_cert_pem);
  }
  std::unique_ptr<WatchClient> Watch(const std::string& path) {
    return std::make_unique<WatchClient>(kube_->base_url() + path, token_, pki_->ca_cert_pem);
  }

  static TestPki* pki_;
  std::string token_;
  std::unique_ptr<FakeKube> kube_;
};
TestPki* FakeKubeTest::pki_ = nullptr;

std::vector<FakePod> SamplePods() {
  return {MakeDeploymentPod("shop", "web", "node-a", "10.244.1.10"),
          MakeDeploymentPod("shop", "web", "node-b", "10.244.2.10", 1),
          MakeDaemonSetPod("kube-system", "alloy", "node-a", "10.244.1.2"),
          MakeStaticPod("kube-system", "kube-apiserver", "node-a"),
          MakePodWithInitContainers("shop", "db", "node-b", "10.244.2.11"),
          MakePendingPod("shop", "queued", "node-a")};
}

TEST_F(FakeKubeTest, KubeletPodListOverHttpsHasTheFieldsOfARealOne) {
  StartKube();
  const std::vector<FakePod> pods = SamplePods();
  kube_->SetPods(pods);
  const Response r = Call("/pods");
  ASSERT_EQ(r.code, CURLE_OK) << curl_easy_strerror(r.code);
  ASSERT_EQ(r.status, 200) << r.body;
  const Json j(r.body);
  ASSERT_TRUE(j.ok()) << r.body;
  EXPECT_EQ(j.S("/kind"), "PodList");
  EXPECT_EQ(j.S("/apiVersion"), "v1");
  EXPECT_TRUE(j.Has("/metadata"));
  EXPECT_EQ(j.Size("/metadata"), 0u);  // the kubelet's list has no resourceVersion
  ASSERT_EQ(j.Size("/items"), pods.size());
  EXPECT_FALSE(j.Has("/items/0/kind"));  // list items carry no kind, as from a real server

  // Sorted by namespace, then name: kube-system/alloy-*, kube-system/kube-apiserver-node-a,
  // shop/db-*, shop/queued, shop/web-* (2).
  const std::vector<std::string> names = j.ItemNames();
  ASSERT_EQ(names.size(), 6u);
  EXPECT_TRUE(names[0].starts_with("alloy-"));
  EXPECT_EQ(names[1], "kube-apiserver-node-a");
  EXPECT_EQ(names[3], "queued");

  // A Deployment pod.
  const std::string d = "/items/4";
  const FakePod& web = pods[0].name < pods[1].name ? pods[0] : pods[1];
  EXPECT_EQ(j.S(d + "/metadata/name"), web.name);
  EXPECT_EQ(j.S(d + "/metadata/namespace"), "shop");
  EXPECT_EQ(j.S(d + "/metadata/uid").size(), 36u);
  EXPECT_NE(j.S(d + "/metadata/resourceVersion"), "<missing>");
  EXPECT_EQ(j.S(d + "/metadata/creationTimestamp"), "2024-05-01T10:00:00Z");
  EXPECT_EQ(j.S(d + "/metadata/labels/app.kubernetes.io~1name"), "web");
  EXPECT_EQ(j.S(d + "/metadata/labels/pod-template-hash"), web.labels.at("pod-template-hash"));
  EXPECT_EQ(j.S(d + "/metadata/ownerReferences/0/apiVersion"), "apps/v1");
  EXPECT_EQ(j.S(d + "/metadata/ownerReferences/0/kind"), "ReplicaSet");
  EXPECT_EQ(j.S(d + "/metadata/ownerReferences/0/name"),
            absl::StrCat("web-", web.labels.at("pod-template-hash")));
  EXPECT_EQ(j.S(d + "/metadata/ownerReferences/0/uid").size(), 36u);
  EXPECT_TRUE(j.B(d + "/metadata/ownerReferences/0/controller"));
  EXPECT_TRUE(j.B(d + "/metadata/ownerReferences/0/blockOwnerDeletion"));
  EXPECT_EQ(j.S(d + "/spec/nodeName"), web.node_name);
  EXPECT_EQ(j.S(d + "/spec/serviceAccountName"), "default");
  EXPECT_EQ(j.S(d + "/spec/restartPolicy"), "Always");
  EXPECT_FALSE(j.Has(d + "/spec/hostNetwork"));
  EXPECT_FALSE(j.Has(d + "/spec/initContainers"));
  EXPECT_EQ(j.S(d + "/spec/containers/0/name"), "web");
  EXPECT_EQ(j.S(d + "/spec/containers/0/image"), "example.com/web:1.0");
  EXPECT_EQ(j.S(d + "/spec/containers/0/ports/0/name"), "http");
  EXPECT_EQ(j.I(d + "/spec/containers/0/ports/0/containerPort"), 8080);
  EXPECT_EQ(j.S(d + "/spec/containers/0/ports/0/protocol"), "TCP");
  EXPECT_TRUE(j.Has(d + "/spec/containers/0/resources"));
  EXPECT_EQ(j.S(d + "/spec/containers/0/terminationMessagePath"), "/dev/termination-log");
  EXPECT_EQ(j.S(d + "/spec/containers/0/imagePullPolicy"), "IfNotPresent");
  EXPECT_EQ(j.S(d + "/status/phase"), "Running");
  bool ready_seen = false, scheduled_seen = false;
  for (size_t i = 0; i < j.Size(d + "/status/conditions"); ++i) {
    const std::string c = absl::StrCat(d, "/status/conditions/", i);
    EXPECT_NE(j.S(c + "/lastTransitionTime"), "<missing>");
    if (j.S(c + "/type") == "Ready") ready_seen = j.S(c + "/status") == "True";
    if (j.S(c + "/type") == "PodScheduled") scheduled_seen = j.S(c + "/status") == "True";
  }
  EXPECT_TRUE(ready_seen);
  EXPECT_TRUE(scheduled_seen);
  EXPECT_EQ(j.S(d + "/status/hostIP"), FakeNodeIp(web.node_name));
  EXPECT_EQ(j.S(d + "/status/hostIPs/0/ip"), FakeNodeIp(web.node_name));
  EXPECT_EQ(j.S(d + "/status/podIP"), web.pod_ip);
  EXPECT_EQ(j.S(d + "/status/podIPs/0/ip"), web.pod_ip);
  EXPECT_EQ(j.S(d + "/status/startTime"), "2024-05-01T10:00:00Z");
  const std::string cs = d + "/status/containerStatuses/0";
  EXPECT_EQ(j.S(cs + "/name"), "web");
  const std::string id = j.S(cs + "/containerID");
  EXPECT_TRUE(id.starts_with("containerd://")) << id;
  EXPECT_EQ(id.size(), std::string("containerd://").size() + 64);
  EXPECT_EQ(id, web.containers[0].id);
  EXPECT_EQ(j.S(cs + "/image"), "example.com/web:1.0");
  EXPECT_TRUE(j.S(cs + "/imageID").starts_with("example.com/web@sha256:"));
  EXPECT_TRUE(j.B(cs + "/ready"));
  EXPECT_TRUE(j.B(cs + "/started"));
  EXPECT_EQ(j.I(cs + "/restartCount"), 0);
  EXPECT_EQ(j.S(cs + "/state/running/startedAt"), "2024-05-01T10:00:00Z");

  // The DaemonSet pod.
  EXPECT_EQ(j.S("/items/0/metadata/ownerReferences/0/kind"), "DaemonSet");
  EXPECT_EQ(j.S("/items/0/metadata/ownerReferences/0/name"), "alloy");
  EXPECT_EQ(j.S("/items/0/metadata/labels/app"), "alloy");
  EXPECT_EQ(j.S("/items/0/status/containerStatuses/0/image"), "docker.io/grafana/alloy:v1.2.3");

  // The static pod, as mirrored.
  const std::string s = "/items/1";
  EXPECT_EQ(j.S(s + "/metadata/annotations/kubernetes.io~1config.source"), "file");
  EXPECT_EQ(j.S(s + "/metadata/annotations/kubernetes.io~1config.mirror").size(), 32u);
  EXPECT_EQ(j.S(s + "/metadata/annotations/kubernetes.io~1config.mirror"),
            j.S(s + "/metadata/annotations/kubernetes.io~1config.hash"));
  EXPECT_EQ(j.S(s + "/metadata/ownerReferences/0/kind"), "Node");
  EXPECT_EQ(j.S(s + "/metadata/ownerReferences/0/apiVersion"), "v1");
  EXPECT_EQ(j.S(s + "/metadata/ownerReferences/0/name"), "node-a");
  EXPECT_TRUE(j.B(s + "/spec/hostNetwork"));
  EXPECT_EQ(j.S(s + "/status/podIP"), j.S(s + "/status/hostIP"));

  // Init containers: in the spec and as terminated, Completed.
  const std::string i = "/items/2";
  EXPECT_EQ(j.Size(i + "/spec/initContainers"), 2u);
  EXPECT_EQ(j.S(i + "/spec/initContainers/0/name"), "init-config");
  EXPECT_EQ(j.S(i + "/status/initContainerStatuses/1/name"), "init-db");
  EXPECT_EQ(j.I(i + "/status/initContainerStatuses/0/state/terminated/exitCode"), 0);
  EXPECT_EQ(j.S(i + "/status/initContainerStatuses/0/state/terminated/reason"), "Completed");
  EXPECT_TRUE(j.S(i + "/status/initContainerStatuses/0/containerID").starts_with("containerd://"));
  EXPECT_EQ(j.S(i + "/status/initContainerStatuses/0/image"), "docker.io/library/busybox:1.36");
  EXPECT_EQ(j.Size(i + "/status/containerStatuses"), 1u);

  // The pending pod: no IP, not ready, no container statuses.
  const std::string p = "/items/3";
  EXPECT_EQ(j.S(p + "/status/phase"), "Pending");
  EXPECT_FALSE(j.Has(p + "/status/podIP"));
  EXPECT_FALSE(j.Has(p + "/status/podIPs"));
  EXPECT_FALSE(j.Has(p + "/status/containerStatuses"));
  bool not_ready = false;
  for (size_t k = 0; k < j.Size(p + "/status/conditions"); ++k) {
    const std::string c = absl::StrCat(p, "/status/conditions/", k);
    if (j.S(c + "/type") == "Ready") not_ready = j.S(c + "/status") == "False";
  }
  EXPECT_TRUE(not_ready);

  // The observation side.
  EXPECT_EQ(kube_->request_count("/pods"), 1u);
  EXPECT_EQ(kube_->last_authorization(), "Bearer secret-1");
  EXPECT_TRUE(kube_->LastRequest()->tls);
  EXPECT_EQ(kube_->LastRequestHeaders().at("authorization"), "Bearer secret-1");
}

TEST(FakeKubeJsonTest, PodWithoutReadyConditionAndDualStack) {
  FakePod pod = MakeDeploymentPod("a", "b", "n", "10.0.1.1");
  pod.ready.reset();
  pod.extra_pod_ips = {"fd00::1"};
  pod.labels["example.com/tier"] = "<front>&\"back\"";
  const Json j(PodJson(pod));
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j.S("/kind"), "Pod");
  EXPECT_EQ(j.S("/apiVersion"), "v1");
  EXPECT_EQ(j.Size("/status/conditions"), 1u);
  EXPECT_EQ(j.S("/status/conditions/0/type"), "PodScheduled");
  EXPECT_EQ(j.S("/status/podIPs/1/ip"), "fd00::1");
  EXPECT_EQ(j.S("/metadata/labels/example.com~1tier"), "<front>&\"back\"");
  EXPECT_EQ(j.S("/metadata/uid"), FakeUid("a/" + pod.name));
}

TEST_F(FakeKubeTest, BearerTokenIsCheckedAndCanBeRotated) {
  StartKube();
  const std::string url = kube_->base_url() + "/pods";
  Response r = Get(url, "", pki_->ca_cert_pem);
  EXPECT_EQ(r.status, 401);
  Json j(r.body);
  EXPECT_EQ(j.S("/kind"), "Status");
  EXPECT_EQ(j.S("/status"), "Failure");
  EXPECT_EQ(j.S("/reason"), "Unauthorized");
  EXPECT_EQ(j.S("/message"), "Unauthorized");
  EXPECT_EQ(j.I("/code"), 401);
  EXPECT_EQ(Get(url, "wrong", pki_->ca_cert_pem).status, 401);
  EXPECT_EQ(Get(url, "secret-1", pki_->ca_cert_pem).status, 200);

  kube_->SetBearerToken("secret-2");
  EXPECT_EQ(Get(url, "secret-1", pki_->ca_cert_pem).status, 401);
  EXPECT_EQ(Get(url, "secret-2", pki_->ca_cert_pem).status, 200);
  EXPECT_EQ(kube_->last_authorization(), "Bearer secret-2");
  EXPECT_EQ(kube_->request_count(), 5u);
  const std::vector<FakeKubeRequest> reqs = kube_->Requests();
  ASSERT_EQ(reqs.size(), 5u);
  EXPECT_EQ(reqs[0].status, 401);
  EXPECT_EQ(reqs[0].authorization, "");
  EXPECT_EQ(reqs[3].status, 401);
  EXPECT_EQ(reqs[4].status, 200);
}

TEST_F(FakeKubeTest, HttpsNeedsTheCa) {
  StartKube();
  Response r = Get(kube_->base_url() + "/pods", token_);  // the system CAs do not know ours
  EXPECT_EQ(r.code, CURLE_PEER_FAILED_VERIFICATION) << curl_easy_strerror(r.code);
}

TEST_F(FakeKubeTest, ReadOnlyKubeletPortIsPlainHttpWithoutAuth) {
  StartKube(/*tls=*/false, /*token=*/"");
  kube_->SetPods({MakeDaemonSetPod("kube-system", "alloy", "node-a", "10.244.1.2")});
  EXPECT_TRUE(kube_->base_url().starts_with("http://127.0.0.1:"));
  Response r = Get(kube_->base_url() + "/pods");
  ASSERT_EQ(r.status, 200) << curl_easy_strerror(r.code);
  EXPECT_EQ(Json(r.body).Size("/items"), 1u);
  EXPECT_FALSE(kube_->LastRequest()->tls);
}

TEST_F(FakeKubeTest, DownThenUpOnTheSamePort) {
  StartKube();
  const int port = kube_->port();
  ASSERT_GT(port, 0);
  EXPECT_EQ(Call("/pods").status, 200);
  ASSERT_TRUE(kube_->SetDown(true).ok());
  EXPECT_TRUE(kube_->down());
  EXPECT_EQ(Call("/pods").code, CURLE_COULDNT_CONNECT);
  ASSERT_TRUE(kube_->SetDown(false).ok());
  EXPECT_EQ(kube_->port(), port);
  const Response r = Call("/pods");
  EXPECT_EQ(r.code, CURLE_OK) << curl_easy_strerror(r.code);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(kube_->request_count("/pods"), 2u);
  // Twice, to be sure the reopened listener can be closed and reopened again.
  ASSERT_TRUE(kube_->SetDown(true).ok());
  ASSERT_TRUE(kube_->SetDown(false).ok());
  EXPECT_EQ(Call("/pods").status, 200);
}

TEST_F(FakeKubeTest, FieldAndLabelSelectors) {
  StartKube();
  kube_->SetPods(SamplePods());
  auto names = [&](const std::string& query) {
    const Response r = Call("/api/v1/pods?" + query);
    EXPECT_EQ(r.status, 200) << query << ": " << r.body;
    const Json j(r.body);
    EXPECT_EQ(j.S("/metadata/resourceVersion"), std::to_string(kube_->resource_version()));
    std::vector<std::string> out = j.ItemNames();
    for (auto& n : out) n = n.substr(0, n.find('-'));  // web-<hash>-<x> -> web
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names("fieldSelector=spec.nodeName%3Dnode-a"), (V{"alloy", "kube", "queued", "web"}));
  EXPECT_EQ(names("fieldSelector=spec.nodeName!%3Dnode-a"), (V{"db", "web"}));
  EXPECT_EQ(names("fieldSelector=spec.nodeName%3D%3Dnode-b,metadata.namespace%3Dshop"),
            (V{"db", "web"}));
  EXPECT_EQ(names("fieldSelector=metadata.name%3Dqueued"), (V{"queued"}));
  EXPECT_EQ(names("labelSelector=app.kubernetes.io%2Fname%3Dweb"), (V{"web", "web"}));
  EXPECT_EQ(names("labelSelector=app.kubernetes.io%2Fname%3D%3Ddb"), (V{"db"}));
  EXPECT_EQ(names("labelSelector=app"), (V{"alloy", "queued"}));
  EXPECT_EQ(names("labelSelector=!app,!component"), (V{"db", "web", "web"}));
  EXPECT_EQ(names("labelSelector=app!%3Dalloy,tier!%3Dcontrol-plane"),
            (V{"db", "queued", "web", "web"}));
  EXPECT_EQ(names("labelSelector=app.kubernetes.io%2Fname+in+(db,+web),pod-template-hash"),
            (V{"db", "web", "web"}));
  EXPECT_EQ(names("labelSelector=app%20notin%20(alloy)&fieldSelector=spec.nodeName%3Dnode-a"),
            (V{"kube", "queued", "web"}));

  // Namespace-scoped.
  EXPECT_EQ(Json(Call("/api/v1/namespaces/kube-system/pods").body).Size("/items"), 2u);
  EXPECT_EQ(Json(Call("/api/v1/namespaces/none/pods").body).Size("/items"), 0u);

  // Bad selectors: 400 with a Status.
  for (const std::string q :
       {"labelSelector=a+in+b", "fieldSelector=spec.foo%3Dx", "fieldSelector=spec.nodeName"}) {
    const Response r = Call("/api/v1/pods?" + q);
    EXPECT_EQ(r.status, 400) << q;
    EXPECT_EQ(Json(r.body).S("/reason"), "BadRequest") << r.body;
  }

  // What was asked, raw and decoded.
  const std::vector<std::string> queries = kube_->QueryStrings();
  ASSERT_FALSE(queries.empty());
  EXPECT_EQ(queries[0], "fieldSelector=spec.nodeName%3Dnode-a");
  EXPECT_EQ(kube_->Requests()[0].params.at("fieldSelector"), "spec.nodeName=node-a");
  EXPECT_EQ(kube_->request_count("/api/v1/pods"), 14u);
}

TEST_F(FakeKubeTest, OnePodNodesNamespacesAndUnknownPaths) {
  StartKube();
  const FakePod web = MakeDeploymentPod("shop", "web", "node-a", "10.244.1.10");
  kube_->SetPods({web});
  kube_->SetNodes({{"node-a", {{"topology.kubernetes.io/zone", "eu-1a"}}, {{"note", "x"}}, ""}});
  kube_->SetNamespaces({{"shop", {{"team", "payments"}}, {{"owner", "bob"}}}});

  Json pod(Call("/api/v1/namespaces/shop/pods/" + web.name).body);
  EXPECT_EQ(pod.S("/kind"), "Pod");
  EXPECT_EQ(pod.S("/metadata/name"), web.name);

  Response r = Call("/api/v1/nodes/node-a");
  EXPECT_EQ(r.status, 200);
  Json node(r.body);
  EXPECT_EQ(node.S("/kind"), "Node");
  EXPECT_EQ(node.S("/metadata/name"), "node-a");
  EXPECT_EQ(node.S("/metadata/labels/topology.kubernetes.io~1zone"), "eu-1a");
  EXPECT_EQ(node.S("/metadata/annotations/note"), "x");
  EXPECT_EQ(node.S("/status/addresses/0/address"), FakeNodeIp("node-a"));

  r = Call("/api/v1/nodes/node-z");
  EXPECT_EQ(r.status, 404);
  Json missing(r.body);
  EXPECT_EQ(missing.S("/kind"), "Status");
  EXPECT_EQ(missing.S("/reason"), "NotFound");
  EXPECT_EQ(missing.S("/message"), "nodes \"node-z\" not found");
  EXPECT_EQ(missing.I("/code"), 404);

  Json ns(Call("/api/v1/namespaces/shop").body);
  EXPECT_EQ(ns.S("/kind"), "Namespace");
  EXPECT_EQ(ns.S("/metadata/labels/team"), "payments");
  EXPECT_EQ(ns.S("/metadata/labels/kubernetes.io~1metadata.name"), "shop");
  EXPECT_EQ(ns.S("/metadata/annotations/owner"), "bob");
  EXPECT_EQ(Call("/api/v1/namespaces/other").status, 404);

  for (const std::string path : {"/api/v1/services", "/apis/apps/v1/deployments", "/nope"}) {
    r = Call(path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(Json(r.body).S("/kind"), "Status") << path;
  }
}

TEST_F(FakeKubeTest, NodesAndNamespacesListAndWatchWithSelectors) {
  StartKube();
  FakeNode a{"node-a", {{"pool", "logs"}}, {}, ""};
  a.provider_id = "kind://docker/kind/node-a";
  FakeNode b{"node-b", {{"pool", "batch"}}, {}, "10.0.0.99"};
  b.unschedulable = true;
  b.addresses = std::vector<std::pair<std::string, std::string>>{{"ExternalIP", "203.0.113.9"}};
  b.conditions = {{"Ready", "False"}, {"DiskPressure", "True"}};
  b.kubelet_port = 10255;
  kube_->SetNodes({a, b});
  kube_->SetNamespaces({{"shop", {{"team", "payments"}}, {}}, {"kube-system", {}, {}}});

  Response r = Call("/api/v1/nodes");
  ASSERT_EQ(r.status, 200) << r.body;
  Json list(r.body);
  EXPECT_EQ(list.S("/kind"), "NodeList");
  EXPECT_EQ(list.S("/metadata/resourceVersion"), std::to_string(kube_->resource_version()));
  EXPECT_FALSE(list.Has("/items/0/kind"));
  EXPECT_EQ(list.S("/items/0/spec/providerID"), "kind://docker/kind/node-a");
  EXPECT_EQ(list.S("/items/0/status/addresses/0/type"), "InternalIP");
  EXPECT_EQ(list.S("/items/0/status/addresses/1/type"), "Hostname");
  EXPECT_EQ(list.I("/items/0/status/daemonEndpoints/kubeletEndpoint/Port"), 10250);
  EXPECT_EQ(list.S("/items/0/status/conditions/0/type"), "Ready");
  EXPECT_EQ(list.S("/items/1/status/addresses/0/address"), "203.0.113.9");
  EXPECT_EQ(list.Size("/items/1/status/addresses"), 1u);
  EXPECT_EQ(list.S("/items/1/status/conditions/1/status"), "True");
  EXPECT_EQ(list.I("/items/1/status/daemonEndpoints/kubeletEndpoint/Port"), 10255);
  EXPECT_EQ(Json(Call("/api/v1/nodes?labelSelector=pool%3Dlogs").body).ItemNames(),
            std::vector<std::string>{"node-a"});
  EXPECT_EQ(Json(Call("/api/v1/nodes?fieldSelector=spec.unschedulable%3Dtrue").body).ItemNames(),
            std::vector<std::string>{"node-b"});
  EXPECT_EQ(Call("/api/v1/nodes?fieldSelector=spec.nodeName%3Dx").status, 400);
  Json namespaces(
      Call("/api/v1/namespaces?labelSelector=kubernetes.io%2Fmetadata.name%3Dshop").body);
  EXPECT_EQ(namespaces.S("/kind"), "NamespaceList");
  EXPECT_EQ(namespaces.ItemNames(), std::vector<std::string>{"shop"});

  // A node watch without a version: the current nodes, then their changes; pod and namespace
  // changes are not its business.
  auto nodes = Watch("/api/v1/nodes?watch=true&labelSelector=pool%3Dlogs");
  auto ns = Watch(
      absl::StrCat("/api/v1/namespaces?watch=true&resourceVersion=", kube_->resource_version()));
  ASSERT_TRUE(kube_->WaitForWatches(2, kWait));
  a.labels["zone"] = "eu-1a";
  const int64_t modified = kube_->UpsertNode(a);
  EXPECT_EQ(kube_->UpsertNode(a), modified);  // unchanged: no event
  kube_->UpsertPod(MakeDeploymentPod("shop", "web", "node-a", "10.244.1.10"));
  kube_->UpsertNode(FakeNode{"node-c", {{"pool", "batch"}}, {}, ""});  // filtered out
  EXPECT_TRUE(kube_->DeleteNode("node-a"));
  EXPECT_FALSE(kube_->DeleteNode("node-a"));
  kube_->UpsertNamespace({"shop", {{"team", "checkout"}}, {}});
  EXPECT_TRUE(kube_->DeleteNamespace("kube-system"));

  const std::vector<std::string> lines = nodes->WaitForLines(3, kWait);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(Json(lines[0]).S("/type"), "ADDED");
  EXPECT_EQ(Json(lines[0]).S("/object/kind"), "Node");
  EXPECT_EQ(Json(lines[1]).S("/type"), "MODIFIED");
  EXPECT_EQ(Json(lines[1]).S("/object/metadata/labels/zone"), "eu-1a");
  EXPECT_EQ(Json(lines[1]).S("/object/metadata/resourceVersion"), std::to_string(modified));
  EXPECT_EQ(Json(lines[2]).S("/type"), "DELETED");
  EXPECT_EQ(Json(lines[2]).S("/object/metadata/name"), "node-a");
  const std::vector<std::string> ns_lines = ns->WaitForLines(2, kWait);
  ASSERT_EQ(ns_lines.size(), 2u);
  EXPECT_EQ(Json(ns_lines[0]).S("/type"), "MODIFIED");
  EXPECT_EQ(Json(ns_lines[0]).S("/object/kind"), "Namespace");
  EXPECT_EQ(Json(ns_lines[0]).S("/object/metadata/labels/team"), "checkout");
  EXPECT_EQ(Json(ns_lines[1]).S("/type"), "DELETED");
  EXPECT_EQ(Json(ns_lines[1]).S("/object/metadata/name"), "kube-system");
  kube_->CloseWatches();
  EXPECT_TRUE(kube_->WaitForWatchesEnded(kWait));
}

TEST_F(FakeKubeTest, WatchDeliversChangesAfterTheResourceVersion) {
  StartKube();
  kube_->SetPods({MakeDeploymentPod("shop", "web", "node-a", "10.244.1.10")});
  const int64_t rv = kube_->resource_version();
  auto watch = Watch(absl::StrCat("/api/v1/pods?watch=true&resourceVersion=", rv,
                                  "&fieldSelector=spec.nodeName%3Dnode-a"));
  ASSERT_TRUE(kube_->WaitForWatches(1, kWait));

  FakePod db = MakeDeploymentPod("shop", "db", "node-a", "10.244.1.11");
  const int64_t added = kube_->UpsertPod(db);
  EXPECT_EQ(added, rv + 1);
  kube_->UpsertPod(MakeDeploymentPod("shop", "other", "node-b", "10.244.2.1"));  // filtered out
  db.labels["version"] = "2";
  kube_->UpsertPod(db);
  EXPECT_EQ(kube_->UpsertPod(db), rv + 3);  // unchanged: no event, no new version
  EXPECT_TRUE(kube_->DeletePod("shop", db.name));
  EXPECT_FALSE(kube_->DeletePod("shop", db.name));

  const std::vector<std::string> lines = watch->WaitForLines(3, kWait);
  ASSERT_EQ(lines.size(), 3u);
  const Json e0(lines[0]), e1(lines[1]), e2(lines[2]);
  EXPECT_EQ(e0.S("/type"), "ADDED");
  EXPECT_EQ(e0.S("/object/kind"), "Pod");
  EXPECT_EQ(e0.S("/object/metadata/name"), db.name);
  EXPECT_EQ(e0.S("/object/metadata/resourceVersion"), std::to_string(rv + 1));
  EXPECT_EQ(e1.S("/type"), "MODIFIED");
  EXPECT_EQ(e1.S("/object/metadata/labels/version"), "2");
  EXPECT_EQ(e2.S("/type"), "DELETED");
  EXPECT_EQ(e2.S("/object/metadata/resourceVersion"), std::to_string(rv + 4));

  // CloseWatches ends the stream properly: curl sees a complete response.
  kube_->CloseWatches();
  EXPECT_EQ(watch->WaitForEnd(kWait), CURLE_OK);
  EXPECT_TRUE(kube_->WaitForWatchesEnded(kWait));
  EXPECT_EQ(kube_->watches_started(), 1u);
  const std::optional<FakeKubeRequest> req = kube_->LastRequest();
  ASSERT_TRUE(req.has_value());
  EXPECT_TRUE(req->watch);
  EXPECT_EQ(req->params.at("resourceVersion"), std::to_string(rv));
}

TEST_F(FakeKubeTest, WatchWithoutResourceVersionStartsWithTheCurrentPods) {
  StartKube();
  kube_->SetPods(SamplePods());
  auto watch = Watch("/api/v1/namespaces/shop/pods?watch=1&labelSelector=app.kubernetes.io%2Fname");
  std::vector<std::string> lines = watch->WaitForLines(3, kWait);
  ASSERT_EQ(lines.size(), 3u);  // db, web, web (queued has no such label)
  for (const auto& line : lines) EXPECT_EQ(Json(line).S("/type"), "ADDED") << line;
  ASSERT_TRUE(kube_->WaitForWatches(1, kWait));

  // SetPods sends the difference: one pod gone, one changed, one new, the rest untouched.
  std::vector<FakePod> pods = SamplePods();
  pods.erase(pods.begin());  // web on node-a
  pods[3].ready = false;     // db (after the erase: web-b, alloy, apiserver, db, queued)
  pods.push_back(MakeDeploymentPod("shop", "cart", "node-b", "10.244.2.20"));
  kube_->SetPods(pods);
  lines = watch->WaitForLines(6, kWait);
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(Json(lines[3]).S("/type"), "DELETED");
  EXPECT_EQ(Json(lines[4]).S("/type"), "ADDED");  // cart sorts before db
  EXPECT_EQ(Json(lines[4]).S("/object/metadata/labels/app.kubernetes.io~1name"), "cart");
  EXPECT_EQ(Json(lines[5]).S("/type"), "MODIFIED");
  EXPECT_EQ(Json(lines[5]).S("/object/metadata/labels/app.kubernetes.io~1name"), "db");
  EXPECT_EQ(kube_->Pods().size(), 6u);
}

TEST_F(FakeKubeTest, WatchEndsAtTimeoutSeconds) {
  StartKube();
  const absl::Time start = absl::Now();
  auto watch = Watch("/api/v1/pods?watch=true&timeoutSeconds=1&resourceVersion=1000");
  EXPECT_EQ(watch->WaitForEnd(kWait), CURLE_OK);
  EXPECT_GE(absl::Now() - start, absl::Seconds(1));
  EXPECT_TRUE(kube_->WaitForWatchesEnded(kWait));
}

TEST_F(FakeKubeTest, WatchFromACompactedVersionGetsExpired) {
  StartKube();
  kube_->UpsertPod(MakePendingPod("shop", "a", "node-a"));
  kube_->UpsertPod(MakePendingPod("shop", "b", "node-a"));
  kube_->CompactHistory();
  auto watch = Watch("/api/v1/pods?watch=true&resourceVersion=1000");
  const std::vector<std::string> lines = watch->WaitForLines(1, kWait);
  ASSERT_EQ(lines.size(), 1u);
  const Json e(lines[0]);
  EXPECT_EQ(e.S("/type"), "ERROR");
  EXPECT_EQ(e.S("/object/kind"), "Status");
  EXPECT_EQ(e.I("/object/code"), 410);
  EXPECT_EQ(e.S("/object/reason"), "Expired");
  EXPECT_EQ(watch->WaitForEnd(kWait), CURLE_OK);

  // From the current version it works.
  auto fresh =
      Watch(absl::StrCat("/api/v1/pods?watch=true&resourceVersion=", kube_->resource_version()));
  ASSERT_TRUE(kube_->WaitForWatches(1, kWait));
  kube_->DeletePod("shop", "a");
  ASSERT_EQ(fresh->WaitForLines(1, kWait).size(), 1u);
  EXPECT_EQ(Json(fresh->WaitForLines(1, kWait)[0]).S("/type"), "DELETED");
}

TEST_F(FakeKubeTest, WatchesEndAbruptlyOnRequestAndWhenTheServerGoesDown) {
  StartKube();
  auto a = Watch("/api/v1/pods?watch=true");
  ASSERT_TRUE(kube_->WaitForWatches(1, kWait));
  kube_->CloseWatches(/*abrupt=*/true);
  const std::optional<CURLcode> ra = a->WaitForEnd(kWait);
  ASSERT_TRUE(ra.has_value());
  EXPECT_NE(*ra, CURLE_OK);  // no terminating chunk: the client sees a broken transfer
  EXPECT_TRUE(kube_->WaitForWatchesEnded(kWait));

  auto b = Watch("/api/v1/pods?watch=true");
  ASSERT_TRUE(kube_->WaitForWatches(1, kWait));
  ASSERT_TRUE(kube_->SetDown(true).ok());
  const std::optional<CURLcode> rb = b->WaitForEnd(kWait);
  ASSERT_TRUE(rb.has_value());
  EXPECT_NE(*rb, CURLE_OK);
  EXPECT_TRUE(kube_->WaitForWatchesEnded(kWait));
  ASSERT_TRUE(kube_->SetDown(false).ok());

  // A client that goes away is noticed without an event to send.
  {
    auto c = Watch("/api/v1/pods?watch=true");
    ASSERT_TRUE(kube_->WaitForWatches(1, kWait));
  }  // the destructor aborts the transfer
  EXPECT_TRUE(kube_->WaitForWatchesEnded(kWait));
}

TEST_F(FakeKubeTest, ForcedStatusesDelaysAndBrokenResponses) {
  StartKube();
  kube_->SetPods(SamplePods());
  kube_->FailNext(2, 503);
  Response r = Call("/pods");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Json(r.body).S("/reason"), "ServiceUnavailable");
  EXPECT_EQ(Get(kube_->base_url() + "/pods", "", pki_->ca_cert_pem).status, 503);  // before auth
  EXPECT_EQ(Call("/pods").status, 200);

  kube_->FailNext(-1, 500);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Call("/api/v1/pods").status, 500);
  kube_->ClearFaults();
  EXPECT_EQ(Call("/api/v1/pods").status, 200);

  kube_->BreakNext(1);
  r = Call("/pods");
  EXPECT_NE(r.code, CURLE_OK);
  EXPECT_TRUE(kube_->LastRequest()->broken);
  EXPECT_EQ(Call("/pods").code, CURLE_OK);

  kube_->SetDelay(absl::Milliseconds(300));
  const absl::Time start = absl::Now();
  EXPECT_EQ(Call("/pods").status, 200);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
  kube_->ClearFaults();

  // A request waiting out its delay is counted once answered; the waits see it.
  kube_->SetDelay(absl::Milliseconds(200));
  const size_t before = kube_->request_count("/pods");
  std::thread t([&] { EXPECT_EQ(Call("/pods").status, 200); });
  EXPECT_TRUE(kube_->WaitForRequests("/pods", before + 1, kWait));
  EXPECT_TRUE(kube_->WaitForRequests(kube_->request_count(), kWait));
  t.join();
  kube_->ClearObservations();
  EXPECT_EQ(kube_->request_count(), 0u);
  EXPECT_FALSE(kube_->WaitForRequests(1, absl::Milliseconds(10)));
}

FakeEvent SampleEvent(std::string name, std::string last_timestamp) {
  FakeEvent e;
  e.ns = "shop";
  e.name = std::move(name);
  e.involved_name = "web-1";
  e.reason = "Pulled";
  e.message = "pulled \"nginx\"";
  e.source_component = "kubelet";
  e.source_host = "node-a";
  e.first_timestamp = last_timestamp;
  e.last_timestamp = std::move(last_timestamp);
  return e;
}

TEST_F(FakeKubeTest, EventsAreListedAndWatchedPerNamespace) {
  StartKube();
  kube_->UpsertEvent(SampleEvent("web-1.a", "2024-05-01T10:00:00Z"));
  FakeEvent other = SampleEvent("db-1.b", "2024-05-01T10:00:01Z");
  other.ns = "data";
  kube_->UpsertEvent(other);
  const Response all = Call("/api/v1/events");
  ASSERT_EQ(all.status, 200);
  const Json list(all.body);
  EXPECT_EQ(list.S("/kind"), "EventList");
  EXPECT_EQ(list.S("/items/0/metadata/name"), "db-1.b");
  EXPECT_EQ(list.S("/items/1/involvedObject/name"), "web-1");
  EXPECT_EQ(list.S("/items/1/involvedObject/namespace"), "shop");
  EXPECT_EQ(list.S("/items/1/lastTimestamp"), "2024-05-01T10:00:00Z");
  EXPECT_EQ(list.S("/items/1/source/component"), "kubelet");
  EXPECT_EQ(list.I("/items/1/count"), 1);
  const Response shop = Call("/api/v1/namespaces/shop/events");
  ASSERT_EQ(shop.status, 200);
  EXPECT_EQ(Json(shop.body).S("/items/0/metadata/name"), "web-1.a");
  EXPECT_FALSE(Json(shop.body).Has("/items/1"));

  auto watch = Watch(absl::StrCat("/api/v1/namespaces/shop/events?watch=true&resourceVersion=",
                                  Json(shop.body).S("/metadata/resourceVersion")));
  ASSERT_TRUE(kube_->WaitForWatches(1, kWait));
  FakeEvent again = SampleEvent("web-1.a", "2024-05-01T10:00:05Z");
  again.count = 2;
  kube_->UpsertEvent(again);
  other.message = "elsewhere";
  kube_->UpsertEvent(other);  // another namespace: not on this watch
  kube_->DeleteEvent("shop", "web-1.a");
  const std::vector<std::string> lines = watch->WaitForLines(2, kWait);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(Json(lines[0]).S("/type"), "MODIFIED");
  EXPECT_EQ(Json(lines[0]).I("/object/count"), 2);
  EXPECT_EQ(Json(lines[0]).S("/object/kind"), "Event");
  EXPECT_EQ(Json(lines[1]).S("/type"), "DELETED");

  // Compacted: a watch from an old version gets 410 Gone.
  kube_->CompactHistory();
  auto old = Watch("/api/v1/events?watch=true&resourceVersion=1000");
  const std::vector<std::string> gone = old->WaitForLines(1, kWait);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(Json(gone[0]).I("/object/code"), 410);
}

Response Send(const std::string& method, const std::string& url, const std::string& body,
              const std::string& token, const std::string& ca) {
  Response r;
  CURL* c = curl_easy_init();
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  const std::string auth = absl::StrCat("Authorization: Bearer ", token);
  headers = curl_slist_append(headers, auth.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_blob blob{const_cast<char*>(ca.data()), ca.size(), CURL_BLOB_COPY};
  curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
  r.code = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  return r;
}

TEST_F(FakeKubeTest, LeasesAreCreatedAndUpdatedWithConflicts) {
  StartKube();
  const std::string base =
      absl::StrCat(kube_->base_url(), "/apis/coordination.k8s.io/v1/namespaces/monitoring/leases");
  EXPECT_EQ(Call("/apis/coordination.k8s.io/v1/namespaces/monitoring/leases/events").status, 404);
  const std::string lease =
      R"({"metadata":{"name":"events","annotations":{"a":"1"}},"spec":{"holderIdentity":"pod-a",)"
      R"("leaseDurationSeconds":15,"renewTime":"2024-05-01T10:00:00.000000Z"}})";
  Response created = Send("POST", base, lease, token_, pki_->ca_cert_pem);
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string rv = Json(created.body).S("/metadata/resourceVersion");
  EXPECT_EQ(Send("POST", base, lease, token_, pki_->ca_cert_pem).status, 409);
  const Response got = Call("/apis/coordination.k8s.io/v1/namespaces/monitoring/leases/events");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(Json(got.body).S("/spec/holderIdentity"), "pod-a");
  EXPECT_EQ(Json(got.body).I("/spec/leaseDurationSeconds"), 15);
  EXPECT_EQ(Json(got.body).S("/metadata/annotations/a"), "1");

  auto update = [&](const std::string& holder, const std::string& version) {
    return Send("PUT", base + "/events",
                absl::StrCat(R"({"metadata":{"name":"events","resourceVersion":")", version,
                             R"("},"spec":{"holderIdentity":")", holder,
                             R"(","leaseDurationSeconds":15}})"),
                token_, pki_->ca_cert_pem);
  };
  const Response ok = update("pod-b", rv);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_NE(Json(ok.body).S("/metadata/resourceVersion"), rv);
  const Response stale = update("pod-c", rv);  // written meanwhile by pod-b
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(Json(stale.body).S("/reason"), "Conflict");
  EXPECT_EQ(kube_->lease_conflicts(), 2u);
  std::optional<FakeLease> stored = kube_->GetLease("monitoring", "events");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->holder, "pod-b");
  EXPECT_TRUE(stored->annotations.empty());  // an update replaces the object
}

// ---- Pod logs ----------------------------------------------------------------------------------

constexpr int64_t kLogT0 = int64_t{1714557600} * 1000000000;  // 2024-05-01T10:00:00Z

TEST_F(FakeKubeTest, PodLogHonoursTimestampsSinceTimeAndContainer) {
  StartKube();
  FakePod pod = MakeDeploymentPod("shop", "web", "node-a", "10.244.1.10");
  kube_->SetPods({pod});
  const std::string c = pod.containers[0].name;
  kube_->AppendPodLog("shop", pod.name, c, "first", kLogT0 + 500000000);
  kube_->AppendPodLog("shop", pod.name, c, "second", kLogT0 + 1500000000);
  const std::string base = absl::StrCat("/api/v1/namespaces/shop/pods/", pod.name, "/log");
  Response r = Call(absl::StrCat(base, "?container=", c));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "first\nsecond\n");
  r = Call(absl::StrCat(base, "?container=", c, "&timestamps=true"));
  EXPECT_EQ(r.body, "2024-05-01T10:00:00.5Z first\n2024-05-01T10:00:01.5Z second\n");
  r = Call(absl::StrCat(base, "?container=", c, "&sinceTime=2024-05-01T10:00:01Z"));
  EXPECT_EQ(r.body, "second\n");
  EXPECT_EQ(Call(absl::StrCat(base, "?container=nope")).status, 400);
  EXPECT_EQ(Call("/api/v1/namespaces/shop/pods/ghost/log?container=x").status, 404);
}

TEST_F(FakeKubeTest, PodLogFollowStreamsAppendedLinesAndCanBeEnded) {
  StartKube();
  kube_->AppendPodLog("ns", "p", "c", "one", kLogT0);
  auto w = Watch("/api/v1/namespaces/ns/pods/p/log?container=c&follow=true");
  EXPECT_EQ(w->WaitForLines(1, kWait), std::vector<std::string>{"one"});
  ASSERT_TRUE(kube_->WaitForLogStreams(1, kWait));
  kube_->AppendPodLog("ns", "p", "c", "two", kLogT0 + 1);
  kube_->AppendPodLog("ns", "p", "other", "not mine", kLogT0 + 2);
  EXPECT_EQ(w->WaitForLines(2, kWait), (std::vector<std::string>{"one", "two"}));
  kube_->EndLogStreams();
  EXPECT_EQ(w->WaitForEnd(kWait), CURLE_OK);
  EXPECT_EQ(kube_->active_log_streams(), 0u);
  EXPECT_EQ(kube_->log_streams_started(), 1u);

  // Abrupt: half a line, then a reset.
  auto w2 = Watch("/api/v1/namespaces/ns/pods/p/log?container=c&follow=true");
  ASSERT_TRUE(kube_->WaitForLogStreams(1, kWait));
  EXPECT_EQ(w2->WaitForLines(2, kWait).size(), 2u);
  kube_->EndLogStreams(/*abrupt=*/true);
  std::optional<CURLcode> end = w2->WaitForEnd(kWait);
  ASSERT_TRUE(end.has_value());
  EXPECT_NE(*end, CURLE_OK);
}

}  // namespace
}  // namespace sluice::testing
