#include "agent/metadata/pod_index.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>

#include "absl/strings/str_split.h"
#include "agent/common/strings.h"

namespace sluice::metadata {
namespace {

std::vector<std::string> Subdirs(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  // Bounded: a pod has a handful of containers; a directory with thousands is not a pod's.
  while (dirent* e = readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      is_dir = stat((dir + "/" + e->d_name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir) out.emplace_back(name);
    if (out.size() >= 4096) break;
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

void AddPodTargets(const Pod& pod, TargetFlavor flavor, const LabelSet* extra,
                   std::vector<std::pair<std::string, LabelSet>>* out) {
  std::vector<LabelSet> targets;
  AppendPodTargets(pod, flavor, extra, &targets);
  std::string key = pod.ns + "/" + pod.name;
  for (LabelSet& t : targets) out->emplace_back(key, std::move(t));
}

}  // namespace

std::vector<PodDir> ScanPodDirs(const std::string& pods_dir) {
  std::vector<PodDir> out;
  for (const std::string& name : Subdirs(pods_dir)) {
    std::vector<std::string> parts = absl::StrSplit(name, '_');
    if (parts.size() != 3 || parts[0].empty() || parts[1].empty() || parts[2].empty()) continue;
    PodDir d;
    d.ns = parts[0];
    d.pod = parts[1];
    d.uid = parts[2];
    d.containers = Subdirs(pods_dir + "/" + name);
    out.push_back(std::move(d));
  }
  return out;
}

void PodIndex::Update(std::vector<Pod> pods, const LabelSet* extra, absl::Time now) {
  have_extra_ = extra != nullptr;
  if (extra != nullptr) extra_ = *extra;
  std::map<std::string, Pod> next;
  for (Pod& p : pods) {
    std::string uid = p.uid;
    departed_.erase(uid);
    next.emplace(std::move(uid), std::move(p));
  }
  for (auto& [uid, pod] : current_) {
    if (!next.contains(uid)) departed_[uid] = Departed{std::move(pod), now + options_.grace_period};
  }
  current_ = std::move(next);
  RecomputeCovering(now);
}

void PodIndex::RecomputeCovering(absl::Time now) {
  covering_uids_.clear();
  auto cover = [this](const Pod& p) {
    if (p.pod_ip.empty()) return;  // no targets: covers nothing
    covering_uids_.insert(p.uid);
    for (const char* key : {"kubernetes.io/config.mirror", "kubernetes.io/config.hash"}) {
      if (const std::string* v = p.Annotation(key)) covering_uids_.insert(*v);
    }
  };
  for (const auto& [uid, p] : current_) cover(p);
  for (const auto& [uid, d] : departed_) {
    if (d.until > now) cover(d.pod);
  }
  for (auto& [uid, st] : dirs_) {
    if (Covered(uid)) st.covered_once = true;
  }
}

bool PodIndex::SetDirs(std::vector<PodDir> dirs, absl::Time now) {
  bool unknown_new = false;
  std::map<std::string, DirState> next;
  for (PodDir& d : dirs) {
    std::string uid = d.uid;
    auto it = dirs_.find(uid);
    DirState st;
    if (it != dirs_.end()) {
      st = std::move(it->second);
    } else {
      st.first_seen = now;
      if (!Covered(uid)) unknown_new = true;
    }
    st.dir = std::move(d);
    if (Covered(uid)) st.covered_once = true;
    next.emplace(std::move(uid), std::move(st));
  }
  dirs_ = std::move(next);
  return unknown_new;
}

std::vector<LabelSet> PodIndex::Targets(absl::Time now) {
  for (auto it = departed_.begin(); it != departed_.end();) {
    it = it->second.until <= now ? departed_.erase(it) : std::next(it);
  }
  RecomputeCovering(now);
  // The labels attach_metadata adds to a target in namespace `ns`: the node's and the
  // namespace's (they never share a name), merged once per namespace.
  std::map<std::string, LabelSet> merged;
  auto extra = [&](const std::string& ns) -> const LabelSet* {
    auto it = namespace_labels_.find(ns);
    if (it == namespace_labels_.end()) return have_extra_ ? &extra_ : nullptr;
    if (!have_extra_) return &it->second;
    auto [m, fresh] = merged.try_emplace(ns, extra_);
    if (fresh) {
      for (const auto& [k, v] : it->second.labels()) m->second.Set(k, v);
    }
    return &m->second;
  };
  std::vector<std::pair<std::string, LabelSet>> keyed;
  for (const auto& [uid, p] : current_) AddPodTargets(p, options_.flavor, extra(p.ns), &keyed);
  for (const auto& [uid, d] : departed_) {
    AddPodTargets(d.pod, options_.flavor, extra(d.pod.ns), &keyed);
  }
  if (options_.fallback) {
    for (auto& [uid, st] : dirs_) {
      if (st.covered_once || now - st.first_seen < options_.unknown_pod_wait) continue;
      const auto& allowed = options_.fallback_namespaces;
      if (!allowed.empty() &&
          std::find(allowed.begin(), allowed.end(), st.dir.ns) == allowed.end()) {
        continue;
      }
      auto ns_labels = namespace_labels_.find(st.dir.ns);
      for (const std::string& c : st.dir.containers) {
        LabelSet t;
        // The namespace's own labels when they are attached: the path names the namespace.
        if (ns_labels != namespace_labels_.end()) t = ns_labels->second;
        t.Set("__meta_kubernetes_namespace", st.dir.ns);
        t.Set("__meta_kubernetes_pod_name", st.dir.pod);
        t.Set("__meta_kubernetes_pod_uid", st.dir.uid);
        t.Set("__meta_kubernetes_pod_container_name", c);
        keyed.emplace_back(st.dir.ns + "/" + st.dir.pod, std::move(t));
      }
      if (!st.counted) {
        st.counted = true;
        path_only_targets_ += st.dir.containers.size();
      }
    }
  }
  std::stable_sort(keyed.begin(), keyed.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<LabelSet> out;
  out.reserve(keyed.size());
  for (auto& [k, t] : keyed) out.push_back(std::move(t));
  return out;
}

std::optional<absl::Time> PodIndex::NextChange(absl::Time now) const {
  std::optional<absl::Time> next;
  auto consider = [&](absl::Time t) {
    if (t > now && (!next || t < *next)) next = t;
  };
  for (const auto& [uid, d] : departed_) consider(d.until);
  if (options_.fallback) {
    for (const auto& [uid, st] : dirs_) {
      if (!st.covered_once && !Covered(uid)) consider(st.first_seen + options_.unknown_pod_wait);
    }
  }
  return next;
}

}  // namespace sluice::metadata
