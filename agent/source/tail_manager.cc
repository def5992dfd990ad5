#include "agent/source/tail_manager.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/common/strings.h"
#include "agent/common/utf8.h"
#include "agent/source/positions.h"

#include <cstdio>

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
// Room for a CRI or docker prefix on top of max_line_size before a raw line counts as too long.
constexpr size_t kPrefixAllowance = 1024;
constexpr int kMaxDepth = 16;
// A read pass yields to the event loop after this many file turns so that acknowledgements,
// inotify events and timers are not starved by a long catch-up.
constexpr int kTurnsPerPass = 64;

// Reads a non-blocking inotify descriptor until it is empty, calling fn(event, name) for each
// event (name empty for events about the watched object itself).
template <typename Fn>
void ForEachInotifyEvent(int fd, Fn&& fn) {
  alignas(inotify_event) char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<inotify_event*>(p);
      fn(*ev, ev->len ? std::string_view(ev->name) : std::string_view());
      p += sizeof(inotify_event) + ev->len;
    }
  }
}

int64_t ToNanos(absl::Duration d) { return absl::ToInt64Nanoseconds(d); }

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string ErrnoText(int err) { return std::string(strerror(err)); }

// O_NOATIME spares the filesystem an inode update per read of a file written since the last one
// (relatime); it is allowed only to the file's owner or root, so fall back without it.
int OpenForReading(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  return fd;
}

// A file reached both by its own path and through a symlink (/var/log/pods and
// /var/log/containers both matched) is tailed once, under the name added first: its own path, so
// that it is labelled from it, then the links, each group in name order.
void SortLinksLast(std::vector<std::string>* paths) {
  std::vector<std::pair<bool, std::string>> keyed;
  keyed.reserve(paths->size());
  for (std::string& p : *paths) {
    struct stat st;
    bool link = ::lstat(p.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
    keyed.emplace_back(link, std::move(p));
  }
  std::sort(keyed.begin(), keyed.end());
  paths->clear();
  for (auto& [link, p] : keyed) paths->push_back(std::move(p));
}

}  // namespace

bool ParsePositionsErrorPolicy(std::string_view text, PositionsErrorPolicy* out) {
  if (text == "restart_from_beginning")
    *out = PositionsErrorPolicy::kRestartFromBeginning;
  else if (text == "restart_from_end")
    *out = PositionsErrorPolicy::kRestartFromEnd;
  else if (text == "skip")
    *out = PositionsErrorPolicy::kSkip;
  else
    return false;
  return true;
}

TailManager::TailManager(boost::asio::io_context* io, TailOptions options, const Clock* clock,
                         MetricsRegistry* metrics, TailOutput* output)
    : io_(io),
      opt_(std::move(options)),
      clock_(clock),
      metrics_(metrics),
      output_(output),
      rescan_timer_(*io),
      positions_timer_(*io),
      orphan_timer_(*io),
      open_retry_timer_(*io),
      coalesce_timer_(*io) {
  next_file_id_ = opt_.file_id_base + 1;
  max_open_ = opt_.max_open_files;
  if (max_open_ == 0) {
    rlimit rl;
    // Leave room for sockets, the positions file, inotify and the libraries' own descriptors.
    max_open_ = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                    ? static_cast<size_t>(rl.rlim_cur)
                    : 65536;
    max_open_ = max_open_ > 256 ? max_open_ - 128 : std::max<size_t>(16, max_open_ / 2);
  }
  read_buf_.resize(opt_.read_chunk);
  if (!opt_.component_id.empty()) {
    component_labels_ = {{"component_id", opt_.component_id}, {"component_path", "/"}};
  }
  truncated_lines_ = metrics->GetCounter(
      "sluice_lines_truncated_total", "Lines cut at max_line_size; the rest of the line dropped.");
  invalid_utf8_ = metrics->GetCounter("sluice_lines_invalid_utf8_total",
                                      "Lines whose invalid UTF-8 was replaced with U+FFFD.");
  malformed_cri_ =
      metrics->GetCounter("sluice_lines_malformed_total",
                          "Lines that did not parse; shipped as they are.", {{"format", "cri"}});
  malformed_docker_ =
      metrics->GetCounter("sluice_lines_malformed_total",
                          "Lines that did not parse; shipped as they are.", {{"format", "docker"}});
  truncations_ = metrics->GetCounter("sluice_file_truncations_total",
                                     "Files that shrank below the read offset (copytruncate).");
  pauses_ = metrics->GetCounter("sluice_backpressure_pauses_total",
                                "Times reading stopped because the memory budget was spent.");
  paused_ns_ = metrics->GetNanosCounter(
      "sluice_backpressure_paused_seconds_total",
      "Seconds during which reading was stopped by backpressure (unacknowledged bytes at the "
      "memory budget, or a stage holding lines back).");
  positions_errors_ = metrics->GetCounter("sluice_positions_write_errors_total",
                                          "Failed writes of the positions file.");
  positions_writes_ = metrics->GetCounter(
      "sluice_positions_writes_total",
      "Writes of the positions file (after acknowledgements, coalesced and rate-limited).");
  positions_gap_ = opt_.positions_min_interval;
  inotify_overflows_ = metrics->GetCounter("sluice_inotify_overflows_total",
                                           "inotify queue overflows (a rescan follows).");
  read_errors_ = metrics->GetCounter("sluice_file_read_errors_total", "Failed reads or opens.");
  evictions_ = metrics->GetCounter(
      "sluice_files_parked_total",
      "Idle files closed to stay within max_open_files (reopened for their next turn).");
  files_lost_ = metrics->GetCounter(
      "sluice_files_lost_total",
      "Files deleted or replaced before they could be read to the end (parked files, or files "
      "gone before they could be opened).");
  rotated_bytes_lost_ = metrics->GetCounter(
      "sluice_rotated_bytes_lost_total",
      "Bytes of files deleted or replaced (rotated away, compressed) before they were read to "
      "their end: what they held past the read offset when last seen.");
  files_active_ = metrics->GetGauge("loki_source_file_files_active_total",
                                    "Number of active files.", component_labels_);
  write_watch_errors_ = metrics->GetCounter(
      "sluice_inotify_file_watch_errors_total",
      "Files whose write watch could not be set; they are read at each rescan instead.");
  unacked_gauge_ = metrics->GetGauge(
      "sluice_unacked_bytes",
      "Line bytes read and not yet acknowledged by every endpoint (counted against the memory "
      "budget).");
}

TailManager::~TailManager() {
  // First: its thread reports into members declared after it (health, metrics).
  positions_writer_.reset();
  // A runtime rebuilt by a reload must leave no series of its files behind, nor its count.
  for (auto& [id, f] : files_) ReleasePathMetrics(f.get());
  files_active_->Add(-static_cast<double>(reported_active_));
  // Pending timer handlers then complete with operation_aborted and touch nothing of ours.
  rescan_timer_.cancel();
  positions_timer_.cancel();
  orphan_timer_.cancel();
  open_retry_timer_.cancel();
  coalesce_timer_.cancel();
  for (auto& [id, f] : files_) {
    if (f->fd >= 0) ::close(f->fd);
  }
  boost::system::error_code ec;
  if (inotify_) {
    inotify_->close(ec);
  } else if (inotify_fd_ >= 0) {
    ::close(inotify_fd_);
  }
  if (data_inotify_ && data_inotify_->is_open()) data_inotify_->release();
  if (data_fd_ >= 0) ::close(data_fd_);
}

absl::Status TailManager::Start() {
  if (!opt_.positions_path.empty()) {
    absl::StatusOr<std::vector<PositionRecord>> records = ReadPositionsFile(opt_.positions_path);
    if (records.ok()) {
      LogInfo("tail", "positions loaded",
              {{"path", opt_.positions_path}, {"files", std::to_string(records->size())}});
      RestoreRecords(std::move(*records));
    } else if (absl::IsNotFound(records.status()) && !opt_.legacy_positions_path.empty()) {
      LoadLegacyPositions();
    } else if (!absl::IsNotFound(records.status())) {
      // A broken positions file must not stop the agent (nor crash-loop it): the policy says
      // what becomes of the files found now; the next save replaces the broken file.
      positions_failed_ = true;
      metrics_
          ->GetCounter("sluice_positions_read_errors_total",
                       "Positions files that could not be read and were ignored.")
          ->Inc();
      LogWarn("tail",
              opt_.on_positions_error == PositionsErrorPolicy::kRestartFromBeginning
                  ? "positions file unreadable, reading files from the beginning"
              : opt_.on_positions_error == PositionsErrorPolicy::kRestartFromEnd
                  ? "positions file unreadable, starting files at their end"
                  : "positions file unreadable, skipping the files present now",
              {{"path", opt_.positions_path}, {"error", std::string(records.status().message())}});
    }
  }

  if (!opt_.positions_path.empty()) {
    positions_writer_ = std::make_unique<PositionsWriter>(
        opt_.positions_path, opt_.positions_interval,
        [this](const absl::Status& s, bool) { OnPositionsWritten(s); });
  }

  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) {
    int err = errno;
    LogWarn("tail",
            err == EMFILE ? "inotify instance limit reached (raise fs.inotify.max_user_instances); "
                            "relying on the periodic rescan"
                          : "inotify unavailable, relying on the periodic rescan",
            {{"error", ErrnoText(err)}});
  } else {
    inotify_ = std::make_unique<boost::asio::posix::stream_descriptor>(*io_, inotify_fd_);
    ArmInotify();
    if (opt_.event_coalesce > absl::ZeroDuration()) {
      data_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
      if (data_fd_ >= 0) {
        data_inotify_ = std::make_unique<boost::asio::posix::stream_descriptor>(*io_, data_fd_);
        ArmDataInotify();
      } else {
        LogWarn("tail", "second inotify instance unavailable; writes are watched with the rest",
                {{"error", ErrnoText(errno)}});
      }
    }
    // Without a separate instance for writes, the structure watches report them too.
    dir_mask_ = data_fd_ >= 0 ? kDirMask : (kDirMask | IN_MODIFY);
  }
  starting_ = true;
  std::vector<std::string> target_paths;
  for (const auto& [path, t] : targets_) {
    size_t slash = path.rfind('/');
    if (slash != std::string::npos) AddWatch(slash == 0 ? "/" : path.substr(0, slash));
  }
  for (const auto& [path, t] : targets_) target_paths.push_back(path);
  SortLinksLast(&target_paths);
  for (const std::string& path : target_paths) MaybeAddFile(path, true);
  // Only the targets' records (the others wait for their target: SetTargets).
  DrainRotated(target_paths);
  starting_ = false;
  started_ = true;
  // Entries still unmatched stay: their target may be given, or its file appear, later.
  UpdateFilesActive();
  ArmRescan();
  // Whatever Start found and decided (files, restored positions) is on disk at once.
  if (!opt_.positions_path.empty()) MarkPositionsDirty();
  SchedulePass();
  return absl::OkStatus();
}

void TailManager::RestoreRecords(std::vector<PositionRecord> records) {
  for (PositionRecord& r : records) {
    if (r.has_identity) {
      restored_[{r.id.device, r.id.inode}] = Restored{r.path, r.labels, r.id, r.offset};
    }
    PathRestored pr;
    pr.labels = std::move(r.labels);
    pr.offset = r.offset;
    pr.has_identity = r.has_identity;
    pr.identity = r.id;
    path_restored_[r.path].push_back(std::move(pr));
  }
}

void TailManager::DrainRotated(const std::vector<std::string>& paths) {
  // Restored positions no file matched: the file may have been rotated while we were down and
  // still sit next to its old name; look for its inode there so its tail is not lost.
  absl::flat_hash_set<std::string> only(paths.begin(), paths.end());
  std::vector<std::pair<std::string, std::string>> rotated;  // (where it is now, old name)
  for (auto& [key, r] : restored_) {
    if (!only.contains(r.path)) continue;
    size_t slash = r.path.rfind('/');
    if (slash == std::string::npos) continue;
    std::string dir = r.path.substr(0, slash);
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) continue;
    while (dirent* e = readdir(d)) {
      if (e->d_ino != key.second) continue;
      std::string candidate = dir + "/" + e->d_name;
      if (!EndsWith(candidate, ".gz")) rotated.emplace_back(std::move(candidate), r.path);
      break;
    }
    closedir(d);
  }
  for (const auto& [candidate, old_name] : rotated) {
    // Read it as an orphan: to its end, then let go.
    MaybeAddFile(candidate, true);
    auto it = by_path_.find(candidate);
    if (it == by_path_.end()) continue;
    File* f = files_[it->second].get();
    auto t = targets_.find(old_name);
    if (!targets_.contains(candidate) && t != targets_.end()) {
      // Read for the target it was tailed as (labels, format, route), as if it had been renamed
      // while tailed.
      f->labels = t->second.labels;
      f->format = t->second.format;
      f->route = t->second.route;
      f->pos_labels = f->labels.RenderLoki();
      f->labels.Set("filename", old_name);
    }
    OrphanFile(f);
  }
}

void TailManager::LoadLegacyPositions() {
  // Promtail's map, or Alloy's (Alloy converts Promtail's entries to the `{}` key; both are
  // matched by path and labels, then by path alone).
  absl::StatusOr<std::vector<PositionRecord>> parsed =
      ReadPositionsFile(opt_.legacy_positions_path);
  if (!parsed.ok()) {
    if (!absl::IsNotFound(parsed.status())) {
      LogWarn("tail", "legacy positions file unreadable, ignored",
              {{"path", opt_.legacy_positions_path},
               {"error", std::string(parsed.status().message())}});
    }
    return;
  }
  LogInfo("tail", "legacy positions imported",
          {{"path", opt_.legacy_positions_path}, {"files", std::to_string(parsed->size())}});
  for (PositionRecord& r : *parsed) r.has_identity = false;  // another machine's inodes, maybe
  RestoreRecords(std::move(*parsed));
}

int64_t TailManager::TakePathPosition(const std::string& path, const std::string& labels, int fd,
                                      int64_t size) {
  auto it = path_restored_.find(path);
  if (it == path_restored_.end()) return -1;
  std::vector<PathRestored>& v = it->second;
  // Alloy's lookup: path and labels, then (its legacy fallback) path and `{}`; then, since
  // sluice follows a file and not a label set, the path alone. The first that fits wins.
  int64_t offset = -1;
  for (int pass = 0; pass < 3 && offset < 0; ++pass) {
    for (PathRestored& r : v) {
      if (r.offset < 0) continue;  // tried and refused
      bool candidate = pass == 0 ? r.labels == labels : pass == 1 ? r.labels == "{}" : true;
      if (!candidate) continue;
      if (r.has_identity) {
        // Not the inode recorded: only the same content (a device number that changed across a
        // reboot) may take its offset; the successor of a rotated file may not.
        absl::StatusOr<bool> same = FingerprintMatches(fd, r.identity);
        if (!same.ok() || !*same) continue;
        restored_.erase(std::make_pair(r.identity.device, r.identity.inode));
      }
      offset = r.offset;
      r.offset = -1;  // taken
      break;
    }
  }
  // Whatever this path had without an identity is superseded by the file now read there;
  // identities of other files (a rotated predecessor) stay until they are found or gone.
  std::erase_if(v, [](const PathRestored& r) { return !r.has_identity || r.offset < 0; });
  if (v.empty()) path_restored_.erase(it);
  if (offset > size) {
    truncations_->Inc();
    LogWarn("tail", "file shorter than its stored position, reading it from the start",
            {{"path", path}, {"offset", std::to_string(offset)}, {"size", std::to_string(size)}});
    return 0;
  }
  return offset;
}

MetricLabels TailManager::PathLabels(const std::string& path) const {
  MetricLabels labels = component_labels_;
  labels.emplace_back("path", path);
  return labels;
}

void TailManager::AcquirePathMetrics(File* f, int64_t size) {
  // The target's path (what Alloy's tailer is named by). A file renamed later keeps the series
  // of the name it was tailed as.
  f->metrics_path = f->path;
  MetricLabels labels = PathLabels(f->metrics_path);
  f->m_read_bytes =
      metrics_->AcquireGauge("loki_source_file_read_bytes_total", "Number of bytes read.", labels);
  f->m_file_bytes =
      metrics_->AcquireGauge("loki_source_file_file_bytes_total", "Number of bytes total.", labels);
  f->m_read_lines = metrics_->AcquireCounter("loki_source_file_read_lines_total",
                                             "Number of lines read.", labels);
  f->m_read_bytes->Set(static_cast<double>(f->read_offset));
  f->m_file_bytes->Set(static_cast<double>(size));
}

void TailManager::ReleasePathMetrics(File* f) {
  if (f->m_read_bytes == nullptr) return;
  MetricLabels labels = PathLabels(f->metrics_path);
  for (const char* name : {"loki_source_file_read_bytes_total", "loki_source_file_file_bytes_total",
                           "loki_source_file_read_lines_total"}) {
    metrics_->ReleaseSeries(name, labels);
  }
  f->m_read_bytes = f->m_file_bytes = nullptr;
  f->m_read_lines = nullptr;
  f->metrics_path.clear();
}

void TailManager::UpdateFilesActive() {
  // Called at every open, park and close: counting the descriptors (active_files()) here would
  // cost a pass over every file each time, quadratic in the files of a burst.
  size_t n = open_files_;
  files_active_->Add(static_cast<double>(n) - static_cast<double>(reported_active_));
  reported_active_ = n;
}

size_t TailManager::active_files() const {
  size_t n = 0;
  for (const auto& [id, f] : files_) n += f->fd >= 0;
  return n;
}

size_t TailManager::orphan_files() const {
  size_t n = 0;
  for (const auto& [id, f] : files_) n += f->orphan && !f->closed;
  return n;
}

int64_t TailManager::CommittedOffset(const std::string& path) const {
  auto it = by_path_.find(path);
  if (it == by_path_.end()) return -1;
  return files_.at(it->second)->acked_offset;
}

// ---- discovery -----------------------------------------------------------------------------

void TailManager::AddWatch(const std::string& dir) {
  if (inotify_fd_ < 0 || watched_dirs_.contains(dir)) return;
  int wd = inotify_add_watch(inotify_fd_, dir.c_str(), dir_mask_);
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

void TailManager::MaybeAddFile(const std::string& path, bool at_start) {
  auto known = by_path_.find(path);
  if (known != by_path_.end()) {
    File* f = files_[known->second].get();
    if (!f->closed && !f->orphan) {
      // Still the file we tail under this name? A file renamed over it (replaced) is not, and
      // must be tailed through this name now, before a symlink elsewhere finds it first.
      NameState name = CheckName(path, f->identity);
      if (name != NameState::kReplaced) {
        // Checked for this rescan (a name that is gone is the rescan's to handle).
        if (name == NameState::kSame && path == f->path) f->name_checked_scan = scan_seq_;
        return;
      }
      OrphanFile(f);  // drained through its descriptor, then let go
    }
  }
  struct stat lst;
  bool is_link = ::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode);
  int fd = OpenForReading(path);
  if (fd < 0) {
    int err = errno;
    if (err != ENOENT) {
      read_errors_->Inc();
      LogWarn("tail", "cannot open file; will retry at the next rescan",
              {{"path", path}, {"error", ErrnoText(err)}});
    } else if (!at_start && !starting_ && !is_link) {
      // Seen (created, or listed by the rescan) and gone before it could be opened: whatever it
      // held was never read. Rare (files are opened as their creation event is handled), but
      // never silent.
      files_lost_->Inc();
      LogWarn("tail", "file deleted before it could be opened; its content was not read",
              {{"path", path}});
    }
    return;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return;
  }
  std::pair<uint64_t, uint64_t> key{st.st_dev, st.st_ino};
  if (skipped_.contains(key)) {
    ::close(fd);
    return;
  }
  if ((at_start || starting_) && positions_failed_ &&
      opt_.on_positions_error == PositionsErrorPolicy::kSkip) {
    skipped_.insert(key);
    ::close(fd);
    LogWarn("tail", "skipping file (positions file unreadable, policy skip)", {{"path", path}});
    return;
  }
  auto same = by_inode_.find(key);
  if (same != by_inode_.end()) {
    // Already tailed under another name (a rename we did not see, or a hard link): follow the
    // file, not the name.
    File* f = files_[same->second].get();
    ::close(fd);
    // A symlink to a file already tailed (both names are targets) adds nothing: read it once.
    if (is_link) return;
    if (f->path != path && !f->closed) {
      by_path_.erase(f->path);
      f->path = path;
      f->orphan = false;
      by_path_[path] = f->id;
      NoteIdle(f);  // no longer draining: it can be parked again
    }
    return;
  }
  auto file = std::make_unique<File>();
  File* f = file.get();
  f->id = next_file_id_++;
  f->path = path;
  f->fd = fd;
  f->identity.device = st.st_dev;
  f->identity.inode = st.st_ino;
  f->format = opt_.format;
  f->last_data_mono = clock_->MonotonicNanos();
  (void)ComputeFingerprint(fd, &f->identity);

  std::string real_path;
  if (is_link) {
    char buf[PATH_MAX];
    if (::realpath(path.c_str(), buf) != nullptr) real_path = buf;
  }
  // The target's labels, and `filename` as Alloy's loki.source.file adds it.
  auto t = targets_.find(path);
  if (t != targets_.end()) {
    f->labels = t->second.labels;
    f->format = t->second.format;
    f->route = t->second.route;
  }
  f->pos_labels = f->labels.RenderLoki();
  f->labels.Set("filename", path);

  int64_t start = 0;
  auto restored = restored_.find(key);
  if (restored != restored_.end()) {
    absl::StatusOr<bool> match = FingerprintMatches(fd, restored->second.identity);
    if (match.ok() && *match) {
      start = restored->second.offset;
      if (start > st.st_size) {
        truncations_->Inc();
        LogWarn("tail", "file shorter than its stored position, reading it from the start",
                {{"path", path}});
        start = 0;
      }
    }
    // Its entry by path is spent too (kept there only for a device number that changed).
    auto by_path = path_restored_.find(restored->second.path);
    if (by_path != path_restored_.end()) {
      std::erase_if(by_path->second, [&](const PathRestored& r) {
        return r.has_identity && r.identity.device == key.first && r.identity.inode == key.second;
      });
      if (by_path->second.empty()) path_restored_.erase(by_path);
    }
    restored_.erase(restored);
  } else if (int64_t by_path = TakePathPosition(path, f->pos_labels, fd, st.st_size);
             by_path >= 0) {
    // Alloy's (or Promtail's) position for this path, or sluice's for a file whose inode key
    // changed.
    start = by_path;
  } else if ((at_start || starting_) &&
             (opt_.tail_from_end ||
              (positions_failed_ &&
               opt_.on_positions_error == PositionsErrorPolicy::kRestartFromEnd))) {
    // Like Alloy's tail_from_end: only what is written from now on (a line being written at this
    // moment is shipped from where we start).
    start = st.st_size;
  }
  f->read_offset = f->acked_offset = f->consumed_offset = start;
  AcquirePathMetrics(f, st.st_size);

  if (known != by_path_.end()) {
    // The name now belongs to a new file; the old one (still open, or retired) keeps its id.
    File* old = files_[known->second].get();
    if (!old->orphan && !old->closed) OrphanFile(old);
  }
  by_path_[path] = f->id;
  by_inode_[key] = f->id;
  if (!real_path.empty() && real_path != path) {
    // Writes, renames and deletes happen where the file really is: watch that directory too and
    // know the file by that name as well.
    f->alias = real_path;
    by_path_[real_path] = f->id;
    link_targets_[real_path] = path;
    size_t slash = real_path.rfind('/');
    if (slash != std::string::npos && slash > 0) AddWatch(real_path.substr(0, slash));
  }
  files_[f->id] = std::move(file);
  ++open_files_;
  if (open_files_ > max_open_) {
    EvictIdle(max_open_);
    if (open_files_ > max_open_) {
      // Nothing idle to close: this one waits, parked, for its turn.
      f->maybe_unread = true;
      f->parked_size = st.st_size;
      ::close(f->fd);
      f->fd = -1;
      --open_files_;
    }
  }
  UpdateFilesActive();
  MarkPositionsDirty();
  LogDebug("tail", "tailing file", {{"path", path}, {"offset", std::to_string(start)}});
  MarkReady(f);
}

void TailManager::ArmInotify() {
  inotify_->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                       [this](const boost::system::error_code& ec) {
                         if (ec) return;  // cancelled at shutdown
                         OnInotifyReadable();
                         if (!stopping_) ArmInotify();
                       });
}

void TailManager::ArmDataInotify() {
  // Registered with the reactor only while waiting for the first write of an interval: epoll
  // reports every new inotify event as a new edge, so a descriptor left registered would wake
  // the thread once per write even with no wait pending.
  if (!data_inotify_->is_open()) {
    boost::system::error_code ec;
    data_inotify_->assign(data_fd_, ec);
    if (ec) {
      LogWarn("tail", "cannot watch the write-event inotify instance; relying on the rescan",
              {{"error", ec.message()}});
      return;
    }
  }
  data_armed_ = true;
  data_inotify_->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                            [this](const boost::system::error_code& ec) {
                              if (ec) return;  // cancelled at shutdown
                              data_armed_ = false;
                              data_inotify_->release();  // out of epoll until the timer
                              ReadDataEvents();
                              ArmCoalesce();
                            });
}

void TailManager::ReadDataEvents() {
  ForEachInotifyEvent(data_fd_, [this](const inotify_event& ev, std::string_view) {
    HandleDataEvent(ev.wd, ev.mask);
  });
}

void TailManager::HandleDataEvent(int wd, uint32_t mask) {
  if (mask & IN_Q_OVERFLOW) {
    inotify_overflows_->Inc();
    LogWarn("tail", "inotify write-event queue overflowed; rescanning");
    // Lost events may have been one-shots that fired: set every watch again at its next read
    // (setting a watch that still exists only updates it).
    for (auto& [id, f] : files_) f->write_armed = false;
    Rescan();
    return;
  }
  auto w = data_watches_.find(wd);
  if (w == data_watches_.end()) return;
  auto it = files_.find(w->second);
  File* f = it == files_.end() ? nullptr : it->second.get();
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
  if (data_fd_ < 0 || f->write_armed || f->closed) return;
  // Through the descriptor when there is one: the name may already lead to a newer file.
  char proc[48];
  const char* target = f->path.c_str();
  if (f->fd >= 0) {
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f->fd);
    target = proc;
  }
  int wd = inotify_add_watch(data_fd_, target, kFileWriteMask);
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
  if (f->write_armed) inotify_rm_watch(data_fd_, f->write_wd);  // its IN_IGNORED erases the entry
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
    if (data_inotify_ && !data_armed_) {
      ReadDataEvents();
      ArmDataInotify();
    }
    SchedulePass();
  });
}

void TailManager::OnInotifyReadable() {
  ForEachInotifyEvent(inotify_fd_, [this](const inotify_event& ev, std::string_view name) {
    HandleEvent(ev.wd, ev.mask, ev.cookie, name);
  });
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
    auto it = by_path_.find(path_buf_);
    if (it != by_path_.end()) OnFileWritten(files_[it->second].get());
    return;
  }
  if (mask & IN_MOVED_FROM) {
    auto it = by_path_.find(path_buf_);
    if (it != by_path_.end()) {
      File* f = files_[it->second].get();
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
      auto it = files_.find(pm->second);
      pending_moves_.erase(pm);
      if (it != files_.end()) {
        File* f = it->second.get();
        if (by_path_.contains(f->path) && by_path_[f->path] == f->id) by_path_.erase(f->path);
        if (!f->alias.empty()) {
          if (by_path_.contains(f->alias) && by_path_[f->alias] == f->id) by_path_.erase(f->alias);
          f->alias.clear();
        }
        auto prev = by_path_.find(path_buf_);
        if (prev != by_path_.end() && prev->second != f->id) {
          // Renamed over a tailed file: that one is unlinked now; drain it.
          File* old = files_[prev->second].get();
          if (!old->closed) OrphanFile(old);
        }
        f->path = path_buf_;
        if (Wanted(path_buf_)) {
          f->orphan = false;  // renamed to another tailed name: just follow it
        }
        by_path_[f->path] = f->id;
        if (!f->closed) MarkReady(f);
        return;
      }
    }
    if (Wanted(path_buf_) || link_targets_.contains(path_buf_)) AddCreated(path_buf_);
    return;
  }
  if (mask & IN_CREATE) {
    // A name to tail, or the real name behind a symlink that is one (in target mode only the
    // symlink is a target: kubelet's new 0.log behind /var/log/containers/...).
    if (Wanted(path_buf_) || link_targets_.contains(path_buf_)) AddCreated(path_buf_);
    return;
  }
  if (mask & IN_DELETE) {
    auto it = by_path_.find(path_buf_);
    if (it != by_path_.end()) {
      File* f = files_[it->second].get();
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
  auto link = link_targets_.find(path);
  if (link != link_targets_.end()) MaybeAddFile(link->second, false);
}

void TailManager::OrphanFile(File* f) {
  if (f->orphan) return;
  f->orphan = true;
  f->last_data_mono = clock_->MonotonicNanos();
  MarkReady(f);
  ArmOrphanTimer();
}

TailManager::NameState TailManager::CheckName(const std::string& path, const FileIdentity& id) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return NameState::kGone;
  return st.st_dev == id.device && st.st_ino == id.inode ? NameState::kSame : NameState::kReplaced;
}

void TailManager::Rescan() {
  if (stopping_) return;
  ++scan_seq_;  // names the listing below confirms are not stat'ed again after it
  // Targets whose file is not there (yet, or any more) were never seen: not lost files.
  std::vector<std::string> missing;
  struct stat tst;
  for (const auto& [path, t] : targets_) {
    if (!by_path_.contains(path) && ::stat(path.c_str(), &tst) == 0) missing.push_back(path);
  }
  for (const std::string& path : missing) MaybeAddFile(path, false);
  // Safety net for missed events: any open file whose size moved gets a turn; a name that now
  // points to another inode means the file was replaced.
  std::vector<File*> replaced;
  for (auto& [id, fp] : files_) {
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

void TailManager::MarkPositionsDirty() {
  positions_dirty_ = true;
  if (positions_writer_ == nullptr || positions_write_scheduled_) return;
  positions_write_scheduled_ = true;
  absl::Duration wait = absl::Nanoseconds(last_positions_write_mono_) + positions_gap_ -
                        absl::Nanoseconds(absl::GetCurrentTimeNanos());
  if (last_positions_write_mono_ == 0 || wait <= absl::ZeroDuration()) {
    // After the handlers queued now (the acknowledgements that came together): one write.
    boost::asio::post(*io_, [this, alive = std::weak_ptr<int>(alive_)] {
      if (alive.expired()) return;
      WritePositionsNow();
    });
    return;
  }
  positions_timer_.expires_after(absl::ToChronoNanoseconds(wait));
  // A cancelled wait completes after the cancel, maybe after this object is gone (the
  // destructor cancels): look at nothing of ours before checking it is still alive.
  positions_timer_.async_wait(
      [this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
        if (alive.expired()) return;
        if (ec) {
          positions_write_scheduled_ = false;  // cancelled (shutdown: SavePositions writes)
          return;
        }
        WritePositionsNow();
      });
}

void TailManager::WritePositionsNow() {
  positions_write_scheduled_ = false;
  if (!positions_dirty_ || positions_writer_ == nullptr) return;
  timespec cpu0, cpu1;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
  std::string doc = RenderPositions(CollectPositions());
  positions_dirty_ = false;
  positions_writer_->Submit(std::move(doc));
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
  last_positions_write_mono_ = absl::GetCurrentTimeNanos();
  // Spend at most ~1% of a core on positions: with thousands of files a write costs
  // milliseconds of CPU (rendering here, writing on the writer's thread), and the gap grows with
  // it, up to 5 s (a node of tens of thousands of files; Alloy writes every 10 s).
  absl::Duration cost = absl::DurationFromTimespec(cpu1) - absl::DurationFromTimespec(cpu0) +
                        positions_writer_->last_write_duration();
  positions_gap_ = std::clamp(cost * 100, opt_.positions_min_interval,
                              std::max(opt_.positions_min_interval, absl::Seconds(5)));
}

void TailManager::OnPositionsWritten(const absl::Status& s) {
  // The writer's thread: the health text is behind its mutex, the counters are atomic.
  {
    std::lock_guard<std::mutex> lock(health_mu_);
    positions_error_ = s.ok() ? "" : std::string(s.message());
  }
  if (!s.ok()) {
    positions_errors_->Inc();
    LogError("tail", "cannot write positions file",
             {{"path", opt_.positions_path}, {"error", std::string(s.message())}});
    return;
  }
  positions_writes_->Inc();
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
  for (auto& [id, f] : files_) {
    if (!f->orphan || f->closed) continue;
    any = true;
    MarkReady(f.get());  // late writes before the writer switched files; EOF checks the grace
  }
  if (any) ArmOrphanTimer();
}

// ---- reading -------------------------------------------------------------------------------

void TailManager::MarkReady(File* f) {
  if (f->queued || f->closed) return;
  f->queued = true;
  ready_.push_back(f->id);
  SchedulePass();
}

void TailManager::SchedulePass() {
  if (pass_scheduled_ || stopping_ || paused_) return;
  pass_scheduled_ = true;
  boost::asio::post(*io_, [this, alive = std::weak_ptr<int>(alive_)] {
    if (alive.expired()) return;  // posted before this TailManager was destroyed
    ReadPass();
  });
}

void TailManager::Pause() {
  if (paused_) return;
  paused_ = true;
  paused_since_mono_ = clock_->MonotonicNanos();
  pauses_->Inc();
  // Nothing more will be added until acknowledgements arrive: send what is open now.
  output_->SealAll();
}

bool TailManager::BudgetFull() const {
  // A read adds up to a whole chunk of lines (lines are never longer than the bytes they came
  // from): reading stops while that could pass the budget, so what is read and not yet
  // acknowledged, which a crash sends again, never exceeds it. Reads stay whole chunks (fewer
  // system calls than reads cut to the room left).
  size_t inflight = Inflight();
  return inflight > 0 && inflight + opt_.read_chunk > opt_.memory_budget;
}

void TailManager::ReadPass() {
  pass_scheduled_ = false;
  if (stopping_) return;
  for (int turns = 0; turns < kTurnsPerPass && !ready_.empty(); ++turns) {
    if (BudgetFull() || output_->Backlogged()) {
      Pause();
      break;
    }
    uint64_t id = ready_.front();
    ready_.pop_front();
    auto it = files_.find(id);
    if (it == files_.end()) continue;
    File* f = it->second.get();
    f->queued = false;
    if (f->closed) continue;
    if (f->fd < 0 && !EnsureOpen(f)) {
      // EnsureOpen may have closed and forgotten the file (gone while parked): look it up again.
      auto again = files_.find(id);
      if (again != files_.end() && !again->second->closed) {
        again->second->queued = true;
        waiting_open_.push_back(id);
      }
      continue;
    }
    // Set before reading: a write that lands after this read then fires it.
    if (!f->write_armed) ArmWriteWatch(f);
    ReadResult r = ReadOnce(f);
    if (r == ReadResult::kMore) {
      f->queued = true;
      ready_.push_back(f->id);
    } else if (r == ReadResult::kEof && f->orphan &&
               clock_->MonotonicNanos() - f->last_data_mono >= ToNanos(opt_.orphan_grace)) {
      CloseFile(f);  // may forget it
    } else {
      NoteIdle(f);
    }
  }
  unacked_gauge_->Set(static_cast<double>(Inflight()));
  if (!waiting_open_.empty()) {
    if (ready_.empty()) {
      // Files that wait for a descriptor get the next pass, once reading the others has let
      // some of them go idle; a short timer (not a spin) brings that pass.
      ArmOpenRetry();
    }
  }
  if (!ready_.empty() && !paused_) SchedulePass();
}

void TailManager::ArmOpenRetry() {
  if (open_retry_armed_ || stopping_) return;
  open_retry_armed_ = true;
  open_retry_timer_.expires_after(std::chrono::milliseconds(50));
  open_retry_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: `this` may be gone
    open_retry_armed_ = false;
    while (!waiting_open_.empty()) {
      ready_.push_back(waiting_open_.front());
      waiting_open_.pop_front();
    }
    SchedulePass();
  });
}

void TailManager::NoteIdle(File* f) {
  if (f->fd < 0 || f->queued || f->orphan || f->closed) return;
  idle_.emplace_back(f->id, ++f->idle_seq);
  // Stale entries go as EvictIdle meets them; with few evictions they would pile up. At most one
  // entry per open file is current, so a sweep at twice that is paid for by the pushes before it.
  if (idle_.size() > 2 * open_files_ + 64) {
    std::erase_if(idle_, [this](const std::pair<uint64_t, uint64_t>& e) {
      auto it = files_.find(e.first);
      if (it == files_.end()) return true;
      const File* g = it->second.get();
      return g->idle_seq != e.second || g->fd < 0 || g->queued || g->orphan || g->closed;
    });
  }
}

void TailManager::EvictIdle(size_t target) {
  // Close the files that went idle longest ago: not queued (no data known to be pending), not
  // draining (an orphan's content is reachable only through its descriptor). Taken from the
  // front of idle_, not found by a pass over every file: a burst of new files parks each one
  // past the limit and reopens each parked file here, so a pass per call would make the burst
  // quadratic in the number of files.
  bool parked = false;
  while (open_files_ > target && !idle_.empty()) {
    auto [id, seq] = idle_.front();
    idle_.pop_front();
    auto it = files_.find(id);
    if (it == files_.end()) continue;
    File* f = it->second.get();
    if (f->idle_seq != seq || f->fd < 0 || f->queued || f->orphan || f->closed) continue;
    struct stat st;
    f->maybe_unread = fstat(f->fd, &st) != 0 || st.st_size != f->read_offset;
    f->parked_size = f->maybe_unread ? st.st_size : f->read_offset;
    ::close(f->fd);
    f->fd = -1;
    --open_files_;
    evictions_->Inc();
    parked = true;
  }
  if (parked) UpdateFilesActive();
}

bool TailManager::EnsureOpen(File* f) {
  // First whether the name still leads to our file: if not, no descriptor is needed to know it
  // is lost.
  struct stat st;
  bool name_exists = ::stat(f->path.c_str(), &st) == 0;
  bool gone = !name_exists ? errno == ENOENT
                           : st.st_dev != f->identity.device || st.st_ino != f->identity.inode;
  if (!gone) {
    if (open_files_ >= max_open_) EvictIdle(max_open_ - 1);
    if (open_files_ >= max_open_) return false;
    int fd = OpenForReading(f->path);
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == f->identity.device &&
        st.st_ino == f->identity.inode) {
      f->fd = fd;
      f->maybe_unread = false;
      ++open_files_;
      UpdateFilesActive();
      return true;
    }
    if (fd >= 0) ::close(fd);
    if (fd < 0 && errno != ENOENT) {
      read_errors_->Inc();
      return false;  // EACCES and the like: try again later
    }
  }
  // Deleted, or replaced by another file, while it was parked: what it held past our offset
  // cannot be read any more. Say so (when it may have held anything), then follow the name's
  // new file.
  if (f->maybe_unread) {
    files_lost_->Inc();
    // At least what it held when it was parked (it may have grown since: unknowable now).
    if (f->parked_size > f->read_offset) {
      rotated_bytes_lost_->Inc(static_cast<uint64_t>(f->parked_size - f->read_offset));
    }
    LogWarn("tail", "parked file vanished before it was read to its end",
            {{"path", f->path}, {"offset", std::to_string(f->read_offset)}});
  }
  std::string path = f->path;
  bool was_orphan = f->orphan;
  f->orphan = true;
  CloseFile(f);
  // Only a name that leads to another file now has anything to follow (a name that is gone
  // would count the same loss a second time, as a file deleted before it could be opened).
  if (!was_orphan && name_exists && Wanted(path)) MaybeAddFile(path, false);
  return false;
}

void TailManager::RestartFromZero(File* f, std::string_view why, int64_t size) {
  truncations_->Inc();
  LogWarn("tail", why,
          {{"path", f->path},
           {"offset", std::to_string(f->read_offset)},
           {"size", std::to_string(size)}});
  // Marks of the old content must not move the new content's position: a new generation.
  ++f->generation;
  f->read_offset = f->acked_offset = f->consumed_offset = 0;
  if (f->m_read_bytes != nullptr) {
    f->m_read_bytes->Set(0);
    f->m_file_bytes->Set(static_cast<double>(std::max<int64_t>(size, 0)));
  }
  // The old content's fingerprint would make the next start take this file for another one.
  (void)ComputeFingerprint(f->fd, &f->identity);
  f->carry.clear();
  f->skipping = false;
  for (Partial& p : f->partial) {
    p.buf.clear();
    p.active = false;
    p.truncated = false;
  }
  MarkPositionsDirty();
}

TailManager::ReadResult TailManager::ReadOnce(File* f) {
  const size_t want = read_buf_.size();
  ssize_t n = ::pread(f->fd, read_buf_.data(), want, f->read_offset);
  if (n == 0) {
    // At the end: only now is a stat worth its cost (not before every read). A file shorter than
    // our offset was truncated (copytruncate, or a writer that truncated): the content we knew
    // is gone; start over from 0.
    struct stat st;
    if (fstat(f->fd, &st) != 0) return ReadResult::kEof;
    if (f->m_file_bytes != nullptr) f->m_file_bytes->Set(static_cast<double>(st.st_size));
    if (st.st_size >= f->read_offset) return ReadResult::kEof;
    RestartFromZero(f, "file truncated, reading from the start", st.st_size);
    return ReadResult::kMore;
  }
  if (n < 0) {
    int err = errno;
    if (err == EINTR || err == EAGAIN) return ReadResult::kMore;
    read_errors_->Inc();
    LogWarn("tail", "read failed", {{"path", f->path}, {"error", ErrnoText(err)}});
    return ReadResult::kError;
  }
  int64_t base = f->read_offset;
  f->read_offset += n;
  f->last_data_mono = clock_->MonotonicNanos();
  // One clock read per chunk, not per line: the read time of plain lines.
  chunk_time_ns_ = clock_->NowUnixNanos();
  if (f->m_read_bytes != nullptr) {
    f->m_read_bytes->Set(static_cast<double>(f->read_offset));
    // The size is known at the end of the file only (no stat per read): at least this much.
    if (f->m_file_bytes->value() < static_cast<double>(f->read_offset)) {
      f->m_file_bytes->Set(static_cast<double>(f->read_offset));
    }
  }
  ProcessChunk(f, read_buf_.data(), static_cast<size_t>(n), base);
  return static_cast<size_t>(n) == want ? ReadResult::kMore : ReadResult::kEof;
}

void TailManager::ProcessChunk(File* f, const char* data, size_t n, int64_t base) {
  const size_t raw_limit = opt_.max_line_size + kPrefixAllowance;
  size_t pos = 0;
  uint64_t lines = 0;
  while (pos < n) {
    const char* nl = static_cast<const char*>(memchr(data + pos, '\n', n - pos));
    if (nl == nullptr) break;
    size_t end = static_cast<size_t>(nl - data);
    int64_t line_end = base + static_cast<int64_t>(end) + 1;
    ++lines;
    if (!f->carry.empty() || f->skipping) {
      int64_t line_start = f->carry_start;
      line_cut_counted_ = f->skipping;  // counted when the cut began
      if (!f->skipping) {
        size_t room = raw_limit - std::min(raw_limit, f->carry.size());
        size_t take = std::min(room, end - pos);
        if (take < end - pos) CountCut();
        f->carry.append(data + pos, take);
      }
      line_buf_.swap(f->carry);
      f->carry.clear();
      f->skipping = false;
      ProcessLine(f, line_buf_, line_start, line_end);
    } else {
      std::string_view line(data + pos, end - pos);
      line_cut_counted_ = false;
      if (line.size() > raw_limit) {
        CountCut();
        line = line.substr(0, raw_limit);
      }
      ProcessLine(f, line, base + static_cast<int64_t>(pos), line_end);
    }
    f->consumed_offset = line_end;
    pos = end + 1;
  }
  if (f->m_read_lines != nullptr) f->m_read_lines->Inc(lines);
  if (pos < n) {
    // An incomplete line: keep it (bounded) until its newline arrives.
    if (f->skipping) return;
    if (f->carry.empty()) f->carry_start = base + static_cast<int64_t>(pos);
    size_t room = raw_limit - std::min(raw_limit, f->carry.size());
    size_t take = std::min(room, n - pos);
    f->carry.append(data + pos, take);
    if (take < n - pos) {
      // Past the limit with no newline in sight: keep the first part, drop the rest up to the
      // newline (counted once, when the line is cut).
      line_cut_counted_ = false;
      CountCut();
      f->skipping = true;
    }
  }
}

void TailManager::ProcessLine(File* f, std::string_view raw, int64_t line_start, int64_t line_end) {
  if (f->format == LogFormat::kAuto) {
    // Decided once per file from its first line: kubelet writes one format per file.
    CriLine probe;
    DockerLine dprobe;
    if (ParseCriLine(raw, &probe)) {
      f->format = LogFormat::kCri;
    } else if (!raw.empty() && raw.front() == '{' && docker_.Parse(raw, &dprobe)) {
      f->format = LogFormat::kDocker;
    } else {
      f->format = LogFormat::kPlain;
    }
  }
  switch (f->format) {
    case LogFormat::kCri: {
      CriLine cri;
      if (ParseCriLine(raw, &cri)) {
        HandlePiece(f, cri.stream, cri.partial, cri.timestamp_ns, cri.content, line_start,
                    line_end);
        return;
      }
      malformed_cri_->Inc();
      break;
    }
    case LogFormat::kDocker: {
      DockerLine d;
      if (docker_.Parse(raw, &d)) {
        HandlePiece(f, d.stream, d.partial, d.timestamp_ns, d.content, line_start, line_end);
        return;
      }
      malformed_docker_->Inc();
      break;
    }
    default:
      break;
  }
  // Plain line, or a malformed one shipped as it is: timestamp = read time, kept strictly
  // increasing per file so that Loki never takes two equal lines for one duplicate.
  if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
  int64_t ts = std::max(chunk_time_ns_, f->last_ts + 1);
  f->last_ts = ts;
  if (raw.size() > opt_.max_line_size) raw = raw.substr(0, opt_.max_line_size);
  Emit(f, LogStream::kNone, ts, raw, line_start, SafeMark(f, line_end));
}

void TailManager::CountCut() {
  // One count per line, however many of the limits (raw length, content length, length after
  // UTF-8 repair) it ran into.
  if (line_cut_counted_) return;
  line_cut_counted_ = true;
  truncated_lines_->Inc();
}

int64_t TailManager::SafeMark(const File* f, int64_t line_end) const {
  int64_t mark = line_end;
  for (const Partial& p : f->partial) {
    if (p.active) mark = std::min(mark, p.start_offset);
  }
  return mark;
}

void TailManager::HandlePiece(File* f, LogStream stream, bool partial, int64_t ts,
                              std::string_view content, int64_t line_start, int64_t line_end) {
  Partial& p = f->partial[static_cast<int>(stream)];
  if (!content.empty() && content.back() == '\r' && !partial) content.remove_suffix(1);
  if (!partial && !p.active) {
    if (content.size() > opt_.max_line_size) {
      CountCut();
      content = content.substr(0, opt_.max_line_size);
    }
    Emit(f, stream, ts, content, line_start, SafeMark(f, line_end));
    return;
  }
  if (!p.active) {
    p.active = true;
    p.truncated = false;
    p.start_offset = line_start;
    p.timestamp_ns = ts;
    p.buf.clear();
  }
  size_t room = opt_.max_line_size - std::min(opt_.max_line_size, p.buf.size());
  if (content.size() > room) {
    if (!p.truncated) CountCut();
    p.truncated = true;
    content = content.substr(0, room);
  }
  p.buf.append(content);
  if (partial) return;
  p.active = false;
  std::string_view joined = p.buf;
  if (!joined.empty() && joined.back() == '\r') joined.remove_suffix(1);
  Emit(f, stream, p.timestamp_ns, joined, p.start_offset, SafeMark(f, line_end));
  p.buf.clear();
}

void TailManager::MarkFile(File* f, int64_t offset) {
  output_->OnMark(f->route, f->id, f->generation, offset);
}

bool TailManager::Wanted(std::string_view path) const { return targets_.contains(Av(path)); }

void TailManager::Emit(File* f, LogStream stream, int64_t ts, std::string_view line, int64_t start,
                       int64_t mark_offset) {
  if (!IsValidUtf8(line)) {
    // Loki refuses invalid UTF-8; replacing it keeps the line (and the rest of its batch).
    utf8_buf_.clear();
    AppendSanitizedUtf8(line, &utf8_buf_);
    line = utf8_buf_;
    invalid_utf8_->Inc();
    if (line.size() > opt_.max_line_size) {
      // Replacement characters are 3 bytes for 1: cut again, on a character boundary, so that
      // Loki never sees a line over its limit.
      size_t cut = opt_.max_line_size;
      while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
      line = line.substr(0, cut);
      CountCut();
    }
  }
  int s = static_cast<int>(stream);
  if (!f->out_labels_set[s]) {
    f->out_labels[s] = f->labels;
    if (stream == LogStream::kStdout) f->out_labels[s].Set("stream", "stdout");
    if (stream == LogStream::kStderr) f->out_labels[s].Set("stream", "stderr");
    f->out_labels_set[s] = true;
  }
  output_->OnEntry(f->route, f->id, f->generation, f->out_labels[s], ts, line, start, mark_offset);
}

void TailManager::CloseFile(File* f) {
  chunk_time_ns_ = clock_->NowUnixNanos();
  // A rotated or deleted file that was quiet for the grace period: what it still holds of an
  // unfinished line will never be completed, so ship it rather than lose it.
  if (!f->carry.empty()) {
    line_cut_counted_ = f->skipping;  // an overlong last line: its first part still goes out
    f->skipping = false;
    line_buf_.swap(f->carry);
    f->carry.clear();
    ProcessLine(f, line_buf_, f->carry_start, f->read_offset);
  }
  for (int s = 0; s < 3; ++s) {
    Partial& p = f->partial[s];
    if (!p.active) continue;
    p.active = false;
    Emit(f, static_cast<LogStream>(s), p.timestamp_ns, p.buf, p.start_offset, f->read_offset);
    p.buf.clear();
  }
  f->consumed_offset = f->read_offset;
  MarkFile(f, f->read_offset);
  if (f->fd >= 0) {
    ::close(f->fd);
    --open_files_;
  }
  f->fd = -1;
  f->closed = true;
  DropWriteWatch(f);
  by_inode_.erase({f->identity.device, f->identity.inode});
  ReleasePathMetrics(f);  // no longer tailed: its series go, as Alloy's tailer removes them
  UpdateFilesActive();
  LogDebug("tail", "closed drained file", {{"path", f->path}});
  MaybeForget(f);
}

void TailManager::MaybeForget(File* f) {
  // Keep a closed file until everything it produced is acknowledged, so that its position
  // survives a restart in between.
  if (!f->closed || f->acked_offset < f->consumed_offset) return;
  auto p = by_path_.find(f->path);
  if (p != by_path_.end() && p->second == f->id) by_path_.erase(p);
  if (!f->alias.empty()) {
    auto a = by_path_.find(f->alias);
    if (a != by_path_.end() && a->second == f->id) by_path_.erase(a);
    auto l = link_targets_.find(f->alias);
    if (l != link_targets_.end() && !by_path_.contains(l->second)) link_targets_.erase(l);
  }
  MarkPositionsDirty();
  output_->OnFileForgotten(f->id);
  files_.erase(f->id);
}

void TailManager::SetTargets(std::vector<FileTarget> targets) {
  absl::flat_hash_map<std::string, FileTarget> next;
  for (FileTarget& t : targets) {
    std::string path = t.path;
    next.emplace(std::move(path), std::move(t));
  }
  // Paths no longer targets: read what they hold to the end, then let go (Alloy stops at once
  // and loses the unread tail).
  for (auto& [path, t] : targets_) {
    if (next.contains(path)) continue;
    auto it = by_path_.find(path);
    if (it == by_path_.end()) continue;
    File* f = files_[it->second].get();
    if (!f->closed && !f->orphan) OrphanFile(f);
  }
  std::vector<std::string> added;
  for (auto& [path, t] : next) {
    auto old = targets_.find(path);
    if (old == targets_.end()) {
      added.push_back(path);
      continue;
    }
    if (old->second.labels == t.labels && old->second.route == t.route) continue;
    // New labels for a file being read: its next entries carry them.
    auto it = by_path_.find(path);
    if (it == by_path_.end()) continue;
    File* f = files_[it->second].get();
    f->labels = t.labels;
    f->pos_labels = f->labels.RenderLoki();
    f->labels.Set("filename", path);
    f->route = t.route;
    MarkPositionsDirty();
    for (bool& b : f->out_labels_set) b = false;
  }
  targets_ = std::move(next);
  if (!started_) return;  // Start() opens them
  SortLinksLast(&added);
  for (const std::string& path : added) {
    size_t slash = path.rfind('/');
    if (slash != std::string::npos) AddWatch(slash == 0 ? "/" : path.substr(0, slash));
    // A file not there yet is opened when it appears (its directory is watched): not a loss.
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) MaybeAddFile(path, false);
  }
  // Positions restored at start for these paths may be of files rotated while we were down.
  if (!added.empty() && !restored_.empty()) DrainRotated(added);
}

void TailManager::Commit(uint64_t file_id, uint64_t generation, int64_t offset) {
  auto it = files_.find(file_id);
  if (it == files_.end()) return;
  File* f = it->second.get();
  if (generation != f->generation) return;  // marks from before a truncation
  if (offset > f->acked_offset) {
    f->acked_offset = offset;
    MarkPositionsDirty();
  }
  if (f->closed) MaybeForget(f);
}

void TailManager::OnOutputProgress() {
  unacked_gauge_->Set(static_cast<double>(Inflight()));
  if (paused_ && !BudgetFull() && !output_->Backlogged()) {
    paused_ = false;
    paused_ns_->Inc(static_cast<uint64_t>(clock_->MonotonicNanos() - paused_since_mono_));
    SchedulePass();
  }
}

void TailManager::StopReading() {
  stopping_ = true;
  boost::system::error_code ec;
  rescan_timer_.cancel();
  // Not positions_timer_: acknowledgements still arrive while the pipeline drains, and a kill
  // during the drain must find them on disk.
  orphan_timer_.cancel();
  coalesce_timer_.cancel();
  if (inotify_) inotify_->cancel(ec);
  if (data_inotify_ && data_inotify_->is_open()) data_inotify_->cancel(ec);
  output_->SealAll();
}

std::optional<std::string> TailManager::Unhealthy() const {
  std::lock_guard<std::mutex> lock(health_mu_);
  if (positions_error_.empty()) return std::nullopt;
  return absl::StrCat("cannot write positions file: ", positions_error_);
}

std::vector<PositionRecord> TailManager::CollectPositions() {
  std::vector<PositionRecord> records;
  records.reserve(files_.size() + restored_.size());
  for (auto& [id, f] : files_) {
    if (f->fd >= 0 && f->identity.fingerprint_len < kFingerprintMaxBytes &&
        f->acked_offset > static_cast<int64_t>(f->identity.fingerprint_len)) {
      // The file has grown since it was fingerprinted: a longer fingerprint tells it apart
      // from a later file on the same inode more surely.
      (void)ComputeFingerprint(f->fd, &f->identity);
    }
    PositionRecord r;
    r.path = f->path;
    r.labels = f->pos_labels;
    r.offset = f->acked_offset;
    r.has_identity = true;
    r.id = f->identity;
    records.push_back(std::move(r));
  }
  // Positions read at start that no target claimed yet (a discovery that has not answered, a
  // kubelet down at start) are kept while their file exists: another restart before the targets
  // come must not read those files again from the start. (Alloy, too, drops only the entries of
  // files that no longer exist.)
  for (const auto& [path, list] : path_restored_) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) continue;
    for (const PathRestored& pr : list) {
      if (pr.has_identity && st.st_ino != pr.identity.inode) continue;  // restored_ holds it
      PositionRecord rec;
      rec.path = path;
      rec.labels = pr.labels;
      rec.offset = pr.offset;
      rec.has_identity = pr.has_identity;
      rec.id = pr.identity;
      records.push_back(std::move(rec));
    }
  }
  return records;
}

absl::Status TailManager::SavePositions() {
  if (opt_.positions_path.empty()) return absl::OkStatus();
  positions_timer_.cancel();
  std::string doc = RenderPositions(CollectPositions());
  positions_dirty_ = false;
  if (positions_writer_ == nullptr) {
    // Not started (tests): write directly.
    absl::Status s = WritePositionsData(opt_.positions_path, doc, true);
    OnPositionsWritten(s);
    return s;
  }
  return positions_writer_->Flush(std::move(doc));
}

}  // namespace sluice
