// Batch: the unit that travels from the tail thread to the sender and back.
//
// One batch holds entries of many streams, all line bytes in one arena (so adding an entry is a
// memcpy, never an allocation once the arena has grown), plus the file marks that say how far
// each file may commit its position once Loki has taken the batch. Built by the Batcher on the
// tail thread, handed to the sender thread by unique_ptr (one owner at a time), handed back with
// the outcome, then cleared and reused.
//
// The sender's encoder thread has the sink encode it (for Loki: the snappy-compressed
// PushRequest) as soon as it is queued, so that encoding overlaps the reading and parsing of the
// next batch on the tail thread and the HTTP round trip of the previous one, and releases its
// arena: batches waiting for the send thread hold only their compressed bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sluice {

// Immutable description of a stream, shared by the tail thread and sinks.
struct StreamInfo {
  std::string loki_labels;  // `{a="x", b="y"}`
  std::string json_labels;  // `{"a":"x","b":"y"}` (echo sink)
};

struct BatchEntry {
  int64_t timestamp_ns;
  uint32_t offset;  // into Batch::arena
  uint32_t size;
  // Structured metadata, right after the line in the arena, already in its protobuf form: a
  // run of EntryAdapter field 3 (LabelPairAdapter) records (see push_encoder.h).
  uint32_t meta_size = 0;
};

struct BatchStream {
  std::shared_ptr<const StreamInfo> info;
  std::vector<BatchEntry> entries;  // read order, which is timestamp order for one file
};

// After the batch is acknowledged (or dropped and counted), file `file_id` of generation
// `generation` may commit `offset`: every entry of that file before offset is in this batch or an
// earlier one.
struct FileMark {
  uint64_t file_id;
  uint64_t generation;
  int64_t offset;
};

struct Batch {
  uint64_t seq = 0;
  uint32_t slot = 0;  // which batcher it came from, when several feed senders (sluice run)
  std::string tenant;
  std::vector<BatchStream> streams;
  size_t num_streams = 0;  // streams[0..num_streams) are in use; the rest keep their capacity
  std::string arena;
  std::vector<FileMark> marks;
  size_t line_bytes = 0;  // sum of entry sizes (what batch_size and the memory budget count)
  size_t entries = 0;
  int64_t created_mono_ns = 0;
  // Set by Sink::Encode (the sender's encoder thread): the bytes to send. The arena is released
  // then: a batch waiting for its turn holds its compressed form only.
  bool encoded = false;
  std::string payload;

  std::string_view Line(const BatchEntry& e) const {
    return std::string_view(arena.data() + e.offset, e.size);
  }
  std::string_view Metadata(const BatchEntry& e) const {
    return std::string_view(arena.data() + e.offset + e.size, e.meta_size);
  }
  bool empty() const { return entries == 0 && marks.empty(); }
  // Forgets the content, keeps the capacity.
  void Clear() {
    for (size_t i = 0; i < num_streams; ++i) {
      streams[i].info.reset();
      streams[i].entries.clear();
    }
    num_streams = 0;
    arena.clear();
    marks.clear();
    line_bytes = 0;
    entries = 0;
    tenant.clear();
    seq = 0;
    created_mono_ns = 0;
    encoded = false;
    std::string().swap(payload);  // one batch's compressed bytes: not worth keeping
  }
};

// What became of a batch.
enum class BatchOutcome {
  kDelivered,  // Loki answered 2xx
  kDropped,    // dropped and counted (4xx, retries exhausted)
  kAborted,    // not delivered because the agent is shutting down: do not commit
};

}  // namespace sluice
