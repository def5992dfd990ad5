// loki.source.docker: the logs of its targets' Docker containers (__meta_docker_container_id,
// as discovery.docker exports them), read from the Docker Engine API
// (GET /containers/{id}/logs?follow=1&stdout=1&stderr=1&timestamps=1&since=...), sent to
// forward_to as Alloy's component sends them:
//  - one tailer per container id; of several targets of one container (one per port, per
//    network) the one whose label set has the lowest Prometheus fingerprint, as Alloy;
//  - labels: the target's labels, then the component's `labels` over them, plus
//    __meta_docker_container_log_stream ("stdout" / "stderr"), then `relabel_rules`, then every
//    "__" label dropped;
//  - each line without its Docker timestamp, which becomes the entry's timestamp; a line without
//    a timestamp is counted (loki_source_docker_target_parsing_errors_total) and skipped, as an
//    empty one is;
//  - positions in <storage.path>/<component id>/positions.yml, Alloy's key for a container
//    ({path: "cursor-<container id>", labels: the target's labels as LabelSet.String()}) and
//    value (the last entry's Unix seconds), so a node moves from Alloy to sluice and back. sluice
//    also keeps the exact nanosecond timestamp and how many entries had it (positions.h), and
//    the saved place advances only when Loki acknowledged the entries (an AckedSource): a restart
//    asks for the logs since that instant and skips what was acknowledged, so nothing is lost or
//    sent twice (Alloy resumes at the second: it sends that second's lines again).
//
// A stream that ends while its container runs is opened again (with a backoff, counted in
// sluice_source_docker_reconnects_total) from where it stopped, skipping what was read; a
// stopped container's stream is read to its end, and the container looked at every 5 s (Alloy's
// restart interval) until it runs again or is gone (404: the tailer stops). A target that goes
// away stops its tailer and removes its position, as Alloy.
//
// Threads: each tailer reads on a thread of its own ("sluice-docker"), at most kMaxStreams
// streams at once (more wait for a slot, counted); lines go to the tail thread by
// boost::asio::post, where they enter the pipeline, are counted and their acknowledgements
// committed. Reading pauses while the pipeline holds the memory budget. Built on the loading
// thread, owned by the Runtime.
#include <atomic>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/common/log.h"
#include "agent/common/strings.h"
#include "agent/common/thread.h"
#include "agent/components/component.h"
#include "agent/relabel/relabel.h"
#include "agent/sink/endpoint_config.h"
#include "agent/sink/loki_sink.h"
#include "agent/source/docker_api.h"
#include "agent/source/docker_stream.h"
#include "agent/source/positions.h"
#include "agent/source/positions_writer.h"

namespace sluice {
namespace {

constexpr int kMaxStreams = 256;
constexpr absl::Duration kRestartInterval = absl::Seconds(5);  // Alloy's tailer ticker
constexpr absl::Duration kMinBackoff = absl::Milliseconds(100);
constexpr char kContainerIdLabel[] = "__meta_docker_container_id";
constexpr char kLogStreamLabel[] = "__meta_docker_container_log_stream";

// Prometheus' model.LabelSet.Fingerprint (FNV-1a 64 over sorted names and values, each followed
// by 0xff): which of a container's targets Alloy keeps.
uint64_t Fingerprint(const LabelSet& ls) {
  uint64_t h = 14695981039346656037ull;
  auto add = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  auto sep = [&h] {
    h ^= 0xff;
    h *= 1099511628211ull;
  };
  for (const auto& [k, v] : ls.labels()) {
    add(k);
    sep();
    add(v);
    sep();
  }
  return h;
}

// Where a container's reading stands: the newest timestamp seen and how many lines had it.
// Timestamps that go back (stdout and stderr stamped apart) leave it as it is.
struct Cursor {
  int64_t ts = 0;
  uint64_t count = 0;
  void Advance(int64_t t) {
    if (t == ts) {
      ++count;
    } else if (t > ts) {
      ts = t;
      count = 1;
    }
  }
};

struct ReadLine {
  int64_t ts;
  bool is_stderr;
  std::string text;
};

// What the tail thread and every reading thread share; outlives the component (posted jobs and
// threads hold it).
struct DockerShared {
  std::mutex mu;
  std::condition_variable cv;             // budget freed, a stream slot freed, stop
  bool stopped = false;                   // guarded by mu
  int streams = 0;                        // guarded by mu: streams open
  std::atomic<size_t> on_the_way{0};      // line bytes posted, not yet handed on
  std::atomic<size_t> pipeline_bytes{0};  // the router's in-flight bytes, as last seen
  size_t budget = 0;
  bool Full() const {
    size_t held = on_the_way.load() + pipeline_bytes.load();
    return held >= budget && held > 0;
  }
};

// One container's reading thread. Started and stopped by the component on the tail thread; its
// thread only touches what is below `// thread` and the guarded fields.
struct Tailer {
  // Tail thread.
  std::string container_id;
  LabelSet labels;         // the target's, with the component's labels
  std::string labels_str;  // Alloy's positions key labels
  LabelSet out_labels, err_labels;
  bool out_dropped = false, err_dropped = false;
  uint64_t file_id = 0;
  int64_t offset = 0;  // the last offset handed on
  Cursor read;         // of the lines handed on
  Cursor acked;        // of the acknowledged ones
  bool has_acked = false;
  std::deque<std::pair<int64_t, Cursor>> pending;  // offset -> cursor, in offset order
  std::thread thread;

  // Shared with the thread.
  std::mutex mu;
  bool stop = false;                     // guarded by mu
  std::atomic<bool> done{false};         // the thread has returned
  std::shared_ptr<DockerClient> client;  // guarded by mu: the one in use, for Cancel
  Cursor start;                          // where reading starts (set before the thread)
};

class LokiSourceDocker final : public Component, public AckedSource {
 public:
  LokiSourceDocker(std::string id, ComponentEnv* env)
      : Component(std::move(id)), env_(env), reap_timer_(*env->io) {}
  ~LokiSourceDocker() override { StopReading(); }

  bool Build(const config::Block& args, config::Diags* diags);
  bool Update(const config::Block& args, config::Diags* diags) override;
  absl::Status Start() override;
  void StopReading() override;
  void Finish() override { SavePositions(/*flush=*/true); }
  std::optional<std::string> Unhealthy() const override {
    std::lock_guard<std::mutex> lock(health_mu_);
    return positions_error_;
  }

  // AckedSource
  void Commit(uint64_t file_id, uint64_t generation, int64_t offset) override;
  void OnOutputProgress() override {
    shared_->pipeline_bytes = env_->router->inflight_bytes();
    shared_->cv.notify_all();
  }

 private:
  void SetTargets(const std::vector<LabelSet>& targets);
  void StartTailer(Tailer* t);
  void StopTailer(std::unique_ptr<Tailer> t);
  void Reap();
  void ArmReap();
  // Reading thread of `t`.
  void Read(Tailer* t, std::shared_ptr<DockerShared> shared);
  // Tail thread: lines of `file_id` read.
  void HandOn(uint64_t file_id, std::vector<ReadLine>& lines);
  std::vector<PositionRecord> Records() const;
  void SavePositions(bool flush);
  LabelSet StreamLabels(const LabelSet& labels, const char* stream, bool* dropped) const;

  ComponentEnv* env_;
  DockerEndpoint endpoint_;
  HttpClientOptions http_;
  std::map<std::string, std::string> labels_;
  std::shared_ptr<const RuleSet> rules_;
  uint32_t route_ = 0;
  uint64_t id_base_ = 0;
  uint64_t next_file_ = 0;
  bool started_ = false;
  std::string positions_path_;
  std::unique_ptr<PositionsWriter> writer_;
  // Restored positions not claimed by a tailer yet, by (path, labels).
  std::map<std::pair<std::string, std::string>, PositionRecord> restored_;
  std::map<std::string, std::unique_ptr<Tailer>> tailers_;  // by container id
  std::map<uint64_t, Tailer*> by_file_;
  std::vector<std::unique_ptr<Tailer>> stopping_;  // threads told to stop, not joined yet
  std::vector<LabelSet> pending_targets_;          // before Start
  std::shared_ptr<DockerShared> shared_ = std::make_shared<DockerShared>();
  boost::asio::steady_timer reap_timer_;

  mutable std::mutex health_mu_;
  std::optional<std::string> positions_error_;  // guarded by health_mu_

  Counter* entries_ = nullptr;
  Counter* parse_errors_ = nullptr;
  Counter* truncated_frames_ = nullptr;
  Counter* truncated_lines_ = nullptr;
  Counter* reconnects_ = nullptr;
  Counter* stream_errors_ = nullptr;
  Counter* slot_waits_ = nullptr;
  Counter* dropped_ = nullptr;
};

bool LokiSourceDocker::Build(const config::Block& args, config::Diags* diags) {
  const RuntimeOptions& options = *env_->options;
  config::Decoder d(args, diags);
  std::string host;
  d.String("host", &host, config::Required::kYes);
  std::vector<LabelSet> targets;
  d.Targets("targets", &targets, config::Required::kYes);
  std::vector<LogsNode*> forward;
  env_->Receivers(d, &forward);
  d.StringMap("labels", &labels_);
  DecodeRulesAttr(d, "relabel_rules", &rules_);
  absl::Duration refresh = absl::Seconds(60);
  d.Duration("refresh_interval", &refresh);
  HttpClientConfig http;
  std::optional<std::string> client_error;
  if (const config::Block* hb = d.OptionalBlock("http_client_config")) {
    config::Decoder hd(*hb, diags);
    client_error = DecodeHttpClientConfig(hd, &http);
    hd.Finish();
  }
  if (!d.Finish()) return false;
  if (refresh <= absl::ZeroDuration()) {
    d.ErrorAt("refresh_interval", absl::StrCat("refresh_interval must be positive, got \"",
                                               absl::FormatDuration(refresh), "\""));
    return false;
  }
  if (client_error) {
    diags->Add(args.span, *client_error);
    return false;
  }
  absl::StatusOr<DockerEndpoint> ep = ParseDockerHost(host);
  if (!ep.ok()) {
    d.ErrorAt("host",
              absl::StrCat("failed to parse Docker host \"", host, "\": ", ep.status().message()));
    return false;
  }
  endpoint_ = *ep;
  // Alloy hands its HTTP client settings to the Docker client only for http(s) hosts.
  if (endpoint_.socket_path.empty()) http_ = HttpClientOptionsFromEndpoint(http);
  shared_->budget = env_->budget;

  auto own_path = options.positions_paths.find(id());
  positions_path_ = own_path != options.positions_paths.end()
                        ? own_path->second
                        : absl::StrCat(options.storage_path, "/", id(), "/positions.yml");
  route_ = env_->router->AddRoute(forward);
  uint32_t index = env_->sources++;
  id_base_ = static_cast<uint64_t>(index) << LogsRouter::kSourceShift;
  env_->router->AddSource(this);

  MetricLabels cl = ComponentLabels(id());
  auto with = [&cl](const char* k, const char* v) {
    MetricLabels l = cl;
    l.push_back({k, v});
    return l;
  };
  entries_ =
      env_->metrics->GetCounter("loki_source_docker_target_entries_total",
                                "Total number of successful entries sent to the Docker target", cl);
  parse_errors_ = env_->metrics->GetCounter(
      "loki_source_docker_target_parsing_errors_total",
      "Total number of parsing errors while receiving Docker messages", cl);
  truncated_frames_ = env_->metrics->GetCounter(
      "sluice_source_docker_truncated_total",
      "Docker log frames or lines longer than sluice keeps, cut (the rest skipped).",
      with("reason", "frame"));
  truncated_lines_ = env_->metrics->GetCounter(
      "sluice_source_docker_truncated_total",
      "Docker log frames or lines longer than sluice keeps, cut (the rest skipped).",
      with("reason", "line"));
  reconnects_ = env_->metrics->GetCounter(
      "sluice_source_docker_reconnects_total",
      "Docker log streams opened again after they ended while their container ran.", cl);
  stream_errors_ = env_->metrics->GetCounter(
      "sluice_source_docker_stream_errors_total",
      "Docker API requests of loki.source.docker that failed (inspect, logs).", cl);
  slot_waits_ = env_->metrics->GetCounter(
      "sluice_source_docker_stream_slot_waits_total",
      "Times a container's log stream waited for one of the streams sluice keeps open at once.",
      cl);
  dropped_ = env_->metrics->GetCounter(
      "sluice_source_docker_dropped_entries_total",
      "Docker log lines whose labels relabel_rules dropped (not sent).", cl);

  if (!options.validate_only) {
    absl::StatusOr<std::vector<PositionRecord>> records = ReadPositionsFile(positions_path_);
    if (records.ok()) {
      for (PositionRecord& r : *records) {
        if (!absl::StartsWith(r.path, "cursor-")) continue;
        auto key = std::make_pair(r.path, r.labels);
        restored_[key] = std::move(r);
      }
    } else if (!absl::IsNotFound(records.status())) {
      // Alloy fails to build on an unreadable positions file; sluice starts over and says so.
      LogWarn("loki.source.docker", "cannot read the positions file; reading from the start",
              {{"component_id", id()}, {"error", std::string(records.status().message())}});
    }
  }
  pending_targets_ = std::move(targets);
  env_->Export(id(), {});
  return true;
}

bool LokiSourceDocker::Update(const config::Block& args, config::Diags* diags) {
  config::Decoder d(args, diags);
  std::vector<LabelSet> targets;
  if (!d.Targets("targets", &targets, config::Required::kYes)) return false;
  if (!started_) {
    pending_targets_ = std::move(targets);
    return true;
  }
  SetTargets(targets);
  return true;
}

absl::Status LokiSourceDocker::Start() {
  if (env_->options->validate_only) return absl::OkStatus();
  writer_ = std::make_unique<PositionsWriter>(positions_path_, env_->options->positions_interval,
                                              [this](const absl::Status& st, bool) {
                                                std::lock_guard<std::mutex> lock(health_mu_);
                                                if (st.ok()) {
                                                  positions_error_.reset();
                                                } else {
                                                  positions_error_ = std::string(st.message());
                                                }
                                              });
  started_ = true;
  SetTargets(pending_targets_);
  std::vector<LabelSet>().swap(pending_targets_);
  ArmReap();
  return absl::OkStatus();
}

void LokiSourceDocker::ArmReap() {
  reap_timer_.expires_after(std::chrono::seconds(1));
  reap_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    Reap();
    ArmReap();
  });
}

void LokiSourceDocker::Reap() {
  for (auto it = stopping_.begin(); it != stopping_.end();) {
    if ((*it)->done.load()) {
      if ((*it)->thread.joinable()) (*it)->thread.join();
      it = stopping_.erase(it);
    } else {
      ++it;
    }
  }
}

LabelSet LokiSourceDocker::StreamLabels(const LabelSet& labels, const char* stream,
                                        bool* dropped) const {
  LabelSet ls = labels;
  ls.Set(kLogStreamLabel, stream);
  *dropped = false;
  if (rules_ != nullptr && !rules_->empty() && !Relabel(*rules_, &ls, LabelNameScheme::kLegacy)) {
    *dropped = true;
    return LabelSet();
  }
  LabelSet out;
  for (const auto& [k, v] : ls.labels()) {
    if (!absl::StartsWith(Av(k), "__")) out.Set(k, v);
  }
  return out;
}

void LokiSourceDocker::SetTargets(const std::vector<LabelSet>& targets) {
  // Per container id, the target with the lowest fingerprint (Alloy sorts by it, first wins).
  std::map<std::string, std::pair<uint64_t, LabelSet>> wanted;
  for (const LabelSet& t : targets) {
    LabelSet merged = t;
    for (const auto& [k, v] : labels_) merged.Set(k, v);
    LabelValue id = merged.Get(kContainerIdLabel);
    if (!id || id->empty()) continue;  // Alloy: skipped (debug log)
    uint64_t fp = Fingerprint(merged);
    auto it = wanted.find(std::string(*id));
    if (it == wanted.end() || fp < it->second.first) {
      wanted[std::string(*id)] = {fp, std::move(merged)};
    }
  }
  bool removed = false;
  // Containers whose labels changed: the new tailer goes on where the old one was (Alloy would
  // read the container again from its start, its positions key having changed).
  std::map<std::string, std::pair<Cursor, std::optional<Cursor>>> carried;
  for (auto it = tailers_.begin(); it != tailers_.end();) {
    auto w = wanted.find(it->first);
    if (w != wanted.end() && w->second.second == it->second->labels) {
      wanted.erase(w);
      ++it;
      continue;
    }
    // Gone (or its labels changed: a new tailer under the new key, as Alloy's scheduler).
    if (w != wanted.end()) {
      const Tailer& old = *it->second;
      carried[it->first] = {old.read,
                            old.has_acked ? std::optional<Cursor>(old.acked) : std::nullopt};
    }
    by_file_.erase(it->second->file_id);
    env_->router->OnFileForgotten(it->second->file_id);
    StopTailer(std::move(it->second));
    it = tailers_.erase(it);
    removed = true;
  }
  for (auto& [cid, fp_labels] : wanted) {
    auto t = std::make_unique<Tailer>();
    t->container_id = cid;
    t->labels = std::move(fp_labels.second);
    t->labels_str = RenderAllLabels(t->labels);
    t->out_labels = StreamLabels(t->labels, "stdout", &t->out_dropped);
    t->err_labels = StreamLabels(t->labels, "stderr", &t->err_dropped);
    t->file_id = id_base_ + (++next_file_);
    auto r = restored_.find({absl::StrCat("cursor-", cid), t->labels_str});
    if (r != restored_.end()) {
      if (r->second.has_timestamp) {
        t->start = Cursor{r->second.timestamp_ns, r->second.timestamp_count};
      } else {
        // Alloy's own entry: its second. That second's lines come again (as with Alloy).
        t->start = Cursor{r->second.offset * 1000000000, 0};
      }
      t->acked = t->start;
      t->has_acked = true;
      restored_.erase(r);
    }
    if (auto c = carried.find(cid); c != carried.end()) {
      t->start = c->second.first;
      t->has_acked = c->second.second.has_value();
      if (t->has_acked) t->acked = *c->second.second;
    }
    t->read = t->start;
    Tailer* raw = t.get();
    by_file_[t->file_id] = raw;
    tailers_[cid] = std::move(t);
    StartTailer(raw);
  }
  if (removed) SavePositions(false);
}

void LokiSourceDocker::StartTailer(Tailer* t) {
  std::shared_ptr<DockerShared> shared = shared_;
  t->thread = StartThread("sluice-docker", [this, t, shared] {
    Read(t, shared);
    t->done = true;
  });
}

void LokiSourceDocker::StopTailer(std::unique_ptr<Tailer> t) {
  {
    std::lock_guard<std::mutex> lock(t->mu);
    t->stop = true;
    if (t->client) t->client->Cancel();
  }
  shared_->cv.notify_all();
  stopping_.push_back(std::move(t));
}

void LokiSourceDocker::StopReading() {
  if (!started_) return;
  started_ = false;
  reap_timer_.cancel();
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->stopped = true;
  }
  for (auto& [cid, t] : tailers_) {
    std::lock_guard<std::mutex> lock(t->mu);
    t->stop = true;
    if (t->client) t->client->Cancel();
  }
  shared_->cv.notify_all();
  // Every thread told first, then joined: each notices within a second (curl's progress call).
  for (auto& [cid, t] : tailers_) {
    if (t->thread.joinable()) t->thread.join();
  }
  for (auto& t : stopping_) {
    if (t->thread.joinable()) t->thread.join();
  }
  stopping_.clear();
  // The tailers stay: the acknowledgements of what was handed on still arrive (Drain), and
  // Finish saves their positions (the component stops; its targets did not go).
}

void LokiSourceDocker::Read(Tailer* t, std::shared_ptr<DockerShared> shared) {
  auto stopping = [t] {
    std::lock_guard<std::mutex> lock(t->mu);
    return t->stop;
  };
  // Sleeps up to `d`; false when told to stop.
  auto sleep = [t, &shared](absl::Duration d) {
    std::unique_lock<std::mutex> lock(shared->mu);
    shared->cv.wait_for(lock, absl::ToChronoMilliseconds(d), [t] {
      std::lock_guard<std::mutex> tl(t->mu);
      return t->stop;
    });
    std::lock_guard<std::mutex> tl(t->mu);
    return !t->stop;
  };
  Cursor cursor = t->start;  // the newest line handed on
  absl::Duration backoff = kMinBackoff;
  bool first = true;
  int64_t read_to_end_of = -1;  // FinishedAt of the stopped run last read to its end
  while (!stopping()) {
    auto client = std::make_shared<DockerClient>(endpoint_, http_);
    {
      std::lock_guard<std::mutex> lock(t->mu);
      if (t->stop) return;
      t->client = client;
    }
    const std::string base = absl::StrCat("/containers/", t->container_id);
    absl::StatusOr<std::string> body = client->Get(base + "/json", absl::Seconds(30));
    if (!body.ok()) {
      if (absl::IsNotFound(body.status())) {
        LogInfo("loki.source.docker", "container no longer exists, stopping tailer",
                {{"component_id", id()}, {"id", t->container_id}});
        return;
      }
      if (!absl::IsCancelled(body.status())) {
        stream_errors_->Inc();
        LogWarn("loki.source.docker", "error inspecting Docker container",
                {{"component_id", id()},
                 {"id", t->container_id},
                 {"error", std::string(body.status().message())}});
      }
      if (!sleep(kRestartInterval)) return;
      continue;
    }
    absl::StatusOr<DockerInspect> info = ParseDockerInspect(*body);
    if (!info.ok()) {
      stream_errors_->Inc();
      if (!sleep(kRestartInterval)) return;
      continue;
    }
    // A stopped container read to its end is read again only once it ran since (a new
    // FinishedAt), as Alloy's tailer restarts only for a container that ran.
    if (!first && !info->running && info->finished_unix == read_to_end_of) {
      if (!sleep(kRestartInterval)) return;
      continue;
    }
    first = false;
    // A slot among the streams open at once.
    {
      std::unique_lock<std::mutex> lock(shared->mu);
      if (shared->streams >= kMaxStreams) slot_waits_->Inc();
      while (shared->streams >= kMaxStreams && !shared->stopped) {
        shared->cv.wait_for(lock, std::chrono::milliseconds(500));
        std::lock_guard<std::mutex> tl(t->mu);
        if (t->stop) return;
      }
      ++shared->streams;
    }
    const Cursor resume = cursor;
    uint64_t skipped_at_resume = 0;
    DockerLogStream parser(info->tty);
    DockerStreamCounters seen;
    std::vector<ReadLine> batch;
    size_t batch_bytes = 0;
    auto flush = [&] {
      if (batch.empty()) return;
      shared->on_the_way += batch_bytes;
      boost::asio::post(*env_->io, [this, shared, file_id = t->file_id, lines = std::move(batch),
                                    bytes = batch_bytes]() mutable {
        shared->on_the_way -= bytes;
        {
          std::lock_guard<std::mutex> lock(shared->mu);
          if (shared->stopped) return;
        }
        HandOn(file_id, lines);
      });
      batch.clear();
      batch_bytes = 0;
    };
    auto on_line = [&](const DockerLogLine& l) {
      if (l.timestamp_ns < resume.ts) return;
      if (l.timestamp_ns == resume.ts && skipped_at_resume < resume.count) {
        ++skipped_at_resume;
        return;
      }
      cursor.Advance(l.timestamp_ns);
      batch.push_back(ReadLine{l.timestamp_ns, l.is_stderr, std::string(l.text)});
      batch_bytes += l.text.size();
    };
    auto count = [&] {
      const DockerStreamCounters& c = parser.counters();
      parse_errors_->Inc(c.parse_errors - seen.parse_errors);
      truncated_frames_->Inc(c.truncated_frames - seen.truncated_frames);
      truncated_lines_->Inc(c.truncated_lines - seen.truncated_lines);
      seen = c;
    };
    // Docker reads `since` as seconds with a fraction; lines at that very instant come too.
    std::string since =
        resume.ts <= 0 ? "0"
                       : absl::StrFormat("%d.%09d", resume.ts / 1000000000, resume.ts % 1000000000);
    absl::Status st = client->Stream(
        absl::StrCat(base, "/logs?follow=1&stdout=1&stderr=1&timestamps=1&since=", since),
        [&](std::string_view data) {
          // The memory budget: hold the stream (the engine's socket fills and waits).
          while (shared->Full()) {
            std::unique_lock<std::mutex> lock(shared->mu);
            shared->cv.wait_for(lock, std::chrono::milliseconds(200));
            std::lock_guard<std::mutex> tl(t->mu);
            if (t->stop) return false;
          }
          parser.Feed(data, on_line);
          count();
          flush();
          return !stopping();
        });
    // Only a stream the engine ended (the container stopped) has a last line without newline;
    // a cut one is read again from its last whole line.
    if (st.ok() && !stopping()) {
      parser.Finish(on_line);
      count();
      flush();
    }
    {
      std::lock_guard<std::mutex> lock(shared->mu);
      --shared->streams;
    }
    shared->cv.notify_all();
    if (stopping()) return;
    if (absl::IsNotFound(st)) return;
    if (!st.ok() && !absl::IsCancelled(st)) {
      stream_errors_->Inc();
      LogWarn("loki.source.docker", "could not transfer logs",
              {{"component_id", id()},
               {"container", t->container_id},
               {"error", std::string(st.message())}});
    }
    // The stream ended: if the container still runs it was cut (reconnect with backoff); if it
    // stopped, its logs were read to the end.
    absl::StatusOr<std::string> again = client->Get(base + "/json", absl::Seconds(30));
    if (again.ok()) {
      absl::StatusOr<DockerInspect> now = ParseDockerInspect(*again);
      if (now.ok() && !now->running) read_to_end_of = now->finished_unix;
      if (now.ok() && now->running) {
        reconnects_->Inc();
        if (!sleep(backoff)) return;
        backoff = std::min(backoff * 2, kRestartInterval);
        continue;
      }
    } else if (absl::IsNotFound(again.status())) {
      return;
    }
    backoff = kMinBackoff;
    if (!sleep(kRestartInterval)) return;
  }
}

void LokiSourceDocker::HandOn(uint64_t file_id, std::vector<ReadLine>& lines) {
  auto it = by_file_.find(file_id);
  if (it == by_file_.end()) return;  // its target went away meanwhile
  Tailer& t = *it->second;
  ProcessEntry e;
  for (ReadLine& l : lines) {
    t.read.Advance(l.ts);
    bool dropped = l.is_stderr ? t.err_dropped : t.out_dropped;
    const LabelSet& labels = l.is_stderr ? t.err_labels : t.out_labels;
    if (dropped || labels.empty()) {
      dropped_->Inc();
      continue;
    }
    e = ProcessEntry();
    e.labels = labels;
    e.timestamp_ns = l.ts;
    e.line = std::move(l.text);
    const int64_t off = ++t.offset;
    t.pending.emplace_back(off, t.read);
    env_->router->PushEntry(route_, e, t.file_id, 0, off);
    entries_->Inc();
  }
  shared_->pipeline_bytes = env_->router->inflight_bytes();
}

void LokiSourceDocker::Commit(uint64_t file_id, uint64_t, int64_t offset) {
  auto it = by_file_.find(file_id);
  if (it == by_file_.end()) return;
  Tailer& t = *it->second;
  bool moved = false;
  while (!t.pending.empty() && t.pending.front().first <= offset) {
    t.acked = t.pending.front().second;
    t.has_acked = true;
    t.pending.pop_front();
    moved = true;
  }
  shared_->pipeline_bytes = env_->router->inflight_bytes();
  shared_->cv.notify_all();
  if (moved) SavePositions(false);
}

std::vector<PositionRecord> LokiSourceDocker::Records() const {
  std::vector<PositionRecord> out;
  for (const auto& [cid, t] : tailers_) {
    if (!t->has_acked) continue;
    PositionRecord r;
    r.path = absl::StrCat("cursor-", cid);
    r.labels = t->labels_str;
    r.offset = t->acked.ts / 1000000000;
    r.has_timestamp = true;
    r.timestamp_ns = t->acked.ts;
    r.timestamp_count = t->acked.count;
    out.push_back(std::move(r));
  }
  for (const auto& [key, r] : restored_) out.push_back(r);
  return out;
}

void LokiSourceDocker::SavePositions(bool flush) {
  if (writer_ == nullptr) return;
  std::string doc = RenderPositions(Records());
  if (flush) {
    absl::Status st = writer_->Flush(std::move(doc));
    if (!st.ok()) {
      LogWarn("loki.source.docker", "cannot write the positions file",
              {{"component_id", id()}, {"error", std::string(st.message())}});
    }
    return;
  }
  writer_->Submit(std::move(doc));
}

}  // namespace

std::unique_ptr<Component> BuildLokiSourceDocker(const config::Component& c,
                                                 const config::Block& args, ComponentEnv& env,
                                                 config::Diags* diags) {
  auto s = std::make_unique<LokiSourceDocker>(c.id, &env);
  if (!s->Build(args, diags)) return nullptr;
  return s;
}

}  // namespace sluice
