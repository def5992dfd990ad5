// loki.process stages: the entry they work on and the interface every stage implements.
//
// A loki.process component runs its stages in order on the tail thread (single-threaded, no
// locks). Each stage takes an entry and passes on zero (dropped, or buffered), one or several
// entries through `emit`, synchronously. Stages that buffer (multiline, cri partial lines, limit
// without drop) release entries later from Tick() or Flush(), and expose what they hold through
// ForEachHeld() so that the file positions of held lines are not committed before the lines are
// sent. Owned by the loki.process component (agent/process/pipeline.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "agent/common/clock.h"
#include "agent/common/metrics.h"
#include "agent/config/decode.h"
#include "agent/pipeline/labels.h"
#include "agent/process/entry_line.h"
#include "agent/process/extracted_map.h"

namespace sluice {

// Where an entry's line came from, so that positions commit only what was sent.
struct SourcePos {
  uint64_t file_id = 0;  // 0: not from a file (tests, other sources)
  uint64_t generation = 0;
  int64_t start = 0;  // file offset of the first byte of the entry's first raw line
  int64_t end = 0;    // file offset just past its last raw line
};

struct ProcessEntry {
  LabelSet labels;  // may hold "__"-prefixed labels (e.g. __tenant_id__), never sent
  // Seeded with the labels by the pipeline before its first stage (ExtractedMap::Reset).
  ExtractedMap extracted;
  // Values the next loki.process starts its extracted map with besides the labels: what its
  // stage.cri would have extracted, for a file source that parsed the CRI line in its place.
  // Taken (emptied) by the pipeline.
  LabelSet start_extracted;
  int64_t timestamp_ns = 0;
  // Borrowed from the source during a push when it can lend it (agent/process/entry_line.h).
  EntryLine line;
  std::vector<std::pair<std::string, std::string>> structured_metadata;
  SourcePos source;
};

using EmitFn = absl::FunctionRef<void(ProcessEntry&&)>;

// What every stage gets at construction.
struct StageContext {
  const Clock* clock = nullptr;
  MetricsRegistry* metrics = nullptr;
  std::string component_id;  // "loki.process.default", a label of the component's metrics
  // `sluice validate`: a stage that would read a file of the node (stage.geoip's database) checks
  // its arguments only, as `alloy validate` type-checks without building components.
  bool validate_only = false;
  // loki_process_dropped_lines_total counters by reason, shared by the copies of a context (the
  // component's stages): a drop costs no registry lookup after the first of its reason.
  std::shared_ptr<absl::flat_hash_map<std::string, Counter*>> drop_counters =
      std::make_shared<absl::flat_hash_map<std::string, Counter*>>();
};

class Stage {
 public:
  virtual ~Stage() = default;
  // Processes `entry`; calls `emit` for each entry to pass on (none when dropped or held).
  virtual void Process(ProcessEntry&& entry, EmitFn emit) = 0;
  // Releases buffered entries whose wait is over (`now_mono_ns`: Clock::MonotonicNanos()).
  virtual void Tick(int64_t now_mono_ns, EmitFn emit) {
    (void)now_mono_ns;
    (void)emit;
  }
  // Releases everything buffered (shutdown, reload).
  virtual void Flush(EmitFn emit) { (void)emit; }
  // Monotonic time at which Tick() next has work, or INT64_MAX.
  virtual int64_t NextDeadline() const { return INT64_MAX; }
  // True for a stage whose NextDeadline() or Backlogged() can ever differ from the defaults
  // (multiline, limit, a match over such stages): a stage that overrides either must say so. A
  // pipeline of stages that are not timed is never asked for them, which saves a virtual call per
  // stage per line (the owner asks after every entry).
  virtual bool Timed() const { return false; }
  // Calls `fn` for each entry the stage holds.
  virtual void ForEachHeld(absl::FunctionRef<void(const ProcessEntry&)> fn) const { (void)fn; }
  // True while the stage wants its input to stop (limit with drop = false).
  virtual bool Backlogged() const { return false; }
  // The extracted-map keys the stage can ever read, appended to *keys; false when it may read
  // any key (the default: templates, match, metrics...). A file source leaves out the values of
  // a fused stage.cri (content, flags, time) that no stage after it reads: copying the line
  // into the map for every entry was ~2% of the DaemonSet pipeline's CPU.
  virtual bool ExtractedKeysRead(std::vector<std::string>* keys) const {
    (void)keys;
    return false;
  }
};

// Counts a dropped line in loki_process_dropped_lines_total{component_id, component_path, reason}
// (Alloy's metric; the reason is the stage's drop_counter_reason or Alloy's fixed reason).
void CountDroppedLine(const StageContext& ctx, std::string_view reason);

// Builds the stages of `blocks` (each named "stage.<kind>"), in order, with the factories of
// agent/process/stages/registry.h; a kind sluice does not implement is an error naming it
// (agent/process/stages/registry.cc). Returns an empty vector and leaves diagnostics in `diags`
// on error.
std::vector<std::unique_ptr<Stage>> BuildStages(const std::vector<const config::Block*>& blocks,
                                                config::Diags* diags, const StageContext& ctx);

}  // namespace sluice
