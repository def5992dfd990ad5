// stage.structured_metadata: extracted values and labels moved into the entry's structured
// metadata, as Alloy's structured_metadata stage; null values and values that are not valid
// UTF-8 are skipped.
//
// Owned by its pipeline (agent/process/pipeline.h: a loki.process component's, or the nested one
// of a stage.match) and run on that pipeline's thread, the tail thread (see stage.h).
#include "agent/process/stages/registry.h"

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/go/regexp.h"
#include "agent/process/stage.h"
#include "agent/process/stages/stage_util.h"
#include "re2/re2.h"

namespace sluice {
namespace {

using stage_util::DecodeLabelMap;
using stage_util::FindExtracted;
using stage_util::StageErrors;
using stage_util::ValidLabelValue;

class StructuredMetadataStage final : public Stage {
 public:
  StructuredMetadataStage(std::vector<std::pair<std::string, std::string>> map,
                          std::unique_ptr<RE2> regex)
      : map_(std::move(map)), regex_(std::move(regex)) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    // 1. Extracted values named in `values`.
    for (const auto& [name, source] : map_) {
      const ExtractedValue* v = FindExtracted(e, source);
      if (!v || !v->ToString(&value_) || !ValidLabelValue(value_)) continue;
      Put(&e, name, value_);
    }
    // 2. Extracted values whose name matches `regex`.
    if (regex_ != nullptr) {
      for (const auto& [name, v] : e.extracted) {
        if (!Matches(name) || !v.ToString(&value_) || !ValidLabelValue(value_)) continue;
        Put(&e, name, value_);
      }
    }
    // 3. Labels named (as sources) in `values` move from the labels to the metadata.
    for (const auto& [name, source] : map_) {
      LabelValue v = e.labels.Get(source);
      if (!v) continue;
      Put(&e, name, *v);
    }
    for (const auto& [name, source] : map_) e.labels.Remove(source);
    // 4. Labels whose name matches `regex` move too.
    if (regex_ != nullptr) {
      moved_.clear();
      for (const auto& [name, value] : e.labels.labels()) {
        if (!Matches(name)) continue;
        Put(&e, name, value);
        moved_.emplace_back(name);
      }
      for (const std::string& n : moved_) e.labels.Remove(n);
    }
    emit(std::move(e));
  }

 private:
  bool Matches(std::string_view name) const {
    return RE2::PartialMatch(re2::StringPiece(name.data(), name.size()), *regex_);
  }

  // Replaces the metadata entry of the same name, else appends.
  static void Put(ProcessEntry* e, std::string_view name, std::string_view value) {
    for (auto& [k, v] : e->structured_metadata) {
      if (k == name) {
        v.assign(value.data(), value.size());
        return;
      }
    }
    e->structured_metadata.emplace_back(std::string(name), std::string(value));
  }

  const std::vector<std::pair<std::string, std::string>> map_;
  const std::unique_ptr<RE2> regex_;
  std::string value_;
  std::vector<std::string> moved_;
};

}  // namespace

std::unique_ptr<Stage> NewStructuredMetadataStage(config::Decoder& d, const StageContext& ctx) {
  (void)ctx;
  StageErrors errs(d);
  std::vector<std::pair<std::string, std::string>> map;
  DecodeLabelMap(d, errs, &map, /*required=*/false);
  std::string pattern;
  std::unique_ptr<RE2> re;
  if (d.String("regex", &pattern) && !pattern.empty()) {
    std::string err;
    re = CompileGoRegexp(pattern, &err);
    if (re == nullptr) errs.At("regex", err);
  }
  if (!errs.Finish()) return nullptr;
  return std::make_unique<StructuredMetadataStage>(std::move(map), std::move(re));
}

}  // namespace sluice
