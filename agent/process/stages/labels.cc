// stage.labels: extracted values (or structured metadata) set as labels, as Alloy's labels
// stage; null values and label values that are not valid UTF-8 are skipped.
//
// Owned by its pipeline (agent/process/pipeline.h: a loki.process component's, or the nested one
// of a stage.match) and run on that pipeline's thread, the tail thread (see stage.h).
#include "agent/process/stages/registry.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/process/stage.h"
#include "agent/process/stages/stage_util.h"

namespace sluice {
namespace {

using stage_util::DecodeLabelMap;
using stage_util::FindExtracted;
using stage_util::StageErrors;
using stage_util::ValidLabelValue;

class LabelsStage final : public Stage {
 public:
  LabelsStage(std::vector<std::pair<std::string, std::string>> map, bool from_metadata)
      : map_(std::move(map)), from_metadata_(from_metadata) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    for (const auto& [name, source] : map_) {
      if (from_metadata_) {
        for (const auto& [k, v] : e.structured_metadata) {
          if (k != source) continue;
          if (ValidLabelValue(v)) e.labels.Set(name, v);
          break;
        }
        continue;
      }
      const ExtractedValue* v = FindExtracted(e, source);
      if (v == nullptr || !v->ToString(&value_) || !ValidLabelValue(value_)) continue;
      e.labels.Set(name, value_);
    }
    emit(std::move(e));
  }

  bool ExtractedKeysRead(std::vector<std::string>* keys) const override {
    if (from_metadata_) return true;  // structured metadata, not the map
    for (const auto& [name, source] : map_) keys->push_back(source);
    return true;
  }

 private:
  const std::vector<std::pair<std::string, std::string>> map_;
  const bool from_metadata_;
  std::string value_;
};

}  // namespace

std::unique_ptr<Stage> NewLabelsStage(config::Decoder& d, const StageContext& ctx) {
  (void)ctx;
  StageErrors errs(d);
  std::vector<std::pair<std::string, std::string>> map;
  DecodeLabelMap(d, errs, &map, /*required=*/true);
  std::string type;
  bool from_metadata = false;
  if (d.String("source_type", &type) && !type.empty()) {
    if (type == "structured_metadata") {
      from_metadata = true;
    } else if (type == "line" || type == "label") {
      errs.At("source_type", absl::StrCat("invalid labels source_type: ", type,
                                          ". Can only be 'extracted' or 'structured_metadata'"));
    } else if (type != "extracted") {
      errs.At("source_type", absl::StrCat("unknown source_type: ", type));
    }
  }
  if (!errs.Finish()) return nullptr;
  return std::make_unique<LabelsStage>(std::move(map), from_metadata);
}

}  // namespace sluice
