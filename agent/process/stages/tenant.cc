// stage.tenant: the entry's tenant (the internal __tenant_id__ label) from a label, an
// extracted value or a fixed value, as Alloy's tenant stage.
//
// Owned by its pipeline (agent/process/pipeline.h: a loki.process component's, or the nested one
// of a stage.match) and run on that pipeline's thread, the tail thread (see stage.h).
#include "agent/process/stages/registry.h"

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "agent/process/stage.h"
#include "agent/process/stages/stage_util.h"

namespace sluice {
namespace {

using stage_util::FindExtracted;
using stage_util::StageErrors;

constexpr std::string_view kTenantLabel = "__tenant_id__";

class TenantStage final : public Stage {
 public:
  TenantStage(std::string label, std::string source, std::string value)
      : label_(std::move(label)), source_(std::move(source)), value_(std::move(value)) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    std::string_view tenant;
    if (!source_.empty()) {
      const ExtractedValue* v = FindExtracted(e, source_);
      if (v != nullptr && v->ToString(&scratch_)) tenant = scratch_;
    } else if (!label_.empty()) {
      LabelValue v = e.labels.Get(label_);
      if (v.has_value()) {
        scratch_ = *v;
        tenant = scratch_;
      }
    } else {
      tenant = value_;
    }
    if (!tenant.empty()) e.labels.Set(kTenantLabel, tenant);
    emit(std::move(e));
  }

 private:
  const std::string label_;
  const std::string source_;
  const std::string value_;
  std::string scratch_;
};

}  // namespace

std::unique_ptr<Stage> NewTenantStage(config::Decoder& d, const StageContext& ctx) {
  (void)ctx;
  StageErrors errs(d);
  std::string label, source, value;
  d.String("label", &label);
  d.String("source", &source);
  d.String("value", &value);
  const int set = !label.empty() + !source.empty() + !value.empty();
  if (set == 0) {
    errs.Block("label, source or value config are required");
  } else if (set > 1) {
    errs.Block(
        "label, source and value are mutually exclusive: you should set source, value or label "
        "but not all");
  }
  if (!errs.Finish()) return nullptr;
  return std::make_unique<TenantStage>(std::move(label), std::move(source), std::move(value));
}

}  // namespace sluice
