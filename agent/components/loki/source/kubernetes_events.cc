// loki.source.kubernetes_events: core/v1 Events of the cluster (or of `namespaces`) as log
// entries, as Alloy's component: one list+watch per namespace ("" = all), an entry per added or
// changed event newer than the position saved at the watch's start, Alloy's line (logfmt or json)
// and labels (namespace, job, instance), the timestamp lastTimestamp else eventTime.
//
// Positions: <storage.path>/<component id>/positions.yml in Alloy's format, key
// "cursor-events" ("cursor-events-<namespace>" per namespace), labels "", value the event's Unix
// microseconds. Alloy saves it when an entry is handed on; sluice when Loki acknowledged it (an
// AckedSource: entries carry an offset per namespace, mapped to their timestamps until Commit).
//
// Leader election (sluice's own; Alloy shards with `clustering`, sluice has no cluster of
// agents): when SLUICE_EVENTS_LEASE_NAME is set, replicas elect one leader on that
// coordination.k8s.io/v1 Lease (SLUICE_EVENTS_LEASE_NAMESPACE, default the pod's namespace;
// SLUICE_EVENTS_LEASE_DURATION, default 15s; holder = SLUICE_EVENTS_LEASE_IDENTITY, POD_NAME or
// the host name) and only the leader watches and ships. Positions files are per pod, so the
// leader also keeps its acknowledged cursors in the Lease's annotation
// `sluice.grafana.com/events-cursors.<component label>` (written at every renewal and soon after
// an acknowledgement); a new leader starts from the newer of its own file and the annotation.
//
// Threads: the component lives on the tail thread (Build on the loading thread); each namespace's
// KubeInformer runs its own thread ("sluice-kwatch") that parses, filters and renders events and
// hands them over through a bounded queue (kQueueBytes; the watch thread waits when it is full,
// which holds back the watch's TCP stream); the election runs on "sluice-lease". Owned by the
// Runtime.
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/common/strings.h"
#include "agent/common/thread.h"
#include "agent/components/component.h"
#include "agent/components/discovery/pods.h"
#include "agent/components/kube_client_block.h"
#include "agent/go/json.h"
#include "agent/metadata/kube_event.h"
#include "agent/metadata/kube_json.h"
#include "agent/metadata/lease.h"
#include "agent/runtime/acked_source.h"
#include "agent/source/positions.h"
#include "agent/source/positions_writer.h"

namespace sluice {
namespace {

using metadata::EventLogFormat;
using metadata::KubeEvent;

// Rendered entries waiting for the tail thread, at most (the watch waits beyond).
constexpr size_t kQueueBytes = 4 << 20;
// Events a namespace's watch remembers (name -> resourceVersion) to tell changed events from
// relisted ones, as an informer's cache; beyond it the oldest-known are forgotten (and counted).
constexpr size_t kMaxKnownEvents = 1 << 20;
constexpr char kAnnotationPrefix[] = "sluice.grafana.com/events-cursors.";

// What crosses from a watch thread to the tail thread.
struct Queued {
  size_t controller;
  uint64_t generation;
  std::string line;
  std::string ns;  // the involved object's namespace (label)
  int64_t timestamp_ns;
  int64_t micros;
};

// Shared by the tail thread, the watch threads and the election thread; posted jobs hold it.
struct Shared {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Queued> queue;  // guarded by mu
  size_t bytes = 0;          // guarded by mu
  bool accepting = false;    // guarded by mu: watches may push (false while stopped)
  std::atomic<bool> drain_posted{false};
  std::atomic<bool> stopped{false};
  // Acknowledged cursors by positions key (for the Lease), guarded by mu.
  std::map<std::string, int64_t> cursors;
  bool cursors_changed = false;  // guarded by mu: the election thread writes them soon
};

// An informer's store for Events: remembers each event's resourceVersion and collects the events
// an informer's handler would see as added or updated (a relist sends again only what changed).
// Used by the watch thread only.
class EventStore final : public metadata::KubeObjectStore {
 public:
  explicit EventStore(Counter* forgotten) : forgotten_(forgotten) {}

  absl::StatusOr<std::string> Replace(std::string_view list_json) override {
    std::vector<KubeEvent> items;
    std::string rv;
    if (absl::Status st = metadata::ParseKubeList(list_json, &items, &rv); !st.ok()) return st;
    absl::flat_hash_map<std::string, std::string> known;
    for (KubeEvent& e : items) {
      std::string key = metadata::KubeKey(e);
      auto it = known_.find(key);
      if (it == known_.end() || it->second != e.resource_version) {
        known.insert_or_assign(key, e.resource_version);
        pending_.push_back(std::move(e));
      } else {
        known.insert_or_assign(key, e.resource_version);
      }
    }
    known_ = std::move(known);
    return rv;
  }

  absl::StatusOr<Event> Apply(std::string_view event_json) override {
    metadata::KubeWatchEvent<KubeEvent> ev;
    if (absl::Status st = metadata::ParseKubeWatchEvent(event_json, &ev); !st.ok()) return st;
    Event out{ev.type, ev.resource_version, ev.code, ev.message, false};
    if (ev.type == "ERROR" || ev.type == "BOOKMARK") return out;
    std::string key = metadata::KubeKey(ev.object);
    if (ev.type == "DELETED") {
      known_.erase(key);  // Alloy logs nothing for a deleted event
      return out;
    }
    auto it = known_.find(key);
    if (it != known_.end() && it->second == ev.object.resource_version) return out;
    if (it == known_.end() && known_.size() >= kMaxKnownEvents) {
      known_.erase(known_.begin());
      forgotten_->Inc();
    }
    known_.insert_or_assign(key, ev.object.resource_version);
    pending_.push_back(std::move(ev.object));
    out.changed = true;
    return out;
  }

  size_t size() const override { return known_.size(); }
  std::vector<KubeEvent> Take() { return std::exchange(pending_, {}); }

 private:
  Counter* forgotten_;
  absl::flat_hash_map<std::string, std::string> known_;
  std::vector<KubeEvent> pending_;
};

class KubernetesEvents final : public Component, public AckedSource {
 public:
  KubernetesEvents(std::string id, ComponentEnv* env) : Component(std::move(id)), env_(env) {}
  ~KubernetesEvents() override {
    StopReading();
    StopElection(/*release=*/false);
  }

  bool Build(const config::Block& args, config::Diags* diags);
  bool Update(const config::Block&, config::Diags*) override { return true; }
  bool UpdatesInPlace() const override { return false; }
  absl::Status Start() override;
  void StopReading() override;
  void Finish() override;
  std::optional<std::string> Unhealthy() const override;

  // AckedSource (tail thread).
  void Commit(uint64_t file_id, uint64_t generation, int64_t offset) override;
  void OnOutputProgress() override { HandOn(); }

 private:
  // One namespace's watch ("" = all namespaces) and its place.
  struct Controller {
    std::string ns;
    std::string key;  // positions key: cursor-events[-<ns>]
    // Events not newer than this (Unix µs) are not shipped: the position when the watch started.
    // Set on the tail thread before the watch thread starts, read by it only.
    int64_t init_micros = 0;
    bool has_position = false;
    int64_t acked_micros = 0;                          // tail thread
    int64_t next_offset = 0;                           // tail thread
    std::deque<std::pair<int64_t, int64_t>> inflight;  // tail thread: (offset, µs)
    std::unique_ptr<EventStore> store;
    std::unique_ptr<metadata::KubeInformer> informer;
  };

  void StartWatches();
  void StopWatches();
  // The watch thread of controller `i`: what the informer's handler does.
  void OnChange(size_t i, uint64_t generation);
  // Tail thread: hands queued entries on while the budget allows.
  void HandOn();
  void SavePositions(bool flush);
  std::vector<PositionRecord> Records() const;
  void ElectionLoop();
  void StopElection(bool release);
  // Tail thread: leadership changed; `lease` holds the cursors the Lease carried.
  void OnLeadership(bool leader, std::map<std::string, int64_t> lease);
  std::map<std::string, std::string> Annotate(const std::map<std::string, std::string>& current);

  ComponentEnv* env_;
  std::string job_name_ = "loki.source.kubernetes_events";
  std::vector<std::string> namespaces_;
  EventLogFormat format_ = EventLogFormat::kLogfmt;
  metadata::KubeEndpoint api_;
  uint32_t route_ = 0;
  uint64_t file_id_base_ = 0;
  std::string positions_path_;
  std::vector<PositionRecord> foreign_;  // positions of keys this component does not run
  std::vector<std::unique_ptr<Controller>> controllers_;
  // Guards the controllers' `informer` pointers against Unhealthy() (any thread) while the tail
  // thread starts and stops watches.
  mutable std::mutex informers_mu_;
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  std::unique_ptr<PositionsWriter> writer_;
  uint64_t generation_ = 0;  // tail thread: bumped at every start of the watches
  std::atomic<uint64_t> live_generation_{0};
  bool watching_ = false;  // tail thread
  bool started_ = false;

  // Election (no lease name: none, every replica ships).
  std::string lease_name_;
  std::string lease_ns_;
  metadata::LeaderElectionConfig election_;
  std::string annotation_key_;
  std::thread election_thread_;
  std::mutex election_mu_;
  std::condition_variable election_cv_;
  bool election_stop_ = false;     // guarded by election_mu_
  bool election_release_ = false;  // guarded by election_mu_
  std::unique_ptr<metadata::KubeClient> lease_client_;

  Counter* entries_ = nullptr;
  Counter* skipped_old_ = nullptr;
  Counter* skipped_bad_ = nullptr;
  Counter* forgotten_ = nullptr;
  Counter* lease_errors_ = nullptr;
  Counter* leader_changes_ = nullptr;
  Counter* position_errors_ = nullptr;
  Gauge* leader_gauge_ = nullptr;
};

bool KubernetesEvents::Build(const config::Block& args, config::Diags* diags) {
  config::Decoder d(args, diags);
  std::vector<LogsNode*> forward;
  env_->Receivers(d, &forward);
  d.String("job_name", &job_name_);
  d.StringList("namespaces", &namespaces_);
  std::string log_format = "logfmt";
  d.String("log_format", &log_format);
  bool client_ok = DecodeKubeClientBlock(d, args, env_->options->validate_only, diags, &api_);
  if (const config::Block* cb = d.OptionalBlock("clustering")) {
    config::Decoder cd(*cb, diags);
    bool enabled = false;
    cd.Bool("enabled", &enabled, config::Required::kYes);
    if (cd.Finish() && enabled) {
      LogWarn("config", absl::StrCat(id(),
                                     ": clustering is not supported by sluice; set "
                                     "SLUICE_EVENTS_LEASE_NAME to ship from one replica"));
    }
  }
  if (!d.Finish() || !client_ok) return false;
  if (job_name_.empty()) {
    d.ErrorAt("job_name", "job_name must not be an empty string");
    return false;
  }
  if (log_format == "json") {
    format_ = EventLogFormat::kJson;
  } else if (log_format != "logfmt") {
    d.ErrorAt("log_format", "supported values of log_format are logfmt and json");
    return false;
  }
  if (namespaces_.empty()) namespaces_.push_back("");
  MetricLabels l = ComponentLabels(id());
  entries_ = env_->metrics->GetCounter("sluice_kubernetes_events_entries_total",
                                       "Kubernetes events handed on as log entries.", l);
  auto skipped = [&](const char* reason) {
    MetricLabels r = l;
    r.emplace_back("reason", reason);
    return env_->metrics->GetCounter(
        "sluice_kubernetes_events_skipped_total",
        "Kubernetes events not shipped: not newer than the saved position (already shipped), or "
        "unusable (no involved object).",
        r);
  };
  skipped_old_ = skipped("not_newer");
  skipped_bad_ = skipped("invalid");
  forgotten_ = env_->metrics->GetCounter(
      "sluice_kubernetes_events_forgotten_total",
      "Events forgotten from a watch's memory of resource versions (bounded): a later relist may "
      "ship them again if they changed.",
      l);
  lease_errors_ = env_->metrics->GetCounter(
      "sluice_kubernetes_events_lease_errors_total",
      "Failed reads and writes of the leader election Lease (retried every retry period).", l);
  leader_changes_ = env_->metrics->GetCounter(
      "sluice_kubernetes_events_leader_changes_total",
      "Times this replica became or stopped being the leader that ships events.", l);
  position_errors_ = env_->metrics->GetCounter("sluice_kubernetes_events_positions_errors_total",
                                               "Failed reads and writes of the positions file.", l);
  leader_gauge_ = env_->metrics->GetGauge("sluice_kubernetes_events_leader",
                                          "1 while this replica watches and ships events.", l);

  auto own_path = env_->options->positions_paths.find(id());
  positions_path_ = own_path != env_->options->positions_paths.end()
                        ? own_path->second
                        : absl::StrCat(env_->options->storage_path, "/", id(), "/positions.yml");
  std::map<std::string, int64_t> saved;
  if (!env_->options->validate_only) {
    absl::StatusOr<std::vector<PositionRecord>> records = ReadPositionsFile(positions_path_);
    if (records.ok()) {
      for (PositionRecord& r : *records) {
        if (r.labels.empty() || r.labels == "{}") saved[r.path] = r.offset;
        foreign_.push_back(std::move(r));
      }
    } else if (!absl::IsNotFound(records.status())) {
      // Alloy starts over (from 0: every event in the cluster) on a bad file; so does sluice,
      // saying so.
      position_errors_->Inc();
      LogWarn("loki.source.kubernetes_events", "cannot read positions; starting without",
              {{"component_id", id()}, {"error", std::string(records.status().message())}});
    }
  }
  for (size_t i = 0; i < namespaces_.size(); ++i) {
    auto c = std::make_unique<Controller>();
    c->ns = namespaces_[i];
    c->key = c->ns.empty() ? "cursor-events" : absl::StrCat("cursor-events-", c->ns);
    if (auto it = saved.find(c->key); it != saved.end()) {
      c->acked_micros = it->second;
      c->has_position = true;
    }
    std::erase_if(foreign_, [&](const PositionRecord& r) {
      return r.path == c->key && (r.labels.empty() || r.labels == "{}");
    });
    controllers_.push_back(std::move(c));
  }

  lease_name_ = EnvVar("SLUICE_EVENTS_LEASE_NAME");
  if (!lease_name_.empty()) {
    lease_ns_ = EnvVar("SLUICE_EVENTS_LEASE_NAMESPACE");
    if (lease_ns_.empty()) {
      std::ifstream f(absl::StrCat(kServiceAccountDir, "/namespace"));
      if (!(f >> lease_ns_)) lease_ns_ = "default";
    }
    std::string duration = EnvVar("SLUICE_EVENTS_LEASE_DURATION");
    if (!duration.empty()) {
      absl::Duration dur;
      if (!absl::ParseDuration(duration, &dur) || dur < absl::Seconds(1)) {
        diags->Add(args.span, absl::StrCat("SLUICE_EVENTS_LEASE_DURATION \"", duration,
                                           "\" is not a duration of at least 1s"));
        return false;
      }
      // client-go's proportions: renew deadline 2/3 of the lease, retry period 2/15.
      election_.lease_duration = dur;
      election_.renew_deadline = dur * 2 / 3;
      election_.retry_period = dur * 2 / 15;
    }
    election_.identity = EnvVar("SLUICE_EVENTS_LEASE_IDENTITY");
    if (election_.identity.empty()) election_.identity = EnvVar("POD_NAME");
    if (election_.identity.empty()) {
      char host[256] = {};
      gethostname(host, sizeof(host) - 1);
      election_.identity = absl::StrCat(host, "_", getpid());
    }
    // The component's label ("cluster" of loki.source.kubernetes_events.cluster), after the path
    // of the module it is declared in, if any.
    auto [local, path] = SplitComponentId(id());
    std::string label = local;
    constexpr std::string_view kPrefix = "loki.source.kubernetes_events.";
    if (label.starts_with(kPrefix)) label = label.substr(kPrefix.size());
    if (path != "/") label = absl::StrCat(path.substr(1), ".", label);
    for (char& ch : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '.') ch = '_';
    }
    annotation_key_ = absl::StrCat(kAnnotationPrefix, label.substr(0, 63 - 15));
  }

  route_ = env_->router->AddRoute(forward);
  uint32_t index = env_->sources++;
  file_id_base_ = static_cast<uint64_t>(index) << LogsRouter::kSourceShift;
  env_->router->AddSource(this);
  env_->Export(id(), {});
  return true;
}

absl::Status KubernetesEvents::Start() {
  if (env_->options->validate_only) return absl::OkStatus();
  started_ = true;
  writer_ = std::make_unique<PositionsWriter>(
      positions_path_, absl::Seconds(10),
      [counter = position_errors_, id = id()](const absl::Status& st, bool) {
        if (st.ok()) return;
        counter->Inc();
        LogWarn("loki.source.kubernetes_events", "cannot write positions",
                {{"component_id", id}, {"error", std::string(st.message())}});
      });
  {
    std::lock_guard l(shared_->mu);
    for (const auto& c : controllers_) {
      if (c->has_position) shared_->cursors[c->key] = c->acked_micros;
    }
  }
  if (lease_name_.empty()) {
    StartWatches();
  } else {
    leader_gauge_->Set(0);
    lease_client_ = std::make_unique<metadata::KubeClient>(api_, "API server", nullptr);
    election_thread_ = StartThread("sluice-lease", [this] { ElectionLoop(); });
  }
  return absl::OkStatus();
}

void KubernetesEvents::StartWatches() {
  if (watching_) return;
  watching_ = true;
  leader_gauge_->Set(1);
  const uint64_t generation = ++generation_;
  live_generation_ = generation;
  {
    std::lock_guard l(shared_->mu);
    shared_->accepting = true;
  }
  for (size_t i = 0; i < controllers_.size(); ++i) {
    Controller& c = *controllers_[i];
    // As Alloy: a watch ships what is newer than the position when it starts.
    c.init_micros = c.acked_micros;
    c.store = std::make_unique<EventStore>(forgotten_);
    metadata::KubeInformer::Options o;
    o.component_id = id();
    o.resource = "events";
    o.apiserver = api_;
    o.collection.path =
        c.ns.empty() ? "/api/v1/events" : absl::StrCat("/api/v1/namespaces/", c.ns, "/events");
    auto informer = std::make_unique<metadata::KubeInformer>(
        o, c.store.get(), env_->metrics, [this, i, generation] { OnChange(i, generation); });
    {
      std::lock_guard l(informers_mu_);
      c.informer = std::move(informer);
    }
    LogInfo("loki.source.kubernetes_events", "watching events for namespace",
            {{"component_id", id()}, {"namespace", c.ns}});
    c.informer->Start();
  }
}

void KubernetesEvents::StopWatches() {
  if (!watching_) return;
  watching_ = false;
  leader_gauge_->Set(0);
  {
    // Stop taking entries and wake watch threads waiting for room, so Stop can join them.
    std::lock_guard l(shared_->mu);
    shared_->accepting = false;
    shared_->queue.clear();
    shared_->bytes = 0;
  }
  shared_->cv.notify_all();
  for (auto& c : controllers_) {
    std::unique_ptr<metadata::KubeInformer> informer;
    {
      std::lock_guard l(informers_mu_);
      informer = std::move(c->informer);
    }
    if (informer) informer->Stop();
    informer.reset();
    c->store.reset();
  }
}

void KubernetesEvents::OnChange(size_t i, uint64_t generation) {
  Controller& c = *controllers_[i];
  std::vector<KubeEvent> events = c.store->Take();
  if (events.empty()) return;
  std::vector<Queued> ready;
  for (const KubeEvent& e : events) {
    int64_t micros = metadata::EventMicros(metadata::EventTimestamp(e));
    // Events are not ordered; as Alloy, only what is newer than the position at the start of the
    // watch is shipped (a restart does not send again what was acknowledged).
    if (micros <= c.init_micros) {
      skipped_old_->Inc();
      continue;
    }
    absl::StatusOr<std::string> line = metadata::RenderEventLine(e, format_);
    if (!line.ok()) {
      skipped_bad_->Inc();
      LogWarn("loki.source.kubernetes_events", "error handling event",
              {{"component_id", id()}, {"err", std::string(line.status().message())}});
      continue;
    }
    ready.push_back(
        Queued{i, generation, std::move(*line), e.object_namespace, micros * 1000, micros});
  }
  for (Queued& q : ready) {
    std::unique_lock l(shared_->mu);
    shared_->cv.wait(l, [&] {
      return !shared_->accepting || live_generation_ != generation || shared_->bytes < kQueueBytes;
    });
    if (!shared_->accepting || live_generation_ != generation) return;
    shared_->bytes += q.line.size();
    shared_->queue.push_back(std::move(q));
    l.unlock();
    if (!shared_->drain_posted.exchange(true)) {
      boost::asio::post(*env_->io, [this, shared = shared_] {
        shared->drain_posted = false;
        if (!shared->stopped) HandOn();
      });
    }
  }
}

void KubernetesEvents::HandOn() {
  while (env_->router->inflight_bytes() < env_->budget) {
    Queued q;
    {
      std::lock_guard l(shared_->mu);
      if (shared_->queue.empty()) break;
      q = std::move(shared_->queue.front());
      shared_->queue.pop_front();
      shared_->bytes -= q.line.size();
    }
    shared_->cv.notify_all();
    if (q.generation != generation_) continue;  // from a watch stopped since
    Controller& c = *controllers_[q.controller];
    ProcessEntry entry;
    if (!q.ns.empty()) entry.labels.Set("namespace", q.ns);
    entry.labels.Set("job", job_name_);
    entry.labels.Set("instance", id());
    entry.timestamp_ns = q.timestamp_ns;
    entry.line = std::move(q.line);
    const int64_t offset = ++c.next_offset;
    c.inflight.emplace_back(offset, q.micros);
    entries_->Inc();
    env_->router->PushEntry(route_, entry, file_id_base_ + q.controller, 0, offset);
  }
}

void KubernetesEvents::Commit(uint64_t file_id, uint64_t generation, int64_t offset) {
  (void)generation;
  if (file_id < file_id_base_ || file_id - file_id_base_ >= controllers_.size()) return;
  Controller& c = *controllers_[file_id - file_id_base_];
  bool advanced = false;
  while (!c.inflight.empty() && c.inflight.front().first <= offset) {
    if (c.inflight.front().second > c.acked_micros || !c.has_position) {
      c.acked_micros = std::max(c.acked_micros, c.inflight.front().second);
      c.has_position = true;
      advanced = true;
    }
    c.inflight.pop_front();
  }
  if (!advanced) return;
  {
    std::lock_guard l(shared_->mu);
    shared_->cursors[c.key] = c.acked_micros;
    shared_->cursors_changed = true;
  }
  election_cv_.notify_all();
  SavePositions(/*flush=*/false);
}

std::vector<PositionRecord> KubernetesEvents::Records() const {
  std::vector<PositionRecord> out;
  for (const auto& c : controllers_) {
    if (!c->has_position) continue;
    PositionRecord r;
    r.path = c->key;
    r.labels = "";  // Alloy's Put(key, "")
    r.offset = c->acked_micros;
    out.push_back(std::move(r));
  }
  out.insert(out.end(), foreign_.begin(), foreign_.end());
  return out;
}

void KubernetesEvents::SavePositions(bool flush) {
  if (!writer_) return;
  std::vector<PositionRecord> records = Records();
  if (records.empty()) return;
  std::string doc = RenderPositions(records);
  if (flush) {
    absl::Status st = writer_->Flush(std::move(doc));
    (void)st;  // counted by the writer's callback
  } else {
    writer_->Submit(std::move(doc));
  }
}

void KubernetesEvents::StopReading() {
  shared_->stopped = true;
  StopWatches();
}

void KubernetesEvents::Finish() {
  SavePositions(/*flush=*/true);
  StopElection(/*release=*/true);
}

std::optional<std::string> KubernetesEvents::Unhealthy() const {
  std::lock_guard l(informers_mu_);
  for (const auto& c : controllers_) {
    if (c->informer) {
      if (std::optional<std::string> u = c->informer->Unhealthy()) return u;
    }
  }
  return std::nullopt;
}

std::map<std::string, std::string> KubernetesEvents::Annotate(
    const std::map<std::string, std::string>& current) {
  std::map<std::string, int64_t> cursors;
  {
    std::lock_guard l(shared_->mu);
    cursors = shared_->cursors;
    shared_->cursors_changed = false;
  }
  // The newer of ours and the Lease's (a predecessor's) per key: never move a cursor back.
  if (auto it = current.find(annotation_key_); it != current.end()) {
    simdjson::dom::parser parser;
    simdjson::padded_string padded;
    metadata::kube_json::element doc;
    if (metadata::kube_json::ParseDoc(it->second, "cursors", &parser, &padded, &doc).ok()) {
      simdjson::dom::object o;
      if (doc.get_object().get(o) == simdjson::SUCCESS) {
        for (auto field : o) {
          int64_t v = 0;
          if (field.value.get_int64().get(v) != simdjson::SUCCESS) continue;
          std::string key(field.key);
          auto [pos, inserted] = cursors.emplace(key, v);
          if (!inserted) pos->second = std::max(pos->second, v);
        }
      }
    }
  }
  if (cursors.empty()) return {};
  std::string json = "{";
  for (const auto& [k, v] : cursors) {
    if (json.size() > 1) json += ',';
    AppendGoJsonString(k, &json, GoJson::kEncodingJson);
    absl::StrAppend(&json, ":", v);
  }
  json += '}';
  return {{annotation_key_, json}};
}

void KubernetesEvents::ElectionLoop() {
  metadata::LeaderElector elector(election_, std::make_unique<metadata::KubeLeaseApi>(
                                                 lease_client_.get(), lease_ns_, lease_name_));
  auto annotate = [this](const std::map<std::string, std::string>& current) {
    return Annotate(current);
  };
  bool was_leader = false;
  absl::Time last_tick = absl::InfinitePast();
  while (true) {
    bool release = false;
    {
      std::unique_lock l(election_mu_);
      // Renew every retry period; sooner (but at most every 500ms) when cursors advanced, so a
      // successor misses as little as possible.
      election_cv_.wait_until(l, absl::ToChronoTime(last_tick + election_.retry_period), [&] {
        if (election_stop_) return true;
        if (!was_leader) return false;
        std::lock_guard sl(shared_->mu);
        return shared_->cursors_changed && absl::Now() - last_tick >= absl::Milliseconds(500);
      });
      if (election_stop_) release = election_release_;
      if (election_stop_) {
        l.unlock();
        if (release && elector.leader()) {
          absl::Status st = elector.Release(
              absl::Now(), annotate(elector.observed() ? elector.observed()->annotations
                                                       : std::map<std::string, std::string>()));
          if (!st.ok()) lease_errors_->Inc();
        }
        return;
      }
    }
    last_tick = absl::Now();
    bool leader = elector.Tick(last_tick, annotate);
    if (!elector.last_error().ok()) {
      lease_errors_->Inc();
      LogWarn("loki.source.kubernetes_events", "leader election: lease request failed",
              {{"component_id", id()}, {"error", std::string(elector.last_error().message())}});
    }
    if (leader == was_leader) continue;
    was_leader = leader;
    leader_changes_->Inc();
    LogInfo("loki.source.kubernetes_events",
            leader ? "became the leader: watching events" : "lost leadership: stopped watching",
            {{"component_id", id()},
             {"lease", absl::StrCat(lease_ns_, "/", lease_name_)},
             {"identity", election_.identity}});
    std::map<std::string, int64_t> lease;
    if (leader && elector.observed()) {
      for (const auto& [k, v] : Annotate(elector.observed()->annotations)) {
        (void)k;
        simdjson::dom::parser parser;
        simdjson::padded_string padded;
        metadata::kube_json::element doc;
        if (!metadata::kube_json::ParseDoc(v, "cursors", &parser, &padded, &doc).ok()) continue;
        simdjson::dom::object o;
        if (doc.get_object().get(o) != simdjson::SUCCESS) continue;
        for (auto field : o) {
          int64_t n = 0;
          if (field.value.get_int64().get(n) == simdjson::SUCCESS)
            lease[std::string(field.key)] = n;
        }
      }
    }
    boost::asio::post(*env_->io, [this, shared = shared_, leader, lease = std::move(lease)] {
      if (!shared->stopped) OnLeadership(leader, lease);
    });
  }
}

void KubernetesEvents::OnLeadership(bool leader, std::map<std::string, int64_t> lease) {
  if (!leader) {
    StopWatches();
    return;
  }
  for (auto& c : controllers_) {
    auto it = lease.find(c->key);
    if (it == lease.end()) continue;
    if (!c->has_position || it->second > c->acked_micros) {
      c->acked_micros = it->second;
      c->has_position = true;
    }
  }
  SavePositions(/*flush=*/false);
  StartWatches();
}

void KubernetesEvents::StopElection(bool release) {
  {
    std::lock_guard l(election_mu_);
    election_stop_ = true;
    election_release_ = release;
  }
  election_cv_.notify_all();
  if (election_thread_.joinable()) election_thread_.join();
}

}  // namespace

std::unique_ptr<Component> BuildLokiSourceKubernetesEvents(const config::Component& c,
                                                           const config::Block& args,
                                                           ComponentEnv& env,
                                                           config::Diags* diags) {
  auto s = std::make_unique<KubernetesEvents>(c.id, &env);
  if (!s->Build(args, diags)) return nullptr;
  return s;
}

}  // namespace sluice
