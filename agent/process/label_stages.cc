// loki.process label and output stages: labels, static_labels, label_drop, label_keep,
// structured_metadata, output, tenant. Each follows Alloy's stages/<name>.go: argument names,
// validation messages, and which values are skipped (null extracted values, label values that
// are not valid UTF-8). Each stage is owned by its loki.process pipeline and runs on that
// pipeline's thread (see stage.h).
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/go/regexp.h"
#include "agent/process/stage.h"
#include "agent/process/stage_util.h"

namespace sluice {
namespace {

using stage_util::FindExtracted;
using stage_util::StageErrors;
using stage_util::ValidLabelName;
using stage_util::ValidLabelValue;

constexpr std::string_view kTenantLabel = "__tenant_id__";

// `values` of labels / structured_metadata: label name -> source name ("" or null: the same).
bool DecodeLabelMap(config::Decoder& d, StageErrors& errs,
                    std::vector<std::pair<std::string, std::string>>* out, bool required) {
  std::map<std::string, std::string> values;
  if (!d.StringMap("values", &values, required ? config::Required::kYes : config::Required::kNo)) {
    return false;
  }
  bool ok = true;
  for (const auto& [name, source] : values) {
    if (!ValidLabelName(name)) {
      errs.At("values", absl::StrCat("invalid label name: ", name));
      ok = false;
      continue;
    }
    out->emplace_back(name, source.empty() ? name : source);
  }
  return ok;
}

// =============================================================================================
// stage.labels

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

 private:
  const std::vector<std::pair<std::string, std::string>> map_;
  const bool from_metadata_;
  std::string value_;
};

// =============================================================================================
// stage.static_labels

class StaticLabelsStage final : public Stage {
 public:
  explicit StaticLabelsStage(std::vector<std::pair<std::string, std::string>> values)
      : values_(std::move(values)) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    for (const auto& [name, value] : values_) e.labels.Set(name, value);
    emit(std::move(e));
  }

 private:
  const std::vector<std::pair<std::string, std::string>> values_;
};

// =============================================================================================
// stage.label_drop / stage.label_keep

class LabelDropStage final : public Stage {
 public:
  explicit LabelDropStage(std::vector<std::string> names) : names_(std::move(names)) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    for (const std::string& n : names_) e.labels.Remove(n);
    emit(std::move(e));
  }

 private:
  const std::vector<std::string> names_;
};

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

 private:
  std::vector<std::string> names_;
};

// =============================================================================================
// stage.structured_metadata

class StructuredMetadataStage final : public Stage {
 public:
  StructuredMetadataStage(std::vector<std::pair<std::string, std::string>> map,
                          std::unique_ptr<RE2> regex)
      : map_(std::move(map)), regex_(std::move(regex)) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    // 1. Extracted values named in `values`.
    for (const auto& [name, source] : map_) {
      const ExtractedValue* v = FindExtracted(e, source);
      if (v == nullptr || !v->ToString(&value_) || !ValidLabelValue(value_)) continue;
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
      const std::string* v = e.labels.Get(source);
      if (v == nullptr) continue;
      Put(&e, name, *v);
    }
    for (const auto& [name, source] : map_) e.labels.Remove(source);
    // 4. Labels whose name matches `regex` move too.
    if (regex_ != nullptr) {
      moved_.clear();
      for (const auto& [name, value] : e.labels.labels()) {
        if (!Matches(name)) continue;
        Put(&e, name, value);
        moved_.push_back(name);
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

// =============================================================================================
// stage.output

class OutputStage final : public Stage {
 public:
  explicit OutputStage(std::string source) : source_(std::move(source)) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    const ExtractedValue* v = FindExtracted(e, source_);
    if (v != nullptr && v->ToString(&value_)) e.line.swap(value_);
    emit(std::move(e));
  }

 private:
  const std::string source_;
  std::string value_;
};

// =============================================================================================
// stage.tenant

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
      const std::string* v = e.labels.Get(label_);
      if (v != nullptr) {
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

// label_drop / label_keep share their decoding.
bool DecodeNameList(config::Decoder& d, StageErrors& errs, std::string_view empty_message,
                    std::vector<std::string>* names) {
  if (d.StringList("values", names, config::Required::kYes) && names->empty()) {
    errs.At("values", std::string(empty_message));
    return false;
  }
  return true;
}

}  // namespace

// =============================================================================================
// Constructors

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

std::unique_ptr<Stage> NewLabelDropStage(config::Decoder& d, const StageContext& ctx) {
  (void)ctx;
  StageErrors errs(d);
  std::vector<std::string> names;
  DecodeNameList(d, errs, "labeldrop stage config cannot be empty", &names);
  if (!errs.Finish()) return nullptr;
  return std::make_unique<LabelDropStage>(std::move(names));
}

std::unique_ptr<Stage> NewLabelKeepStage(config::Decoder& d, const StageContext& ctx) {
  (void)ctx;
  StageErrors errs(d);
  std::vector<std::string> names;
  DecodeNameList(d, errs, "labelallow stage config cannot be empty", &names);
  if (!errs.Finish()) return nullptr;
  return std::make_unique<LabelKeepStage>(std::move(names));
}

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
