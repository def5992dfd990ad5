#include "agent/common/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <ctime>
#include <thread>
#include <vector>

#include "agent/common/log.h"

namespace sluice {
namespace {

TEST(MetricsTest, ComponentLabelsSplitTheGlobalIdAsAlloy) {
  EXPECT_EQ(ComponentLabels("loki.write.default"),
            (MetricLabels{{"component_id", "loki.write.default"}, {"component_path", "/"}}));
  EXPECT_EQ(ComponentLabels("a.x/b.y/loki.write.d"),
            (MetricLabels{{"component_id", "loki.write.d"}, {"component_path", "/a.x/b.y"}}));
}

TEST(MetricsTest, CountersAndGaugesRenderAsPrometheusText) {
  MetricsRegistry m({.process_metrics = false});
  Counter* c = m.GetCounter("x_total", "Things.", {{"reason", "a\"b"}, {"host", "h"}});
  c->Inc(3);
  EXPECT_EQ(m.GetCounter("x_total", "Things.", {{"host", "h"}, {"reason", "a\"b"}}), c)
      << "label order does not matter";
  m.GetGauge("y_bytes", "Bytes.")->Set(42);
  std::string text = m.RenderPrometheus();
  EXPECT_THAT(text, ::testing::HasSubstr("# TYPE x_total counter\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("x_total{host=\"h\",reason=\"a\\\"b\"} 3\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("# TYPE y_bytes gauge\ny_bytes 42\n"));
  EXPECT_EQ(m.CounterValue("x_total", {{"host", "h"}, {"reason", "a\"b"}}), 3u);
  EXPECT_EQ(m.CounterValue("missing_total"), 0u);
  EXPECT_EQ(m.NonZeroCounters().size(), 1u);
}

TEST(MetricsTest, FloatsAreFormattedAsGoFormatsThem) {
  // strconv.FormatFloat(v, 'g', -1, 64): what the Go client writes, bucket bounds included.
  EXPECT_EQ(FormatPromFloat(0), "0");
  EXPECT_EQ(FormatPromFloat(42), "42");
  EXPECT_EQ(FormatPromFloat(0.005), "0.005");
  EXPECT_EQ(FormatPromFloat(2.5), "2.5");
  EXPECT_EQ(FormatPromFloat(16384), "16384");
  EXPECT_EQ(FormatPromFloat(999999), "999999");
  EXPECT_EQ(FormatPromFloat(1048576), "1.048576e+06");
  EXPECT_EQ(FormatPromFloat(1e6), "1e+06");
  EXPECT_EQ(FormatPromFloat(0.0001), "0.0001");
  EXPECT_EQ(FormatPromFloat(0.00001), "1e-05");
  EXPECT_EQ(FormatPromFloat(-3.25), "-3.25");
  EXPECT_EQ(FormatPromFloat(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatPromFloat(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(FormatPromFloat(std::nan("")), "NaN");
}

TEST(MetricsTest, HistogramRendersCumulativeBucketsSumAndCount) {
  MetricsRegistry m({.process_metrics = false});
  Histogram* h =
      m.GetHistogram("req_seconds", "Durations.", {0.1, 1, 2.5}, {{"host", "h"}, {"code", "200"}});
  EXPECT_EQ(m.GetHistogram("req_seconds", "Durations.", {}, {{"code", "200"}, {"host", "h"}}), h);
  h->Observe(0.05);
  h->Observe(0.1);  // le is inclusive
  h->Observe(2);
  h->Observe(30);
  EXPECT_EQ(h->count(), 4u);
  EXPECT_DOUBLE_EQ(h->sum(), 32.15);
  EXPECT_EQ(m.RenderPrometheus(),
            "# HELP req_seconds Durations.\n"
            "# TYPE req_seconds histogram\n"
            "req_seconds_bucket{code=\"200\",host=\"h\",le=\"0.1\"} 2\n"
            "req_seconds_bucket{code=\"200\",host=\"h\",le=\"1\"} 2\n"
            "req_seconds_bucket{code=\"200\",host=\"h\",le=\"2.5\"} 3\n"
            "req_seconds_bucket{code=\"200\",host=\"h\",le=\"+Inf\"} 4\n"
            "req_seconds_sum{code=\"200\",host=\"h\"} 32.15\n"
            "req_seconds_count{code=\"200\",host=\"h\"} 4\n");

  Histogram* plain = m.GetHistogram("plain_seconds", "No labels.", DefaultHistogramBuckets());
  plain->Observe(0.2);
  std::string text = m.RenderPrometheus();
  EXPECT_THAT(text, ::testing::HasSubstr("plain_seconds_bucket{le=\"0.005\"} 0\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("plain_seconds_bucket{le=\"0.25\"} 1\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("plain_seconds_bucket{le=\"10\"} 1\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("plain_seconds_count 1\n"));
}

TEST(MetricsTest, HistogramObserveIsSafeFromManyThreads) {
  Histogram h(DefaultHistogramBuckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h] {
      for (int i = 0; i < 10000; ++i) h.Observe(0.5);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(h.count(), 40000u);
  EXPECT_DOUBLE_EQ(h.sum(), 20000);
}

TEST(MetricsTest, NanosCounterRendersSeconds) {
  MetricsRegistry m({.process_metrics = false});
  m.GetNanosCounter("paused_seconds_total", "Paused.")->Inc(1'500'000'000);
  EXPECT_THAT(
      m.RenderPrometheus(),
      ::testing::HasSubstr("# TYPE paused_seconds_total counter\npaused_seconds_total 1.5\n"));
}

TEST(MetricsTest, AcquiredSeriesGoAwayWithTheirLastHolder) {
  MetricsRegistry m({.process_metrics = false});
  MetricLabels a = {{"path", "/a"}};
  Gauge* g1 = m.AcquireGauge("read_bytes", "Read.", a);
  Gauge* g2 = m.AcquireGauge("read_bytes", "Read.", a);
  EXPECT_EQ(g1, g2);
  g1->Set(7);
  m.AcquireCounter("lines_total", "Lines.", a)->Inc(3);
  m.ReleaseSeries("read_bytes", a);
  EXPECT_TRUE(m.HasSeries("read_bytes", a)) << "one holder left";
  m.ReleaseSeries("read_bytes", a);
  m.ReleaseSeries("lines_total", a);
  EXPECT_FALSE(m.HasSeries("read_bytes", a));
  EXPECT_FALSE(m.HasSeries("lines_total", a));
  EXPECT_THAT(m.RenderPrometheus(), ::testing::Not(::testing::HasSubstr("/a")));
  // A series also pinned by Get* stays.
  m.AcquireCounter("lines_total", "Lines.", a);
  m.GetCounter("lines_total", "Lines.", a);
  m.ReleaseSeries("lines_total", a);
  EXPECT_TRUE(m.HasSeries("lines_total", a));
}

TEST(MetricsTest, ProcessMetricsAreComputedAtScrapeTime) {
  MetricsRegistry m;
  std::string text = m.RenderPrometheus();
  auto value = [&text](const std::string& name) -> double {
    size_t at = text.find("\n" + name + " ");
    if (at == std::string::npos) return -1;
    return std::strtod(text.c_str() + at + name.size() + 2, nullptr);
  };
  for (const char* type :
       {"# TYPE process_cpu_seconds_total counter\n",
        "# TYPE process_resident_memory_bytes gauge\n",
        "# TYPE process_virtual_memory_bytes gauge\n", "# TYPE process_open_fds gauge\n",
        "# TYPE process_max_fds gauge\n", "# TYPE process_start_time_seconds gauge\n"}) {
    EXPECT_THAT(text, ::testing::HasSubstr(type));
  }
  EXPECT_GE(value("process_cpu_seconds_total"), 0);
  EXPECT_GT(value("process_resident_memory_bytes"), 1e5);
  EXPECT_GT(value("process_virtual_memory_bytes"), value("process_resident_memory_bytes"));
  EXPECT_GE(value("process_open_fds"), 3);
  EXPECT_GE(value("process_max_fds"), value("process_open_fds"));
  double now = static_cast<double>(time(nullptr));
  EXPECT_GT(value("process_start_time_seconds"), now - 3600);
  EXPECT_LE(value("process_start_time_seconds"), now + 1);
  // More memory in use shows at the next scrape.
  std::vector<char> big(64 << 20, 1);
  double before = value("process_resident_memory_bytes");
  text = m.RenderPrometheus();
  EXPECT_GT(value("process_resident_memory_bytes"), before + (32 << 20)) << big[12345];
}

TEST(MetricsTest, ConfigLoadMetricsFollowLoads) {
  MetricsRegistry m({.process_metrics = false});
  ConfigLoadMetrics c(&m);
  c.Succeeded("aaa", 1000);
  EXPECT_EQ(m.GaugeValue("alloy_config_last_load_successful"), 1);
  EXPECT_EQ(m.GaugeValue("alloy_config_hash", {{"sha256", "aaa"}}), 1);
  c.Failed();
  EXPECT_EQ(m.GaugeValue("alloy_config_last_load_successful"), 0);
  EXPECT_EQ(m.CounterValue("alloy_config_load_failures_total"), 1u);
  c.Succeeded("bbb", 2000);
  EXPECT_FALSE(m.HasSeries("alloy_config_hash", {{"sha256", "aaa"}}));
  EXPECT_EQ(m.GaugeValue("alloy_config_hash", {{"sha256", "bbb"}}), 1);
  EXPECT_EQ(m.GaugeValue("alloy_config_last_load_success_timestamp_seconds"), 2000);
  EXPECT_THAT(m.RenderPrometheus(),
              ::testing::HasSubstr("# TYPE alloy_config_last_load_successful gauge\n"
                                   "alloy_config_last_load_successful 1\n"));
}

TEST(LogTest, FormatsLogfmtWithQuoting) {
  std::string line =
      FormatLogLine("2026-01-01T00:00:00.000Z", LogLevel::kWarn, "tail", "file truncated",
                    {{"path", "/a b"}, {"n", "3"}, {"q", "x\"y\n"}});
  EXPECT_EQ(line,
            "ts=2026-01-01T00:00:00.000Z level=warn component=tail msg=\"file truncated\" "
            "path=\"/a b\" n=3 q=\"x\\\"y\\n\"");
  LogLevel level;
  EXPECT_TRUE(ParseLogLevel("debug", &level));
  EXPECT_EQ(level, LogLevel::kDebug);
  EXPECT_FALSE(ParseLogLevel("loud", &level));
}

}  // namespace
}  // namespace sluice
