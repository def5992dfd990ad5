#include "agent/sink/endpoint_config.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/common/strings.h"
#include "agent/go/strconv.h"

namespace sluice {
namespace {

using config::Attr;
using config::Block;
using config::Decoder;
using config::Value;

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// The first bad %-escape in `s` ("%zz", "%4"), or nullopt.
std::optional<std::string> BadEscape(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') continue;
    if (i + 2 >= s.size() || !IsHex(s[i + 1]) || !IsHex(s[i + 2])) {
      std::string_view bad = s.substr(i, 3);
      return absl::StrCat("invalid URL escape ", GoQuote(bad));
    }
    i += 2;
  }
  return std::nullopt;
}

// Go's url.validOptionalPort: "" or ':' followed by digits only.
bool ValidOptionalPort(std::string_view port) {
  if (port.empty()) return true;
  if (port[0] != ':') return false;
  for (char c : port.substr(1)) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// ASCII characters Go refuses in a host name (what its shouldEscape says for encodeHost, minus
// the ones that cannot reach the host part at all).
bool BadHostChar(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return false;
  if (static_cast<unsigned char>(c) >= 0x80) return false;
  switch (c) {
    case '-':
    case '_':
    case '.':
    case '~':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
    case ':':
    case '[':
    case ']':
    case '<':
    case '>':
    case '"':
    case '%':
      return false;
    default:
      return true;
  }
}

std::optional<std::string> ParseHostError(std::string_view host) {
  if (!host.empty() && host[0] == '[') {
    size_t close = host.rfind(']');
    if (close == std::string_view::npos) return "missing ']' in host";
    std::string_view colon_port = host.substr(close + 1);
    if (!ValidOptionalPort(colon_port)) {
      return absl::StrCat("invalid port ", GoQuote(colon_port), " after host");
    }
  } else {
    size_t colon = host.rfind(':');
    if (colon != std::string_view::npos && !ValidOptionalPort(host.substr(colon))) {
      return absl::StrCat("invalid port ", GoQuote(host.substr(colon)), " after host");
    }
  }
  if (auto e = BadEscape(host)) return e;
  for (char c : host) {
    if (BadHostChar(c)) {
      return absl::StrCat("invalid character ", GoQuote(std::string_view(&c, 1)), " in host name");
    }
  }
  return std::nullopt;
}

// The reason part of Go's url.Parse error, or nullopt.
std::optional<std::string> UrlParseReason(std::string_view raw) {
  for (char c : raw) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return "net/url: invalid control character in URL";
    }
  }
  std::string_view rest = raw;
  size_t hash = rest.find('#');
  if (hash != std::string_view::npos) {
    if (auto e = BadEscape(rest.substr(hash + 1))) return e;
    rest = rest.substr(0, hash);
  }
  // Scheme: letters, then letters, digits, "+-."; anything else before ':' means no scheme.
  std::string scheme;
  for (size_t i = 0; i < rest.size(); ++i) {
    char c = rest[i];
    if (absl::ascii_isalpha(static_cast<unsigned char>(c))) continue;
    if (absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.') {
      if (i == 0) break;
      continue;
    }
    if (c == ':') {
      if (i == 0) return "missing protocol scheme";
      scheme = std::string(rest.substr(0, i));
      rest = rest.substr(i + 1);
    }
    break;
  }
  size_t q = rest.find('?');
  if (q != std::string_view::npos) rest = rest.substr(0, q);
  if (!absl::StartsWith(Av(rest), "/")) {
    if (!scheme.empty()) return std::nullopt;  // opaque: mailto:x
    size_t colon = rest.find(':');
    size_t slash = rest.find('/');
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon < slash)) {
      return "first path segment in URL cannot contain colon";
    }
  }
  if ((!scheme.empty() || !absl::StartsWith(Av(rest), "///")) && absl::StartsWith(Av(rest), "//")) {
    std::string_view authority = rest.substr(2);
    size_t slash = authority.find('/');
    std::string_view path;
    if (slash != std::string_view::npos) {
      path = authority.substr(slash);
      authority = authority.substr(0, slash);
    }
    size_t at = authority.rfind('@');
    std::string_view host = at == std::string_view::npos ? authority : authority.substr(at + 1);
    if (auto e = ParseHostError(host)) return e;
    if (at != std::string_view::npos) {
      std::string_view userinfo = authority.substr(0, at);
      for (char c : userinfo) {
        bool ok = absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                  std::string_view("-._:~!$&'()*+,;=%@").find(c) != std::string_view::npos;
        if (!ok) return "net/url: invalid userinfo";
      }
      if (auto e = BadEscape(userinfo)) return e;
    }
    rest = path;
  }
  return BadEscape(rest);
}

// Alloy's `map(list(secret))`: an object whose values are arrays of strings.
bool StringListMap(Decoder& d, std::string_view name,
                   std::map<std::string, std::vector<std::string>>* out) {
  const Attr* a = d.Get(name);
  if (a == nullptr) return false;
  if (a->value.kind() != Value::Kind::kObject) {
    d.Error(a->value_span, config::TypeMismatch("object", a->value));
    return false;
  }
  std::map<std::string, std::vector<std::string>> m;
  for (const auto& [k, v] : a->value.as_object()) {
    if (v.kind() != Value::Kind::kArray) {
      d.Error(a->value_span, config::TypeMismatch("array", v));
      return false;
    }
    std::vector<std::string>& list = m[k];
    for (const Value& e : v.as_array()) {
      if (e.kind() != Value::Kind::kString) {
        d.Error(a->value_span, config::TypeMismatch("string", e));
        return false;
      }
      list.push_back(e.as_string());
    }
  }
  *out = std::move(m);
  return true;
}

// Go's http.CanonicalHeaderKey for the ASCII names headers have: "x-scope-orgid" ->
// "X-Scope-Orgid".
std::string CanonicalHeaderKey(std::string_view name) {
  std::string out(name);
  bool upper = true;
  for (char& c : out) {
    if (c == ' ' || static_cast<unsigned char>(c) >= 0x80) return std::string(name);
    c = upper ? absl::ascii_toupper(static_cast<unsigned char>(c))
              : absl::ascii_tolower(static_cast<unsigned char>(c));
    upper = c == '-';
  }
  return out;
}

// Prometheus' ReservedHeaders: names `http_headers` may not set.
bool IsReservedHeader(const std::string& canonical) {
  static constexpr std::string_view kReserved[] = {"Authorization",
                                                   "Host",
                                                   "Content-Encoding",
                                                   "Content-Length",
                                                   "Content-Type",
                                                   "User-Agent",
                                                   "Connection",
                                                   "Keep-Alive",
                                                   "Proxy-Authenticate",
                                                   "Proxy-Authorization",
                                                   "Www-Authenticate",
                                                   "Accept-Encoding",
                                                   "X-Prometheus-Remote-Write-Version",
                                                   "X-Prometheus-Remote-Read-Version",
                                                   "X-Prometheus-Scrape-Timeout-Seconds",
                                                   "X-Amz-Date",
                                                   "X-Amz-Security-Token",
                                                   "X-Amz-Content-Sha256"};
  for (std::string_view r : kReserved) {
    if (canonical == r) return true;
  }
  return false;
}

// The proxy attributes squashed into `d`'s block; returns Alloy's ProxyConfig.Validate verdict.
std::optional<std::string> DecodeProxy(Decoder& d, ProxyConfig* out) {
  bool url_set = false;
  if (d.String("proxy_url", &out->proxy_url)) {
    url_set = true;
    if (auto reason = UrlParseReason(out->proxy_url)) {
      d.ErrorAt("proxy_url", absl::StrCat("parse ", GoQuote(out->proxy_url), ": ", *reason));
    }
  }
  d.String("no_proxy", &out->no_proxy);
  d.Bool("proxy_from_environment", &out->proxy_from_environment);
  StringListMap(d, "proxy_connect_header", &out->proxy_connect_header);

  const bool has_url = url_set && !out->proxy_url.empty();
  if (!out->proxy_connect_header.empty() && !out->proxy_from_environment && !has_url) {
    return "if proxy_connect_header is configured, proxy_url or proxy_from_environment must also "
           "be configured";
  }
  if (out->proxy_from_environment && has_url) {
    return "if proxy_from_environment is configured, proxy_url must not be configured";
  }
  if (out->proxy_from_environment && !out->no_proxy.empty()) {
    return "if proxy_from_environment is configured, no_proxy must not be configured";
  }
  if (!url_set && !out->no_proxy.empty()) {
    return "if no_proxy is configured, proxy_url must also be configured";
  }
  return std::nullopt;
}

void DecodeTls(const Block& block, config::Diags* diags, TlsConfig* out) {
  Decoder d(block, diags);
  d.String("ca_pem", &out->ca_pem);
  d.String("ca_file", &out->ca_file);
  d.String("cert_pem", &out->cert_pem);
  d.String("cert_file", &out->cert_file);
  d.Secret("key_pem", &out->key_pem);
  d.String("key_file", &out->key_file);
  d.String("server_name", &out->server_name);
  d.Bool("insecure_skip_verify", &out->insecure_skip_verify);
  std::string version;
  if (d.String("min_version", &version)) {
    if (version == "TLS10") {
      out->min_version = TlsVersion::kTls10;
    } else if (version == "TLS11") {
      out->min_version = TlsVersion::kTls11;
    } else if (version == "TLS12") {
      out->min_version = TlsVersion::kTls12;
    } else if (version == "TLS13") {
      out->min_version = TlsVersion::kTls13;
    } else {
      d.ErrorAt("min_version", absl::StrCat("unknown TLS version: ", version));
    }
  }
  d.Finish();

  // Alloy's TLSConfig.Validate: the first failed rule, at the block.
  const char* error = nullptr;
  const bool cert = !out->cert_pem.empty() || !out->cert_file.empty();
  const bool key = !out->key_pem.empty() || !out->key_file.empty();
  if (!out->ca_pem.empty() && !out->ca_file.empty()) {
    error = "at most one of ca_pem and ca_file must be configured";
  } else if (!out->cert_pem.empty() && !out->cert_file.empty()) {
    error = "at most one of cert_pem and cert_file must be configured";
  } else if (!out->key_pem.empty() && !out->key_file.empty()) {
    error = "at most one of key_pem and key_file must be configured";
  } else if (cert && !key) {
    error =
        "exactly one of key_pem or key_file must be configured when a client certificate is "
        "configured";
  } else if (key && !cert) {
    error =
        "exactly one of cert_pem or cert_file must be configured when a client key is configured";
  }
  if (error != nullptr) d.Error(block.span, error);
}

void DecodeBasicAuth(const Block& block, config::Diags* diags, BasicAuthConfig* out) {
  Decoder d(block, diags);
  d.String("username", &out->username);
  d.Secret("password", &out->password);
  d.String("password_file", &out->password_file);
  d.Finish();
  if (!out->password.empty() && !out->password_file.empty()) {
    d.Error(block.span, "at most one of basic_auth password & password_file must be configured");
  }
}

void DecodeAuthorization(const Block& block, config::Diags* diags, AuthorizationConfig* out) {
  Decoder d(block, diags);
  std::string type;
  d.String("type", &type);
  d.Secret("credentials", &out->credentials);
  d.String("credentials_file", &out->credentials_file);
  d.Finish();
  if (!out->credentials.empty() && !out->credentials_file.empty()) {
    d.Error(block.span,
            "at most one of authorization credentials & credentials_file must be configured");
    return;
  }
  type = std::string(absl::StripAsciiWhitespace(type));
  out->type = type.empty() ? "Bearer" : type;
  if (absl::AsciiStrToLower(out->type) == "basic") {
    d.Error(block.span,
            "authorization type cannot be set to \"basic\", use \"basic_auth\" block instead");
  }
}

// Decodes and validates as Alloy does; true when Alloy would have accepted the block.
bool DecodeOAuth2(const Block& block, config::Diags* diags, OAuth2Config* out) {
  const size_t before = diags->list().size();
  Decoder d(block, diags);
  d.String("client_id", &out->client_id);
  d.Secret("client_secret", &out->client_secret);
  d.String("client_secret_file", &out->client_secret_file);
  d.StringList("scopes", &out->scopes);
  d.String("token_url", &out->token_url);
  d.StringMap("endpoint_params", &out->endpoint_params);
  std::optional<std::string> proxy_error = DecodeProxy(d, &out->proxy);
  if (const Block* tls = d.OptionalBlock("tls_config")) {
    out->tls_config.emplace();
    DecodeTls(*tls, diags, &*out->tls_config);
  }
  d.Finish();
  const char* error = nullptr;
  if (out->client_id.empty()) {
    error = "oauth2 client_id must be configured";
  } else if (out->client_secret.empty() && out->client_secret_file.empty()) {
    error = "either oauth2 client_secret or client_secret_file must be configured";
  } else if (out->token_url.empty()) {
    error = "oauth2 token_url must be configured";
  } else if (!out->client_secret.empty() && !out->client_secret_file.empty()) {
    error = "at most one of oauth2 client_secret & client_secret_file must be configured";
  }
  if (error != nullptr) {
    d.Error(block.span, error);
  } else if (proxy_error) {
    d.Error(block.span, *proxy_error);
  }
  return diags->list().size() == before;
}

void DecodeQueue(const Block& block, config::Diags* diags, QueueConfig* out) {
  Decoder d(block, diags);
  d.Bytes("capacity", &out->capacity);
  d.Int("min_shards", &out->min_shards);
  d.Duration("drain_timeout", &out->drain_timeout);
  d.Bool("block_on_overflow", &out->block_on_overflow);
  d.Finish();
}

void DecodeWal(const Block& block, config::Diags* diags, WalConfig* out) {
  Decoder d(block, diags);
  d.Bool("enabled", &out->enabled);
  d.Duration("max_segment_age", &out->max_segment_age);
  d.Duration("min_read_frequency", &out->min_read_frequency);
  d.Duration("max_read_frequency", &out->max_read_frequency);
  d.Duration("drain_timeout", &out->drain_timeout);
  d.Finish();
  if (out->min_read_frequency >= out->max_read_frequency) {
    d.Error(block.span, "WAL min read frequency should be lower than max read frequency");
  }
  if (out->enabled) {
    d.ErrorAt("enabled",
              "wal: enabled = true is not supported by sluice (it needs no write-ahead log: the "
              "log files are the buffer, and positions advance only once Loki has taken the "
              "entries); remove the wal block or set enabled = false");
  }
}

// The file's content, or Go's words for why not ("open /x: no such file or directory").
absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    std::string error = std::strerror(errno);
    if (!error.empty()) error[0] = absl::ascii_tolower(static_cast<unsigned char>(error[0]));
    return absl::NotFoundError(
        absl::StrCat("unable to read file ", path, ": open ", path, ": ", error));
  }
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0 && out.size() < (16u << 20)) {
    out.append(buf, n);
  }
  std::fclose(f);
  return out;
}

// OK when the PEM text (inline, or read from `file`) holds `marker`; else an error that starts
// with `read_prefix` (unreadable) or `unusable` (no such PEM block).
absl::Status CheckPem(const std::string& inline_pem, const std::string& file,
                      std::string_view read_prefix, std::string_view marker,
                      std::string_view unusable) {
  std::string text = inline_pem;
  if (!file.empty()) {
    absl::StatusOr<std::string> content = ReadSmallFile(file);
    if (!content.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(Av(read_prefix), content.status().message()));
    }
    text = *std::move(content);
  }
  if (text.find(marker) == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(Av(unusable), file.empty() ? "inline" : absl::StrCat("file ", file)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckEndpointFiles(const HttpClientConfig& e) {
  const TlsConfig& t = e.tls;
  absl::Status status;
  if (!t.ca_pem.empty() || !t.ca_file.empty()) {
    status =
        CheckPem(t.ca_pem, t.ca_file, "unable to read CA cert: ", "-----BEGIN CERTIFICATE-----",
                 "unable to use specified CA cert ");
  }
  const bool client =
      (!t.cert_pem.empty() || !t.cert_file.empty()) && (!t.key_pem.empty() || !t.key_file.empty());
  if (status.ok() && client) {
    status = CheckPem(t.cert_pem, t.cert_file,
                      "unable to read specified client cert: ", "-----BEGIN CERTIFICATE-----",
                      "unable to use specified client cert ");
  }
  if (status.ok() && client) {
    status =
        CheckPem(t.key_pem, t.key_file, "unable to read specified client key: ", "PRIVATE KEY-----",
                 "unable to use specified client key ");
  }
  if (status.ok()) return status;
  return absl::InvalidArgumentError(
      absl::StrCat("failed to create cliens: error starting endpoint: ", status.message()));
}

std::optional<std::string> GoUrlParseError(std::string_view url) {
  std::optional<std::string> reason = UrlParseReason(url);
  if (!reason) return std::nullopt;
  return absl::StrCat("parse ", GoQuote(url), ": ", *reason);
}

std::optional<std::string> DecodeHttpClientConfig(Decoder& d, HttpClientConfig* out) {
  config::Diags* diags = d.diags();
  StringListMap(d, "http_headers", &out->http_headers);
  d.Bool("follow_redirects", &out->follow_redirects);
  d.Bool("enable_http2", &out->enable_http2);
  std::string bearer_token;
  std::string bearer_token_file;
  d.Secret("bearer_token", &bearer_token);
  d.String("bearer_token_file", &bearer_token_file);
  std::optional<std::string> proxy_error = DecodeProxy(d, &out->proxy);

  if (const Block* b = d.OptionalBlock("basic_auth")) {
    out->basic_auth.emplace();
    DecodeBasicAuth(*b, diags, &*out->basic_auth);
  }
  if (const Block* b = d.OptionalBlock("authorization")) {
    out->authorization.emplace();
    DecodeAuthorization(*b, diags, &*out->authorization);
  }
  const Block* oauth2 = d.OptionalBlock("oauth2");
  if (oauth2 != nullptr) {
    out->oauth2.emplace();
    DecodeOAuth2(*oauth2, diags, &*out->oauth2);
  }
  if (const Block* b = d.OptionalBlock("tls_config")) DecodeTls(*b, diags, &out->tls);

  // Alloy's HTTPClientConfig.Validate: the first failure.
  std::optional<std::string> error;
  int auth = (out->basic_auth ? 1 : 0) + (out->authorization ? 1 : 0) + (out->oauth2 ? 1 : 0) +
             (bearer_token.empty() ? 0 : 1) + (bearer_token_file.empty() ? 0 : 1);
  if (auth > 1) {
    error =
        "at most one of basic_auth, authorization, oauth2, bearer_token & bearer_token_file "
        "must be configured";
  } else {
    for (const auto& [name, values] : out->http_headers) {
      std::string canonical = CanonicalHeaderKey(name);
      if (IsReservedHeader(canonical)) {
        error = absl::StrCat("setting header ", GoQuote(canonical), " is not allowed");
        break;
      }
    }
    if (!error) error = proxy_error;
  }
  // As Alloy's validation does: the bearer token arguments become an authorization block.
  if (!bearer_token.empty()) {
    out->authorization = AuthorizationConfig{"Bearer", bearer_token, ""};
  } else if (!bearer_token_file.empty()) {
    out->authorization = AuthorizationConfig{"Bearer", "", bearer_token_file};
  }
  return error;
}

bool DecodeEndpoint(Decoder& d, EndpointConfig* out) {
  config::Diags* diags = d.diags();
  const size_t before = diags->list().size();
  const Block& block = d.block();

  const bool has_url = d.String("url", &out->url, config::Required::kYes);
  d.String("name", &out->name);
  d.String("tenant_id", &out->tenant_id);
  d.StringMap("headers", &out->headers);
  d.Duration("batch_wait", &out->batch_wait);
  d.Bytes("batch_size", &out->batch_size);
  d.Duration("remote_timeout", &out->remote_timeout);
  d.Duration("min_backoff_period", &out->min_backoff_period);
  d.Duration("max_backoff_period", &out->max_backoff_period);
  if (d.Int("max_backoff_retries", &out->max_backoff_retries)) {
    out->max_backoff_retries_set = true;
  }
  d.Bool("retry_on_http_429", &out->retry_on_http_429);
  std::optional<std::string> client_error = DecodeHttpClientConfig(d, out);
  if (const Block* b = d.OptionalBlock("queue_config")) {
    DecodeQueue(*b, diags, &out->queue_config);
    out->queue_config_set = true;
  }
  d.Finish();

  // Alloy's EndpointOptions.Validate: the URL, then the HTTP client's rules; the first failure,
  // at the block. (Alloy does not check min_backoff_period <= max_backoff_period: the delay is
  // then min_backoff_period every time, as in dskit.)
  std::optional<std::string> error;
  if (auto parse = GoUrlParseError(out->url)) {
    error = absl::StrCat("failed to parse remote url ", GoQuote(out->url), ": ", *parse);
  } else {
    error = client_error;
  }
  if (error) {
    d.Error(block.span, *error);
  } else if (has_url) {
    // A URL Go parses but that can never carry a push ("loki:3100/api/v1/push": scheme "loki")
    // loads in Alloy, and every request then fails with `unsupported protocol scheme`; so here:
    // the push fails, is retried and counted, and the component reports itself unhealthy.
    std::string scheme = absl::AsciiStrToLower(Av(out->url.substr(0, out->url.find(':'))));
    if (out->url.find("://") == std::string::npos || (scheme != "http" && scheme != "https")) {
      LogWarn("loki.write", "endpoint url is not http:// or https://: every push will fail",
              {{"url", out->url}});
    }
  }
  return diags->list().size() == before;
}

bool DecodeLokiWrite(Decoder& d, LokiWriteConfig* out) {
  config::Diags* diags = d.diags();
  const size_t before = diags->list().size();
  d.StringMap("external_labels", &out->external_labels);
  d.Int("max_streams", &out->max_streams);
  std::vector<const Block*> endpoints = d.Blocks("endpoint");
  for (const Block* b : endpoints) {
    Decoder ed(*b, diags);
    EndpointConfig e;
    if (!DecodeEndpoint(ed, &e)) continue;
    // Alloy's fan-out refuses endpoints it cannot tell apart in its metrics: the same name, or
    // (unnamed) the same settings.
    bool duplicate = false;
    for (const EndpointConfig& prev : out->endpoints) {
      if (e.name.empty() ? prev.name.empty() && prev == e : prev.name == e.name) duplicate = true;
    }
    if (duplicate) {
      d.Error(b->span,
              absl::StrCat("failed to create cliens: duplicate endpoint configs are not allowed, "
                           "found duplicate for name: ",
                           e.name));
      continue;
    }
    out->endpoints.push_back(std::move(e));
  }
  if (const Block* b = d.OptionalBlock("wal")) DecodeWal(*b, diags, &out->wal);
  d.Finish();
  if (endpoints.empty()) {
    // Alloy's text, including its typo, so that searches for the message find both.
    d.Error(d.block().span,
            "failed to create cliens: at least one endpoint config must be provided");
  }
  return diags->list().size() == before;
}

}  // namespace sluice
