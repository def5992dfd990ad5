// PodDiscovery: the running part of discovery.kubelet and discovery.kubernetes (role "pod").
//
// A fetch thread asks for the node's pods: the kubelet's GET <url>/pods, or the API server's
// GET /api/v1/[namespaces/<ns>/]pods with the component's selectors (resourceVersion=0: served
// from the API server's cache, not from etcd), then (discovery.kubernetes) watches them from the
// list's version (kube_watch.h). It fetches every refresh_interval, and at once (rate-limited to
// one per min_refresh_gap) when a pod log directory appears that no target covers. Failures are
// retried with exponential backoff (1s doubling up to refresh_interval, at least 30s), logged once
// per change of state (up to down, down to up, or a different error), and counted. A
// discovery.kubernetes component whose selectors restrict it to one node is served by that node's
// kubelet; until the kubelet has answered once, three failed attempts in a row send it to the API
// server instead (a kubelet whose certificate cannot be verified, say).
//
// attach_metadata { namespace = true }: a KubeInformer lists and watches /api/v1/namespaces (no
// selectors, as Prometheus) on its own thread; every target of a pod gets its namespace's
// __meta_kubernetes_namespace_label_* / _annotation_* labels, kept current as namespaces change.
// Targets are first published once the namespaces are known (as Prometheus waits for its
// namespace informer), or once `index.unknown_pod_wait` has passed without them (then without
// their labels until they are known: logs are never held back for metadata).
//
// Results go to the tail thread (posted to its io_context), where a PodIndex turns them into
// targets (grace period, path-only fallback; see pod_index.h) and `publish` hands the targets to
// the Runtime when they change. A DirWatcher on the pod log directory drives the index's view of
// directories.
//
// Created by the Runtime on the loading thread; Start()/Stop() and everything but the fetch loop
// and the namespace informer run on the tail thread; the fetch thread owns its HTTP clients.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <functional>
#include <map>
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
#include "agent/metadata/kube_watch.h"
#include "agent/metadata/pod.h"
#include "agent/metadata/pod_index.h"
#include "agent/metadata/selector.h"
#include "agent/pipeline/labels.h"

namespace sluice::metadata {

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
  // Add the pod's namespace's labels and annotations (__meta_kubernetes_namespace_label_*, ...);
  // needs `apiserver`.
  bool attach_namespace = false;
  std::string node_name;
  std::string pods_dir;  // pod log directory to observe; "" = none (no fallback)
  PodIndexOptions index;
};

class PodDiscovery {
 public:
  using Publish = std::function<void(std::vector<LabelSet>)>;
  // A client for an endpoint; tests may swap the transport.
  using ClientFactory = KubeClientFactory;

  PodDiscovery(boost::asio::io_context* io, PodDiscoveryOptions options, const Clock* clock,
               MetricsRegistry* metrics, Publish publish, ClientFactory factory = nullptr);
  ~PodDiscovery();
  PodDiscovery(const PodDiscovery&) = delete;
  PodDiscovery& operator=(const PodDiscovery&) = delete;

  void Start();  // tail thread
  void Stop();   // tail thread; joins the fetch thread
  // Why the component is unhealthy (its last refresh, or the namespaces' list or watch, failed),
  // or nullopt. Any thread.
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
  // The pods of the API server this component asks for (one namespace, or all of them).
  KubeCollection PodCollection() const;
  bool WantNamespace(const std::string& ns) const;
  bool Stopping();
  void PostPods();          // fetch thread: the watched pods to the tail thread
  void PostNamespaces();    // informer thread: the namespaces' labels to the tail thread
  void OnResult(Result r);  // tail thread
  void OnNamespaces(std::map<std::string, LabelSet> labels);  // tail thread
  void OnDirsChanged();                                       // tail thread
  void RequestRefresh();                                      // any thread
  void PublishIfChanged();                                    // tail thread
  void ArmTimer();

  boost::asio::io_context* io_;
  PodDiscoveryOptions options_;
  const Clock* clock_;
  Publish publish_;
  ClientFactory factory_;

  // Tail thread.
  PodIndex index_;
  size_t published_hash_ = 0;  // of the targets last published (HashTargets): not a copy
  bool published_once_ = false;
  std::unique_ptr<DirWatcher> watcher_;
  std::unique_ptr<boost::asio::steady_timer> timer_;
  uint64_t path_only_reported_ = 0;
  bool stopped_ = false;
  bool namespaces_ready_ = true;  // false until the namespaces are known or the wait is over
  absl::Time namespaces_deadline_;

  // Fetch thread state and its wake-up.
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool refresh_requested_ = false;
  std::unique_ptr<KubeClient> kubelet_;    // made by Start, used by the fetch thread
  std::unique_ptr<KubeClient> apiserver_;  // likewise
  KubeStore<Pod> pods_;                    // the API server's pods (list and watch)
  int kubelet_failures_ = 0;
  bool kubelet_answered_ = false;
  bool use_apiserver_ = false;
  std::optional<LabelSet> node_labels_;
  std::string list_resource_version_;
  absl::Time node_fetched_ = absl::InfinitePast();
  RetryState retry_;

  // attach_metadata { namespace = true }: the informer's thread uses the store.
  KubeStore<ObjectMeta> namespaces_;
  std::unique_ptr<KubeInformer> namespace_informer_;

  Counter* refreshes_;
  Counter* errors_;
  Counter* path_only_;
  Gauge* up_gauge_;
  Gauge* pods_gauge_;
  Gauge* targets_gauge_;
};

}  // namespace sluice::metadata
