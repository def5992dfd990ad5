#include "agent/runtime/logs_router.h"

#include <algorithm>
#include <chrono>

namespace sluice {

LogsRouter::LogsRouter(boost::asio::io_context* io, const Clock* clock)
    : clock_(clock),
      acks_([this](uint64_t id, uint64_t gen, int64_t off) { Commit(id, gen, off); }),
      timer_(*io) {}

uint32_t LogsRouter::AddRoute(std::vector<LogsNode*> nodes, bool after_stage_cri) {
  routes_.push_back(std::move(nodes));
  after_stage_cri_.push_back(after_stage_cri);
  return static_cast<uint32_t>(routes_.size() - 1);
}

uint32_t LogsRouter::AddSource(AckedSource* source) {
  sources_.push_back(source);
  return static_cast<uint32_t>(sources_.size() - 1);
}

uint32_t LogsRouter::AddSlot(Batcher* batcher) {
  slots_.push_back(batcher);
  return static_cast<uint32_t>(slots_.size() - 1);
}

void LogsRouter::Push(uint32_t route, ProcessEntry& e) {
  // Every receiver gets the entry as it was read.
  PushToAll(routes_[route], e, &fanout_);
}

void LogsRouter::OnEntry(uint32_t route, uint64_t file_id, uint64_t generation,
                         const LabelSet& labels, int64_t timestamp_ns, std::string_view line,
                         int64_t start, int64_t end, const CriPieceFields* cri, bool padded) {
  ProcessEntry& e = scratch_;
  e.labels = labels;
  e.start_extracted.Clear();
  if (cri != nullptr && after_stage_cri_[route]) {
    // Alloy's stage.cri leaves these in the extracted map (its `stream` is the entry's label).
    // In name order: appended, not searched and inserted.
    e.start_extracted.Append("content", cri->content);
    e.start_extracted.Append("flags", cri->partial ? "P" : "F");
    e.start_extracted.Append("time", cri->time);
  }
  e.timestamp_ns = timestamp_ns;
  // Lent, not copied: the push is synchronous and `line` (the tail's read buffer) outlives it.
  e.line.Borrow(line, padded);
  e.structured_metadata.clear();
  e.source = SourcePos{file_id, generation, start, end};
  PendingMark& m = pending_mark_;
  if (m.set && (m.file_id != file_id || m.generation != generation || m.route != route)) {
    FlushPendingMark();
  }
  Push(route, e);
  // The lent bytes are the source's again: no view of them stays behind in the scratch entry.
  e.line.clear();
  m = PendingMark{true, route, file_id, generation, end};
}

void LogsRouter::PushEntry(uint32_t route, ProcessEntry& entry, uint64_t file_id,
                           uint64_t generation, int64_t offset) {
  FlushPendingMark();
  entry.source = SourcePos{file_id, generation, offset - 1, offset};
  Push(route, entry);
  MarkNow(route, file_id, generation, offset);
}

void LogsRouter::FlushPendingMark() {
  if (!pending_mark_.set) return;
  PendingMark m = pending_mark_;
  pending_mark_.set = false;
  MarkNow(m.route, m.file_id, m.generation, m.offset);
}

void LogsRouter::OnMark(uint32_t route, uint64_t file_id, uint64_t generation, int64_t offset) {
  FlushPendingMark();
  MarkNow(route, file_id, generation, offset);
}

void LogsRouter::MarkNow(uint32_t route, uint64_t file_id, uint64_t generation, int64_t offset) {
  const std::vector<LogsNode*>& nodes = routes_[route];
  if (nodes.empty()) {
    acks_.Unrouted(file_id, generation, offset);
    return;
  }
  for (LogsNode* n : nodes) n->PushMark(file_id, generation, offset);
}

size_t LogsRouter::inflight_bytes() const { return inflight_; }

bool LogsRouter::Backlogged() const {
  for (LogsNode* n : nodes_) {
    if (n->Backlogged()) return true;
  }
  return false;
}

void LogsRouter::SealAll() {
  FlushPendingMark();
  for (Batcher* b : slots_) b->Seal();
}

void LogsRouter::FlushAll() {
  FlushPendingMark();
  for (LogsNode* n : nodes_) n->Flush();
  SealAll();
}

void LogsRouter::Stop() {
  stopped_ = true;
  timer_.cancel();
}

void LogsRouter::Commit(uint64_t file_id, uint64_t generation, int64_t offset) {
  uint64_t source = file_id >> kSourceShift;
  if (source < sources_.size()) sources_[source]->Commit(file_id, generation, offset);
}

void LogsRouter::OnBatchDone(std::unique_ptr<Batch> batch, BatchOutcome outcome) {
  inflight_ -= std::min(inflight_, batch->line_bytes);
  if (outcome == BatchOutcome::kAborted) {
    aborted_bytes_ += batch->line_bytes;
  } else {
    uint32_t slot = batch->slot;
    for (const FileMark& m : batch->marks) acks_.Acked(slot, m.file_id, m.generation, m.offset);
  }
  uint32_t slot = batch->slot;
  if (slot < slots_.size()) slots_[slot]->Recycle(std::move(batch));
  for (AckedSource* t : sources_) t->OnOutputProgress();
}

void LogsRouter::WakeAt(int64_t mono_ns) {
  if (stopped_ || mono_ns >= timer_at_) return;
  timer_at_ = mono_ns;
  int64_t wait = std::max<int64_t>(0, mono_ns - clock_->MonotonicNanos());
  timer_.expires_after(std::chrono::nanoseconds(wait));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // re-armed earlier, or stopped
    timer_at_ = INT64_MAX;
    OnTimer();
  });
}

void LogsRouter::OnTimer() {
  if (stopped_) return;
  FlushPendingMark();
  int64_t now = clock_->MonotonicNanos();
  for (LogsNode* n : nodes_) n->Tick(now);
  // A stage that held reading back (limit) may have let go.
  for (AckedSource* t : sources_) t->OnOutputProgress();
  int64_t next = INT64_MAX;
  for (LogsNode* n : nodes_) next = std::min(next, n->NextDeadline());
  if (next != INT64_MAX) WakeAt(next);
}

}  // namespace sluice
