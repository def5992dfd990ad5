// PeriodicThread: runs a function every `period` on a thread of its own (StartThread's catch-all)
// until Stop(), which wakes it at once and joins it. What local.file and remote.kubernetes.* poll
// with: their reads block (a file on a slow mount, an API server that does not answer), so they
// stay off the tail thread; what they find they post to it themselves.
//
// Start and Stop from one owner thread (the component's); the function runs on the new thread.
// Owned by its component; the destructor stops it.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "absl/time/time.h"
#include "agent/common/thread.h"

namespace sluice {

class PeriodicThread {
 public:
  PeriodicThread() = default;
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;
  ~PeriodicThread() { Stop(); }

  // The first call of `fn` is one period after Start.
  void Start(const std::string& name, absl::Duration period, std::function<void()> fn) {
    fn_ = std::move(fn);
    period_ = period;
    thread_ = StartThread(name, [this] { Run(); });
  }
  // True once Stop was called: a long `fn` may check it between steps.
  bool stopping() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stop_;
  }
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      if (cv_.wait_for(lock, absl::ToChronoMilliseconds(period_), [this] { return stop_; })) {
        break;
      }
      lock.unlock();
      fn_();
      lock.lock();
    }
  }

  std::function<void()> fn_;
  absl::Duration period_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
};

}  // namespace sluice
