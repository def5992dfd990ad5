// LokiSink: pushes batches to Loki's /loki/api/v1/push as snappy-compressed protobuf.
//
// Retries what Loki may take later (transport errors, 5xx, 429) with the RetryPolicy's backoff
// and drops, counted by reason, what it never will (other 4xx, retries exhausted). Loki keeps
// the valid streams of a request it answers 400 for, so a 400 is never retried (that would
// duplicate them). Headers are built for each attempt as Alloy's client builds them: its own
// (Content-Type, Content-Encoding, User-Agent, X-Scope-OrgID of the batch's tenant or the
// configured one), then the endpoint's `headers` where not already set, then `http_headers`, then
// Authorization from basic_auth or authorization unless one is set (credentials files read at
// each attempt, so a rotated token is used on the next try). Runs on the sender thread; owned by
// the Sender. The HTTP client and sleeper
// are injected so that tests need neither a network nor a clock.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "agent/common/clock.h"
#include "agent/common/metrics.h"
#include "agent/pipeline/push_encoder.h"
#include "agent/sink/endpoint_config.h"
#include "agent/sink/file_secret.h"
#include "agent/sink/http_client.h"
#include "agent/sink/request_auth.h"
#include "agent/sink/retry_policy.h"
#include "agent/sink/sink.h"
#include "agent/sink/sleeper.h"

namespace sluice {

struct LokiSinkConfig {
  std::string url;     // http(s)://host:port/loki/api/v1/push
  std::string tenant;  // X-Scope-OrgID when not empty (a batch's own tenant wins)
  // Endpoint `headers`: each added unless the request already has that header (names compared
  // without case), so they never replace Content-Type, Content-Encoding, User-Agent or the tenant;
  // an Authorization here takes the place of basic_auth/authorization, as in Alloy.
  std::vector<std::pair<std::string, std::string>> headers;
  // Endpoint `http_headers`: every value added to every request.
  std::vector<std::pair<std::string, std::string>> http_headers;
  // At most one; credentials files are read at each request (FileSecret).
  std::optional<BasicAuthConfig> basic_auth;
  std::optional<AuthorizationConfig> authorization;
  std::optional<OAuth2Config> oauth2;
  absl::Duration remote_timeout = absl::Seconds(10);
  RetryConfig retry;
  // The loki.write component ("loki.write.default"): Alloy labels its metrics with component_id
  // and component_path="/". Empty: no component labels.
  std::string component_id;
};

// The sink's share of an endpoint block. max_backoff_retries: 0 (retry forever, sluice's
// default) unless written; written, Alloy's meaning (N tries, 0 forever, negative one try).
LokiSinkConfig LokiSinkConfigFromEndpoint(const EndpointConfig& endpoint);
// The HTTP client's share: TLS, proxy, redirects, HTTP/2.
HttpClientOptions HttpClientOptionsFromEndpoint(const HttpClientConfig& endpoint);

class LokiSink final : public Sink {
 public:
  LokiSink(LokiSinkConfig config, std::unique_ptr<HttpClient> http,
           std::unique_ptr<Sleeper> sleeper, MetricsRegistry* metrics, uint64_t seed);
  // A sink for an endpoint block, with NewHttpClient's client and a RealSleeper.
  static std::unique_ptr<LokiSink> ForEndpoint(const EndpointConfig& endpoint,
                                               MetricsRegistry* metrics, uint64_t seed);

  void Encode(Batch* batch) override;
  BatchOutcome Deliver(const Batch& batch) override;
  std::optional<std::string> Unhealthy() const override;
  void Cancel() override {
    sleeper_->Cancel();
    http_->Cancel();
  }
  std::pair<Counter*, Counter*> DropCounters(const std::string& tenant,
                                             std::string_view reason) override;

 private:
  void SetHealth(std::string error);
  // Alloy's per-tenant series of this endpoint (host, tenant), created at the tenant's first
  // batch. Sender thread.
  struct TenantSeries {
    Counter* encoded_bytes;
    Counter* sent_bytes;
    Counter* sent_entries;
    Counter* retries;
    Histogram* request_size;
  };
  TenantSeries& SeriesFor(const std::string& tenant);
  MetricLabels Labels(MetricLabels extra) const;  // component labels + host + extra
  void CountDrop(const std::string& tenant, const std::string& reason, uint64_t entries,
                 uint64_t bytes);
  // The request's headers for `tenant`, Authorization included; an error when a credentials
  // file cannot be read (the attempt then counts as a transport error).
  absl::Status BuildHeaders(const std::string& tenant);

  LokiSinkConfig config_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<Sleeper> sleeper_;
  MetricsRegistry* metrics_;
  RetryPolicy policy_;
  std::string host_;
  CompressScratchPool scratches_;  // snappy's output before its exact-size copy
  std::string compressed_;         // a batch that was not encoded, encoded by the send thread
  HttpRequest request_;
  RequestAuth auth_;               // basic_auth / authorization, credentials files read per request
  bool url_has_userinfo_ = false;  // user:pass@ in the URL is the auth then, as in Go

  absl::flat_hash_map<std::string, TenantSeries> tenants_;
  int64_t last_error_log_ns_ = 0;
  mutable std::mutex health_mu_;  // health_error_: written by the sender thread, read by any
  std::string health_error_;      // "" while the last attempt succeeded (or none failed)
};

// Short reason for a 400 from Loki's message text ("too_far_behind", "out_of_order",
// "greater_than_max_sample_age", "too_far_in_future", "line_too_long", "invalid_labels", ...,
// or "other").
std::string_view LokiRejectionReason(std::string_view body);

// host[:port] of a URL, for the `host` metric label as Alloy sets it.
std::string UrlHost(const std::string& url);

}  // namespace sluice
