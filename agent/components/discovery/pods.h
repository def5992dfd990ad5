// The running part shared by discovery.kubelet and discovery.kubernetes: a PodDiscovery (role
// "pod", discovery.kubelet) or a NodeDiscovery (role "node") whose targets become the component's
// `targets` export, plus the URL and in-cluster credential rules both components decode their
// arguments with.
//
// Built on the loading thread; Start/StopReading on the tail thread (see component.h).
#pragma once

#include <memory>
#include <string>

#include "agent/components/component.h"
#include "agent/metadata/node_discovery.h"
#include "agent/metadata/pod_discovery.h"

namespace sluice {

// The component for `o` (its pods_dir, grace period and unknown-pod wait come from the runtime's
// options). Exports no targets until the first refresh, as Alloy.
std::unique_ptr<Component> MakePodsComponent(const config::Component& c, ComponentEnv& env,
                                             metadata::PodDiscoveryOptions o);

// discovery.kubernetes role "node" for `o`. Exports no targets until the first list, as Alloy.
std::unique_ptr<Component> MakeNodesComponent(const config::Component& c, ComponentEnv& env,
                                              metadata::NodeDiscoveryOptions o);

// Alloy's URL arguments: absolute http(s) URLs, kept without a trailing slash.
bool CheckHttpUrl(config::Decoder& d, std::string_view attr, std::string* url);

// The service account's credentials, as client-go's in-cluster configuration uses them.
HttpClientConfig InClusterHttp();
inline constexpr char kServiceAccountDir[] = "/var/run/secrets/kubernetes.io/serviceaccount";

// The in-cluster API server (client-go's in-cluster configuration): its service address, and
// the service account's token and CA where `http` has no auth or CA of its own. InvalidArgument
// with client-go's message outside a cluster.
absl::StatusOr<std::string> InClusterApiServer(HttpClientConfig* http);

// The API server `sluice validate` assumes outside a cluster.
inline constexpr char kValidateApiServer[] = "https://kubernetes.default.svc:443";

// An environment variable, "" when unset.
std::string EnvVar(const char* name);

}  // namespace sluice
