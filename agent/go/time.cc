#include "agent/go/time.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
#include "agent/go/strconv.h"

namespace sluice {

enum class GoLayout::Std : uint8_t {
  kNone,
  kLongMonth,              // January
  kMonth,                  // Jan
  kNumMonth,               // 1
  kZeroMonth,              // 01
  kLongWeekDay,            // Monday
  kWeekDay,                // Mon
  kDay,                    // 2
  kUnderDay,               // _2
  kZeroDay,                // 02
  kUnderYearDay,           // __2
  kZeroYearDay,            // 002
  kHour,                   // 15
  kHour12,                 // 3
  kZeroHour12,             // 03
  kMinute,                 // 4
  kZeroMinute,             // 04
  kSecond,                 // 5
  kZeroSecond,             // 05
  kLongYear,               // 2006
  kYear,                   // 06
  kPM,                     // PM
  kpm,                     // pm
  kTZ,                     // MST
  kISO8601TZ,              // Z0700
  kISO8601SecondsTZ,       // Z070000
  kISO8601ShortTZ,         // Z07
  kISO8601ColonTZ,         // Z07:00
  kISO8601ColonSecondsTZ,  // Z07:00:00
  kNumTZ,                  // -0700
  kNumSecondsTz,           // -070000
  kNumShortTZ,             // -07
  kNumColonTZ,             // -07:00
  kNumColonSecondsTZ,      // -07:00:00
  kFracSecond0,            // .0, .00, ... (exactly that many digits)
  kFracSecond9,            // .9, .99, ... (trailing zeros optional)
};

namespace {

using Std = GoLayout::Std;

constexpr std::string_view kShortDayNames[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::string_view kLongDayNames[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                              "Thursday", "Friday", "Saturday"};
constexpr std::string_view kShortMonthNames[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::string_view kLongMonthNames[] = {"January",   "February", "March",    "April",
                                                "May",       "June",     "July",     "August",
                                                "September", "October",  "November", "December"};

bool StartsWithLowerCase(std::string_view s) { return !s.empty() && s[0] >= 'a' && s[0] <= 'z'; }

bool IsDigitAt(std::string_view s, size_t i) { return i < s.size() && s[i] >= '0' && s[i] <= '9'; }

bool HasAt(std::string_view s, size_t i, std::string_view what) {
  return s.size() >= i + what.size() && s.substr(i, what.size()) == what;
}

struct NextChunk {
  size_t prefix_len;  // layout[0, prefix_len) is literal
  Std std;
  size_t std_len;  // the element's length in the layout
  int frac_digits;
};

// Finds the first layout element, as Go's nextStdChunk does (same precedence of alternatives).
NextChunk FindStd(std::string_view layout) {
  for (size_t i = 0; i < layout.size(); ++i) {
    const char c = layout[i];
    switch (c) {
      case 'J':
        if (HasAt(layout, i, "Jan")) {
          if (HasAt(layout, i, "January")) return {i, Std::kLongMonth, 7, 0};
          if (!StartsWithLowerCase(layout.substr(i + 3))) return {i, Std::kMonth, 3, 0};
        }
        break;
      case 'M':
        if (layout.size() >= i + 3) {
          if (HasAt(layout, i, "Mon")) {
            if (HasAt(layout, i, "Monday")) return {i, Std::kLongWeekDay, 6, 0};
            if (!StartsWithLowerCase(layout.substr(i + 3))) return {i, Std::kWeekDay, 3, 0};
          }
          if (HasAt(layout, i, "MST")) return {i, Std::kTZ, 3, 0};
        }
        break;
      case '0':
        if (layout.size() >= i + 2 && layout[i + 1] >= '1' && layout[i + 1] <= '6') {
          static constexpr Std k0x[] = {Std::kZeroMonth,  Std::kZeroDay,    Std::kZeroHour12,
                                        Std::kZeroMinute, Std::kZeroSecond, Std::kYear};
          return {i, k0x[layout[i + 1] - '1'], 2, 0};
        }
        if (HasAt(layout, i, "002")) return {i, Std::kZeroYearDay, 3, 0};
        break;
      case '1':
        if (HasAt(layout, i, "15")) return {i, Std::kHour, 2, 0};
        return {i, Std::kNumMonth, 1, 0};
      case '2':
        if (HasAt(layout, i, "2006")) return {i, Std::kLongYear, 4, 0};
        return {i, Std::kDay, 1, 0};
      case '_':
        if (layout.size() >= i + 2 && layout[i + 1] == '2') {
          // "_2006" is a literal '_' followed by the long year.
          if (HasAt(layout, i + 1, "2006")) return {i + 1, Std::kLongYear, 4, 0};
          return {i, Std::kUnderDay, 2, 0};
        }
        if (HasAt(layout, i, "__2")) return {i, Std::kUnderYearDay, 3, 0};
        break;
      case '3':
        return {i, Std::kHour12, 1, 0};
      case '4':
        return {i, Std::kMinute, 1, 0};
      case '5':
        return {i, Std::kSecond, 1, 0};
      case 'P':
        if (HasAt(layout, i, "PM")) return {i, Std::kPM, 2, 0};
        break;
      case 'p':
        if (HasAt(layout, i, "pm")) return {i, Std::kpm, 2, 0};
        break;
      case '-':
        if (HasAt(layout, i, "-070000")) return {i, Std::kNumSecondsTz, 7, 0};
        if (HasAt(layout, i, "-07:00:00")) return {i, Std::kNumColonSecondsTZ, 9, 0};
        if (HasAt(layout, i, "-0700")) return {i, Std::kNumTZ, 5, 0};
        if (HasAt(layout, i, "-07:00")) return {i, Std::kNumColonTZ, 6, 0};
        if (HasAt(layout, i, "-07")) return {i, Std::kNumShortTZ, 3, 0};
        break;
      case 'Z':
        if (HasAt(layout, i, "Z070000")) return {i, Std::kISO8601SecondsTZ, 7, 0};
        if (HasAt(layout, i, "Z07:00:00")) return {i, Std::kISO8601ColonSecondsTZ, 9, 0};
        if (HasAt(layout, i, "Z0700")) return {i, Std::kISO8601TZ, 5, 0};
        if (HasAt(layout, i, "Z07:00")) return {i, Std::kISO8601ColonTZ, 6, 0};
        if (HasAt(layout, i, "Z07")) return {i, Std::kISO8601ShortTZ, 3, 0};
        break;
      case '.':
      case ',':
        if (i + 1 < layout.size() && (layout[i + 1] == '0' || layout[i + 1] == '9')) {
          const char d = layout[i + 1];
          size_t j = i + 1;
          while (j < layout.size() && layout[j] == d) ++j;
          // Only a run of one digit that ends the number is a fraction ("05.000", not ".0001").
          if (!IsDigitAt(layout, j)) {
            return {i, d == '0' ? Std::kFracSecond0 : Std::kFracSecond9, j - i,
                    static_cast<int>(j - (i + 1))};
          }
        }
        break;
      default:
        break;
    }
  }
  return {layout.size(), Std::kNone, 0, 0};
}

// Go's getnum: one or two digits (exactly two when `fixed`).
bool GetNum(std::string_view* s, bool fixed, int* out) {
  if (!IsDigitAt(*s, 0)) return false;
  if (!IsDigitAt(*s, 1)) {
    if (fixed) return false;
    *out = (*s)[0] - '0';
    s->remove_prefix(1);
    return true;
  }
  *out = ((*s)[0] - '0') * 10 + ((*s)[1] - '0');
  s->remove_prefix(2);
  return true;
}

// Go's getnum3: one to three digits (exactly three when `fixed`).
bool GetNum3(std::string_view* s, bool fixed, int* out) {
  int n = 0;
  size_t i = 0;
  for (; i < 3 && IsDigitAt(*s, i); ++i) n = n * 10 + ((*s)[i] - '0');
  if (i == 0 || (fixed && i != 3)) return false;
  *out = n;
  s->remove_prefix(i);
  return true;
}

// Go's atoi: optional sign, then decimal digits to the end.
bool Atoi(std::string_view s, int64_t* out) {
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return false;
  int64_t x = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    if (x > (std::numeric_limits<int64_t>::max() - (c - '0')) / 10) return false;
    x = x * 10 + (c - '0');
  }
  *out = neg ? -x : x;
  return true;
}

bool AsciiEqualFold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Go's lookup: the first name of `tab` that prefixes `*val`, ignoring ASCII case.
template <size_t N>
bool Lookup(const std::string_view (&tab)[N], std::string_view* val, int* index) {
  for (size_t i = 0; i < N; ++i) {
    if (val->size() >= tab[i].size() && AsciiEqualFold(val->substr(0, tab[i].size()), tab[i])) {
      *index = static_cast<int>(i);
      val->remove_prefix(tab[i].size());
      return true;
    }
  }
  return false;
}

std::string_view CutSpace(std::string_view s) {
  while (!s.empty() && s[0] == ' ') s.remove_prefix(1);
  return s;
}

// Go's skip: the literal `prefix` must start `*value`; a space in the prefix matches any run of
// spaces (including none at the end of the value).
bool Skip(std::string_view* value, std::string_view prefix) {
  std::string_view v = *value;
  while (!prefix.empty()) {
    if (prefix[0] == ' ') {
      if (!v.empty() && v[0] != ' ') {
        *value = v;
        return false;
      }
      prefix = CutSpace(prefix);
      v = CutSpace(v);
      continue;
    }
    if (v.empty() || v[0] != prefix[0]) {
      *value = v;
      return false;
    }
    prefix.remove_prefix(1);
    v.remove_prefix(1);
  }
  *value = v;
  return true;
}

bool CommaOrPeriod(char c) { return c == '.' || c == ','; }

// Go's parseNanoseconds: value[0] is the separator, value[1, nbytes) the digits (only the first
// nine count).
bool ParseNanoseconds(std::string_view value, size_t nbytes, int* ns, const char** range_err) {
  if (!CommaOrPeriod(value[0])) return false;
  if (nbytes > 10) nbytes = 10;
  int64_t n;
  if (!Atoi(value.substr(1, nbytes - 1), &n)) return false;
  if (n < 0) {
    *range_err = "fractional second";
    return true;
  }
  for (size_t i = 0; i < 10 - nbytes; ++i) n *= 10;
  *ns = static_cast<int>(n);
  return true;
}

// Go's parseSignedOffset: length of "+hh"/"-h" at the start of `value` (hours <= 23), or 0.
size_t ParseSignedOffset(std::string_view value) {
  if (value.empty() || (value[0] != '-' && value[0] != '+')) return 0;
  size_t i = 1;
  int64_t x = 0;
  while (i < value.size() && value[i] >= '0' && value[i] <= '9') {
    x = x * 10 + (value[i] - '0');
    if (x > 1'000'000) return 0;
    ++i;
  }
  if (i == 1 || x > 23) return 0;
  return i;
}

// Go's parseTimeZone: the length of a zone abbreviation at the start of `value`.
bool ParseTimeZone(std::string_view value, size_t* length) {
  if (value.size() < 3) return false;
  if (HasAt(value, 0, "ChST") || HasAt(value, 0, "MeST")) {
    *length = 4;
    return true;
  }
  if (HasAt(value, 0, "GMT")) {
    *length = value.size() == 3 ? 3 : 3 + ParseSignedOffset(value.substr(3));
    return true;
  }
  if (value[0] == '+' || value[0] == '-') {
    *length = ParseSignedOffset(value);
    return *length > 0;
  }
  size_t upper = 0;
  for (; upper < 6; ++upper) {
    if (upper >= value.size()) break;
    const char c = value[upper];
    if (c < 'A' || c > 'Z') break;
  }
  switch (upper) {
    case 5:
      if (value[4] == 'T') {
        *length = 5;
        return true;
      }
      return false;
    case 4:
      if (value[3] == 'T' || HasAt(value, 0, "WITA")) {
        *length = 4;
        return true;
      }
      return false;
    case 3:
      *length = 3;
      return true;
    default:
      return false;
  }
}

bool IsLeap(int64_t year) { return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0); }

int DaysIn(int month, int64_t year) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && IsLeap(year)) return 29;
  return kDays[month - 1];
}

// Days before the start of each month (non-leap), Go's daysBefore.
constexpr int kDaysBefore[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365};

void SetError(std::string* error, std::string_view layout, std::string_view value,
              std::string_view layout_elem, std::string_view value_elem, std::string_view message) {
  if (error == nullptr) return;
  if (message.empty()) {
    *error = absl::StrCat("parsing time ", GoQuote(value), " as ", GoQuote(layout),
                          ": cannot parse ", GoQuote(value_elem), " as ", GoQuote(layout_elem));
  } else {
    *error = absl::StrCat("parsing time ", GoQuote(value), Av(message));
  }
}

// Go's Date(): civil fields (already in range except the day, checked by the caller) in `zone`.
absl::Time MakeTime(int64_t year, int month, int day, int hour, int min, int sec, int nsec,
                    const absl::TimeZone& zone) {
  absl::CivilSecond cs(year, month, day, hour, min, sec);
  return absl::FromCivil(cs, zone) + absl::Nanoseconds(nsec);
}

}  // namespace

// ---- GoLayout ------------------------------------------------------------------------------

GoLayout::GoLayout(std::string_view layout) : layout_(layout) {
  std::string_view rest = layout;
  while (true) {
    NextChunk n = FindStd(rest);
    Chunk c;
    c.prefix = std::string(rest.substr(0, n.prefix_len));
    c.std = n.std;
    c.frac_digits = n.frac_digits;
    if (n.std == Std::kNone) {
      chunks_.push_back(std::move(c));
      break;
    }
    c.stdstr = std::string(rest.substr(n.prefix_len, n.std_len));
    chunks_.push_back(std::move(c));
    rest.remove_prefix(n.prefix_len + n.std_len);
  }
}

bool GoLayout::Parse(std::string_view value_in, const GoZone& default_zone, const GoZone& local,
                     GoTime* out, std::string* error) const {
  std::string_view value = value_in;
  const char* range_err = nullptr;
  bool am_set = false, pm_set = false;
  int64_t year = 0;
  int month = -1, day = -1, yday = -1, hour = 0, min = 0, sec = 0, nsec = 0;
  bool utc = false;  // Go's z = UTC ("Z" or "UTC" in the value)
  int zone_offset = -1;
  bool has_zone_offset = false;
  std::string_view zone_name;

  for (size_t ci = 0; ci < chunks_.size(); ++ci) {
    const Chunk& c = chunks_[ci];
    if (!Skip(&value, c.prefix)) {
      SetError(error, layout_, value_in, c.prefix, value, "");
      return false;
    }
    if (c.std == Std::kNone) {
      if (!value.empty()) {
        SetError(error, layout_, value_in, "", value,
                 absl::StrCat(": extra text: ", GoQuote(value)));
        return false;
      }
      break;
    }
    const std::string_view hold = value;
    bool ok = true;
    int n = 0;
    switch (c.std) {
      case Std::kYear: {
        if (value.size() < 2) {
          ok = false;
          break;
        }
        int64_t y;
        ok = Atoi(value.substr(0, 2), &y);
        value.remove_prefix(2);
        if (!ok) break;
        year = y >= 69 ? y + 1900 : y + 2000;
        break;
      }
      case Std::kLongYear:
        if (value.size() < 4 || !IsDigitAt(value, 0)) {
          ok = false;
          break;
        }
        ok = Atoi(value.substr(0, 4), &year);
        value.remove_prefix(4);
        break;
      case Std::kMonth:
        ok = Lookup(kShortMonthNames, &value, &month);
        month++;
        break;
      case Std::kLongMonth:
        ok = Lookup(kLongMonthNames, &value, &month);
        month++;
        break;
      case Std::kNumMonth:
      case Std::kZeroMonth:
        ok = GetNum(&value, c.std == Std::kZeroMonth, &month);
        if (ok && (month <= 0 || month > 12)) range_err = "month";
        break;
      case Std::kWeekDay:
        ok = Lookup(kShortDayNames, &value, &n);  // checked, then ignored, as Go does
        break;
      case Std::kLongWeekDay:
        ok = Lookup(kLongDayNames, &value, &n);
        break;
      case Std::kDay:
      case Std::kUnderDay:
      case Std::kZeroDay:
        if (c.std == Std::kUnderDay && !value.empty() && value[0] == ' ') value.remove_prefix(1);
        ok = GetNum(&value, c.std == Std::kZeroDay, &day);
        break;
      case Std::kUnderYearDay:
      case Std::kZeroYearDay:
        for (int i = 0; i < 2; ++i) {
          if (c.std == Std::kUnderYearDay && !value.empty() && value[0] == ' ') {
            value.remove_prefix(1);
          }
        }
        ok = GetNum3(&value, c.std == Std::kZeroYearDay, &yday);
        break;
      case Std::kHour:
        ok = GetNum(&value, false, &hour);
        if (hour < 0 || hour >= 24) range_err = "hour";
        break;
      case Std::kHour12:
      case Std::kZeroHour12:
        ok = GetNum(&value, c.std == Std::kZeroHour12, &hour);
        if (hour < 0 || hour > 12) range_err = "hour";
        break;
      case Std::kMinute:
      case Std::kZeroMinute:
        ok = GetNum(&value, c.std == Std::kZeroMinute, &min);
        if (min < 0 || min >= 60) range_err = "minute";
        break;
      case Std::kSecond:
      case Std::kZeroSecond: {
        ok = GetNum(&value, c.std == Std::kZeroSecond, &sec);
        if (!ok) break;
        if (sec < 0 || sec >= 60) {
          range_err = "second";
          break;
        }
        // A fraction in the value that the layout does not spell out is still read.
        if (value.size() >= 2 && CommaOrPeriod(value[0]) && IsDigitAt(value, 1)) {
          const Std next = ci + 1 < chunks_.size() ? chunks_[ci + 1].std : Std::kNone;
          if (next == Std::kFracSecond0 || next == Std::kFracSecond9) break;
          size_t k = 2;
          while (k < value.size() && IsDigitAt(value, k)) ++k;
          ok = ParseNanoseconds(value, k, &nsec, &range_err);
          value.remove_prefix(k);
        }
        break;
      }
      case Std::kPM:
      case Std::kpm: {
        if (value.size() < 2) {
          ok = false;
          break;
        }
        std::string_view p = value.substr(0, 2);
        value.remove_prefix(2);
        const bool upper = c.std == Std::kPM;
        if (p == (upper ? "PM" : "pm")) {
          pm_set = true;
        } else if (p == (upper ? "AM" : "am")) {
          am_set = true;
        } else {
          ok = false;
        }
        break;
      }
      case Std::kISO8601TZ:
      case Std::kISO8601ShortTZ:
      case Std::kISO8601ColonTZ:
      case Std::kISO8601SecondsTZ:
      case Std::kISO8601ColonSecondsTZ:
        if (!value.empty() && value[0] == 'Z') {
          value.remove_prefix(1);
          utc = true;
          break;
        }
        [[fallthrough]];
      case Std::kNumTZ:
      case Std::kNumShortTZ:
      case Std::kNumColonTZ:
      case Std::kNumSecondsTz:
      case Std::kNumColonSecondsTZ: {
        std::string_view sign, hh, mm, ss = "00";
        if (c.std == Std::kISO8601ColonTZ || c.std == Std::kNumColonTZ) {
          if (value.size() < 6 || value[3] != ':') {
            ok = false;
            break;
          }
          sign = value.substr(0, 1), hh = value.substr(1, 2), mm = value.substr(4, 2);
          value.remove_prefix(6);
        } else if (c.std == Std::kNumShortTZ || c.std == Std::kISO8601ShortTZ) {
          if (value.size() < 3) {
            ok = false;
            break;
          }
          sign = value.substr(0, 1), hh = value.substr(1, 2), mm = "00";
          value.remove_prefix(3);
        } else if (c.std == Std::kISO8601ColonSecondsTZ || c.std == Std::kNumColonSecondsTZ) {
          if (value.size() < 9 || value[3] != ':' || value[6] != ':') {
            ok = false;
            break;
          }
          sign = value.substr(0, 1), hh = value.substr(1, 2), mm = value.substr(4, 2),
          ss = value.substr(7, 2);
          value.remove_prefix(9);
        } else if (c.std == Std::kISO8601SecondsTZ || c.std == Std::kNumSecondsTz) {
          if (value.size() < 7) {
            ok = false;
            break;
          }
          sign = value.substr(0, 1), hh = value.substr(1, 2), mm = value.substr(3, 2),
          ss = value.substr(5, 2);
          value.remove_prefix(7);
        } else {
          if (value.size() < 5) {
            ok = false;
            break;
          }
          sign = value.substr(0, 1), hh = value.substr(1, 2), mm = value.substr(3, 2);
          value.remove_prefix(5);
        }
        int h = 0, m = 0, s = 0;
        ok = GetNum(&hh, true, &h) && GetNum(&mm, true, &m) && GetNum(&ss, true, &s);
        // Go tests with > rather than >=: offsets of 24 hours or 60 minutes occur in the wild.
        if (h > 24) range_err = "time zone offset hour";
        if (m > 60) range_err = "time zone offset minute";
        if (s > 60) range_err = "time zone offset second";
        zone_offset = (h * 60 + m) * 60 + s;
        has_zone_offset = true;
        if (sign[0] == '-') {
          zone_offset = -zone_offset;
        } else if (sign[0] != '+') {
          ok = false;
        }
        break;
      }
      case Std::kTZ: {
        if (HasAt(value, 0, "UTC")) {
          utc = true;
          value.remove_prefix(3);
          break;
        }
        size_t len = 0;
        if (!ParseTimeZone(value, &len)) {
          ok = false;
          break;
        }
        zone_name = value.substr(0, len);
        value.remove_prefix(len);
        break;
      }
      case Std::kFracSecond0: {
        const size_t ndigit = 1 + static_cast<size_t>(c.frac_digits);
        if (value.size() < ndigit) {
          ok = false;
          break;
        }
        ok = ParseNanoseconds(value, ndigit, &nsec, &range_err);
        value.remove_prefix(ndigit);
        break;
      }
      case Std::kFracSecond9: {
        if (value.size() < 2 || !CommaOrPeriod(value[0]) || value[1] < '0' || value[1] > '9') {
          break;  // fraction omitted
        }
        size_t i = 0;
        while (i + 1 < value.size() && value[i + 1] >= '0' && value[i + 1] <= '9') ++i;
        ok = ParseNanoseconds(value, 1 + i, &nsec, &range_err);
        value.remove_prefix(1 + i);
        break;
      }
      case Std::kNone:
        break;
    }
    if (range_err != nullptr) {
      SetError(error, layout_, value_in, c.stdstr, value,
               absl::StrCat(": ", range_err, " out of range"));
      return false;
    }
    if (!ok) {
      SetError(error, layout_, value_in, c.stdstr, hold, "");
      return false;
    }
  }

  if (pm_set && hour < 12) {
    hour += 12;
  } else if (am_set && hour == 12) {
    hour = 0;
  }

  if (yday >= 0) {
    int d = 0, m = 0;
    if (IsLeap(year)) {
      if (yday == 31 + 29) {
        m = 2;
        d = 29;
      } else if (yday > 31 + 29) {
        yday--;
      }
    }
    if (yday < 1 || yday > 365) {
      SetError(error, layout_, value_in, "", value, ": day-of-year out of range");
      return false;
    }
    if (m == 0) {
      m = (yday - 1) / 31 + 1;
      if (kDaysBefore[m] < yday) m++;
      d = yday - kDaysBefore[m - 1];
    }
    if (month >= 0 && month != m) {
      SetError(error, layout_, value_in, "", value, ": day-of-year does not match month");
      return false;
    }
    month = m;
    if (day >= 0 && day != d) {
      SetError(error, layout_, value_in, "", value, ": day-of-year does not match day");
      return false;
    }
    day = d;
  } else {
    if (month < 0) month = 1;
    if (day < 0) day = 1;
  }
  if (day < 1 || day > DaysIn(month, year)) {
    SetError(error, layout_, value_in, "", value, ": day out of range");
    return false;
  }

  if (utc) {
    *out = GoTime{MakeTime(year, month, day, hour, min, sec, nsec, absl::UTCTimeZone()),
                  absl::UTCTimeZone()};
    return true;
  }
  if (has_zone_offset) {
    absl::Time t = MakeTime(year, month, day, hour, min, sec, nsec, absl::UTCTimeZone()) -
                   absl::Seconds(zone_offset);
    // The local zone when it has that offset then (and the same name, if one was given).
    absl::TimeZone::CivilInfo li = local.tz().At(t);
    if (li.offset == zone_offset && (zone_name.empty() || li.zone_abbr == zone_name)) {
      *out = GoTime{t, local.tz()};
    } else {
      *out = GoTime{t, absl::FixedTimeZone(zone_offset)};
    }
    return true;
  }
  if (!zone_name.empty()) {
    absl::Time t = MakeTime(year, month, day, hour, min, sec, nsec, absl::UTCTimeZone());
    int offset = 0;
    if (local.LookupName(zone_name, absl::ToUnixSeconds(t), &offset)) {
      *out = GoTime{t - absl::Seconds(offset), local.tz()};
      return true;
    }
    // Unknown abbreviation: Go records a zone of that name whose offset is 0, except "GMT+h"
    // whose offset is kept, in both cases without moving the instant.
    if (zone_name.size() > 3 && zone_name.substr(0, 3) == "GMT") {
      int64_t h = 0;
      Atoi(zone_name.substr(3), &h);
      offset = static_cast<int>(h * 3600);
    }
    *out = GoTime{t, absl::FixedTimeZone(offset)};
    return true;
  }
  *out = GoTime{MakeTime(year, month, day, hour, min, sec, nsec, default_zone.tz()),
                default_zone.tz()};
  return true;
}

std::string_view GoNamedLayout(std::string_view name) {
  static constexpr std::pair<std::string_view, std::string_view> kNamed[] = {
      {"ANSIC", "Mon Jan _2 15:04:05 2006"},
      {"UnixDate", "Mon Jan _2 15:04:05 MST 2006"},
      {"RubyDate", "Mon Jan 02 15:04:05 -0700 2006"},
      {"RFC822", "02 Jan 06 15:04 MST"},
      {"RFC822Z", "02 Jan 06 15:04 -0700"},
      {"RFC850", "Monday, 02-Jan-06 15:04:05 MST"},
      {"RFC1123", "Mon, 02 Jan 2006 15:04:05 MST"},
      {"RFC1123Z", "Mon, 02 Jan 2006 15:04:05 -0700"},
      {"RFC3339", "2006-01-02T15:04:05Z07:00"},
      {"RFC3339Nano", "2006-01-02T15:04:05.999999999Z07:00"},
  };
  for (const auto& [n, layout] : kNamed) {
    if (n == name) return layout;
  }
  return {};
}

}  // namespace sluice
