// stage.output: the line replaced by an extracted value, as Alloy's output stage.
//
// Owned by its pipeline (agent/process/pipeline.h: a loki.process component's, or the nested one
// of a stage.match) and run on that pipeline's thread, the tail thread (see stage.h).
#include "agent/process/stages/registry.h"

#include <memory>
#include <string>
#include <utility>

#include "agent/process/stage.h"
#include "agent/process/stages/stage_util.h"

namespace sluice {
namespace {

using stage_util::FindExtracted;
using stage_util::StageErrors;

class OutputStage final : public Stage {
 public:
  explicit OutputStage(std::string source) : source_(std::move(source)) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    const ExtractedValue* v = FindExtracted(e, source_);
    if (v != nullptr && v->ToString(&value_)) e.line.TakeFrom(&value_);
    emit(std::move(e));
  }

 private:
  const std::string source_;
  std::string value_;
};

}  // namespace

std::unique_ptr<Stage> NewOutputStage(config::Decoder& d, const StageContext& ctx) {
  (void)ctx;
  StageErrors errs(d);
  std::string source;
  if (d.String("source", &source, config::Required::kYes) && source.empty()) {
    errs.At("source", "output source value is required if output is specified");
  }
  if (!errs.Finish()) return nullptr;
  return std::make_unique<OutputStage>(std::move(source));
}

}  // namespace sluice
