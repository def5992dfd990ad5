// Metrics registry: counters, gauges and histograms with Prometheus names and labels, rendered as
// the Prometheus text exposition format the way Prometheus' Go client renders it (values and
// bucket bounds formatted as Go's strconv 'g' -1, so that `le` labels match Alloy's exactly).
//
// Thread-safety: registration (Get*/Acquire*/Release) takes a mutex and is meant for start-up or
// rare paths (a file starts or stops being tailed); callers keep the returned pointer. Updating a
// Counter, Gauge or Histogram is lock-free (relaxed atomics), safe from any thread and cheap
// enough for per-read or per-batch (not per-line) use. RenderPrometheus may run on any thread
// (the HTTP server's) while others update. Owned by main (one per agent); tests build their own.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// Alloy's component_id and component_path labels of a component's metrics, from its global id:
// "loki.write.default" -> {loki.write.default, "/"}; "mod.x/loki.write.default" ->
// {loki.write.default, "/mod.x"} (the id inside a custom component, and the path to it).
std::pair<std::string, std::string> SplitComponentId(std::string_view global_id);
MetricLabels ComponentLabels(std::string_view global_id);
// The same, followed by `more` (a component's own labels: status_code, error, ...).
MetricLabels ComponentLabels(std::string_view global_id, MetricLabels more);

class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double d) {
    double cur = value_.load(std::memory_order_relaxed);
    while (!value_.compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
    }
  }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Fixed upper bounds (the +Inf bucket is implicit). Observe is lock-free: one relaxed add on the
// bucket's count and a CAS loop on the sum. A scrape concurrent with Observe may see the bucket
// counted and the sum not yet (as with the Go client, the series are consistent to within the
// observations in flight); _count is rendered as the sum of the buckets so that it always equals
// the +Inf bucket.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);

  const std::vector<double>& bounds() const { return bounds_; }
  // Observations in bucket i alone (not cumulative); i == bounds().size() is the +Inf bucket.
  uint64_t bucket(size_t i) const { return counts_[i].load(std::memory_order_relaxed); }
  uint64_t count() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// prometheus.DefBuckets of the Go client (Alloy's loki_write_request_duration_seconds uses them).
const std::vector<double>& DefaultHistogramBuckets();

// A float as Go's strconv.FormatFloat(v, 'g', -1, 64), with +Inf/-Inf/NaN as Prometheus writes
// them.
std::string FormatPromFloat(double v);

class MetricsRegistry {
 public:
  struct Options {
    // The Go client's process collector (process_cpu_seconds_total, process_*_memory_bytes,
    // process_open_fds, process_max_fds, process_start_time_seconds), read from /proc at each
    // render. On by default: every registry that is scraped should have them.
    bool process_metrics = true;
  };
  MetricsRegistry() : MetricsRegistry(Options{}) {}
  explicit MetricsRegistry(Options options);
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Returns the counter `name{labels}`, creating it (value 0) on first use. Series obtained this
  // way live as long as the registry.
  Counter* GetCounter(std::string_view name, std::string_view help,
                      const MetricLabels& labels = {});
  // A counter of integral nanoseconds rendered as seconds (a `_seconds_total` family: adding
  // integers stays a relaxed fetch_add, and no precision is lost over months of uptime).
  Counter* GetNanosCounter(std::string_view name, std::string_view help,
                           const MetricLabels& labels = {});
  Gauge* GetGauge(std::string_view name, std::string_view help, const MetricLabels& labels = {});
  // `bounds` of the family's first registration win (every series of a family shares them).
  Histogram* GetHistogram(std::string_view name, std::string_view help,
                          const std::vector<double>& bounds, const MetricLabels& labels = {});

  // Series that go away (Alloy deletes a file's series when it stops tailing it): each Acquire
  // counts one holder and returns the series (created at 0 on first use); ReleaseSeries drops a
  // holder, and the last one removes the series from the registry and frees it. A series also
  // obtained with Get* is never removed. Holders must not use the pointer after releasing it.
  Counter* AcquireCounter(std::string_view name, std::string_view help, const MetricLabels& labels);
  Gauge* AcquireGauge(std::string_view name, std::string_view help, const MetricLabels& labels);
  void ReleaseSeries(std::string_view name, const MetricLabels& labels);

  // Appends families computed at render time (Prometheus text, each with its # HELP/# TYPE) to
  // RenderPrometheus's output. Called under the registry's lock: must not call back into it.
  // Returns its id for RemoveCollector (a collector whose owner goes, e.g. a stage.metrics of a
  // graph a reload replaced, must go with it).
  uint64_t AddCollector(std::function<void(std::string*)> collect);
  void RemoveCollector(uint64_t id);

  // Value of a counter, 0 if it was never registered (tests and the exit summary).
  uint64_t CounterValue(std::string_view name, const MetricLabels& labels = {}) const;
  double GaugeValue(std::string_view name, const MetricLabels& labels = {}) const;
  // Whether the series exists (tests: removed series).
  bool HasSeries(std::string_view name, const MetricLabels& labels = {}) const;

  // Prometheus text format: registered families sorted by name, then the collectors' families.
  std::string RenderPrometheus() const;
  // One line per counter with a non-zero value, `name{labels} value` (exit summary in logs).
  std::vector<std::string> NonZeroCounters() const;

 private:
  enum class Type { kCounter, kNanosCounter, kGauge, kHistogram };
  template <typename T>
  struct Series {
    std::unique_ptr<T> metric;
    int holders = 0;      // Acquire*d and not yet released
    bool pinned = false;  // obtained with Get*: never removed
  };
  struct Family {
    std::string help;
    Type type = Type::kCounter;
    std::vector<double> bounds;                       // histograms
    std::map<std::string, Series<Counter>> counters;  // key: rendered label set
    std::map<std::string, Series<Gauge>> gauges;
    std::map<std::string, Series<Histogram>> histograms;
  };
  static std::string RenderLabels(const MetricLabels& labels);
  Family& FamilyFor(std::string_view name, std::string_view help, Type type);
  Counter* CounterSeries(std::string_view name, std::string_view help, Type type,
                         const MetricLabels& labels, bool acquire);
  Gauge* GaugeSeries(std::string_view name, std::string_view help, const MetricLabels& labels,
                     bool acquire);

  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;
  std::vector<std::pair<uint64_t, std::function<void(std::string*)>>> collectors_;
  uint64_t next_collector_ = 1;
};

// Prometheus' Go client process collector, as text; AddCollector-ready (MetricsRegistry adds it
// unless Options::process_metrics is false). Reads /proc/self/{stat,limits,fd} and /proc/stat.
void CollectProcessMetrics(std::string* out);

// Alloy's config-load metrics (alloy_config_last_load_successful, alloy_config_load_failures_total,
// alloy_config_last_load_success_timestamp_seconds, alloy_config_hash{sha256}); the runtime
// reports each load and reload. Any thread (calls are serialized by the caller's reload lock, or
// by there being one loader). Owned by whoever loads the config.
class ConfigLoadMetrics {
 public:
  explicit ConfigLoadMetrics(MetricsRegistry* metrics);
  // A load (or reload) succeeded with a config whose SHA-256 is `sha256_hex` ("" if not known).
  void Succeeded(std::string_view sha256_hex, double now_unix_seconds);
  // A load failed; the previous config (if any) stays in effect.
  void Failed();

 private:
  MetricsRegistry* metrics_;
  Gauge* last_successful_;
  Counter* failures_;
  Gauge* last_success_time_;
  std::string hash_;  // of the series alloy_config_hash currently exports
};

}  // namespace sluice
