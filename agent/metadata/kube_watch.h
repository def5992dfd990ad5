// List+watch of Kubernetes API server collections, written once for pods (discovery.kubernetes
// role "pod"), nodes (role "node") and namespaces (attach_metadata { namespace = true }).
//
//  - KubeClient: GETs of one endpoint (API server or kubelet) with its headers and credentials
//    (files re-read at every request: a rotated token is used at once).
//  - KubeStore<T>: the objects of one collection by key, replaced by a list and changed by watch
//    events (T is Pod, Node or ObjectMeta; see the ParseKubeList overloads).
//  - KubeList / KubeWatch: one list (resourceVersion=0: served from the API server's cache), then
//    a watch from its version (bookmarks; server-side timeouts of 5-10 minutes, as client-go's
//    reflector, after which it watches again from the last version seen) until the watch breaks
//    or its version expires (410 Gone: the caller lists again).
//  - RetryState: up/down, the error logged once per change of state, the backoff.
//  - KubeInformer: a thread that runs KubeList then KubeWatch on one collection forever, retrying
//    with backoff, counting every failed list or watch, and telling its owner of every change.
//
// Threads: KubeClient, KubeStore and KubeList/KubeWatch are used by one thread at a time (the one
// that lists and watches; KubeClient::Cancel from any). A KubeInformer is owned by the discovery
// object that made it (PodDiscovery, NodeDiscovery), started and stopped by it on the tail thread;
// its own thread "sluice-kwatch" runs the loop and calls `on_change`.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/common/metrics.h"
#include "agent/metadata/kube_object.h"
#include "agent/sink/endpoint_config.h"
#include "agent/sink/http_client.h"
#include "agent/sink/request_auth.h"

namespace sluice::metadata {

// Where objects are asked for.
struct KubeEndpoint {
  std::string base_url;  // https://host:port, no trailing slash
  HttpClientConfig http;
};

// A client for an endpoint; tests may swap the transport.
using KubeClientFactory = std::function<std::unique_ptr<HttpClient>(const HttpClientConfig&)>;

class KubeClient {
 public:
  // `name` ("kubelet", "API server") is for error messages. A null factory: libcurl.
  KubeClient(KubeEndpoint endpoint, std::string name, const KubeClientFactory& factory);
  ~KubeClient();
  KubeClient(const KubeClient&) = delete;
  KubeClient& operator=(const KubeClient&) = delete;

  // GET <base_url><path>: the body of a 200 answer, at most `max_bytes`; Unavailable naming the
  // status otherwise.
  absl::StatusOr<std::string> Get(const std::string& path, absl::Duration timeout,
                                  size_t max_bytes = kMaxKubeListBytes);
  // GET <base_url><path> whose 200 body is handed to `on_data` as it arrives (see HttpClient).
  absl::StatusOr<HttpResponse> GetStream(const std::string& path, absl::Duration timeout,
                                         const std::function<bool(std::string_view)>& on_data);
  // `method` ("POST", "PUT") of `body` (JSON) to <base_url><path>: the response whatever its
  // status (its body cut at kMaxResponseBodyBytes), or a transport error.
  absl::StatusOr<HttpResponse> Send(std::string_view method, const std::string& path,
                                    std::string_view body, absl::Duration timeout);
  // Makes the request in flight, and every later one, fail at once. Any thread.
  void Cancel();
  const KubeEndpoint& endpoint() const { return endpoint_; }
  const std::string& name() const { return name_; }

 private:
  absl::Status MakeRequest(const std::string& path, absl::Duration timeout, HttpRequest* req);

  KubeEndpoint endpoint_;
  std::string name_;
  std::unique_ptr<HttpClient> client_;
  RequestAuth auth_;
};

// "401 Unauthorized", "404 Not Found", ... (the number alone for the rest).
std::string HttpStatusText(int status);

// One collection and the selectors the API server applies to it.
struct KubeCollection {
  std::string path;  // /api/v1/pods, /api/v1/namespaces/<ns>/pods, /api/v1/nodes, ...
  std::string label_selector;
  std::string field_selector;
};

// The objects of one collection, as list and watch events leave them.
class KubeObjectStore {
 public:
  // What one watch event was.
  struct Event {
    std::string type;              // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
    std::string resource_version;  // "" for ERROR
    int64_t code = 0;              // ERROR: the Status' code
    std::string message;           // ERROR: its message
    bool changed = false;          // the store changed
  };
  virtual ~KubeObjectStore() = default;
  // Every object of a list's body (the old ones dropped); returns the list's resourceVersion.
  virtual absl::StatusOr<std::string> Replace(std::string_view list_json) = 0;
  // One line of a watch stream.
  virtual absl::StatusOr<Event> Apply(std::string_view event_json) = 0;
  virtual size_t size() const = 0;
};

template <class T>
class KubeStore final : public KubeObjectStore {
 public:
  // `keep` (may be null): objects it refuses are left out (and removed when they change to be).
  explicit KubeStore(std::function<bool(const T&)> keep = nullptr) : keep_(std::move(keep)) {}

  absl::StatusOr<std::string> Replace(std::string_view list_json) override {
    std::vector<T> items;
    std::string rv;
    if (absl::Status st = ParseKubeList(list_json, &items, &rv); !st.ok()) return st;
    objects_.clear();
    for (T& o : items) {
      if (keep_ && !keep_(o)) continue;
      std::string key = KubeKey(o);
      objects_.insert_or_assign(std::move(key), std::move(o));
    }
    return rv;
  }

  absl::StatusOr<Event> Apply(std::string_view event_json) override {
    KubeWatchEvent<T> ev;
    if (absl::Status st = ParseKubeWatchEvent(event_json, &ev); !st.ok()) return st;
    Event out{ev.type, ev.resource_version, ev.code, ev.message, false};
    if (ev.type == "ERROR" || ev.type == "BOOKMARK") return out;
    std::string key = KubeKey(ev.object);
    if (ev.type == "DELETED" || (keep_ && !keep_(ev.object))) {
      out.changed = objects_.erase(key) > 0;
    } else {
      objects_.insert_or_assign(std::move(key), std::move(ev.object));
      out.changed = true;
    }
    return out;
  }

  size_t size() const override { return objects_.size(); }
  const std::map<std::string, T>& objects() const { return objects_; }
  std::vector<T> Snapshot() const {
    std::vector<T> out;
    out.reserve(objects_.size());
    for (const auto& [key, o] : objects_) out.push_back(o);
    return out;
  }

 private:
  std::function<bool(const T&)> keep_;
  std::map<std::string, T> objects_;  // by KubeKey: a stable order
};

// Lists `c` into `store`; returns the list's resourceVersion.
absl::StatusOr<std::string> KubeList(KubeClient& client, const KubeCollection& c,
                                     absl::Duration timeout, KubeObjectStore* store);

// Watches `c` from `resource_version`, applying its events to `store` and calling `on_change`
// after every chunk of events that changed it. Returns an error when the watch breaks, OK when the
// version expired (list again) or `stopped()` turned true (checked as data arrives; the caller
// cancels the client to end a quiet watch).
absl::Status KubeWatch(KubeClient& client, const KubeCollection& c, std::string resource_version,
                       absl::Duration timeout, KubeObjectStore* store,
                       const std::function<bool()>& stopped,
                       const std::function<void()>& on_change);

// The state of a loop that refreshes something and retries failures with backoff (1s, doubling
// up to a maximum). Used by the loop's thread; HealthError from any thread.
class RetryState {
 public:
  explicit RetryState(absl::Duration max_backoff) : max_backoff_(max_backoff) {}
  // A success: up, backoff back to 1s. True when it was failing (the caller logs that it works
  // again).
  bool Succeeded();
  // Healthy again as far as HealthError tells, without counting as a success yet (a list that
  // worked, before the watch after it has shown that it does).
  void ClearHealth();
  // A failure. True when it is news (it was up, or the error is a different one): the caller
  // logs it, so a server down for an hour is one line, not hundreds.
  bool Failed(std::string error);
  // The wait before the next attempt after a failure; doubles every call until a success.
  absl::Duration NextBackoff();
  bool up() const { return up_; }
  // The last failure's message, "" while up.
  std::string HealthError() const;

 private:
  const absl::Duration max_backoff_;
  absl::Duration backoff_ = absl::Seconds(1);
  bool up_ = true;
  std::string last_error_;
  mutable std::mutex mu_;  // guards health_error_
  std::string health_error_;
};

// A list+watch loop on one collection, on its own thread.
class KubeInformer {
 public:
  struct Options {
    std::string component_id;
    std::string resource;  // "nodes", "namespaces": in logs and in the metrics' labels
    KubeEndpoint apiserver;
    KubeCollection collection;
    absl::Duration timeout = absl::Seconds(30);
    absl::Duration max_backoff = absl::Seconds(30);
    KubeClientFactory factory;  // null: libcurl
  };
  // `store` (outlives this) receives the objects; `on_change` runs on the informer's thread after
  // every list and every change (it reads `store` there).
  KubeInformer(Options options, KubeObjectStore* store, MetricsRegistry* metrics,
               std::function<void()> on_change);
  ~KubeInformer();
  KubeInformer(const KubeInformer&) = delete;
  KubeInformer& operator=(const KubeInformer&) = delete;

  void Start();
  void Stop();  // joins the thread; idempotent
  // Why the last list or watch failed, or nullopt while it works. Any thread.
  std::optional<std::string> Unhealthy() const;

 private:
  void Loop();
  bool stopped();

  Options options_;
  KubeObjectStore* store_;
  std::function<void()> on_change_;
  std::unique_ptr<KubeClient> client_;  // made by Start, used by the thread
  RetryState retry_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;

  Counter* failures_;
  Gauge* up_gauge_;
  Gauge* objects_gauge_;
};

}  // namespace sluice::metadata
