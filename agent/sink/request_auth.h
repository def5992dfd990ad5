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

#include "absl/status/status.h"
#include "agent/sink/endpoint_config.h"
#include "agent/sink/file_secret.h"

namespace sluice {

class RequestAuth {
 public:
  RequestAuth(std::optional<BasicAuthConfig> basic_auth,
              std::optional<AuthorizationConfig> authorization);

  // Appends the Authorization header, unless `headers` already holds one (a configured header
  // takes the place of the configured auth, as in Alloy). Unavailable, naming the file but never
  // its content, when a credentials file cannot be read.
  absl::Status Apply(std::vector<std::pair<std::string, std::string>>* headers);

 private:
  std::optional<BasicAuthConfig> basic_auth_;
  std::optional<AuthorizationConfig> authorization_;
  std::optional<FileSecret> password_file_;     // basic_auth password_file
  std::optional<FileSecret> credentials_file_;  // authorization credentials_file
};

}  // namespace sluice
