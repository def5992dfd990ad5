#include "agent/sink/echo_sink.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>

#include "agent/pipeline/batcher.h"

namespace sluice {
namespace {

TEST(EchoSinkTest, WritesOneJsonObjectPerEntry) {
  FakeClock clock;
  std::unique_ptr<Batch> batch;
  Batcher batcher(1 << 20, &clock, [&](std::unique_ptr<Batch> b) { batch = std::move(b); });
  auto info = std::make_shared<StreamInfo>();
  info->json_labels = R"({"app":"x"})";
  uint32_t s = batcher.AddStream(info);
  batcher.Add(s, 1'700'000'000'500'000'000, "hello \"world\"\t", 1, 0, 10);
  batcher.Add(s, 1'700'000'001'000'000'000, "second", 1, 0, 20);
  batcher.Seal();

  char* buf = nullptr;
  size_t len = 0;
  FILE* out = open_memstream(&buf, &len);
  ASSERT_NE(out, nullptr);
  MetricsRegistry metrics;
  EchoSink sink(out, &metrics);
  EXPECT_EQ(sink.Deliver(*batch), BatchOutcome::kDelivered);
  fclose(out);
  std::string text(buf, len);
  free(buf);
  EXPECT_EQ(text,
            "{\"timestamp\":\"2023-11-14T22:13:20.5Z\",\"labels\":{\"app\":\"x\"},"
            "\"line\":\"hello \\\"world\\\"\\t\"}\n"
            "{\"timestamp\":\"2023-11-14T22:13:21Z\",\"labels\":{\"app\":\"x\"},"
            "\"line\":\"second\"}\n");
  EXPECT_EQ(metrics.CounterValue("loki_write_sent_entries_total", {{"host", "stdout"}}), 2u);
}

TEST(EchoSinkTest, PreparedBatchWritesWhatPrepareRendered) {
  FakeClock clock;
  std::unique_ptr<Batch> batch;
  Batcher batcher(1 << 20, &clock, [&](std::unique_ptr<Batch> b) { batch = std::move(b); });
  MetricsRegistry metrics;
  char* buf = nullptr;
  size_t len = 0;
  FILE* out = open_memstream(&buf, &len);
  ASSERT_NE(out, nullptr);
  EchoSink sink(out, &metrics);
  batcher.SetPrepare([&](Batch* b) { sink.Prepare(b); });
  auto info = std::make_shared<StreamInfo>();
  info->json_labels = R"({"app":"x"})";
  uint32_t s = batcher.AddStream(info);
  batcher.Add(s, 1'700'000'000'000'000'000, "only", 1, 0, 5);
  batcher.Seal();
  ASSERT_TRUE(batch->prepared);
  EXPECT_TRUE(batch->arena.empty());  // taken back by the batcher
  EXPECT_EQ(sink.Deliver(*batch), BatchOutcome::kDelivered);
  fclose(out);
  std::string text(buf, len);
  free(buf);
  EXPECT_EQ(text,
            "{\"timestamp\":\"2023-11-14T22:13:20Z\",\"labels\":{\"app\":\"x\"},"
            "\"line\":\"only\"}\n");
  EXPECT_EQ(metrics.CounterValue("loki_write_sent_entries_total", {{"host", "stdout"}}), 1u);
}

}  // namespace
}  // namespace sluice
