// ProcessNode: loki.process as a node of the graph: its stages in order, then its forward_to.
//
// Entries run through the stages synchronously; what a stage emits goes to the next stage, what
// the last emits goes to every receiver in forward_to. Stages that hold entries (multiline, cri
// partial lines) make the node hold back the marks of those entries' files: a mark is passed on
// capped at the start of the earliest held line of its file, and passed on whole once the held
// lines are released (Tick/Flush). EntryFrom(i) is a view of the node that starts at stage i:
// a source whose lines the TailManager already parses as CRI skips the node's leading
// stage.cri.
//
// The stages run through a ProcessPipeline, the one stage runner (stage.match's nested stages use
// it too). Tail thread only. Owned by the loki.process component, with its stages.
#pragma once

#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "agent/process/pipeline.h"
#include "agent/process/stage.h"
#include "agent/runtime/logs_node.h"
#include "agent/runtime/logs_router.h"

namespace sluice {

class ProcessNode final : public LogsNode {
 public:
  ProcessNode(std::vector<std::unique_ptr<Stage>> stages, LogsRouter* router);
  ~ProcessNode() override;

  // Receivers of what the last stage emits (set once the graph is built).
  void SetForward(std::vector<LogsNode*> forward) { forward_ = std::move(forward); }
  // A node that feeds this one from stage `first` on (first = 0 is the node itself).
  LogsNode* EntryFrom(size_t first);
  size_t num_stages() const { return pipeline_.size(); }
  // ProcessPipeline::MayReadExtracted.
  bool MayReadExtracted(size_t first, std::initializer_list<std::string_view> keys) const {
    return pipeline_.MayReadExtracted(first, keys);
  }

  void Push(ProcessEntry& entry) override;
  void PushMark(uint64_t file_id, uint64_t generation, int64_t offset) override;
  void Tick(int64_t now_mono_ns) override;
  int64_t NextDeadline() const override;
  void Flush() override;
  bool Backlogged() const override;

 private:
  class Tail;
  void Forward(ProcessEntry& entry);
  // The lowest start of a held entry of `file_id`, or INT64_MAX.
  int64_t HeldFrom(uint64_t file_id) const;
  void ReleaseMarks();
  // Makes sure the router's timer runs for the stages' next deadline.
  void Schedule();

  // Runs the stages from `first` and forwards what leaves the last one.
  void RunFrom(size_t first, ProcessEntry& entry);

  ProcessPipeline pipeline_;
  LogsRouter* router_;
  std::vector<LogsNode*> forward_;
  std::vector<std::unique_ptr<LogsNode>> views_;
  struct Deferred {
    uint64_t generation;
    int64_t offset;
  };
  absl::flat_hash_map<uint64_t, Deferred> deferred_;  // marks held back, by file
  ProcessEntry fanout_;
};

}  // namespace sluice
