// LogsNode: a component that receives log entries in the running graph (loki.process,
// loki.relabel, loki.write, loki.echo): what a loki.LogsReceiver capsule stands for.
//
// Entries and marks travel synchronously on the tail thread, from the sources (TailManager
// through the LogsRouter) down the forward_to edges. A mark (file, generation, offset) says that
// everything of that file before `offset` has been pushed; it follows the entries so that each
// batcher can record how far a file may commit once its batch is acknowledged. Nodes that hold
// entries back (multiline) hold the marks of those files back too. Owned by the Runtime.
#pragma once

#include <cstdint>
#include <vector>

#include "agent/process/stage.h"

namespace sluice {

class LogsNode {
 public:
  virtual ~LogsNode() = default;
  // Takes the entry; the node may change it or move from it (the caller reuses the object).
  virtual void Push(ProcessEntry& entry) = 0;
  virtual void PushMark(uint64_t file_id, uint64_t generation, int64_t offset) = 0;
  // Timers: releases what waited long enough (held entries, old batches).
  virtual void Tick(int64_t now_mono_ns) { (void)now_mono_ns; }
  // Monotonic time of the next Tick() with work, or INT64_MAX.
  virtual int64_t NextDeadline() const { return INT64_MAX; }
  // Shutdown: releases held entries and seals open batches.
  virtual void Flush() {}
  // True while the node wants its sources to stop reading (limit stage without drop).
  virtual bool Backlogged() const { return false; }
};

// Hands `entry` to every node of a forward_to list, in order: a copy to all but the last (made
// in `*scratch`, whose buffers copy-assignment reuses), the entry itself to the last (which may
// move from it). Tail thread.
inline void PushToAll(const std::vector<LogsNode*>& nodes, ProcessEntry& entry,
                      ProcessEntry* scratch) {
  for (size_t i = 0; i + 1 < nodes.size(); ++i) {
    *scratch = entry;
    nodes[i]->Push(*scratch);
  }
  if (!nodes.empty()) nodes.back()->Push(entry);
}

}  // namespace sluice
