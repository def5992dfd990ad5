// stage.metrics: counters, gauges and histograms defined from log entries (metric.counter,
// metric.gauge, metric.histogram blocks), as Alloy's metrics stage: each named
// `prefix` + `name` (prefix default "loki_process_custom_"), one series per entry label set
// (plus component_id and component_path), fed from the extracted value `source` (default: the
// metric's name), optionally only when it equals `value`; a counter with match_all counts every
// entry (or its bytes with count_entry_bytes). Series not updated for max_idle_duration
// (default 5m) are removed. They are rendered on /metrics with the agent's own.
//
// Owned by its pipeline and run on the tail thread; the series are read by the /metrics
// renderer under the stage's mutex. The renderer holds the series by shared_ptr, so a stage
// dropped by a reload leaves an empty family behind, not a dangling one.
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/common/metrics.h"
#include "agent/go/json.h"
#include "agent/process/stage.h"
#include "agent/process/stages/registry.h"
#include "agent/process/stages/stage_util.h"

namespace sluice {
namespace {

using stage_util::StageErrors;

enum class Kind { kCounter, kGauge, kHistogram };

struct MetricDef {
  Kind kind = Kind::kCounter;
  std::string name;  // with the prefix
  std::string help;
  std::string source;
  std::optional<std::string> value;
  bool match_all = false;
  bool count_bytes = false;
  std::string action;
  absl::Duration max_idle = absl::Minutes(5);
  std::vector<double> buckets;
};

struct SeriesState {
  double value = 0;
  std::vector<uint64_t> counts;  // histogram: per bucket, then +Inf
  double sum = 0;
  uint64_t count = 0;
  int64_t last_ns = 0;
};

// The stage's series, shared with the /metrics collector.
struct Families {
  std::mutex mu;
  std::vector<MetricDef> defs;
  // Per metric: rendered label text -> series.
  std::vector<std::map<std::string, SeriesState>> series;  // guarded by mu
};

void AppendNumber(double v, std::string* out) {
  if (std::isnan(v)) {
    out->append("NaN");
  } else if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
  } else {
    AppendGoJsonNumber(v, out);
  }
}

std::string LabelText(const LabelSet& labels, const MetricLabels& component) {
  std::vector<std::pair<std::string, std::string>> all(component.begin(), component.end());
  for (const auto& [k, v] : labels.labels()) {
    if (k.substr(0, 2) != "__") all.emplace_back(k, v);
  }
  std::sort(all.begin(), all.end());
  std::string out;
  for (const auto& [k, v] : all) {
    if (!out.empty()) out.push_back(',');
    absl::StrAppend(&out, k, "=\"");
    for (char c : v) {
      if (c == '\\' || c == '"') out.push_back('\\');
      if (c == '\n') {
        out.append("\\n");
        continue;
      }
      out.push_back(c);
    }
    out.push_back('"');
  }
  return out;
}

void Render(Families& f, std::string* out) {
  std::lock_guard<std::mutex> lock(f.mu);
  for (size_t i = 0; i < f.defs.size(); ++i) {
    const MetricDef& d = f.defs[i];
    if (f.series[i].empty()) continue;
    const char* type = d.kind == Kind::kCounter ? "counter"
                       : d.kind == Kind::kGauge ? "gauge"
                                                : "histogram";
    absl::StrAppend(out, "# HELP ", d.name, " ", d.help, "\n# TYPE ", d.name, " ", type, "\n");
    for (const auto& [labels, s] : f.series[i]) {
      if (d.kind != Kind::kHistogram) {
        absl::StrAppend(out, d.name, labels.empty() ? "" : "{", labels, labels.empty() ? "" : "}",
                        " ");
        AppendNumber(s.value, out);
        out->push_back('\n');
        continue;
      }
      uint64_t cum = 0;
      for (size_t b = 0; b <= d.buckets.size(); ++b) {
        cum += s.counts[b];
        std::string le;
        if (b < d.buckets.size()) {
          AppendNumber(d.buckets[b], &le);
        } else {
          le = "+Inf";
        }
        absl::StrAppend(out, d.name, "_bucket{", labels, labels.empty() ? "" : ",", "le=\"", le,
                        "\"} ", cum, "\n");
      }
      absl::StrAppend(out, d.name, "_sum", labels.empty() ? "" : "{", labels,
                      labels.empty() ? "" : "}", " ");
      AppendNumber(s.sum, out);
      absl::StrAppend(out, "\n", d.name, "_count", labels.empty() ? "" : "{", labels,
                      labels.empty() ? "" : "}", " ", s.count, "\n");
    }
  }
}

class MetricsStage final : public Stage {
 public:
  MetricsStage(std::shared_ptr<Families> f, const StageContext& ctx)
      : f_(std::move(f)),
        clock_(ctx.clock),
        component_(ComponentLabels(ctx.component_id)),
        metrics_(ctx.metrics) {
    if (metrics_ != nullptr) {
      std::weak_ptr<Families> weak = f_;
      collector_ = metrics_->AddCollector([weak](std::string* out) {
        if (std::shared_ptr<Families> f = weak.lock()) Render(*f, out);
      });
    }
  }
  // A reload builds the stage again: the old one's collector goes with it, so /metrics never
  // lists a family twice.
  ~MetricsStage() override {
    if (metrics_ != nullptr) metrics_->RemoveCollector(collector_);
  }

  void Process(ProcessEntry&& e, EmitFn emit) override {
    const int64_t now = clock_ != nullptr ? clock_->MonotonicNanos() : 0;
    std::string labels;  // rendered once, for the first metric that records
    std::string text;
    std::lock_guard<std::mutex> lock(f_->mu);
    for (size_t i = 0; i < f_->defs.size(); ++i) {
      const MetricDef& d = f_->defs[i];
      auto series = [&]() -> SeriesState& {
        if (labels.empty()) labels = LabelText(e.labels, component_);
        SeriesState& s = f_->series[i][labels];
        if (d.kind == Kind::kHistogram && s.counts.empty())
          s.counts.assign(d.buckets.size() + 1, 0);
        s.last_ns = now;
        return s;
      };
      if (d.kind == Kind::kCounter && d.match_all) {
        series().value += d.count_bytes ? static_cast<double>(e.line.size()) : 1.0;
        continue;
      }
      const ExtractedValue* v = stage_util::FindExtracted(e, d.source);
      if (v == nullptr) continue;
      text.clear();
      const bool has_text = v->ToString(&text);
      if (d.value && (!has_text || text != *d.value)) continue;
      double num = 0;
      const bool has_num = v->kind == ExtractedValue::Kind::kNumber
                               ? (num = v->num, true)
                               : has_text && absl::SimpleAtod(text, &num);
      if (d.kind == Kind::kCounter) {
        if (d.action == "inc") {
          series().value += 1;
        } else if (has_num) {
          // Prometheus refuses a negative add to a counter (Alloy logs it and skips).
          if (num >= 0) series().value += num;
        }
      } else if (d.kind == Kind::kGauge) {
        if (d.action == "inc") {
          series().value += 1;
        } else if (d.action == "dec") {
          series().value -= 1;
        } else if (has_num) {
          SeriesState& s = series();
          if (d.action == "set") s.value = num;
          if (d.action == "add") s.value += num;
          if (d.action == "sub") s.value -= num;
        }
      } else if (has_num) {
        SeriesState& s = series();
        size_t b = 0;
        while (b < d.buckets.size() && num > d.buckets[b]) ++b;
        ++s.counts[b];
        s.sum += num;
        ++s.count;
      }
    }
    // Idle series go, checked at most once a second.
    if (now - last_sweep_ >= 1'000'000'000) {
      last_sweep_ = now;
      for (size_t i = 0; i < f_->defs.size(); ++i) {
        const int64_t idle = absl::ToInt64Nanoseconds(f_->defs[i].max_idle);
        auto& m = f_->series[i];
        for (auto it = m.begin(); it != m.end();) {
          it = now - it->second.last_ns > idle ? m.erase(it) : std::next(it);
        }
      }
    }
    emit(std::move(e));
  }

 private:
  std::shared_ptr<Families> f_;
  const Clock* clock_;
  MetricLabels component_;
  MetricsRegistry* metrics_;
  uint64_t collector_ = 0;
  int64_t last_sweep_ = 0;
};

}  // namespace

std::unique_ptr<Stage> NewMetricsStage(config::Decoder& d, const StageContext& ctx) {
  StageErrors errs(d);
  auto f = std::make_shared<Families>();
  for (const config::Block* b : d.BlocksWithPrefix("metric.")) {
    config::Decoder md(*b, d.diags());
    MetricDef m;
    std::string kind = b->name.substr(7), name, prefix = "loki_process_custom_";
    if (kind == "counter") {
      m.kind = Kind::kCounter;
    } else if (kind == "gauge") {
      m.kind = Kind::kGauge;
    } else if (kind == "histogram") {
      m.kind = Kind::kHistogram;
    } else {
      md.Error(b->span, absl::StrCat("unrecognized block name \"", b->name, "\""));
      continue;
    }
    md.String("name", &name, config::Required::kYes);
    md.String("description", &m.help);
    md.String("prefix", &prefix);
    m.source = name;
    md.String("source", &m.source);
    std::string value;
    if (md.String("value", &value)) m.value = value;
    md.Duration("max_idle_duration", &m.max_idle);
    if (m.kind == Kind::kCounter) {
      md.Bool("match_all", &m.match_all);
      md.Bool("count_entry_bytes", &m.count_bytes);
      md.String("action", &m.action, config::Required::kYes);
      if (m.action != "inc" && m.action != "add") {
        md.ErrorAt("action", "the 'action' counter field must be either 'inc' or 'add'");
      } else if (m.match_all && m.value) {
        md.ErrorAt("match_all",
                   "a 'counter' metric supports either 'match_all' or a 'value', but not both");
      } else if (m.count_bytes && (!m.match_all || m.action != "add")) {
        md.ErrorAt("count_entry_bytes",
                   "the 'count_entry_bytes' counter field must be specified along with match_all "
                   "set to true or action set to 'add'");
      }
    } else if (m.kind == Kind::kGauge) {
      md.String("action", &m.action, config::Required::kYes);
      if (m.action != "set" && m.action != "inc" && m.action != "dec" && m.action != "add" &&
          m.action != "sub") {
        md.ErrorAt("action",
                   "the 'action' gauge field must be one of the following values: [set, inc, dec, "
                   "add, sub]");
      }
    } else {
      const config::Attr* a = md.Get("buckets", config::Required::kYes);
      if (a != nullptr && a->value.kind() == config::Value::Kind::kArray) {
        for (const config::Value& v : a->value.as_array()) {
          if (v.kind() != config::Value::Kind::kNumber) {
            md.ErrorAt("buckets", "buckets must be numbers");
            break;
          }
          m.buckets.push_back(v.as_double());
        }
        std::sort(m.buckets.begin(), m.buckets.end());
      }
    }
    if (m.max_idle < absl::Seconds(1)) {
      md.ErrorAt("max_idle_duration", "max_idle_duration must be greater or equal than 1s");
    }
    m.name = prefix + name;
    if (!IsValidLabelName(m.name))
      md.ErrorAt("name", absl::StrCat("invalid metric name: ", m.name));
    if (!md.Finish()) continue;
    f->defs.push_back(std::move(m));
  }
  if (!errs.Finish()) return nullptr;
  f->series.resize(f->defs.size());
  return std::make_unique<MetricsStage>(std::move(f), ctx);
}

}  // namespace sluice
