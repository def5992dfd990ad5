#include "agent/metadata/kube_watch.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/common/status_macros.h"
#include "agent/common/strings.h"
#include "agent/common/thread.h"
#include "agent/go/strconv.h"
#include "agent/sink/asio_http_client.h"
#include "agent/sink/loki_sink.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "dev"
#endif

namespace sluice::metadata {
namespace {

// "&labelSelector=...&fieldSelector=..." for the selectors `c` has.
std::string SelectorParams(const KubeCollection& c) {
  std::string out;
  if (!c.label_selector.empty()) {
    absl::StrAppend(&out, "&labelSelector=", GoQueryEscape(c.label_selector));
  }
  if (!c.field_selector.empty()) {
    absl::StrAppend(&out, "&fieldSelector=", GoQueryEscape(c.field_selector));
  }
  return out;
}

}  // namespace

std::string HttpStatusText(int status) {
  switch (status) {
    case 400:
      return "400 Bad Request";
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

KubeClient::KubeClient(KubeEndpoint endpoint, std::string name, const KubeClientFactory& factory)
    : endpoint_(std::move(endpoint)),
      name_(std::move(name)),
      client_(factory ? factory(endpoint_.http)
                      : NewHttpClient(HttpClientOptionsFromEndpoint(endpoint_.http))),
      auth_(endpoint_.http.basic_auth, endpoint_.http.authorization, endpoint_.http.oauth2) {}

KubeClient::~KubeClient() = default;

void KubeClient::Cancel() { client_->Cancel(); }

absl::Status KubeClient::MakeRequest(const std::string& path, absl::Duration timeout,
                                     HttpRequest* req) {
  req->url = endpoint_.base_url + path;
  req->timeout = timeout;
  req->headers.emplace_back("Accept", "application/json");
  req->headers.emplace_back("User-Agent", absl::StrCat("sluice/", SLUICE_VERSION));
  for (const auto& [name, values] : endpoint_.http.http_headers) {
    for (const std::string& v : values) req->headers.emplace_back(name, v);
  }
  // Credentials files are read here, at every request: a rotated token is used at once.
  return auth_.Apply(&req->headers);
}

absl::StatusOr<std::string> KubeClient::Get(const std::string& path, absl::Duration timeout,
                                            size_t max_bytes) {
  HttpRequest req;
  RETURN_IF_ERROR(MakeRequest(path, timeout, &req));
  absl::StatusOr<HttpResponse> resp = client_->Get(req, max_bytes);
  if (!resp.ok()) return resp.status();
  if (resp->status != 200) {
    return absl::UnavailableError(
        absl::StrCat("error response from ", name_, ": ", HttpStatusText(resp->status)));
  }
  return std::move(resp->body);
}

absl::StatusOr<HttpResponse> KubeClient::Send(std::string_view method, const std::string& path,
                                              std::string_view body, absl::Duration timeout) {
  HttpRequest req;
  RETURN_IF_ERROR(MakeRequest(path, timeout, &req));
  req.headers.emplace_back("Content-Type", "application/json");
  req.method = std::string(method);
  req.body = body;
  return client_->Post(req);
}

absl::StatusOr<HttpResponse> KubeClient::GetStream(
    const std::string& path, absl::Duration timeout,
    const std::function<bool(std::string_view)>& on_data) {
  HttpRequest req;
  RETURN_IF_ERROR(MakeRequest(path, timeout, &req));
  return client_->GetStream(req, on_data);
}

absl::StatusOr<std::string> KubeList(KubeClient& client, const KubeCollection& c,
                                     absl::Duration timeout, KubeObjectStore* store) {
  ASSIGN_OR_RETURN(
      std::string body,
      client.Get(absl::StrCat(c.path, "?resourceVersion=0", SelectorParams(c)), timeout));
  return store->Replace(body);
}

absl::Status KubeWatch(KubeClient& client, const KubeCollection& c, std::string resource_version,
                       absl::Duration timeout, KubeObjectStore* store,
                       const std::function<bool()>& stopped,
                       const std::function<void()>& on_change) {
  std::mt19937_64 rng(std::random_device{}());
  while (true) {
    // As client-go's reflector: a server-side timeout between 5 and 10 minutes, so that the
    // agents of a cluster do not all come back at once.
    int64_t timeout_s = 300 + static_cast<int64_t>(rng() % 300);
    std::string path = absl::StrCat(c.path, "?watch=true&allowWatchBookmarks=true&resourceVersion=",
                                    GoQueryEscape(resource_version), "&timeoutSeconds=", timeout_s,
                                    SelectorParams(c));
    std::string pending;  // a line not complete yet
    bool expired = false;
    absl::Status bad;
    auto on_data = [&](std::string_view chunk) -> bool {
      if (stopped()) return false;
      pending.append(chunk);
      bool changed = false;
      size_t start = 0;
      for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
        std::string_view line(pending.data() + start, nl - start);
        if (line.empty()) continue;
        absl::StatusOr<KubeObjectStore::Event> ev = store->Apply(line);
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
        changed |= ev->changed;
      }
      pending.erase(0, start);
      if (pending.size() > kMaxKubeListBytes) {
        bad = absl::ResourceExhaustedError("watch event larger than the list limit");
        return false;
      }
      if (changed) on_change();
      return true;
    };
    absl::StatusOr<HttpResponse> resp =
        client.GetStream(path, absl::Seconds(timeout_s) + timeout, on_data);
    if (stopped()) return absl::OkStatus();
    if (!resp.ok()) return resp.status();
    if (resp->status != 200) {
      if (resp->status == 410) return absl::OkStatus();
      return absl::UnavailableError(
          absl::StrCat("error response from ", client.name(), ": ", HttpStatusText(resp->status)));
    }
    if (!bad.ok()) return bad;
    if (expired) return absl::OkStatus();
    // The server ended the watch (its timeout): watch again from where it left off.
  }
}

bool RetryState::Succeeded() {
  bool was_down = !up_;
  up_ = true;
  last_error_.clear();
  backoff_ = absl::Seconds(1);
  std::lock_guard<std::mutex> lock(mu_);
  health_error_.clear();
  return was_down;
}

bool RetryState::Failed(std::string error) {
  bool news = up_ || error != last_error_;
  up_ = false;
  last_error_ = error;
  std::lock_guard<std::mutex> lock(mu_);
  health_error_ = std::move(error);
  return news;
}

void RetryState::ClearHealth() {
  std::lock_guard<std::mutex> lock(mu_);
  health_error_.clear();
}

absl::Duration RetryState::NextBackoff() {
  absl::Duration wait = backoff_;
  backoff_ = std::min(backoff_ * 2, max_backoff_);
  return wait;
}

std::string RetryState::HealthError() const {
  std::lock_guard<std::mutex> lock(mu_);
  return health_error_;
}

KubeInformer::KubeInformer(Options options, KubeObjectStore* store, MetricsRegistry* metrics,
                           std::function<void()> on_change)
    : options_(std::move(options)),
      store_(store),
      on_change_(std::move(on_change)),
      retry_(options_.max_backoff) {
  MetricLabels l = {{"component_id", SplitComponentId(options_.component_id).first},
                    {"resource", options_.resource}};
  failures_ = metrics->GetCounter(
      "sluice_kubernetes_watch_failures_total",
      "Lists and watches of the API server that failed (each is retried with backoff).", l);
  up_gauge_ = metrics->GetGauge("sluice_kubernetes_watch_up",
                                "1 while the list and watch of the API server work, else 0.", l);
  objects_gauge_ =
      metrics->GetGauge("sluice_kubernetes_objects", "Objects the list and watch know.", l);
  up_gauge_->Set(0);
}

KubeInformer::~KubeInformer() { Stop(); }

void KubeInformer::Start() {
  client_ = std::make_unique<KubeClient>(options_.apiserver, "API server", options_.factory);
  thread_ = StartThread("sluice-kwatch", [this] { Loop(); });
}

void KubeInformer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (client_) client_->Cancel();
  if (thread_.joinable()) thread_.join();
}

std::optional<std::string> KubeInformer::Unhealthy() const {
  std::string error = retry_.HealthError();
  if (error.empty()) return std::nullopt;
  return absl::StrCat("watching ", options_.resource, " failed: ", error);
}

bool KubeInformer::stopped() {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_;
}

void KubeInformer::Loop() {
  // A list that works followed by a watch that fails at once (a watch the server refuses, say) is
  // no success: the backoff goes on growing and the failure is logged once. The watch has shown
  // that it works when it brings a change, runs a minute, or ends as the server ends watches.
  auto works = [this] {
    if (retry_.Succeeded()) {
      LogInfo("discovery", absl::StrCat("watching ", options_.resource, " works again"),
              {{"component", options_.component_id}});
    }
  };
  auto changed = [this, &works] {
    works();
    objects_gauge_->Set(static_cast<double>(store_->size()));
    on_change_();
  };
  while (!stopped()) {
    absl::StatusOr<std::string> rv =
        KubeList(*client_, options_.collection, options_.timeout, store_);
    absl::Status st = rv.status();
    const char* what = "listing";
    if (rv.ok()) {
      retry_.ClearHealth();
      up_gauge_->Set(1);
      objects_gauge_->Set(static_cast<double>(store_->size()));
      on_change_();
      // From the list's version on, the API server tells what changes.
      absl::Time started = absl::Now();
      st = KubeWatch(
          *client_, options_.collection, std::move(*rv), options_.timeout, store_,
          [this] { return stopped(); }, changed);
      what = "watching";
      if (stopped()) return;
      if (st.ok() || absl::Now() - started >= absl::Minutes(1)) works();
      if (st.ok()) continue;  // the version expired: list again at once
    }
    if (stopped()) return;  // a cancelled request is no failure
    failures_->Inc();
    up_gauge_->Set(0);
    std::string error(st.message());
    if (retry_.Failed(error)) {
      LogWarn("discovery",
              absl::StrCat(what, " ", options_.resource, " failed; listing again with backoff"),
              {{"component", options_.component_id}, {"error", error}});
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, absl::ToChronoNanoseconds(retry_.NextBackoff()), [this] { return stop_; });
  }
}

}  // namespace sluice::metadata
