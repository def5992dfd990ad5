#include "agent/discovery/dir_watcher.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include <cstring>

#include "agent/common/log.h"

namespace sluice {

namespace {
constexpr uint32_t kMask =
    IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_ONLYDIR;
}

DirWatcher::DirWatcher(boost::asio::io_context* io, absl::Duration debounce, size_t max_watches,
                       std::function<void()> changed)
    : debounce_(debounce),
      max_watches_(max_watches),
      changed_(std::move(changed)),
      inotify_(io),
      timer_(*io) {}

DirWatcher::~DirWatcher() {
  timer_.cancel();
  // inotify_ closes its descriptor: a pending wait completes with operation_aborted.
}

void DirWatcher::Open() {
  if (inotify_.is_open()) return;
  if (!inotify_.Open()) {
    LogWarn("discovery", "inotify unavailable; new files are found at the next sync",
            {{"error", std::strerror(errno)}});
    return;
  }
  Arm();
}

void DirWatcher::SetRoots(std::vector<Root> roots) {
  roots_ = std::move(roots);
  Open();
  Refresh();
}

void DirWatcher::Refresh() {
  if (!inotify_.is_open()) return;
  for (const Root& r : roots_) AddTree(r.dir, 0, r.max_depth);
}

void DirWatcher::AddTree(const std::string& dir, int depth, int max_depth) {
  if (!by_dir_.contains(dir)) {
    if (by_wd_.size() >= max_watches_) {
      if (!limit_logged_) {
        LogWarn("discovery", "directory watch limit reached; the rest is found by the sync",
                {{"dir", dir}});
        limit_logged_ = true;
      }
      return;
    }
    int wd = inotify_.AddWatch(dir.c_str(), kMask);
    if (wd < 0) return;  // gone, not a directory, or no watches left: the sync covers it
    auto key = by_dir_.emplace(dir, wd).first;
    by_wd_[wd] = Watch{&key->first, depth, max_depth};
  }
  if (max_depth >= 0 && depth >= max_depth) return;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> subdirs;
  while (dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    std::string path = dir == "/" ? "/" + std::string(e->d_name) : dir + "/" + e->d_name;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN || e->d_type == DT_LNK) {
      struct stat st;
      is_dir = ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir) subdirs.push_back(std::move(path));
  }
  closedir(d);
  // Depth bounded by the pattern (or by kMaxDepth for **): symlink loops end there.
  constexpr int kMaxDepth = 16;
  if (depth + 1 > kMaxDepth) return;
  for (const std::string& sub : subdirs) AddTree(sub, depth + 1, max_depth);
}

void DirWatcher::Arm() {
  std::weak_ptr<int> alive = alive_;
  inotify_.WaitReadable([this, alive](const boost::system::error_code& ec) {
    if (ec || alive.expired()) return;
    OnReadable();
    Arm();
  });
}

void DirWatcher::OnReadable() {
  bool any = false;
  inotify_.ReadEvents([&](const inotify_event& ev, std::string_view name) {
    any = true;
    auto it = by_wd_.find(ev.wd);
    if (ev.mask & IN_IGNORED) {
      if (it != by_wd_.end()) {
        auto key = by_dir_.find(*it->second.dir);
        by_wd_.erase(it);
        by_dir_.erase(key);
      }
      return;
    }
    if (it == by_wd_.end() || name.empty()) return;
    if ((ev.mask & IN_ISDIR) && (ev.mask & (IN_CREATE | IN_MOVED_TO))) {
      Watch w = it->second;
      std::string sub = *w.dir + "/" + std::string(name);
      if (w.max_depth < 0 || w.depth < w.max_depth) AddTree(sub, w.depth + 1, w.max_depth);
    }
  });
  if (any) Fire();
}

void DirWatcher::Fire() {
  if (timer_armed_) return;
  timer_armed_ = true;
  timer_.expires_after(absl::ToChronoNanoseconds(debounce_));
  std::weak_ptr<int> alive = alive_;
  timer_.async_wait([this, alive](const boost::system::error_code& ec) {
    if (ec || alive.expired()) return;
    timer_armed_ = false;
    changed_();
  });
}

}  // namespace sluice
