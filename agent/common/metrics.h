// Metrics registry: counters and gauges with Prometheus names and labels, rendered as the
// Prometheus text exposition format.
//
// Thread-safety: registration (Get*) takes a mutex and is meant for start-up or rare paths;
// callers keep the returned pointer, which stays valid for the registry's lifetime. Updating a
// Counter or Gauge is a relaxed atomic add, safe from any thread and cheap enough for per-batch
// (not per-line) use. Owned by the Agent; tests build their own registry.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

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

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Returns the counter `name{labels}`, creating it (value 0) on first use.
  Counter* GetCounter(std::string_view name, std::string_view help,
                      const MetricLabels& labels = {});
  Gauge* GetGauge(std::string_view name, std::string_view help, const MetricLabels& labels = {});

  // Value of a counter, 0 if it was never registered (tests and the exit summary).
  uint64_t CounterValue(std::string_view name, const MetricLabels& labels = {}) const;
  double GaugeValue(std::string_view name, const MetricLabels& labels = {}) const;

  // Prometheus text format, families sorted by name.
  std::string RenderPrometheus() const;
  // One line per counter with a non-zero value, `name{labels} value` (exit summary in logs).
  std::vector<std::string> NonZeroCounters() const;

 private:
  struct Family {
    std::string help;
    bool is_counter = true;
    std::map<std::string, std::unique_ptr<Counter>> counters;  // key: rendered label set
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
  };
  static std::string RenderLabels(const MetricLabels& labels);

  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;
};

}  // namespace sluice
