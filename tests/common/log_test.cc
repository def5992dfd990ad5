#include "agent/common/log.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

TEST(LogRateLimiterTest, RepeatsBeyondTheBurstAreHeldBackAndCounted) {
  LogRateLimiter limiter;
  uint64_t suppressed = 99;
  for (int i = 0; i < kLogBurst; ++i) {
    EXPECT_TRUE(limiter.Allow("loki.write\x1fpush failed", i * kSecond / 10, &suppressed));
    EXPECT_EQ(suppressed, 0u);
  }
  // The burst is spent: the next ones in the window are held back.
  for (int i = 0; i < 7; ++i) {
    EXPECT_FALSE(limiter.Allow("loki.write\x1fpush failed", kSecond + i, &suppressed));
  }
  // Another message is not affected.
  EXPECT_TRUE(limiter.Allow("tail\x1fother", kSecond, &suppressed));
  // A new window: written again, saying how many were held back.
  EXPECT_TRUE(limiter.Allow("loki.write\x1fpush failed", kLogWindowNanos + 1, &suppressed));
  EXPECT_EQ(suppressed, 7u);
  EXPECT_TRUE(limiter.Allow("loki.write\x1fpush failed", kLogWindowNanos + 2, &suppressed));
  EXPECT_EQ(suppressed, 0u);
}

TEST(LogTest, FormatsLogfmt) {
  EXPECT_EQ(FormatLogLine("2026-01-01T00:00:00.000Z", LogLevel::kWarn, "loki.write",
                          "push failed, will retry", {{"host", "loki:3100"}, {"error", "a \"b\""}}),
            "ts=2026-01-01T00:00:00.000Z level=warn component=loki.write "
            "msg=\"push failed, will retry\" host=loki:3100 error=\"a \\\"b\\\"\"");
}

}  // namespace
}  // namespace sluice
