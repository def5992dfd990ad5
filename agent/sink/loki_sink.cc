#include "agent/sink/loki_sink.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/common/strings.h"
#include "agent/pipeline/push_encoder.h"
#include "agent/sink/asio_http_client.h"

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
      host_(UrlHost(config_.url)),
      auth_(config_.basic_auth, config_.authorization, config_.oauth2) {
  // Alloy creates the configured tenant's series, the drop reasons' included, up front: they
  // exist at 0 before anything happens.
  SeriesFor(config_.tenant);
  for (const char* reason : {"ingester_error", "rate_limited", "stream_limited", "line_too_long"}) {
    CountDrop(config_.tenant, reason, 0, 0);
  }
  request_.url = config_.url;
  request_.timeout = config_.remote_timeout;
  size_t scheme_end = config_.url.find("://");
  if (scheme_end != std::string::npos) {
    size_t authority_end = config_.url.find_first_of("/?#", scheme_end + 3);
    url_has_userinfo_ = config_.url
                            .substr(scheme_end + 3, authority_end == std::string::npos
                                                        ? std::string::npos
                                                        : authority_end - scheme_end - 3)
                            .find('@') != std::string::npos;
  }
  // Said once rather than at every request, as Alloy does: a configured header that a header
  // of the client's own shadows is never sent.
  for (const auto& [name, value] : config_.headers) {
    for (std::string_view own : {"Content-Type", "Content-Encoding", "User-Agent"}) {
      if (absl::EqualsIgnoreCase(name, Av(own))) {
        LogWarn("loki.write", "custom header key already exists, skipping",
                {{"host", host_}, {"key", name}});
      }
    }
  }
}

absl::Status LokiSink::BuildHeaders(const std::string& tenant) {
  auto& headers = request_.headers;
  headers.clear();
  headers.emplace_back("Content-Type", "application/x-protobuf");
  headers.emplace_back("Content-Encoding", "snappy");
  headers.emplace_back("User-Agent", absl::StrCat("sluice/", SLUICE_VERSION));
  if (!tenant.empty()) headers.emplace_back("X-Scope-OrgID", tenant);
  auto present = [&headers](std::string_view name) {
    for (const auto& [k, v] : headers) {
      if (absl::EqualsIgnoreCase(Av(k), Av(name))) return true;
    }
    return false;
  };
  // Alloy adds configured headers only when the request does not have them yet.
  for (const auto& h : config_.headers) {
    if (!present(h.first)) headers.push_back(h);
  }
  for (const auto& h : config_.http_headers) headers.push_back(h);
  if (url_has_userinfo_) return absl::OkStatus();
  return auth_.Apply(&headers);
}

MetricLabels LokiSink::Labels(MetricLabels extra) const {
  MetricLabels labels;
  if (!config_.component_id.empty()) {
    labels = ComponentLabels(config_.component_id);
  }
  labels.emplace_back("host", host_);
  for (auto& l : extra) labels.push_back(std::move(l));
  return labels;
}

LokiSink::TenantSeries& LokiSink::SeriesFor(const std::string& tenant) {
  auto it = tenants_.find(tenant);
  if (it != tenants_.end()) return it->second;
  MetricLabels l = Labels({{"tenant", tenant}});
  TenantSeries s;
  s.encoded_bytes = metrics_->GetCounter("loki_write_encoded_bytes_total",
                                         "Number of bytes encoded and ready to send.", l);
  s.sent_bytes = metrics_->GetCounter("loki_write_sent_bytes_total", "Number of bytes sent.", l);
  s.sent_entries = metrics_->GetCounter("loki_write_sent_entries_total",
                                        "Number of log entries sent to the ingester.", l);
  s.retries = metrics_->GetCounter("loki_write_batch_retries_total",
                                   "Number of times batches has had to be retried.", l);
  constexpr double kKiB = 1024, kMiB = 1024 * kKiB;
  s.request_size =
      metrics_->GetHistogram("loki_write_request_size_bytes", "Number of bytes for requests.",
                             {1 * kKiB, 4 * kKiB, 16 * kKiB, 64 * kKiB, 256 * kKiB, 512 * kKiB,
                              1 * kMiB, 2 * kMiB, 4 * kMiB, 8 * kMiB, 16 * kMiB, 20 * kMiB},
                             l);
  return tenants_.emplace(tenant, s).first->second;
}

std::pair<Counter*, Counter*> LokiSink::DropCounters(const std::string& tenant,
                                                     std::string_view reason) {
  MetricLabels labels = Labels({{"reason", std::string(reason)}, {"tenant", tenant}});
  return {metrics_->GetCounter("loki_write_dropped_entries_total",
                               "Number of log entries dropped because failed to be sent to the "
                               "ingester after all retries.",
                               labels),
          metrics_->GetCounter("loki_write_dropped_bytes_total",
                               "Number of bytes dropped because failed to be sent to the ingester "
                               "after all retries.",
                               labels)};
}

void LokiSink::CountDrop(const std::string& tenant, const std::string& reason, uint64_t entries,
                         uint64_t bytes) {
  auto [dropped_entries, dropped_bytes] = DropCounters(tenant, reason);
  dropped_entries->Inc(entries);
  dropped_bytes->Inc(bytes);
}

void LokiSink::SetHealth(std::string error) {
  std::lock_guard<std::mutex> lock(health_mu_);
  health_error_ = std::move(error);
}

std::optional<std::string> LokiSink::Unhealthy() const {
  std::lock_guard<std::mutex> lock(health_mu_);
  if (health_error_.empty()) return std::nullopt;
  return health_error_;
}

void LokiSink::Encode(Batch* batch) {
  if (batch->entries == 0) return;
  // Encode runs on the encoder thread, and on the tail thread when that is behind.
  scratches_.With([&](CompressScratch* scratch) {
    EncodeCompressedPushRequest(*batch, scratch, &batch->payload);
  });
  batch->encoded = true;
}

BatchOutcome LokiSink::Deliver(const Batch& batch) {
  if (batch.entries == 0) return BatchOutcome::kDelivered;  // marks only: nothing to send
  if (batch.encoded) {
    request_.body = batch.payload;
  } else {
    scratches_.With([&](CompressScratch* scratch) {
      EncodeCompressedPushRequest(batch, scratch, &compressed_);
    });
    request_.body = compressed_;
  }
  // Alloy: a batch's tenant (from the __tenant_id__ label) wins over the endpoint's tenant_id.
  const std::string& tenant = batch.tenant.empty() ? config_.tenant : batch.tenant;
  TenantSeries& series = SeriesFor(tenant);
  // As Alloy counts them: the bytes of the encoded (compressed) request, per request.
  const uint64_t body_bytes = request_.body.size();
  series.encoded_bytes->Inc(body_bytes);
  series.request_size->Observe(static_cast<double>(body_bytes));
  for (int attempt = 1;; ++attempt) {
    if (sleeper_->cancelled()) return BatchOutcome::kAborted;
    PushAttempt result;
    std::string error_text;
    // Built per attempt: a credentials file rotated while we back off is used on the retry.
    absl::Status headers = BuildHeaders(tenant);
    int64_t start_ns = RealClock::Get()->MonotonicNanos();
    absl::StatusOr<HttpResponse> response =
        headers.ok() ? http_->Post(request_) : absl::StatusOr<HttpResponse>(headers);
    if (absl::IsCancelled(response.status())) return BatchOutcome::kAborted;
    // Alloy's status_code is "-1" when no response came (transport error).
    int status_code = response.ok() ? response->status : -1;
    metrics_
        ->GetHistogram("loki_write_request_duration_seconds", "Duration of send requests.",
                       DefaultHistogramBuckets(),
                       Labels({{"status_code", std::to_string(status_code)}, {"tenant", tenant}}))
        ->Observe(static_cast<double>(RealClock::Get()->MonotonicNanos() - start_ns) / 1e9);
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
            Labels({{"status_code", result.http_status == 0 ? std::string("error")
                                                            : std::to_string(result.http_status)}}))
        ->Inc();
    RetryDecision decision = policy_.Decide(result, attempt);
    switch (decision.kind) {
      case RetryDecision::Kind::kDelivered:
        SetHealth("");
        series.sent_bytes->Inc(body_bytes);
        series.sent_entries->Inc(batch.entries);
        return BatchOutcome::kDelivered;
      case RetryDecision::Kind::kDrop: {
        SetHealth("");  // answered: the endpoint works, this batch was refused
        CountDrop(tenant, decision.reason, batch.entries, body_bytes);
        if (result.http_status == 400) {
          metrics_
              ->GetCounter("sluice_write_rejected_batches_total",
                           "Batches Loki answered 400 for, by the reason its message gives.",
                           Labels({{"reason", std::string(LokiRejectionReason(error_text))}}))
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
        SetHealth(absl::StrCat("push to ", host_, " failing (attempt ", attempt, "): ",
                               result.http_status == 0 ? error_text.substr(0, 200)
                                                       : std::to_string(result.http_status)));
        series.retries->Inc();
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

namespace sluice {

LokiSinkConfig LokiSinkConfigFromEndpoint(const EndpointConfig& e) {
  LokiSinkConfig c;
  c.url = e.url;
  c.tenant = e.tenant_id;
  c.headers.assign(e.headers.begin(), e.headers.end());
  for (const auto& [name, values] : e.http_headers) {
    for (const std::string& v : values) c.http_headers.emplace_back(name, v);
  }
  c.basic_auth = e.basic_auth;
  c.authorization = e.authorization;
  c.oauth2 = e.oauth2;
  c.remote_timeout = e.remote_timeout;
  c.retry.min_backoff = e.min_backoff_period;
  c.retry.max_backoff = e.max_backoff_period;
  if (e.max_backoff_retries_set) {
    // dskit's backoff: 0 retries forever; a negative count stops after the first try.
    c.retry.max_retries = e.max_backoff_retries < 0
                              ? 1
                              : static_cast<int>(std::min<int64_t>(e.max_backoff_retries, 1 << 30));
  } else {
    c.retry.max_retries = 0;
  }
  c.retry.retry_on_http_429 = e.retry_on_http_429;
  return c;
}

HttpClientOptions HttpClientOptionsFromEndpoint(const HttpClientConfig& e) {
  HttpClientOptions o;
  o.ca_file = e.tls.ca_file;
  o.ca_pem = e.tls.ca_pem;
  o.cert_file = e.tls.cert_file;
  o.cert_pem = e.tls.cert_pem;
  o.key_file = e.tls.key_file;
  o.key_pem = e.tls.key_pem;
  o.server_name = e.tls.server_name;
  o.insecure_skip_verify = e.tls.insecure_skip_verify;
  switch (e.tls.min_version) {
    case TlsVersion::kTls10:
      o.min_tls_version = TlsMinVersion::kTls10;
      break;
    case TlsVersion::kTls11:
      o.min_tls_version = TlsMinVersion::kTls11;
      break;
    case TlsVersion::kDefault:
    case TlsVersion::kTls12:
      o.min_tls_version = TlsMinVersion::kTls12;
      break;
    case TlsVersion::kTls13:
      o.min_tls_version = TlsMinVersion::kTls13;
      break;
  }
  o.proxy_url = e.proxy.proxy_url;
  o.no_proxy = e.proxy.no_proxy;
  o.proxy_from_environment = e.proxy.proxy_from_environment;
  for (const auto& [name, values] : e.proxy.proxy_connect_header) {
    for (const std::string& v : values) o.proxy_connect_headers.emplace_back(name, v);
  }
  o.follow_redirects = e.follow_redirects;
  o.enable_http2 = e.enable_http2;
  return o;
}

std::unique_ptr<LokiSink> LokiSink::ForEndpoint(const EndpointConfig& endpoint,
                                                MetricsRegistry* metrics, uint64_t seed) {
  return std::make_unique<LokiSink>(LokiSinkConfigFromEndpoint(endpoint),
                                    NewHttpClient(HttpClientOptionsFromEndpoint(endpoint)),
                                    std::make_unique<RealSleeper>(), metrics, seed);
}

}  // namespace sluice
