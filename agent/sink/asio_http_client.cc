#include "agent/sink/asio_http_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cstdint>
#include <limits>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/common/status_macros.h"
#include "agent/common/strings.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "dev"
#endif

namespace sluice {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

// A response's reads: the most one read takes from the socket, and the body chunk they fill.
constexpr size_t kReadBytes = 16 * 1024;

// What a request needs to know about its URL.
struct Target {
  std::string scheme;       // "http" or "https"
  std::string host;         // without IPv6 brackets
  std::string host_header;  // the URL's host[:port], as Go sends it
  int port = 0;
  std::string target;  // path and query, "/" at least
  bool has_userinfo = false;
  std::string user;
  std::string password;
  std::string Key() const { return absl::StrCat(scheme, "://", HostPort()); }
  std::string HostPort() const {
    return host.find(':') != std::string::npos ? absl::StrCat("[", host, "]:", port)
                                               : absl::StrCat(host, ":", port);
  }
};

// Decodes %XX escapes (Go's url.PathUnescape for userinfo); false on a bad escape.
bool Unescape(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    int value = 0;
    if (i + 2 >= in.size()) return false;
    for (int k = 1; k <= 2; ++k) {
      char c = in[i + k];
      int d = absl::ascii_isdigit(static_cast<unsigned char>(c))
                  ? c - '0'
                  : (absl::ascii_isxdigit(static_cast<unsigned char>(c))
                         ? absl::ascii_tolower(static_cast<unsigned char>(c)) - 'a' + 10
                         : -1);
      if (d < 0) return false;
      value = value * 16 + d;
    }
    out->push_back(static_cast<char>(value));
    i += 2;
  }
  return true;
}

absl::StatusOr<Target> ParseTarget(const std::string& url, std::string_view op) {
  ASSIGN_OR_RETURN(std::string scheme, HttpScheme(url, op));
  auto bad = [&url](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad URL \"", RedactedUrl(url), "\": ", Av(why)));
  };
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad("invalid character");
  }
  Target t;
  t.scheme = scheme;
  std::string_view rest = std::string_view(url).substr(url.find("://") + 3);
  size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view path =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  path = path.substr(0, path.find('#'));
  t.target = path.empty() || path.front() == '?' ? absl::StrCat("/", Av(path)) : std::string(path);
  size_t at = authority.rfind('@');
  std::string_view hostport = authority;
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    hostport = authority.substr(at + 1);
    size_t sep = userinfo.find(':');
    t.has_userinfo = true;
    if (!Unescape(userinfo.substr(0, sep), &t.user)) return bad("invalid userinfo");
    if (sep != std::string_view::npos && !Unescape(userinfo.substr(sep + 1), &t.password)) {
      return bad("invalid userinfo");
    }
  }
  std::string_view port_text;
  if (!hostport.empty() && hostport.front() == '[') {
    size_t close = hostport.find(']');
    if (close == std::string_view::npos) return bad("missing ']' in host");
    t.host = std::string(hostport.substr(1, close - 1));
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("invalid port");
      port_text = after.substr(1);
    }
    error_code ec;
    asio::ip::make_address_v6(t.host, ec);
    if (ec) return bad("invalid IPv6 address");
  } else {
    size_t sep = hostport.find(':');
    t.host = std::string(hostport.substr(0, sep));
    if (sep != std::string_view::npos) port_text = hostport.substr(sep + 1);
  }
  if (t.host.empty()) return bad("no host");
  bool explicit_port = !port_text.empty();
  if (explicit_port) {
    int port = 0;
    if (!std::all_of(port_text.begin(), port_text.end(),
                     [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); }) ||
        !absl::SimpleAtoi(Av(port_text), &port) || port < 1 || port > 65535) {
      return bad(absl::StrCat("invalid port \":", Av(port_text), "\""));
    }
    t.port = port;
  } else {
    t.port = scheme == "https" ? 443 : 80;
  }
  std::string shown =
      t.host.find(':') != std::string::npos ? absl::StrCat("[", t.host, "]") : t.host;
  t.host_header = explicit_port ? absl::StrCat(shown, ":", t.port) : shown;
  return t;
}

// `location` (a Location header) resolved against the request `t` answered, as a browser or Go
// resolves it for the forms servers send: absolute, scheme-relative, absolute path, or relative.
std::string ResolveLocation(const Target& t, std::string_view location) {
  if (location.find("://") != std::string_view::npos) return std::string(location);
  std::string origin = absl::StrCat(t.scheme, "://", t.host_header);
  if (absl::StartsWith(Av(location), "//")) return absl::StrCat(t.scheme, ":", Av(location));
  if (absl::StartsWith(Av(location), "/")) return absl::StrCat(origin, Av(location));
  std::string dir = t.target.substr(0, t.target.find('?'));
  dir = dir.substr(0, dir.rfind('/') + 1);
  return absl::StrCat(origin, dir, Av(location));
}

std::string Lower(std::string s) {
  absl::AsciiStrToLower(&s);
  return s;
}

bool IsIpLiteral(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

int TlsVersion(TlsMinVersion v) {
  switch (v) {
    case TlsMinVersion::kTls10:
      return TLS1_VERSION;
    case TlsMinVersion::kTls11:
      return TLS1_1_VERSION;
    case TlsMinVersion::kTls12:
      return TLS1_2_VERSION;
    case TlsMinVersion::kTls13:
      return TLS1_3_VERSION;
  }
  return TLS1_2_VERSION;
}

std::string Describe(const error_code& ec) {
  if (ec == asio::ssl::error::stream_truncated) return "tls: connection closed during handshake";
  return ec.message();
}

}  // namespace

struct AsioHttpClient::Impl {
  using TlsStream = beast::ssl_stream<beast::tcp_stream>;

  explicit Impl(HttpClientOptions o) : options(std::move(o)) {
    if (options.user_agent.empty()) options.user_agent = "sluice/" SLUICE_VERSION;
  }

  HttpClientOptions options;
  asio::io_context ioc{1};
  std::atomic<bool> cancelled{false};

  // The TLS context: made at the first https request, made again when a TLS file changed.
  std::optional<asio::ssl::context> tls_ctx;
  absl::Status tls_status;
  std::optional<FileStamp> tls_stamps[3];

  // The one connection, plain or TLS, and which scheme://host:port it goes to.
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<TlsStream> tls;
  std::string conn_key;
  beast::flat_buffer buffer;

  beast::tcp_stream& Lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
  bool Open() const { return plain != nullptr || tls != nullptr; }

  // Ends whatever operation is in flight (it completes with operation_aborted); the streams are
  // destroyed by Close() once it has.
  void Abort() {
    error_code ignored;
    if (plain) plain->socket().close(ignored);
    if (tls) beast::get_lowest_layer(*tls).socket().close(ignored);
    if (connecting != nullptr) connecting->socket().close(ignored);
    if (resolving != nullptr) resolving->cancel();
  }
  // The connection being made (not yet `plain` or `tls`) and its name lookup, for Abort.
  beast::tcp_stream* connecting = nullptr;
  tcp::resolver* resolving = nullptr;

  void Close() {
    if (plain) {
      error_code ignored;
      plain->socket().close(ignored);
    }
    if (tls) {
      error_code ignored;
      beast::get_lowest_layer(*tls).socket().close(ignored);
    }
    plain.reset();
    tls.reset();
    conn_key.clear();
    buffer.clear();
  }

  // Runs the io_context until the operation `start` began has completed; returns its error.
  template <typename Start>
  error_code Await(Start&& start) {
    error_code result;
    bool done = false;
    if (cancelled.load(std::memory_order_relaxed)) return asio::error::operation_aborted;
    start([&result, &done](error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    ioc.restart();
    while (!done && ioc.run_one() > 0) {
    }
    if (!done) result = asio::error::operation_aborted;  // no work left: cannot happen
    return result;
  }

  bool TlsFilesChanged() { return UpdateTlsStamps(options, tls_stamps); }

  absl::Status BuildTlsContext() {
    tls_ctx.reset();
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    SSL_CTX* native = ctx.native_handle();
    SSL_CTX_set_min_proto_version(native, TlsVersion(options.min_tls_version));
    // HTTP/1.1 is all this client speaks; say so, so that a server never picks h2.
    static const unsigned char kAlpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(native, kAlpn, sizeof(kAlpn) - 1);
    error_code ec;
    // Given CAs replace the system's entirely, as a Go RootCAs pool does.
    if (!options.ca_file.empty()) {
      ctx.load_verify_file(options.ca_file, ec);
      if (ec) {
        return absl::UnavailableError(
            absl::StrCat("tls_config ca_file \"", options.ca_file, "\": ", Describe(ec)));
      }
    } else if (!options.ca_pem.empty()) {
      ctx.add_certificate_authority(asio::buffer(options.ca_pem), ec);
      if (ec) return absl::UnavailableError(absl::StrCat("tls_config ca_pem: ", Describe(ec)));
    } else {
      ctx.set_default_verify_paths(ec);
      if (ec) return absl::UnavailableError(absl::StrCat("system CA certificates: ", Describe(ec)));
    }
    if (!options.cert_file.empty()) {
      ctx.use_certificate_chain_file(options.cert_file, ec);
      if (ec) {
        return absl::UnavailableError(
            absl::StrCat("tls_config cert_file \"", options.cert_file, "\": ", Describe(ec)));
      }
    } else if (!options.cert_pem.empty()) {
      ctx.use_certificate_chain(asio::buffer(options.cert_pem), ec);
      if (ec) return absl::UnavailableError(absl::StrCat("tls_config cert_pem: ", Describe(ec)));
    }
    if (!options.key_file.empty()) {
      ctx.use_private_key_file(options.key_file, asio::ssl::context::pem, ec);
      if (ec) {
        return absl::UnavailableError(
            absl::StrCat("tls_config key_file \"", options.key_file, "\": ", Describe(ec)));
      }
    } else if (!options.key_pem.empty()) {
      ctx.use_private_key(asio::buffer(options.key_pem), asio::ssl::context::pem, ec);
      if (ec) return absl::UnavailableError(absl::StrCat("tls_config key_pem: ", Describe(ec)));
    }
    ctx.set_verify_mode(options.insecure_skip_verify ? asio::ssl::verify_none
                                                     : asio::ssl::verify_peer);
    tls_ctx.emplace(std::move(ctx));
    return absl::OkStatus();
  }

  // A status for a failed step of a request.
  absl::Status Failure(std::string_view method, const std::string& url, const error_code& ec) {
    if (cancelled.load(std::memory_order_relaxed)) {
      return absl::CancelledError(
          absl::StrCat(Av(method), " ", RedactedUrl(url), ": cancelled: shutting down"));
    }
    if (ec == beast::error::timeout) {
      // Go's http.Client message for its Timeout.
      return absl::DeadlineExceededError(
          absl::StrCat(Av(method), " ", RedactedUrl(url),
                       ": context deadline exceeded (Client.Timeout exceeded while awaiting "
                       "headers)"));
    }
    return absl::UnavailableError(
        absl::StrCat(Av(method), " ", RedactedUrl(url), ": ",
                     connect_detail.empty() ? Describe(ec) : connect_detail));
  }

  void SetDeadline(beast::tcp_stream& s, std::optional<std::chrono::steady_clock::time_point> d) {
    if (d) {
      s.expires_at(*d);
    } else {
      s.expires_never();
    }
  }

  // Opens the connection to `t`. Errors are the caller's to wrap.
  error_code Connect(const Target& t,
                     std::optional<std::chrono::steady_clock::time_point> deadline) {
    Close();
    tcp::resolver resolver(ioc);
    tcp::resolver::results_type endpoints;
    resolving = &resolver;
    absl::Cleanup not_resolving = [this] { resolving = nullptr; };
    error_code ec = Await([&](auto handler) {
      resolver.async_resolve(
          t.host, std::to_string(t.port),
          [&endpoints, handler](error_code e, tcp::resolver::results_type r) mutable {
            endpoints = std::move(r);
            handler(e);
          });
    });
    if (ec) {
      connect_detail = absl::StrCat("dial tcp: lookup ", t.host, ": ", Lower(ec.message()));
      return ec;
    }
    std::move(not_resolving).Invoke();
    auto stream = std::make_unique<beast::tcp_stream>(ioc);
    SetDeadline(*stream, deadline);
    connecting = stream.get();
    absl::Cleanup not_connecting = [this] { connecting = nullptr; };
    ec = Await([&](auto handler) {
      stream->async_connect(endpoints,
                            [handler](error_code e, const tcp::endpoint&) mutable { handler(e); });
    });
    if (ec) {
      // Go's words for it: "dial tcp 10.0.0.1:3100: connect: connection refused".
      connect_detail = absl::StrCat("dial tcp ", t.HostPort(), ": connect: ", Lower(ec.message()));
      return ec;
    }
    error_code ignored;
    tcp::socket& s = stream->socket();
    s.set_option(tcp::no_delay(true), ignored);
    s.set_option(asio::socket_base::keep_alive(true), ignored);
    // Keep-alive probes find a connection a NAT or load balancer silently dropped.
    int idle = 30, interval = 15;
    setsockopt(s.native_handle(), IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(s.native_handle(), IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
    if (t.scheme != "https") {
      plain = std::move(stream);
      conn_key = t.Key();
      return {};
    }
    auto secure = std::make_unique<TlsStream>(std::move(*stream), *tls_ctx);
    connecting = &beast::get_lowest_layer(*secure);
    SSL* ssl = secure->native_handle();
    // tls_config server_name: the name TLS sends and verifies, instead of the URL's host.
    const std::string& name = options.server_name.empty() ? t.host : options.server_name;
    if (!IsIpLiteral(name)) SSL_set_tlsext_host_name(ssl, name.c_str());
    if (!options.insecure_skip_verify) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      if (IsIpLiteral(name)) {
        X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
      } else {
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
      }
    }
    ec = Await(
        [&](auto handler) { secure->async_handshake(asio::ssl::stream_base::client, handler); });
    if (ec) {
      if (ec != beast::error::timeout) {
        long verify = SSL_get_verify_result(ssl);
        if (verify != X509_V_OK) {
          // Keep OpenSSL's reason: "certificate verify failed" alone does not say why.
          verify_detail = X509_verify_cert_error_string(verify);
        }
      }
      connect_detail = absl::StrCat("tls: ", Describe(ec));
      error_code ignored2;
      beast::get_lowest_layer(*secure).socket().close(ignored2);
      return ec;
    }
    tls = std::move(secure);
    conn_key = t.Key();
    return {};
  }
  std::string verify_detail;
  std::string connect_detail;  // what failed while connecting, in Go's words

  // What one exchange reads from the response body.
  struct BodyPolicy {
    size_t limit = kMaxResponseBodyBytes;
    bool fail_over_limit = false;
    const std::function<bool(std::string_view)>* stream = nullptr;
  };

  template <typename Stream>
  absl::StatusOr<HttpResponse> Exchange(Stream& s,
                                        const http::request<http::span_body<const char>>& req,
                                        const BodyPolicy& policy, bool* retryable,
                                        error_code* failure) {
    *retryable = false;
    error_code ec = Await([&](auto handler) { http::async_write(s, req, handler); });
    if (ec) {
      *retryable = true;  // nothing of a response yet
      *failure = ec;
      return absl::UnknownError("");
    }
    // Beast reads at most the buffer's free capacity, and never less than 512 bytes: unreserved,
    // a buffer that only ever held headers read a kubelet's /pods (megabytes on a busy node) in
    // 512-byte reads. Kept for the connection (Close keeps the capacity).
    if (buffer.capacity() < kReadBytes) buffer.reserve(kReadBytes);
    http::response_parser<http::buffer_body> parser;
    // Not boost::none: Beast 1.74 compares a Content-Length against an empty limit as exceeding it.
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    parser.header_limit(64 * 1024);
    ec = Await([&](auto handler) { http::async_read_header(s, buffer, parser, handler); });
    if (ec) {
      *retryable = !parser.got_some() && ec != beast::error::timeout;
      *failure = ec;
      return absl::UnknownError("");
    }
    HttpResponse response;
    auto& head = parser.get();
    response.status = static_cast<int>(head.result_int());
    auto ra = head.find(http::field::retry_after);
    if (ra != head.end()) {
      response.retry_after = std::string(
          absl::StripAsciiWhitespace(absl::string_view(ra->value().data(), ra->value().size())));
    }
    auto loc = head.find(http::field::location);
    if (loc != head.end())
      location = std::string(loc->value());
    else
      location.clear();
    const bool streaming = policy.stream != nullptr && response.status == 200;
    char chunk[kReadBytes];
    while (!parser.is_done()) {
      head.body().data = chunk;
      head.body().size = sizeof(chunk);
      // read_some: a watch's chunks are handed over as they come, not when the buffer is full.
      ec = Await([&](auto handler) { http::async_read_some(s, buffer, parser, handler); });
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        *failure = ec;
        return absl::UnknownError("");
      }
      size_t n = sizeof(chunk) - head.body().size;
      std::string_view data(chunk, n);
      if (streaming) {
        if (n > 0 && !(*policy.stream)(data)) {
          Close();  // the consumer stopped: the rest of the stream is not read
          return response;
        }
        continue;
      }
      if (policy.fail_over_limit && response.body.size() + n > policy.limit) {
        Close();
        over_limit = true;
        return response;
      }
      size_t room = policy.limit - std::min(policy.limit, response.body.size());
      response.body.append(data.substr(0, std::min(n, room)));
    }
    if (!parser.keep_alive()) Close();
    return response;
  }
  std::string location;
  bool over_limit = false;

  absl::StatusOr<HttpResponse> Perform(const HttpRequest& request, bool post, BodyPolicy policy) {
    if (cancelled.load(std::memory_order_relaxed)) {
      return absl::CancelledError("request cancelled: shutting down");
    }
    std::optional<std::chrono::steady_clock::time_point> deadline;
    if (request.timeout != absl::InfiniteDuration()) {
      deadline = std::chrono::steady_clock::now() +
                 absl::ToChronoMilliseconds(std::max(request.timeout, absl::Milliseconds(1)));
    }
    std::string url = request.url;
    std::string method = post ? (request.method.empty() ? "POST" : request.method) : "GET";
    std::string_view body = post ? request.body : std::string_view();
    std::vector<std::pair<std::string, std::string>> headers = request.headers;
    std::string first_host;
    for (int redirects = 0;; ++redirects) {
      ASSIGN_OR_RETURN(Target t, ParseTarget(url, post ? "Post" : "Get"));
      if (first_host.empty()) first_host = t.host_header;
      absl::StatusOr<HttpResponse> response = Once(t, url, method, headers, body, deadline, policy);
      if (!response.ok()) return response;
      int status = response->status;
      bool redirect =
          status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
      if (!options.follow_redirects || !redirect || location.empty()) return response;
      if (redirects == 10) {
        return absl::UnavailableError(
            absl::StrCat(method, " ", RedactedUrl(request.url), ": stopped after 10 redirects"));
      }
      std::string next = ResolveLocation(t, location);
      // 303, and 301/302 after a POST, become a GET without body (Go's and browsers' rule).
      if (status == 303 || ((status == 301 || status == 302) && method == "POST")) {
        method = "GET";
        body = {};
      }
      absl::StatusOr<Target> nt = ParseTarget(next, post ? "Post" : "Get");
      if (!nt.ok()) return nt.status();
      if (nt->host_header != t.host_header) {
        // Credentials go to the host they were given for only.
        std::erase_if(headers, [](const auto& h) {
          return absl::EqualsIgnoreCase(h.first, "Authorization");
        });
      }
      url = std::move(next);
    }
  }

  absl::StatusOr<HttpResponse> Once(const Target& t, const std::string& url,
                                    const std::string& method,
                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                    std::string_view body,
                                    std::optional<std::chrono::steady_clock::time_point> deadline,
                                    const BodyPolicy& policy) {
    if (t.scheme == "https") {
      bool changed = TlsFilesChanged();  // records the stamps the context is made from
      if (!tls_ctx || changed) {
        // A changed CA, certificate or key takes effect now, on a new connection.
        Close();
        tls_status = BuildTlsContext();
      }
      if (!tls_status.ok()) return tls_status;
    }
    http::request<http::span_body<const char>> req;
    req.method_string(method);
    req.target(t.target);
    req.version(11);
    bool has_host = false, has_auth = false, has_agent = false;
    for (const auto& [name, value] : headers) {
      has_host |= absl::EqualsIgnoreCase(name, "Host");
      has_auth |= absl::EqualsIgnoreCase(name, "Authorization");
      has_agent |= absl::EqualsIgnoreCase(name, "User-Agent");
      req.insert(name, value);
    }
    if (!has_host) req.set(http::field::host, t.host_header);
    if (!has_agent) req.set(http::field::user_agent, options.user_agent);
    if (t.has_userinfo && !has_auth) {
      req.set(http::field::authorization,
              absl::StrCat("Basic ", absl::Base64Escape(absl::StrCat(t.user, ":", t.password))));
    }
    req.body() = http::span_body<const char>::value_type(body.data() != nullptr ? body.data() : "",
                                                         body.size());
    if (method != "GET" || !body.empty()) req.prepare_payload();

    over_limit = false;
    verify_detail.clear();
    connect_detail.clear();
    for (int attempt = 0;; ++attempt) {
      bool reused = Open() && conn_key == t.Key();
      if (!reused) {
        error_code ec = Connect(t, deadline);
        if (ec) {
          absl::Status s = Failure(method, url, ec);
          if (!verify_detail.empty() && absl::IsUnavailable(s)) {
            s = absl::UnavailableError(absl::StrCat(s.message(), ": ", verify_detail));
          }
          return s;
        }
      }
      SetDeadline(Lowest(), deadline);
      bool retryable = false;
      error_code failure;
      absl::StatusOr<HttpResponse> response =
          tls ? Exchange(*tls, req, policy, &retryable, &failure)
              : Exchange(*plain, req, policy, &retryable, &failure);
      if (response.ok()) {
        if (over_limit) {
          return absl::ResourceExhaustedError(absl::StrCat(
              method, " ", RedactedUrl(url), ": response larger than ", policy.limit, " bytes"));
        }
        return response;
      }
      Close();
      // A kept-alive connection the server had closed: Go's transport sends the request again
      // on a new one when nothing of a response arrived.
      if (reused && retryable && attempt == 0 && !cancelled.load(std::memory_order_relaxed)) {
        continue;
      }
      return Failure(method, url, failure);
    }
  }
};

AsioHttpClient::AsioHttpClient(HttpClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

AsioHttpClient::~AsioHttpClient() = default;

bool AsioHttpClient::Serves(const HttpClientOptions& options) {
  return options.proxy_url.empty() && !options.proxy_from_environment &&
         options.unix_socket_path.empty();
}

absl::StatusOr<HttpResponse> AsioHttpClient::Post(const HttpRequest& request) {
  return impl_->Perform(request, /*post=*/true, Impl::BodyPolicy{});
}

absl::StatusOr<HttpResponse> AsioHttpClient::Get(const HttpRequest& request, size_t max_body) {
  Impl::BodyPolicy policy;
  policy.limit = max_body;
  policy.fail_over_limit = true;
  return impl_->Perform(request, /*post=*/false, policy);
}

absl::StatusOr<HttpResponse> AsioHttpClient::GetStream(
    const HttpRequest& request, const std::function<bool(std::string_view)>& on_data) {
  Impl::BodyPolicy policy;
  policy.stream = &on_data;
  return impl_->Perform(request, /*post=*/false, policy);
}

void AsioHttpClient::Cancel() {
  impl_->cancelled.store(true, std::memory_order_relaxed);
  // Runs on the requesting thread, inside its io_context: closing the socket ends the operation
  // in flight at once (a request Loki sits on, a watch with no timeout).
  Impl* impl = impl_.get();
  asio::post(impl->ioc, [impl] { impl->Abort(); });
}

std::unique_ptr<HttpClient> NewHttpClient(HttpClientOptions options) {
  if (AsioHttpClient::Serves(options)) return std::make_unique<AsioHttpClient>(std::move(options));
  return std::make_unique<CurlHttpClient>(std::move(options));
}

}  // namespace sluice
