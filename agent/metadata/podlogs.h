// PodLogs custom resources (monitoring.grafana.com/v1alpha2, Alloy's loki.source.podlogs): what
// they select and how their targets are labelled, as Alloy's podlogs reconciler does it.
//
//  - PodLogs: metadata (namespace, name, labels, annotations) and spec (selector,
//    namespaceSelector as metav1.LabelSelector; relabelings as Prometheus Operator
//    RelabelConfigs, converted to sluice's rules with Alloy's defaults), parsed from list and
//    watch JSON for KubeStore (kube_watch.h).
//  - LabelSelectorFromSpec: metav1.LabelSelector's matchLabels/matchExpressions as a
//    LabelSelector (an empty one selects everything, as LabelSelectorAsSelector).
//  - PodLogsTargets: the container targets of one PodLogs over the cluster's pods and
//    namespaces: the __meta_kubernetes_podlogs_*, _namespace_*, _pod_* labels, __pod_*__,
//    `job` = "<ns>/<podlogs>", `instance` = "<ns>/<pod>:<container>", relabelings applied;
//    targets a rule drops are left out.
//
// Plain values and pure functions; any thread.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/metadata/kube_object.h"
#include "agent/metadata/pod.h"
#include "agent/metadata/selector.h"
#include "agent/relabel/relabel.h"

namespace sluice::metadata {

struct SelectorSpec {
  StringPairs match_labels;
  struct Expression {
    std::string key;
    std::string op;  // In, NotIn, Exists, DoesNotExist
    std::vector<std::string> values;
  };
  std::vector<Expression> expressions;
};

struct PodLogs {
  std::string ns;
  std::string name;
  std::string resource_version;
  StringPairs labels;
  StringPairs annotations;
  SelectorSpec selector;
  SelectorSpec namespace_selector;
  std::vector<RelabelRule> relabelings;  // compiled
  std::string error;                     // why its relabelings or selectors are unusable
};

absl::Status ParseKubeList(std::string_view json, std::vector<PodLogs>* out,
                           std::string* resource_version);
absl::Status ParseKubeWatchEvent(std::string_view json, KubeWatchEvent<PodLogs>* out);
inline std::string KubeKey(const PodLogs& p) { return p.ns + "/" + p.name; }

// The selector `spec` describes; InvalidArgument for an unknown operator or bad values.
absl::StatusOr<LabelSelector> LabelSelectorFromSpec(const SelectorSpec& spec);

// The collection path of PodLogs (all namespaces).
inline constexpr char kPodLogsPath[] = "/apis/monitoring.grafana.com/v1alpha2/podlogs";

// Targets of `pl` over `pods` (namespaces by name, for the namespace selector and labels). Pods
// whose namespace is unknown are skipped, as Alloy skips them when the Get fails.
std::vector<LabelSet> PodLogsTargets(const PodLogs& pl, const std::vector<Pod>& pods,
                                     const std::map<std::string, ObjectMeta>& namespaces);

}  // namespace sluice::metadata
