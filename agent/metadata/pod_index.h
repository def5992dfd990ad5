// PodIndex: the pods a discovery component knows, and the targets it exports from them.
//
// Three things beyond Alloy's "one refresh, one target list":
//  - A pod that leaves the list keeps its targets for a grace period, so that lines written as it
//    stops (and read a little later) still carry its metadata.
//  - Pod log directories (<pods dir>/<namespace>_<pod>_<uid>/<container>/) are observed: a
//    directory whose uid no target covers asks for a refresh at once (a new pod), and once it has
//    waited `unknown_pod_wait` without metadata it gets a target built from its path alone
//    (namespace, pod name, uid, container), so its lines are never dropped for lack of metadata.
//    When the pod becomes known, the target's labels become the full ones (same file, same
//    position). A directory whose pod was once covered never falls back (its files were read under
//    the pod's labels; a second target would read them again).
//  - Static pods: the directory carries the static pod's uid, which the API server's mirror pod
//    names in its kubernetes.io/config.mirror annotation (the kubelet's own view shows it as the
//    uid and in kubernetes.io/config.hash): all three cover the directory.
//
// Owned by a PodDiscovery; used on the tail thread only. Time comes from the caller (tests pass a
// fake clock's time).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "agent/metadata/pod.h"
#include "agent/pipeline/labels.h"

namespace sluice::metadata {

// One pod log directory and its container directories.
struct PodDir {
  std::string ns;
  std::string pod;
  std::string uid;
  std::vector<std::string> containers;  // sorted
  bool operator==(const PodDir&) const = default;
};

// The directories under `pods_dir` named <namespace>_<pod>_<uid> (names never hold '_'), with
// their container subdirectories. Missing directory: empty.
std::vector<PodDir> ScanPodDirs(const std::string& pods_dir);

struct PodIndexOptions {
  TargetFlavor flavor = TargetFlavor::kKubelet;
  absl::Duration grace_period = absl::Minutes(1);
  absl::Duration unknown_pod_wait = absl::Seconds(10);
  // Directories in these namespaces may fall back to path labels (empty: all). A component that
  // selects pods by label or by a field other than the node cannot tell whether an unknown pod
  // would have been selected: it sets fallback = false.
  std::vector<std::string> fallback_namespaces;
  bool fallback = true;
};

class PodIndex {
 public:
  explicit PodIndex(PodIndexOptions options) : options_(std::move(options)) {}

  // The pods of a successful refresh (already restricted to what the component selects).
  // `extra`: labels for every target (attach_metadata), may be null.
  void Update(std::vector<Pod> pods, const LabelSet* extra, absl::Time now);
  // attach_metadata { namespace = true }: the labels of each namespace's targets (its
  // __meta_kubernetes_namespace_label_* and the like), by namespace name; path-only targets get
  // them too. A namespace missing from the map adds nothing.
  void SetNamespaceLabels(std::map<std::string, LabelSet> labels) {
    namespace_labels_ = std::move(labels);
  }
  // The pod directories now on disk. True when one of them is new and no target covers it (the
  // caller refreshes at once).
  bool SetDirs(std::vector<PodDir> dirs, absl::Time now);

  // Current pods, pods within their grace period, and path-only targets of directories that
  // waited long enough. Sorted by pod namespace and name for a stable order.
  std::vector<LabelSet> Targets(absl::Time now);
  // When Targets() next changes with time alone (a grace period or a wait ends), if ever.
  std::optional<absl::Time> NextChange(absl::Time now) const;

  size_t pods() const { return current_.size(); }
  // Containers that went out with path labels (each counted once).
  uint64_t path_only_targets() const { return path_only_targets_; }

 private:
  struct Departed {
    Pod pod;
    absl::Time until;
  };
  struct DirState {
    PodDir dir;
    absl::Time first_seen;
    bool covered_once = false;
    bool counted = false;  // its path-only targets were counted
  };
  bool Covered(const std::string& uid) const { return covering_uids_.contains(uid); }
  void RecomputeCovering(absl::Time now);

  PodIndexOptions options_;
  std::map<std::string, Pod> current_;  // by uid
  std::map<std::string, Departed> departed_;
  LabelSet extra_;
  bool have_extra_ = false;
  std::map<std::string, LabelSet> namespace_labels_;
  std::map<std::string, DirState> dirs_;  // by uid
  absl::flat_hash_set<std::string> covering_uids_;
  uint64_t path_only_targets_ = 0;
};

}  // namespace sluice::metadata
