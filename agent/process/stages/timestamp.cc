// stage.timestamp: the entry's time parsed from an extracted value (Unix forms or Go layouts),
// with Alloy's fudging of failed and duplicate timestamps, as Alloy's timestamp stage.
//
// Owned by its pipeline (agent/process/pipeline.h: a loki.process component's, or the nested one
// of a stage.match) and run on that pipeline's thread, the tail thread (see stage.h).
#include "agent/process/stages/registry.h"

#include <cmath>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "agent/go/time.h"
#include "agent/process/stage.h"
#include "agent/process/stages/stage_util.h"

namespace sluice {
namespace {

using stage_util::LabelSetHash;
using stage_util::StageErrors;

// Last parsed and last emitted timestamp per label set, the `fudge` memory of Alloy's stage:
// an LRU of at most 10,000 label sets (Alloy's maxLastKnownTimestampsCacheSize).
class LastTimestamps {
 public:
  struct Value {
    int64_t parsed = 0;
    int64_t adjusted = 0;
  };
  static constexpr size_t kCapacity = 10000;

  // The value for `labels` (marked most recently used), or null.
  Value* Get(const LabelSet& labels) {
    auto it = index_.find(labels);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.end(), order_, it->second);
    return &it->second->value;
  }
  void Set(const LabelSet& labels, Value v) {
    if (Value* cur = Get(labels)) {
      *cur = v;
      return;
    }
    if (order_.size() >= kCapacity) {
      index_.erase(order_.front().key);
      order_.pop_front();
    }
    order_.push_back(Node{labels, v});
    index_.emplace(order_.back().key, std::prev(order_.end()));
  }
  size_t size() const { return order_.size(); }

 private:
  struct Node {
    LabelSet key;
    Value value;
  };
  std::list<Node> order_;  // least recently used first
  absl::flat_hash_map<LabelSet, std::list<Node>::iterator, LabelSetHash> index_;
};

// One way to read a timestamp: Alloy's Unix* names, a named Go layout (read in UTC, names of
// zones looked up in the local zone, as time.Parse does), or a custom Go layout (read in
// `location` when one is set, as time.ParseInLocation does).
class TimestampFormat {
 public:
  enum class Kind { kUnix, kUnixMs, kUnixUs, kUnixNs, kLayout };

  TimestampFormat(std::string_view format, const GoZone* location, const Clock* clock)
      : clock_(clock) {
    if (format == "Unix") {
      kind_ = Kind::kUnix;
    } else if (format == "UnixMs") {
      kind_ = Kind::kUnixMs;
    } else if (format == "UnixUs") {
      kind_ = Kind::kUnixUs;
    } else if (format == "UnixNs") {
      kind_ = Kind::kUnixNs;
    } else if (std::string_view named = GoNamedLayout(format); !named.empty()) {
      layout_.emplace(named);
    } else {
      layout_.emplace(format);
      location_ = location;
      // Alloy's test for a layout without a year: no "06" anywhere in it.
      yearless_ = format.find("06") == std::string_view::npos;
    }
  }

  // Parses `s` into nanoseconds since the epoch; false when it does not parse or is out of the
  // range of int64 nanoseconds (years 1678..2262).
  bool Parse(std::string_view s, int64_t* out) const {
    switch (kind_) {
      case Kind::kUnix:
        return ParseUnix(s, out);
      case Kind::kUnixMs:
        return ParseScaled(s, 1'000'000, out);
      case Kind::kUnixUs:
        return ParseScaled(s, 1'000, out);
      case Kind::kUnixNs:
        return ParseScaled(s, 1, out);
      case Kind::kLayout:
        break;
    }
    GoTime t;
    const GoZone& def = location_ != nullptr ? *location_ : utc_;
    const GoZone& local = location_ != nullptr ? *location_ : GoZone::Local();
    if (!layout_->Parse(s, def, local, &t, nullptr)) return false;
    if (yearless_) {
      // Alloy refuses a year that was read after all, then puts the timestamp in the year of
      // "now" (the previous one for a December timestamp read in January, the next one for a
      // January timestamp read in December).
      if (t.Year() != 0) return false;
      const absl::TimeZone local_tz = GoZone::Local().tz();
      const absl::CivilSecond now =
          absl::ToCivilSecond(absl::FromUnixNanos(clock_->NowUnixNanos()), local_tz);
      const int month = absl::ToCivilSecond(t.instant, t.zone).month();
      int64_t year = now.year();
      if (month == 12 && now.month() == 1) {
        year -= 1;
      } else if (month == 1 && now.month() == 12) {
        year += 1;
      }
      t = t.AddYears(year);
    }
    return ToNanos(t.instant, out);
  }

 private:
  static bool ToNanos(absl::Time t, int64_t* out) {
    static const absl::Time kMin = absl::FromUnixNanos(INT64_MIN);
    static const absl::Time kMax = absl::FromUnixNanos(INT64_MAX);
    if (t < kMin || t > kMax) return false;
    *out = absl::ToUnixNanos(t);
    return true;
  }

  // Go's strconv.ParseInt(s, 10, 64).
  static bool ParseInt(std::string_view s, int64_t* out) {
    bool neg = false;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
      neg = s[0] == '-';
      s.remove_prefix(1);
    }
    if (s.empty()) return false;
    uint64_t v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      if (v > (UINT64_MAX - static_cast<uint64_t>(c - '0')) / 10) return false;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (neg) {
      if (v > static_cast<uint64_t>(INT64_MAX) + 1) return false;
      *out = static_cast<int64_t>(0 - v);
    } else {
      if (v > static_cast<uint64_t>(INT64_MAX)) return false;
      *out = static_cast<int64_t>(v);
    }
    return true;
  }

  static bool ParseScaled(std::string_view s, int64_t scale, int64_t* out) {
    int64_t v;
    if (!ParseInt(s, &v)) return false;
    return !__builtin_mul_overflow(v, scale, out);
  }

  // "1562708916" or "1562708916.000000123": with one '.', the fraction's digits scaled to
  // nanoseconds as Alloy does (in floating point).
  static bool ParseUnix(std::string_view s, int64_t* out) {
    int64_t sec = 0, nsec = 0;
    const size_t dot = s.find('.');
    if (dot != std::string_view::npos && s.find('.', dot + 1) == std::string_view::npos) {
      std::string_view frac_s = s.substr(dot + 1);
      int64_t frac;
      if (!ParseInt(s.substr(0, dot), &sec) || !ParseInt(frac_s, &frac)) return false;
      nsec = static_cast<int64_t>(static_cast<double>(frac) *
                                  std::pow(10.0, 9.0 - static_cast<double>(frac_s.size())));
    } else if (!ParseInt(s, &sec)) {
      return false;
    }
    int64_t ns;
    if (__builtin_mul_overflow(sec, int64_t{1'000'000'000}, &ns)) return false;
    return !__builtin_add_overflow(ns, nsec, out);
  }

  Kind kind_ = Kind::kLayout;
  std::optional<GoLayout> layout_;
  const GoZone* location_ = nullptr;
  bool yearless_ = false;
  const Clock* clock_;
  GoZone utc_ = GoZone::Utc();
};

class TimestampStage final : public Stage {
 public:
  TimestampStage(std::string source, std::vector<TimestampFormat> formats,
                 std::unique_ptr<GoZone> location, bool fudge_on_failure, bool fudge_duplicates)
      : source_(std::move(source)),
        location_(std::move(location)),
        formats_(std::move(formats)),
        fudge_on_failure_(fudge_on_failure),
        fudge_duplicates_(fudge_duplicates) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    int64_t parsed;
    if (!ParseFromExtracted(e, &parsed)) {
      // fudge: 1ns after the last timestamp this stream got, so that order survives in Loki;
      // with nothing known yet the entry keeps its time. skip: it keeps its time.
      if (fudge_on_failure_) {
        if (LastTimestamps::Value* last = last_.Get(e.labels)) {
          e.timestamp_ns = last->adjusted + 1;
          last->adjusted = e.timestamp_ns;
        }
      }
      emit(std::move(e));
      return;
    }
    e.timestamp_ns = parsed;
    if (fudge_on_failure_ || fudge_duplicates_) {
      LastTimestamps::Value* last = last_.Get(e.labels);
      if (fudge_duplicates_ && last != nullptr && last->parsed == parsed) {
        e.timestamp_ns = last->adjusted + 1;
      }
      if (last != nullptr) {
        *last = {parsed, e.timestamp_ns};
      } else {
        last_.Set(e.labels, {parsed, e.timestamp_ns});
      }
    }
    emit(std::move(e));
  }

 private:
  bool ParseFromExtracted(const ProcessEntry& e, int64_t* out) {
    auto it = e.extracted.find(source_);
    if (it == e.extracted.end()) return false;
    const std::string* s = &it->second.str;
    if (it->second.kind != ExtractedValue::Kind::kString) {
      if (!it->second.ToString(&scratch_)) return false;
      s = &scratch_;
    }
    // The first format's failure is what counts; fallbacks are tried in order.
    for (const TimestampFormat& f : formats_) {
      if (f.Parse(*s, out)) return true;
    }
    return false;
  }

  std::string source_;
  std::unique_ptr<GoZone> location_;  // referenced by formats_
  std::vector<TimestampFormat> formats_;
  bool fudge_on_failure_;
  bool fudge_duplicates_;
  LastTimestamps last_;
  std::string scratch_;
};

}  // namespace

std::unique_ptr<Stage> NewTimestampStage(config::Decoder& d, const StageContext& ctx) {
  StageErrors errs(d);
  std::string source, format, action_on_failure, action_on_duplicate;
  std::vector<std::string> fallback_formats;
  std::string location_name;
  d.String("source", &source, config::Required::kYes);
  d.String("format", &format, config::Required::kYes);
  d.StringList("fallback_formats", &fallback_formats);
  const bool has_location = d.String("location", &location_name);
  d.String("action_on_failure", &action_on_failure);
  d.String("action_on_duplicate_timestamp", &action_on_duplicate);
  if (!errs.Finish()) return nullptr;

  if (source.empty()) {
    d.ErrorAt("source", "timestamp source value is required if timestamp is specified");
    return nullptr;
  }
  if (format.empty()) {
    d.ErrorAt("format", "timestamp format is required");
    return nullptr;
  }
  std::unique_ptr<GoZone> location;
  if (has_location) {
    absl::StatusOr<GoZone> z = GoZone::Load(location_name);
    if (!z.ok()) {
      // Alloy's message keeps a literal "%v" (its error text is used as a format twice).
      d.ErrorAt("location", absl::StrCat("invalid location specified: %v: ", z.status().message()));
      return nullptr;
    }
    location = std::make_unique<GoZone>(*std::move(z));
  }
  if (action_on_failure.empty()) action_on_failure = "fudge";
  if (action_on_failure != "fudge" && action_on_failure != "skip") {
    d.ErrorAt("action_on_failure", "invalid action on failure (supported values are [skip fudge])");
    return nullptr;
  }
  if (action_on_duplicate.empty()) action_on_duplicate = "fudge";
  if (action_on_duplicate != "fudge" && action_on_duplicate != "keep") {
    d.ErrorAt("action_on_duplicate_timestamp",
              "invalid action on duplicate timestamp (supported values are [keep fudge])");
    return nullptr;
  }
  std::vector<TimestampFormat> formats;
  formats.emplace_back(format, location.get(), ctx.clock);
  for (const std::string& f : fallback_formats) {
    formats.emplace_back(f, location.get(), ctx.clock);
  }
  return std::make_unique<TimestampStage>(std::move(source), std::move(formats),
                                          std::move(location), action_on_failure == "fudge",
                                          action_on_duplicate == "fudge");
}

}  // namespace sluice
