#include "agent/sink/sender.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sluice {
namespace {

// A sink that blocks until released, to test ordering and cancellation.
class GateSink final : public Sink {
 public:
  // Encoding is "the sequence number as text"; Deliver checks the batch it gets was encoded and
  // no longer holds its arena.
  void Encode(Batch* batch) override {
    batch->payload = std::to_string(batch->seq);
    batch->encoded = true;
  }
  BatchOutcome Deliver(const Batch& batch) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (!batch.encoded || batch.payload != std::to_string(batch.seq) ||
        batch.arena.capacity() >= 4096) {
      bad_ = true;
    }
    seen_.push_back(batch.seq);
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_ || cancelled_; });
    return cancelled_ ? BatchOutcome::kAborted : BatchOutcome::kDelivered;
  }
  void Cancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool bad() {
    std::lock_guard<std::mutex> lock(mu_);
    return bad_;
  }
  void WaitSeen(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return seen_.size() >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<uint64_t> seen_;
  bool open_ = false;
  bool cancelled_ = false;
  bool bad_ = false;
};

std::unique_ptr<Batch> B(uint64_t seq) {
  auto b = std::make_unique<Batch>();
  b->seq = seq;
  b->entries = 1;
  b->arena.assign(4096, 'x');
  return b;
}

TEST(SenderTest, DeliversInOrderAndDrains) {
  auto sink = std::make_unique<GateSink>();
  GateSink* gate = sink.get();
  std::mutex mu;
  std::vector<std::pair<uint64_t, BatchOutcome>> done;
  Sender sender(std::move(sink), [&](std::unique_ptr<Batch> b, BatchOutcome o) {
    std::lock_guard<std::mutex> lock(mu);
    done.emplace_back(b->seq, o);
  });
  sender.Start();
  for (uint64_t i = 1; i <= 5; ++i) sender.Enqueue(B(i));
  gate->WaitSeen(1);
  gate->Open();
  sender.Drain(absl::InfiniteFuture());
  ASSERT_EQ(done.size(), 5u);
  for (uint64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(done[i].first, i + 1);
    EXPECT_EQ(done[i].second, BatchOutcome::kDelivered);
  }
  // Each batch was encoded on the encoder thread and reached Deliver without its arena.
  EXPECT_FALSE(gate->bad());
}

TEST(SenderTest, DrainDeadlineAbortsWhatIsLeft) {
  auto sink = std::make_unique<GateSink>();
  GateSink* gate = sink.get();
  std::vector<BatchOutcome> outcomes;
  Sender sender(std::move(sink),
                [&](std::unique_ptr<Batch>, BatchOutcome o) { outcomes.push_back(o); });
  sender.Start();
  sender.Enqueue(B(1));
  sender.Enqueue(B(2));
  gate->WaitSeen(1);
  sender.Drain(absl::InfinitePast());  // deadline already passed: cancel now
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_EQ(outcomes[0], BatchOutcome::kAborted);
  EXPECT_EQ(outcomes[1], BatchOutcome::kAborted);
}

// A sink whose first Encode blocks until released, and which records the thread of each Encode.
class SlowEncodeSink final : public Sink {
 public:
  void Encode(Batch* batch) override {
    std::unique_lock<std::mutex> lock(mu_);
    encoded_on_[batch->seq] = std::this_thread::get_id();
    if (batch->seq == 1) {
      in_first_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
    }
    batch->payload = std::to_string(batch->seq);
    batch->encoded = true;
  }
  BatchOutcome Deliver(const Batch& batch) override {
    return batch.encoded ? BatchOutcome::kDelivered : BatchOutcome::kAborted;
  }
  void Cancel() override {}
  void WaitInFirst() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return in_first_; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  std::thread::id EncodedOn(uint64_t seq) {
    std::lock_guard<std::mutex> lock(mu_);
    return encoded_on_[seq];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, std::thread::id> encoded_on_;
  bool in_first_ = false;
  bool released_ = false;
};

// With the encoder busy and a batch waiting for it, the caller encodes the next batch itself
// (so at most one queued batch holds its line bytes), and every batch still goes out in order.
TEST(SenderTest, CallerEncodesWhenABatchAlreadyWaitsForTheEncoder) {
  auto sink = std::make_unique<SlowEncodeSink>();
  SlowEncodeSink* slow = sink.get();
  std::mutex mu;
  std::vector<std::pair<uint64_t, BatchOutcome>> done;
  Sender sender(std::move(sink), [&](std::unique_ptr<Batch> b, BatchOutcome o) {
    std::lock_guard<std::mutex> lock(mu);
    done.emplace_back(b->seq, o);
  });
  sender.Start();
  sender.Enqueue(B(1));
  slow->WaitInFirst();   // the encoder thread is inside Encode(1)
  sender.Enqueue(B(2));  // waits for the encoder
  sender.Enqueue(B(3));  // encoded here, on this thread
  sender.Enqueue(B(4));  // and this one too: 2 still waits
  EXPECT_EQ(slow->EncodedOn(3), std::this_thread::get_id());
  EXPECT_EQ(slow->EncodedOn(4), std::this_thread::get_id());
  EXPECT_NE(slow->EncodedOn(1), std::this_thread::get_id());
  slow->Release();
  sender.Drain(absl::InfiniteFuture());
  ASSERT_EQ(done.size(), 4u);
  for (uint64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(done[i].first, i + 1);
    EXPECT_EQ(done[i].second, BatchOutcome::kDelivered);
  }
  EXPECT_NE(slow->EncodedOn(2), std::this_thread::get_id());
}

}  // namespace
}  // namespace sluice
