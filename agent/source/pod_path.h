// Labels derived from a log file's path.
//
// Kubernetes keeps container logs at /var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log.
// Namespaces and pod names are DNS labels/subdomains and never contain '_', so the directory
// splits unambiguously. Any other path yields only the `filename` label. Pure functions.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

struct PodPath {
  std::string_view namespace_name;
  std::string_view pod_name;
  std::string_view pod_uid;
  std::string_view container;
};

// True and fills *out (views into `path`) when `path` has the pod log layout.
bool ParsePodLogPath(std::string_view path, PodPath* out);

}  // namespace sluice
