#include "agent/pipeline/batcher.h"

#include <utility>

namespace sluice {

Batcher::Batcher(size_t batch_size, const Clock* clock, SealFn seal)
    : batch_size_(batch_size), clock_(clock), seal_(std::move(seal)) {}

uint32_t Batcher::AddStream(std::shared_ptr<const StreamInfo> info) {
  uint32_t id;
  if (!free_ids_.empty()) {
    id = free_ids_.back();
    free_ids_.pop_back();
    streams_[id] = std::move(info);
  } else {
    id = static_cast<uint32_t>(streams_.size());
    streams_.push_back(std::move(info));
    slot_.push_back(-1);
  }
  return id;
}

void Batcher::ReleaseStream(uint32_t stream_id) {
  // The open batch keeps its own reference to the StreamInfo, so releasing is safe at any time;
  // the id is only reused for a new stream after the open batch no longer maps it.
  if (slot_[stream_id] >= 0) Seal();
  streams_[stream_id].reset();
  free_ids_.push_back(stream_id);
}

bool Batcher::Admits(uint32_t stream_id, size_t bytes, size_t max_streams) const {
  if (max_streams == 0 || !open_ || open_->entries == 0) return true;
  if (open_->line_bytes + bytes > batch_size_) return true;  // it starts the next batch
  if (slot_[stream_id] >= 0) return true;
  return open_->num_streams < max_streams;
}

void Batcher::EnsureOpen() {
  if (open_) return;
  if (!pool_.empty()) {
    open_ = std::move(pool_.back());
    pool_.pop_back();
  } else {
    open_ = std::make_unique<Batch>();
  }
  if (open_->arena.capacity() < batch_size_) {
    // Sized once: the arena never holds more than batch_size (an entry that would overflow it
    // starts the next batch), so it never reallocates, and never doubles past what is counted.
    open_->arena.reserve(batch_size_);
  }
  open_->seq = next_seq_++;
  open_->created_mono_ns = clock_->MonotonicNanos();
}

void Batcher::AddMark(uint64_t file_id, uint64_t generation, int64_t mark_offset) {
  // Lines come in runs from one file, so the last mark is almost always the one to update.
  if (!open_->marks.empty()) {
    FileMark& last = open_->marks.back();
    if (last.file_id == file_id && last.generation == generation) {
      if (mark_offset > last.offset) last.offset = mark_offset;
      return;
    }
  }
  open_->marks.push_back(FileMark{file_id, generation, mark_offset});
}

void Batcher::Add(uint32_t stream_id, int64_t timestamp_ns, std::string_view line, uint64_t file_id,
                  uint64_t generation, int64_t mark_offset) {
  Add(stream_id, timestamp_ns, line, std::string_view(), file_id, generation, mark_offset);
}

void Batcher::Add(uint32_t stream_id, int64_t timestamp_ns, std::string_view line,
                  std::string_view metadata, uint64_t file_id, uint64_t generation,
                  int64_t mark_offset) {
  size_t bytes = line.size() + metadata.size();
  if (open_ && open_->entries > 0 && open_->line_bytes + bytes > batch_size_) Seal();
  EnsureOpen();
  Batch& b = *open_;
  int32_t slot = slot_[stream_id];
  if (slot < 0) {
    slot = static_cast<int32_t>(b.num_streams);
    if (b.num_streams == b.streams.size()) b.streams.emplace_back();
    b.streams[b.num_streams].info = streams_[stream_id];
    ++b.num_streams;
    slot_[stream_id] = slot;
    used_ids_.push_back(stream_id);
  }
  uint32_t offset = static_cast<uint32_t>(b.arena.size());
  b.arena.append(line);
  b.arena.append(metadata);
  b.streams[slot].entries.push_back(BatchEntry{timestamp_ns, offset,
                                               static_cast<uint32_t>(line.size()),
                                               static_cast<uint32_t>(metadata.size())});
  b.line_bytes += bytes;
  ++b.entries;
  if (file_id != 0) AddMark(file_id, generation, mark_offset);  // 0: marks come separately
  if (b.line_bytes >= batch_size_) Seal();
}

void Batcher::Mark(uint64_t file_id, uint64_t generation, int64_t mark_offset) {
  EnsureOpen();
  AddMark(file_id, generation, mark_offset);
}

void Batcher::Seal() {
  if (!open_ || open_->empty()) return;
  for (uint32_t id : used_ids_) slot_[id] = -1;
  used_ids_.clear();
  seal_(std::move(open_));
  open_.reset();
}

void Batcher::SealIfOlderThan(int64_t max_age_ns) {
  if (!open_ || open_->empty()) return;
  if (clock_->MonotonicNanos() - open_->created_mono_ns >= max_age_ns) Seal();
}

void Batcher::Recycle(std::unique_ptr<Batch> batch) {
  batch->Clear();
  // Keep batches for reuse: the number alive is bounded by the memory budget anyway, and
  // reusing their arenas saves a fresh mmap and its page faults per batch during a catch-up. A
  // batch that grew past batch_size (one huge line) is let go.
  if (pool_.size() < 16 && batch->arena.capacity() <= batch_size_) {
    pool_.push_back(std::move(batch));
  }
}

}  // namespace sluice
