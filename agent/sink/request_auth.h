// RequestAuth: the Authorization header that Alloy's HTTP client settings ask for, shared by every
// client that speaks them (loki.write endpoints, discovery.kubelet, discovery.kubernetes).
//
// `basic_auth` (password or password_file) becomes "Basic <base64>", `authorization` (and the
// bearer_token / bearer_token_file it is folded from) becomes "<type> <credentials>". Files are
// read at every request, as Prometheus' client does: a rotated service-account token (projected
// tokens are replaced hourly) is used from the next request on.
//
// Owned by one client and used from that client's thread only.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <functional>
#include <memory>
#include <mutex>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/sink/endpoint_config.h"
#include "agent/sink/file_secret.h"

namespace sluice {

class HttpClient;

class RequestAuth {
 public:
  using ClientFactory = std::function<std::unique_ptr<HttpClient>(const HttpClientConfig&)>;

  // `oauth2`: the client credentials flow (golang.org/x/oauth2/clientcredentials, as Alloy's
  // HTTP client config): a token is asked of token_url with the client's id and secret (the
  // secret file read at each request for a token), kept until 10 s before it expires, and sent
  // as `Authorization: <token_type> <access_token>`. `factory` makes the token client (tests);
  // unset: libcurl with the block's tls_config and proxy.
  RequestAuth(std::optional<BasicAuthConfig> basic_auth,
              std::optional<AuthorizationConfig> authorization,
              std::optional<OAuth2Config> oauth2 = std::nullopt, ClientFactory factory = nullptr);
  ~RequestAuth();
  RequestAuth(RequestAuth&&) = delete;

  // Appends the Authorization header, unless `headers` already holds one (a configured header
  // takes the place of the configured auth, as in Alloy). Unavailable, naming the file but never
  // its content, when a credentials file cannot be read.
  absl::Status Apply(std::vector<std::pair<std::string, std::string>>* headers);

 private:
  std::optional<BasicAuthConfig> basic_auth_;
  std::optional<AuthorizationConfig> authorization_;
  std::optional<FileSecret> password_file_;     // basic_auth password_file
  std::optional<FileSecret> credentials_file_;  // authorization credentials_file

  absl::Status OAuth2Header(std::vector<std::pair<std::string, std::string>>* headers);
  std::optional<OAuth2Config> oauth2_;
  ClientFactory factory_;
  std::unique_ptr<HttpClient> token_client_;
  std::optional<FileSecret> client_secret_file_;
  std::mutex mu_;            // the token: a client's requests may come from more than one thread
  std::string token_;        // "Bearer abc"
  absl::Time token_expiry_;  // InfiniteFuture when the server gave none
};

}  // namespace sluice
