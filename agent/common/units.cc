#include "agent/common/units.h"

#include <cmath>
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
  if (unit.empty() || unit == "B") mult = 1;
  // As Alloy (alecthomas/units' Base2Bytes): KB and KiB alike are 1024, and so on up.
  else if (unit == "KB" || unit == "kB" || unit == "KiB" || unit == "Ki")
    mult = 1024;
  else if (unit == "MB" || unit == "MiB" || unit == "Mi")
    mult = 1024ull * 1024;
  else if (unit == "GB" || unit == "GiB" || unit == "Gi")
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

absl::StatusOr<int64_t> ParseBase2Bytes(std::string_view s) {
  const std::string orig(s);
  std::string error;
  std::string* err = &error;
  auto parse = [&](bool iec, double* total) -> bool {
    std::string_view t = s;
    bool neg = false;
    if (!t.empty() && (t[0] == '-' || t[0] == '+')) {
      neg = t[0] == '-';
      t.remove_prefix(1);
    }
    if (t == "0") {
      *total = 0;
      return true;
    }
    if (t.empty()) {
      *err = "units: invalid " + orig;
      return false;
    }
    double f = 0;
    while (!t.empty()) {
      if (!(t[0] == '.' || (t[0] >= '0' && t[0] <= '9'))) {
        *err = "units: invalid " + orig;
        return false;
      }
      double g = 0;
      size_t i = 0;
      while (i < t.size() && t[i] >= '0' && t[i] <= '9') g = g * 10 + (t[i++] - '0');
      bool pre = i > 0, post = false;
      t.remove_prefix(i);
      if (!t.empty() && t[0] == '.') {
        t.remove_prefix(1);
        double scale = 1;
        size_t j = 0;
        double x = 0;
        while (j < t.size() && t[j] >= '0' && t[j] <= '9') {
          x = x * 10 + (t[j++] - '0');
          scale *= 10;
        }
        g += x / scale;
        post = j > 0;
        t.remove_prefix(j);
      }
      if (!pre && !post) {
        *err = "units: invalid " + orig;
        return false;
      }
      size_t k = 0;
      while (k < t.size() && t[k] != '.' && !(t[k] >= '0' && t[k] <= '9')) ++k;
      std::string_view unit = t.substr(0, k);
      t.remove_prefix(k);
      static constexpr std::string_view kPrefixes = "KMGTPE";
      double mult = 0;
      if (unit == "B") {
        mult = 1;
      } else if (unit.size() == (iec ? 3u : 2u) && kPrefixes.find(unit[0]) != kPrefixes.npos &&
                 unit.substr(1) == (iec ? "iB" : "B")) {
        mult = std::pow(1024.0, static_cast<double>(kPrefixes.find(unit[0]) + 1));
      } else {
        *err = absl::StrCat("units: unknown unit ", Av(unit), " in ", orig);
        return false;
      }
      f += g * mult;
    }
    *total = neg ? -f : f;
    return true;
  };
  double total;
  if (!parse(true, &total)) {
    err->clear();
    if (!parse(false, &total)) return absl::InvalidArgumentError(error);
  }
  if (total < -9.2233720368547758e18 || total > 9.2233720368547758e18) {
    return absl::InvalidArgumentError("units: overflow parsing unit");
  }
  return static_cast<int64_t>(total);
}

}  // namespace sluice
