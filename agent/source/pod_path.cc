#include "agent/source/pod_path.h"

namespace sluice {

bool ParsePodLogPath(std::string_view path, PodPath* out) {
  // Walk back over <file>, <container>, <ns>_<pod>_<uid>.
  size_t file_slash = path.rfind('/');
  if (file_slash == std::string_view::npos || file_slash == 0) return false;
  size_t cont_slash = path.rfind('/', file_slash - 1);
  if (cont_slash == std::string_view::npos || cont_slash == 0) return false;
  size_t pod_slash = path.rfind('/', cont_slash - 1);
  std::string_view pod_dir = pod_slash == std::string_view::npos
                                 ? path.substr(0, cont_slash)
                                 : path.substr(pod_slash + 1, cont_slash - pod_slash - 1);
  std::string_view container = path.substr(cont_slash + 1, file_slash - cont_slash - 1);
  size_t u1 = pod_dir.find('_');
  if (u1 == std::string_view::npos) return false;
  size_t u2 = pod_dir.find('_', u1 + 1);
  if (u2 == std::string_view::npos || pod_dir.find('_', u2 + 1) != std::string_view::npos) {
    return false;
  }
  if (u1 == 0 || u2 == u1 + 1 || u2 + 1 == pod_dir.size() || container.empty()) return false;
  out->namespace_name = pod_dir.substr(0, u1);
  out->pod_name = pod_dir.substr(u1 + 1, u2 - u1 - 1);
  out->pod_uid = pod_dir.substr(u2 + 1);
  out->container = container;
  return true;
}

}  // namespace sluice
