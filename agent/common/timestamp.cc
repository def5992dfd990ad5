// RFC 3339 parsing and formatting; see timestamp.h. Stateless, thread-safe, allocation-free.
#include "agent/common/timestamp.h"

#include <cstddef>
#include <cstring>

namespace sluice {
namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;
constexpr int64_t kSecondsPerDay = 86'400;

// Scales a fraction of n digits (n <= 9) to nanoseconds.
constexpr int64_t kFractionScale[10] = {1'000'000'000, 100'000'000, 10'000'000, 1'000'000, 100'000,
                                        10'000,        1'000,       100,        10,        1};

// Decimal value of the ASCII digit c, or a value > 9 when c is not a digit. The unsigned
// subtraction folds both range checks into one compare.
inline unsigned DigitValue(char c) { return static_cast<unsigned char>(c) - unsigned{'0'}; }

// Parses the n ASCII digits at p into *value; false if any is not a digit.
inline bool ParseDigits(const char* p, int n, unsigned* value) {
  unsigned v = 0;
  for (int i = 0; i < n; ++i) {
    const unsigned d = DigitValue(p[i]);
    if (d > 9) return false;
    v = v * 10 + d;
  }
  *value = v;
  return true;
}

constexpr bool IsLeapYear(int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

inline unsigned DaysInMonth(int64_t year, unsigned month) {
  constexpr unsigned char kDays[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month];
}

// Floor division for the negative years/days the calendar arithmetic below produces.
constexpr int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// Days since 1970-01-01 of the proleptic Gregorian date y-m-d (m 1-12, d 1-31).
//
// The year is shifted to start in March so that the leap day is the last day of a year; a 400-year
// era then has exactly 146097 days and the day of the shifted year follows from the month by the
// linear formula (153 * month + 2) / 5, which reproduces the 31/30/31/30/31 month lengths.
// 719468 is the number of days from 0000-03-01 to 1970-01-01.
constexpr int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = FloorDiv(y, 400);
  const int64_t year_of_era = y - era * 400;                          // [0, 399]
  const int64_t shifted_month = m > 2 ? m - 3 : m + 9;                // March = 0
  const int64_t day_of_year = (153 * shifted_month + 2) / 5 + d - 1;  // [0, 365]
  const int64_t day_of_era =
      year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;  // [0, 146096]
  return era * 146097 + day_of_era - 719468;
}

// Inverse of DaysFromCivil.
constexpr void CivilFromDays(int64_t days, int64_t* y, unsigned* m, unsigned* d) {
  days += 719468;
  const int64_t era = FloorDiv(days, 146097);
  const int64_t day_of_era = days - era * 146097;  // [0, 146096]
  // Undo the 4/100/400-year leap corrections to find the year within the era.
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);  // [0, 365]
  const int64_t shifted_month = (5 * day_of_year + 2) / 153;                   // [0, 11]
  *d = static_cast<unsigned>(day_of_year - (153 * shifted_month + 2) / 5 + 1);
  *m = static_cast<unsigned>(shifted_month < 10 ? shifted_month + 3 : shifted_month - 9);
  *y = year_of_era + era * 400 + (*m <= 2);
}

static_assert(DaysFromCivil(1970, 1, 1) == 0);
static_assert(DaysFromCivil(2000, 3, 1) == 11017);
static_assert(DaysFromCivil(1969, 12, 31) == -1);

inline void PutTwoDigits(unsigned v, char* p) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

}  // namespace

// The last "YYYY-MM-DDThh:mm" a thread parsed and its seconds since the epoch: the lines of a log
// share their minute, and its validation and calendar arithmetic were most of a parse. The
// result depends on those 16 bytes only, so a hit gives exactly what parsing them would.
struct MinuteCache {
  bool valid = false;
  uint64_t key[2] = {0, 0};  // the 16 bytes
  int64_t seconds = 0;
};
thread_local MinuteCache minute_cache;

bool ParseRfc3339Nano(std::string_view text, int64_t* unix_nanos) {
  const char* p = text.data();
  const size_t n = text.size();
  // Shortest form: "2006-01-02T15:04:05Z".
  if (n < 20) return false;
  uint64_t key[2];
  std::memcpy(key, p, sizeof(key));
  int64_t minute_seconds;
  MinuteCache& cache = minute_cache;
  if (cache.valid && key[0] == cache.key[0] && key[1] == cache.key[1]) {
    minute_seconds = cache.seconds;
  } else {
    unsigned year, month, day, hour, minute;
    if (!ParseDigits(p, 4, &year) || p[4] != '-' || !ParseDigits(p + 5, 2, &month) || p[7] != '-' ||
        !ParseDigits(p + 8, 2, &day) || (p[10] != 'T' && p[10] != 't') ||
        !ParseDigits(p + 11, 2, &hour) || p[13] != ':' || !ParseDigits(p + 14, 2, &minute)) {
      return false;
    }
    if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) || hour > 23 ||
        minute > 59) {
      return false;
    }
    minute_seconds = DaysFromCivil(year, month, day) * kSecondsPerDay + hour * 3600 + minute * 60;
    cache.valid = true;
    cache.key[0] = key[0];
    cache.key[1] = key[1];
    cache.seconds = minute_seconds;
  }
  unsigned second;
  if (p[16] != ':' || !ParseDigits(p + 17, 2, &second) || second > 59) return false;

  size_t i = 19;
  int64_t fraction = 0;
  if (p[i] == '.') {
    const size_t start = ++i;
    for (; i < n; ++i) {
      const unsigned d = DigitValue(p[i]);
      if (d > 9) break;
      // Digits past nanosecond precision are accepted and dropped, as Go does.
      if (i - start < 9) fraction = fraction * 10 + d;
    }
    const size_t digits = i - start;
    if (digits == 0) return false;  // "05.Z": a '.' needs at least one digit.
    if (digits < 9) fraction *= kFractionScale[digits];
  }

  // Zone: 'Z' or '+hh:mm' / '-hh:mm', and nothing after it.
  if (i >= n) return false;
  int64_t offset_seconds = 0;
  if (p[i] == 'Z' || p[i] == 'z') {
    if (n - i != 1) return false;
  } else if (p[i] == '+' || p[i] == '-') {
    unsigned offset_hour, offset_minute;
    if (n - i != 6 || !ParseDigits(p + i + 1, 2, &offset_hour) || p[i + 3] != ':' ||
        !ParseDigits(p + i + 4, 2, &offset_minute) || offset_hour > 23 || offset_minute > 59) {
      return false;
    }
    offset_seconds = (offset_hour * 60 + offset_minute) * 60;
    if (p[i] == '-') offset_seconds = -offset_seconds;
  } else {
    return false;
  }

  // Years 0-9999 keep the seconds far inside int64; only the scaling to nanoseconds can overflow.
  int64_t seconds = minute_seconds + second - offset_seconds;
  // Borrow a second for negative times so that the earliest representable instant
  // (-9223372037 s + 0.145224192 s) does not overflow in the intermediate product.
  if (seconds < 0 && fraction > 0) {
    ++seconds;
    fraction -= kNanosPerSecond;
  }
  int64_t nanos;
  if (__builtin_mul_overflow(seconds, kNanosPerSecond, &nanos) ||
      __builtin_add_overflow(nanos, fraction, &nanos)) {
    return false;
  }
  *unix_nanos = nanos;
  return true;
}

void AppendRfc3339Nano(int64_t unix_nanos, std::string* out) {
  // Floor division so that instants before 1970 get a positive fraction of the second.
  int64_t seconds = unix_nanos / kNanosPerSecond;
  int64_t fraction = unix_nanos % kNanosPerSecond;
  if (fraction < 0) {
    fraction += kNanosPerSecond;
    --seconds;
  }
  const int64_t days = FloorDiv(seconds, kSecondsPerDay);
  const int64_t second_of_day = seconds - days * kSecondsPerDay;
  int64_t year;
  unsigned month, day;
  CivilFromDays(days, &year, &month, &day);

  // int64 nanoseconds span 1677-2262, so the year always has exactly four digits.
  char buf[kMaxRfc3339NanoLength];
  const unsigned y = static_cast<unsigned>(year);
  PutTwoDigits(y / 100, buf);
  PutTwoDigits(y % 100, buf + 2);
  buf[4] = '-';
  PutTwoDigits(month, buf + 5);
  buf[7] = '-';
  PutTwoDigits(day, buf + 8);
  buf[10] = 'T';
  PutTwoDigits(static_cast<unsigned>(second_of_day / 3600), buf + 11);
  buf[13] = ':';
  PutTwoDigits(static_cast<unsigned>(second_of_day / 60 % 60), buf + 14);
  buf[16] = ':';
  PutTwoDigits(static_cast<unsigned>(second_of_day % 60), buf + 17);
  size_t len = 19;
  if (fraction != 0) {
    buf[len++] = '.';
    // Drop trailing zeros first so the digits can be written back to front in one pass.
    int digits = 9;
    while (fraction % 10 == 0) {
      fraction /= 10;
      --digits;
    }
    for (int k = digits; k > 0; --k) {
      buf[len + k - 1] = static_cast<char>('0' + fraction % 10);
      fraction /= 10;
    }
    len += digits;
  }
  buf[len++] = 'Z';
  out->append(buf, len);
}

}  // namespace sluice
