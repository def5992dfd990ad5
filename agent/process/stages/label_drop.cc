// stage.label_drop: the named labels removed, as Alloy's label_drop stage.
//
// Owned by its pipeline (agent/process/pipeline.h: a loki.process component's, or the nested one
// of a stage.match) and run on that pipeline's thread, the tail thread (see stage.h).
#include "agent/process/stages/registry.h"

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

class LabelDropStage final : public Stage {
 public:
  explicit LabelDropStage(std::vector<std::string> names) : names_(std::move(names)) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    if (!memo_.Apply(&e.labels)) {
      *memo_.NextInput() = e.labels;
      for (const std::string& n : names_) e.labels.Remove(n);
      memo_.Remember(&e.labels);
    }
    emit(std::move(e));
  }
  bool ExtractedKeysRead(std::vector<std::string>*) const override { return true; }  // labels only

 private:
  const std::vector<std::string> names_;
  stage_util::LabelMemo memo_;
};

}  // namespace

std::unique_ptr<Stage> NewLabelDropStage(config::Decoder& d, const StageContext& ctx) {
  (void)ctx;
  StageErrors errs(d);
  std::vector<std::string> names;
  DecodeNameList(d, errs, "labeldrop stage config cannot be empty", &names);
  if (!errs.Finish()) return nullptr;
  return std::make_unique<LabelDropStage>(std::move(names));
}

}  // namespace sluice
