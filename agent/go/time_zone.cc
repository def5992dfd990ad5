// Go's *time.Location as GoZone (loading, abbreviation tables) and GoTime's calendar arithmetic;
// the layouts are time.cc. See time.h.
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
#include "agent/go/time.h"

namespace sluice {

// ---- GoZone --------------------------------------------------------------------------------

GoZone GoZone::Utc() { return GoZone(absl::UTCTimeZone()); }

GoZone GoZone::Fixed(int offset_seconds) { return GoZone(absl::FixedTimeZone(offset_seconds)); }

const GoZone& GoZone::Local() {
  static const GoZone* local = [] {
    auto* z = new GoZone(absl::LocalTimeZone());
    z->LoadAbbreviations();
    return z;
  }();
  return *local;
}

absl::StatusOr<GoZone> GoZone::Load(std::string_view name) {
  if (name.empty() || name == "UTC") return Utc();
  if (name == "Local") return Local();
  // Go refuses names that could leave the zoneinfo directory.
  bool dotdot = false;
  for (size_t i = 0; i + 1 < name.size(); ++i) {
    if (name[i] == '.' && name[i + 1] == '.' && (i == 0 || name[i - 1] == '/') &&
        (i + 2 == name.size() || name[i + 2] == '/')) {
      dotdot = true;
    }
  }
  if (dotdot || name[0] == '/' || name[0] == '\\') {
    return absl::InvalidArgumentError("time: invalid location name");
  }
  absl::TimeZone tz;
  if (!absl::LoadTimeZone(Av(name), &tz)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown time zone ", Av(name)));
  }
  GoZone z(tz);
  z.LoadAbbreviations();
  return z;
}

void GoZone::LoadAbbreviations() {
  auto add = [this](absl::Time t) {
    absl::TimeZone::CivilInfo ci = tz_.At(t);
    std::string abbr(ci.zone_abbr);
    for (const auto& [name, offset] : zones_) {
      if (name == abbr && offset == ci.offset) return;
    }
    zones_.emplace_back(std::move(abbr), ci.offset);
  };
  absl::TimeZone::CivilTransition trans;
  absl::Time t = absl::InfinitePast();
  bool first = true;
  // Transitions run on forever for zones with a daylight-saving rule; the years up to 2100 hold
  // every abbreviation the rule uses.
  const absl::Time end = absl::FromUnixSeconds(4102444800);  // 2100-01-01
  for (int i = 0; i < 5000 && tz_.NextTransition(t, &trans); ++i) {
    absl::Time at = tz_.At(trans.to).post;
    if (first) {
      add(at - absl::Seconds(1));
      first = false;
    }
    add(at);
    if (at > end || at <= t) break;
    t = at;
  }
  if (first) add(absl::UnixEpoch());
}

bool GoZone::LookupName(std::string_view name, int64_t unix_sec, int* offset) const {
  for (const auto& [abbr, off] : zones_) {
    if (abbr != name) continue;
    absl::TimeZone::CivilInfo ci = tz_.At(absl::FromUnixSeconds(unix_sec - off));
    if (ci.zone_abbr == abbr) {
      *offset = ci.offset;
      return true;
    }
  }
  for (const auto& [abbr, off] : zones_) {
    if (abbr == name) {
      *offset = off;
      return true;
    }
  }
  return false;
}

// ---- GoTime --------------------------------------------------------------------------------

int64_t GoTime::Year() const { return absl::ToCivilYear(instant, zone).year(); }

GoTime GoTime::AddYears(int64_t years) const {
  absl::TimeZone::CivilInfo ci = zone.At(instant);
  absl::CivilSecond c = ci.cs;
  absl::CivilSecond moved(c.year() + years, c.month(), c.day(), c.hour(), c.minute(), c.second());
  return GoTime{absl::FromCivil(moved, zone) + ci.subsecond, zone};
}

}  // namespace sluice
