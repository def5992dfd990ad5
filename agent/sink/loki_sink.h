// LokiSink: pushes batches to Loki's /loki/api/v1/push as snappy-compressed protobuf.
//
// Retries what Loki may take later (transport errors, 5xx, 429) with the RetryPolicy's backoff
// and drops, counted by reason, what it never will (other 4xx, retries exhausted). Loki keeps
// the valid streams of a request it answers 400 for, so a 400 is never retried (that would
// duplicate them). Runs on the sender thread; owned by the Sender. The HTTP client and sleeper
// are injected so that tests need neither a network nor a clock.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "agent/common/clock.h"
#include "agent/common/metrics.h"
#include "agent/sink/http_client.h"
#include "agent/sink/retry_policy.h"
#include "agent/sink/sink.h"
#include "agent/sink/sleeper.h"

namespace sluice {

struct LokiSinkConfig {
  std::string url;                                           // http(s)://host:port/loki/api/v1/push
  std::string tenant;                                        // X-Scope-OrgID when not empty
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  absl::Duration remote_timeout = absl::Seconds(10);
  RetryConfig retry;
};

class LokiSink final : public Sink {
 public:
  LokiSink(LokiSinkConfig config, std::unique_ptr<HttpClient> http,
           std::unique_ptr<Sleeper> sleeper, MetricsRegistry* metrics, uint64_t seed);

  void Prepare(Batch* batch) override;
  BatchOutcome Deliver(const Batch& batch) override;
  void Cancel() override {
    sleeper_->Cancel();
    http_->Cancel();
  }

 private:
  void CountDrop(const Batch& batch, const std::string& reason);

  LokiSinkConfig config_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<Sleeper> sleeper_;
  MetricsRegistry* metrics_;
  RetryPolicy policy_;
  std::string host_;
  std::string encoded_;  // sender thread scratch (batches that were not prepared)
  std::string compressed_;
  std::string prep_encoded_;  // tail thread scratch (Prepare)
  std::string prep_compressed_;
  HttpRequest request_;

  Counter* sent_bytes_;
  Counter* sent_entries_;
  Counter* retries_;
  Counter* requests_ok_;
  int64_t last_error_log_ns_ = 0;
};

// Short reason for a 400 from Loki's message text ("too_far_behind", "out_of_order",
// "greater_than_max_sample_age", "too_far_in_future", "line_too_long", "invalid_labels", ...,
// or "other").
std::string_view LokiRejectionReason(std::string_view body);

// host[:port] of a URL, for the `host` metric label as Alloy sets it.
std::string UrlHost(const std::string& url);

}  // namespace sluice
