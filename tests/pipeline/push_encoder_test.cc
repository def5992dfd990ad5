#include "agent/pipeline/push_encoder.h"

#include <gtest/gtest.h>
#include <snappy.h>

#include "agent/pipeline/batcher.h"
#include "push.pb.h"
#include "tests/support/stream_info.h"

namespace sluice {
namespace {

using ::sluice::testing::StreamInfoFor;

TEST(PushEncoderTest, DecodesWithGeneratedClasses) {
  FakeClock clock;
  std::unique_ptr<Batch> out;
  Batcher batcher(1 << 20, &clock, [&](std::unique_ptr<Batch> b) { out = std::move(b); });
  uint32_t a = batcher.AddStream(StreamInfoFor(R"({app="x", namespace="ns"})"));
  uint32_t b = batcher.AddStream(StreamInfoFor(R"({app="y"})"));
  batcher.Add(a, 1'700'000'000'123'456'789, "hello", 1, 0, 10);
  batcher.Add(b, -1'500'000'001, "before 1970", 2, 0, 10);  // negative seconds, positive nanos
  batcher.Add(a, 1'700'000'001'000'000'000, "", 1, 0, 20);  // empty line, zero nanos
  batcher.Add(a, 0, std::string(300, 'z'), 1, 0, 400);      // epoch, multi-byte varint length
  batcher.Seal();
  ASSERT_NE(out, nullptr);

  std::string encoded, compressed, raw;
  EncodePushRequest(*out, &encoded);
  logproto::PushRequest req;
  ASSERT_TRUE(req.ParseFromString(encoded));
  ASSERT_EQ(req.streams_size(), 2);
  EXPECT_EQ(req.streams(0).labels(), R"({app="x", namespace="ns"})");
  ASSERT_EQ(req.streams(0).entries_size(), 3);
  EXPECT_EQ(req.streams(0).entries(0).line(), "hello");
  EXPECT_EQ(req.streams(0).entries(0).timestamp().seconds(), 1'700'000'000);
  EXPECT_EQ(req.streams(0).entries(0).timestamp().nanos(), 123'456'789);
  EXPECT_EQ(req.streams(0).entries(1).line(), "");
  EXPECT_EQ(req.streams(0).entries(1).timestamp().seconds(), 1'700'000'001);
  EXPECT_EQ(req.streams(0).entries(2).line(), std::string(300, 'z'));
  EXPECT_EQ(req.streams(0).entries(2).timestamp().seconds(), 0);
  EXPECT_EQ(req.streams(1).entries(0).timestamp().seconds(), -2);
  EXPECT_EQ(req.streams(1).entries(0).timestamp().nanos(), 499'999'999);
  // Byte-identical to what the generated serializer produces: same fields, same order.
  EXPECT_EQ(encoded, req.SerializeAsString());

  SnappyCompress(encoded, &compressed);
  ASSERT_TRUE(snappy::Uncompress(compressed.data(), compressed.size(), &raw));
  EXPECT_EQ(raw, encoded);
}

TEST(PushEncoderTest, EmptyBatchEncodesEmptyRequest) {
  Batch b;
  std::string encoded = "junk";
  EncodePushRequest(b, &encoded);
  EXPECT_TRUE(encoded.empty());
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

TEST(PushEncoderMetadataTest, StructuredMetadataDecodesAsLokiReadsIt) {
  std::unique_ptr<Batch> sealed;
  Batcher b2(1 << 20, RealClock::Get(), [&](std::unique_ptr<Batch> b) { sealed = std::move(b); });
  auto info = std::make_shared<StreamInfo>();
  info->loki_labels = "{app=\"x\"}";
  uint32_t id = b2.AddStream(info);
  std::string meta;
  AppendMetadataPair("trace_id", "abc123", &meta);
  AppendMetadataPair("user", std::string(200, 'u'), &meta);  // a length over one varint byte
  b2.Add(id, 1'700'000'000'000'000'001, "hello", meta, 0, 0, 0);
  b2.Add(id, 1'700'000'000'000'000'002, "plain", 0, 0, 0);
  b2.Seal();
  ASSERT_NE(sealed, nullptr);
  EXPECT_EQ(sealed->line_bytes, 5 + meta.size() + 5);
  std::string wire;
  EncodePushRequest(*sealed, &wire);
  logproto::PushRequest req;
  ASSERT_TRUE(req.ParseFromString(wire));
  ASSERT_EQ(req.streams_size(), 1);
  ASSERT_EQ(req.streams(0).entries_size(), 2);
  const auto& e0 = req.streams(0).entries(0);
  EXPECT_EQ(e0.line(), "hello");
  ASSERT_EQ(e0.structuredmetadata_size(), 2);
  EXPECT_EQ(e0.structuredmetadata(0).name(), "trace_id");
  EXPECT_EQ(e0.structuredmetadata(0).value(), "abc123");
  EXPECT_EQ(e0.structuredmetadata(1).value(), std::string(200, 'u'));
  EXPECT_EQ(req.streams(0).entries(1).structuredmetadata_size(), 0);
  std::vector<std::pair<std::string, std::string>> back;
  EXPECT_TRUE(ForEachMetadataPair(meta, [&](std::string_view k, std::string_view v) {
    back.emplace_back(std::string(k), std::string(v));
  }));
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].first, "trace_id");
  EXPECT_FALSE(
      ForEachMetadataPair("\x1a\x05"
                          "ab",
                          [](std::string_view, std::string_view) {}));
}

}  // namespace
}  // namespace sluice
