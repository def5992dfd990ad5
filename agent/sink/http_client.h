// HttpClient: the one HTTP operation the Loki sink needs (POST a body, read the status, the start
// of the body and Retry-After). An interface so the sink is tested with a scripted fake.
//
// CurlHttpClient implements it with one libcurl easy handle reused across requests, so requests
// ride one keep-alive connection; libcurl is loaded on first use (curl_library.h), and
// NewHttpClient (asio_http_client.h) picks this client only for proxies and unix sockets. Owned
// by the component that made it and used from one thread at a time (Cancel from any): it is not
// thread-safe. Construction never fails; a handle that could not be set up makes every Post
// return the set-up error, so a bad TLS file shows in the push errors and metrics.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/sink/file_secret.h"
#include "agent/sink/proxy_selector.h"

namespace sluice {

struct HttpRequest {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;                       // not owned; must outlive Post
  absl::Duration timeout = absl::Seconds(10);  // InfiniteDuration: none (a followed stream)
  // Post only: another method with a body (the PUT of a Kubernetes object); empty: POST.
  std::string method;
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
  // GET (request.body unused): the whole body, or ResourceExhausted when it is larger than
  // `max_body` (a discovery answer that big is refused rather than truncated).
  virtual absl::StatusOr<HttpResponse> Get(const HttpRequest& request, size_t max_body) {
    (void)request;
    (void)max_body;
    return absl::UnimplementedError("GET not supported by this client");
  }
  // GET whose 200 body is handed to `on_data` as it arrives (a Kubernetes watch), until the server
  // ends it, the timeout passes or `on_data` returns false (then the response is returned as if
  // complete). Another status keeps the start of its body in the response, as Post does.
  virtual absl::StatusOr<HttpResponse> GetStream(
      const HttpRequest& request, const std::function<bool(std::string_view)>& on_data) {
    (void)request;
    (void)on_data;
    return absl::UnimplementedError("GET not supported by this client");
  }
  // Makes the request in flight, and every later one, fail at once with CancelledError (shutdown
  // must not wait out a remote_timeout). Thread-safe; the default does nothing.
  virtual void Cancel() {}
};

// `url` with the password of its userinfo replaced, as Go's URL.Redacted prints it: errors and
// logs must not carry credentials.
std::string RedactedUrl(const std::string& url);
// The URL's scheme, lower case, when it is http or https; else InvalidArgument in Go's words
// (`op` is Go's name of the method, "Post").
absl::StatusOr<std::string> HttpScheme(const std::string& url, std::string_view op);

// Loads libcurl and runs curl_global_init, once (std::call_once); CurlHttpClient calls it
// itself. Never undone: the agent uses curl until it exits.
absl::Status InitCurlOnce();

struct CurlResponseState;  // http_client.cc

enum class TlsMinVersion { kTls10, kTls11, kTls12, kTls13 };

// Transport settings of an endpoint (what Alloy's HTTP client config says about connections;
// authentication and headers are the sink's business). Defaults keep a client that connects
// directly, verifies TLS against the system CAs, and does not follow redirects.
struct HttpClientOptions {
  // Trusted CAs, instead of the system's: a PEM file (re-read when it changes) or PEM text.
  std::string ca_file;
  std::string ca_pem;
  // Client certificate and key for mutual TLS: files (re-read when they change) or PEM text.
  std::string cert_file;
  std::string cert_pem;
  std::string key_file;
  std::string key_pem;
  // Name to verify the server certificate against and to send as SNI, instead of the URL's host.
  // Done by asking curl for https://<server_name>:<port>/... while connecting to the URL's host
  // (CURLOPT_CONNECT_TO) and sending the URL's host in the Host header, so the request is what
  // Go sends with tls.Config.ServerName: same connection, same Host, different TLS name.
  std::string server_name;
  bool insecure_skip_verify = false;                      // verify neither the chain nor the name
  TlsMinVersion min_tls_version = TlsMinVersion::kTls12;  // Go's client default
  // Proxy: see ProxySelector. All empty/false = connect directly, and ignore http_proxy & co in
  // the environment (an agent must not change behaviour because of a variable its pod happened to
  // inherit unless proxy_from_environment says so).
  std::string proxy_url;
  std::string no_proxy;
  bool proxy_from_environment = false;
  std::vector<std::pair<std::string, std::string>> proxy_connect_headers;  // CONNECT only
  // Follow up to 10 redirects as Go does (303, and 301/302 after a POST, become a GET without
  // body; 307/308 repeat the POST); false: a 3xx is the answer.
  bool follow_redirects = false;
  bool enable_http2 = true;  // offer h2 by ALPN on https (curl's and Go's default); 1.1 otherwise
  std::string user_agent;    // empty = "sluice/<version>"
  // Connect to this unix domain socket instead of the URL's host and port (the Docker Engine's
  // /var/run/docker.sock); the URL still gives the path and the Host header.
  std::string unix_socket_path;
};

// True when the CA, certificate or key file of `options` changed since `stamps` (by ca_file,
// cert_file, key_file) were taken, and takes them again: a rotated file is used on the next
// connection.
bool UpdateTlsStamps(const HttpClientOptions& options, std::optional<FileStamp> stamps[3]);

class CurlHttpClient final : public HttpClient {
 public:
  CurlHttpClient();
  explicit CurlHttpClient(HttpClientOptions options);
  ~CurlHttpClient() override;
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  absl::StatusOr<HttpResponse> Post(const HttpRequest& request) override;
  absl::StatusOr<HttpResponse> Get(const HttpRequest& request, size_t max_body) override;
  absl::StatusOr<HttpResponse> GetStream(
      const HttpRequest& request, const std::function<bool(std::string_view)>& on_data) override;
  void Cancel() override { cancelled_.store(true, std::memory_order_relaxed); }

 private:
  absl::StatusOr<HttpResponse> Perform(const HttpRequest& request, bool post,
                                       CurlResponseState* state);
  static int OnProgress(void* self, int64_t, int64_t, int64_t, int64_t);
  std::atomic<bool> cancelled_{false};
  absl::Status Setup();
  // True when a TLS file changed since the last request (and records the new stamps).
  bool TlsFilesChanged();

  HttpClientOptions options_;
  ProxySelector proxy_;
  void* curl_ = nullptr;           // CURL*; void* keeps curl.h out of every includer
  void* proxy_headers_ = nullptr;  // curl_slist* of proxy_connect_headers, for the handle's life
  absl::Status setup_status_;
  std::optional<FileStamp> tls_stamps_[3];  // ca_file, cert_file, key_file
  char error_buffer_[256] = {};  // CURLOPT_ERRORBUFFER: curl's detail for the last failure
};

}  // namespace sluice
