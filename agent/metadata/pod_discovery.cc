#include "agent/metadata/pod_discovery.h"

#include <boost/asio/post.hpp>
#include <map>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/common/status_macros.h"
#include "agent/common/strings.h"
#include "agent/common/thread.h"
#include "agent/go/strconv.h"
#include "agent/sink/loki_sink.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "dev"
#endif

namespace sluice::metadata {
namespace {

constexpr int kKubelet = 0;
constexpr int kApiServer = 1;
// Node labels change rarely: asked for once a minute at most.
constexpr absl::Duration kNodeRefresh = absl::Minutes(1);

std::string StatusText(int status) {
  switch (status) {
    case 401:
      return "401 Unauthorized";
    case 403:
      return "403 Forbidden";
    case 404:
      return "404 Not Found";
    case 500:
      return "500 Internal Server Error";
    case 503:
      return "503 Service Unavailable";
    default:
      return std::to_string(status);
  }
}

}  // namespace

PodDiscovery::PodDiscovery(boost::asio::io_context* io, PodDiscoveryOptions options,
                           const Clock* clock, MetricsRegistry* metrics, Publish publish,
                           ClientFactory factory)
    : io_(io),
      options_(std::move(options)),
      clock_(clock),
      publish_(std::move(publish)),
      factory_(std::move(factory)),
      index_(options_.index) {
  if (!factory_) {
    factory_ = [](const HttpClientConfig& c) -> std::unique_ptr<HttpClient> {
      return std::make_unique<CurlHttpClient>(CurlOptionsFromEndpoint(c));
    };
  }
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
}

PodDiscovery::~PodDiscovery() { Stop(); }

void PodDiscovery::Start() {
  if (options_.kubelet) {
    clients_[kKubelet] = factory_(options_.kubelet->http);
    auth_[kKubelet].emplace(options_.kubelet->http.basic_auth, options_.kubelet->http.authorization,
                            options_.kubelet->http.oauth2);
  }
  if (options_.apiserver) {
    clients_[kApiServer] = factory_(options_.apiserver->http);
    auth_[kApiServer].emplace(options_.apiserver->http.basic_auth,
                              options_.apiserver->http.authorization,
                              options_.apiserver->http.oauth2);
  }
  use_apiserver_ = !options_.kubelet.has_value();
  timer_ = std::make_unique<boost::asio::steady_timer>(*io_);
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
  for (auto& c : clients_) {
    if (c) c->Cancel();
  }
  if (thread_.joinable()) thread_.join();
  watcher_.reset();
  if (timer_) timer_->cancel();
}

std::optional<std::string> PodDiscovery::Unhealthy() const {
  std::lock_guard<std::mutex> lock(health_mu_);
  if (health_error_.empty()) return std::nullopt;
  return absl::StrCat("refreshing the pod list failed: ", health_error_);
}

void PodDiscovery::RequestRefresh() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    refresh_requested_ = true;
  }
  cv_.notify_all();
}

void PodDiscovery::FetchLoop() {
  absl::Duration backoff = absl::Seconds(1);
  const absl::Duration max_backoff = std::max(options_.refresh_interval, absl::Seconds(30));
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
      if (!up_) {
        LogInfo("discovery", "pod list refreshed again",
                {{"component", options_.component_id}, {"source", r.source}});
      }
      up_ = true;
      last_error_.clear();
      backoff = absl::Seconds(1);
    } else {
      errors_->Inc();
      std::string error(r.pods.status().message());
      // Once per change of state: a kubelet down for an hour logs once, not 720 times.
      if (up_ || error != last_error_) {
        LogWarn("discovery", "refreshing the pod list failed; retrying with backoff",
                {{"component", options_.component_id}, {"source", r.source}, {"error", error}});
      }
      up_ = false;
      last_error_ = error;
    }
    up_gauge_->Set(ok ? 1 : 0);
    {
      std::lock_guard<std::mutex> lock(health_mu_);
      health_error_ = ok ? "" : last_error_;
    }
    std::vector<Pod> listed;
    bool watch = ok && options_.watch && r.source == "apiserver";
    if (watch) listed = *r.pods;
    boost::asio::post(*io_, [this, r = std::move(r)]() mutable { OnResult(std::move(r)); });

    if (watch) {
      // From the list's version on, the API server tells what changes: no polling.
      absl::Status st = Watch(std::move(listed), list_resource_version_);
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) return;
      }
      if (st.ok()) continue;  // the version expired: list again at once
      ok = false;
      errors_->Inc();
      up_gauge_->Set(0);
      std::string error(st.message());
      if (up_ || error != last_error_) {
        LogWarn("discovery", "watching pods failed; listing again with backoff",
                {{"component", options_.component_id}, {"source", "apiserver"}, {"error", error}});
      }
      up_ = false;
      last_error_ = error;
      std::lock_guard<std::mutex> lock(health_mu_);
      health_error_ = error;
    }

    absl::Duration wait = ok ? options_.refresh_interval : backoff;
    if (!ok) backoff = std::min(backoff * 2, max_backoff);
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

absl::Status PodDiscovery::MakeRequest(int which, const std::string& url, absl::Duration timeout,
                                       HttpRequest* req) {
  req->url = url;
  req->timeout = timeout;
  req->headers.emplace_back("Accept", "application/json");
  req->headers.emplace_back("User-Agent", absl::StrCat("sluice/", SLUICE_VERSION));
  const HttpClientConfig& http =
      which == kKubelet ? options_.kubelet->http : options_.apiserver->http;
  for (const auto& [name, values] : http.http_headers) {
    for (const std::string& v : values) req->headers.emplace_back(name, v);
  }
  // Credentials files are read here, at every request: a rotated token is used at once.
  return auth_[which]->Apply(&req->headers);
}

absl::StatusOr<std::string> PodDiscovery::Get(int which, const std::string& url) {
  HttpRequest req;
  RETURN_IF_ERROR(MakeRequest(which, url, options_.timeout, &req));
  absl::StatusOr<HttpResponse> resp = clients_[which]->Get(req, kMaxPodListBytes);
  if (!resp.ok()) return resp.status();
  if (resp->status != 200) {
    return absl::UnavailableError(absl::StrCat("error response from ",
                                               which == kKubelet ? "kubelet" : "API server", ": ",
                                               StatusText(resp->status)));
  }
  return std::move(resp->body);
}

PodDiscovery::Result PodDiscovery::FetchOnce() {
  Result r;
  if (!use_apiserver_ && options_.kubelet) {
    r.source = "kubelet";
    absl::StatusOr<std::string> body = Get(kKubelet, options_.kubelet->base_url + "/pods");
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
      if (!kubelet_answered_ && kubelet_failures_ >= 3 && options_.apiserver) {
        use_apiserver_ = true;
        LogWarn("discovery", "the kubelet did not answer; listing pods from the API server",
                {{"component", options_.component_id}, {"error", Sv(pods.status().message())}});
      }
    }
  } else if (options_.apiserver) {
    r.source = "apiserver";
    std::vector<std::string> namespaces = options_.namespaces;
    // One watch stream per component: several namespaces are listed and watched cluster-wide,
    // and kept here.
    if (namespaces.empty() || (options_.watch && namespaces.size() > 1)) namespaces = {""};
    std::vector<Pod> all;
    absl::Status status;
    for (const std::string& ns : namespaces) {
      std::string url = absl::StrCat(
          options_.apiserver->base_url,
          ns.empty() ? "/api/v1/pods" : absl::StrCat("/api/v1/namespaces/", ns, "/pods"),
          "?resourceVersion=0");
      if (!options_.label_selector.empty()) {
        absl::StrAppend(&url, "&labelSelector=", GoQueryEscape(options_.label_selector));
      }
      if (!options_.field_selector.empty()) {
        absl::StrAppend(&url, "&fieldSelector=", GoQueryEscape(options_.field_selector));
      }
      absl::StatusOr<std::string> body = Get(kApiServer, url);
      absl::StatusOr<std::vector<Pod>> pods = body.ok()
                                                  ? ParsePodList(*body, &list_resource_version_)
                                                  : absl::StatusOr<std::vector<Pod>>(body.status());
      if (!pods.ok()) {
        status = pods.status();
        break;
      }
      for (Pod& p : *pods) {
        if (WantNamespace(p.ns)) all.push_back(std::move(p));
      }
    }
    if (status.ok()) {
      r.pods = std::move(all);
    } else {
      r.pods = status;
    }
  } else {
    r.pods = absl::FailedPreconditionError("no kubelet and no API server to ask");
  }
  // Node metadata, from the API server, refreshed now and then; the last one kept on failure.
  absl::Time now = absl::Now();
  if (options_.attach_node && options_.apiserver && !options_.node_name.empty() &&
      now - node_fetched_ >= kNodeRefresh) {
    absl::StatusOr<std::string> body =
        Get(kApiServer, absl::StrCat(options_.apiserver->base_url, "/api/v1/nodes/",
                                     GoQueryEscape(options_.node_name)));
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

absl::Status PodDiscovery::Watch(std::vector<Pod> listed, std::string resource_version) {
  std::map<std::string, Pod> pods;  // by namespace/name, as the API server keys them
  for (Pod& p : listed) {
    std::string key = p.ns + "/" + p.name;
    pods.emplace(std::move(key), std::move(p));
  }
  const std::string ns = options_.namespaces.size() == 1 ? options_.namespaces[0] : "";
  std::mt19937_64 rng(std::random_device{}());
  while (true) {
    // As client-go's reflector: a server-side timeout between 5 and 10 minutes, so that the
    // agents of a cluster do not all come back at once.
    int64_t timeout_s = 300 + static_cast<int64_t>(rng() % 300);
    std::string url = absl::StrCat(
        options_.apiserver->base_url,
        ns.empty() ? "/api/v1/pods" : absl::StrCat("/api/v1/namespaces/", ns, "/pods"),
        "?watch=true&allowWatchBookmarks=true&resourceVersion=", GoQueryEscape(resource_version),
        "&timeoutSeconds=", timeout_s);
    if (!options_.label_selector.empty()) {
      absl::StrAppend(&url, "&labelSelector=", GoQueryEscape(options_.label_selector));
    }
    if (!options_.field_selector.empty()) {
      absl::StrAppend(&url, "&fieldSelector=", GoQueryEscape(options_.field_selector));
    }
    HttpRequest req;
    RETURN_IF_ERROR(
        MakeRequest(kApiServer, url, absl::Seconds(timeout_s) + options_.timeout, &req));

    std::string pending;  // a line not complete yet
    bool expired = false;
    absl::Status bad;
    auto on_data = [&](std::string_view chunk) -> bool {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) return false;
      }
      pending.append(chunk);
      bool changed = false;
      size_t start = 0;
      for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
        std::string_view line(pending.data() + start, nl - start);
        if (line.empty()) continue;
        absl::StatusOr<WatchEvent> ev = ParseWatchEvent(line);
        if (!ev.ok()) {
          bad = ev.status();
          return false;
        }
        if (ev->type == "ERROR") {
          // 410 Gone: the version is too old to watch from; anything else is an error too, and
          // either way the answer is a new list.
          expired = ev->code == 410;
          if (!expired) bad = absl::UnavailableError(absl::StrCat("watch error: ", ev->message));
          return false;
        }
        if (!ev->resource_version.empty()) resource_version = ev->resource_version;
        if (ev->type == "BOOKMARK") continue;
        std::string key = ev->pod.ns + "/" + ev->pod.name;
        if (ev->type == "DELETED" || !WantNamespace(ev->pod.ns)) {
          changed |= pods.erase(key) > 0;
        } else {
          pods[key] = std::move(ev->pod);
          changed = true;
        }
      }
      pending.erase(0, start);
      if (pending.size() > kMaxPodListBytes) {
        bad = absl::ResourceExhaustedError("watch event larger than the pod list limit");
        return false;
      }
      if (changed) {
        Result r;
        r.source = "apiserver";
        std::vector<Pod> snapshot;
        snapshot.reserve(pods.size());
        for (const auto& [k, p] : pods) snapshot.push_back(p);
        r.pods = std::move(snapshot);
        r.node_labels = node_labels_;
        boost::asio::post(*io_, [this, r = std::move(r)]() mutable { OnResult(std::move(r)); });
      }
      return true;
    };
    absl::StatusOr<HttpResponse> resp = clients_[kApiServer]->GetStream(req, on_data);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return absl::OkStatus();
    }
    if (!resp.ok()) return resp.status();
    if (resp->status != 200) {
      if (resp->status == 410) return absl::OkStatus();
      return absl::UnavailableError(
          absl::StrCat("error response from API server: ", StatusText(resp->status)));
    }
    if (!bad.ok()) return bad;
    if (expired) return absl::OkStatus();
    // The server ended the watch (its timeout): watch again from where it left off.
  }
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
  if (!published_once_ || targets != published_) {
    published_once_ = true;
    published_ = targets;
    publish_(std::move(targets));
  }
  ArmTimer();
}

void PodDiscovery::ArmTimer() {
  absl::Time now = absl::FromUnixNanos(clock_->NowUnixNanos());
  std::optional<absl::Time> next = index_.NextChange(now);
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
