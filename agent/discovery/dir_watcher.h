// DirWatcher: tells local.file_match at once when its directories change, so that a new pod's
// log file is tailed as soon as it appears rather than at the next sync_period (Alloy only
// re-globs every sync_period, 10s by default).
//
// One inotify instance watches each root directory and the directories below it down to
// `max_depth` (the depth a glob pattern can reach; -1 for `**`); a file or directory created,
// moved or deleted anywhere there fires `changed` once, after `debounce` (a pod start creates
// several directories and files in a burst). New directories are watched as they appear. Limits:
// at most `max_watches` directories; past it (or when inotify is unavailable) the periodic sync
// still finds everything, later. Runs on the tail thread's io_context; owned by the Runtime.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/time/time.h"
#include "agent/source/inotify.h"

namespace sluice {

class DirWatcher {
 public:
  struct Root {
    std::string dir;
    int max_depth = -1;  // levels of subdirectories to watch; -1: all
  };
  DirWatcher(boost::asio::io_context* io, absl::Duration debounce, size_t max_watches,
             std::function<void()> changed);
  ~DirWatcher();

  // Watches these roots from now on (replacing the previous set). Roots that do not exist yet
  // are looked for again at each Refresh().
  void SetRoots(std::vector<Root> roots);
  // Adds watches for directories that appeared unnoticed (called after each sync).
  void Refresh();
  size_t watched() const { return by_wd_.size(); }

 private:
  struct Watch {
    const std::string* dir;  // its key in by_dir_ (a node map: the key stays put)
    int depth;
    int max_depth;
  };
  void Open();
  void Arm();
  void OnReadable();
  void AddTree(const std::string& dir, int depth, int max_depth);
  void Fire();

  absl::Duration debounce_;
  size_t max_watches_;
  std::function<void()> changed_;
  Inotify inotify_;
  boost::asio::steady_timer timer_;
  bool timer_armed_ = false;
  std::vector<Root> roots_;
  absl::flat_hash_map<int, Watch> by_wd_;
  // Each directory's path once, here (with a copy in Watch, a 1000-container node's ~2000
  // paths took ~0.2 MiB more).
  absl::node_hash_map<std::string, int> by_dir_;
  bool limit_logged_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace sluice
