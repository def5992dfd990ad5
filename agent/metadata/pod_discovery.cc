#include "agent/metadata/pod_discovery.h"

#include <boost/asio/post.hpp>
#include <map>

#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/common/memory.h"
#include "agent/common/strings.h"
#include "agent/common/thread.h"
#include "agent/go/strconv.h"

namespace sluice::metadata {
namespace {

// Node labels change rarely: asked for once a minute at most.
constexpr absl::Duration kNodeRefresh = absl::Minutes(1);

}  // namespace

PodDiscovery::PodDiscovery(boost::asio::io_context* io, PodDiscoveryOptions options,
                           const Clock* clock, MetricsRegistry* metrics, Publish publish,
                           ClientFactory factory)
    : io_(io),
      options_(std::move(options)),
      clock_(clock),
      publish_(std::move(publish)),
      factory_(std::move(factory)),
      index_(options_.index),
      pods_([this](const Pod& p) { return WantNamespace(p.ns); }),
      retry_(std::max(options_.refresh_interval, absl::Seconds(30))) {
  MetricLabels l = {{"component_id", SplitComponentId(options_.component_id).first}};
  refreshes_ = metrics->GetCounter("sluice_kubelet_refreshes_total",
                                   "Pod list refreshes attempted by a discovery component.", l);
  errors_ = metrics->GetCounter("sluice_kubelet_refresh_errors_total",
                                "Pod list refreshes that failed (kubelet or API server).", l);
  path_only_ = metrics->GetCounter(
      "sluice_kubelet_path_only_targets_total",
      "Containers whose logs went out labelled from their path alone: their pod was unknown "
      "after the wait.",
      l);
  up_gauge_ = metrics->GetGauge("sluice_kubelet_up",
                                "1 when the last pod list refresh succeeded, else 0.", l);
  pods_gauge_ = metrics->GetGauge("sluice_kubelet_pods", "Pods in the last refresh.", l);
  targets_gauge_ = metrics->GetGauge("sluice_kubelet_targets", "Targets exported.", l);
  up_gauge_->Set(0);
  if (options_.attach_namespace && options_.apiserver) {
    KubeInformer::Options n;
    n.component_id = options_.component_id;
    n.resource = "namespaces";
    n.apiserver = *options_.apiserver;
    // Every namespace, whatever the component's namespaces and selectors (as Prometheus).
    n.collection.path = "/api/v1/namespaces";
    n.timeout = options_.timeout;
    n.max_backoff = std::max(options_.refresh_interval, absl::Seconds(30));
    n.factory = factory_;
    namespace_informer_ = std::make_unique<KubeInformer>(std::move(n), &namespaces_, metrics,
                                                         [this] { PostNamespaces(); });
  }
}

PodDiscovery::~PodDiscovery() { Stop(); }

void PodDiscovery::Start() {
  if (options_.kubelet) {
    kubelet_ = std::make_unique<KubeClient>(*options_.kubelet, "kubelet", factory_);
  }
  if (options_.apiserver) {
    apiserver_ = std::make_unique<KubeClient>(*options_.apiserver, "API server", factory_);
  }
  use_apiserver_ = !options_.kubelet.has_value();
  timer_ = std::make_unique<boost::asio::steady_timer>(*io_);
  if (namespace_informer_) {
    namespaces_ready_ = false;
    namespaces_deadline_ =
        absl::FromUnixNanos(clock_->NowUnixNanos()) + options_.index.unknown_pod_wait;
    namespace_informer_->Start();
  }
  if (!options_.pods_dir.empty()) {
    watcher_ = std::make_unique<DirWatcher>(io_, absl::Milliseconds(100), 4096,
                                            [this] { OnDirsChanged(); });
    // The pod directories and their container directories.
    watcher_->SetRoots({DirWatcher::Root{options_.pods_dir, 1}});
    OnDirsChanged();
  }
  thread_ = StartThread("sluice-meta", [this] { FetchLoop(); });
}

void PodDiscovery::Stop() {
  stopped_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (KubeClient* c : {kubelet_.get(), apiserver_.get()}) {
    if (c) c->Cancel();
  }
  if (thread_.joinable()) thread_.join();
  if (namespace_informer_) namespace_informer_->Stop();
  watcher_.reset();
  if (timer_) timer_->cancel();
}

std::optional<std::string> PodDiscovery::Unhealthy() const {
  std::string error = retry_.HealthError();
  if (!error.empty()) return absl::StrCat("refreshing the pod list failed: ", error);
  if (namespace_informer_) return namespace_informer_->Unhealthy();
  return std::nullopt;
}

void PodDiscovery::RequestRefresh() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    refresh_requested_ = true;
  }
  cv_.notify_all();
}

bool PodDiscovery::Stopping() {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_;
}

void PodDiscovery::FetchLoop() {
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      refresh_requested_ = false;
    }
    Result r = FetchOnce();
    refreshes_->Inc();
    bool ok = r.pods.ok();
    if (ok) {
      if (retry_.Succeeded()) {
        LogInfo("discovery", "pod list refreshed again",
                {{"component", options_.component_id}, {"source", r.source}});
      }
    } else {
      errors_->Inc();
      std::string error(r.pods.status().message());
      // Once per change of state: a kubelet down for an hour logs once, not 720 times.
      if (retry_.Failed(error)) {
        LogWarn("discovery", "refreshing the pod list failed; retrying with backoff",
                {{"component", options_.component_id}, {"source", r.source}, {"error", error}});
      }
    }
    up_gauge_->Set(ok ? 1 : 0);
    bool watch = ok && options_.watch && r.source == "apiserver";
    boost::asio::post(*io_, [this, r = std::move(r)]() mutable { OnResult(std::move(r)); });
    // The answer's body, its parse and the pods decoded from it are gone (a kubelet's list of
    // 110 pods is a few MiB of JSON and parser buffers): their pages go back to the system
    // instead of staying with this thread until the next poll.
    ReleaseFreeMemory();

    if (watch) {
      // From the list's version on, the API server tells what changes: no polling.
      absl::Status st = KubeWatch(
          *apiserver_, PodCollection(), list_resource_version_, options_.timeout, &pods_,
          [this] { return Stopping(); }, [this] { PostPods(); });
      if (Stopping()) return;
      if (st.ok()) continue;  // the version expired: list again at once
      ok = false;
      errors_->Inc();
      up_gauge_->Set(0);
      std::string error(st.message());
      if (retry_.Failed(error)) {
        LogWarn("discovery", "watching pods failed; listing again with backoff",
                {{"component", options_.component_id}, {"source", "apiserver"}, {"error", error}});
      }
    }

    absl::Duration wait = ok ? options_.refresh_interval : retry_.NextBackoff();
    auto now = std::chrono::steady_clock::now();
    auto deadline = now + absl::ToChronoNanoseconds(wait);
    auto earliest = now + absl::ToChronoNanoseconds(options_.min_refresh_gap);
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_until(lock, deadline, [this] { return stop_ || refresh_requested_; });
    if (stop_) return;
    // A refresh asked for early still waits out the gap: a burst of new pods is one request.
    if (refresh_requested_) cv_.wait_until(lock, earliest, [this] { return stop_; });
  }
}

KubeCollection PodDiscovery::PodCollection() const {
  KubeCollection c;
  // One list and one watch stream per component: several namespaces are asked for cluster-wide
  // and kept here (the store's filter).
  c.path = options_.namespaces.size() == 1
               ? absl::StrCat("/api/v1/namespaces/", options_.namespaces[0], "/pods")
               : "/api/v1/pods";
  c.label_selector = options_.label_selector;
  c.field_selector = options_.field_selector;
  return c;
}

PodDiscovery::Result PodDiscovery::FetchOnce() {
  Result r;
  if (!use_apiserver_ && kubelet_) {
    r.source = "kubelet";
    absl::StatusOr<std::string> body = kubelet_->Get("/pods", options_.timeout);
    absl::StatusOr<std::vector<Pod>> pods =
        body.ok() ? ParsePodList(*body) : absl::StatusOr<std::vector<Pod>>(body.status());
    if (pods.ok()) {
      kubelet_answered_ = true;
      kubelet_failures_ = 0;
      // The kubelet takes no selectors: they are applied here.
      std::vector<Pod> kept;
      for (Pod& p : *pods) {
        if (!WantNamespace(p.ns)) continue;
        if (!options_.labels.Matches(p.labels) || !options_.fields.Matches(p)) continue;
        kept.push_back(std::move(p));
      }
      r.pods = std::move(kept);
    } else {
      r.pods = pods.status();
      ++kubelet_failures_;
      if (!kubelet_answered_ && kubelet_failures_ >= 3 && apiserver_) {
        use_apiserver_ = true;
        LogWarn("discovery", "the kubelet did not answer; listing pods from the API server",
                {{"component", options_.component_id}, {"error", Sv(pods.status().message())}});
      }
    }
  } else if (apiserver_) {
    r.source = "apiserver";
    absl::StatusOr<std::string> rv =
        KubeList(*apiserver_, PodCollection(), options_.timeout, &pods_);
    if (rv.ok()) {
      list_resource_version_ = std::move(*rv);
      r.pods = pods_.Snapshot();
    } else {
      r.pods = rv.status();
    }
  } else {
    r.pods = absl::FailedPreconditionError("no kubelet and no API server to ask");
  }
  // Node metadata, from the API server, refreshed now and then; the last one kept on failure.
  absl::Time now = absl::Now();
  if (options_.attach_node && apiserver_ && !options_.node_name.empty() &&
      now - node_fetched_ >= kNodeRefresh) {
    absl::StatusOr<std::string> body = apiserver_->Get(
        absl::StrCat("/api/v1/nodes/", GoQueryEscape(options_.node_name)), options_.timeout);
    absl::StatusOr<ObjectMeta> meta =
        body.ok() ? ParseObjectMeta(*body) : absl::StatusOr<ObjectMeta>(body.status());
    if (meta.ok()) {
      LabelSet l;
      l.Set("__meta_kubernetes_node_name", meta->name);
      AddObjectMetaLabels("node", meta->labels, meta->annotations, &l);
      node_labels_ = std::move(l);
      node_fetched_ = now;
    } else {
      LogDebug("discovery", "cannot read the node's metadata",
               {{"component", options_.component_id}, {"error", Sv(meta.status().message())}});
    }
  }
  r.node_labels = node_labels_;
  return r;
}

bool PodDiscovery::WantNamespace(const std::string& ns) const {
  const auto& want = options_.namespaces;
  return want.empty() || std::find(want.begin(), want.end(), ns) != want.end();
}

void PodDiscovery::PostPods() {
  Result r;
  r.source = "apiserver";
  r.pods = pods_.Snapshot();
  r.node_labels = node_labels_;
  boost::asio::post(*io_, [this, r = std::move(r)]() mutable { OnResult(std::move(r)); });
}

void PodDiscovery::PostNamespaces() {
  std::map<std::string, LabelSet> labels;
  for (const auto& [name, ns] : namespaces_.objects())
    labels.emplace(name, NamespaceMetaLabels(ns));
  boost::asio::post(
      *io_, [this, labels = std::move(labels)]() mutable { OnNamespaces(std::move(labels)); });
}

void PodDiscovery::OnNamespaces(std::map<std::string, LabelSet> labels) {
  if (stopped_) return;
  index_.SetNamespaceLabels(std::move(labels));
  namespaces_ready_ = true;
  PublishIfChanged();
}

void PodDiscovery::OnResult(Result r) {
  if (stopped_) return;
  absl::Time now = absl::FromUnixNanos(clock_->NowUnixNanos());
  if (r.pods.ok()) {
    pods_gauge_->Set(static_cast<double>(r.pods->size()));
    index_.Update(std::move(*r.pods), r.node_labels ? &*r.node_labels : nullptr, now);
  }
  // A periodic look at the directories too, in case inotify missed something.
  if (!options_.pods_dir.empty() && index_.SetDirs(ScanPodDirs(options_.pods_dir), now)) {
    RequestRefresh();  // a directory newer than this answer
  }
  PublishIfChanged();
}

void PodDiscovery::OnDirsChanged() {
  if (stopped_) return;
  absl::Time now = absl::FromUnixNanos(clock_->NowUnixNanos());
  if (index_.SetDirs(ScanPodDirs(options_.pods_dir), now)) RequestRefresh();
  PublishIfChanged();
}

void PodDiscovery::PublishIfChanged() {
  absl::Time now = absl::FromUnixNanos(clock_->NowUnixNanos());
  if (!namespaces_ready_) {
    if (now < namespaces_deadline_) {
      ArmTimer();  // until the deadline
      return;
    }
    namespaces_ready_ = true;
    LogWarn("discovery",
            "the namespaces are not known yet: pod targets go out without their labels until "
            "they are",
            {{"component", options_.component_id}});
  }
  std::vector<LabelSet> targets = index_.Targets(now);
  uint64_t path_only = index_.path_only_targets();
  if (path_only > path_only_reported_) {
    path_only_->Inc(path_only - path_only_reported_);
    LogWarn("discovery", "pod unknown after the wait: its logs go out labelled from their path",
            {{"component", options_.component_id},
             {"containers", std::to_string(path_only - path_only_reported_)}});
    path_only_reported_ = path_only;
  }
  targets_gauge_->Set(static_cast<double>(targets.size()));
  const size_t hash = HashTargets(targets);
  if (!published_once_ || hash != published_hash_) {
    published_once_ = true;
    published_hash_ = hash;
    publish_(std::move(targets));
  }
  ArmTimer();
}

void PodDiscovery::ArmTimer() {
  absl::Time now = absl::FromUnixNanos(clock_->NowUnixNanos());
  std::optional<absl::Time> next = index_.NextChange(now);
  if (!namespaces_ready_ && (!next || namespaces_deadline_ < *next)) next = namespaces_deadline_;
  timer_->cancel();
  if (!next) return;
  // A little after the deadline, so that the index sees it passed.
  timer_->expires_after(absl::ToChronoNanoseconds(*next - now + absl::Milliseconds(10)));
  timer_->async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    PublishIfChanged();
  });
}

}  // namespace sluice::metadata
