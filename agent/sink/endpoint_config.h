// The arguments of Alloy's `loki.write` component and of its `endpoint` blocks, decoded from
// config blocks with Alloy's defaults, types and validation messages.
//
//   loki.write "default" {
//     external_labels = { cluster = "a" }
//     endpoint {
//       url       = "https://loki.example.com/loki/api/v1/push"
//       tenant_id = "team-a"
//       basic_auth { username = "u"  password_file = "/run/secrets/loki" }
//       tls_config { ca_file = "/etc/ssl/loki-ca.pem" }
//     }
//   }
//
// Everything an endpoint block can say is decoded, so that a config Alloy accepts is accepted
// (and one Alloy refuses is refused, with Alloy's words at the same place: errors of a block's
// own validation at the block's header, type errors at the value). Where sluice cannot do what a
// setting asks (oauth2, an enabled WAL) the config is refused with a message that says so, rather
// than silently ignored. What each field becomes at run time is said at the field; the
// conversion to the sink's configuration is in loki_sink.h (LokiSinkConfigFromEndpoint).
//
// Plain value types and pure functions; used on the thread that loads the configuration.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/config/decode.h"

namespace sluice {

// `basic_auth { username, password, password_file }`.
struct BasicAuthConfig {
  std::string username;
  std::string password;
  // Read, whitespace-trimmed, when a request is made and the file has changed since the last
  // read (one stat per request); never logged.
  std::string password_file;
  bool operator==(const BasicAuthConfig&) const = default;
};

// `authorization { type, credentials, credentials_file }`; also what `bearer_token` and
// `bearer_token_file` become (type "Bearer"), as Alloy's validation rewrites them.
struct AuthorizationConfig {
  std::string type = "Bearer";  // trimmed; "" becomes "Bearer"; "basic" is refused
  std::string credentials;
  std::string credentials_file;  // read like BasicAuthConfig::password_file
  bool operator==(const AuthorizationConfig&) const = default;
};

// The proxy arguments Alloy squashes into a block (endpoint, oauth2).
struct ProxyConfig {
  std::string proxy_url;  // "" = none
  std::string no_proxy;   // comma-separated hosts, domains, IPs, CIDRs (Go's NO_PROXY syntax)
  bool proxy_from_environment = false;  // HTTP(S)_PROXY / NO_PROXY, read when the client starts
  // Headers sent to the proxy in CONNECT requests (https through a proxy).
  std::map<std::string, std::vector<std::string>> proxy_connect_header;
  bool operator==(const ProxyConfig&) const = default;
};

enum class TlsVersion { kDefault, kTls10, kTls11, kTls12, kTls13 };

// `tls_config { ... }`.
struct TlsConfig {
  std::string ca_pem;     // trusted CAs instead of the system's
  std::string ca_file;    // same, from a file (re-read on the next connection when it changes)
  std::string cert_pem;   // client certificate for mutual TLS
  std::string cert_file;  // same, from a file
  std::string key_pem;    // its private key
  std::string key_file;   // same, from a file
  // Name the server certificate must carry and that is sent as SNI, instead of the URL's host.
  std::string server_name;
  bool insecure_skip_verify = false;
  // kDefault = TLS 1.2, the minimum of Go's TLS client (Alloy's behaviour when unset).
  TlsVersion min_version = TlsVersion::kDefault;
  bool operator==(const TlsConfig&) const = default;
};

// `oauth2 { ... }`: decoded and validated as Alloy does, then refused (see DecodeEndpoint).
struct OAuth2Config {
  std::string client_id;
  std::string client_secret;
  std::string client_secret_file;
  std::vector<std::string> scopes;
  std::string token_url;
  std::map<std::string, std::string> endpoint_params;
  ProxyConfig proxy;
  std::optional<TlsConfig> tls_config;
  bool operator==(const OAuth2Config&) const = default;
};

// `queue_config { ... }`. Alloy keeps a channel of batches per shard; sluice keeps one ordered
// send queue per endpoint bounded by the agent's memory budget, and the log files are the buffer.
struct QueueConfig {
  // Alloy: bytes of batches one shard may queue. sluice: an upper bound for the bytes queued for
  // this endpoint (the agent uses the smaller of this and its memory budget).
  uint64_t capacity = 10 * 1024 * 1024;
  // Alloy: concurrent senders. sluice sends one batch at a time per endpoint (acknowledgements
  // and positions stay in order), so this is accepted and has no effect.
  int64_t min_shards = 1;
  // How long shutdown may spend delivering what is queued (the Sender's drain deadline).
  absl::Duration drain_timeout = absl::Seconds(15);
  // Alloy: false drops entries when the queue is full (reason "queue_is_full"). sluice always
  // stops reading instead (nothing is lost); false is accepted and has no effect.
  bool block_on_overflow = true;
  bool operator==(const QueueConfig&) const = default;
};

// Alloy's HTTP client settings (its config.HTTPClientConfig, squashed into the blocks that use
// it: loki.write endpoints, discovery.kubelet, discovery.kubernetes).
struct HttpClientConfig {
  // `http_headers`: every value added to each request (reserved names refused).
  std::map<std::string, std::vector<std::string>> http_headers;

  // At most one of these (bearer_token[_file] are folded into `authorization`).
  std::optional<BasicAuthConfig> basic_auth;
  std::optional<AuthorizationConfig> authorization;
  std::optional<OAuth2Config> oauth2;

  TlsConfig tls;
  ProxyConfig proxy;
  bool follow_redirects = true;
  bool enable_http2 = true;  // HTTP/2 over TLS when the server offers it (ALPN); 1.1 otherwise

  bool operator==(const HttpClientConfig&) const = default;
};

// One `endpoint` block: the HTTP client settings and Loki's.
struct EndpointConfig : HttpClientConfig {
  std::string url;   // required; http or https
  std::string name;  // for duplicate detection and logs
  // X-Scope-OrgID when not empty. It wins over an X-Scope-OrgID in `headers` (Alloy sets the
  // tenant header first and adds `headers` only where no header of that name is set), and a
  // `__tenant_id__` label of the batch wins over both.
  std::string tenant_id;
  // Added to each request unless the request already has a header of that name (Content-Type,
  // Content-Encoding, User-Agent, X-Scope-OrgID are set first; an Authorization here takes the
  // place of the configured auth, as in Alloy).
  std::map<std::string, std::string> headers;
  absl::Duration batch_wait = absl::Seconds(1);
  uint64_t batch_size = 1024 * 1024;
  absl::Duration remote_timeout = absl::Seconds(10);
  absl::Duration min_backoff_period = absl::Milliseconds(500);
  absl::Duration max_backoff_period = absl::Minutes(5);
  // Alloy's default is 10 tries, then the batch is dropped. sluice's default, when the attribute
  // is not written, is to retry forever with reading paused (the files are the buffer; nothing
  // is lost while Loki is down): max_backoff_retries_set says whether it was written. Written,
  // it means what it means in Alloy: N tries in all, 0 forever (a negative value: one try).
  int64_t max_backoff_retries = 10;
  bool max_backoff_retries_set = false;
  bool retry_on_http_429 = true;  // false: a 429 drops the batch, counted as "rate_limited"
  QueueConfig queue_config;
  bool queue_config_set = false;  // a queue_config block was written (Alloy: experimental)

  bool operator==(const EndpointConfig&) const = default;
};

// `wal { ... }`: only `enabled = false` is supported.
struct WalConfig {
  bool enabled = false;
  absl::Duration max_segment_age = absl::Hours(1);
  absl::Duration min_read_frequency = absl::Milliseconds(250);
  absl::Duration max_read_frequency = absl::Seconds(1);
  absl::Duration drain_timeout = absl::Seconds(15);
  bool operator==(const WalConfig&) const = default;
};

// The arguments of one `loki.write` component.
struct LokiWriteConfig {
  std::vector<EndpointConfig> endpoints;
  // Added to every entry's labels; an entry's own label of the same name wins.
  std::map<std::string, std::string> external_labels;
  int64_t max_streams = 0;  // streams per batch; 0 = no limit
  WalConfig wal;
};

// Decodes the HTTP client arguments of the block `d` reads (bearer_token, bearer_token_file,
// basic_auth, authorization, oauth2, tls_config, proxy settings, follow_redirects,
// enable_http2, http_headers) with Alloy's validation. Returns the first validation failure of
// the settings as a whole (Alloy reports it at the block), or nullopt. Does not call Finish().
std::optional<std::string> DecodeHttpClientConfig(config::Decoder& d, HttpClientConfig* out);

// Decodes the `endpoint` block `d` reads, applying Alloy's defaults and validation, then calls
// d.Finish(). Returns true when the block added no diagnostic. On errors `out` holds what could
// be decoded and must not be used.
bool DecodeEndpoint(config::Decoder& d, EndpointConfig* out);

// Decodes a `loki.write` block (its arguments, every endpoint, wal), then calls d.Finish().
// Returns true when the block added no diagnostic. Besides each endpoint's errors: no endpoint
// block (Alloy fails to build the component then), two endpoints with the same name or two
// identical unnamed ones, and `wal { enabled = true }` are errors.
bool DecodeLokiWrite(config::Decoder& d, LokiWriteConfig* out);

// What Alloy checks when it builds the endpoint's client (not when it decodes the block): the
// CA (file or PEM) must hold a certificate, a client certificate and key must be readable PEM.
// Messages are Alloy's ("failed to create cliens: error starting endpoint: unable to read CA
// cert: unable to read file /x: open /x: no such file or directory"). For the agent to call when
// it builds the component; reads files. sluice re-reads the files on every new connection
// afterwards, so a later problem shows as push errors instead.
absl::Status CheckEndpointFiles(const HttpClientConfig& endpoint);

// Go's url.Parse verdict on `url` as Alloy reports it ("parse \"x\": missing protocol scheme"),
// or nullopt when Go would accept it. Exposed for tests.
std::optional<std::string> GoUrlParseError(std::string_view url);

}  // namespace sluice
