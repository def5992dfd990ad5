// stage.replace: every match's captured groups replaced by a Go template's output, in the line
// or an extracted value, as Alloy's replace stage.
//
// Owned by its pipeline (agent/process/pipeline.h: a loki.process component's, or the nested one
// of a stage.match) and run on that pipeline's thread, the tail thread (see stage.h).
#include "agent/process/stages/registry.h"

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
#include "agent/go/regexp.h"
#include "agent/go/template.h"
#include "agent/process/stage.h"
#include "agent/process/stages/stage_util.h"
#include "re2/re2.h"

namespace sluice {
namespace {

using stage_util::FindExtracted;
using stage_util::ResolveSource;
using stage_util::SetExtractedString;
using stage_util::StageErrors;

// The template data of stage.replace: every extracted value that converts to a string, plus
// "Value", the capture being replaced.
class ReplaceData final : public TemplateData {
 public:
  ReplaceData(const ProcessEntry& e, std::string_view value) : e_(e), value_(value) {}
  void set_value(std::string_view v) { value_ = v; }

  bool Lookup(std::string_view name, std::string* out) const override {
    if (name == "Value") {
      out->assign(value_);
      return true;
    }
    const ExtractedValue* v = FindExtracted(e_, name);
    return v != nullptr && v->ToString(out);
  }
  void ForEach(absl::FunctionRef<void(std::string_view, std::string_view)> fn) const override {
    std::string s;
    for (const auto& [k, v] : e_.extracted) {
      if (k == "Value" || !v.ToString(&s)) continue;
      fn(k, s);
    }
    fn("Value", value_);
  }

 private:
  const ProcessEntry& e_;
  std::string_view value_;
};

class ReplaceStage final : public Stage {
 public:
  ReplaceStage(std::unique_ptr<RE2> re, std::string source, GoTemplate tmpl)
      : re_(std::move(re)), source_(std::move(source)), tmpl_(std::move(tmpl)) {
    for (const auto& [index, name] : re_->CapturingGroupNames()) names_.emplace_back(index, name);
  }

  void Process(ProcessEntry&& e, EmitFn emit) override {
    std::string_view found;
    if (!ResolveSource(e, source_, &scratch_, &found)) {
      emit(std::move(e));
      return;
    }
    // The line is only replaced at the end; an extracted source is copied because the map it
    // lives in changes before the input is last read.
    std::string_view input = e.line;
    if (!source_.empty()) {
      input_.assign(found);
      input = input_;
    }

    matches_.clear();
    int n = 0;
    ForEachGoMatch(*re_, input, [&](const GoSubmatch* g, int count) {
      n = count;
      matches_.insert(matches_.end(), g, g + count);
    });
    if (matches_.empty()) {
      emit(std::move(e));
      return;
    }

    ReplaceData data(e, {});
    result_.clear();
    captured_.clear();
    size_t prev_end = 0;
    std::string& out = out_;
    for (size_t m = 0; m < matches_.size(); m += static_cast<size_t>(n)) {
      for (int i = 1; i < n; ++i) {
        const GoSubmatch& g = matches_[m + static_cast<size_t>(i)];
        if (g.begin < 0) continue;
        const size_t b = static_cast<size_t>(g.begin), end = static_cast<size_t>(g.end);
        std::string_view cap = input.substr(b, end - b);
        out.clear();
        data.set_value(cap);
        if (!tmpl_.Execute(data, &out)) {
          // Alloy logs the template error and leaves the entry as it was.
          emit(std::move(e));
          return;
        }
        // Groups nested in an already replaced one are not replaced again.
        if (prev_end == 0 || prev_end <= b) {
          result_.append(input.substr(prev_end, b - prev_end));
          result_.append(out);
          prev_end = end;
        }
        if (!names_.empty()) captured_[std::string(cap)] = out;
      }
    }
    result_.append(input.substr(prev_end));

    if (!source_.empty()) SetExtractedString(&e, source_, result_);
    // Named groups of the first match get the replacement of their captured text.
    for (const auto& [index, name] : names_) {
      const GoSubmatch& g = matches_[static_cast<size_t>(index)];
      std::string_view cap = g.begin < 0 ? std::string_view()
                                         : input.substr(static_cast<size_t>(g.begin),
                                                        static_cast<size_t>(g.end - g.begin));
      auto it = captured_.find(Av(cap));
      if (it != captured_.end()) SetExtractedString(&e, name, it->second);
    }
    if (source_.empty()) e.line.TakeFrom(&result_);
    emit(std::move(e));
  }

 private:
  const std::unique_ptr<RE2> re_;
  const std::string source_;
  const GoTemplate tmpl_;
  std::vector<std::pair<int, std::string>> names_;
  std::string scratch_;
  std::string input_;
  std::string result_;
  std::string out_;
  std::vector<GoSubmatch> matches_;
  absl::flat_hash_map<std::string, std::string> captured_;
};

}  // namespace

std::unique_ptr<Stage> NewReplaceStage(config::Decoder& d, const StageContext& ctx) {
  (void)ctx;
  StageErrors errs(d);
  std::string expression, source, replace;
  d.String("expression", &expression, config::Required::kYes);
  d.String("source", &source);
  d.String("replace", &replace);
  std::unique_ptr<RE2> re;
  absl::StatusOr<GoTemplate> tmpl = absl::InternalError("not parsed");
  if (d.Get("expression") != nullptr && expression.empty()) {
    errs.At("expression", "expression is required");
  } else if (!expression.empty()) {
    std::string err;
    re = CompileGoRegexp(expression, &err);
    if (re == nullptr) {
      errs.At("expression", absl::StrCat("could not compile regular expression: ", err));
    } else {
      tmpl = GoTemplate::Parse(replace);
      if (!tmpl.ok()) {
        errs.At("replace", absl::StrCat("failed to compile template: ", tmpl.status().message()));
      }
    }
  }
  if (!errs.Finish()) return nullptr;
  return std::make_unique<ReplaceStage>(std::move(re), std::move(source), std::move(*tmpl));
}

}  // namespace sluice
