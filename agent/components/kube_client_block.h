// Alloy's kubernetes.ClientArguments: the optional `client` block of components that talk to the
// API server (loki.source.kubernetes_events; remote.kubernetes.* decodes the same keys):
// api_server or kubeconfig_file (not both), and the HTTP client options (bearer_token[_file],
// basic_auth, authorization, oauth2, tls_config, proxy_url & co, follow_redirects, enable_http2).
// Without api_server and kubeconfig_file: the in-cluster service and service account, as
// client-go's in-cluster configuration (`sluice validate` assumes kValidateApiServer outside a
// cluster).
//
// Loading thread; pure function of the block and the environment.
#pragma once

#include "agent/config/decode.h"
#include "agent/metadata/kube_watch.h"

namespace sluice {

// Decodes `d`'s optional `client` block into `*out`. False with diagnostics on error.
bool DecodeKubeClientBlock(config::Decoder& d, const config::Block& args, bool validate_only,
                           config::Diags* diags, metadata::KubeEndpoint* out);

}  // namespace sluice
