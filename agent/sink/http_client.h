// HttpClient: the one HTTP operation the Loki sink needs (POST a body, read the status, the start
// of the body and Retry-After). An interface so the sink is tested with a scripted fake.
//
// CurlHttpClient implements it with one libcurl easy handle reused across requests, so pushes
// ride one keep-alive connection. Owned by the sink and used only from the sender thread: it is
// not thread-safe. Construction never fails; a handle that could not be set up makes every Post
// return the set-up error, so a bad TLS file shows in the push errors and metrics.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sluice {

struct HttpRequest {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;  // not owned; must outlive Post
  absl::Duration timeout = absl::Seconds(10);
};

// How much of a response body is kept: enough for Loki's error text.
inline constexpr size_t kMaxResponseBodyBytes = 4096;

struct HttpResponse {
  int status = 0;
  std::string body;                        // first kMaxResponseBodyBytes at most
  std::optional<std::string> retry_after;  // raw Retry-After header value, if present
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Any HTTP status is a response. Transport failures (refused, reset, timeout, DNS, TLS) are a
  // non-OK Status, never a response: DeadlineExceeded for timeouts, InvalidArgument for a URL
  // that cannot be used, Unavailable for the rest.
  virtual absl::StatusOr<HttpResponse> Post(const HttpRequest& request) = 0;
  // Makes the request in flight, and every later one, fail at once with CancelledError (shutdown
  // must not wait out a remote_timeout). Thread-safe; the default does nothing.
  virtual void Cancel() {}
};

// Process-wide curl_global_init, done once (std::call_once); CurlHttpClient calls it itself.
// Never undone: the agent uses curl until it exits.
absl::Status InitCurlOnce();

struct CurlHttpClientOptions {
  std::string ca_file;                // PEM bundle to verify the server; empty = system default
  std::string cert_file;              // client certificate (PEM) for mTLS; empty = none
  std::string key_file;               // client private key (PEM); empty = none
  bool insecure_skip_verify = false;  // do not verify the server certificate or host name
  // Proxy URL; empty = connect directly, and ignore http_proxy/https_proxy in the environment
  // (an agent must not change behaviour because of a variable its pod happened to inherit).
  std::string proxy_url;
  std::string user_agent;  // empty = "sluice/<version>"
};

class CurlHttpClient final : public HttpClient {
 public:
  CurlHttpClient();
  explicit CurlHttpClient(CurlHttpClientOptions options);
  ~CurlHttpClient() override;
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  absl::StatusOr<HttpResponse> Post(const HttpRequest& request) override;
  void Cancel() override { cancelled_.store(true, std::memory_order_relaxed); }

 private:
  static int OnProgress(void* self, int64_t, int64_t, int64_t, int64_t);
  std::atomic<bool> cancelled_{false};
  absl::Status Setup();

  CurlHttpClientOptions options_;
  void* curl_ = nullptr;  // CURL*; void* keeps curl.h out of every includer
  absl::Status setup_status_;
  char error_buffer_[256] = {};  // CURLOPT_ERRORBUFFER: curl's detail for the last failure
};

}  // namespace sluice
