// stage.label_keep: every label but the named ones removed, as Alloy's label_keep stage.
//
// Owned by its pipeline (agent/process/pipeline.h: a loki.process component's, or the nested one
// of a stage.match) and run on that pipeline's thread, the tail thread (see stage.h).
#include "agent/process/stages/registry.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/process/stage.h"
#include "agent/process/stages/stage_util.h"

namespace sluice {
namespace {

using stage_util::DecodeNameList;
using stage_util::StageErrors;

class LabelKeepStage final : public Stage {
 public:
  explicit LabelKeepStage(std::vector<std::string> names) : names_(std::move(names)) {
    std::sort(names_.begin(), names_.end());
  }

  void Process(ProcessEntry&& e, EmitFn emit) override {
    bool drop = false;
    for (const auto& [name, value] : e.labels.labels()) {
      if (!std::binary_search(names_.begin(), names_.end(), name)) {
        drop = true;
        break;
      }
    }
    if (drop) {
      LabelSet kept;
      for (const auto& [name, value] : e.labels.labels()) {
        if (std::binary_search(names_.begin(), names_.end(), name)) kept.Set(name, value);
      }
      e.labels = std::move(kept);
    }
    emit(std::move(e));
  }
  bool ExtractedKeysRead(std::vector<std::string>*) const override { return true; }  // labels only

 private:
  std::vector<std::string> names_;
};

}  // namespace

std::unique_ptr<Stage> NewLabelKeepStage(config::Decoder& d, const StageContext& ctx) {
  (void)ctx;
  StageErrors errs(d);
  std::vector<std::string> names;
  DecodeNameList(d, errs, "labelallow stage config cannot be empty", &names);
  if (!errs.Finish()) return nullptr;
  return std::make_unique<LabelKeepStage>(std::move(names));
}

}  // namespace sluice
