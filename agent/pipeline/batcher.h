// Batcher: accumulates entries into the open Batch and seals it when full.
//
// Follows Alloy's loki.write batching: one batch spans all streams; it is sealed when adding an
// entry would push its line bytes past batch_size (the entry then starts the next batch, and a
// single oversized entry makes a batch of its own), or when batch_wait has passed since its first
// entry (the owner calls SealIfOlderThan from a timer). Runs on the tail thread; owned by the
// TailManager. Sealed batches go to the `sink` callback; empty batches come back via Recycle().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "agent/common/clock.h"
#include "agent/pipeline/batch.h"

namespace sluice {

class Batcher {
 public:
  using SealFn = std::function<void(std::unique_ptr<Batch>)>;

  Batcher(size_t batch_size, const Clock* clock, SealFn seal);

  // Registers a stream; the returned id is dense (reuse after ReleaseStream).
  uint32_t AddStream(std::shared_ptr<const StreamInfo> info);
  void ReleaseStream(uint32_t stream_id);

  // Appends one entry. `mark_*` tells how far the entry's file may commit once this batch is
  // acknowledged. Never allocates once buffers have grown to their working size.
  void Add(uint32_t stream_id, int64_t timestamp_ns, std::string_view line, uint64_t file_id,
           uint64_t generation, int64_t mark_offset);
  // The same with structured metadata, `metadata` encoded by AppendMetadataPair (push_encoder.h).
  // The metadata's bytes count towards batch_size, as Loki counts them in an entry's size.
  void Add(uint32_t stream_id, int64_t timestamp_ns, std::string_view line,
           std::string_view metadata, uint64_t file_id, uint64_t generation, int64_t mark_offset);
  // Records a file mark without an entry (bytes consumed that produced no entry: empty lines
  // skipped, partial pieces, a truncation's discarded tail).
  void Mark(uint64_t file_id, uint64_t generation, int64_t mark_offset);

  // Seals the open batch if it has anything in it.
  void Seal();
  // Seals the open batch if its first entry is older than `max_age_ns` (batch_wait).
  void SealIfOlderThan(int64_t max_age_ns);

  // Gives back a batch after its outcome was applied, for reuse.
  void Recycle(std::unique_ptr<Batch> batch);

  size_t open_bytes() const { return open_ ? open_->line_bytes : 0; }
  // How long ago the open batch was started; 0 without one.
  int64_t open_age_ns() const {
    return open_ ? clock_->MonotonicNanos() - open_->created_mono_ns : 0;
  }
  bool has_open() const { return open_ && !open_->empty(); }
  // Whether an entry of `bytes` for `stream_id` may go in under a limit of `max_streams` streams
  // per batch (loki.write's max_streams, which Alloy applies to each batch it builds): a stream
  // already in the open batch may; a new one while the batch holds fewer; and any entry that
  // starts a new batch (none open, or this one would overflow batch_size). 0: no limit.
  bool Admits(uint32_t stream_id, size_t bytes, size_t max_streams) const;

 private:
  void EnsureOpen();
  void AddMark(uint64_t file_id, uint64_t generation, int64_t mark_offset);

  const size_t batch_size_;
  const Clock* clock_;
  SealFn seal_;
  uint64_t next_seq_ = 1;
  std::unique_ptr<Batch> open_;
  std::vector<std::unique_ptr<Batch>> pool_;

  std::vector<std::shared_ptr<const StreamInfo>> streams_;  // by stream id
  std::vector<uint32_t> free_ids_;
  // stream id -> index in open_->streams, or -1. Reset for the used ids at seal.
  std::vector<int32_t> slot_;
  std::vector<uint32_t> used_ids_;
};

}  // namespace sluice
