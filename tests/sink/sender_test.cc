#include "agent/sink/sender.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
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

}  // namespace
}  // namespace sluice
