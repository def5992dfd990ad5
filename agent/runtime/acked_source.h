// AckedSource: a source whose progress is committed only once Loki acknowledged it.
//
// loki.source.file's TailManager is one; so is any source that keeps a place of its own (the
// journal's cursor, the last event's time). Such a source registers with the LogsRouter
// (AddSource gives its index; its stream ids are index << LogsRouter::kSourceShift plus a number
// of its own), sends each entry with PushEntry and a monotonic offset of its own choosing, and
// gets Commit() with the highest offset every batcher that held its entries has acknowledged.
// A source that has nothing to keep across restarts (a listener) need not be one.
//
// Tail thread only. Owned by its component; the LogsRouter only points to it while the graph runs.
#pragma once

#include <cstdint>

namespace sluice {

class AckedSource {
 public:
  virtual ~AckedSource() = default;
  // Everything of stream `file_id` (this source's) up to `offset` is acknowledged downstream.
  virtual void Commit(uint64_t file_id, uint64_t generation, int64_t offset) = 0;
  // Acknowledgements brought the in-flight bytes down (or a stage let go): resume if paused.
  virtual void OnOutputProgress() {}
};

}  // namespace sluice
