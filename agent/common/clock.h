// Clock: the one source of time for code that must be testable without sleeping.
//
// RealClock reads CLOCK_REALTIME / CLOCK_MONOTONIC; FakeClock is advanced by hand in tests.
// Both are thread-safe. Owned by whoever builds the agent (Agent) and shared by pointer.
#pragma once

#include <atomic>
#include <cstdint>

namespace sluice {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall clock, nanoseconds since the Unix epoch (entry timestamps).
  virtual int64_t NowUnixNanos() const = 0;
  // Monotonic clock, nanoseconds from an arbitrary origin (timeouts, backoff, rates).
  virtual int64_t MonotonicNanos() const = 0;
};

class RealClock final : public Clock {
 public:
  int64_t NowUnixNanos() const override;
  int64_t MonotonicNanos() const override;
  // Process-wide instance; never destroyed.
  static RealClock* Get();
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t unix_nanos = 1'700'000'000'000'000'000) : unix_(unix_nanos) {}
  int64_t NowUnixNanos() const override { return unix_.load(std::memory_order_relaxed); }
  int64_t MonotonicNanos() const override { return mono_.load(std::memory_order_relaxed); }
  void Advance(int64_t nanos) {
    unix_.fetch_add(nanos, std::memory_order_relaxed);
    mono_.fetch_add(nanos, std::memory_order_relaxed);
  }

 private:
  std::atomic<int64_t> unix_;
  std::atomic<int64_t> mono_{0};
};

}  // namespace sluice
