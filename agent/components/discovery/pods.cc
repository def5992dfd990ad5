#include "agent/components/discovery/pods.h"

#include <cstdlib>
#include <type_traits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"

namespace sluice {
namespace {

// A discovery component run by a PodDiscovery or a NodeDiscovery: its targets become the
// `targets` export.
template <class Discovery>
class KubeDiscoveryComponent final : public Component {
 public:
  template <class Options>
  KubeDiscoveryComponent(const std::string& id, ComponentEnv* env, Options o) : Component(id) {
    std::string own = id;
    auto publish = [env, own](std::vector<LabelSet> targets) {
      config::Object exports;
      exports["targets"] = TargetsToValue(std::move(targets));
      env->Export(own, std::move(exports));
      env->exports_changed(own);
    };
    if constexpr (std::is_same_v<Discovery, metadata::PodDiscovery>) {
      discovery_ = std::make_unique<Discovery>(env->io, std::move(o), env->clock, env->metrics,
                                               std::move(publish));
    } else {
      discovery_ =
          std::make_unique<Discovery>(env->io, std::move(o), env->metrics, std::move(publish));
    }
    config::Object exports;
    exports["targets"] = TargetsToValue({});
    env->Export(id, std::move(exports));
  }

  // Its arguments name no other component's exports in practice; a change of them (a
  // re-evaluation with other values) takes effect at the next reload.
  bool Update(const config::Block&, config::Diags*) override { return true; }
  bool UpdatesInPlace() const override { return false; }
  absl::Status Start() override {
    discovery_->Start();
    return absl::OkStatus();
  }
  void StopReading() override { discovery_->Stop(); }
  std::optional<std::string> Degraded() const override { return discovery_->Unhealthy(); }

 private:
  std::unique_ptr<Discovery> discovery_;
};

}  // namespace

std::unique_ptr<Component> MakePodsComponent(const config::Component& c, ComponentEnv& env,
                                             metadata::PodDiscoveryOptions o) {
  o.component_id = c.id;
  o.pods_dir = env.options->pods_dir;
  o.index.grace_period = env.options->pod_grace_period;
  o.index.unknown_pod_wait = env.options->unknown_pod_wait;
  return std::make_unique<KubeDiscoveryComponent<metadata::PodDiscovery>>(c.id, &env, std::move(o));
}

std::unique_ptr<Component> MakeNodesComponent(const config::Component& c, ComponentEnv& env,
                                              metadata::NodeDiscoveryOptions o) {
  o.component_id = c.id;
  return std::make_unique<KubeDiscoveryComponent<metadata::NodeDiscovery>>(c.id, &env,
                                                                           std::move(o));
}

std::string EnvVar(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

bool CheckHttpUrl(config::Decoder& d, std::string_view attr, std::string* url) {
  if (auto parse = GoUrlParseError(*url)) {
    d.ErrorAt(attr, *parse);
    return false;
  }
  if (!absl::StartsWith(Av(*url), "http://") && !absl::StartsWith(Av(*url), "https://")) {
    d.ErrorAt(attr, absl::StrCat("sluice: ", Av(attr), " \"", Av(*url),
                                 "\" must start with http:// or https://"));
    return false;
  }
  while (!url->empty() && url->back() == '/') url->pop_back();
  return true;
}

HttpClientConfig InClusterHttp() {
  HttpClientConfig h;
  h.authorization = AuthorizationConfig{"Bearer", "", absl::StrCat(kServiceAccountDir, "/token")};
  h.tls.ca_file = absl::StrCat(kServiceAccountDir, "/ca.crt");
  return h;
}

absl::StatusOr<std::string> InClusterApiServer(HttpClientConfig* http) {
  std::string host = EnvVar("KUBERNETES_SERVICE_HOST");
  std::string port = EnvVar("KUBERNETES_SERVICE_PORT");
  if (host.empty()) {
    return absl::InvalidArgumentError(
        "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and "
        "KUBERNETES_SERVICE_PORT must be defined");
  }
  if (host.find(':') != std::string::npos) host = absl::StrCat("[", host, "]");
  HttpClientConfig in_cluster = InClusterHttp();
  if (!http->authorization && !http->basic_auth && !http->oauth2) {
    http->authorization = in_cluster.authorization;
  }
  if (http->tls.ca_file.empty() && http->tls.ca_pem.empty())
    http->tls.ca_file = in_cluster.tls.ca_file;
  return absl::StrCat("https://", host, ":", port.empty() ? "443" : port);
}

}  // namespace sluice
