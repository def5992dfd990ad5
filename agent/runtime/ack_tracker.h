// AckTracker: turns per-batcher acknowledgements into file commits.
//
// Several batchers ("slots": one per loki.write endpoint and tenant, one per loki.echo) may each
// hold entries of one file. Every mark of a file goes to every slot its route reaches; a file may
// commit an offset only once every slot that was handed a mark at or below it has acknowledged
// it. For each (file, slot) the tracker keeps the highest mark handed and the highest
// acknowledged; the file's committed offset is the lowest acknowledged among slots still owing
// something, or the highest mark when none owes. Tail thread only; owned by the LogsRouter.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace sluice {

class AckTracker {
 public:
  // Called when a file's committable offset advances.
  using CommitFn = std::function<void(uint64_t file_id, uint64_t generation, int64_t offset)>;
  explicit AckTracker(CommitFn commit) : commit_(std::move(commit)) {}

  void Handed(uint32_t slot, uint64_t file_id, uint64_t generation, int64_t offset);
  void Acked(uint32_t slot, uint64_t file_id, uint64_t generation, int64_t offset);
  // A mark that reached no slot (routes to nothing, or every entry was dropped before a slot):
  // commits at once unless a slot still owes an earlier one.
  void Unrouted(uint64_t file_id, uint64_t generation, int64_t offset);
  void Forget(uint64_t file_id) { files_.erase(file_id); }
  size_t tracked_files() const { return files_.size(); }

 private:
  struct SlotState {
    int64_t handed = -1;
    int64_t acked = -1;
  };
  struct FileState {
    uint64_t generation = 0;
    int64_t highest = -1;    // highest mark seen
    int64_t committed = -1;  // last offset passed to commit_
    std::vector<SlotState> slots;
  };
  FileState& State(uint64_t file_id, uint64_t generation);
  void Update(uint64_t file_id, FileState& st);

  CommitFn commit_;
  absl::flat_hash_map<uint64_t, FileState> files_;
};

}  // namespace sluice
