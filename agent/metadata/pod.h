// Pods as the kubelet's /pods and the API server describe them, and the discovery targets Alloy
// builds from them.
//
// Only the fields discovery labels and selectors use are kept. ParsePodList/ParseWatchEvent read
// v1 PodList / WatchEvent JSON (kube_object.h: one parse per refresh, not per log line).
// AppendPodTargets builds Alloy's targets: discovery.kubelet's (Alloy's own code) or
// discovery.kubernetes role "pod" (Prometheus' pod role, which adds pod_ipv4/pod_ipv6 and
// brackets an IPv6 address), one per container port or per container without ports, init
// containers included, and none for a pod without an IP.
//
// Plain values and pure functions; used on whichever thread fetched the pods.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/metadata/kube_object.h"
#include "agent/pipeline/labels.h"

namespace sluice::metadata {

struct ContainerPort {
  std::string name;
  int64_t number = 0;
  std::string protocol;
};

struct Container {
  std::string name;
  std::string image;
  std::string id;  // from the container's status ("containerd://..."), "" before it has one
  bool init = false;
  std::vector<ContainerPort> ports;
};

struct Pod {
  std::string ns;
  std::string name;
  std::string uid;
  std::string resource_version;
  std::string node_name;
  std::string pod_ip;                // status.podIP; "" while starting or once evicted
  std::vector<std::string> pod_ips;  // status.podIPs
  std::string host_ip;
  std::string phase;
  std::string ready = "unknown";  // the Ready condition's status, lower-cased
  std::string controller_kind;    // the owner reference with controller: true
  std::string controller_name;
  std::vector<std::pair<std::string, std::string>> labels;       // as given (unsanitised)
  std::vector<std::pair<std::string, std::string>> annotations;  // as given
  // For field selectors served from the kubelet.
  std::string service_account;
  std::string restart_policy;
  std::string scheduler_name;
  bool host_network = false;
  std::vector<Container> containers;  // spec.containers, then spec.initContainers

  const std::string* Annotation(std::string_view key) const;
};

// Objects larger than this are refused: 110 pods of a full node are a few MB.
inline constexpr size_t kMaxPodListBytes = kMaxKubeListBytes;

// A v1 PodList (the kubelet's /pods or the API server's list). `resource_version` receives the
// list's metadata.resourceVersion when not null.
absl::StatusOr<std::vector<Pod>> ParsePodList(std::string_view json,
                                              std::string* resource_version = nullptr);

// One line of a pod watch stream.
using WatchEvent = KubeWatchEvent<Pod>;
absl::StatusOr<WatchEvent> ParseWatchEvent(std::string_view json);

// The same for the list+watch code (kube_watch.h).
absl::Status ParseKubeList(std::string_view json, std::vector<Pod>* out,
                           std::string* resource_version);
absl::Status ParseKubeWatchEvent(std::string_view json, KubeWatchEvent<Pod>* out);
// The key the API server stores a pod under: <namespace>/<name>.
inline std::string KubeKey(const Pod& p) { return p.ns + "/" + p.name; }

enum class TargetFlavor {
  kKubelet,     // discovery.kubelet
  kKubernetes,  // discovery.kubernetes, role "pod"
};

// Alloy's targets for `pod`, appended to `out`. `extra` (may be null): labels added to each
// target, for attach_metadata (node and namespace labels, see PodIndex).
void AppendPodTargets(const Pod& pod, TargetFlavor flavor, const LabelSet* extra,
                      std::vector<LabelSet>* out);

}  // namespace sluice::metadata
