// stage.static_labels: fixed labels set on every entry, as Alloy's static_labels stage.
//
// Owned by its pipeline (agent/process/pipeline.h: a loki.process component's, or the nested one
// of a stage.match) and run on that pipeline's thread, the tail thread (see stage.h).
#include "agent/process/stages/registry.h"

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/process/stage.h"
#include "agent/process/stages/stage_util.h"

namespace sluice {
namespace {

using stage_util::StageErrors;
using stage_util::ValidLabelName;
using stage_util::ValidLabelValue;

class StaticLabelsStage final : public Stage {
 public:
  explicit StaticLabelsStage(std::vector<std::pair<std::string, std::string>> values)
      : values_(std::move(values)) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    if (!memo_.Apply(&e.labels)) {
      *memo_.NextInput() = e.labels;
      for (const auto& [name, value] : values_) e.labels.Set(name, value);
      memo_.Remember(&e.labels);
    }
    emit(std::move(e));
  }
  bool ExtractedKeysRead(std::vector<std::string>*) const override { return true; }  // none

 private:
  const std::vector<std::pair<std::string, std::string>> values_;
  stage_util::LabelMemo memo_;
};

}  // namespace

std::unique_ptr<Stage> NewStaticLabelsStage(config::Decoder& d, const StageContext& ctx) {
  (void)ctx;
  StageErrors errs(d);
  std::map<std::string, std::string> values;
  std::vector<std::pair<std::string, std::string>> set;
  if (d.StringMap("values", &values, config::Required::kYes)) {
    for (const auto& [name, value] : values) {
      if (!ValidLabelName(name)) {
        errs.At("values", absl::StrCat("invalid label name: ", name));
        continue;
      }
      // A null or empty value sets nothing.
      if (value.empty()) continue;
      if (!ValidLabelValue(value)) {
        errs.At("values", absl::StrCat("invalid label value: ", value));
        continue;
      }
      set.emplace_back(name, value);
    }
  }
  if (!errs.Finish()) return nullptr;
  return std::make_unique<StaticLabelsStage>(std::move(set));
}

}  // namespace sluice
