// Control stages of loki.process: timestamp, drop, match, multiline and limit, with Alloy's
// argument names, defaults, checks and messages (internal/component/loki/process/stages).
//
// Every stage runs on its pipeline's thread (see pipeline.h) and is owned by its pipeline.

#include <cmath>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/common/log.h"
#include "agent/common/strings.h"
#include "agent/common/units.h"
#include "agent/go/regexp.h"
#include "agent/go/time.h"
#include "agent/process/logql.h"
#include "agent/process/pipeline.h"
#include "agent/process/stage.h"
#include "re2/re2.h"

namespace sluice {

namespace {

// Hash of a label set for per-stream state: hashes the pairs, so that lookups with an entry's
// labels allocate nothing.
struct LabelSetHash {
  size_t operator()(const LabelSet& l) const {
    return absl::Hash<std::vector<std::pair<std::string, std::string>>>()(l.labels());
  }
};

// Tracks whether a stage's decoding added diagnostics (the Diags may hold earlier stages' too).
class ErrorMark {
 public:
  explicit ErrorMark(const config::Decoder& d) : diags_(d.diags()), n_(diags_->list().size()) {}
  bool failed() const { return diags_->list().size() != n_; }

 private:
  const config::Diags* diags_;
  size_t n_;
};

// Go's regexp.Compile, as Alloy compiles these (error text included).
std::unique_ptr<RE2> CompileRegex(std::string_view pattern, std::string* error) {
  return CompileGoRegexp(pattern, error);
}

// =============================================================================================
// stage.timestamp
// =============================================================================================

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

// =============================================================================================
// stage.drop
// =============================================================================================

class DropStage final : public Stage {
 public:
  struct Config {
    std::vector<std::string> sources;  // `source` split at ','
    bool has_value = false;
    std::string value;
    std::string separator = ";";
    std::unique_ptr<RE2> expression;
    int64_t older_than_ns = 0;
    uint64_t longer_than = 0;
  };

  DropStage(Config cfg, const StageContext& ctx, std::string_view reason)
      : cfg_(std::move(cfg)), clock_(ctx.clock), dropped_(DroppedLinesCounter(ctx, reason)) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    if (!ShouldDrop(e)) {
      emit(std::move(e));
      return;
    }
    if (dropped_ != nullptr) dropped_->Inc();
  }

 private:
  // Every condition that is set must hold (Alloy checks them in this order and stops early).
  bool ShouldDrop(const ProcessEntry& e) {
    if (cfg_.longer_than != 0 && e.line.size() <= cfg_.longer_than) return false;
    if (cfg_.older_than_ns != 0 && e.timestamp_ns >= clock_->NowUnixNanos() - cfg_.older_than_ns) {
      return false;
    }
    const bool has_regex = cfg_.expression != nullptr || cfg_.has_value;
    if (!cfg_.sources.empty() && !has_regex) {
      for (const std::string& s : cfg_.sources) {
        if (!e.extracted.contains(s)) return false;
      }
    }
    if (cfg_.sources.empty() && cfg_.expression != nullptr) {
      if (!RE2::PartialMatch(e.line, *cfg_.expression)) return false;
    }
    if (!cfg_.sources.empty() && has_regex) {
      // The values of the sources present, joined with the separator (absent ones skipped).
      joined_.clear();
      bool first = true;
      for (const std::string& s : cfg_.sources) {
        auto it = e.extracted.find(s);
        if (it == e.extracted.end()) continue;
        if (!it->second.ToString(&scratch_)) return false;
        if (!first) joined_ += cfg_.separator;
        joined_ += scratch_;
        first = false;
      }
      // `value` is Alloy's "^QuoteMeta(value)$": an exact match.
      if (cfg_.has_value) return joined_ == cfg_.value;
      if (!RE2::PartialMatch(joined_, *cfg_.expression)) return false;
    }
    return true;
  }

  Config cfg_;
  const Clock* clock_;
  Counter* dropped_;
  std::string joined_;
  std::string scratch_;
};

// =============================================================================================
// stage.match
// =============================================================================================

class MatchStage final : public Stage {
 public:
  MatchStage(LogqlSelector selector, std::unique_ptr<ProcessPipeline> nested, Counter* dropped)
      : selector_(std::move(selector)), nested_(std::move(nested)), dropped_(dropped) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    if (!selector_.Matches(e.labels, e.line)) {
      emit(std::move(e));
      return;
    }
    if (nested_ == nullptr) {  // action = "drop"
      if (dropped_ != nullptr) dropped_->Inc();
      return;
    }
    nested_->Process(std::move(e), emit);
  }
  void Tick(int64_t now_mono_ns, EmitFn emit) override {
    if (nested_ != nullptr) nested_->Tick(now_mono_ns, emit);
  }
  void Flush(EmitFn emit) override {
    if (nested_ != nullptr) nested_->Flush(emit);
  }
  int64_t NextDeadline() const override {
    return nested_ != nullptr ? nested_->NextDeadline() : INT64_MAX;
  }
  void ForEachHeld(absl::FunctionRef<void(const ProcessEntry&)> fn) const override {
    if (nested_ != nullptr) nested_->ForEachHeld(fn);
  }
  bool Backlogged() const override { return nested_ != nullptr && nested_->Backlogged(); }

 private:
  LogqlSelector selector_;
  std::unique_ptr<ProcessPipeline> nested_;  // null for action = "drop"
  Counter* dropped_;
};

// =============================================================================================
// stage.multiline
// =============================================================================================

class MultilineStage final : public Stage {
 public:
  struct Config {
    std::unique_ptr<RE2> firstline;
    uint64_t max_lines = 128;
    int64_t max_wait_ns = 3'000'000'000;
    bool trim_newlines = true;
  };
  // A block is sent on when it reaches this size even below max_lines (max_lines = 0 means no
  // limit in Alloy): sluice bounds what it holds in memory.
  static constexpr size_t kMaxBlockBytes = 64u << 20;

  MultilineStage(Config cfg, const StageContext& ctx) : cfg_(std::move(cfg)), clock_(ctx.clock) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    const int64_t now = clock_->MonotonicNanos();
    auto found = index_.find(e.labels);
    Stream* s = found == index_.end() ? nullptr : &*found->second;
    // A block that waited too long goes before this entry is looked at (the timer may not have
    // fired yet); the stream's state stays.
    if (s != nullptr && s->lines > 0 && now - s->last_seen >= cfg_.max_wait_ns) {
      emit(TakeBlock(*s));
    }
    const bool first = RE2::PartialMatch(e.line, *cfg_.firstline);
    if (s == nullptr) {
      // Until a stream's first start line, its lines pass through unchanged.
      if (!first) {
        emit(std::move(e));
        return;
      }
      streams_.emplace_back();
      s = &streams_.back();
      s->key = e.labels;
      index_.emplace(s->key, std::prev(streams_.end()));
      found = index_.find(s->key);
    }
    if (s->lines > 0 && (first || e.source.file_id != s->block.source.file_id ||
                         e.source.generation != s->block.source.generation)) {
      // A new start line closes the block. So does a line of another file under the same
      // labels (sluice only): one entry's position range cannot span two files.
      emit(TakeBlock(*s));
    }
    if (first) {
      // The start line's labels, time, extracted values and metadata serve every block until
      // the next start line (also the blocks of lines after a max_lines or timeout flush).
      s->start.labels = std::move(e.labels);
      s->start.extracted = std::move(e.extracted);
      s->start.structured_metadata = std::move(e.structured_metadata);
      s->start.timestamp_ns = e.timestamp_ns;
    }
    std::string_view line = e.line;
    if (cfg_.trim_newlines) {
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    }
    if (s->lines == 0) {
      s->block.labels = s->start.labels;
      s->block.extracted = s->start.extracted;
      s->block.structured_metadata = s->start.structured_metadata;
      s->block.timestamp_ns = s->start.timestamp_ns;
      s->block.line.assign(line);
      s->block.source = e.source;
    } else {
      s->block.line.push_back('\n');
      s->block.line.append(line);
      s->block.source.end = e.source.end;
    }
    ++s->lines;
    s->last_seen = now;
    // Streams stay in order of last use, so that the oldest deadline is the first one.
    streams_.splice(streams_.end(), streams_, found->second);
    if (s->lines == cfg_.max_lines || s->block.line.size() >= kMaxBlockBytes) {
      emit(TakeBlock(*s));
    }
  }

  void Tick(int64_t now_mono_ns, EmitFn emit) override {
    // Streams idle for max_wait_time send their block and are forgotten (their next lines pass
    // through until a start line, as after Alloy's timer).
    while (!streams_.empty() && streams_.front().last_seen + cfg_.max_wait_ns <= now_mono_ns) {
      Stream& s = streams_.front();
      if (s.lines > 0) emit(TakeBlock(s));
      index_.erase(s.key);
      streams_.pop_front();
    }
  }

  void Flush(EmitFn emit) override {
    for (Stream& s : streams_) {
      if (s.lines > 0) emit(TakeBlock(s));
    }
    index_.clear();
    streams_.clear();
  }

  int64_t NextDeadline() const override {
    return streams_.empty() ? INT64_MAX : streams_.front().last_seen + cfg_.max_wait_ns;
  }

  void ForEachHeld(absl::FunctionRef<void(const ProcessEntry&)> fn) const override {
    for (const Stream& s : streams_) {
      if (s.lines > 0) fn(s.block);
    }
  }

 private:
  struct Stream {
    LabelSet key;
    ProcessEntry start;  // the last start line, without its line
    ProcessEntry block;  // the block being built
    uint64_t lines = 0;
    int64_t last_seen = 0;
  };

  static ProcessEntry TakeBlock(Stream& s) {
    ProcessEntry out = std::move(s.block);
    s.block = ProcessEntry();
    s.lines = 0;
    return out;
  }

  Config cfg_;
  const Clock* clock_;
  std::list<Stream> streams_;  // least recently used first
  absl::flat_hash_map<LabelSet, std::list<Stream>::iterator, LabelSetHash> index_;
};

// =============================================================================================
// stage.limit
// =============================================================================================

// A token bucket as golang.org/x/time/rate's Limiter: starts full with `burst` tokens, refills
// at `rate` per second up to `burst`; each line takes one.
class TokenBucket {
 public:
  TokenBucket(double rate, double burst) : rate_(rate), burst_(burst), tokens_(burst) {}

  bool Allow(int64_t now) {
    Advance(now);
    if (tokens_ >= 1) {
      tokens_ -= 1;
      return true;
    }
    return false;
  }
  // When the bucket will hold a whole token.
  int64_t NextTokenAt() const {
    if (tokens_ >= 1) return last_;
    const double wait_ns = std::ceil((1 - tokens_) / rate_ * 1e9);
    if (wait_ns > 9e18) return INT64_MAX;
    return last_ + static_cast<int64_t>(wait_ns);
  }

 private:
  void Advance(int64_t now) {
    if (!started_) {
      started_ = true;
      last_ = now;
      return;
    }
    if (now <= last_) return;
    tokens_ = std::min(burst_, tokens_ + static_cast<double>(now - last_) / 1e9 * rate_);
    last_ = now;
  }

  double rate_;
  double burst_;
  double tokens_;
  int64_t last_ = 0;
  bool started_ = false;
};

constexpr std::string_view kRateLimitDropReason = "ratelimit_drop_stage";

class LimitStage final : public Stage {
 public:
  struct Config {
    double rate = 0;
    int64_t burst = 0;
    bool drop = false;
    std::string by_label_name;
    int64_t max_distinct_labels = 0;
  };
  // With drop = false the stage holds what exceeds the rate and reports Backlogged(); the owner
  // then stops its input, so the queue grows only by what one input entry produces. This cap
  // guards against an owner that keeps sending anyway: past it, lines are dropped and counted.
  static constexpr size_t kMaxHeld = 4096;

  LimitStage(Config cfg, const StageContext& ctx)
      : cfg_(std::move(cfg)),
        clock_(ctx.clock),
        metrics_(ctx.metrics),
        component_id_(ctx.component_id),
        bucket_(cfg_.rate, static_cast<double>(cfg_.burst)),
        dropped_(DroppedLinesCounter(ctx, kRateLimitDropReason)) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    const int64_t now = clock_->MonotonicNanos();
    if (!cfg_.by_label_name.empty()) {
      const std::string* v = e.labels.Get(cfg_.by_label_name);
      if (v == nullptr) {  // lines without the label are not limited
        emit(std::move(e));
        return;
      }
      LabelBucket& b = GetOrCreate(*v);
      if (b.bucket.Allow(now)) {
        emit(std::move(e));
        return;
      }
      if (dropped_ != nullptr) dropped_->Inc();
      if (b.dropped == nullptr) b.dropped = ByLabelCounter(*v);
      if (b.dropped != nullptr) b.dropped->Inc();
      return;
    }
    if (cfg_.drop) {
      if (bucket_.Allow(now)) {
        emit(std::move(e));
      } else if (dropped_ != nullptr) {
        dropped_->Inc();
      }
      return;
    }
    if (held_.empty() && bucket_.Allow(now)) {
      emit(std::move(e));
      return;
    }
    if (held_.size() >= kMaxHeld) {
      if (dropped_ != nullptr) dropped_->Inc();
      return;
    }
    held_.push_back(std::move(e));
  }

  void Tick(int64_t now_mono_ns, EmitFn emit) override {
    while (!held_.empty() && bucket_.Allow(now_mono_ns)) {
      ProcessEntry e = std::move(held_.front());
      held_.pop_front();
      emit(std::move(e));
    }
  }

  // Shutdown or reload: everything held goes on without waiting for tokens (Alloy drops what
  // waits; sending it keeps the lines whose file positions may already be past them).
  void Flush(EmitFn emit) override {
    while (!held_.empty()) {
      ProcessEntry e = std::move(held_.front());
      held_.pop_front();
      emit(std::move(e));
    }
  }

  int64_t NextDeadline() const override {
    return held_.empty() ? INT64_MAX : bucket_.NextTokenAt();
  }
  void ForEachHeld(absl::FunctionRef<void(const ProcessEntry&)> fn) const override {
    for (const ProcessEntry& e : held_) fn(e);
  }
  bool Backlogged() const override { return !held_.empty(); }

 private:
  struct LabelBucket {
    TokenBucket bucket;
    Counter* dropped = nullptr;  // loki_process_dropped_lines_by_label_total for this value
  };

  // Alloy's GenerationalMap: at most max_distinct_labels values in the young generation; when
  // it fills it becomes the old one (values still in use are carried over on their next line).
  LabelBucket& GetOrCreate(const std::string& value) {
    auto it = young_.find(value);
    if (it != young_.end()) return it->second;
    auto old = old_.find(value);
    LabelBucket b = old != old_.end()
                        ? old->second
                        : LabelBucket{TokenBucket(cfg_.rate, static_cast<double>(cfg_.burst))};
    if (young_.size() + 1 >= static_cast<size_t>(cfg_.max_distinct_labels)) {
      old_ = std::move(young_);
      young_.clear();
    }
    return young_.emplace(value, b).first->second;
  }

  // The by-label series. Alloy resets them when its map turns over; sluice's registry cannot
  // remove series, so it creates at most max_distinct_labels of them.
  Counter* ByLabelCounter(const std::string& value) {
    if (metrics_ == nullptr) return nullptr;
    if (by_label_series_ >= static_cast<size_t>(cfg_.max_distinct_labels)) return nullptr;
    ++by_label_series_;
    MetricLabels labels;
    if (!component_id_.empty()) {
      labels.emplace_back("component_id", component_id_);
      labels.emplace_back("component_path", "/");
    }
    labels.emplace_back("label_name", cfg_.by_label_name);
    labels.emplace_back("label_value", value);
    return metrics_->GetCounter("loki_process_dropped_lines_by_label_total",
                                "A count of all log lines dropped as a result of a pipeline stage",
                                labels);
  }

  Config cfg_;
  const Clock* clock_;
  MetricsRegistry* metrics_;
  std::string component_id_;
  TokenBucket bucket_;
  Counter* dropped_;
  std::deque<ProcessEntry> held_;
  absl::flat_hash_map<std::string, LabelBucket> young_, old_;
  size_t by_label_series_ = 0;
};

}  // namespace

// =============================================================================================
// Constructors
// =============================================================================================

std::unique_ptr<Stage> NewTimestampStage(config::Decoder& d, const StageContext& ctx) {
  ErrorMark mark(d);
  std::string source, format, action_on_failure, action_on_duplicate;
  std::vector<std::string> fallback_formats;
  std::string location_name;
  d.String("source", &source, config::Required::kYes);
  d.String("format", &format, config::Required::kYes);
  d.StringList("fallback_formats", &fallback_formats);
  const bool has_location = d.String("location", &location_name);
  d.String("action_on_failure", &action_on_failure);
  d.String("action_on_duplicate_timestamp", &action_on_duplicate);
  d.Finish();
  if (mark.failed()) return nullptr;

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

std::unique_ptr<Stage> NewDropStage(config::Decoder& d, const StageContext& ctx) {
  ErrorMark mark(d);
  std::string reason, source, value, separator, expression;
  absl::Duration older_than = absl::ZeroDuration();
  uint64_t longer_than = 0;
  d.String("drop_counter_reason", &reason);
  // `source` is a string of comma-separated names; a list of names is accepted too (sluice).
  if (const config::Attr* a = d.Get("source")) {
    if (a->value.kind() == config::Value::Kind::kArray) {
      std::vector<std::string> list;
      if (d.StringList("source", &list)) source = absl::StrJoin(list, ",");
    } else {
      d.String("source", &source);
    }
  }
  d.String("value", &value);
  d.String("separator", &separator);
  d.String("expression", &expression);
  d.Duration("older_than", &older_than);
  if (const config::Attr* a = d.Get("longer_than")) {
    std::string error;
    if (a->value.kind() == config::Value::Kind::kNumber && a->value.is_int() &&
        a->value.as_int() >= 0) {
      longer_than = static_cast<uint64_t>(a->value.as_int());
    } else if (a->value.kind() != config::Value::Kind::kString) {
      d.Error(a->value_span, config::TypeMismatch("string", a->value));
    } else if (absl::StatusOr<int64_t> v = ParseBase2Bytes(a->value.as_string()); !v.ok()) {
      d.Error(a->value_span, std::string(Sv(v.status().message())));
    } else if (*v < 0) {
      d.Error(a->value_span,
              absl::StrCat("longer_than must not be negative: ", Av(a->value.as_string())));
    } else {
      longer_than = static_cast<uint64_t>(*v);
    }
  }
  d.Finish();
  if (mark.failed()) return nullptr;

  if (source.empty() && expression.empty() && older_than == absl::ZeroDuration() &&
      longer_than == 0) {
    d.Error(d.block().span,
            "drop stage config must contain at least one of `source`, `expression`, `older_than` "
            "or `longer_than`");
    return nullptr;
  }
  if (reason.empty()) reason = "drop_stage";
  if (!value.empty() && !expression.empty()) {
    d.Error(d.block().span,
            "drop stage config error, `value` and `expression` cannot both be defined at the same "
            "time");
    return nullptr;
  }
  if (separator.empty()) separator = ";";
  if (!value.empty() && source.empty()) {
    d.ErrorAt("value", "drop stage config must contain `source` if `value` is specified");
    return nullptr;
  }
  DropStage::Config cfg;
  if (!expression.empty()) {
    std::string error;
    cfg.expression = CompileRegex(expression, &error);
    if (cfg.expression == nullptr) {
      d.ErrorAt("expression", absl::StrCat("drop stage regex compilation error: ", error));
      return nullptr;
    }
  }
  if (!source.empty()) cfg.sources = absl::StrSplit(source, ',');
  cfg.has_value = !value.empty();
  cfg.value = std::move(value);
  cfg.separator = std::move(separator);
  cfg.older_than_ns = absl::ToInt64Nanoseconds(older_than);
  cfg.longer_than = longer_than;
  return std::make_unique<DropStage>(std::move(cfg), ctx, reason);
}

std::unique_ptr<Stage> NewMatchStage(config::Decoder& d, const StageContext& ctx) {
  ErrorMark mark(d);
  std::string selector, action, pipeline_name, reason;
  d.String("selector", &selector, config::Required::kYes);
  d.String("action", &action);
  d.String("pipeline_name", &pipeline_name);  // a name for logs in Alloy; nothing to do here
  d.String("drop_counter_reason", &reason);
  const std::vector<const config::Block*> blocks = d.BlocksWithPrefix("stage.");
  d.Finish();
  if (mark.failed()) return nullptr;

  if (selector.empty()) {
    d.ErrorAt("selector", "selector statement required for match stage");
    return nullptr;
  }
  if (action.empty()) action = "keep";
  if (action != "keep" && action != "drop") {
    d.ErrorAt("action", "match stage action should be 'keep' or 'drop'");
    return nullptr;
  }
  if (action == "keep" && blocks.empty()) {
    d.Error(d.block().span,
            "match stage requires at least one additional stage to be defined in '- stages'");
    return nullptr;
  }
  if (action == "drop" && !blocks.empty()) {
    d.Error(blocks[0]->span, "match stage configured to drop entries cannot contains stages");
    return nullptr;
  }
  absl::StatusOr<LogqlSelector> sel = LogqlSelector::Parse(selector);
  if (!sel.ok()) {
    d.ErrorAt("selector",
              absl::StrCat("invalid selector syntax for match stage: ", sel.status().message()));
    return nullptr;
  }
  std::unique_ptr<ProcessPipeline> nested;
  if (action == "keep") {
    std::vector<std::unique_ptr<Stage>> stages = BuildStages(blocks, d.diags(), ctx);
    if (mark.failed()) return nullptr;  // the nested stages reported at their own positions
    nested = std::make_unique<ProcessPipeline>(std::move(stages));
  }
  if (absl::Status st = sel->CompileFilters(); !st.ok()) {
    d.ErrorAt("selector", absl::StrCat("error parsing pipeline: ", st.message()));
    return nullptr;
  }
  if (reason.empty()) reason = "match_stage";
  return std::make_unique<MatchStage>(*std::move(sel), std::move(nested),
                                      DroppedLinesCounter(ctx, reason));
}

std::unique_ptr<Stage> NewMultilineStage(config::Decoder& d, const StageContext& ctx) {
  ErrorMark mark(d);
  std::string firstline;
  int64_t max_lines = 128;
  absl::Duration max_wait = absl::Seconds(3);
  MultilineStage::Config cfg;
  d.String("firstline", &firstline, config::Required::kYes);
  if (d.Int("max_lines", &max_lines) && max_lines < 0) {
    d.ErrorAt("max_lines", absl::StrCat("max_lines must not be negative, got ", max_lines));
  }
  d.Duration("max_wait_time", &max_wait);
  d.Bool("trim_newlines", &cfg.trim_newlines);
  d.Finish();
  if (mark.failed()) return nullptr;

  if (max_wait <= absl::ZeroDuration()) {
    d.ErrorAt("max_wait_time", "max_wait_time must be greater than 0");
    return nullptr;
  }
  if (firstline.empty()) {
    d.ErrorAt("firstline", "multiline stage config must define `firstline` regular expression");
    return nullptr;
  }
  std::string error;
  cfg.firstline = CompileRegex(firstline, &error);
  if (cfg.firstline == nullptr) {
    d.ErrorAt("firstline",
              absl::StrCat("multiline stage first line regex compilation error: ", error));
    return nullptr;
  }
  cfg.max_lines = static_cast<uint64_t>(max_lines);
  cfg.max_wait_ns = absl::ToInt64Nanoseconds(max_wait);
  return std::make_unique<MultilineStage>(std::move(cfg), ctx);
}

std::unique_ptr<Stage> NewLimitStage(config::Decoder& d, const StageContext& ctx) {
  ErrorMark mark(d);
  LimitStage::Config cfg;
  d.Float("rate", &cfg.rate, config::Required::kYes);
  d.Int("burst", &cfg.burst, config::Required::kYes);
  d.Bool("drop", &cfg.drop);
  d.String("by_label_name", &cfg.by_label_name);
  d.Int("max_distinct_labels", &cfg.max_distinct_labels);
  d.Finish();
  if (mark.failed()) return nullptr;

  if (cfg.rate <= 0 || cfg.burst <= 0) {
    d.Error(d.block().span, "limit stage failed to parse rate or burst");
    return nullptr;
  }
  if (!cfg.by_label_name.empty() && !cfg.drop) {
    d.Error(d.block().span, "when ratelimiting by label, drop must be true");
    return nullptr;
  }
  constexpr int64_t kMinDistinct = 10000;
  if (!cfg.by_label_name.empty() && cfg.max_distinct_labels < kMinDistinct) {
    if (cfg.max_distinct_labels != 0) {
      LogWarn(ctx.component_id,
              "max_distinct_labels was adjusted up to the minimal reasonable value of 10000");
    }
    cfg.max_distinct_labels = kMinDistinct;
  }
  return std::make_unique<LimitStage>(std::move(cfg), ctx);
}

}  // namespace sluice
