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
      : map_(std::move(map)), from_metadata_(from_metadata), values_(map_.size()) {
    for (Slot& slot : memo_) slot.values.resize(map_.size());
  }

  void Process(ProcessEntry&& e, EmitFn emit) override {
    if (from_metadata_) {
      for (const auto& [name, source] : map_) {
        for (const auto& [k, v] : e.structured_metadata) {
          if (k != source) continue;
          if (ValidLabelValue(v)) e.labels.Set(name, v);
          break;
        }
      }
      emit(std::move(e));
      return;
    }
    bool any = false;
    for (size_t i = 0; i < map_.size(); ++i) {
      const ExtractedValue* v = FindExtracted(e, map_[i].second);
      Value& out = values_[i];
      out.present = v != nullptr && v->ToString(&out.str) && ValidLabelValue(out.str);
      any |= out.present;
    }
    if (any) SetLabels(&e.labels);
    emit(std::move(e));
  }

  bool ExtractedKeysRead(std::vector<std::string>* keys) const override {
    if (from_metadata_) return true;  // structured metadata, not the map
    for (const auto& [name, source] : map_) keys->push_back(source);
    return true;
  }

 private:
  struct Value {
    bool present = false;
    std::string str;
    bool operator==(const Value& o) const {
      return present == o.present && (!present || str == o.str);
    }
  };
  // The result for one input set and values, as LabelMemo (stage_util.h) keeps for stages whose
  // result depends on the labels only: the lines of a file come in runs over a few sets and
  // values (its streams, a handful of levels), and a remembered result costs a comparison of the
  // set's token and of the values, and one copy.
  struct Slot {
    bool used = false;
    LabelSet in, out;
    std::vector<Value> values;
  };
  static constexpr size_t kSlots = 8;  // as LabelMemo's

  // Sets the labels of values_ in *labels, or gives it what that made of the same set and values.
  void SetLabels(LabelSet* labels) {
    for (size_t k = 0; k < kSlots; ++k) {
      const size_t i = (last_ + k) % kSlots;
      Slot& slot = memo_[i];
      if (!slot.used || !labels->Matches(slot.in) || slot.values != values_) continue;
      *labels = slot.out;
      last_ = i;
      return;
    }
    Slot& slot = memo_[next_];
    slot.in = *labels;
    for (size_t i = 0; i < map_.size(); ++i) {
      if (values_[i].present) labels->Set(map_[i].first, values_[i].str);
    }
    labels->Stamp();
    slot.out = *labels;
    slot.values = values_;
    slot.used = true;
    last_ = next_;
    next_ = (next_ + 1) % kSlots;
  }

  const std::vector<std::pair<std::string, std::string>> map_;
  const bool from_metadata_;
  std::vector<Value> values_;  // this entry's, one per map_ entry (buffers reused)
  Slot memo_[kSlots];
  size_t last_ = 0, next_ = 0;
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
