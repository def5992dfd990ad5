// stage.structured_metadata_drop: removes the named structured metadata keys from each entry,
// as Alloy's stage of that name (`values`, required, not empty).
//
// Owned by its pipeline and run on that pipeline's thread, the tail thread (see stage.h).
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "agent/process/stage.h"
#include "agent/process/stages/registry.h"
#include "agent/process/stages/stage_util.h"

namespace sluice {
namespace {

using stage_util::StageErrors;

class StructuredMetadataDropStage final : public Stage {
 public:
  explicit StructuredMetadataDropStage(std::vector<std::string> names) : names_(std::move(names)) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    auto& sm = e.structured_metadata;
    sm.erase(std::remove_if(sm.begin(), sm.end(),
                            [this](const auto& kv) {
                              return std::find(names_.begin(), names_.end(), kv.first) !=
                                     names_.end();
                            }),
             sm.end());
    emit(std::move(e));
  }

 private:
  const std::vector<std::string> names_;
};

}  // namespace

std::unique_ptr<Stage> NewStructuredMetadataDropStage(config::Decoder& d, const StageContext& ctx) {
  (void)ctx;
  StageErrors errs(d);
  std::vector<std::string> names;
  stage_util::DecodeNameList(d, errs, "structured_metadata_drop values cannot be empty", &names);
  if (!errs.Finish()) return nullptr;
  return std::make_unique<StructuredMetadataDropStage>(std::move(names));
}

}  // namespace sluice
