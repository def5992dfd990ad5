#include "agent/process/pipeline.h"

#include <cassert>
#include <charconv>
#include <cmath>
#include <utility>

#include "agent/common/strings.h"

namespace sluice {

// ---- ExtractedValue --------------------------------------------------------------------------

bool ExtractedValue::ToString(std::string* out) const {
  switch (kind) {
    case Kind::kString:
      *out = str;
      return true;
    case Kind::kBool:
      *out = boolean ? "true" : "false";
      return true;
    case Kind::kNull:
      return false;
    case Kind::kNumber: {
      // Go's strconv.FormatFloat(v, 'f', -1, 64): the shortest digits that read back as the same
      // double, never in exponent form.
      if (std::isnan(num)) {
        *out = "NaN";
        return true;
      }
      if (std::isinf(num)) {
        *out = num > 0 ? "+Inf" : "-Inf";
        return true;
      }
      char buf[400];  // the longest fixed form of a double is about 330 characters
      auto res = std::to_chars(buf, buf + sizeof(buf), num, std::chars_format::fixed);
      out->assign(buf, res.ptr);
      return true;
    }
  }
  return false;
}

// ---- dropped lines -------------------------------------------------------------------------

Counter* DroppedLinesCounter(const StageContext& ctx, std::string_view reason) {
  if (ctx.metrics == nullptr) return nullptr;
  MetricLabels labels;
  if (!ctx.component_id.empty()) {
    labels = ComponentLabels(ctx.component_id);
  }
  labels.emplace_back("reason", std::string(reason));
  return ctx.metrics->GetCounter("loki_process_dropped_lines_total",
                                 "A count of all log lines dropped as a result of a pipeline stage",
                                 labels);
}

void CountDroppedLine(const StageContext& ctx, std::string_view reason) {
  if (ctx.metrics == nullptr) return;
  if (ctx.drop_counters == nullptr) {
    if (Counter* c = DroppedLinesCounter(ctx, reason)) c->Inc();
    return;
  }
  // Drops can be per line (a drop stage for debug lines): after the first, no registry lock and
  // no label rendering. Stages run on one thread.
  auto& cache = *ctx.drop_counters;
  auto it = cache.find(Av(reason));
  if (it == cache.end()) {
    it = cache.emplace(std::string(reason), DroppedLinesCounter(ctx, reason)).first;
  }
  if (it->second != nullptr) it->second->Inc();
}

// ---- ProcessPipeline -----------------------------------------------------------------------

ProcessPipeline::ProcessPipeline(std::vector<std::unique_ptr<Stage>> stages, bool nested)
    : stages_(std::move(stages)), nested_(nested) {
  for (const auto& s : stages_) timed_ = timed_ || s->Timed();
}

void ProcessPipeline::RunFrom(size_t i, ProcessEntry&& entry, EmitFn emit) {
  if (i == stages_.size()) {
    emit(std::move(entry));
    return;
  }
  stages_[i]->Process(std::move(entry),
                      [this, i, emit](ProcessEntry&& e) { RunFrom(i + 1, std::move(e), emit); });
}

void ProcessPipeline::ProcessFrom(size_t first, ProcessEntry&& entry, EmitFn emit) {
  // Alloy starts every entry's extracted map with its labels, and nothing else: what an earlier
  // loki.process or the previous line left goes. (Entering past the last stage, no stage is left
  // to read the map.)
  if (first < stages_.size()) {
    if (nested_) {
      entry.extracted.SetLabels(entry.labels);
    } else {
      entry.extracted.Reset(entry.labels, &entry.start_extracted);
    }
  }
  // Meant for this loki.process only: never for the one after it.
  entry.start_extracted.Clear();
  RunFrom(std::min(first, stages_.size()), std::move(entry), emit);
}

bool ProcessPipeline::MayReadExtracted(size_t first,
                                       std::initializer_list<std::string_view> keys) const {
  std::vector<std::string> read;
  for (size_t i = first; i < stages_.size(); ++i) {
    if (!stages_[i]->ExtractedKeysRead(&read)) return true;
  }
  for (const std::string& k : read) {
    for (std::string_view want : keys) {
      if (k == want) return true;
    }
  }
  return false;
}

bool ProcessPipeline::BlockedAfter(size_t i) const {
  for (size_t j = i + 1; j < stages_.size(); ++j) {
    if (stages_[j]->Backlogged()) return true;
  }
  return false;
}

void ProcessPipeline::Tick(int64_t now_mono_ns, EmitFn emit) {
  // Last to first: a backlogged stage gets its chance to release before the stages before it
  // are asked whether they may tick.
  for (size_t k = stages_.size(); k > 0; --k) {
    const size_t i = k - 1;
    if (BlockedAfter(i)) continue;
    stages_[i]->Tick(now_mono_ns,
                     [this, i, emit](ProcessEntry&& e) { RunFrom(i + 1, std::move(e), emit); });
  }
}

void ProcessPipeline::Flush(EmitFn emit) {
  for (size_t i = 0; i < stages_.size(); ++i) {
    stages_[i]->Flush([this, i, emit](ProcessEntry&& e) { RunFrom(i + 1, std::move(e), emit); });
  }
}

int64_t ProcessPipeline::NextDeadline() const {
  if (!timed_) {
    // Debug builds (the unit tests) check that a stage with deadlines said it was Timed().
    assert(AskStages() == INT64_MAX);
    return INT64_MAX;
  }
  return AskStages();
}

int64_t ProcessPipeline::AskStages() const {
  int64_t next = INT64_MAX;
  bool blocked = false;  // a stage after the current one is backlogged
  for (size_t k = stages_.size(); k > 0; --k) {
    const Stage& s = *stages_[k - 1];
    if (!blocked) next = std::min(next, s.NextDeadline());
    blocked = blocked || s.Backlogged();
  }
  return next;
}

void ProcessPipeline::ForEachHeld(absl::FunctionRef<void(const ProcessEntry&)> fn) const {
  for (const auto& s : stages_) s->ForEachHeld(fn);
}

bool ProcessPipeline::Backlogged() const {
  if (!timed_) {
    assert(!AnyBacklogged());
    return false;
  }
  return AnyBacklogged();
}

bool ProcessPipeline::AnyBacklogged() const {
  for (const auto& s : stages_) {
    if (s->Backlogged()) return true;
  }
  return false;
}

}  // namespace sluice
