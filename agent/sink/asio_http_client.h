// AsioHttpClient: the HttpClient for direct connections (no proxy, no unix socket), HTTP/1.1 over
// Boost.Beast, TLS through Asio's OpenSSL streams.
//
// Why not libcurl for everything: libcurl brings about thirty shared libraries (GnuTLS, Kerberos,
// LDAP, libssh2, nghttp2, ...) and initialises OpenSSL whether or not a URL is https; loading and
// initialising them costs ~7 MiB of the agent's RSS (measured: a program linking libcurl and
// calling curl_global_init is 10.1 MiB, one linking only libssl/libcrypto 3.2 MiB), more than a
// fifth of a DaemonSet agent's peak. Here OpenSSL is initialised only when an https URL is used.
// libcurl is kept, loaded on first use (curl_library.h), for what this client does not do:
// proxies (HTTP CONNECT, SOCKS, proxy_from_environment) and unix sockets.
//
// Behaviour follows CurlHttpClient (and Go's net/http, which Alloy uses): one keep-alive
// connection reused across requests, and a request on a reused connection that the server had
// closed is sent again once on a fresh one, as Go's transport does; the whole request, connect
// included, is bounded by HttpRequest::timeout; redirects are followed as Go follows them (10 at
// most; 303, and 301/302 after a POST, become a GET without body; Authorization is not sent to
// another host); credentials in the URL become basic auth; tls_config's CA, client certificate
// and key (files re-read when they change), server_name, insecure_skip_verify and min_version.
// It speaks HTTP/1.1 only: enable_http2 is accepted and ignored (Loki, the kubelet and the API
// server all serve 1.1).
//
// Thread: one request at a time from the owner's thread (a sender, a discovery refresh), which
// runs the client's own io_context while the request lasts; Cancel() from any thread. Owned by
// the component that made it (NewHttpClient).
#pragma once

#include <memory>

#include "agent/sink/http_client.h"

namespace sluice {

class AsioHttpClient final : public HttpClient {
 public:
  explicit AsioHttpClient(HttpClientOptions options = {});
  ~AsioHttpClient() override;
  AsioHttpClient(const AsioHttpClient&) = delete;
  AsioHttpClient& operator=(const AsioHttpClient&) = delete;

  absl::StatusOr<HttpResponse> Post(const HttpRequest& request) override;
  absl::StatusOr<HttpResponse> Get(const HttpRequest& request, size_t max_body) override;
  absl::StatusOr<HttpResponse> GetStream(
      const HttpRequest& request, const std::function<bool(std::string_view)>& on_data) override;
  void Cancel() override;

  // True when this client can serve `options`: no proxy settings and no unix socket.
  static bool Serves(const HttpClientOptions& options);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The client for an endpoint: AsioHttpClient when it serves the options, CurlHttpClient (libcurl,
// loaded on first use) otherwise.
std::unique_ptr<HttpClient> NewHttpClient(HttpClientOptions options = {});

}  // namespace sluice
