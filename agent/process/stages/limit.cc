// stage.limit: a token-bucket rate limit, dropping or holding what exceeds it (optionally per
// value of a label), as Alloy's limit stage.
//
// Owned by its pipeline (agent/process/pipeline.h: a loki.process component's, or the nested one
// of a stage.match) and run on that pipeline's thread, the tail thread (see stage.h).
#include "agent/process/stages/registry.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "agent/common/log.h"
#include "agent/process/pipeline.h"
#include "agent/process/stage.h"
#include "agent/process/stages/stage_util.h"

namespace sluice {
namespace {

using stage_util::StageErrors;

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
      LabelValue v = e.labels.Get(cfg_.by_label_name);
      if (!v) {  // lines without the label are not limited
        emit(std::move(e));
        return;
      }
      const std::string value(*v);
      LabelBucket& b = GetOrCreate(value);
      if (b.bucket.Allow(now)) {
        emit(std::move(e));
        return;
      }
      if (dropped_ != nullptr) dropped_->Inc();
      if (b.dropped == nullptr) b.dropped = ByLabelCounter(value);
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
  bool Timed() const override { return true; }

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
      labels = ComponentLabels(component_id_);
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

std::unique_ptr<Stage> NewLimitStage(config::Decoder& d, const StageContext& ctx) {
  StageErrors errs(d);
  LimitStage::Config cfg;
  d.Float("rate", &cfg.rate, config::Required::kYes);
  d.Int("burst", &cfg.burst, config::Required::kYes);
  d.Bool("drop", &cfg.drop);
  d.String("by_label_name", &cfg.by_label_name);
  d.Int("max_distinct_labels", &cfg.max_distinct_labels);
  if (!errs.Finish()) return nullptr;

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
