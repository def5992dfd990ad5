#include "agent/common/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/common/log.h"

namespace sluice {
namespace {

TEST(MetricsTest, CountersAndGaugesRenderAsPrometheusText) {
  MetricsRegistry m;
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
