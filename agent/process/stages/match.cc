// stage.match: entries whose labels and line match a LogQL selector run through nested stages
// (or are dropped), as Alloy's match stage.
//
// Owned by its pipeline (agent/process/pipeline.h: a loki.process component's, or the nested one
// of a stage.match) and run on that pipeline's thread, the tail thread (see stage.h).
#include "agent/process/stages/registry.h"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "agent/process/logql.h"
#include "agent/process/pipeline.h"
#include "agent/process/stage.h"
#include "agent/process/stages/stage_util.h"

namespace sluice {
namespace {

using stage_util::StageErrors;

class MatchStage final : public Stage {
 public:
  MatchStage(LogqlSelector selector, std::unique_ptr<ProcessPipeline> nested, Counter* dropped)
      : selector_(std::move(selector)), nested_(std::move(nested)), dropped_(dropped) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    if (!selector_.Matches(e.labels, e.line)) {
      emit(std::move(e));
      return;
    }
    if (nested_ == nullptr) {  // action = "drop"
      if (dropped_ != nullptr) dropped_->Inc();
      return;
    }
    nested_->Process(std::move(e), emit);
  }
  void Tick(int64_t now_mono_ns, EmitFn emit) override {
    if (nested_ != nullptr) nested_->Tick(now_mono_ns, emit);
  }
  void Flush(EmitFn emit) override {
    if (nested_ != nullptr) nested_->Flush(emit);
  }
  int64_t NextDeadline() const override {
    return nested_ != nullptr ? nested_->NextDeadline() : INT64_MAX;
  }
  void ForEachHeld(absl::FunctionRef<void(const ProcessEntry&)> fn) const override {
    if (nested_ != nullptr) nested_->ForEachHeld(fn);
  }
  bool Backlogged() const override { return nested_ != nullptr && nested_->Backlogged(); }
  bool Timed() const override { return nested_ != nullptr && nested_->Timed(); }

 private:
  LogqlSelector selector_;
  std::unique_ptr<ProcessPipeline> nested_;  // null for action = "drop"
  Counter* dropped_;
};

}  // namespace

std::unique_ptr<Stage> NewMatchStage(config::Decoder& d, const StageContext& ctx) {
  StageErrors errs(d);
  std::string selector, action, pipeline_name, reason;
  d.String("selector", &selector, config::Required::kYes);
  d.String("action", &action);
  d.String("pipeline_name", &pipeline_name);  // a name for logs in Alloy; nothing to do here
  d.String("drop_counter_reason", &reason);
  const std::vector<const config::Block*> blocks = d.BlocksWithPrefix("stage.");
  if (!errs.Finish()) return nullptr;

  if (selector.empty()) {
    d.ErrorAt("selector", "selector statement required for match stage");
    return nullptr;
  }
  if (action.empty()) action = "keep";
  if (action != "keep" && action != "drop") {
    d.ErrorAt("action", "match stage action should be 'keep' or 'drop'");
    return nullptr;
  }
  if (action == "keep" && blocks.empty()) {
    d.Error(d.block().span,
            "match stage requires at least one additional stage to be defined in '- stages'");
    return nullptr;
  }
  if (action == "drop" && !blocks.empty()) {
    d.Error(blocks[0]->span, "match stage configured to drop entries cannot contains stages");
    return nullptr;
  }
  absl::StatusOr<LogqlSelector> sel = LogqlSelector::Parse(selector);
  if (!sel.ok()) {
    d.ErrorAt("selector",
              absl::StrCat("invalid selector syntax for match stage: ", sel.status().message()));
    return nullptr;
  }
  std::unique_ptr<ProcessPipeline> nested;
  if (action == "keep") {
    std::vector<std::unique_ptr<Stage>> stages = BuildStages(blocks, d.diags(), ctx);
    if (!errs.clean()) return nullptr;  // the nested stages reported at their own positions
    nested = std::make_unique<ProcessPipeline>(std::move(stages), /*nested=*/true);
  }
  if (absl::Status st = sel->CompileFilters(); !st.ok()) {
    d.ErrorAt("selector", absl::StrCat("error parsing pipeline: ", st.message()));
    return nullptr;
  }
  if (reason.empty()) reason = "match_stage";
  return std::make_unique<MatchStage>(*std::move(sel), std::move(nested),
                                      DroppedLinesCounter(ctx, reason));
}

}  // namespace sluice
