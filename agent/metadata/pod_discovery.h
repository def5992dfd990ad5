// PodDiscovery: the running part of discovery.kubelet and discovery.kubernetes (role "pod").
//
// A fetch thread asks for the node's pods: the kubelet's GET <url>/pods, or the API server's
// GET /api/v1/[namespaces/<ns>/]pods with the component's selectors (resourceVersion=0: served
// from the API server's cache, not from etcd). It fetches every refresh_interval, and at once
// (rate-limited to one per min_refresh_gap) when a pod log directory appears that no target
// covers. Failures are retried with exponential backoff (1s doubling up to refresh_interval, at
// least 30s), logged once per change of state (up to down, down to up, or a different error), and
// counted. A discovery.kubernetes component whose selectors restrict it to one node is served by
// that node's kubelet; until the kubelet has answered once, three failed attempts in a row send it
// to the API server instead (a kubelet whose certificate cannot be verified, say).
//
// Results go to the tail thread (posted to its io_context), where a PodIndex turns them into
// targets (grace period, path-only fallback; see pod_index.h) and `publish` hands the targets to
// the Runtime when they change. A DirWatcher on the pod log directory drives the index's view of
// directories.
//
// Created by the Runtime on the loading thread; Start()/Stop() and everything but the fetch loop
// run on the tail thread; the fetch thread owns its HTTP clients.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/common/clock.h"
#include "agent/common/metrics.h"
#include "agent/discovery/dir_watcher.h"
#include "agent/metadata/pod.h"
#include "agent/metadata/pod_index.h"
#include "agent/metadata/selector.h"
#include "agent/pipeline/labels.h"
#include "agent/sink/endpoint_config.h"
#include "agent/sink/http_client.h"
#include "agent/sink/request_auth.h"

namespace sluice::metadata {

// Where pods are asked for.
struct KubeEndpoint {
  std::string base_url;  // https://host:port, no trailing slash
  HttpClientConfig http;
};

struct PodDiscoveryOptions {
  std::string component_id;
  std::optional<KubeEndpoint> kubelet;    // GET <base_url>/pods
  std::optional<KubeEndpoint> apiserver;  // list (when no kubelet) and node metadata
  absl::Duration refresh_interval = absl::Seconds(5);
  absl::Duration timeout = absl::Seconds(30);
  absl::Duration min_refresh_gap = absl::Seconds(1);
  std::vector<std::string> namespaces;  // empty: all
  std::string label_selector;           // as given (sent to the API server)
  std::string field_selector;
  LabelSelector labels;  // the same, parsed (applied to the kubelet's answer)
  FieldSelector fields;
  // discovery.kubernetes: after a list, watch the API server for changes (list again when the
  // watch's version expires) instead of listing every refresh_interval.
  bool watch = false;
  bool attach_node = false;  // add the node's labels (__meta_kubernetes_node_*)
  std::string node_name;
  std::string pods_dir;  // pod log directory to observe; "" = none (no fallback)
  PodIndexOptions index;
};

class PodDiscovery {
 public:
  using Publish = std::function<void(std::vector<LabelSet>)>;
  // A client for an endpoint; tests may swap the transport.
  using ClientFactory = std::function<std::unique_ptr<HttpClient>(const HttpClientConfig&)>;

  PodDiscovery(boost::asio::io_context* io, PodDiscoveryOptions options, const Clock* clock,
               MetricsRegistry* metrics, Publish publish, ClientFactory factory = nullptr);
  ~PodDiscovery();
  PodDiscovery(const PodDiscovery&) = delete;
  PodDiscovery& operator=(const PodDiscovery&) = delete;

  void Start();  // tail thread
  void Stop();   // tail thread; joins the fetch thread
  // Why the component is unhealthy (its last refresh failed), or nullopt. Any thread.
  std::optional<std::string> Unhealthy() const;
  const std::string& component_id() const { return options_.component_id; }

 private:
  struct Result {
    absl::StatusOr<std::vector<Pod>> pods;
    std::optional<LabelSet> node_labels;
    std::string source;  // "kubelet" or "apiserver"
  };
  void FetchLoop();
  Result FetchOnce();
  // A GET of `url` for endpoint `which` (kubelet or API server): its headers and credentials.
  absl::Status MakeRequest(int which, const std::string& url, absl::Duration timeout,
                           HttpRequest* req);
  absl::StatusOr<std::string> Get(int which, const std::string& url);
  // Streams changes after `resource_version` to the tail thread until the watch breaks (an
  // error), its version expires (OK: list again) or Stop() (OK).
  absl::Status Watch(std::vector<Pod> listed, std::string resource_version);
  bool WantNamespace(const std::string& ns) const;
  void OnResult(Result r);  // tail thread
  void OnDirsChanged();     // tail thread
  void RequestRefresh();    // any thread
  void PublishIfChanged();  // tail thread
  void ArmTimer();

  boost::asio::io_context* io_;
  PodDiscoveryOptions options_;
  const Clock* clock_;
  Publish publish_;
  ClientFactory factory_;

  // Tail thread.
  PodIndex index_;
  std::vector<LabelSet> published_;
  bool published_once_ = false;
  std::unique_ptr<DirWatcher> watcher_;
  std::unique_ptr<boost::asio::steady_timer> timer_;
  uint64_t path_only_reported_ = 0;
  bool stopped_ = false;

  // Fetch thread state and its wake-up.
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool refresh_requested_ = false;
  std::unique_ptr<HttpClient> clients_[2];  // kubelet, apiserver (made by Start, used by fetch)
  std::optional<RequestAuth> auth_[2];
  int kubelet_failures_ = 0;
  bool kubelet_answered_ = false;
  bool use_apiserver_ = false;
  std::optional<LabelSet> node_labels_;
  std::string list_resource_version_;
  absl::Time node_fetched_ = absl::InfinitePast();
  bool up_ = true;
  std::string last_error_;
  mutable std::mutex health_mu_;  // guards health_error_ (fetch thread writes, any thread reads)
  std::string health_error_;      // "" = healthy

  Counter* refreshes_;
  Counter* errors_;
  Counter* path_only_;
  Gauge* up_gauge_;
  Gauge* pods_gauge_;
  Gauge* targets_gauge_;
};

}  // namespace sluice::metadata
