// TailManager's watching half: the inotify instances (directories of the targets, one-shot write
// watches per file), what their events mean for the files (created, written, renamed, deleted),
// the periodic rescan that stands in for missed events, and the orphans' timer. The reading
// half (and the class) is in tail_manager.cc; both run on the tail thread.
#include <dirent.h>
#include <limits.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/common/strings.h"
#include "agent/source/tail_manager.h"

namespace sluice {
namespace {

// Directory structure (files appearing, renamed, deleted) and writes go to two inotify instances:
// structure is handled the moment it happens (a file must be opened before it is rotated away).
// Writes are watched per file with one-shot watches: a file's first write after it was read
// fires once, and the watch is set again just before the file's next read. containerd writes
// each line with its own write(2); a directory watch would cost an event (kernel allocation,
// copy, wakeup) per line, this costs one per file per read interval. The write instance is
// read at most once per event_coalesce, and is out of epoll in between.
constexpr uint32_t kDirMask = IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE | IN_DELETE_SELF |
                              IN_MOVE_SELF | IN_ONLYDIR;
constexpr uint32_t kFileWriteMask = IN_MODIFY | IN_ONESHOT;
constexpr int kMaxDepth = 16;

std::string ErrnoText(int err) { return std::string(strerror(err)); }

}  // namespace

void TailManager::SetUpInotify() {
  if (!inotify_.Open()) {
    int err = errno;
    LogWarn("tail",
            err == EMFILE ? "inotify instance limit reached (raise fs.inotify.max_user_instances); "
                            "relying on the periodic rescan"
                          : "inotify unavailable, relying on the periodic rescan",
            {{"error", ErrnoText(err)}});
  } else {
    ArmInotify();
    if (opt_.event_coalesce > absl::ZeroDuration()) {
      if (data_inotify_.Open()) {
        ArmDataInotify();
      } else {
        LogWarn("tail", "second inotify instance unavailable; writes are watched with the rest",
                {{"error", ErrnoText(errno)}});
      }
    }
    // Without a separate instance for writes, the structure watches report them too.
    dir_mask_ = data_inotify_.is_open() ? kDirMask : (kDirMask | IN_MODIFY);
  }
}

void TailManager::AddWatch(const std::string& dir) {
  if (!inotify_.is_open() || watched_dirs_.contains(dir)) return;
  int wd = inotify_.AddWatch(dir.c_str(), dir_mask_);
  if (wd < 0) {
    int err = errno;
    // The rescan still finds and reads its files, only later.
    metrics_
        ->GetCounter("sluice_inotify_watch_errors_total",
                     "Directories that could not be watched and are covered by the rescan only.")
        ->Inc();
    LogWarn("tail",
            err == ENOSPC ? "inotify watch limit reached (raise fs.inotify.max_user_watches); "
                            "directory covered by the periodic rescan only"
                          : "cannot watch directory; it is covered by the periodic rescan only",
            {{"dir", dir}, {"error", ErrnoText(err)}});
    return;
  }
  watches_[wd] = dir;
  watched_dirs_[dir] = wd;
}

void TailManager::ScanDir(const std::string& dir, int depth) {
  if (depth > kMaxDepth) return;
  if (depth == 0) scanned_dirs_.clear();
  struct stat dst;
  // A directory reached twice (through a symlink) is read once.
  if (::stat(dir.c_str(), &dst) != 0 || !scanned_dirs_.insert({dst.st_dev, dst.st_ino}).second) {
    return;
  }
  AddWatch(dir);  // before listing, so that a file created meanwhile is not missed
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> subdirs;
  while (dirent* e = readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string path = absl::StrCat(Av(dir), "/", Av(name));
    unsigned char type = e->d_type;
    if (type == DT_UNKNOWN || type == DT_LNK) {
      // Symlinks are followed (/var/log/containers links to /var/log/pods): what they point to
      // decides. Their targets are deduplicated by inode, so nothing is read twice.
      struct stat st;
      if (::stat(path.c_str(), &st) != 0) continue;
      type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
    }
    if (type == DT_DIR) {
      subdirs.push_back(std::move(path));
    } else if (type == DT_REG && Wanted(path)) {
      MaybeAddFile(path, false);
    }
  }
  closedir(d);
  for (const std::string& sub : subdirs) ScanDir(sub, depth + 1);
}

void TailManager::ArmInotify() {
  inotify_.WaitReadable([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled at shutdown
    inotify_.ReadEvents([this](const inotify_event& ev, std::string_view name) {
      HandleEvent(ev.wd, ev.mask, ev.cookie, name);
    });
    if (!stopping_) ArmInotify();
  });
}

void TailManager::ArmDataInotify() {
  // Registered with the reactor only while waiting for the first write of an interval: epoll
  // reports every new inotify event as a new edge, so a descriptor left registered would wake
  // the thread once per write even with no wait pending.
  boost::system::error_code error;
  bool waiting = data_inotify_.WaitReadable(
      [this](const boost::system::error_code& ec) {
        if (ec) return;  // cancelled at shutdown
        data_armed_ = false;
        data_inotify_.Detach();  // out of epoll until the timer
        ReadDataEvents();
        ArmCoalesce();
      },
      &error);
  if (!waiting) {
    LogWarn("tail", "cannot watch the write-event inotify instance; relying on the rescan",
            {{"error", error.message()}});
    return;
  }
  data_armed_ = true;
}

void TailManager::ReadDataEvents() {
  data_inotify_.ReadEvents(
      [this](const inotify_event& ev, std::string_view) { HandleDataEvent(ev.wd, ev.mask); });
}

void TailManager::HandleDataEvent(int wd, uint32_t mask) {
  if (mask & IN_Q_OVERFLOW) {
    inotify_overflows_->Inc();
    LogWarn("tail", "inotify write-event queue overflowed; rescanning");
    // Lost events may have been one-shots that fired: set every watch again at its next read
    // (setting a watch that still exists only updates it).
    for (const auto& [id, f] : files_.files()) f->write_armed = false;
    Rescan();
    return;
  }
  auto w = data_watches_.find(wd);
  if (w == data_watches_.end()) return;
  File* f = files_.Find(w->second);
  if (f != nullptr && f->write_wd != wd) f = nullptr;  // a watch the file no longer uses
  if (mask & IN_IGNORED) {
    // The one-shot fired (its IN_MODIFY came first), or the file's inode is gone.
    data_watches_.erase(w);
    if (f != nullptr) {
      f->write_wd = -1;
      f->write_armed = false;
    }
    return;
  }
  if (f == nullptr || !(mask & IN_MODIFY)) return;
  f->write_armed = false;  // removed by the kernel; set again before the next read
  OnFileWritten(f);
}

void TailManager::ArmWriteWatch(File* f) {
  if (!data_inotify_.is_open() || f->write_armed || f->closed) return;
  // Through the descriptor when there is one: the name may already lead to a newer file.
  char proc[48];
  const char* target = f->path.c_str();
  if (f->fd >= 0) {
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f->fd);
    target = proc;
  }
  int wd = data_inotify_.AddWatch(target, kFileWriteMask);
  if (wd < 0) {
    int err = errno;
    write_watch_errors_->Inc();
    // The rescan still reads the file, only later; say so once a minute, not once per file.
    int64_t now = clock_->MonotonicNanos();
    if (last_watch_error_log_ == 0 || now - last_watch_error_log_ > 60'000'000'000) {
      last_watch_error_log_ = now;
      LogWarn("tail",
              err == ENOSPC ? "inotify watch limit reached (raise fs.inotify.max_user_watches); "
                              "files without a watch are read at each rescan"
                            : "cannot watch a file for writes; it is read at each rescan",
              {{"path", f->path}, {"error", ErrnoText(err)}});
    }
    return;
  }
  f->write_wd = wd;
  f->write_armed = true;
  data_watches_[wd] = f->id;
}

void TailManager::DropWriteWatch(File* f) {
  if (f->write_wd < 0) return;
  if (f->write_armed) data_inotify_.RemoveWatch(f->write_wd);  // its IN_IGNORED erases the entry
  f->write_armed = false;
  f->write_wd = -1;
}

void TailManager::ArmCoalesce() {
  if (coalesce_armed_ || stopping_) return;
  coalesce_armed_ = true;
  coalesce_timer_.expires_after(absl::ToChronoNanoseconds(opt_.event_coalesce));
  coalesce_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: `this` may be gone
    coalesce_armed_ = false;
    if (data_inotify_.is_open() && !data_armed_) {
      ReadDataEvents();
      ArmDataInotify();
    }
    QueueHot();
    SchedulePass();
  });
}

bool TailManager::Polls(const TailFile* f) const {
  // Not compressed files (read whole, they do not grow) and not without a coalescing interval
  // (a file would be polled back to back).
  return opt_.event_coalesce > absl::ZeroDuration() && data_inotify_.is_open() &&
         (f->transform == nullptr || !f->transform->compressed);
}

void TailManager::QueueHot() {
  for (uint64_t id : hot_) {
    File* f = files_.Find(id);
    if (f == nullptr || !f->hot || f->queued || f->closed) continue;
    f->queued = true;
    ready_.push_back(id);
  }
  hot_.clear();
}

void TailManager::HandleEvent(int wd, uint32_t mask, uint32_t cookie, std::string_view name) {
  if (mask & IN_Q_OVERFLOW) {
    inotify_overflows_->Inc();
    LogWarn("tail", "inotify queue overflowed; rescanning");
    Rescan();
    return;
  }
  auto w = watches_.find(wd);
  if (w == watches_.end()) return;
  if (mask & IN_IGNORED) {
    watched_dirs_.erase(w->second);
    watches_.erase(w);
    return;
  }
  if (mask & (IN_DELETE_SELF | IN_MOVE_SELF)) return;  // IN_IGNORED follows for deletes
  if (name.empty()) return;
  path_buf_.assign(w->second);
  path_buf_.push_back('/');
  path_buf_.append(name);
  if (mask & IN_ISDIR) {
    if (mask & (IN_CREATE | IN_MOVED_TO)) {
      scanned_dirs_.clear();  // a new directory may have an old one's inode
      ScanDir(path_buf_, 1);
    }
    return;
  }
  if (mask & IN_MODIFY) {
    if (File* f = files_.AtPath(path_buf_); f != nullptr) OnFileWritten(f);
    return;
  }
  if (mask & IN_MOVED_FROM) {
    if (File* f = files_.AtPath(path_buf_); f != nullptr) {
      // A move out of the watched tree never gets its IN_MOVED_TO: keep the map small.
      if (pending_moves_.size() >= 1024) pending_moves_.clear();
      pending_moves_[cookie] = f->id;
      // Rotation: keep reading the renamed file to its end.
      if (!f->closed) OrphanFile(f);
    }
    return;
  }
  if (mask & IN_MOVED_TO) {
    auto pm = pending_moves_.find(cookie);
    if (pm != pending_moves_.end()) {
      File* f = files_.Find(pm->second);
      pending_moves_.erase(pm);
      if (f != nullptr) {
        File* old = files_.AtPath(path_buf_);
        if (old != nullptr && old != f && !old->closed) {
          // Renamed over a tailed file: that one is unlinked now; drain it.
          OrphanFile(old);
        }
        files_.Renamed(f, path_buf_);
        if (Wanted(path_buf_)) {
          f->orphan = false;  // renamed to another tailed name: just follow it
        }
        if (!f->closed) MarkReady(f);
        return;
      }
    }
    if (Wanted(path_buf_) || files_.LinkTo(path_buf_) != nullptr) AddCreated(path_buf_);
    return;
  }
  if (mask & IN_CREATE) {
    // A name to tail, or the real name behind a symlink that is one (in target mode only the
    // symlink is a target: kubelet's new 0.log behind /var/log/containers/...).
    if (Wanted(path_buf_) || files_.LinkTo(path_buf_) != nullptr) AddCreated(path_buf_);
    return;
  }
  if (mask & IN_DELETE) {
    if (File* f = files_.AtPath(path_buf_); f != nullptr) {
      // The open descriptor still reads what was written: drain it, then let go.
      if (!f->closed) OrphanFile(f);
    }
  }
}

void TailManager::OnFileWritten(File* f) {
  if (f->fd < 0) {
    f->maybe_unread = true;
    // What a parked file holds now, should it vanish before its turn (sluice_rotated_bytes_lost
    // _total). One stat per event of a parked file: its write watch is one-shot, set again only
    // when the file is read.
    struct stat st;
    if (::stat(f->path.c_str(), &st) == 0 && st.st_dev == f->identity.device &&
        st.st_ino == f->identity.inode) {
      f->parked_size = std::max<int64_t>(f->parked_size, st.st_size);
    }
  }
  if (f->closed || f->queued) return;
  // A write: read it a moment later, together with the writes that follow, so that a busy file
  // costs one large read per interval instead of one per write. Creations, renames and deletes
  // are still handled at once (files are opened when they appear).
  if (opt_.event_coalesce <= absl::ZeroDuration()) {
    MarkReady(f);
  } else {
    f->queued = true;
    ready_.push_back(f->id);
    if (!pass_scheduled_) ArmCoalesce();
  }
}

void TailManager::AddCreated(const std::string& path) {
  if (Wanted(path)) {
    MaybeAddFile(path, false);
    return;
  }
  // A directory watched only because a symlink points into it: a new file here matters only
  // through that symlink (kubelet created a new 0.log behind /var/log/containers/...).
  if (const std::string* link = files_.LinkTo(path); link != nullptr) {
    std::string target = *link;  // MaybeAddFile may change the registry
    MaybeAddFile(target, false);
  }
}

void TailManager::Rescan() {
  if (stopping_) return;
  ++scan_seq_;  // names the listing below confirms are not stat'ed again after it
  // Targets whose file is not there (yet, or any more) were never seen: not lost files.
  std::vector<std::string> missing;
  struct stat tst;
  for (const auto& [path, t] : targets_) {
    if (files_.AtPath(path) == nullptr && ::stat(path.c_str(), &tst) == 0) {
      missing.push_back(path);
    }
  }
  for (const std::string& path : missing) MaybeAddFile(path, false);
  // Safety net for missed events: any open file whose size moved gets a turn; a name that now
  // points to another inode means the file was replaced.
  std::vector<File*> replaced;
  for (const auto& [id, fp] : files_.files()) {
    File* f = fp.get();
    if (f->closed) continue;
    struct stat st;
    int rc = f->fd >= 0 ? fstat(f->fd, &st) : ::stat(f->path.c_str(), &st);
    if (f->fd >= 0 && f->identity.fingerprint_len > 0 &&
        f->read_offset >= static_cast<int64_t>(f->identity.fingerprint_len)) {
      // copytruncate followed by more writes than we had read leaves the size above our offset;
      // only the content tells: its first bytes are not what they were.
      absl::StatusOr<bool> same = FingerprintMatches(f->fd, f->identity);
      if (same.ok() && !*same) {
        RestartFromZero(f, "file rewritten in place (copytruncate), reading from the start",
                        rc == 0 ? st.st_size : -1);
        MarkReady(f);
        continue;
      }
    }
    if (rc == 0 && st.st_size != f->read_offset) MarkReady(f);
    if (!f->orphan && f->name_checked_scan != scan_seq_ &&
        CheckName(f->path, f->identity) != NameState::kSame) {
      replaced.push_back(f);
    }
  }
  for (File* f : replaced) {
    std::string path = f->path;
    OrphanFile(f);
    if (Wanted(path)) MaybeAddFile(path, false);
  }
}

void TailManager::ArmRescan() {
  rescan_timer_.expires_after(absl::ToChronoNanoseconds(opt_.rescan_interval));
  rescan_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    Rescan();
    ArmRescan();
  });
}

void TailManager::ArmOrphanTimer() {
  if (orphan_timer_armed_ || stopping_) return;
  orphan_timer_armed_ = true;
  orphan_timer_.expires_after(std::chrono::milliseconds(500));
  orphan_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: `this` may be gone
    orphan_timer_armed_ = false;
    if (stopping_) return;
    CheckOrphans();
  });
}

void TailManager::CheckOrphans() {
  bool any = false;
  for (const auto& [id, f] : files_.files()) {
    if (!f->orphan || f->closed) continue;
    any = true;
    MarkReady(f.get());  // late writes before the writer switched files; EOF checks the grace
  }
  if (any) ArmOrphanTimer();
}

}  // namespace sluice
