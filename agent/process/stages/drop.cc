// stage.drop: entries dropped by age, length, extracted values or a regular expression, counted
// in loki_process_dropped_lines_total, as Alloy's drop stage.
//
// Owned by its pipeline (agent/process/pipeline.h: a loki.process component's, or the nested one
// of a stage.match) and run on that pipeline's thread, the tail thread (see stage.h).
#include "agent/process/stages/registry.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "agent/common/strings.h"
#include "agent/common/units.h"
#include "agent/go/regexp.h"
#include "agent/process/pipeline.h"
#include "agent/process/stage.h"
#include "agent/process/stages/stage_util.h"
#include "re2/re2.h"

namespace sluice {
namespace {

using stage_util::StageErrors;

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
      if (!RE2::PartialMatch(e.line.view(), *cfg_.expression)) return false;
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

}  // namespace

std::unique_ptr<Stage> NewDropStage(config::Decoder& d, const StageContext& ctx) {
  StageErrors errs(d);
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
  if (!errs.Finish()) return nullptr;

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
    cfg.expression = CompileGoRegexp(expression, &error);
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

}  // namespace sluice
