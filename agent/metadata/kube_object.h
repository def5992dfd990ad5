// What every Kubernetes object sluice reads shares: its metadata, the list and watch-event
// envelopes the API server wraps objects in, and Prometheus' rules for turning labels and
// annotations into `__meta_kubernetes_<role>_*` target labels.
//
// The envelopes are parsed by overloads of ParseKubeList / ParseKubeWatchEvent, one per object
// type (Pod in pod.h, Node in node.h, ObjectMeta here for namespaces), so that the list+watch code
// (kube_watch.h) is written once for all of them.
//
// Plain values and pure functions; used on whichever thread fetched the objects.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/pipeline/labels.h"

namespace sluice::metadata {

// Objects larger than this are refused: 110 pods of a full node are a few MB, and a watch event
// is one object.
inline constexpr size_t kMaxKubeListBytes = 64 << 20;

using StringPairs = std::vector<std::pair<std::string, std::string>>;

// Metadata of an object: all sluice reads of a Namespace, and the part of a Node's labels that
// attach_metadata adds to pods.
struct ObjectMeta {
  std::string name;
  StringPairs labels;       // sorted by key, as given (unsanitised)
  StringPairs annotations;  // likewise
};

// One line of a watch stream: {"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": ...}.
template <class T>
struct KubeWatchEvent {
  std::string type;
  T object;                      // ADDED, MODIFIED, DELETED
  std::string resource_version;  // of the object (BOOKMARK: the only field set)
  int64_t code = 0;              // ERROR: the Status object's code (410: resource version gone)
  std::string message;           // ERROR: its message
};

// A v1 NamespaceList into `out`; `resource_version` (may be null) receives the list's
// metadata.resourceVersion.
absl::Status ParseKubeList(std::string_view json, std::vector<ObjectMeta>* out,
                           std::string* resource_version);
absl::Status ParseKubeWatchEvent(std::string_view json, KubeWatchEvent<ObjectMeta>* out);
// The key the API server stores a cluster-scoped object under: its name.
inline const std::string& KubeKey(const ObjectMeta& m) { return m.name; }

// One object's metadata (a GET of a Node or a Namespace).
absl::StatusOr<ObjectMeta> ParseObjectMeta(std::string_view json);

// Prometheus' strutil.SanitizeLabelName: every character outside [a-zA-Z0-9_] becomes '_'.
std::string SanitizeLabelName(std::string_view name);

// `__meta_kubernetes_<role>_label_<n>`, `_labelpresent_<n>`, `_annotation_<n>`,
// `_annotationpresent_<n>` for an object of `role` ("pod", "node", "namespace").
void AddObjectMetaLabels(std::string_view role, const StringPairs& labels,
                         const StringPairs& annotations, LabelSet* out);

// The labels attach_metadata { namespace = true } adds to a target of a pod in namespace `ns`:
// `__meta_kubernetes_namespace_label_*`/`_labelpresent_*`/`_annotation_*`/`_annotationpresent_*`
// (not the name: the target has `__meta_kubernetes_namespace` already).
LabelSet NamespaceMetaLabels(const ObjectMeta& ns);

}  // namespace sluice::metadata
