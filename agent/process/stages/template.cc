// stage.template: the extracted value `source` becomes the output of a Go text/template (the
// functions Alloy registers: agent/go/template.h), as Alloy's template stage. The template sees
// every extracted value that converts to a string by name, `.Value` (the source's own value,
// absent when the source is) and `.Entry` (the line). An empty output deletes the source; an
// execution error leaves the entry unchanged.
//
// Owned by its pipeline and run on that pipeline's thread, the tail thread (see stage.h).
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "agent/go/template.h"
#include "agent/process/stage.h"
#include "agent/process/stages/registry.h"
#include "agent/process/stages/stage_util.h"

namespace sluice {
namespace {

using stage_util::FindExtracted;
using stage_util::StageErrors;

class TemplateStageData final : public TemplateData {
 public:
  TemplateStageData(const ProcessEntry& e, const std::string& source) : e_(e), source_(source) {}

  bool Lookup(std::string_view name, std::string* out) const override {
    if (name == "Entry") {
      out->assign(e_.line);
      return true;
    }
    const ExtractedValue* v = FindExtracted(e_, name == "Value" ? std::string_view(source_) : name);
    return v != nullptr && v->ToString(out);
  }
  void ForEach(absl::FunctionRef<void(std::string_view, std::string_view)> fn) const override {
    std::string s;
    for (const auto& [k, v] : e_.extracted) {
      if (!v.ToString(&s)) continue;
      fn(k, s);
      if (k == source_) fn("Value", s);
    }
    fn("Entry", e_.line);
  }

 private:
  const ProcessEntry& e_;
  const std::string& source_;
};

class TemplateStage final : public Stage {
 public:
  TemplateStage(std::string source, GoTemplate tmpl)
      : source_(std::move(source)), tmpl_(std::move(tmpl)) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    out_.clear();
    if (tmpl_.Execute(TemplateStageData(e, source_), &out_)) {
      if (out_.empty()) {
        e.extracted.erase(source_);
      } else {
        e.extracted[source_] = ExtractedValue::String(out_);
      }
    }
    emit(std::move(e));
  }

 private:
  const std::string source_;
  const GoTemplate tmpl_;
  std::string out_;  // reused
};

}  // namespace

std::unique_ptr<Stage> NewTemplateStage(config::Decoder& d, const StageContext& ctx) {
  (void)ctx;
  StageErrors errs(d);
  std::string source, text;
  d.String("source", &source, config::Required::kYes);
  d.String("template", &text, config::Required::kYes);
  absl::StatusOr<GoTemplate> tmpl = absl::InternalError("not parsed");
  if (d.Get("source") != nullptr && source.empty()) {
    errs.At("source", "template source value is required");
  } else {
    tmpl = GoTemplate::Parse(text);
    if (!tmpl.ok()) errs.At("template", std::string(tmpl.status().message()));
  }
  if (!errs.Finish()) return nullptr;
  return std::make_unique<TemplateStage>(std::move(source), std::move(*tmpl));
}

}  // namespace sluice
