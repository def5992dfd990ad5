// RetryPolicy: decides, after each push attempt, whether the batch was delivered, should be
// retried after a delay, or must be dropped (and under which metric reason).
//
// A pure unit: no I/O, no clock, no sleeping; the caller sleeps the returned delay. One per
// sending thread (the Loki sink owns it); not thread-safe because it owns its random generator,
// which is seedable so tests are deterministic.
//
// The rules follow Alloy's loki.write client (internal/component/common/loki/client), so that
// dashboards built on loki_write_dropped_entries_total{reason} keep their meaning:
//   2xx                               -> delivered
//   transport error, 5xx, 429         -> retry with dskit-style exponential backoff and jitter
//   429 with retry_on_http_429=false  -> drop, reason "rate_limited"
//   any other status (4xx, 3xx, 1xx)  -> drop at once, reason "ingester_error"
//   max_retries attempts failed       -> drop, reason "rate_limited" if the last answer was 429,
//                                        else "ingester_error"
// Unlike Alloy, a Retry-After on a 429 or 503 is honoured: the delay is at least that long (capped
// at kMaxRetryAfter, so a broken proxy cannot stall the agent for days).
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>

#include "absl/time/time.h"

namespace sluice {

// Reason label values of loki_write_dropped_entries_total / _bytes_total, as Alloy names them.
inline constexpr std::string_view kDropReasonGeneric = "ingester_error";
inline constexpr std::string_view kDropReasonRateLimited = "rate_limited";
inline constexpr std::string_view kDropReasonStreamLimited = "stream_limited";
inline constexpr std::string_view kDropReasonLineTooLong = "line_too_long";

// Upper bound on how long a Retry-After can make us wait. Loki (or a proxy in front of it) may
// legitimately ask for more than max_backoff, so it may exceed max_backoff, but not this.
inline constexpr absl::Duration kMaxRetryAfter = absl::Hours(1);

struct RetryConfig {
  absl::Duration min_backoff = absl::Milliseconds(500);  // Alloy loki.write min_backoff_period
  absl::Duration max_backoff = absl::Minutes(5);         // max_backoff_period
  // 0 = retry forever (sluice's default: the log files are the buffer); N = drop after N tries.
  int max_retries = 0;
  bool retry_on_http_429 = true;
};

struct PushAttempt {
  int http_status = 0;  // 0 = transport error (connection refused/reset, timeout)
  std::optional<absl::Duration> retry_after;  // parsed Retry-After of a 429/503, if any
};

struct RetryDecision {
  enum class Kind { kDelivered, kRetry, kDrop };
  Kind kind = Kind::kDelivered;
  absl::Duration delay = absl::ZeroDuration();  // for kRetry
  std::string reason;                           // for kDrop: a kDropReason* value
};

class RetryPolicy {
 public:
  // Durations are clamped to what a backoff can mean: negative min_backoff is 0, and both ends
  // are at most 24h (so an "infinite" max cannot overflow the jitter arithmetic).
  RetryPolicy(RetryConfig config, uint64_t seed);

  // attempt_number = 1 for the first try of a batch. Decides what to do after that attempt.
  // Stateless across batches except for the random generator: the backoff range comes from
  // attempt_number, as dskit's doubling does.
  RetryDecision Decide(const PushAttempt& attempt, int attempt_number);

  // The jitter range of the delay after failed attempt `attempt_number`:
  // [min * 2^(n-1), min * 2^n), each end capped at max_backoff (dskit's backoff.NextDelay).
  // When the two ends meet (min >= max), the delay is exactly the lower end.
  std::pair<absl::Duration, absl::Duration> BackoffRange(int attempt_number) const;

  const RetryConfig& config() const { return config_; }

 private:
  RetryConfig config_;
  std::mt19937_64 rng_;
};

// Parses a Retry-After header value (RFC 9110 section 10.2.3): delta-seconds ("120") or an
// HTTP-date in IMF-fixdate form ("Sun, 06 Nov 1994 08:49:37 GMT"), the latter relative to `now`
// (a date in the past gives zero). The obsolete RFC 850 and asctime date forms, and anything
// else, give nullopt. Delta-seconds beyond 2^31 are taken as 2^31, as RFC 9111 asks.
std::optional<absl::Duration> ParseRetryAfter(std::string_view value, absl::Time now);

}  // namespace sluice
