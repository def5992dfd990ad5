// Nodes as the API server describes them, and the target discovery.kubernetes role "node" builds
// from one (Prometheus' node role, which Alloy wraps).
//
// A node's target: `__address__` = its first address in the order InternalIP, InternalDNS,
// ExternalIP, ExternalDNS, LegacyHostIP, Hostname, joined with the kubelet's port
// (status.daemonEndpoints.kubeletEndpoint.Port) as Go's net.JoinHostPort does (IPv6 bracketed);
// `instance` = the node's name; `__meta_kubernetes_node_address_<type>` = the first address of
// each type; `__meta_kubernetes_node_name`, `_node_provider_id`, `_node_condition_<type>`
// (lower-cased status), `_node_label_*`/`_labelpresent_*`, `_node_annotation_*`/
// `_annotationpresent_*`. A node with no address has no target.
//
// Plain values and pure functions; used on whichever thread fetched the nodes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "agent/metadata/kube_object.h"
#include "agent/pipeline/labels.h"

namespace sluice::metadata {

struct Node {
  ObjectMeta meta;
  std::string provider_id;  // spec.providerID
  struct Address {
    std::string type;  // InternalIP, ExternalIP, Hostname, ...
    std::string address;
  };
  std::vector<Address> addresses;  // status.addresses, in order
  struct Condition {
    std::string type;    // Ready, MemoryPressure, ...
    std::string status;  // True, False, Unknown
  };
  std::vector<Condition> conditions;  // status.conditions
  int64_t kubelet_port = 0;           // status.daemonEndpoints.kubeletEndpoint.Port
};

// A v1 NodeList / one line of a node watch stream (see kube_object.h).
absl::Status ParseKubeList(std::string_view json, std::vector<Node>* out,
                           std::string* resource_version);
absl::Status ParseKubeWatchEvent(std::string_view json, KubeWatchEvent<Node>* out);
inline const std::string& KubeKey(const Node& n) { return n.meta.name; }

// The node's address as Prometheus picks it (the order above), nullopt without one.
std::optional<std::string> NodeAddress(const Node& node);

// The node's target, as Alloy exports it; nullopt for a node without any address.
std::optional<LabelSet> NodeTarget(const Node& node);

}  // namespace sluice::metadata
