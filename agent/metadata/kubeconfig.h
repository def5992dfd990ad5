// A kubeconfig file (`kubeconfig_file` of discovery.kubernetes and the remote.kubernetes.*
// clients), read as client-go reads one for a single context: current-context's cluster
// (server, certificate-authority[-data], insecure-skip-tls-verify, tls-server-name) and user
// (token, tokenFile, client-certificate[-data], client-key[-data], username/password).
// Relative file paths are relative to the kubeconfig's directory. Exec and auth-provider
// plugins are refused with a message (sluice runs no external credential programs).
// Pure function of the file; any thread.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "agent/metadata/pod_discovery.h"

namespace sluice::metadata {

absl::StatusOr<KubeEndpoint> LoadKubeconfig(const std::string& path);

}  // namespace sluice::metadata
