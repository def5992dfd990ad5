#include "agent/sink/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/common/status_macros.h"
#include "agent/common/strings.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "dev"
#endif

namespace sluice {
namespace {

CURL* Handle(void* p) { return static_cast<CURL*>(p); }

// What one Post collects from curl's callbacks.
struct ResponseState {
  std::string body;
  std::optional<std::string> retry_after;
};

size_t OnBody(char* data, size_t size, size_t nmemb, void* userp) {
  auto* state = static_cast<ResponseState*>(userp);
  size_t n = size * nmemb;
  size_t room = kMaxResponseBodyBytes - std::min(kMaxResponseBodyBytes, state->body.size());
  state->body.append(data, std::min(n, room));
  // Report everything as consumed: curl then reads the rest off the wire and the connection stays
  // reusable, instead of being torn down with CURLE_WRITE_ERROR.
  return n;
}

size_t OnHeader(char* data, size_t size, size_t nmemb, void* userp) {
  auto* state = static_cast<ResponseState*>(userp);
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

// The URL is checked before the transfer (CheckUrl), so whatever fails during it is the network's
// or the server's doing. (CURLE_UNSUPPORTED_PROTOCOL, for one, also means "the server answered
// HTTP/0.9", which is not the caller's mistake.)
absl::StatusCode CodeFor(CURLcode rc) {
  return rc == CURLE_OPERATION_TIMEDOUT ? absl::StatusCode::kDeadlineExceeded
                                        : absl::StatusCode::kUnavailable;
}

// InvalidArgument unless `url` parses and is http or https.
absl::Status CheckUrl(const std::string& url) {
  CURLU* u = curl_url();
  if (u == nullptr) return absl::ResourceExhaustedError("curl_url failed");
  absl::Cleanup free_url = [u] { curl_url_cleanup(u); };
  CURLUcode rc = curl_url_set(u, CURLUPART_URL, url.c_str(), 0);
  if (rc != CURLUE_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad URL \"", url, "\": ", curl_url_strerror(rc)));
  }
  char* scheme = nullptr;
  if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || scheme == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("bad URL \"", url, "\": no scheme"));
  }
  std::string lower = absl::AsciiStrToLower(scheme);
  curl_free(scheme);
  if (lower != "http" && lower != "https") {
    return absl::InvalidArgumentError(
        absl::StrCat("bad URL \"", url, "\": scheme must be http or https"));
  }
  return absl::OkStatus();
}

// curl_easy_setopt is a variadic macro; this keeps the error checks readable.
template <typename T>
absl::Status SetOpt(CURL* curl, CURLoption option, T value, const char* name) {
  CURLcode rc = curl_easy_setopt(curl, option, value);
  if (rc != CURLE_OK) {
    return absl::InternalError(absl::StrCat("curl option ", name, ": ", curl_easy_strerror(rc)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status InitCurlOnce() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (result != CURLE_OK) {
    return absl::InternalError(absl::StrCat("curl_global_init: ", curl_easy_strerror(result)));
  }
  return absl::OkStatus();
}

CurlHttpClient::CurlHttpClient() : CurlHttpClient(CurlHttpClientOptions{}) {}

CurlHttpClient::CurlHttpClient(CurlHttpClientOptions options) : options_(std::move(options)) {
  setup_status_ = Setup();
}

CurlHttpClient::~CurlHttpClient() {
  if (curl_ != nullptr) curl_easy_cleanup(Handle(curl_));
}

absl::Status CurlHttpClient::Setup() {
  RETURN_IF_ERROR(InitCurlOnce());
  curl_ = curl_easy_init();
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
  // A redirect from a push endpoint is a misconfiguration to surface, not a place to re-POST to.
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_FOLLOWLOCATION, 0L, "FOLLOWLOCATION"));
  // Keep-alive probes find a connection a NAT or load balancer silently dropped.
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_TCP_KEEPALIVE, 1L, "TCP_KEEPALIVE"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_TCP_KEEPIDLE, 30L, "TCP_KEEPIDLE"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_TCP_KEEPINTVL, 15L, "TCP_KEEPINTVL"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_TCP_NODELAY, 1L, "TCP_NODELAY"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_USERAGENT, options_.user_agent.c_str(), "USERAGENT"));
  // "" disables proxies, including http_proxy & co from the environment.
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_PROXY, options_.proxy_url.c_str(), "PROXY"));

  long verify = options_.insecure_skip_verify ? 0L : 1L;
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_SSL_VERIFYPEER, verify, "SSL_VERIFYPEER"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_SSL_VERIFYHOST, verify * 2, "SSL_VERIFYHOST"));
  if (!options_.ca_file.empty()) {
    RETURN_IF_ERROR(SetOpt(c, CURLOPT_CAINFO, options_.ca_file.c_str(), "CAINFO"));
  }
  if (!options_.cert_file.empty()) {
    RETURN_IF_ERROR(SetOpt(c, CURLOPT_SSLCERT, options_.cert_file.c_str(), "SSLCERT"));
  }
  if (!options_.key_file.empty()) {
    RETURN_IF_ERROR(SetOpt(c, CURLOPT_SSLKEY, options_.key_file.c_str(), "SSLKEY"));
  }

  RETURN_IF_ERROR(SetOpt(c, CURLOPT_WRITEFUNCTION, &OnBody, "WRITEFUNCTION"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_HEADERFUNCTION, &OnHeader, "HEADERFUNCTION"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_POST, 1L, "POST"));
  return absl::OkStatus();
}

int CurlHttpClient::OnProgress(void* self, int64_t, int64_t, int64_t, int64_t) {
  return static_cast<CurlHttpClient*>(self)->cancelled_.load(std::memory_order_relaxed) ? 1 : 0;
}

absl::StatusOr<HttpResponse> CurlHttpClient::Post(const HttpRequest& request) {
  if (!setup_status_.ok()) return setup_status_;
  if (cancelled_.load(std::memory_order_relaxed)) {
    return absl::CancelledError("request cancelled: shutting down");
  }
  RETURN_IF_ERROR(CheckUrl(request.url));
  CURL* c = Handle(curl_);

  curl_slist* headers = nullptr;
  absl::Cleanup free_headers = [&headers] { curl_slist_free_all(headers); };
  // Nothing of this request may outlive it in the handle: the header list is freed on return (this
  // cleanup runs first).
  absl::Cleanup unset = [c] {
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, nullptr);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, nullptr);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, nullptr);
  };
  for (const auto& [name, value] : request.headers) {
    curl_slist* next = curl_slist_append(headers, absl::StrCat(name, ": ", value).c_str());
    if (next == nullptr) return absl::ResourceExhaustedError("curl_slist_append failed");
    headers = next;
  }
  // curl would otherwise send "Expect: 100-continue" for large bodies and wait a round trip (or
  // a second, with servers that ignore it) before sending the body.
  curl_slist* next = curl_slist_append(headers, "Expect:");
  if (next == nullptr) return absl::ResourceExhaustedError("curl_slist_append failed");
  headers = next;

  ResponseState state;
  int64_t timeout_ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(request.timeout));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_URL, request.url.c_str(), "URL"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_HTTPHEADER, headers, "HTTPHEADER"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(request.body.size()), "POSTFIELDSIZE_LARGE"));
  // Never NULL: with a NULL body curl would read the request body from stdin.
  const char* body = request.body.data() != nullptr ? request.body.data() : "";
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_POSTFIELDS, body, "POSTFIELDS"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms), "TIMEOUT_MS"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_WRITEDATA, &state, "WRITEDATA"));
  RETURN_IF_ERROR(SetOpt(c, CURLOPT_HEADERDATA, &state, "HEADERDATA"));

  error_buffer_[0] = '\0';
  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_ABORTED_BY_CALLBACK) {
    return absl::CancelledError(absl::StrCat("POST ", request.url, ": cancelled: shutting down"));
  }
  if (rc != CURLE_OK) {
    std::string detail = error_buffer_[0] != '\0' ? error_buffer_ : curl_easy_strerror(rc);
    return absl::Status(CodeFor(rc), absl::StrCat("POST ", request.url, ": ", detail));
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  HttpResponse response;
  response.status = static_cast<int>(status);
  response.body = std::move(state.body);
  response.retry_after = std::move(state.retry_after);
  return response;
}

}  // namespace sluice
