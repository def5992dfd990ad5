#include "agent/sink/loki_sink.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/pipeline/push_encoder.h"

namespace sluice {

std::string UrlHost(const std::string& url) {
  size_t start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  size_t end = url.find('/', start);
  std::string host = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  size_t at = host.rfind('@');  // drop user:password@
  if (at != std::string::npos) host = host.substr(at + 1);
  return host;
}

std::string_view LokiRejectionReason(std::string_view body) {
  // Loki's validation messages (pkg/validation); the first one found names the batch's reason.
  struct Pattern {
    std::string_view text;
    std::string_view reason;
  };
  static constexpr Pattern kPatterns[] = {
      {"too far behind", "too_far_behind"},
      {"out of order", "out_of_order"},
      {"timestamp too old", "greater_than_max_sample_age"},
      {"timestamp too new", "too_far_in_future"},
      {"Max entry size", "line_too_long"},
      {"line too long", "line_too_long"},
      {"invalid UTF-8", "invalid_utf8"},
      {"labels", "invalid_labels"},
  };
  for (const Pattern& p : kPatterns) {
    if (body.find(p.text) != std::string_view::npos) return p.reason;
  }
  return "other";
}

LokiSink::LokiSink(LokiSinkConfig config, std::unique_ptr<HttpClient> http,
                   std::unique_ptr<Sleeper> sleeper, MetricsRegistry* metrics, uint64_t seed)
    : config_(std::move(config)),
      http_(std::move(http)),
      sleeper_(std::move(sleeper)),
      metrics_(metrics),
      policy_(config_.retry, seed),
      host_(UrlHost(config_.url)) {
  sent_bytes_ = metrics->GetCounter("loki_write_sent_bytes_total", "Number of bytes sent.",
                                    {{"host", host_}});
  sent_entries_ = metrics->GetCounter("loki_write_sent_entries_total",
                                      "Number of log entries sent.", {{"host", host_}});
  retries_ = metrics->GetCounter("loki_write_batch_retries_total",
                                 "Number of times batches have had to be retried.",
                                 {{"host", host_}, {"tenant", config_.tenant}});
  requests_ok_ =
      metrics->GetCounter("sluice_write_requests_total", "Push requests answered, by status code.",
                          {{"host", host_}, {"status_code", "2xx"}});
  request_.url = config_.url;
  request_.timeout = config_.remote_timeout;
  request_.headers = {{"Content-Type", "application/x-protobuf"},
                      {"Content-Encoding", "snappy"},
                      {"User-Agent", absl::StrCat("sluice/", SLUICE_VERSION)}};
  if (!config_.tenant.empty()) request_.headers.emplace_back("X-Scope-OrgID", config_.tenant);
  for (const auto& h : config_.headers) {
    // Alloy adds configured headers only when the client has not set them itself.
    bool present = false;
    for (const auto& [k, v] : request_.headers) {
      if (absl::EqualsIgnoreCase(k, h.first)) present = true;
    }
    if (!present) request_.headers.push_back(h);
  }
}

void LokiSink::CountDrop(const Batch& batch, const std::string& reason) {
  MetricLabels labels = {{"host", host_}, {"reason", reason}, {"tenant", config_.tenant}};
  metrics_
      ->GetCounter("loki_write_dropped_entries_total",
                   "Number of log entries dropped because they failed to be sent.", labels)
      ->Inc(batch.entries);
  metrics_
      ->GetCounter("loki_write_dropped_bytes_total",
                   "Number of bytes dropped because they failed to be sent.", labels)
      ->Inc(batch.line_bytes);
}

void LokiSink::Prepare(Batch* batch) {
  if (batch->entries == 0) return;
  EncodePushRequest(*batch, &prep_encoded_);
  SnappyCompress(prep_encoded_, &prep_compressed_);
  // An exact-size copy: the scratch buffer is sized for the worst case, the payload waits in
  // the queue and should cost only its own bytes.
  batch->payload.assign(prep_compressed_);
  batch->prepared = true;
}

BatchOutcome LokiSink::Deliver(const Batch& batch) {
  if (batch.entries == 0) return BatchOutcome::kDelivered;  // marks only: nothing to send
  if (batch.prepared) {
    request_.body = batch.payload;
  } else {
    EncodePushRequest(batch, &encoded_);
    SnappyCompress(encoded_, &compressed_);
    request_.body = compressed_;
  }
  for (int attempt = 1;; ++attempt) {
    if (sleeper_->cancelled()) return BatchOutcome::kAborted;
    PushAttempt result;
    std::string error_text;
    absl::StatusOr<HttpResponse> response = http_->Post(request_);
    if (absl::IsCancelled(response.status())) return BatchOutcome::kAborted;
    if (response.ok()) {
      result.http_status = response->status;
      if (response->retry_after) {
        result.retry_after = ParseRetryAfter(*response->retry_after, absl::Now());
      }
      error_text = response->body;
    } else {
      error_text = std::string(response.status().message());
    }
    metrics_
        ->GetCounter(
            "sluice_write_requests_total", "Push requests answered, by status code.",
            {{"host", host_},
             {"status_code",
              result.http_status == 0 ? std::string("error") : std::to_string(result.http_status)}})
        ->Inc();
    RetryDecision decision = policy_.Decide(result, attempt);
    switch (decision.kind) {
      case RetryDecision::Kind::kDelivered:
        sent_bytes_->Inc(batch.line_bytes);
        sent_entries_->Inc(batch.entries);
        return BatchOutcome::kDelivered;
      case RetryDecision::Kind::kDrop: {
        CountDrop(batch, decision.reason);
        if (result.http_status == 400) {
          metrics_
              ->GetCounter(
                  "sluice_write_rejected_batches_total",
                  "Batches Loki answered 400 for, by the reason its message gives.",
                  {{"host", host_}, {"reason", std::string(LokiRejectionReason(error_text))}})
              ->Inc();
        }
        // Loki's message says what was wrong (which stream, which limit); log it, but not a
        // flood of it when every batch is refused.
        int64_t now = RealClock::Get()->MonotonicNanos();
        if (last_error_log_ns_ == 0 || now - last_error_log_ns_ > 10'000'000'000) {
          last_error_log_ns_ = now;
          LogError("loki.write", "batch dropped",
                   {{"host", host_},
                    {"status", std::to_string(result.http_status)},
                    {"reason", decision.reason},
                    {"entries", std::to_string(batch.entries)},
                    {"error", error_text.substr(0, 1024)}});
        }
        return BatchOutcome::kDropped;
      }
      case RetryDecision::Kind::kRetry:
        retries_->Inc();
        LogWarn("loki.write", "push failed, will retry",
                {{"host", host_},
                 {"status", std::to_string(result.http_status)},
                 {"attempt", std::to_string(attempt)},
                 {"delay", absl::FormatDuration(decision.delay)},
                 {"error", error_text.substr(0, 512)}});
        if (!sleeper_->Sleep(decision.delay)) return BatchOutcome::kAborted;
        break;
    }
  }
}

}  // namespace sluice
