// stage.regex: the named groups of a Go regular expression's first match, into the extracted
// map (and labels with labels_from_groups), as Alloy's regex stage.
//
// Owned by its pipeline (agent/process/pipeline.h: a loki.process component's, or the nested one
// of a stage.match) and run on that pipeline's thread, the tail thread (see stage.h).
#include "agent/process/stages/registry.h"

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/go/regexp.h"
#include "agent/process/stage.h"
#include "agent/process/stages/stage_util.h"
#include "re2/re2.h"

namespace sluice {
namespace {

using stage_util::ResolveSourceCopy;
using stage_util::SetExtractedString;
using stage_util::StageErrors;

class RegexStage final : public Stage {
 public:
  RegexStage(std::unique_ptr<RE2> re, std::string source, bool has_source, bool labels_from_groups)
      : re_(std::move(re)),
        source_(std::move(source)),
        has_source_(has_source),
        labels_(labels_from_groups),
        groups_(static_cast<size_t>(1 + re_->NumberOfCapturingGroups())) {
    for (const auto& [index, name] : re_->CapturingGroupNames()) names_.emplace_back(index, name);
  }

  void Process(ProcessEntry&& e, EmitFn emit) override {
    // A value of the map is copied: the map is about to change under a view of it.
    std::string_view input = e.line;
    const bool found = !has_source_ || ResolveSourceCopy(e, source_, &scratch_, &input);
    if (found && FindGoSubmatch(*re_, input, groups_.data(), static_cast<int>(groups_.size()))) {
      for (const auto& [index, name] : names_) {
        const GoSubmatch& g = groups_[static_cast<size_t>(index)];
        std::string_view value = g.begin < 0 ? std::string_view()
                                             : input.substr(static_cast<size_t>(g.begin),
                                                            static_cast<size_t>(g.end - g.begin));
        SetExtractedString(&e, name, value);
        if (labels_ && stage_util::ValidLabelName(name) && stage_util::ValidLabelValue(value)) {
          e.labels.Set(name, value);
        }
      }
    }
    emit(std::move(e));
  }

 private:
  const std::unique_ptr<RE2> re_;
  const std::string source_;
  const bool has_source_;
  const bool labels_;
  std::vector<std::pair<int, std::string>> names_;
  std::vector<GoSubmatch> groups_;
  std::string scratch_;
};

}  // namespace

std::unique_ptr<Stage> NewRegexStage(config::Decoder& d, const StageContext& ctx) {
  (void)ctx;
  StageErrors errs(d);
  std::string expression, source;
  bool labels_from_groups = false;
  d.String("expression", &expression, config::Required::kYes);
  const bool has_source = d.String("source", &source);
  d.Bool("labels_from_groups", &labels_from_groups);
  std::unique_ptr<RE2> re;
  if (d.Get("expression") != nullptr && expression.empty()) {
    errs.At("expression", "expression is required");
  } else if (has_source && source.empty()) {
    errs.At("source", "empty source");
  } else if (!expression.empty()) {
    std::string err;
    re = CompileGoRegexp(expression, &err);
    if (re == nullptr) {
      errs.At("expression", absl::StrCat("could not compile regular expression: ", err));
    }
  }
  if (!errs.Finish()) return nullptr;
  return std::make_unique<RegexStage>(std::move(re), std::move(source), has_source,
                                      labels_from_groups);
}

}  // namespace sluice
