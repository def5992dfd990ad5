#include "agent/sink/retry_policy.h"

#include <cstdint>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sluice {
namespace {

using Kind = RetryDecision::Kind;

PushAttempt Status(int status, std::optional<absl::Duration> retry_after = std::nullopt) {
  return PushAttempt{status, retry_after};
}

TEST(RetryPolicyTest, SuccessIsDelivered) {
  RetryPolicy policy(RetryConfig{}, 1);
  for (int status : {200, 201, 204, 299}) {
    RetryDecision d = policy.Decide(Status(status), 1);
    EXPECT_EQ(d.kind, Kind::kDelivered) << status;
    // A success after failures is still just delivered.
    EXPECT_EQ(policy.Decide(Status(status), 50).kind, Kind::kDelivered) << status;
  }
}

TEST(RetryPolicyTest, TransportErrorsAnd5xxAnd429AreRetried) {
  RetryPolicy policy(RetryConfig{}, 1);
  for (int status : {0, -1, 500, 502, 503, 504, 599, 429}) {
    RetryDecision d = policy.Decide(Status(status), 1);
    EXPECT_EQ(d.kind, Kind::kRetry) << status;
    EXPECT_GE(d.delay, absl::Milliseconds(500)) << status;
    EXPECT_LT(d.delay, absl::Seconds(1)) << status;
    EXPECT_TRUE(d.reason.empty());
  }
}

TEST(RetryPolicyTest, OtherStatusesAreDroppedAtOnceAsIngesterError) {
  RetryPolicy policy(RetryConfig{}, 1);
  for (int status : {400, 401, 403, 404, 405, 408, 413, 422, 499, 301, 302, 100, 600}) {
    RetryDecision d = policy.Decide(Status(status), 1);
    EXPECT_EQ(d.kind, Kind::kDrop) << status;
    EXPECT_EQ(d.reason, "ingester_error") << status;
  }
}

TEST(RetryPolicyTest, RateLimitedWithoutRetryOn429IsDropped) {
  RetryConfig config;
  config.retry_on_http_429 = false;
  RetryPolicy policy(config, 1);
  RetryDecision d = policy.Decide(Status(429, absl::Seconds(3)), 1);
  EXPECT_EQ(d.kind, Kind::kDrop);
  EXPECT_EQ(d.reason, "rate_limited");
  // Other retryable failures are still retried.
  EXPECT_EQ(policy.Decide(Status(503), 1).kind, Kind::kRetry);
  EXPECT_EQ(policy.Decide(Status(0), 1).kind, Kind::kRetry);
}

TEST(RetryPolicyTest, BackoffGrowsWithinDskitBoundsForManySeeds) {
  RetryConfig config;
  config.min_backoff = absl::Milliseconds(500);
  config.max_backoff = absl::Minutes(5);
  for (uint64_t seed : {1ull, 2ull, 3ull, 42ull, 0xdeadbeefull}) {
    RetryPolicy policy(config, seed);
    absl::Duration lo = config.min_backoff;
    absl::Duration hi = 2 * config.min_backoff;
    for (int n = 1; n <= 40; ++n) {
      // dskit doubles both ends until the upper reaches max, then keeps that range.
      auto range = policy.BackoffRange(n);
      EXPECT_EQ(range.first, lo) << "attempt " << n;
      EXPECT_EQ(range.second, hi) << "attempt " << n;
      for (int k = 0; k < 20; ++k) {
        RetryDecision d = policy.Decide(Status(500), n);
        ASSERT_EQ(d.kind, Kind::kRetry);
        EXPECT_GE(d.delay, lo) << "seed " << seed << " attempt " << n;
        EXPECT_LT(d.delay, hi) << "seed " << seed << " attempt " << n;
        EXPECT_LE(d.delay, config.max_backoff);
      }
      if (hi < config.max_backoff) {
        lo = std::min(2 * lo, config.max_backoff);
        hi = std::min(2 * hi, config.max_backoff);
      }
    }
    // 0.5s * 2^9 = 256s is the last lower end; 300s caps the upper end from attempt 10 on.
    EXPECT_EQ(policy.BackoffRange(10), std::make_pair(absl::Seconds(256), absl::Minutes(5)));
    EXPECT_EQ(policy.BackoffRange(1000000), std::make_pair(absl::Seconds(256), absl::Minutes(5)));
  }
}

TEST(RetryPolicyTest, FirstDelaysFollowPowersOfTwo) {
  RetryConfig config;
  config.min_backoff = absl::Seconds(1);
  config.max_backoff = absl::Hours(1);
  RetryPolicy policy(config, 7);
  for (int n = 1; n <= 10; ++n) {
    absl::Duration lo = absl::Seconds(1) * (int64_t{1} << (n - 1));
    EXPECT_EQ(policy.BackoffRange(n), std::make_pair(lo, 2 * lo)) << n;
  }
}

TEST(RetryPolicyTest, JitterSpreadsDelays) {
  RetryPolicy policy(RetryConfig{}, 3);
  absl::Duration smallest = absl::InfiniteDuration();
  absl::Duration largest = absl::ZeroDuration();
  for (int i = 0; i < 1000; ++i) {
    absl::Duration d = policy.Decide(Status(0), 1).delay;
    smallest = std::min(smallest, d);
    largest = std::max(largest, d);
  }
  // 1000 uniform draws over [500ms, 1s) cover most of the range.
  EXPECT_LT(smallest, absl::Milliseconds(550));
  EXPECT_GT(largest, absl::Milliseconds(950));
}

TEST(RetryPolicyTest, SameSeedSameDelays) {
  RetryPolicy a(RetryConfig{}, 99);
  RetryPolicy b(RetryConfig{}, 99);
  for (int n = 1; n < 20; ++n)
    EXPECT_EQ(a.Decide(Status(0), n).delay, b.Decide(Status(0), n).delay);
}

TEST(RetryPolicyTest, MinNotBelowMaxGivesFixedDelay) {
  RetryConfig config;
  config.min_backoff = absl::Seconds(10);
  config.max_backoff = absl::Seconds(5);
  RetryPolicy policy(config, 1);
  for (int n : {1, 2, 10}) EXPECT_EQ(policy.Decide(Status(0), n).delay, absl::Seconds(10));

  config.max_backoff = absl::Seconds(10);
  RetryPolicy equal(config, 1);
  EXPECT_EQ(equal.Decide(Status(0), 3).delay, absl::Seconds(10));

  config.min_backoff = absl::ZeroDuration();
  RetryPolicy zero(config, 1);
  EXPECT_EQ(zero.Decide(Status(0), 1000).delay, absl::ZeroDuration());
}

TEST(RetryPolicyTest, HugeConfigIsClampedNotOverflowed) {
  RetryConfig config;
  config.min_backoff = absl::Milliseconds(1);
  config.max_backoff = absl::InfiniteDuration();
  RetryPolicy policy(config, 1);
  for (int n : {1, 30, 63, 64, 65, 1000, 2147483647}) {
    RetryDecision d = policy.Decide(Status(0), n);
    EXPECT_EQ(d.kind, Kind::kRetry);
    EXPECT_LE(d.delay, absl::Hours(24)) << n;
    EXPECT_GE(d.delay, absl::Milliseconds(1)) << n;
  }
}

TEST(RetryPolicyTest, RetryAfterIsHonouredOn429And503) {
  RetryPolicy policy(RetryConfig{}, 1);
  for (int status : {429, 503}) {
    RetryDecision d = policy.Decide(Status(status, absl::Seconds(30)), 1);
    EXPECT_EQ(d.kind, Kind::kRetry);
    EXPECT_EQ(d.delay, absl::Seconds(30)) << status;
    // Longer than max_backoff is fine: Loki knows when it will take data again.
    d = policy.Decide(Status(status, absl::Minutes(20)), 1);
    EXPECT_EQ(d.delay, absl::Minutes(20)) << status;
    // But not absurdly long.
    d = policy.Decide(Status(status, absl::Hours(24 * 30)), 1);
    EXPECT_EQ(d.delay, absl::Hours(1)) << status;
    // A short Retry-After does not shorten the backoff.
    d = policy.Decide(Status(status, absl::Seconds(1)), 12);
    EXPECT_GE(d.delay, absl::Seconds(256)) << status;
    d = policy.Decide(Status(status, absl::ZeroDuration()), 1);
    EXPECT_GE(d.delay, absl::Milliseconds(500)) << status;
    d = policy.Decide(Status(status, -absl::Seconds(5)), 1);
    EXPECT_GE(d.delay, absl::Milliseconds(500)) << status;
  }
  // Other statuses carry no Retry-After semantics.
  RetryDecision d = policy.Decide(Status(500, absl::Minutes(20)), 1);
  EXPECT_LT(d.delay, absl::Seconds(1));
  d = policy.Decide(Status(0, absl::Minutes(20)), 1);
  EXPECT_LT(d.delay, absl::Seconds(1));
}

TEST(RetryPolicyTest, MaxRetriesDropsAfterThatManyAttempts) {
  RetryConfig config;
  config.max_retries = 3;
  RetryPolicy policy(config, 1);
  EXPECT_EQ(policy.Decide(Status(500), 1).kind, Kind::kRetry);
  EXPECT_EQ(policy.Decide(Status(500), 2).kind, Kind::kRetry);
  RetryDecision d = policy.Decide(Status(500), 3);
  EXPECT_EQ(d.kind, Kind::kDrop);
  EXPECT_EQ(d.reason, "ingester_error");
  d = policy.Decide(Status(0), 3);
  EXPECT_EQ(d.reason, "ingester_error");
  // The last answer decides the reason, as in Alloy.
  d = policy.Decide(Status(429, absl::Seconds(5)), 3);
  EXPECT_EQ(d.kind, Kind::kDrop);
  EXPECT_EQ(d.reason, "rate_limited");
  // Success on the last attempt is still success.
  EXPECT_EQ(policy.Decide(Status(204), 3).kind, Kind::kDelivered);

  config.max_retries = 1;
  RetryPolicy once(config, 1);
  EXPECT_EQ(once.Decide(Status(503), 1).kind, Kind::kDrop);
}

TEST(RetryPolicyTest, ForeverModeNeverDrops) {
  RetryPolicy policy(RetryConfig{}, 5);
  for (int n = 1; n < 100000; n += 97) {
    for (int status : {0, 429, 500, 503}) {
      RetryDecision d = policy.Decide(Status(status), n);
      ASSERT_EQ(d.kind, Kind::kRetry) << status << " attempt " << n;
      ASSERT_LE(d.delay, absl::Minutes(5));
    }
  }
}

class ParseRetryAfterTest : public ::testing::Test {
 protected:
  // Sun, 06 Nov 1994 08:49:37 GMT
  absl::Time now_ = absl::FromUnixSeconds(784111777);
};

TEST_F(ParseRetryAfterTest, DeltaSeconds) {
  EXPECT_EQ(ParseRetryAfter("120", now_), absl::Seconds(120));
  EXPECT_EQ(ParseRetryAfter("0", now_), absl::ZeroDuration());
  EXPECT_EQ(ParseRetryAfter("  7\t", now_), absl::Seconds(7));
  EXPECT_EQ(ParseRetryAfter("007", now_), absl::Seconds(7));
  EXPECT_EQ(ParseRetryAfter("2147483648", now_), absl::Seconds(2147483648));
  EXPECT_EQ(ParseRetryAfter("99999999999999999999999999", now_), absl::Seconds(2147483648));
}

TEST_F(ParseRetryAfterTest, HttpDate) {
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now_), absl::ZeroDuration());
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:50:07 GMT", now_), absl::Seconds(30));
  EXPECT_EQ(ParseRetryAfter("Mon, 07 Nov 1994 08:49:37 GMT", now_), absl::Hours(24));
  EXPECT_EQ(ParseRetryAfter(" Sun, 06 Nov 1994 09:49:37 GMT ", now_), absl::Hours(1));
  // In the past: retry now (the backoff still applies).
  EXPECT_EQ(ParseRetryAfter("Sat, 05 Nov 1994 08:49:37 GMT", now_), absl::ZeroDuration());
  // Leap years and the leap second the grammar allows.
  absl::Time leap = absl::FromUnixSeconds(951782400);  // 2000-02-29 00:00:00 UTC
  EXPECT_EQ(ParseRetryAfter("Tue, 29 Feb 2000 00:00:10 GMT", leap), absl::Seconds(10));
  EXPECT_EQ(ParseRetryAfter("Tue, 29 Feb 2000 00:00:60 GMT", leap), absl::Seconds(60));
}

TEST_F(ParseRetryAfterTest, Garbage) {
  for (std::string_view bad : {
           "",
           "   ",
           "-1",
           "+5",
           "1.5",
           "5s",
           "0x10",
           "soon",
           "120 seconds",
           "Sun, 06 Nov 1994 08:49:37 UTC",   // not GMT
           "Sun, 06 Nov 1994 08:49:37 gmt",   // case matters in IMF-fixdate
           "Sunday, 06-Nov-94 08:49:37 GMT",  // RFC 850: obsolete, not supported
           "Sun Nov  6 08:49:37 1994",        // asctime: obsolete, not supported
           "Sun, 6 Nov 1994 08:49:37 GMT",    // one-digit day
           "Sun, 06 Foo 1994 08:49:37 GMT",   // month
           "Xyz, 06 Nov 1994 08:49:37 GMT",   // day name
           "Sun, 31 Nov 1994 08:49:37 GMT",   // no such day
           "Sun, 29 Feb 1900 08:49:37 GMT",   // 1900 is not a leap year
           "Sun, 06 Nov 1994 24:00:00 GMT",   // hour
           "Sun, 06 Nov 1994 08:60:00 GMT",   // minute
           "Sun, 06 Nov 1994 08:49:61 GMT",   // second
           "Sun, 06 Nov 1994 08:49:37 GMT junk",
           "Sun, 06 Nov 1994 08:49:3a GMT",
           "Sun,  06 Nov 1994 08:49:37 GMT",
       }) {
    EXPECT_EQ(ParseRetryAfter(bad, now_), std::nullopt) << "\"" << bad << "\"";
  }
}

}  // namespace
}  // namespace sluice
