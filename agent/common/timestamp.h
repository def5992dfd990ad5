// RFC 3339 timestamps <-> nanoseconds since the Unix epoch.
//
// These run once per log line (CRI and docker timestamps), so both directions are allocation-free
// apart from appending to the caller's string, never call into libc's time functions (no TZ
// lookups, no locale) and share no state: any thread may call them concurrently (the parser keeps
// a per-thread cache of the last minute it parsed).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

// Parses RFC3339 / RFC3339Nano ("2024-01-02T03:04:05.123456789Z", "...+02:00", "...-07:00") into
// nanoseconds since the Unix epoch. Accepted grammar (Go's time.RFC3339Nano parser, plus the
// lowercase 't'/'z' that RFC 3339 section 5.6 allows):
//   YYYY-MM-DD ('T'|'t') hh:mm:ss [ '.' 1*DIGIT ] ( 'Z' | 'z' | ('+'|'-') hh:mm )
// Day is checked against the month (leap years included), hour 0-23, minute/second 0-59 (no leap
// seconds, like Go), offset hour 0-23. Fraction digits beyond the ninth are accepted and
// truncated, as Go does. Returns false (leaving *unix_nanos untouched) on any syntax error or when
// the instant does not fit in int64 nanoseconds (roughly years 1677-2262).
bool ParseRfc3339Nano(std::string_view text, int64_t* unix_nanos);

// Appends `unix_nanos` as RFC3339Nano in UTC ("2024-01-02T03:04:05.1234Z"), like Go's
// t.UTC().Format(time.RFC3339Nano): trailing zeros of the fraction trimmed, no fraction at all
// when it is zero. Every int64 is representable (years 1677-2262), and the output always
// re-parses with ParseRfc3339Nano to the same value.
void AppendRfc3339Nano(int64_t unix_nanos, std::string* out);

// Longest text AppendRfc3339Nano produces ("2006-01-02T15:04:05.999999999Z").
inline constexpr size_t kMaxRfc3339NanoLength = 30;

}  // namespace sluice
