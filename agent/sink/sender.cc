#include "agent/sink/sender.h"

#include <cstdlib>
#include <exception>
#include <utility>

#include "agent/common/log.h"
#include "agent/common/thread.h"

namespace sluice {

Sender::Sender(std::unique_ptr<Sink> sink, DoneFn done)
    : sink_(std::move(sink)), done_(std::move(done)) {}

Sender::~Sender() { Stop(); }

void Sender::Start() {
  encoder_ = StartThread("sluice-encode", [this] { RunEncoder(); });
  thread_ = StartThread("sluice-send", [this] { RunSender(); });
}

void Sender::Enqueue(std::unique_ptr<Batch> batch) {
  bool behind;
  {
    std::lock_guard<std::mutex> lock(mu_);
    behind = queue_.size() >= kMaxUnencoded;
  }
  // The encoder is behind (one core for every thread, say): the caller encodes this batch
  // itself, so that at most kMaxUnencoded batches hold their line bytes; the rest of the budget
  // waits compressed.
  if (behind) Encode(batch.get());
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back(std::move(batch));
  cv_.notify_one();
}

void Sender::Encode(Batch* batch) {
  if (batch->encoded) return;
  sink_->Encode(batch);
  if (batch->encoded) {
    // The payload is what travels now: the line bytes and the entry lists go (a batch waiting
    // for the send thread, or for reuse in the batcher's pool, holds nothing else).
    std::string().swap(batch->arena);
    std::vector<BatchStream>().swap(batch->streams);
    batch->num_streams = 0;
  }
}

size_t Sender::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size() + ready_.size() + (encoding_ ? 1 : 0) + (busy_ ? 1 : 0);
}

void Sender::RunEncoder() {
  for (;;) {
    std::unique_ptr<Batch> batch;
    bool cancelled;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) {
        encoder_done_ = true;
        ready_cv_.notify_all();
        return;  // stopping and nothing left
      }
      batch = std::move(queue_.front());
      queue_.pop_front();
      encoding_ = true;
      cancelled = cancelled_;
    }
    // Cancelled: passed on as is, to be reported aborted in order.
    if (!cancelled) Encode(batch.get());
    {
      std::lock_guard<std::mutex> lock(mu_);
      ready_.push_back(std::move(batch));
      encoding_ = false;
      ready_cv_.notify_one();
    }
  }
}

void Sender::RunSender() {
  for (;;) {
    std::unique_ptr<Batch> batch;
    bool cancelled;
    {
      std::unique_lock<std::mutex> lock(mu_);
      ready_cv_.wait(lock, [this] { return !ready_.empty() || encoder_done_; });
      if (ready_.empty()) return;  // the encoder stopped and nothing is left
      batch = std::move(ready_.front());
      ready_.pop_front();
      busy_ = true;
      cancelled = cancelled_;
    }
    BatchOutcome outcome = cancelled ? BatchOutcome::kAborted : sink_->Deliver(*batch);
    done_(std::move(batch), outcome);
    {
      std::lock_guard<std::mutex> lock(mu_);
      busy_ = false;
      idle_cv_.notify_all();
    }
  }
}

void Sender::Drain(absl::Time deadline) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!thread_.joinable()) return;
    idle_cv_.wait_until(lock, absl::ToChronoTime(deadline), [this] {
      return queue_.empty() && ready_.empty() && !encoding_ && !busy_;
    });
  }
  Stop();
}

void Sender::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cancelled_ = true;
    cv_.notify_all();
    ready_cv_.notify_all();
  }
  sink_->Cancel();
  if (encoder_.joinable()) encoder_.join();
  if (thread_.joinable()) thread_.join();
}

}  // namespace sluice
