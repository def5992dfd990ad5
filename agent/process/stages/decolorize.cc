// stage.decolorize: ANSI colour and terminal escape sequences removed from the line, as Alloy's
// decolorize stage.
//
// Owned by its pipeline (agent/process/pipeline.h: a loki.process component's, or the nested one
// of a stage.match) and run on that pipeline's thread, the tail thread (see stage.h).
#include "agent/process/stages/registry.h"

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/go/regexp.h"
#include "agent/process/stage.h"
#include "agent/process/stages/stage_util.h"
#include "re2/re2.h"

namespace sluice {
namespace {

using stage_util::StageErrors;

// Alloy's ANSI escape pattern (CSI and OSC sequences introduced by ESC or the C1 CSI U+009B).
constexpr std::string_view kAnsiPattern =
    R"([\x{1B}\x{9B}][[\]()#;?]*(?:(?:(?:[a-zA-Z\d]*(?:;[a-zA-Z\d]*)*)?\x{07})|)"
    R"((?:(?:\d{1,4}(?:;\d{0,4})*)?[\dA-PRZcf-ntqry=><~])))";

class DecolorizeStage final : public Stage {
 public:
  explicit DecolorizeStage(std::unique_ptr<RE2> re) : re_(std::move(re)) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    // Nearly all lines have no escape at all: skip the regex for them.
    if (e.line.find('\x1B') != std::string::npos || e.line.find("\xC2\x9B") != std::string::npos) {
      out_.clear();
      GoReplaceAll(*re_, e.line, "", /*literal=*/true, &out_);
      e.line.TakeFrom(&out_);
    }
    emit(std::move(e));
  }

 private:
  const std::unique_ptr<RE2> re_;
  std::string out_;
};

}  // namespace

std::unique_ptr<Stage> NewDecolorizeStage(config::Decoder& d, const StageContext& ctx) {
  (void)ctx;
  StageErrors errs(d);
  if (!errs.Finish()) return nullptr;
  std::string err;
  std::unique_ptr<RE2> re = CompileGoRegexp(kAnsiPattern, &err);
  if (re == nullptr) {
    errs.Block(absl::StrCat("internal error: ANSI pattern: ", err));
    return nullptr;
  }
  return std::make_unique<DecolorizeStage>(std::move(re));
}

}  // namespace sluice
