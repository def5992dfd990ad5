#include "agent/sink/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/common/status_macros.h"
#include "agent/common/strings.h"
#include "agent/sink/curl_library.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "dev"
#endif

namespace sluice {

// What one request collects from curl's callbacks.
struct CurlResponseState {
  CURL* handle = nullptr;
  std::string body;
  std::optional<std::string> retry_after;
  size_t limit = kMaxResponseBodyBytes;
  bool fail_over_limit = false;  // Get: a larger body is an error, not a truncated answer
  bool over_limit = false;
  bool stopped = false;  // the stream consumer asked to stop
  const std::function<bool(std::string_view)>* stream = nullptr;  // GetStream, on a 200
};

namespace {

CURL* Handle(void* p) { return static_cast<CURL*>(p); }

// The loaded library; only called once InitCurlOnce has succeeded (a client whose setup failed
// makes no call into curl).
const CurlLibrary& C() { return **LoadCurl(); }

size_t OnBody(char* data, size_t size, size_t nmemb, void* userp) {
  auto* state = static_cast<CurlResponseState*>(userp);
  size_t n = size * nmemb;
  if (state->stream != nullptr) {
    long status = 0;
    C().easy_getinfo(state->handle, CURLINFO_RESPONSE_CODE, &status);
    if (status == 200) {
      if ((*state->stream)(std::string_view(data, n))) return n;
      state->stopped = true;
      return 0;  // aborts the transfer (CURLE_WRITE_ERROR, reported as a clean stop)
    }
  }
  if (state->fail_over_limit && state->body.size() + n > state->limit) {
    state->over_limit = true;
    return 0;
  }
  size_t room = state->limit - std::min(state->limit, state->body.size());
  state->body.append(data, std::min(n, room));
  // Report everything as consumed: curl then reads the rest off the wire and the connection stays
  // reusable, instead of being torn down with CURLE_WRITE_ERROR.
  return n;
}

size_t OnHeader(char* data, size_t size, size_t nmemb, void* userp) {
  auto* state = static_cast<CurlResponseState*>(userp);
  size_t n = size * nmemb;
  absl::string_view line(data, n);
  // A new status line starts a new response (after a 100 Continue): forget the previous headers.
  if (absl::StartsWith(line, "HTTP/")) {
    state->retry_after.reset();
    return n;
  }
  constexpr absl::string_view kName = "retry-after:";
  if (line.size() >= kName.size() && absl::EqualsIgnoreCase(line.substr(0, kName.size()), kName)) {
    state->retry_after = std::string(absl::StripAsciiWhitespace(line.substr(kName.size())));
  }
  return n;
}

// The URL is checked before the transfer (ParseUrl), so whatever fails during it is the network's
// or the server's doing. (CURLE_UNSUPPORTED_PROTOCOL, for one, also means "the server answered
// HTTP/0.9", which is not the caller's mistake.)
absl::StatusCode CodeFor(CURLcode rc) {
  return rc == CURLE_OPERATION_TIMEDOUT ? absl::StatusCode::kDeadlineExceeded
                                        : absl::StatusCode::kUnavailable;
}

// What a request needs to know about its URL.
struct UrlParts {
  std::string scheme;  // lower case
  std::string host;    // as curl prints it: IPv6 in brackets
  int port = 0;        // explicit or the scheme's default
  bool explicit_port = false;
};

// InvalidArgument unless `url` parses and is http or https; `op` is Go's name of the method
// ("Post") for the message.
absl::StatusOr<UrlParts> ParseUrl(const std::string& url, std::string_view op) {
  ASSIGN_OR_RETURN(std::string scheme, HttpScheme(url, op));
  CURLU* u = C().url();
  if (u == nullptr) return absl::ResourceExhaustedError("curl_url failed");
  absl::Cleanup free_url = [u] { C().url_cleanup(u); };
  CURLUcode rc = C().url_set(u, CURLUPART_URL, url.c_str(), 0);
  if (rc != CURLUE_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad URL \"", RedactedUrl(url), "\": ", C().url_strerror(rc)));
  }
  auto get = [u](CURLUPart part, unsigned flags, std::string* out) {
    char* v = nullptr;
    if (C().url_get(u, part, &v, flags) != CURLUE_OK || v == nullptr) return false;
    *out = v;
    C().free(v);
    return true;
  };
  UrlParts parts;
  parts.scheme = scheme;
  get(CURLUPART_HOST, 0, &parts.host);
  std::string port;
  parts.explicit_port = get(CURLUPART_PORT, 0, &port);
  if (!parts.explicit_port) get(CURLUPART_PORT, CURLU_DEFAULT_PORT, &port);
  parts.port = std::atoi(port.c_str());
  return parts;
}

// `url` with its host replaced by `host`.
absl::StatusOr<std::string> WithHost(const std::string& url, const std::string& host) {
  CURLU* u = C().url();
  if (u == nullptr) return absl::ResourceExhaustedError("curl_url failed");
  absl::Cleanup free_url = [u] { C().url_cleanup(u); };
  char* out = nullptr;
  if (C().url_set(u, CURLUPART_URL, url.c_str(), 0) != CURLUE_OK ||
      C().url_set(u, CURLUPART_HOST, host.c_str(), 0) != CURLUE_OK ||
      C().url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK || out == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls_config server_name \"", host, "\" cannot be used as a host name"));
  }
  std::string result = out;
  C().free(out);
  return result;
}

// curl_easy_setopt is a variadic macro; this keeps the error checks readable.
template <typename T>
absl::Status SetOpt(CURL* curl, CURLoption option, T value, const char* name) {
  CURLcode rc = C().easy_setopt(curl, option, value);
  if (rc != CURLE_OK) {
    return absl::InternalError(absl::StrCat("curl option ", name, ": ", C().easy_strerror(rc)));
  }
  return absl::OkStatus();
}

}  // namespace

std::string RedactedUrl(const std::string& url) {
  size_t start = url.find("://");
  if (start == std::string::npos) return url;
  start += 3;
  size_t end = url.find_first_of("/?#", start);
  if (end == std::string::npos) end = url.size();
  size_t at = url.rfind('@', end - 1);
  if (at == std::string::npos || at < start) return url;
  size_t colon = url.find(':', start);
  if (colon == std::string::npos || colon > at) return url;
  return absl::StrCat(url.substr(0, colon + 1), "xxxxx", url.substr(at));
}

absl::StatusOr<std::string> HttpScheme(const std::string& url, std::string_view op) {
  // Go's http.Client decides on the scheme before anything else, with this message (Alloy
  // loads "loki:3100/push" and fails each request so).
  size_t colon = url.find(':');
  std::string scheme =
      colon == std::string::npos ? "" : absl::AsciiStrToLower(Av(url.substr(0, colon)));
  if (url.find("://") == std::string::npos || (scheme != "http" && scheme != "https")) {
    return absl::InvalidArgumentError(absl::StrCat(
        Av(op), " \"", RedactedUrl(url), "\": unsupported protocol scheme \"", scheme, "\""));
  }
  return scheme;
}

bool UpdateTlsStamps(const HttpClientOptions& options, std::optional<FileStamp> stamps[3]) {
  const std::string* paths[3] = {&options.ca_file, &options.cert_file, &options.key_file};
  bool changed = false;
  for (int i = 0; i < 3; ++i) {
    if (paths[i]->empty()) continue;
    std::optional<FileStamp> now = StatFile(*paths[i]);
    if (now != stamps[i]) changed = true;
    stamps[i] = now;
  }
  return changed;
}

absl::Status InitCurlOnce() { return LoadCurl().status(); }

CurlHttpClient::CurlHttpClient() : CurlHttpClient(HttpClientOptions{}) {}

CurlHttpClient::CurlHttpClient(HttpClientOptions options) : options_(std::move(options)) {
  setup_status_ = Setup();
}

CurlHttpClient::~CurlHttpClient() {
  if (curl_ != nullptr) C().easy_cleanup(Handle(curl_));
  if (proxy_headers_ != nullptr) C().slist_free_all(static_cast<curl_slist*>(proxy_headers_));
}

bool CurlHttpClient::TlsFilesChanged() { return UpdateTlsStamps(options_, tls_stamps_); }

absl::Status CurlHttpClient::Setup() {
  RETURN_IF_ERROR(InitCurlOnce());
  curl_ = C().easy_init();
  if (curl_ == nullptr) return absl::InternalError("curl_easy_init failed");
  CURL* c = Handle(curl_);
  if (options_.user_agent.empty()) options_.user_agent = "sluice/" SLUICE_VERSION;

  RETURN_IF_ERROR(SetOpt(c, CURLOPT_ERRORBUFFER, error_buffer_, "ERRORBUFFER"));
  // Signals would hit whatever thread the process is running; timeouts use no alarm() then.
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_NOSIGNAL, 1L, "NOSIGNAL"));
  // The progress callback is how a shutdown aborts a request that Loki is sitting on.
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_NOPROGRESS, 0L, "NOPROGRESS"));
  RETURN_IF_ERROR(
      SetOpt(c, CURLOPT_XFERINFOFUNCTION, &CurlHttpClient::OnProgress, "XFERINFOFUNCTION"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_XFERINFODATA, static_cast<void*>(this), "XFERINFODATA"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_VERBOSE, 0L, "VERBOSE"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_PROTOCOLS_STR, "http,https", "PROTOCOLS_STR"));
  // Go follows at most 10 redirects, to http(s) only; curl keeps Go's method rules by default
  // (POSTREDIR unset: 301/302/303 become GET, 307/308 repeat the POST).
  RETURN_IF_ERROR(
      SetOpt(c, CURLOPT_FOLLOWLOCATION, options_.follow_redirects ? 1L : 0L, "FOLLOWLOCATION"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_MAXREDIRS, 10L, "MAXREDIRS"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https", "REDIR_PROTOCOLS_STR"));
  // Keep-alive probes find a connection a NAT or load balancer silently dropped.
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_TCP_KEEPALIVE, 1L, "TCP_KEEPALIVE"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_TCP_KEEPIDLE, 30L, "TCP_KEEPIDLE"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_TCP_KEEPINTVL, 15L, "TCP_KEEPINTVL"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_TCP_NODELAY, 1L, "TCP_NODELAY"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_USERAGENT, options_.user_agent.c_str(), "USERAGENT"));
  // One request at a time: one connection is all we need, and a connection opened because a TLS
  // file changed then replaces the old one instead of sitting beside it.
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_MAXCONNECTS, 1L, "MAXCONNECTS"));
  if (!options_.unix_socket_path.empty()) {
    RETURN_IF_ERROR(
        SetOpt(c, CURLOPT_UNIX_SOCKET_PATH, options_.unix_socket_path.c_str(), "UNIX_SOCKET_PATH"));
  }
  if (C().easy_setopt(c, CURLOPT_HTTP_VERSION,
                      options_.enable_http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1) !=
      CURLE_OK) {
    // A libcurl without HTTP/2: 1.1 is what Go falls back to as well.
    RETURN_IF_ERROR(SetOpt(c, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1, "HTTP_VERSION"));
  }

  // The proxy is chosen per request (ProxySelector); until then, none.
  if (options_.proxy_from_environment) {
    proxy_ = ProxySelector::FromEnvironment();
  } else if (!options_.proxy_url.empty()) {
    proxy_ = ProxySelector::Fixed(options_.proxy_url, options_.no_proxy);
  }
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_PROXY, "", "PROXY"));
  if (!options_.proxy_connect_headers.empty()) {
    curl_slist* list = nullptr;
    for (const auto& [name, value] : options_.proxy_connect_headers) {
      curl_slist* next = C().slist_append(list, absl::StrCat(name, ": ", value).c_str());
      if (next == nullptr) {
        C().slist_free_all(list);
        return absl::ResourceExhaustedError("curl_slist_append failed");
      }
      list = next;
    }
    proxy_headers_ = list;
    RETURN_IF_ERROR(SetOpt(c, CURLOPT_PROXYHEADER, list, "PROXYHEADER"));
    // Proxy headers to the proxy only, the request's headers to the server only.
    RETURN_IF_ERROR(SetOpt(c, CURLOPT_HEADEROPT, CURLHEADER_SEPARATE, "HEADEROPT"));
  }

  long verify = options_.insecure_skip_verify ? 0L : 1L;
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_SSL_VERIFYPEER, verify, "SSL_VERIFYPEER"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_SSL_VERIFYHOST, verify * 2, "SSL_VERIFYHOST"));
  long version = CURL_SSLVERSION_TLSv1_2;
  switch (options_.min_tls_version) {
    case TlsMinVersion::kTls10:
      version = CURL_SSLVERSION_TLSv1_0;
      break;
    case TlsMinVersion::kTls11:
      version = CURL_SSLVERSION_TLSv1_1;
      break;
    case TlsMinVersion::kTls12:
      version = CURL_SSLVERSION_TLSv1_2;
      break;
    case TlsMinVersion::kTls13:
      version = CURL_SSLVERSION_TLSv1_3;
      break;
  }
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_SSLVERSION, version, "SSLVERSION"));
  // Given CAs replace the system's entirely, as a Go RootCAs pool does: no CA directory beside.
  if (!options_.ca_file.empty() || !options_.ca_pem.empty()) {
    RETURN_IF_ERROR(SetOpt(c, CURLOPT_CAPATH, static_cast<char*>(nullptr), "CAPATH"));
  }
  if (!options_.ca_file.empty()) {
    RETURN_IF_ERROR(SetOpt(c, CURLOPT_CAINFO, options_.ca_file.c_str(), "CAINFO"));
  } else if (!options_.ca_pem.empty()) {
    RETURN_IF_ERROR(SetOpt(c, CURLOPT_CAINFO, static_cast<char*>(nullptr), "CAINFO"));
    curl_blob blob{options_.ca_pem.data(), options_.ca_pem.size(), CURL_BLOB_COPY};
    RETURN_IF_ERROR(SetOpt(c, CURLOPT_CAINFO_BLOB, &blob, "CAINFO_BLOB"));
  }
  if (!options_.cert_file.empty()) {
    RETURN_IF_ERROR(SetOpt(c, CURLOPT_SSLCERT, options_.cert_file.c_str(), "SSLCERT"));
  } else if (!options_.cert_pem.empty()) {
    curl_blob blob{options_.cert_pem.data(), options_.cert_pem.size(), CURL_BLOB_COPY};
    RETURN_IF_ERROR(SetOpt(c, CURLOPT_SSLCERT_BLOB, &blob, "SSLCERT_BLOB"));
    RETURN_IF_ERROR(SetOpt(c, CURLOPT_SSLCERTTYPE, "PEM", "SSLCERTTYPE"));
  }
  if (!options_.key_file.empty()) {
    RETURN_IF_ERROR(SetOpt(c, CURLOPT_SSLKEY, options_.key_file.c_str(), "SSLKEY"));
  } else if (!options_.key_pem.empty()) {
    curl_blob blob{options_.key_pem.data(), options_.key_pem.size(), CURL_BLOB_COPY};
    RETURN_IF_ERROR(SetOpt(c, CURLOPT_SSLKEY_BLOB, &blob, "SSLKEY_BLOB"));
    RETURN_IF_ERROR(SetOpt(c, CURLOPT_SSLKEYTYPE, "PEM", "SSLKEYTYPE"));
  }
  if (!options_.ca_file.empty() || !options_.cert_file.empty() || !options_.key_file.empty()) {
    // Rotated files must take effect on the next connection (Prometheus reloads them too): no CA
    // store kept across connections, no TLS session resumed under the old identity.
#if LIBCURL_VERSION_NUM >= 0x075700
    RETURN_IF_ERROR(SetOpt(c, CURLOPT_CA_CACHE_TIMEOUT, 0L, "CA_CACHE_TIMEOUT"));
#endif
    RETURN_IF_ERROR(SetOpt(c, CURLOPT_SSL_SESSIONID_CACHE, 0L, "SSL_SESSIONID_CACHE"));
    TlsFilesChanged();  // the stamps the first connection will be made with
  }

  RETURN_IF_ERROR(SetOpt(c, CURLOPT_WRITEFUNCTION, &OnBody, "WRITEFUNCTION"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_HEADERFUNCTION, &OnHeader, "HEADERFUNCTION"));
  return absl::OkStatus();
}

int CurlHttpClient::OnProgress(void* self, int64_t, int64_t, int64_t, int64_t) {
  return static_cast<CurlHttpClient*>(self)->cancelled_.load(std::memory_order_relaxed) ? 1 : 0;
}

absl::StatusOr<HttpResponse> CurlHttpClient::Post(const HttpRequest& request) {
  CurlResponseState state;
  return Perform(request, /*post=*/true, &state);
}

absl::StatusOr<HttpResponse> CurlHttpClient::Get(const HttpRequest& request, size_t max_body) {
  CurlResponseState state;
  state.limit = max_body;
  state.fail_over_limit = true;
  return Perform(request, /*post=*/false, &state);
}

absl::StatusOr<HttpResponse> CurlHttpClient::GetStream(
    const HttpRequest& request, const std::function<bool(std::string_view)>& on_data) {
  CurlResponseState state;
  state.stream = &on_data;
  return Perform(request, /*post=*/false, &state);
}

absl::StatusOr<HttpResponse> CurlHttpClient::Perform(const HttpRequest& request, bool post,
                                                     CurlResponseState* state_ptr) {
  CurlResponseState& state = *state_ptr;
  const char* method = post ? "POST" : "GET";
  if (!setup_status_.ok()) return setup_status_;
  if (cancelled_.load(std::memory_order_relaxed)) {
    return absl::CancelledError("request cancelled: shutting down");
  }
  ASSIGN_OR_RETURN(UrlParts url, ParseUrl(request.url, post ? "Post" : "Get"));
  CURL* c = Handle(curl_);

  curl_slist* headers = nullptr;
  curl_slist* connect_to = nullptr;
  absl::Cleanup free_headers = [&headers, &connect_to] {
    C().slist_free_all(headers);
    C().slist_free_all(connect_to);
  };
  // Nothing of this request may outlive it in the handle: the lists are freed on return (this
  // cleanup runs first).
  absl::Cleanup unset = [c] {
    C().easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
    C().easy_setopt(c, CURLOPT_CONNECT_TO, nullptr);
    C().easy_setopt(c, CURLOPT_POSTFIELDS, nullptr);
    C().easy_setopt(c, CURLOPT_CUSTOMREQUEST, nullptr);
    C().easy_setopt(c, CURLOPT_WRITEDATA, nullptr);
    C().easy_setopt(c, CURLOPT_HEADERDATA, nullptr);
  };
  const std::string custom_method = post ? request.method : std::string();
  for (const auto& [name, value] : request.headers) {
    curl_slist* next = C().slist_append(headers, absl::StrCat(name, ": ", value).c_str());
    if (next == nullptr) return absl::ResourceExhaustedError("curl_slist_append failed");
    headers = next;
  }
  // tls_config server_name: ask for https://<server_name>:<port>/ (the name TLS sends and checks)
  // but connect where the URL points and send the URL's Host, as Go does with ServerName.
  std::string target_url;
  const std::string* effective_url = &request.url;
  if (url.scheme == "https" && !options_.server_name.empty() &&
      !absl::EqualsIgnoreCase(options_.server_name, url.host)) {
    ASSIGN_OR_RETURN(target_url, WithHost(request.url, options_.server_name));
    effective_url = &target_url;
    std::string server = options_.server_name.find(':') != std::string::npos
                             ? absl::StrCat("[", options_.server_name, "]")
                             : options_.server_name;
    connect_to = C().slist_append(
        nullptr, absl::StrCat(server, ":", url.port, ":", url.host, ":", url.port).c_str());
    if (connect_to == nullptr) return absl::ResourceExhaustedError("curl_slist_append failed");
    bool has_host = false;
    for (const auto& h : request.headers) has_host |= absl::EqualsIgnoreCase(h.first, "Host");
    if (!has_host) {
      std::string host_header = url.explicit_port ? absl::StrCat("Host: ", url.host, ":", url.port)
                                                  : absl::StrCat("Host: ", url.host);
      curl_slist* next = C().slist_append(headers, host_header.c_str());
      if (next == nullptr) return absl::ResourceExhaustedError("curl_slist_append failed");
      headers = next;
    }
  }
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_CONNECT_TO, connect_to, "CONNECT_TO"));
  std::string host = url.host;
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  std::string proxy = proxy_.For(url.scheme, host, url.port);
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_PROXY, proxy.c_str(), "PROXY"));
  // A changed CA, certificate or key file takes effect now, on a new connection.
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_FRESH_CONNECT, TlsFilesChanged() ? 1L : 0L, "FRESH_CONNECT"));

  // curl would otherwise send "Expect: 100-continue" for large bodies and wait a round trip (or
  // a second, with servers that ignore it) before sending the body.
  curl_slist* next = C().slist_append(headers, "Expect:");
  if (next == nullptr) return absl::ResourceExhaustedError("curl_slist_append failed");
  headers = next;

  state.handle = c;
  // 0 is curl's "no timeout": a followed log stream lasts as long as its container.
  int64_t timeout_ms = request.timeout == absl::InfiniteDuration()
                           ? 0
                           : std::max<int64_t>(1, absl::ToInt64Milliseconds(request.timeout));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_URL, effective_url->c_str(), "URL"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_HTTPHEADER, headers, "HTTPHEADER"));
  if (post) {
    RETURN_IF_ERROR(SetOpt(c, CURLOPT_POST, 1L, "POST"));
    RETURN_IF_ERROR(SetOpt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                           static_cast<curl_off_t>(request.body.size()), "POSTFIELDSIZE_LARGE"));
    // Never NULL: with a NULL body curl would read the request body from stdin.
    const char* body = request.body.data() != nullptr ? request.body.data() : "";
    RETURN_IF_ERROR(SetOpt(c, CURLOPT_POSTFIELDS, body, "POSTFIELDS"));
    if (!custom_method.empty()) {
      RETURN_IF_ERROR(SetOpt(c, CURLOPT_CUSTOMREQUEST, custom_method.c_str(), "CUSTOMREQUEST"));
    }
  } else {
    RETURN_IF_ERROR(SetOpt(c, CURLOPT_HTTPGET, 1L, "HTTPGET"));
  }
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms), "TIMEOUT_MS"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_WRITEDATA, &state, "WRITEDATA"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_HEADERDATA, &state, "HEADERDATA"));

  error_buffer_[0] = '\0';
  CURLcode rc = C().easy_perform(c);
  if (rc == CURLE_ABORTED_BY_CALLBACK) {
    return absl::CancelledError(
        absl::StrCat(method, " ", RedactedUrl(request.url), ": cancelled: shutting down"));
  }
  if (rc == CURLE_WRITE_ERROR && state.over_limit) {
    return absl::ResourceExhaustedError(absl::StrCat(
        method, " ", RedactedUrl(request.url), ": response larger than ", state.limit, " bytes"));
  }
  if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && state.stopped)) {
    std::string detail = error_buffer_[0] != '\0' ? error_buffer_ : C().easy_strerror(rc);
    return absl::Status(CodeFor(rc),
                        absl::StrCat(method, " ", RedactedUrl(request.url), ": ", detail));
  }
  long status = 0;
  C().easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  HttpResponse response;
  response.status = static_cast<int>(status);
  response.body = std::move(state.body);
  response.retry_after = std::move(state.retry_after);
  return response;
}

}  // namespace sluice
