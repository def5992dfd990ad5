#include "agent/components/kube_client_block.h"

#include "agent/components/discovery/pods.h"
#include "agent/metadata/kubeconfig.h"
#include "agent/sink/endpoint_config.h"

namespace sluice {

bool DecodeKubeClientBlock(config::Decoder& d, const config::Block& args, bool validate_only,
                           config::Diags* diags, metadata::KubeEndpoint* out) {
  std::string api_server;
  bool has_api = false;
  std::string kubeconfig;
  if (const config::Block* cb = d.OptionalBlock("client")) {
    config::Decoder cd(*cb, diags);
    has_api = cd.String("api_server", &api_server);
    cd.String("kubeconfig_file", &kubeconfig);
    std::optional<std::string> client_error = DecodeHttpClientConfig(cd, &out->http);
    if (!cd.Finish()) return false;
    if (client_error) {
      diags->Add(cb->span, *client_error);
      return false;
    }
    if (!kubeconfig.empty()) {
      if (has_api) {
        cd.ErrorAt("kubeconfig_file",
                   "cannot use 'kubeconfig_file' and 'api_server' simultaneously");
        return false;
      }
      absl::StatusOr<metadata::KubeEndpoint> ep = metadata::LoadKubeconfig(kubeconfig);
      if (!ep.ok()) {
        cd.ErrorAt("kubeconfig_file", std::string(ep.status().message()));
        return false;
      }
      ep->http.http_headers = out->http.http_headers;
      ep->http.proxy = out->http.proxy;
      *out = std::move(*ep);
      return true;
    }
    if (has_api) {
      if (!CheckHttpUrl(cd, "api_server", &api_server)) return false;
      out->base_url = api_server;
      return true;
    }
  }
  absl::StatusOr<std::string> base = InClusterApiServer(&out->http);
  if (!base.ok() && validate_only) base = std::string(kValidateApiServer);
  if (!base.ok()) {
    diags->Add(args.span, std::string(base.status().message()));
    return false;
  }
  out->base_url = *base;
  return true;
}

}  // namespace sluice
