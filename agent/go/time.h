// Go's time layouts: parsing timestamps the way Go's time.Parse and time.ParseInLocation do, for
// stage.timestamp (Alloy passes a custom `format` straight to Go).
//
// A layout is written with Go's reference time, Mon Jan 2 15:04:05 MST 2006: "2006-01-02" reads
// a date, "Jan _2 15:04:05.000" a syslog time with milliseconds, "Z07:00" an ISO 8601 zone. Any
// text that is no element is literal. GoLayout compiles a layout once into its elements so that
// each line only walks a short list; GoZone is a time zone with the abbreviation table Go uses
// to read "MST"-style zone names. The behaviour follows Go's time package case by case: two
// digits at most for non-fixed numbers, a fraction accepted after seconds even when the layout
// has none, ".999" taking any number of digits, an unknown zone abbreviation read as offset 0,
// "GMT+3" kept as a name whose offset does not move the instant, Feb 30 refused, and so on.
//
// Immutable after construction; safe to share between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sluice {

// A time zone as Go's *time.Location: the zone rules plus the distinct (abbreviation, offset)
// pairs the zone ever uses, which Go consults to read an abbreviation such as "EST".
class GoZone {
 public:
  static GoZone Utc();
  // The process's local zone (TZ, else /etc/localtime), loaded once. Go's time.Local.
  static const GoZone& Local();
  // Go's time.LoadLocation: "" and "UTC" are UTC, "Local" is Local, anything else an IANA name
  // ("America/New_York"). Errors read as Go's: "unknown time zone X", "time: invalid location
  // name".
  static absl::StatusOr<GoZone> Load(std::string_view name);
  // A zone of one fixed offset (what Go's FixedZone makes from a parsed "-0700").
  static GoZone Fixed(int offset_seconds);

  const absl::TimeZone& tz() const { return tz_; }
  // Go's Location.lookupName: the offset of abbreviation `name` at about `unix_sec` (a zone of
  // that name in effect then wins, else the first zone of that name). False when the zone never
  // uses that abbreviation (always for UTC, which has no table).
  bool LookupName(std::string_view name, int64_t unix_sec, int* offset) const;

 private:
  explicit GoZone(absl::TimeZone tz) : tz_(tz) {}
  void LoadAbbreviations();

  absl::TimeZone tz_;
  std::vector<std::pair<std::string, int>> zones_;  // distinct (abbreviation, offset) pairs
};

// A parsed time: the instant and the zone Go would attach to it (the zone matters only when the
// civil fields are read back, e.g. to add a year to a year-less timestamp).
struct GoTime {
  absl::Time instant;
  absl::TimeZone zone;

  // Calendar year of the instant in `zone` (Go's Time.Year()).
  int64_t Year() const;
  // Go's Time.AddDate(years, 0, 0): same civil fields `years` later in `zone`, normalised (Feb
  // 29 of a non-leap year becomes Mar 1).
  GoTime AddYears(int64_t years) const;
};

class GoLayout {
 public:
  explicit GoLayout(std::string_view layout);

  const std::string& layout() const { return layout_; }

  // Parses `value`. Go's time.Parse is Parse(value, GoZone::Utc(), GoZone::Local(), ...);
  // time.ParseInLocation(loc) is Parse(value, loc, loc, ...). `default_zone` interprets a value
  // without zone information; `local` is searched for zone abbreviations and numeric offsets.
  // On failure returns false and, when `error` is not null, sets Go's message (`parsing time
  // "x" as "layout": cannot parse "y" as "z"`); callers on the data path pass null so that a
  // failed attempt costs no allocation.
  bool Parse(std::string_view value, const GoZone& default_zone, const GoZone& local, GoTime* out,
             std::string* error) const;

  enum class Std : uint8_t;

 private:
  struct Chunk {
    std::string prefix;  // literal text before the element
    Std std;             // kNone for the final literal
    int frac_digits = 0;
    std::string stdstr;  // the element as written (for error messages)
  };

  std::string layout_;
  std::vector<Chunk> chunks_;
};

// Go's reference layouts by their constant names (Alloy's `format` shorthands):
// "ANSIC" -> "Mon Jan _2 15:04:05 2006", ... "RFC3339Nano". Empty when `name` is none of them.
std::string_view GoNamedLayout(std::string_view name);

}  // namespace sluice
