// Sleeper: a cancellable wait, so that backoff can be tested without sleeping and interrupted at
// shutdown. RealSleeper waits on a condition variable; FakeSleeper (tests) records the requested
// delays and returns at once. Sleep() is called from the sender thread; Cancel() from any thread.
// Owned by the sink that waits.
#pragma once

#include <condition_variable>
#include <mutex>
#include <vector>

#include "absl/time/time.h"

namespace sluice {

class Sleeper {
 public:
  virtual ~Sleeper() = default;
  // Waits for `d`; returns false if cancelled before or during the wait.
  virtual bool Sleep(absl::Duration d) = 0;
  virtual void Cancel() = 0;
  virtual bool cancelled() const = 0;
};

class RealSleeper final : public Sleeper {
 public:
  bool Sleep(absl::Duration d) override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, absl::ToChronoNanoseconds(d), [this] { return cancelled_; });
    return !cancelled_;
  }
  void Cancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }
  bool cancelled() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return cancelled_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;
};

class FakeSleeper final : public Sleeper {
 public:
  bool Sleep(absl::Duration d) override {
    std::lock_guard<std::mutex> lock(mu_);
    sleeps_.push_back(d);
    return !cancelled_;
  }
  void Cancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
  }
  bool cancelled() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return cancelled_;
  }
  std::vector<absl::Duration> sleeps() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sleeps_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<absl::Duration> sleeps_;
  bool cancelled_ = false;
};

}  // namespace sluice
