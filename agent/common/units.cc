#include "agent/common/units.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"

namespace sluice {

absl::StatusOr<uint64_t> ParseByteSize(std::string_view text) {
  size_t i = 0;
  uint64_t value = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (UINT64_MAX - digit) / 10) {
      return absl::InvalidArgumentError(absl::StrCat("byte size out of range: ", Av(text)));
    }
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) {
    return absl::InvalidArgumentError(absl::StrCat("invalid byte size: \"", Av(text), "\""));
  }
  std::string unit(text.substr(i));
  uint64_t mult;
  if (unit.empty() || unit == "B")
    mult = 1;
  else if (unit == "KB" || unit == "kB")
    mult = 1000;
  else if (unit == "MB")
    mult = 1000ull * 1000;
  else if (unit == "GB")
    mult = 1000ull * 1000 * 1000;
  else if (unit == "KiB" || unit == "Ki")
    mult = 1024;
  else if (unit == "MiB" || unit == "Mi")
    mult = 1024ull * 1024;
  else if (unit == "GiB" || unit == "Gi")
    mult = 1024ull * 1024 * 1024;
  else {
    return absl::InvalidArgumentError(absl::StrCat("invalid byte size unit \"", unit, "\" in \"",
                                                   Av(text),
                                                   "\" (use B, KB, MB, GB, KiB, MiB or GiB)"));
  }
  if (value > UINT64_MAX / mult) {
    return absl::InvalidArgumentError(absl::StrCat("byte size out of range: ", Av(text)));
  }
  return value * mult;
}

absl::StatusOr<absl::Duration> ParseDurationArg(std::string_view text) {
  absl::Duration d;
  if (text == "0") return absl::ZeroDuration();
  if (!absl::ParseDuration(Av(text), &d) || d < absl::ZeroDuration() ||
      d == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid duration \"", Av(text), "\" (examples: 500ms, 1s, 5m)"));
  }
  return d;
}

}  // namespace sluice
