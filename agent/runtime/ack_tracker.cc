#include "agent/runtime/ack_tracker.h"

#include <algorithm>

namespace sluice {

AckTracker::FileState& AckTracker::State(uint64_t file_id, uint64_t generation) {
  FileState& st = files_[file_id];
  if (st.generation != generation) {
    // Truncated and read again from zero: marks of the old generation mean nothing now.
    st = FileState{};
    st.generation = generation;
  }
  return st;
}

void AckTracker::Handed(uint32_t slot, uint64_t file_id, uint64_t generation, int64_t offset) {
  FileState& st = State(file_id, generation);
  if (st.slots.size() <= slot) st.slots.resize(slot + 1);
  SlotState& s = st.slots[slot];
  s.handed = std::max(s.handed, offset);
  st.highest = std::max(st.highest, offset);
}

void AckTracker::Acked(uint32_t slot, uint64_t file_id, uint64_t generation, int64_t offset) {
  auto it = files_.find(file_id);
  if (it == files_.end() || it->second.generation != generation) return;
  FileState& st = it->second;
  if (st.slots.size() <= slot) return;
  SlotState& s = st.slots[slot];
  s.acked = std::max(s.acked, offset);
  Update(file_id, st);
}

void AckTracker::Unrouted(uint64_t file_id, uint64_t generation, int64_t offset) {
  FileState& st = State(file_id, generation);
  st.highest = std::max(st.highest, offset);
  Update(file_id, st);
}

void AckTracker::Update(uint64_t file_id, FileState& st) {
  int64_t commit = st.highest;
  for (const SlotState& s : st.slots) {
    if (s.handed > s.acked) commit = std::min(commit, s.acked);
  }
  if (commit > st.committed) {
    st.committed = commit;
    commit_(file_id, st.generation, commit);
  }
}

}  // namespace sluice
