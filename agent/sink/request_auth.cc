#include "agent/sink/request_auth.h"

#include <simdjson.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/common/strings.h"
#include "agent/go/strconv.h"
#include "agent/sink/asio_http_client.h"
#include "agent/sink/http_client.h"
#include "agent/sink/loki_sink.h"

namespace sluice {

RequestAuth::~RequestAuth() = default;

RequestAuth::RequestAuth(std::optional<BasicAuthConfig> basic_auth,
                         std::optional<AuthorizationConfig> authorization,
                         std::optional<OAuth2Config> oauth2, ClientFactory factory)
    : basic_auth_(std::move(basic_auth)),
      authorization_(std::move(authorization)),
      oauth2_(std::move(oauth2)),
      factory_(std::move(factory)) {
  if (oauth2_ && !oauth2_->client_secret_file.empty()) {
    client_secret_file_.emplace(oauth2_->client_secret_file);
  }
  if (basic_auth_ && !basic_auth_->password_file.empty()) {
    password_file_.emplace(basic_auth_->password_file);
  }
  if (authorization_ && !authorization_->credentials_file.empty()) {
    credentials_file_.emplace(authorization_->credentials_file);
  }
}

absl::Status RequestAuth::Apply(std::vector<std::pair<std::string, std::string>>* headers) {
  for (const auto& [k, v] : *headers) {
    if (absl::EqualsIgnoreCase(Av(k), "Authorization")) return absl::OkStatus();
  }
  if (basic_auth_) {
    std::string_view password = basic_auth_->password;
    if (password_file_) {
      absl::StatusOr<std::string_view> p = password_file_->Get();
      if (!p.ok()) {
        return absl::UnavailableError(
            absl::StrCat("unable to read basic auth password: ", p.status().message()));
      }
      password = *p;
    }
    std::string encoded =
        absl::Base64Escape(absl::StrCat(basic_auth_->username, ":", Av(password)));
    headers->emplace_back("Authorization", absl::StrCat("Basic ", encoded));
  } else if (authorization_) {
    std::string_view credentials = authorization_->credentials;
    if (credentials_file_) {
      absl::StatusOr<std::string_view> c = credentials_file_->Get();
      if (!c.ok()) {
        return absl::UnavailableError(
            absl::StrCat("unable to read authorization credentials: ", c.status().message()));
      }
      credentials = *c;
    }
    headers->emplace_back("Authorization",
                          absl::StrCat(authorization_->type, " ", Av(credentials)));
  } else if (oauth2_) {
    return OAuth2Header(headers);
  }
  return absl::OkStatus();
}

absl::Status RequestAuth::OAuth2Header(std::vector<std::pair<std::string, std::string>>* headers) {
  std::lock_guard<std::mutex> lock(mu_);
  if (token_.empty() || absl::Now() >= token_expiry_) {
    std::string_view secret = oauth2_->client_secret;
    if (client_secret_file_) {
      absl::StatusOr<std::string_view> s = client_secret_file_->Get();
      if (!s.ok()) {
        return absl::UnavailableError(
            absl::StrCat("unable to read oauth2 client secret: ", s.status().message()));
      }
      secret = *s;
    }
    if (token_client_ == nullptr) {
      HttpClientConfig c;
      if (oauth2_->tls_config) c.tls = *oauth2_->tls_config;
      c.proxy = oauth2_->proxy;
      token_client_ = factory_ ? factory_(c) : NewHttpClient(HttpClientOptionsFromEndpoint(c));
    }
    std::string body = "grant_type=client_credentials";
    if (!oauth2_->scopes.empty()) {
      absl::StrAppend(&body, "&scope=", GoQueryEscape(absl::StrJoin(oauth2_->scopes, " ")));
    }
    for (const auto& [k, v] : oauth2_->endpoint_params) {
      absl::StrAppend(&body, "&", GoQueryEscape(k), "=", GoQueryEscape(v));
    }
    HttpRequest req;
    req.url = oauth2_->token_url;
    req.body = body;
    req.headers = {
        {"Content-Type", "application/x-www-form-urlencoded"},
        {"Authorization",
         absl::StrCat("Basic ", absl::Base64Escape(absl::StrCat(GoQueryEscape(oauth2_->client_id),
                                                                ":", GoQueryEscape(secret))))}};
    absl::StatusOr<HttpResponse> resp = token_client_->Post(req);
    if (!resp.ok()) {
      return absl::UnavailableError(
          absl::StrCat("oauth2: cannot fetch token: ", resp.status().message()));
    }
    if (resp->status < 200 || resp->status > 299) {
      return absl::UnavailableError(absl::StrCat("oauth2: cannot fetch token: ", resp->status,
                                                 "\nResponse: ", resp->body.substr(0, 200)));
    }
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::string_view access, type;
    int64_t expires = 0;
    if (parser.parse(resp->body).get(doc) != simdjson::SUCCESS ||
        doc["access_token"].get_string().get(access) != simdjson::SUCCESS || access.empty()) {
      return absl::UnavailableError("oauth2: server response missing access_token");
    }
    if (doc["token_type"].get_string().get(type) != simdjson::SUCCESS || type.empty() ||
        absl::EqualsIgnoreCase(Av(type), "bearer")) {
      type = "Bearer";
    }
    if (doc["expires_in"].get_int64().get(expires) != simdjson::SUCCESS) expires = 0;
    token_ = absl::StrCat(Av(type), " ", Av(access));
    // golang.org/x/oauth2 treats a token as expired 10 s early.
    token_expiry_ =
        expires > 0 ? absl::Now() + absl::Seconds(expires - 10) : absl::InfiniteFuture();
  }
  headers->emplace_back("Authorization", token_);
  return absl::OkStatus();
}

}  // namespace sluice
