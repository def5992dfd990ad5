#include "agent/pipeline/batcher.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "tests/support/stream_info.h"

namespace sluice {
namespace {

using ::sluice::testing::StreamInfoFor;

class BatcherTest : public ::testing::Test {
 protected:
  BatcherTest()
      : batcher_(100, &clock_,
                 [this](std::unique_ptr<Batch> b) { sealed_.push_back(std::move(b)); }) {}
  FakeClock clock_;
  std::vector<std::unique_ptr<Batch>> sealed_;
  Batcher batcher_;
};

TEST_F(BatcherTest, GroupsByStreamInOrder) {
  uint32_t a = batcher_.AddStream(StreamInfoFor("{a=\"1\"}"));
  uint32_t b = batcher_.AddStream(StreamInfoFor("{b=\"1\"}"));
  batcher_.Add(a, 1, "a1", 7, 0, 3);
  batcher_.Add(b, 2, "b1", 8, 0, 3);
  batcher_.Add(a, 3, "a2", 7, 0, 6);
  batcher_.Seal();
  ASSERT_EQ(sealed_.size(), 1u);
  const Batch& batch = *sealed_[0];
  ASSERT_EQ(batch.num_streams, 2u);
  EXPECT_EQ(batch.streams[0].info->loki_labels, "{a=\"1\"}");
  ASSERT_EQ(batch.streams[0].entries.size(), 2u);
  EXPECT_EQ(batch.Line(batch.streams[0].entries[0]), "a1");
  EXPECT_EQ(batch.Line(batch.streams[0].entries[1]), "a2");
  EXPECT_EQ(batch.streams[0].entries[1].timestamp_ns, 3);
  EXPECT_EQ(batch.Line(batch.streams[1].entries[0]), "b1");
  EXPECT_EQ(batch.entries, 3u);
  EXPECT_EQ(batch.line_bytes, 6u);
  // Marks: the last offset per file, in first-seen order.
  ASSERT_EQ(batch.marks.size(), 3u);  // file 7, file 8, file 7 again (runs, not a map)
  EXPECT_EQ(batch.marks[0].file_id, 7u);
  EXPECT_EQ(batch.marks[2].offset, 6);
}

TEST_F(BatcherTest, SealsBeforeExceedingBatchSizeAndOversizedLineAlone) {
  uint32_t a = batcher_.AddStream(StreamInfoFor("{a=\"1\"}"));
  std::string sixty(60, 'x');
  batcher_.Add(a, 1, sixty, 1, 0, 61);
  EXPECT_TRUE(sealed_.empty());
  batcher_.Add(a, 2, sixty, 1, 0, 122);  // 120 > 100: the first batch goes alone
  ASSERT_EQ(sealed_.size(), 1u);
  EXPECT_EQ(sealed_[0]->entries, 1u);
  std::string big(250, 'y');
  batcher_.Add(a, 3, big, 1, 0, 373);  // seals the 60 first, then is a batch of its own
  ASSERT_EQ(sealed_.size(), 3u);
  EXPECT_EQ(sealed_[1]->entries, 1u);
  EXPECT_EQ(sealed_[2]->entries, 1u);
  EXPECT_EQ(sealed_[2]->line_bytes, 250u);
  EXPECT_LT(sealed_[0]->seq, sealed_[1]->seq);
  EXPECT_LT(sealed_[1]->seq, sealed_[2]->seq);
}

// loki.write's max_streams, per batch: streams already in the open batch, new ones below the
// limit, and whatever starts the next batch are admitted.
TEST_F(BatcherTest, AdmitsUpToMaxStreamsPerOpenBatch) {
  uint32_t a = batcher_.AddStream(StreamInfoFor("{a=\"1\"}"));
  uint32_t b = batcher_.AddStream(StreamInfoFor("{b=\"1\"}"));
  EXPECT_TRUE(batcher_.Admits(b, 10, 1)) << "no batch open";
  batcher_.Mark(1, 0, 5);
  EXPECT_TRUE(batcher_.Admits(b, 10, 1)) << "a batch of marks only";
  batcher_.Add(a, 1, "0123456789", 1, 0, 11);
  EXPECT_TRUE(batcher_.Admits(a, 10, 1));
  EXPECT_FALSE(batcher_.Admits(b, 10, 1));
  EXPECT_TRUE(batcher_.Admits(b, 10, 2));
  EXPECT_TRUE(batcher_.Admits(b, 10, 0)) << "0: no limit";
  EXPECT_TRUE(batcher_.Admits(b, 91, 1)) << "10 + 91 > 100: it starts the next batch";
  batcher_.Seal();
  EXPECT_TRUE(batcher_.Admits(b, 10, 1));
}

TEST_F(BatcherTest, SealIfOlderThanUsesClock) {
  uint32_t a = batcher_.AddStream(StreamInfoFor("{a=\"1\"}"));
  batcher_.Add(a, 1, "x", 1, 0, 2);
  batcher_.SealIfOlderThan(1'000'000'000);
  EXPECT_TRUE(sealed_.empty());
  clock_.Advance(999'999'999);
  batcher_.SealIfOlderThan(1'000'000'000);
  EXPECT_TRUE(sealed_.empty());
  clock_.Advance(1);
  batcher_.SealIfOlderThan(1'000'000'000);
  EXPECT_EQ(sealed_.size(), 1u);
}

TEST_F(BatcherTest, OpenAgeTellsTheTimerWhenToFire) {
  EXPECT_EQ(batcher_.open_age_ns(), 0);
  uint32_t a = batcher_.AddStream(StreamInfoFor("{a=\"1\"}"));
  batcher_.Add(a, 1, "x", 1, 0, 2);
  clock_.Advance(300);
  EXPECT_EQ(batcher_.open_age_ns(), 300);
  batcher_.Seal();
  EXPECT_EQ(batcher_.open_age_ns(), 0);
}

TEST_F(BatcherTest, MarkOnlyBatchAndRecycleReuses) {
  batcher_.Mark(5, 2, 100);
  batcher_.Seal();
  ASSERT_EQ(sealed_.size(), 1u);
  EXPECT_EQ(sealed_[0]->entries, 0u);
  ASSERT_EQ(sealed_[0]->marks.size(), 1u);
  EXPECT_EQ(sealed_[0]->marks[0].generation, 2u);
  Batch* raw = sealed_[0].get();
  batcher_.Recycle(std::move(sealed_[0]));
  uint32_t a = batcher_.AddStream(StreamInfoFor("{a=\"1\"}"));
  batcher_.Add(a, 1, "x", 1, 0, 2);
  batcher_.Seal();
  EXPECT_EQ(sealed_.back().get(), raw);  // the pooled batch came back
  EXPECT_TRUE(sealed_.back()->marks.size() == 1 && sealed_.back()->marks[0].file_id == 1u);
}

TEST_F(BatcherTest, ReleasedStreamIdIsReusedAfterSeal) {
  uint32_t a = batcher_.AddStream(StreamInfoFor("{a=\"1\"}"));
  batcher_.Add(a, 1, "x", 1, 0, 2);
  batcher_.ReleaseStream(a);  // seals: the open batch keeps its own reference
  ASSERT_EQ(sealed_.size(), 1u);
  EXPECT_EQ(sealed_[0]->streams[0].info->loki_labels, "{a=\"1\"}");
  uint32_t b = batcher_.AddStream(StreamInfoFor("{b=\"2\"}"));
  EXPECT_EQ(a, b);
}

TEST_F(BatcherTest, ARecycledBatchLendsItsArenaToTheNextOne) {
  uint32_t a = batcher_.AddStream(StreamInfoFor("{a=\"1\"}"));
  batcher_.Add(a, 1, "first", 1, 0, 6);
  batcher_.Seal();
  ASSERT_EQ(sealed_.size(), 1u);
  const char* arena = sealed_[0]->arena.data();
  EXPECT_GE(sealed_[0]->arena.capacity(), 100u);  // sized once, to batch_size
  batcher_.Recycle(std::move(sealed_[0]));
  batcher_.Add(a, 2, "second", 1, 0, 13);
  batcher_.Seal();
  ASSERT_EQ(sealed_.size(), 2u);
  EXPECT_EQ(sealed_[1]->arena.data(), arena);  // no new allocation for the next batch
  ASSERT_EQ(sealed_[1]->entries, 1u);
  EXPECT_EQ(sealed_[1]->Line(sealed_[1]->streams[0].entries[0]), "second");
}

}  // namespace
}  // namespace sluice
