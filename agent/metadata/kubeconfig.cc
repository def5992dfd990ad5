#include "agent/metadata/kubeconfig.h"

#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "agent/common/files.h"
#include "agent/common/yaml_doc.h"

namespace sluice::metadata {

absl::StatusOr<KubeEndpoint> LoadKubeconfig(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileLimited(path, 4 << 20);
  if (!text.ok()) return text.status();
  YamlDoc doc;
  if (absl::Status st = doc.Load(*text); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("kubeconfig ", path, ": ", st.message()));
  }
  yaml_node_t* root = doc.Root();
  std::string context = doc.Str(root, "current-context");
  if (context.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("kubeconfig ", path, ": no current-context"));
  }
  yaml_node_t* ctx = doc.Named(root, "contexts", context, "context");
  if (ctx == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig ", path, ": context \"", context, "\" not found"));
  }
  std::string cluster_name = doc.Str(ctx, "cluster"), user_name = doc.Str(ctx, "user");
  yaml_node_t* cluster = doc.Named(root, "clusters", cluster_name, "cluster");
  if (cluster == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig ", path, ": cluster \"", cluster_name, "\" not found"));
  }
  yaml_node_t* user = doc.Named(root, "users", user_name, "user");
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  auto rel = [&dir](std::string p) {
    return p.empty() || p[0] == '/' ? p : absl::StrCat(dir, "/", p);
  };
  auto data = [&](yaml_node_t* m, const char* key, std::string* out) -> absl::Status {
    std::string b64 = doc.Str(m, key);
    if (b64.empty()) return absl::OkStatus();
    if (!absl::Base64Unescape(b64, out)) {
      return absl::InvalidArgumentError(
          absl::StrCat("kubeconfig ", path, ": ", key, " is not base64"));
    }
    return absl::OkStatus();
  };
  KubeEndpoint ep;
  ep.base_url = doc.Str(cluster, "server");
  while (!ep.base_url.empty() && ep.base_url.back() == '/') ep.base_url.pop_back();
  if (ep.base_url.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig ", path, ": cluster \"", cluster_name, "\" has no server"));
  }
  TlsConfig& tls = ep.http.tls;
  tls.ca_file = rel(doc.Str(cluster, "certificate-authority"));
  if (absl::Status st = data(cluster, "certificate-authority-data", &tls.ca_pem); !st.ok())
    return st;
  tls.insecure_skip_verify = doc.Str(cluster, "insecure-skip-tls-verify") == "true";
  tls.server_name = doc.Str(cluster, "tls-server-name");
  if (user != nullptr) {
    if (doc.Get(user, "exec") != nullptr || doc.Get(user, "auth-provider") != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "kubeconfig ", path, ": user \"", user_name,
          "\" uses an exec or auth-provider plugin, which sluice does not run; use a token, "
          "tokenFile or client certificate"));
    }
    tls.cert_file = rel(doc.Str(user, "client-certificate"));
    tls.key_file = rel(doc.Str(user, "client-key"));
    if (absl::Status st = data(user, "client-certificate-data", &tls.cert_pem); !st.ok()) return st;
    if (absl::Status st = data(user, "client-key-data", &tls.key_pem); !st.ok()) return st;
    std::string token = doc.Str(user, "token"), token_file = rel(doc.Str(user, "tokenFile"));
    if (!token.empty() || !token_file.empty()) {
      ep.http.authorization = AuthorizationConfig{"Bearer", token, token.empty() ? token_file : ""};
    } else if (std::string u = doc.Str(user, "username"); !u.empty()) {
      ep.http.basic_auth = BasicAuthConfig{u, doc.Str(user, "password"), ""};
    }
  }
  return ep;
}

}  // namespace sluice::metadata
