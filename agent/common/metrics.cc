#include "agent/common/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"

namespace sluice {

// ---- Histogram -------------------------------------------------------------------------------

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  // Few bounds (a dozen): a linear scan beats a binary search's branches. `le` is inclusive.
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  double cur = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

uint64_t Histogram::count() const {
  uint64_t n = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) n += bucket(i);
  return n;
}

const std::vector<double>& DefaultHistogramBuckets() {
  static const std::vector<double> kBuckets = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
  return kBuckets;
}

std::string FormatPromFloat(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Go's 'g' with the shortest precision: the shortest digits that round-trip, in %e form when
  // the decimal exponent is < -4 or >= 6 (strconv: "if precision was the shortest possible, use
  // precision 6 for this decision"), else in %f form. to_chars gives the same shortest digits.
  char sci[64];
  auto r = std::to_chars(sci, sci + sizeof(sci), v, std::chars_format::scientific);
  std::string_view s(sci, static_cast<size_t>(r.ptr - sci));
  size_t e = s.find('e');
  int exp = std::atoi(std::string(s.substr(e + 1)).c_str());
  if (exp < -4 || exp >= 6) return std::string(s);  // to_chars writes e+06 like Go
  char fixed[64];
  r = std::to_chars(fixed, fixed + sizeof(fixed), v, std::chars_format::fixed);
  return std::string(fixed, static_cast<size_t>(r.ptr - fixed));
}

// ---- Registry ----------------------------------------------------------------------------------

MetricsRegistry::MetricsRegistry(Options options) {
  if (options.process_metrics) collectors_.emplace_back(next_collector_++, CollectProcessMetrics);
}

std::string MetricsRegistry::RenderLabels(const MetricLabels& labels) {
  if (labels.empty()) return "";
  MetricLabels sorted = labels;
  std::sort(sorted.begin(), sorted.end());
  std::string out = "{";
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (i) out += ',';
    absl::StrAppend(&out, sorted[i].first, "=\"");
    for (char c : sorted[i].second) {
      if (c == '\\' || c == '"') {
        out += '\\';
        out += c;
      } else if (c == '\n') {
        out += "\\n";
      } else {
        out += c;
      }
    }
    out += '"';
  }
  out += '}';
  return out;
}

MetricsRegistry::Family& MetricsRegistry::FamilyFor(std::string_view name, std::string_view help,
                                                    Type type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{}).first;
    it->second.help = std::string(help);
    it->second.type = type;
  }
  return it->second;
}

Counter* MetricsRegistry::CounterSeries(std::string_view name, std::string_view help, Type type,
                                        const MetricLabels& labels, bool acquire) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = FamilyFor(name, help, type).counters[RenderLabels(labels)];
  if (!slot.metric) slot.metric = std::make_unique<Counter>();
  if (acquire) {
    ++slot.holders;
  } else {
    slot.pinned = true;
  }
  return slot.metric.get();
}

Gauge* MetricsRegistry::GaugeSeries(std::string_view name, std::string_view help,
                                    const MetricLabels& labels, bool acquire) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = FamilyFor(name, help, Type::kGauge).gauges[RenderLabels(labels)];
  if (!slot.metric) slot.metric = std::make_unique<Gauge>();
  if (acquire) {
    ++slot.holders;
  } else {
    slot.pinned = true;
  }
  return slot.metric.get();
}

Counter* MetricsRegistry::GetCounter(std::string_view name, std::string_view help,
                                     const MetricLabels& labels) {
  return CounterSeries(name, help, Type::kCounter, labels, false);
}

Counter* MetricsRegistry::GetNanosCounter(std::string_view name, std::string_view help,
                                          const MetricLabels& labels) {
  return CounterSeries(name, help, Type::kNanosCounter, labels, false);
}

Gauge* MetricsRegistry::GetGauge(std::string_view name, std::string_view help,
                                 const MetricLabels& labels) {
  return GaugeSeries(name, help, labels, false);
}

Histogram* MetricsRegistry::GetHistogram(std::string_view name, std::string_view help,
                                         const std::vector<double>& bounds,
                                         const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = FamilyFor(name, help, Type::kHistogram);
  if (f.histograms.empty() && f.bounds.empty()) f.bounds = bounds;
  auto& slot = f.histograms[RenderLabels(labels)];
  if (!slot.metric) slot.metric = std::make_unique<Histogram>(f.bounds);
  slot.pinned = true;
  return slot.metric.get();
}

Counter* MetricsRegistry::AcquireCounter(std::string_view name, std::string_view help,
                                         const MetricLabels& labels) {
  return CounterSeries(name, help, Type::kCounter, labels, true);
}

Gauge* MetricsRegistry::AcquireGauge(std::string_view name, std::string_view help,
                                     const MetricLabels& labels) {
  return GaugeSeries(name, help, labels, true);
}

void MetricsRegistry::ReleaseSeries(std::string_view name, const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return;
  std::string key = RenderLabels(labels);
  auto release = [&key](auto& series) {
    auto s = series.find(key);
    if (s == series.end()) return;
    if (s->second.holders > 0) --s->second.holders;
    if (s->second.holders == 0 && !s->second.pinned) series.erase(s);
  };
  release(it->second.counters);
  release(it->second.gauges);
  // The family stays (its HELP/TYPE with no series is valid text format, and keeps its type).
}

uint64_t MetricsRegistry::AddCollector(std::function<void(std::string*)> collect) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t id = next_collector_++;
  collectors_.emplace_back(id, std::move(collect));
  return id;
}

void MetricsRegistry::RemoveCollector(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(collectors_, [id](const auto& c) { return c.first == id; });
}

uint64_t MetricsRegistry::CounterValue(std::string_view name, const MetricLabels& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  auto c = it->second.counters.find(RenderLabels(labels));
  return c == it->second.counters.end() ? 0 : c->second.metric->value();
}

double MetricsRegistry::GaugeValue(std::string_view name, const MetricLabels& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  auto g = it->second.gauges.find(RenderLabels(labels));
  return g == it->second.gauges.end() ? 0 : g->second.metric->value();
}

bool MetricsRegistry::HasSeries(std::string_view name, const MetricLabels& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return false;
  std::string key = RenderLabels(labels);
  return it->second.counters.contains(key) || it->second.gauges.contains(key) ||
         it->second.histograms.contains(key);
}

namespace {

// `{a="b"}` + `le="0.5"` -> `{a="b",le="0.5"}` (the Go client puts le last).
std::string WithLe(const std::string& labels, const std::string& le) {
  if (labels.empty()) return absl::StrCat("{le=\"", le, "\"}");
  return absl::StrCat(Av(std::string_view(labels).substr(0, labels.size() - 1)), ",le=\"", le,
                      "\"}");
}

}  // namespace

std::string MetricsRegistry::RenderPrometheus() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    const char* type = " counter\n";
    if (family.type == Type::kGauge) type = " gauge\n";
    if (family.type == Type::kHistogram) type = " histogram\n";
    absl::StrAppend(&out, "# HELP ", name, " ", family.help, "\n# TYPE ", name, type);
    for (const auto& [labels, c] : family.counters) {
      uint64_t v = c.metric->value();
      absl::StrAppend(&out, name, labels, " ",
                      family.type == Type::kNanosCounter
                          ? FormatPromFloat(static_cast<double>(v) / 1e9)
                          : FormatPromFloat(static_cast<double>(v)),
                      "\n");
    }
    for (const auto& [labels, g] : family.gauges) {
      absl::StrAppend(&out, name, labels, " ", FormatPromFloat(g.metric->value()), "\n");
    }
    for (const auto& [labels, h] : family.histograms) {
      const Histogram& hist = *h.metric;
      uint64_t cumulative = 0;
      for (size_t i = 0; i < hist.bounds().size(); ++i) {
        cumulative += hist.bucket(i);
        absl::StrAppend(&out, name, "_bucket", WithLe(labels, FormatPromFloat(hist.bounds()[i])),
                        " ", FormatPromFloat(static_cast<double>(cumulative)), "\n");
      }
      cumulative += hist.bucket(hist.bounds().size());
      absl::StrAppend(&out, name, "_bucket", WithLe(labels, "+Inf"), " ",
                      FormatPromFloat(static_cast<double>(cumulative)), "\n");
      absl::StrAppend(&out, name, "_sum", labels, " ", FormatPromFloat(hist.sum()), "\n");
      absl::StrAppend(&out, name, "_count", labels, " ",
                      FormatPromFloat(static_cast<double>(cumulative)), "\n");
    }
  }
  for (const auto& [id, collect] : collectors_) collect(&out);
  return out;
}

std::vector<std::string> MetricsRegistry::NonZeroCounters() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, family] : families_) {
    for (const auto& [labels, c] : family.counters) {
      uint64_t v = c.metric->value();
      if (v == 0) continue;
      out.push_back(absl::StrCat(name, labels, " ",
                                 family.type == Type::kNanosCounter
                                     ? FormatPromFloat(static_cast<double>(v) / 1e9)
                                     : std::to_string(v)));
    }
  }
  return out;
}

// ---- Process metrics ---------------------------------------------------------------------------

namespace {

std::string ReadSmallFile(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void AppendFamily(std::string* out, std::string_view name, std::string_view type,
                  std::string_view help, double value) {
  absl::StrAppend(out, "# HELP ", Av(name), " ", Av(help), "\n# TYPE ", Av(name), " ", Av(type),
                  "\n", Av(name), " ", FormatPromFloat(value), "\n");
}

}  // namespace

void CollectProcessMetrics(std::string* out) {
  // /proc/self/stat: the fields after the command's closing parenthesis (the command may hold
  // spaces and parentheses itself), numbered from 3 (state) as in proc(5).
  std::string stat = ReadSmallFile("/proc/self/stat");
  size_t paren = stat.rfind(')');
  std::vector<std::string> fields;
  if (paren != std::string::npos) {
    std::istringstream in(stat.substr(paren + 1));
    std::string f;
    while (in >> f) fields.push_back(f);
  }
  auto field = [&fields](size_t n) -> double {  // proc(5) field number n (>= 3)
    return n - 3 < fields.size() ? std::strtod(fields[n - 3].c_str(), nullptr) : 0;
  };
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));

  double boot_time = 0;
  {
    std::istringstream in(ReadSmallFile("/proc/stat"));
    std::string key;
    while (in >> key) {
      if (key == "btime") {
        in >> boot_time;
        break;
      }
    }
  }

  double open_fds = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++open_fds;
    }
    closedir(d);
    // The directory's own descriptor was counted: the Go client counts it too (procfs opens the
    // directory the same way), so the numbers agree.
  }
  auto limit = [](int resource) -> double {
    rlimit rl;
    if (getrlimit(resource, &rl) != 0) return 0;
    // Go's procfs reads "unlimited" as the largest uint64.
    return rl.rlim_cur == RLIM_INFINITY ? 18446744073709551615.0 : static_cast<double>(rl.rlim_cur);
  };

  // Sorted by name, as the Go client renders them.
  AppendFamily(out, "process_cpu_seconds_total", "counter",
               "Total user and system CPU time spent in seconds.", (field(14) + field(15)) / ticks);
  AppendFamily(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
               limit(RLIMIT_NOFILE));
  AppendFamily(out, "process_open_fds", "gauge", "Number of open file descriptors.", open_fds);
  AppendFamily(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
               field(24) * page);
  AppendFamily(out, "process_start_time_seconds", "gauge",
               "Start time of the process since unix epoch in seconds.",
               boot_time + field(22) / ticks);
  AppendFamily(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
               field(23));
  AppendFamily(out, "process_virtual_memory_max_bytes", "gauge",
               "Maximum amount of virtual memory available in bytes.", limit(RLIMIT_AS));
}

// ---- Config load metrics -----------------------------------------------------------------------

ConfigLoadMetrics::ConfigLoadMetrics(MetricsRegistry* metrics)
    : metrics_(metrics),
      last_successful_(
          metrics->GetGauge("alloy_config_last_load_successful", "Config loaded successfully.")),
      failures_(
          metrics->GetCounter("alloy_config_load_failures_total", "Configuration load failures.")),
      last_success_time_(
          metrics->GetGauge("alloy_config_last_load_success_timestamp_seconds",
                            "Timestamp of the last successful configuration load.")) {}

void ConfigLoadMetrics::Succeeded(std::string_view sha256_hex, double now_unix_seconds) {
  last_successful_->Set(1);
  last_success_time_->Set(now_unix_seconds);
  if (sha256_hex == hash_) return;
  // One series, the hash of the config in effect: the previous one goes.
  if (!hash_.empty()) metrics_->ReleaseSeries("alloy_config_hash", {{"sha256", hash_}});
  hash_ = std::string(sha256_hex);
  if (!hash_.empty()) {
    metrics_
        ->AcquireGauge("alloy_config_hash", "Hash of the currently active config file.",
                       {{"sha256", hash_}})
        ->Set(1);
  }
}

void ConfigLoadMetrics::Failed() {
  last_successful_->Set(0);
  failures_->Inc();
}

std::pair<std::string, std::string> SplitComponentId(std::string_view global_id) {
  size_t slash = global_id.rfind('/');
  if (slash == std::string_view::npos) return {std::string(global_id), "/"};
  return {std::string(global_id.substr(slash + 1)), "/" + std::string(global_id.substr(0, slash))};
}

MetricLabels ComponentLabels(std::string_view global_id) {
  auto [id, path] = SplitComponentId(global_id);
  return {{"component_id", std::move(id)}, {"component_path", std::move(path)}};
}

MetricLabels ComponentLabels(std::string_view global_id, MetricLabels more) {
  MetricLabels l = ComponentLabels(global_id);
  for (auto& p : more) l.push_back(std::move(p));
  return l;
}

}  // namespace sluice
