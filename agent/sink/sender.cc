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
  thread_ = StartThread("sluice-send", [this] { Run(); });
}

void Sender::Enqueue(std::unique_ptr<Batch> batch) {
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back(std::move(batch));
  cv_.notify_one();
}

size_t Sender::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size() + (busy_ ? 1 : 0);
}

void Sender::Run() {
  for (;;) {
    std::unique_ptr<Batch> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;  // stopping and nothing left
      batch = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    BatchOutcome outcome;
    {
      bool cancelled;
      {
        std::lock_guard<std::mutex> lock(mu_);
        cancelled = cancelled_;
      }
      outcome = cancelled ? BatchOutcome::kAborted : sink_->Deliver(*batch);
    }
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
    idle_cv_.wait_until(lock, absl::ToChronoTime(deadline),
                        [this] { return queue_.empty() && !busy_; });
  }
  Stop();
}

void Sender::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cancelled_ = true;
    cv_.notify_all();
  }
  sink_->Cancel();
  if (thread_.joinable()) thread_.join();
}

}  // namespace sluice
