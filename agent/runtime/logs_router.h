// LogsRouter: the running graph's switchboard on the tail thread.
//
// It is the TailOutput of every loki.source.file's TailManager: an entry read from a file goes
// down its source's route (the forward_to list) as a ProcessEntry; the file's mark follows once
// per run of entries of one file (at the end of the read chunk, or when another file's entry
// comes), not after every line: a mark walks every node of the route, and holding it back a
// little only delays a commit, never advances one past what was passed on.
// Batchers of loki.write endpoints and loki.echo register as slots; batches come back here from
// the send threads, and the AckTracker turns their marks into commits of the TailManagers'
// positions. It also owns the one timer that drives batch_wait and the stages' waits, and the
// count of line bytes in flight that the memory budget checks.
//
// Tail thread only (batches return through boost::asio::post). Owned by the Runtime, which also
// owns the nodes and TailManagers it points to and keeps them alive while it runs.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <vector>

#include "agent/common/clock.h"
#include "agent/common/metrics.h"
#include "agent/pipeline/batcher.h"
#include "agent/runtime/ack_tracker.h"
#include "agent/runtime/acked_source.h"
#include "agent/runtime/logs_node.h"
#include "agent/source/tail_manager.h"

namespace sluice {

class LogsRouter final : public TailOutput {
 public:
  // File ids of source i start at i << kSourceShift (TailOptions::file_id_base).
  static constexpr int kSourceShift = 40;

  LogsRouter(boost::asio::io_context* io, const Clock* clock);

  // --- building (before any entry flows) ---
  // A source's forward_to list; returns the route id to put in its FileTargets.
  // `after_stage_cri`: the route enters a loki.process after its stage.cri (the tailer parses the
  // CRI lines), and a stage after it may read what that stage extracts, so its entries carry it.
  uint32_t AddRoute(std::vector<LogsNode*> nodes, bool after_stage_cri = false);
  // Registers a source; returns its index (use index << kSourceShift as file_id_base, or as the
  // first of an AckedSource's own stream ids).
  uint32_t AddSource(AckedSource* source);
  // Every node, for timers, flush and backpressure.
  void AddNode(LogsNode* node) { nodes_.push_back(node); }
  // A batcher whose batches come back through OnBatchDone; returns the slot id to stamp on them.
  uint32_t AddSlot(Batcher* batcher);

  // --- used by nodes ---
  void Handed(uint32_t slot, uint64_t file_id, uint64_t generation, int64_t offset) {
    acks_.Handed(slot, file_id, generation, offset);
  }
  void AddInflight(size_t bytes) { inflight_ += bytes; }
  // A node has a new deadline (an opened batch, a held entry): make sure the timer runs.
  void WakeAt(int64_t mono_ns);

  // Batch outcome (post here from the send thread).
  void OnBatchDone(std::unique_ptr<Batch> batch, BatchOutcome outcome);

  // Shutdown: releases held entries, seals every batch.
  void FlushAll();
  void Stop();

  // TailOutput
  void OnEntry(uint32_t route, uint64_t file_id, uint64_t generation, const LabelSet& labels,
               int64_t timestamp_ns, std::string_view line, int64_t start, int64_t end,
               const CriPieceFields* cri, bool padded) override;
  void OnMark(uint32_t route, uint64_t file_id, uint64_t generation, int64_t offset) override;
  void EndOfChunk() override { FlushPendingMark(); }
  // An AckedSource's entry, built by the source (labels, line, structured metadata): goes down
  // `route`, followed by the mark (file_id, generation, offset). `entry` may be moved from.
  void PushEntry(uint32_t route, ProcessEntry& entry, uint64_t file_id, uint64_t generation,
                 int64_t offset);
  void OnFileForgotten(uint64_t file_id) override {
    FlushPendingMark();
    acks_.Forget(file_id);
  }
  size_t inflight_bytes() const override;
  void SealAll() override;
  bool Backlogged() const override;

  size_t aborted_bytes() const { return aborted_bytes_; }

 private:
  void Commit(uint64_t file_id, uint64_t generation, int64_t offset);
  void OnTimer();
  void Push(uint32_t route, ProcessEntry& e);
  void MarkNow(uint32_t route, uint64_t file_id, uint64_t generation, int64_t offset);
  // Passes on the mark held back for the last entries (if any).
  void FlushPendingMark();

  const Clock* clock_;
  AckTracker acks_;
  std::vector<std::vector<LogsNode*>> routes_;
  std::vector<bool> after_stage_cri_;  // by route
  std::vector<AckedSource*> sources_;
  std::vector<LogsNode*> nodes_;
  std::vector<Batcher*> slots_;
  ProcessEntry scratch_;  // reused for every entry: no allocation once warmed up
  ProcessEntry fanout_;   // a copy for all but the last node of a route
  // The mark of the last entries passed on and not yet pushed (OnEntry holds it back).
  struct PendingMark {
    bool set = false;
    uint32_t route = 0;
    uint64_t file_id = 0;
    uint64_t generation = 0;
    int64_t offset = 0;
  };
  PendingMark pending_mark_;
  size_t inflight_ = 0;
  size_t aborted_bytes_ = 0;
  boost::asio::steady_timer timer_;
  int64_t timer_at_ = INT64_MAX;
  bool stopped_ = false;
};

}  // namespace sluice
