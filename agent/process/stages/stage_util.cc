// Argument decoding shared by several loki.process stages; see stage_util.h.
#include "agent/process/stages/stage_util.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "agent/go/regexp.h"

namespace sluice::stage_util {

bool OptionalRegex(config::Decoder& d, StageErrors& errs, std::string_view name,
                   std::unique_ptr<RE2>* out) {
  std::string pattern;
  d.String(name, &pattern);
  if (pattern.empty()) return true;
  std::string err;
  *out = CompileGoRegexp(pattern, &err);
  if (*out == nullptr) {
    errs.At(name, err);
    return false;
  }
  return true;
}

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

bool DecodeNameList(config::Decoder& d, StageErrors& errs, std::string_view empty_message,
                    std::vector<std::string>* names) {
  if (d.StringList("values", names, config::Required::kYes) && names->empty()) {
    errs.At("values", std::string(empty_message));
    return false;
  }
  return true;
}

}  // namespace sluice::stage_util
