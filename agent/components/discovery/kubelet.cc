// discovery.kubelet: the node's pods from the kubelet's /pods endpoint, as targets with
// Alloy's __meta_kubernetes_* labels (one per container port, or per container without one).
#include "agent/components/discovery/pods.h"

namespace sluice {

std::unique_ptr<Component> BuildDiscoveryKubelet(const config::Component& c,
                                                 const config::Block& args, ComponentEnv& env,
                                                 config::Diags* diags) {
  config::Decoder d(args, diags);
  metadata::PodDiscoveryOptions o;
  metadata::KubeEndpoint kubelet;
  kubelet.base_url = "https://localhost:10250";
  bool has_url = d.String("url", &kubelet.base_url);
  d.Duration("refresh_interval", &o.refresh_interval);
  d.StringList("namespaces", &o.namespaces);
  std::optional<std::string> client_error = DecodeHttpClientConfig(d, &kubelet.http);
  if (!d.Finish()) return nullptr;
  if (client_error) {
    diags->Add(args.span, *client_error);
    return nullptr;
  }
  if (has_url && !CheckHttpUrl(d, "url", &kubelet.base_url)) return nullptr;
  if (o.refresh_interval <= absl::ZeroDuration()) {
    diags->Add(args.span, "refresh_interval must be greater than 0");
    return nullptr;
  }
  // The CA and token files are read at each request: one missing now (a volume not mounted yet,
  // a config validated off the cluster) shows as refresh errors, retried, not as a load failure.
  o.kubelet = std::move(kubelet);
  o.index.flavor = metadata::TargetFlavor::kKubelet;
  o.index.fallback_namespaces = o.namespaces;
  return MakePodsComponent(c, env, std::move(o));
}

}  // namespace sluice
