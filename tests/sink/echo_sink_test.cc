#include "agent/sink/echo_sink.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "agent/pipeline/batcher.h"

namespace sluice {
namespace {

// A FILE* writing to memory (open_memstream), for the sink's output.
class MemoryFile {
 public:
  MemoryFile() : file_(open_memstream(&buf_, &len_)) {}
  ~MemoryFile() { Close(); }
  FILE* file() const { return file_; }
  // Flushes and returns everything written; the FILE* is gone afterwards.
  std::string Close() {
    if (file_ != nullptr) fclose(file_);
    file_ = nullptr;
    std::string text = buf_ != nullptr ? std::string(buf_, len_) : std::string();
    free(buf_);
    buf_ = nullptr;
    len_ = 0;
    return text;
  }

 private:
  char* buf_ = nullptr;
  size_t len_ = 0;
  FILE* file_;
};

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

  MemoryFile out;
  ASSERT_NE(out.file(), nullptr);
  MetricsRegistry metrics;
  EchoSink sink(out.file(), &metrics);
  EXPECT_EQ(sink.Deliver(*batch), BatchOutcome::kDelivered);
  std::string text = out.Close();
  EXPECT_EQ(text,
            "{\"timestamp\":\"2023-11-14T22:13:20.5Z\",\"labels\":{\"app\":\"x\"},"
            "\"line\":\"hello \\\"world\\\"\\t\"}\n"
            "{\"timestamp\":\"2023-11-14T22:13:21Z\",\"labels\":{\"app\":\"x\"},"
            "\"line\":\"second\"}\n");
  EXPECT_EQ(metrics.CounterValue("loki_write_sent_entries_total", {{"host", "stdout"}}), 2u);
}

}  // namespace
}  // namespace sluice
