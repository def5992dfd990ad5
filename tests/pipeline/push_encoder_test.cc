#include "agent/pipeline/push_encoder.h"

#include <gtest/gtest.h>
#include <snappy.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

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

// Every length and timestamp part at the edges of a varint's byte count: a size computed one
// byte off shifts every field after it, so the generated classes would not parse the request or
// would serialize it differently.
TEST(PushEncoderTest, VarintEdgesMatchTheGeneratedSerializer) {
  FakeClock clock;
  std::unique_ptr<Batch> out;
  Batcher batcher(8 << 20, &clock, [&](std::unique_ptr<Batch> b) { out = std::move(b); });
  uint32_t a = batcher.AddStream(StreamInfoFor(R"({app="x"})"));
  uint32_t b = batcher.AddStream(StreamInfoFor("{app=\"" + std::string(200, 'y') + "\"}"));
  const size_t lengths[] = {1, 110, 111, 112, 113, 126, 127, 128, 129, 16370, 16383, 16384, 16385};
  // Up to 2^33 s: nanoseconds since 1970 fit an int64 until 2262.
  const int64_t seconds[] = {
      1, 127, 128, 16383, 16384, 268435455, 268435456, int64_t{1} << 33, 1'700'000'000};
  const int64_t nanos[] = {0, 1, 127, 128, 999'999'999};
  int64_t n = 0;
  for (size_t len : lengths) {
    for (int64_t sec : seconds) {
      for (int64_t ns : nanos) {
        ++n;
        const std::string line(len, static_cast<char>('a' + n % 26));
        batcher.Add(n % 3 == 0 ? b : a, sec * 1'000'000'000 + ns, line, 1, 0, n);
      }
    }
  }
  batcher.Seal();
  ASSERT_NE(out, nullptr);
  std::string encoded;
  EncodePushRequest(*out, &encoded);
  logproto::PushRequest req;
  ASSERT_TRUE(req.ParseFromString(encoded));
  ASSERT_EQ(req.streams_size(), 2);
  EXPECT_EQ(static_cast<size_t>(req.streams(0).entries_size() + req.streams(1).entries_size()),
            static_cast<size_t>(n));
  EXPECT_EQ(encoded, req.SerializeAsString());
  CompressScratch scratch;
  std::string compressed, raw;
  EncodeCompressedPushRequest(*out, &scratch, &compressed);
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

namespace sluice {
namespace {

// EncodeCompressedPushRequest must give the bytes of SnappyCompress(EncodePushRequest(batch)).
std::string TwoStep(const Batch& batch) {
  std::string encoded, compressed;
  EncodePushRequest(batch, &encoded);
  SnappyCompress(encoded, &compressed);
  return compressed;
}

TEST(PushEncoderStreamingTest, EmptyBatchMatchesTwoStep) {
  Batch b;
  std::string out = "junk";
  CompressScratch scratch;
  EncodeCompressedPushRequest(b, &scratch, &out);
  EXPECT_EQ(out, TwoStep(b));
  std::string raw;
  ASSERT_TRUE(snappy::Uncompress(out.data(), out.size(), &raw));
  EXPECT_TRUE(raw.empty());
}

TEST(PushEncoderStreamingTest, ManyStreamsAcrossBlocksMatchTwoStep) {
  // Lines from a few bytes to several blocks long, in streams that interleave, with and without
  // structured metadata, so that block boundaries fall in headers, labels, lines and metadata.
  std::vector<std::unique_ptr<Batch>> sealed;
  Batcher batcher(2 << 20, RealClock::Get(),
                  [&](std::unique_ptr<Batch> b) { sealed.push_back(std::move(b)); });
  std::vector<uint32_t> ids;
  for (int i = 0; i < 40; ++i) {
    ids.push_back(batcher.AddStream(StreamInfoFor("{app=\"app-" + std::to_string(i) + "\", pod=\"" +
                                                  std::string(20 + i * 7, 'p') + "\"}")));
  }
  uint64_t x = 88172645463325252ull;  // xorshift: the same lines on every run
  auto next = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  std::string meta;
  AppendMetadataPair("trace_id", "0123456789abcdef", &meta);
  for (int n = 0; n < 3000; ++n) {
    uint64_t r = next();
    size_t len = (r % 97 == 0) ? 70'000 + r % 150'000 : r % 900;
    std::string line(len, static_cast<char>('a' + r % 26));
    for (size_t k = 0; k < len; k += 13) line[k] = static_cast<char>(' ' + next() % 90);
    int64_t ts = (r % 5 == 0) ? 1'700'000'000'000'000'000 : 1'700'000'000'000'000'000 + n;
    if (r % 3 == 0) {
      batcher.Add(ids[r % ids.size()], ts, line, meta, 0, 0, 0);
    } else {
      batcher.Add(ids[r % ids.size()], ts, line, 0, 0, 0);
    }
  }
  batcher.Seal();
  ASSERT_GE(sealed.size(), 2u);
  CompressScratch scratch;  // reused from one batch to the next, as the encoder thread does
  for (const auto& b : sealed) {
    std::string out;
    EncodeCompressedPushRequest(*b, &scratch, &out);
    ASSERT_EQ(out, TwoStep(*b));
    std::string raw;
    ASSERT_TRUE(snappy::Uncompress(out.data(), out.size(), &raw));
    logproto::PushRequest req;
    ASSERT_TRUE(req.ParseFromString(raw));
    size_t entries = 0;
    for (const auto& s : req.streams()) entries += s.entries_size();
    EXPECT_EQ(entries, b->entries);
  }
}

// A second encode while the first holds its scratch gets the other scratch at once (the tail
// thread does not wait for the encoder's batch); a third waits until one is given back.
TEST(CompressScratchPoolTest, ASecondEncodeTakesTheOtherScratchWithoutWaiting) {
  CompressScratchPool pool;
  std::promise<CompressScratch*> inside;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::thread holder([&] {
    pool.With([&](CompressScratch* s) {
      inside.set_value(s);
      released.wait();
    });
  });
  CompressScratch* first = inside.get_future().get();
  std::promise<CompressScratch*> second_got;
  std::future<CompressScratch*> second = second_got.get_future();
  std::thread other([&] {
    pool.With([&](CompressScratch* s) {
      second_got.set_value(s);
      released.wait();
    });
  });
  // Not a timing condition: a pool that made this call wait would never answer (the limit only
  // keeps the test from hanging).
  const bool answered = second.wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  EXPECT_TRUE(answered) << "the second encode waited for the first";
  if (!answered) {
    release.set_value();
    holder.join();
    other.join();
    return;
  }
  CompressScratch* second_scratch = second.get();
  EXPECT_NE(second_scratch, first);
  std::atomic<bool> third_ran{false};
  std::thread third([&] {
    pool.With([&](CompressScratch* s) {
      // Only once the first or the second let go of theirs (after the release below), and then
      // whichever of the two it was.
      EXPECT_EQ(released.wait_for(std::chrono::seconds(0)), std::future_status::ready);
      EXPECT_TRUE(s == first || s == second_scratch);
      third_ran = true;
    });
  });
  release.set_value();
  holder.join();
  other.join();
  third.join();
  EXPECT_TRUE(third_ran);
}

// Two threads encoding through one pool at once: every request is the one the batch makes alone.
TEST(CompressScratchPoolTest, ConcurrentEncodesMatchTwoStep) {
  std::vector<std::unique_ptr<Batch>> sealed;
  Batcher batcher(256 << 10, RealClock::Get(),
                  [&](std::unique_ptr<Batch> b) { sealed.push_back(std::move(b)); });
  std::vector<uint32_t> ids;
  for (int i = 0; i < 8; ++i) {
    ids.push_back(batcher.AddStream(StreamInfoFor("{app=\"a" + std::to_string(i) + "\"}")));
  }
  for (int n = 0; n < 20000; ++n) {
    std::string line = "line " + std::to_string(n * 7919) + std::string(n % 300, 'x');
    batcher.Add(ids[n % ids.size()], 1'700'000'000'000'000'000 + n, line, 0, 0, 0);
  }
  batcher.Seal();
  ASSERT_GE(sealed.size(), 8u);
  CompressScratchPool pool;
  std::vector<std::string> out(sealed.size());
  auto encode = [&](size_t from) {
    for (size_t i = from; i < sealed.size(); i += 2) {
      pool.With([&](CompressScratch* s) { EncodeCompressedPushRequest(*sealed[i], s, &out[i]); });
    }
  };
  std::thread a(encode, 0);
  std::thread b(encode, 1);
  a.join();
  b.join();
  for (size_t i = 0; i < sealed.size(); ++i) EXPECT_EQ(out[i], TwoStep(*sealed[i])) << i;
}

TEST(PushEncoderStreamingTest, OneLineLongerThanABlockMatchesTwoStep) {
  std::unique_ptr<Batch> out;
  Batcher batcher(1 << 20, RealClock::Get(), [&](std::unique_ptr<Batch> b) { out = std::move(b); });
  uint32_t a = batcher.AddStream(StreamInfoFor(R"({app="x"})"));
  std::string line(200'000, 'q');
  for (size_t k = 0; k < line.size(); k += 7) line[k] = static_cast<char>('0' + k % 10);
  batcher.Add(a, 1, line, 0, 0, 0);
  batcher.Seal();
  ASSERT_NE(out, nullptr);
  std::string compressed;
  CompressScratch scratch;
  EncodeCompressedPushRequest(*out, &scratch, &compressed);
  EXPECT_EQ(compressed, TwoStep(*out));
  // The result is allocated at its size; the scratch grew with the output, not to the request's
  // worst case.
  EXPECT_LT(compressed.capacity(), compressed.size() + 64);
  EXPECT_GE(scratch.capacity(), compressed.size());
  EXPECT_LT(scratch.capacity(), snappy::MaxCompressedLength(out->line_bytes));
  // Kept for the next request: the same batch again needs no more room.
  const size_t kept = scratch.capacity();
  std::string again;
  EncodeCompressedPushRequest(*out, &scratch, &again);
  EXPECT_EQ(again, compressed);
  EXPECT_EQ(scratch.capacity(), kept);
}

}  // namespace
}  // namespace sluice
