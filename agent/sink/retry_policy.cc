#include "agent/sink/retry_policy.h"

#include <algorithm>
#include <array>

#include "absl/time/civil_time.h"

namespace sluice {
namespace {

constexpr absl::Duration kMaxConfiguredBackoff = absl::Hours(24);
// RFC 9111 section 1.2.2: a delta-seconds too large to represent counts as 2^31.
constexpr int64_t kMaxDeltaSeconds = int64_t{1} << 31;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Two or four ASCII digits at s[pos..pos+n) as a number, or -1.
int Digits(std::string_view s, size_t pos, size_t n) {
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!IsDigit(s[i])) return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// IMF-fixdate, exactly: "Sun, 06 Nov 1994 08:49:37 GMT" (29 bytes).
std::optional<absl::Time> ParseImfFixdate(std::string_view s) {
  static constexpr std::array<std::string_view, 7> kDays = {"Mon", "Tue", "Wed", "Thu",
                                                            "Fri", "Sat", "Sun"};
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 29) return std::nullopt;
  // The day name is checked for shape only: RFC 9110 lets recipients ignore it.
  if (std::find(kDays.begin(), kDays.end(), s.substr(0, 3)) == kDays.end()) return std::nullopt;
  if (s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
      s[22] != ':' || s.substr(25) != " GMT") {
    return std::nullopt;
  }
  auto month_it = std::find(kMonths.begin(), kMonths.end(), s.substr(8, 3));
  if (month_it == kMonths.end()) return std::nullopt;
  int month = static_cast<int>(month_it - kMonths.begin()) + 1;
  int day = Digits(s, 5, 2);
  int year = Digits(s, 12, 4);
  int hour = Digits(s, 17, 2);
  int minute = Digits(s, 20, 2);
  int second = Digits(s, 23, 2);
  if (day < 1 || year < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 ||
      second > 60) {  // 60: a leap second, which the grammar allows
    return std::nullopt;
  }
  // Civil types normalise out-of-range fields (Feb 30 -> Mar 2); such a date is garbage here.
  absl::CivilDay civil_day(year, month, day);
  if (civil_day.month() != month || civil_day.day() != day) return std::nullopt;
  return absl::FromCivil(absl::CivilSecond(year, month, day, hour, minute, second),
                         absl::UTCTimeZone());
}

}  // namespace

RetryPolicy::RetryPolicy(RetryConfig config, uint64_t seed) : config_(config), rng_(seed) {
  config_.min_backoff =
      std::clamp(config_.min_backoff, absl::ZeroDuration(), kMaxConfiguredBackoff);
  config_.max_backoff =
      std::clamp(config_.max_backoff, absl::ZeroDuration(), kMaxConfiguredBackoff);
}

std::pair<absl::Duration, absl::Duration> RetryPolicy::BackoffRange(int attempt_number) const {
  const absl::Duration max = config_.max_backoff;
  absl::Duration lo = config_.min_backoff;
  absl::Duration hi = std::min(lo * 2, max);
  // Double both ends until the upper one reaches max, then keep the range (dskit freezes it there
  // rather than collapsing it to a point, so retries from many agents stay spread out). 64 rounds
  // take any non-zero duration past 24h, so the loop is bounded even in retry-forever mode.
  for (int i = 1; i < attempt_number && i < 64 && hi < max && lo > absl::ZeroDuration(); ++i) {
    lo = std::min(lo * 2, max);
    hi = std::min(hi * 2, max);
  }
  if (hi < lo) hi = lo;  // min_backoff >= max_backoff: a fixed delay of min_backoff
  return {lo, hi};
}

RetryDecision RetryPolicy::Decide(const PushAttempt& attempt, int attempt_number) {
  const int status = attempt.http_status;
  RetryDecision d;
  if (status >= 200 && status < 300) return d;  // kDelivered

  const bool rate_limited = status == 429;
  d.kind = RetryDecision::Kind::kDrop;
  if (rate_limited && !config_.retry_on_http_429) {
    d.reason = kDropReasonRateLimited;
    return d;
  }
  // Alloy retries 429, 5xx and connection-level errors only. Anything else (400 bad entries,
  // 401/403 credentials, 404 wrong URL, 413 too large, a redirect we do not follow) will be
  // answered the same way next time.
  const bool retryable = status <= 0 || status / 100 == 5 || rate_limited;
  if (!retryable) {
    d.reason = kDropReasonGeneric;
    return d;
  }
  if (config_.max_retries > 0 && attempt_number >= config_.max_retries) {
    // Like Alloy: the last answer decides the reason, whatever the earlier ones were.
    d.reason = rate_limited ? kDropReasonRateLimited : kDropReasonGeneric;
    return d;
  }

  d.kind = RetryDecision::Kind::kRetry;
  auto [lo, hi] = BackoffRange(attempt_number);
  d.delay = lo;
  if (hi > lo) {
    std::uniform_int_distribution<int64_t> jitter(0, absl::ToInt64Nanoseconds(hi - lo) - 1);
    d.delay += absl::Nanoseconds(jitter(rng_));
  }
  if ((status == 429 || status == 503) && attempt.retry_after.has_value()) {
    d.delay =
        std::max(d.delay, std::clamp(*attempt.retry_after, absl::ZeroDuration(), kMaxRetryAfter));
  }
  return d;
}

std::optional<absl::Duration> ParseRetryAfter(std::string_view value, absl::Time now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), IsDigit)) {
    int64_t seconds = 0;
    for (char c : value) {
      seconds = std::min(seconds * 10 + (c - '0'), kMaxDeltaSeconds);
    }
    return absl::Seconds(seconds);
  }
  std::optional<absl::Time> when = ParseImfFixdate(value);
  if (!when.has_value()) return std::nullopt;
  return std::max(*when - now, absl::ZeroDuration());
}

}  // namespace sluice
