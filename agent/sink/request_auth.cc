#include "agent/sink/request_auth.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"

namespace sluice {

RequestAuth::RequestAuth(std::optional<BasicAuthConfig> basic_auth,
                         std::optional<AuthorizationConfig> authorization)
    : basic_auth_(std::move(basic_auth)), authorization_(std::move(authorization)) {
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
  }
  return absl::OkStatus();
}

}  // namespace sluice
