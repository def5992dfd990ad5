// OpenFileBudget: keeps the descriptors a TailManager holds open within max_open_files. Files go
// idle (read to their end, not draining) in order; past the limit the ones idle longest are
// "parked": closed, with their write watch kept, and reopened for their next turn. A file that
// finds no descriptor free waits in waiting_open until reading the others lets some go idle.
//
// Owned by a TailManager and used on the tail thread only; it counts descriptors and parks
// files, the TailManager opens and closes them and tells it (Opened/Closed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>

#include "agent/common/metrics.h"
#include "agent/source/file_registry.h"

namespace sluice {

class OpenFileBudget {
 public:
  // `max_open_files`: 0 = the process's RLIMIT_NOFILE less a reserve.
  OpenFileBudget(size_t max_open_files, const FileRegistry* files, MetricsRegistry* metrics);

  size_t open() const { return open_; }
  size_t max() const { return max_; }
  void Opened() { ++open_; }
  void Closed() { --open_; }

  // An open file that is not queued, draining or closed could be parked: note when it went idle.
  void NoteIdle(TailFile* f);
  // Parks the files that went idle longest ago until at most `target` are open (fewer idle
  // files: as many as there are). True if it parked any.
  bool EvictIdle(size_t target);

  // Ready, but no descriptor free for it yet.
  void Wait(uint64_t id) { waiting_.push_back(id); }
  bool has_waiting() const { return !waiting_.empty(); }
  // Moves the waiting files to the back of `ready` (their next turn).
  void ReleaseWaiting(std::deque<uint64_t>* ready);

 private:
  const FileRegistry* files_;
  size_t open_ = 0;
  size_t max_ = 0;
  // Open files in the order they went idle, oldest first, as (id, TailFile::idle_seq): what
  // EvictIdle parks, at O(1) a file. Entries of files read, closed or parked since are stale
  // and skipped (a file goes in again when it next goes idle).
  std::deque<std::pair<uint64_t, uint64_t>> idle_;
  std::deque<uint64_t> waiting_;
  Counter* evictions_;
};

}  // namespace sluice
