// loki.source.journal: reads the systemd journal (sd-journal, libsystemd) and sends its entries
// to forward_to, labelled and formatted as Alloy's component does (agent/source/journal_entry.h).
// Arguments as Alloy: path (a directory of journal files; "" = the local system journal),
// matches, max_age (7h), format_as_json, labels, relabel_rules, forward_to, legacy_position.
//
// Place: the cursor of the last entry Loki acknowledged, in
// <storage.path>/<component id>/positions.yml under Alloy's key "cursor-<component id>", so a node
// moves between Alloy and sluice without a gap or a repeat. Unlike Alloy, which saves the cursor
// of each entry once handed on, the cursor is saved only once Loki acknowledged the entry (this
// is an AckedSource): each entry goes down with an offset of the component's own (1, 2, ...), the
// offset's cursor is kept until Commit() reaches it. Entries not sent (no MESSAGE, dropped by the
// rules) go down as marks only, so the cursor passes them in order.
//
// Threads: the journal is read on a thread of its own ("sluice-journal"), which blocks in
// sd_journal_wait and hands entries, already labelled, to the tail thread in bounded batches (at
// most two batches on their way). It stops reading while the pipeline holds the memory budget
// (the router's in-flight bytes) and resumes on OnOutputProgress. Everything else (pushing,
// commits, positions) runs on the tail thread. Built on the loading thread, owned by the Runtime.
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/post.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/common/log.h"
#include "agent/common/strings.h"
#include "agent/common/thread.h"
#include "agent/components/component.h"
#include "agent/relabel/relabel.h"
#include "agent/source/journal_entry.h"
#include "agent/source/journal_reader.h"
#include "agent/source/positions.h"
#include "agent/source/positions_writer.h"

namespace sluice {
namespace {

// A batch ends at this many entries or line bytes, whichever comes first.
constexpr size_t kBatchEntries = 512;
constexpr size_t kBatchBytes = 1 << 20;
// Batches read and not yet taken by the tail thread.
constexpr int kMaxOutstanding = 2;
// Offsets handed on and not yet acknowledged; past this the reader waits (entries the pipeline
// drops cost no budget bytes, but their cursors are kept until the marks come back).
constexpr size_t kMaxPending = 200000;
// sd_journal_wait's timeout: how soon a stop is noticed while the journal is idle.
constexpr absl::Duration kWaitSlice = absl::Milliseconds(100);
constexpr absl::Duration kReadRetry = absl::Milliseconds(100);  // Alloy's, after a failed read
constexpr absl::Duration kOpenRetry = absl::Seconds(10);

struct JournalItem {
  ProcessEntry entry;
  bool send = false;
  std::string cursor;
};

// What the reader thread and the tail thread share. Outlives both (posted jobs hold it).
struct JournalShared {
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;    // guarded by mu
  bool paused = false;  // guarded by mu: the pipeline holds the budget, or too many pending
  int outstanding = 0;  // guarded by mu: batches posted, not yet taken
  std::string error;    // guarded by mu: the last open/read error, "" once reading again
};

class LokiSourceJournal final : public Component, public AckedSource {
 public:
  LokiSourceJournal(std::string id, ComponentEnv* env) : Component(std::move(id)), env_(env) {}
  ~LokiSourceJournal() override { StopReading(); }

  bool Build(const config::Block& args, config::Diags* diags);
  bool Update(const config::Block&, config::Diags*) override { return true; }
  bool UpdatesInPlace() const override { return false; }

  absl::Status Start() override;
  void StopReading() override;
  void Finish() override;
  std::optional<std::string> Unhealthy() const override {
    std::lock_guard<std::mutex> l(shared_->mu);
    if (shared_->error.empty()) return std::nullopt;
    return shared_->error;
  }

  // AckedSource (tail thread).
  void Commit(uint64_t file_id, uint64_t generation, int64_t offset) override;
  void OnOutputProgress() override;

 private:
  void LoadCursor();
  void ReadLoop();
  void TakeBatch(std::vector<JournalItem> batch);
  void UpdatePause();
  std::string RenderDocument() const;
  void Count(std::string_view op) {
    env_->metrics
        ->GetCounter("sluice_source_journal_errors_total",
                     "Failed journal operations (open, read, wait), retried.",
                     ComponentLabels(id(), {{"op", std::string(op)}}))
        ->Inc();
  }

  ComponentEnv* env_;
  // Arguments (immutable once built; the reader thread reads them).
  std::string path_;
  std::vector<std::string> matches_;
  absl::Duration max_age_ = absl::Hours(7);
  JournalEntryOptions entry_options_;
  std::string legacy_file_, legacy_name_;
  std::string positions_path_;

  uint32_t route_ = 0;
  uint64_t stream_id_ = 0;
  std::shared_ptr<JournalShared> shared_ = std::make_shared<JournalShared>();
  std::thread thread_;
  bool started_ = false;

  // Reader thread only (set before it starts).
  std::string start_cursor_;

  // Tail thread.
  int64_t next_offset_ = 0;
  std::deque<std::pair<int64_t, std::string>> pending_;  // offset -> cursor, unacknowledged
  std::string committed_cursor_;                         // "" until one is known
  std::vector<PositionRecord> other_files_;              // the file's other entries, kept
  std::vector<PositionCursor> other_cursors_;
  std::unique_ptr<PositionsWriter> writer_;
  bool stopped_ = false;

  Counter* lines_ = nullptr;
  Counter* no_message_ = nullptr;
  Counter* empty_labels_ = nullptr;
  Counter* positions_errors_ = nullptr;
};

bool LokiSourceJournal::Build(const config::Block& args, config::Diags* diags) {
  config::Decoder d(args, diags);
  std::vector<LogsNode*> forward;
  env_->Receivers(d, &forward);
  d.Bool("format_as_json", &entry_options_.format_as_json);
  d.Duration("max_age", &max_age_);
  d.String("path", &path_);
  DecodeRulesAttr(d, "relabel_rules", &entry_options_.rules);
  std::string matches;
  if (d.String("matches", &matches)) {
    absl::StatusOr<std::vector<std::string>> m = ParseJournalMatches(matches);
    if (!m.ok()) {
      d.ErrorAt("matches", absl::StrCat("Error parsing journal reader 'matches' configuration "
                                        "value: ",
                                        m.status().message()));
    } else {
      matches_ = std::move(*m);
    }
  }
  std::map<std::string, std::string> labels;
  d.StringMap("labels", &labels);
  if (const config::Block* lp = d.OptionalBlock("legacy_position")) {
    config::Decoder ld(*lp, diags);
    ld.String("file", &legacy_file_, config::Required::kYes);
    ld.String("name", &legacy_name_, config::Required::kYes);
    ld.Finish();
  }
  if (!d.Finish()) return false;
  entry_options_.base = JournalBaseLabels(labels, id());

  const RuntimeOptions& options = *env_->options;
  auto own_path = options.positions_paths.find(id());
  positions_path_ = own_path != options.positions_paths.end()
                        ? own_path->second
                        : absl::StrCat(options.storage_path, "/", id(), "/positions.yml");
  route_ = env_->router->AddRoute(forward);
  uint32_t index = env_->sources++;
  stream_id_ = static_cast<uint64_t>(index) << LogsRouter::kSourceShift;
  env_->router->AddSource(this);

  const MetricLabels component = ComponentLabels(id());
  lines_ = env_->metrics->GetCounter("loki_source_journal_target_lines_total",
                                     "Total number of successful journal lines read", component);
  constexpr char kParseHelp[] = "Total number of parsing errors while reading journal messages";
  no_message_ =
      env_->metrics->GetCounter("loki_source_journal_target_parsing_errors_total", kParseHelp,
                                ComponentLabels(id(), {{"error", "no_message"}}));
  empty_labels_ =
      env_->metrics->GetCounter("loki_source_journal_target_parsing_errors_total", kParseHelp,
                                ComponentLabels(id(), {{"error", "empty_labels"}}));
  positions_errors_ = env_->metrics->GetCounter("sluice_positions_write_errors_total",
                                                "Failed writes of the positions file.", component);
  env_->Export(id(), {});
  return true;
}

// The saved cursor (or the legacy file's, when there is no positions file yet), and the file's
// other entries, written back unchanged.
void LokiSourceJournal::LoadCursor() {
  const std::string key = PositionsCursorKey(id());
  absl::StatusOr<PositionsDocument> doc = ReadPositionsDocument(positions_path_);
  if (!doc.ok() && absl::IsNotFound(doc.status()) && !legacy_file_.empty()) {
    absl::StatusOr<PositionsDocument> legacy = ReadPositionsDocument(legacy_file_);
    if (legacy.ok()) {
      for (const PositionCursor& c : legacy->cursors) {
        if (c.path == PositionsCursorKey(legacy_name_)) committed_cursor_ = c.value;
      }
      LogInfo("loki.source.journal", "converted the legacy positions file",
              {{"component_id", id()}, {"legacy_path", legacy_file_}});
    } else if (!absl::IsNotFound(legacy.status())) {
      LogWarn("loki.source.journal", "legacy positions file unreadable",
              {{"component_id", id()}, {"error", std::string(legacy.status().message())}});
    }
    return;
  }
  if (!doc.ok()) {
    if (!absl::IsNotFound(doc.status())) {
      env_->metrics
          ->GetCounter("sluice_positions_read_errors_total",
                       "Positions files that could not be read and were ignored.")
          ->Inc();
      LogWarn("loki.source.journal", "positions file unreadable, starting at now - max_age",
              {{"component_id", id()}, {"error", std::string(doc.status().message())}});
    }
    return;
  }
  other_files_ = std::move(doc->files);
  for (PositionCursor& c : doc->cursors) {
    if (c.path == key) {
      committed_cursor_ = c.value;
    } else {
      other_cursors_.push_back(std::move(c));
    }
  }
}

absl::Status LokiSourceJournal::Start() {
  if (env_->options->validate_only) return absl::OkStatus();
  LoadCursor();
  start_cursor_ = committed_cursor_;
  writer_ = std::make_unique<PositionsWriter>(
      positions_path_, env_->options->positions_interval,
      [counter = positions_errors_, id = id()](const absl::Status& s, bool) {
        if (!s.ok()) {
          counter->Inc();
          LogWarn("loki.source.journal", "writing the positions file failed",
                  {{"component_id", id}, {"error", std::string(s.message())}});
        }
      });
  started_ = true;
  thread_ = StartThread("sluice-journal", [this] { ReadLoop(); });
  return absl::OkStatus();
}

void LokiSourceJournal::StopReading() {
  {
    std::lock_guard<std::mutex> l(shared_->mu);
    shared_->stop = true;
  }
  shared_->cv.notify_all();
  if (thread_.joinable()) thread_.join();
  stopped_ = true;
}

void LokiSourceJournal::Finish() {
  if (writer_ == nullptr) return;
  if (absl::Status st = writer_->Flush(RenderDocument()); !st.ok()) {
    positions_errors_->Inc();
    LogWarn("loki.source.journal", "writing the positions file failed",
            {{"component_id", id()}, {"error", std::string(st.message())}});
  }
}

std::string LokiSourceJournal::RenderDocument() const {
  std::vector<PositionCursor> cursors = other_cursors_;
  if (!committed_cursor_.empty()) {
    // Alloy's tailer writes the key with empty labels (PutString(key, "", cursor)).
    cursors.push_back(PositionCursor{PositionsCursorKey(id()), "", committed_cursor_});
  }
  return RenderPositions(other_files_, cursors);
}

void LokiSourceJournal::ReadLoop() {
  JournalShared& sh = *shared_;
  auto sleep_for = [&sh](absl::Duration d) {
    std::unique_lock<std::mutex> l(sh.mu);
    sh.cv.wait_for(l, absl::ToChronoNanoseconds(d), [&sh] { return sh.stop; });
    return !sh.stop;
  };
  auto set_error = [&sh](std::string e) {
    std::lock_guard<std::mutex> l(sh.mu);
    sh.error = std::move(e);
  };
  std::unique_ptr<JournalReader> reader;
  std::string last_cursor = start_cursor_;  // where a re-open resumes
  JournalRecord rec;
  while (true) {
    if (reader == nullptr) {
      JournalReaderOptions o;
      o.path = path_;
      o.matches = matches_;
      o.cursor = last_cursor;
      o.max_age = max_age_;
      o.now = absl::Now();
      absl::StatusOr<std::unique_ptr<JournalReader>> r = JournalReader::Open(o);
      if (!r.ok()) {
        Count("open");
        std::string e = absl::StrCat("error creating journal tailer: ", r.status().message());
        LogError("loki.source.journal", "error creating journal tailer",
                 {{"component_id", id()},
                  {"path", path_},
                  {"error", std::string(r.status().message())}});
        set_error(std::move(e));
        if (!sleep_for(kOpenRetry)) return;
        continue;
      }
      reader = std::move(*r);
      set_error("");
    }
    {
      std::unique_lock<std::mutex> l(sh.mu);
      sh.cv.wait(l, [&sh] { return sh.stop || (!sh.paused && sh.outstanding < kMaxOutstanding); });
      if (sh.stop) return;
    }
    std::vector<JournalItem> batch;
    size_t bytes = 0;
    bool at_end = false;
    while (batch.size() < kBatchEntries && bytes < kBatchBytes) {
      absl::StatusOr<bool> got = reader->Next(&rec);
      if (!got.ok()) {
        Count("read");
        LogError("loki.source.journal", "failed to read journal entry",
                 {{"component_id", id()}, {"error", std::string(got.status().message())}});
        at_end = true;
        break;
      }
      if (!*got) {
        at_end = true;
        break;
      }
      JournalItem& item = batch.emplace_back();
      item.cursor = rec.cursor;
      last_cursor = rec.cursor;
      uint64_t usec = rec.realtime_usec;
      if (usec == 0) usec = static_cast<uint64_t>(absl::ToUnixMicros(absl::Now()));
      switch (MakeJournalEntry(entry_options_, rec.fields, usec, &item.entry)) {
        case JournalVerdict::kSend:
          item.send = true;
          bytes += item.entry.line.size();
          break;
        case JournalVerdict::kNoMessage:
          no_message_->Inc();
          break;
        case JournalVerdict::kEmptyLabels:
          empty_labels_->Inc();
          break;
      }
    }
    if (!batch.empty()) {
      {
        std::lock_guard<std::mutex> l(sh.mu);
        ++sh.outstanding;
      }
      boost::asio::post(*env_->io, [this, shared = shared_, batch = std::move(batch)]() mutable {
        {
          std::lock_guard<std::mutex> l(shared->mu);
          --shared->outstanding;
          // After StopReading the component may be going away: touch nothing of it. What was
          // read and not handed on is re-read after a restart (its cursor was never saved).
          if (shared->stop) return;
        }
        TakeBatch(std::move(batch));
      });
    }
    if (at_end) {
      absl::Status st = reader->Wait(kWaitSlice);
      if (!st.ok()) {
        Count("wait");
        LogError("loki.source.journal", "failed waiting for journal entry",
                 {{"component_id", id()}, {"error", std::string(st.message())}});
        if (!sleep_for(kReadRetry)) return;
      }
    }
  }
}

void LokiSourceJournal::TakeBatch(std::vector<JournalItem> batch) {
  if (stopped_) return;
  for (JournalItem& item : batch) {
    int64_t offset = ++next_offset_;
    pending_.emplace_back(offset, std::move(item.cursor));
    if (item.send) {
      env_->router->PushEntry(route_, item.entry, stream_id_, 0, offset);
      lines_->Inc();
    } else {
      // No entry, only the mark: the cursor passes it once everything before it is acknowledged.
      env_->router->OnMark(route_, stream_id_, 0, offset);
    }
  }
  UpdatePause();
  shared_->cv.notify_all();
}

void LokiSourceJournal::UpdatePause() {
  bool full = env_->router->inflight_bytes() >= env_->budget || pending_.size() >= kMaxPending;
  bool changed = false;
  {
    std::lock_guard<std::mutex> l(shared_->mu);
    changed = shared_->paused != full;
    shared_->paused = full;
  }
  if (changed && !full) shared_->cv.notify_all();
}

void LokiSourceJournal::Commit(uint64_t, uint64_t, int64_t offset) {
  bool moved = false;
  while (!pending_.empty() && pending_.front().first <= offset) {
    committed_cursor_ = std::move(pending_.front().second);
    pending_.pop_front();
    moved = true;
  }
  if (moved && writer_ != nullptr) writer_->Submit(RenderDocument());
  UpdatePause();
}

void LokiSourceJournal::OnOutputProgress() {
  if (!stopped_) UpdatePause();
}

}  // namespace

std::unique_ptr<Component> BuildLokiSourceJournal(const config::Component& c,
                                                  const config::Block& args, ComponentEnv& env,
                                                  config::Diags* diags) {
  auto s = std::make_unique<LokiSourceJournal>(c.id, &env);
  if (!s->Build(args, diags)) return nullptr;
  return s;
}

}  // namespace sluice
