// stage.logfmt: logfmt pairs of the line or an extracted value, into the extracted map, as
// Alloy's logfmt stage.
//
// Owned by its pipeline (agent/process/pipeline.h: a loki.process component's, or the nested one
// of a stage.match) and run on that pipeline's thread, the tail thread (see stage.h).
#include "agent/process/stages/registry.h"

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "agent/common/strings.h"
#include "agent/process/logfmt.h"
#include "agent/process/stage.h"
#include "agent/process/stages/stage_util.h"
#include "re2/re2.h"

namespace sluice {
namespace {

using stage_util::OptionalRegex;
using stage_util::ResolveSourceCopy;
using stage_util::SetExtractedString;
using stage_util::StageErrors;

class LogfmtStage final : public Stage {
 public:
  LogfmtStage(absl::flat_hash_map<std::string, std::string> inverse, std::unique_ptr<RE2> regex,
              std::string source)
      : inverse_(std::move(inverse)), regex_(std::move(regex)), source_(std::move(source)) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    std::string_view input;
    if (ResolveSourceCopy(e, source_, &scratch_, &input)) {
      DecodeLogfmt(input, &unquoted_, [&](std::string_view key, std::string_view value) {
        auto it = inverse_.find(Av(key));
        if (it != inverse_.end()) SetExtractedString(&e, it->second, value);
        if (regex_ != nullptr &&
            RE2::PartialMatch(re2::StringPiece(key.data(), key.size()), *regex_)) {
          SetExtractedString(&e, std::string(key), value);
        }
      });
    }
    emit(std::move(e));
  }

 private:
  const absl::flat_hash_map<std::string, std::string> inverse_;  // logfmt key -> extracted name
  const std::unique_ptr<RE2> regex_;
  const std::string source_;
  std::string scratch_;
  std::string unquoted_;
};

}  // namespace

std::unique_ptr<Stage> NewLogfmtStage(config::Decoder& d, const StageContext& ctx) {
  (void)ctx;
  StageErrors errs(d);
  std::map<std::string, std::string> mapping;
  std::string source, regex;
  d.StringMap("mapping", &mapping);
  d.String("source", &source);
  d.String("regex", &regex);
  std::unique_ptr<RE2> re;
  if (mapping.empty() && regex.empty()) {
    errs.Block("logfmt mapping or regex is required");
  } else {
    OptionalRegex(d, errs, "regex", &re);
  }
  if (!errs.Finish()) return nullptr;
  absl::flat_hash_map<std::string, std::string> inverse;
  for (const auto& [name, key] : mapping) inverse[key.empty() ? name : key] = name;
  return std::make_unique<LogfmtStage>(std::move(inverse), std::move(re), std::move(source));
}

}  // namespace sluice
