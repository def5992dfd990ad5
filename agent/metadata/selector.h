// Kubernetes label and field selectors, evaluated against pods: what the API server does with
// `labelSelector=` and `fieldSelector=`, done by sluice when discovery.kubernetes is served from
// the kubelet (whose /pods takes no selectors). Node selectors are only checked (their fields).
//
// Plain values; parsed when the configuration is loaded, evaluated on the discovery thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/metadata/pod.h"

namespace sluice::metadata {

// `a=b,c!=d,e,!f,g in (x,y),h notin (z)`: every requirement must hold.
class LabelSelector {
 public:
  static absl::StatusOr<LabelSelector> Parse(std::string_view text);
  bool Matches(const std::vector<std::pair<std::string, std::string>>& labels) const;
  bool empty() const { return reqs_.empty(); }

 private:
  enum class Op { kEquals, kNotEquals, kExists, kNotExists, kIn, kNotIn };
  struct Req {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };
  std::vector<Req> reqs_;
};

// What a field selector selects: the fields the API server accepts differ.
enum class SelectorObject {
  kPod,   // metadata.name, metadata.namespace, spec.nodeName, status.phase, ...
  kNode,  // metadata.name, spec.unschedulable
};

// `spec.nodeName=n,status.phase!=Succeeded`: the fields the API server can select on.
class FieldSelector {
 public:
  static absl::StatusOr<FieldSelector> Parse(std::string_view text,
                                             SelectorObject object = SelectorObject::kPod);
  // For a pod selector (a node selector is only ever sent to the API server).
  bool Matches(const Pod& pod) const;
  bool empty() const { return reqs_.empty(); }
  // The node the selector restricts pods to (`spec.nodeName=<n>`), if it does.
  std::optional<std::string> NodeName() const;

 private:
  struct Req {
    std::string field;
    bool equals;
    std::string value;
  };
  std::vector<Req> reqs_;
};

}  // namespace sluice::metadata
