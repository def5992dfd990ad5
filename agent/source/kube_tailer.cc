#include "agent/source/kube_tailer.h"

#include <simdjson.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/common/strings.h"
#include "agent/common/thread.h"
#include "agent/common/timestamp.h"
#include "agent/metadata/kube_json.h"
#include "agent/source/positions.h"

namespace sluice {
namespace {

namespace kj = metadata::kube_json;

// Lines a reader may have on their way to the tail thread before it waits for them to land.
constexpr size_t kMaxOnTheWay = 1 << 20;

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<bool> KubeContainerFinished(std::string_view pod_json, std::string_view uid,
                                           std::string_view container, int64_t now_ns) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded;
  kj::element doc;
  if (absl::Status st = kj::ParseDoc(pod_json, "Pod", &parser, &padded, &doc); !st.ok()) return st;
  bool job = false;
  simdjson::dom::array owners;
  if (doc["metadata"]["ownerReferences"].get_array().get(owners) == simdjson::SUCCESS) {
    for (kj::element o : owners) {
      std::string kind = kj::Str(o, "kind");
      if (kj::Bool(o, "controller") && (kind == "Job" || kind == "CronJob")) job = true;
    }
  }
  if (!job && kj::MetaStr(doc, "uid") != uid) return true;  // the pod we tailed is gone
  kj::element status;
  if (doc["status"].get(status) != simdjson::SUCCESS) {
    return absl::NotFoundError(
        absl::StrCat("could not find container \"", Av(container), "\" in pod status"));
  }
  enum class Kind { kApp, kInit, kEphemeral } kind = Kind::kApp;
  std::optional<kj::element> found;
  const std::pair<const char*, Kind> lists[] = {{"containerStatuses", Kind::kApp},
                                                {"initContainerStatuses", Kind::kInit},
                                                {"ephemeralContainerStatuses", Kind::kEphemeral}};
  for (const auto& [field, k] : lists) {
    simdjson::dom::array arr;
    if (status[field].get_array().get(arr) != simdjson::SUCCESS) continue;
    for (kj::element c : arr) {
      if (kj::Str(c, "name") == container) {
        found = c;
        kind = k;
        break;
      }
    }
    if (found) break;
  }
  if (!found) {
    return absl::NotFoundError(
        absl::StrCat("could not find container \"", Av(container), "\" in pod status"));
  }
  kj::element state;
  bool has_state = (*found)["state"].get(state) == simdjson::SUCCESS;
  kj::element tmp, terminated;
  const bool waiting = has_state && state["waiting"].get(tmp) == simdjson::SUCCESS;
  const bool running = has_state && state["running"].get(tmp) == simdjson::SUCCESS;
  const bool is_terminated = has_state && state["terminated"].get(terminated) == simdjson::SUCCESS;
  if (waiting || running) return false;
  std::string policy;
  kj::element spec;
  if (doc["spec"].get(spec) == simdjson::SUCCESS) policy = kj::Str(spec, "restartPolicy");
  if (policy.empty()) policy = "Always";  // the API server's default
  const int64_t exit_code = is_terminated ? kj::Int(terminated, "exitCode") : 0;
  if (job) {
    if (!is_terminated) return false;
    if (!kj::MetaStr(doc, "deletionTimestamp").empty()) return true;
    int64_t finished = 0;
    if (!ParseRfc3339Nano(kj::Str(terminated, "finishedAt"), &finished)) return false;
    // Alloy waits at least 10s after a Job's container ended for its last lines, at most 60s.
    return now_ns - finished > int64_t{60} * 1000000000;
  }
  switch (kind) {
    case Kind::kApp:
      if (is_terminated && policy == "Always") return false;
      if (is_terminated && exit_code != 0 && policy != "Never") return false;
      return true;
    case Kind::kInit:
      if (is_terminated && exit_code != 0 && policy != "Never") return false;
      return true;
    case Kind::kEphemeral:
      return true;
  }
  return false;
}

// What the tail thread and the reader threads share. Outlives both (jobs posted hold it).
struct KubeLogTailer::Shared {
  std::mutex mu;
  std::condition_variable cv;
  bool stopped = false;  // the whole tailer
  bool paused = false;   // the pipeline holds the memory budget
  int open = 0;          // streams open now
};

struct KubeLogTailer::Reader {
  KubeLogTarget target;
  uint64_t id = 0;
  // Tail thread.
  int64_t offset = 0;
  KubeLogCommits commits;
  // Guarded by Shared::mu.
  bool stop = false;
  size_t on_the_way = 0;
  metadata::KubeClient* client = nullptr;
  std::atomic<bool> done{false};
  std::thread thread;
};

KubeLogTailer::KubeLogTailer(boost::asio::io_context* io, KubeTailerOptions options,
                             const Clock* clock, MetricsRegistry* metrics, LogsRouter* router)
    : io_(io),
      opts_(std::move(options)),
      clock_(clock),
      router_(router),
      shared_(std::make_shared<Shared>()),
      timer_(*io) {
  MetricLabels l = ComponentLabels(opts_.component_id);
  lines_ = metrics->GetCounter("sluice_kubernetes_logs_read_lines_total",
                               "Lines read from Kubernetes log streams.", l);
  skipped_ = metrics->GetCounter(
      "sluice_kubernetes_logs_skipped_lines_total",
      "Lines a reopened log stream repeated that were already read or acknowledged (not sent).", l);
  truncated_ = metrics->GetCounter("sluice_kubernetes_logs_truncated_lines_total",
                                   "Log stream lines cut at max_line_size.", l);
  unparsed_ = metrics->GetCounter(
      "sluice_kubernetes_logs_unparsed_timestamps_total",
      "Log stream lines without a readable timestamp (sent whole, stamped with the read time).", l);
  failures_ = metrics->GetCounter(
      "sluice_kubernetes_logs_stream_failures_total",
      "Log streams that could not be opened or broke (retried with backoff).", l);
  positions_errors_ = metrics->GetCounter("sluice_kubernetes_logs_positions_errors_total",
                                          "Failed reads and writes of the positions file.", l);
  paused_ =
      metrics->GetCounter("sluice_kubernetes_logs_paused_total",
                          "Times reading paused because the pipeline held the memory budget.", l);
  active_ = metrics->GetGauge("sluice_kubernetes_logs_active_streams",
                              "Containers whose logs are being tailed.", l);
}

KubeLogTailer::~KubeLogTailer() {
  *alive_ = false;
  StopReading();
}

absl::Status KubeLogTailer::Start() {
  if (started_) return absl::OkStatus();
  started_ = true;
  absl::StatusOr<std::vector<PositionRecord>> recs = ReadPositionsFile(opts_.positions_path);
  if (recs.ok()) {
    for (const PositionRecord& r : *recs) places_[{r.path, r.labels}] = r.offset;
  } else if (!absl::IsNotFound(recs.status())) {
    positions_errors_->Inc();
    LogWarn(
        "loki.source.kubernetes", "failed to read positions file; starting without places",
        {{"component_id", opts_.component_id}, {"error", std::string(recs.status().message())}});
  }
  writer_ = std::make_unique<PositionsWriter>(
      opts_.positions_path, absl::Seconds(10),
      [this, shared = shared_](const absl::Status& st, bool) {
        if (!st.ok()) {
          positions_errors_->Inc();
          LogWarn("loki.source.kubernetes", "error writing positions file",
                  {{"component_id", opts_.component_id}, {"error", std::string(st.message())}});
        }
      });
  std::vector<KubeLogTarget> targets = std::move(pending_targets_);
  SetTargets(std::move(targets));
  ArmPositions();
  return absl::OkStatus();
}

int64_t KubeLogTailer::SavedPlace(const KubeLogTarget& t) const {
  auto it = places_.find({t.positions_path, t.positions_labels});
  return it == places_.end() ? 0 : it->second;
}

void KubeLogTailer::SetTargets(std::vector<KubeLogTarget> targets) {
  if (!started_) {
    pending_targets_ = std::move(targets);
    return;
  }
  if (stopped_) return;
  std::map<std::string, KubeLogTarget> wanted;
  for (KubeLogTarget& t : targets) {
    std::string key = t.Key();
    wanted.emplace(std::move(key), std::move(t));  // the first of equal targets wins
  }
  // Places of containers whose labels changed (same pod uid and container, new key): the new
  // reader starts there instead of at the beginning of the log (Alloy starts over).
  std::map<std::string, int64_t> moved;
  for (auto it = readers_.begin(); it != readers_.end();) {
    if (wanted.count(it->first) != 0) {
      ++it;
      continue;
    }
    Reader& r = *it->second;
    {
      std::lock_guard l(shared_->mu);
      r.stop = true;
      if (r.client != nullptr) r.client->Cancel();
    }
    shared_->cv.notify_all();
    LogInfo("loki.source.kubernetes", "removing entry from positions file",
            {{"component_id", opts_.component_id},
             {"path", r.target.positions_path},
             {"labels", r.target.positions_labels}});
    if (r.commits.saved_us() > 0) moved[r.target.positions_path] = r.commits.saved_us();
    if (places_.erase({r.target.positions_path, r.target.positions_labels}) > 0) dirty_ = true;
    router_->OnFileForgotten(r.id);
    by_id_.erase(r.id);
    stopping_.push_back(std::move(it->second));
    it = readers_.erase(it);
  }
  for (auto& [key, t] : wanted) {
    if (readers_.count(key) != 0) continue;
    auto r = std::make_unique<Reader>();
    r->target = std::move(t);
    r->id = opts_.stream_id_base + next_stream_++;
    int64_t saved = SavedPlace(r->target);
    if (saved == 0) {
      // Saved under other labels (changed while sluice was down, or just now): same container.
      auto m = moved.find(r->target.positions_path);
      if (m != moved.end()) saved = m->second;
      for (auto p = places_.lower_bound({r->target.positions_path, ""});
           saved == 0 && p != places_.end() && p->first.first == r->target.positions_path; ++p) {
        saved = p->second;
      }
      if (saved != 0) {
        // The old labels' entry goes: one place per container.
        for (auto p = places_.lower_bound({r->target.positions_path, ""});
             p != places_.end() && p->first.first == r->target.positions_path;) {
          p = places_.erase(p);
        }
        places_[{r->target.positions_path, r->target.positions_labels}] = saved;
        dirty_ = true;
      }
    }
    r->commits.SetSaved(saved);
    Reader& ref = *r;
    by_id_[r->id] = r.get();
    readers_.emplace(key, std::move(r));
    StartReader(ref);
  }
  active_->Set(static_cast<double>(readers_.size()));
  Reap();
}

void KubeLogTailer::StartReader(Reader& r) {
  std::shared_ptr<Shared> shared = shared_;
  const KubeTailerOptions& o = opts_;
  const int64_t saved = r.commits.saved_us();
  Reader* rp = &r;
  r.thread = StartThread("sluice-klog", [this, shared, rp, saved, &o] {
    const KubeLogTarget& t = rp->target;
    KubeLogResume resume;
    resume.SetSaved(saved);
    if (saved == 0 && o.tail_from_end) {
      // Only lines from now on: those of this second before now are skipped.
      resume.SetSaved(NanosToMicros(clock_->NowUnixNanos()) - 1);
    }
    metadata::KubeClient client(o.apiserver, "API server", o.factory);
    {
      std::lock_guard l(shared->mu);
      rp->client = &client;
      if (rp->stop) client.Cancel();
    }
    auto stopping = [&] {
      std::lock_guard l(shared->mu);
      return rp->stop || shared->stopped;
    };
    absl::Duration backoff = o.min_backoff;
    const std::string base =
        absl::StrCat("/api/v1/namespaces/", PercentEncode(t.ns), "/pods/", PercentEncode(t.pod));
    bool logged_open = false;
    while (!stopping()) {
      {
        std::unique_lock l(shared->mu);
        shared->cv.wait(l, [&] {
          return rp->stop || shared->stopped || shared->open < std::max(1, o.max_streams);
        });
        if (rp->stop || shared->stopped) break;
        ++shared->open;
      }
      std::string path = absl::StrCat(base, "/log?container=", PercentEncode(t.container),
                                      "&follow=true&timestamps=true");
      if (resume.has_start()) {
        absl::StrAppend(&path, "&sinceTime=", PercentEncode(KubeSinceTime(resume.start_ns())));
      }
      resume.Reopen();
      if (!logged_open) {
        LogInfo("loki.source.kubernetes", "opened log stream",
                {{"component_id", o.component_id}, {"target", t.Name()}});
        logged_open = true;
      }
      bool got_lines = false;
      std::string partial;
      bool cut = false;
      std::vector<std::pair<int64_t, std::string>> batch;
      size_t batch_bytes = 0;
      const size_t max_raw = o.max_line_size + 64;  // the timestamp and its space on top
      auto line_done = [&](std::string_view raw) {
        KubeLogLine pl = ParseKubeLogLine(raw, clock_->NowUnixNanos());
        if (!pl.parsed) unparsed_->Inc();
        if (resume.Skip(pl.timestamp_ns)) {
          skipped_->Inc();
          return;
        }
        resume.Read(pl.timestamp_ns);
        got_lines = true;
        lines_->Inc();
        std::string_view text = pl.line;
        if (text.size() > o.max_line_size) {
          if (!cut) truncated_->Inc();  // a cut raw line was counted when it was cut
          text = text.substr(0, o.max_line_size);
        }
        batch_bytes += text.size();
        batch.emplace_back(pl.timestamp_ns, std::string(text));
      };
      auto wait_room = [&] {
        std::unique_lock l(shared->mu);
        shared->cv.wait(l, [&] {
          return rp->stop || shared->stopped || (!shared->paused && rp->on_the_way <= kMaxOnTheWay);
        });
        return !(rp->stop || shared->stopped);
      };
      auto on_data = [&](std::string_view chunk) {
        // Paused before this chunk is taken apart: it waits in curl's buffer (one buffer at
        // most), the rest of the stream in the server's socket.
        if (!wait_room()) return false;
        while (!chunk.empty()) {
          size_t nl = chunk.find('\n');
          std::string_view piece = chunk.substr(0, nl);
          if (!cut) {
            size_t room = max_raw - std::min(max_raw, partial.size());
            if (piece.size() > room) {
              partial.append(piece.substr(0, room));
              cut = true;
              truncated_->Inc();
            } else {
              partial.append(piece);
            }
          }
          if (nl == std::string_view::npos) break;
          line_done(partial);
          partial.clear();
          cut = false;
          chunk.remove_prefix(nl + 1);
        }
        if (!batch.empty()) {
          {
            std::lock_guard l(shared->mu);
            rp->on_the_way += batch_bytes;
          }
          boost::asio::post(*io_, [this, shared, id = rp->id, lines = std::move(batch),
                                   bytes = batch_bytes]() mutable {
            if (shared->stopped) return;
            Deliver(id, std::move(lines), bytes);
          });
          batch.clear();
          batch_bytes = 0;
        }
        return wait_room();
      };
      absl::StatusOr<HttpResponse> res = client.GetStream(path, o.max_lifetime, on_data);
      {
        std::lock_guard l(shared->mu);
        --shared->open;
      }
      shared->cv.notify_all();
      if (stopping()) break;
      bool finished = false;
      if (!res.ok() || res->status != 200) {
        failures_->Inc();
        LogWarn("loki.source.kubernetes", "tailer stopped; will retry",
                {{"component_id", o.component_id},
                 {"target", t.Name()},
                 {"err", !res.ok() ? std::string(res.status().message())
                                   : absl::StrCat(metadata::HttpStatusText(res->status), ": ",
                                                  res->body)}});
      } else {
        // The stream ended: has the container finished for good?
        absl::StatusOr<std::string> pod = client.Get(base, absl::Seconds(30));
        absl::StatusOr<bool> done =
            pod.ok() ? KubeContainerFinished(*pod, t.uid, t.container, clock_->NowUnixNanos())
                     : absl::StatusOr<bool>(pod.status());
        if (done.ok() && *done) {
          LogInfo("loki.source.kubernetes", "container terminated, stopping tailer",
                  {{"component_id", o.component_id}, {"target", t.Name()}});
          finished = true;
        } else if (!done.ok()) {
          LogWarn("loki.source.kubernetes", "could not get pod info; will retry tailing",
                  {{"component_id", o.component_id},
                   {"target", t.Name()},
                   {"err", std::string(done.status().message())}});
        }
      }
      if (finished) break;
      if (got_lines) backoff = o.min_backoff;
      {
        std::unique_lock l(shared->mu);
        shared->cv.wait_for(l, absl::ToChronoNanoseconds(backoff),
                            [&] { return rp->stop || shared->stopped; });
      }
      backoff = std::min(backoff * 2, o.max_backoff);
    }
    {
      std::lock_guard l(shared->mu);
      rp->client = nullptr;
    }
    rp->done = true;
  });
}

void KubeLogTailer::Deliver(uint64_t stream_id, std::vector<std::pair<int64_t, std::string>> lines,
                            size_t bytes) {
  auto it = by_id_.find(stream_id);
  if (it == by_id_.end() || stopped_) return;  // the target went away meanwhile
  Reader& r = *it->second;
  ProcessEntry e;
  for (auto& [ts, line] : lines) {
    e.labels = r.target.labels;
    e.extracted.clear();
    e.structured_metadata.clear();
    e.timestamp_ns = ts;
    e.line = std::move(line);
    const int64_t offset = ++r.offset;
    r.commits.Handed(offset, ts);
    router_->PushEntry(opts_.route, e, r.id, 0, offset);
  }
  {
    std::lock_guard l(shared_->mu);
    r.on_the_way -= std::min(r.on_the_way, bytes);
    if (!shared_->paused && router_->inflight_bytes() >= opts_.memory_budget) {
      shared_->paused = true;
      paused_->Inc();
    }
  }
  shared_->cv.notify_all();
}

void KubeLogTailer::Commit(uint64_t stream_id, uint64_t, int64_t offset) {
  auto it = by_id_.find(stream_id);
  if (it == by_id_.end()) return;
  Reader& r = *it->second;
  int64_t us = r.commits.Acked(offset);
  if (us == 0) return;
  places_[{r.target.positions_path, r.target.positions_labels}] = us;
  dirty_ = true;
  // Written within milliseconds of the acknowledgement (the writer coalesces; fsync follows on
  // its own period), as loki.source.file does: a kill -9 then repeats next to nothing.
  if (!submit_posted_) {
    submit_posted_ = true;
    boost::asio::post(*io_, [this, alive = alive_] {
      if (!*alive) return;
      submit_posted_ = false;
      SubmitPositions();
    });
  }
}

void KubeLogTailer::SubmitPositions() {
  if (!dirty_ || writer_ == nullptr) return;
  std::vector<PositionRecord> recs;
  for (const auto& [key, us] : places_) {
    PositionRecord r;
    r.path = key.first;
    r.labels = key.second;
    r.offset = us;
    recs.push_back(std::move(r));
  }
  writer_->Submit(RenderPositions(recs));
  dirty_ = false;
}

void KubeLogTailer::OnOutputProgress() {
  bool resume = false;
  {
    std::lock_guard l(shared_->mu);
    if (shared_->paused && router_->inflight_bytes() < opts_.memory_budget) {
      shared_->paused = false;
      resume = true;
    }
  }
  if (resume) shared_->cv.notify_all();
}

void KubeLogTailer::ArmPositions() {
  timer_.expires_after(absl::ToChronoNanoseconds(opts_.positions_interval));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    SubmitPositions();
    Reap();
    ArmPositions();
  });
}

void KubeLogTailer::Reap() {
  for (auto it = stopping_.begin(); it != stopping_.end();) {
    if ((*it)->done.load()) {
      if ((*it)->thread.joinable()) (*it)->thread.join();
      it = stopping_.erase(it);
    } else {
      ++it;
    }
  }
}

void KubeLogTailer::StopReading() {
  if (stopped_) return;
  stopped_ = true;
  timer_.cancel();
  {
    std::lock_guard l(shared_->mu);
    shared_->stopped = true;
    for (auto& [key, r] : readers_) {
      r->stop = true;
      if (r->client != nullptr) r->client->Cancel();
    }
    for (auto& r : stopping_) {
      r->stop = true;
      if (r->client != nullptr) r->client->Cancel();
    }
  }
  shared_->cv.notify_all();
  for (auto& [key, r] : readers_) {
    if (r->thread.joinable()) r->thread.join();
  }
  for (auto& r : stopping_) {
    if (r->thread.joinable()) r->thread.join();
  }
  stopping_.clear();
  active_->Set(0);
}

absl::Status KubeLogTailer::SavePositions() {
  if (writer_ == nullptr) return absl::OkStatus();
  std::vector<PositionRecord> recs;
  for (const auto& [key, us] : places_) {
    PositionRecord r;
    r.path = key.first;
    r.labels = key.second;
    r.offset = us;
    recs.push_back(std::move(r));
  }
  absl::Status st = writer_->Flush(RenderPositions(recs));
  if (!st.ok()) positions_errors_->Inc();
  dirty_ = false;
  return st;
}

}  // namespace sluice
