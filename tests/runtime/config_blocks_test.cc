// The top-level blocks that are not components, and logging.write_to's forwarder: lines queued
// from any thread reach every receiver on the event loop as {component="alloy"} entries stamped
// when written; past the queue's bound they are dropped and counted; after Stop() nothing is
// queued. The event loop is run by hand (no thread, no sleep).
#include "agent/runtime/config_blocks.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/common/log.h"
#include "agent/components/component.h"
#include "tests/support/block_builder.h"

namespace sluice {
namespace {

using ::sluice::testing::BlockBuilder;
using ::sluice::testing::Num;
using ::sluice::testing::Str;

class Collect final : public LogsNode {
 public:
  void Push(ProcessEntry& e) override { got.push_back(e); }
  void PushMark(uint64_t, uint64_t, int64_t) override {}
  std::vector<ProcessEntry> got;
};

TEST(LogForwarderTest, LinesReachEveryReceiverLabelledAsAlloysOwn) {
  boost::asio::io_context io;
  FakeClock clock;
  MetricsRegistry metrics;
  Collect a, b;
  LogForwarder f(&io, &clock, &metrics, {&a, &b});
  f.Enqueue("ts=x level=info msg=one\n");
  f.Enqueue("ts=y level=warn msg=two\n");
  EXPECT_TRUE(a.got.empty()) << "handed over on the event loop, not on the logging thread";
  io.run();
  ASSERT_EQ(a.got.size(), 2u);
  ASSERT_EQ(b.got.size(), 2u);
  EXPECT_EQ(a.got[0].labels.RenderLoki(), "{component=\"alloy\"}");
  EXPECT_EQ(a.got[1].line, "ts=y level=warn msg=two\n");
  EXPECT_EQ(b.got[1].line, "ts=y level=warn msg=two\n");
  EXPECT_EQ(a.got[0].timestamp_ns, clock.NowUnixNanos());
  EXPECT_EQ(metrics.CounterValue("sluice_logging_write_to_lines_total"), 2u);
}

TEST(LogForwarderTest, FullQueueDropsAndCounts) {
  boost::asio::io_context io;
  FakeClock clock;
  MetricsRegistry metrics;
  Collect a;
  LogForwarder f(&io, &clock, &metrics, {&a});
  std::string line(100 * 1024, 'x');
  for (int i = 0; i < 12; ++i) f.Enqueue(line);  // 1.2 MiB against a 1 MiB queue
  EXPECT_EQ(metrics.CounterValue("sluice_logging_write_to_dropped_total"), 2u);
  io.run();
  EXPECT_EQ(a.got.size(), 10u);
  // Drained: there is room again.
  f.Enqueue("again\n");
  io.restart();
  io.run();
  EXPECT_EQ(a.got.size(), 11u);
}

TEST(LogForwarderTest, TapFeedsTheQueueUntilStopped) {
  boost::asio::io_context io;
  FakeClock clock;
  MetricsRegistry metrics;
  Collect a;
  LogForwarder f(&io, &clock, &metrics, {&a});
  f.Start();
  LogAlways(LogLevel::kInfo, "test", "through the tap", {{"k", "v w"}});
  f.Stop();
  LogAlways(LogLevel::kInfo, "test", "after stop");
  io.run();
  EXPECT_TRUE(a.got.empty()) << "Stop() drops what was queued";
  f.Start();
  LogAlways(LogLevel::kInfo, "test", "through the tap");
  io.restart();
  io.run();
  f.Stop();
  ASSERT_EQ(a.got.size(), 1u);
  EXPECT_NE(a.got[0].line.find("msg=\"through the tap\""), std::string::npos) << a.got[0].line;
}

TEST(LogFormatTest, JsonLineHasTheLogfmtKeysInOrder) {
  EXPECT_EQ(FormatJsonLogLine("2026-01-01T00:00:00.000Z", LogLevel::kWarn, "loki.write",
                              "push \"failed\"", {{"host", "loki:3100"}}),
            "{\"ts\":\"2026-01-01T00:00:00.000Z\",\"level\":\"warn\",\"component\":\"loki.write\","
            "\"msg\":\"push \\\"failed\\\"\",\"host\":\"loki:3100\"}");
}

bool Apply(const std::string& name, const config::Block& b, std::string* error) {
  boost::asio::io_context io;
  MetricsRegistry metrics;
  ComponentEnv env;
  env.io = &io;
  env.clock = RealClock::Get();
  env.metrics = &metrics;
  std::unique_ptr<LogForwarder> fwd;
  config::Diags diags;
  bool ok = ApplyConfigBlock(name, b, env, &fwd, &diags) && diags.ok();
  if (!diags.list().empty()) *error = diags.list()[0].message;
  return ok;
}

TEST(ConfigBlocksTest, AlloysArgumentsAndChecks) {
  std::string error;
  EXPECT_TRUE(Apply(
      "livedebugging",
      BlockBuilder("livedebugging").Attr("enabled", config::Value::Bool(true)).Build(), &error));
  EXPECT_TRUE(Apply("tracing", BlockBuilder("tracing").Attr("sampling_fraction", Num(0.5)).Build(),
                    &error));
  EXPECT_TRUE(Apply("remotecfg",
                    BlockBuilder("remotecfg")
                        .Attr("url", Str("https://fleet.example"))
                        .Attr("poll_frequency", Str("1m"))
                        .Build(),
                    &error));
  EXPECT_FALSE(Apply("remotecfg",
                     BlockBuilder("remotecfg").Attr("poll_frequency", Str("5s")).Build(), &error));
  EXPECT_EQ(error, "poll_frequency must be at least \"10s\", got \"5s\"");
  EXPECT_FALSE(
      Apply("logging", BlockBuilder("logging").Attr("format", Str("xml")).Build(), &error));
  EXPECT_EQ(error, "unrecognized log format \"xml\"");
  EXPECT_FALSE(Apply(
      "livedebugging",
      BlockBuilder("livedebugging").Attr("enable", config::Value::Bool(true)).Build(), &error));
  EXPECT_EQ(error, "unrecognized attribute name \"enable\"");
}

}  // namespace
}  // namespace sluice
