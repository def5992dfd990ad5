// ProcessPipeline: the stages of one loki.process component (or of one stage.match block) run in
// order, and the helper every stage shares (the dropped-lines counter). The stages themselves are
// agent/process/stages/<kind>.cc, built by name through agent/process/stages/registry.h.
//
// An entry enters stage 0; whatever a stage emits goes straight on to the next stage, and what
// the last stage emits goes to the caller's `emit`. Everything is synchronous and allocation-free
// per entry: each hop is a FunctionRef to a lambda on the stack, so the call depth is the number
// of stages (bounded by the configuration). Before stage 0 the entry's labels are copied into
// its extracted map, as Alloy's pipeline does (and does again for a stage.match's nested
// stages), so that stages can read labels ("filename", "namespace") as sources.
//
// Stages that hold entries (multiline, cri partial lines, limit without drop) are driven from
// the owner's loop through Tick() at NextDeadline(), and emptied by Flush() at shutdown or
// reload. A stage that is Backlogged() (limit without drop, waiting for tokens) stops the
// owner's input (Backlogged() of the pipeline is true) and also stops the Tick() of the stages
// before it, whose releases would only queue behind it; so what a backlogged stage holds grows
// by at most what one input entry can produce after the owner saw Backlogged().
//
// The one stage runner: a loki.process node (agent/runtime/process_node.h) runs its stages
// through it too. Runs on the thread of its owner (the tail thread, for loki.process); not
// thread-safe. Owned by the loki.process node, or by a stage.match stage for its nested stages. The
// final `emit` must not call back into the same pipeline.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string_view>
#include <vector>

#include "agent/common/metrics.h"
#include "agent/process/stage.h"

namespace sluice {

class ProcessPipeline final : public Stage {
 public:
  // `nested`: the stages of a stage.match, which set the labels over the entry's extracted map
  // instead of starting it anew.
  explicit ProcessPipeline(std::vector<std::unique_ptr<Stage>> stages, bool nested = false);

  // Seeds the extracted map from the labels, then runs the stages; `emit` receives what leaves
  // the last stage (zero, one or several entries).
  void Process(ProcessEntry&& entry, EmitFn emit) override {
    ProcessFrom(0, std::move(entry), emit);
  }
  // The same from stage `first` on (the seeding too, when a stage is left to run): a source
  // whose lines the tailer already parsed as CRI enters a loki.process after its stage.cri.
  void ProcessFrom(size_t first, ProcessEntry&& entry, EmitFn emit);
  // Ticks every stage from the last to the first (what a stage releases runs through the stages
  // after it); stages before a backlogged stage are not ticked.
  void Tick(int64_t now_mono_ns, EmitFn emit) override;
  // Flushes every stage from the first to the last, so that what the first releases is then
  // flushed out of the later ones too.
  void Flush(EmitFn emit) override;
  // Earliest deadline of the stages that Tick() would tick.
  int64_t NextDeadline() const override;
  void ForEachHeld(absl::FunctionRef<void(const ProcessEntry&)> fn) const override;
  // True while any stage is backlogged: the owner should stop calling Process().
  bool Backlogged() const override;
  bool Timed() const override { return timed_; }

  size_t size() const { return stages_.size(); }
  // Whether a stage from `first` on may read one of `keys` from the extracted map (true as well
  // when a stage cannot say which keys it reads).
  bool MayReadExtracted(size_t first, std::initializer_list<std::string_view> keys) const;
  bool empty() const { return stages_.empty(); }

 private:
  void RunFrom(size_t i, ProcessEntry&& entry, EmitFn emit);
  // True when a stage after `i` is backlogged.
  bool BlockedAfter(size_t i) const;
  // NextDeadline() and Backlogged() over every stage.
  int64_t AskStages() const;
  bool AnyBacklogged() const;

  std::vector<std::unique_ptr<Stage>> stages_;
  bool nested_;
  bool timed_ = false;  // a stage is Timed(): only then are deadlines and backlogs asked for
};

// The counter loki_process_dropped_lines_total{component_id, component_path, reason} (Alloy's
// metric: its controller adds component_id and component_path="/" to every component metric;
// component_id is left out when the context has none). Stages look it up once at construction
// and keep the pointer; null when ctx.metrics is null.
Counter* DroppedLinesCounter(const StageContext& ctx, std::string_view reason);

}  // namespace sluice
