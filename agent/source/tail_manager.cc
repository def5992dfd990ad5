#include "agent/source/tail_manager.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/common/strings.h"

namespace sluice {
namespace {

// Room for a CRI or docker prefix on top of max_line_size before a raw line counts as too long.
constexpr size_t kPrefixAllowance = 1024;
// A read pass yields to the event loop after this many file turns so that acknowledgements,
// inotify events and timers are not starved by a long catch-up.
constexpr int kTurnsPerPass = 64;

int64_t ToNanos(absl::Duration d) { return absl::ToInt64Nanoseconds(d); }

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

PositionsBook::Options BookOptions(const TailOptions& opt) {
  PositionsBook::Options o;
  o.path = opt.positions_path;
  o.legacy_path = opt.legacy_positions_path;
  o.interval = opt.positions_interval;
  o.min_interval = opt.positions_min_interval;
  o.on_error = opt.on_positions_error;
  return o;
}

}  // namespace

TailManager::TailManager(boost::asio::io_context* io, TailOptions options, const Clock* clock,
                         MetricsRegistry* metrics, TailOutput* output)
    : io_(io),
      opt_(std::move(options)),
      clock_(clock),
      metrics_(metrics),
      output_(output),
      component_labels_(opt_.component_id.empty() ? MetricLabels{}
                                                  : ComponentLabels(opt_.component_id)),
      truncations_(metrics->GetCounter("sluice_file_truncations_total",
                                       "Files that shrank below the read offset (copytruncate).")),
      pauses_(metrics->GetCounter("sluice_backpressure_pauses_total",
                                  "Times reading stopped because the memory budget was spent.")),
      paused_ns_(metrics->GetNanosCounter(
          "sluice_backpressure_paused_seconds_total",
          "Seconds during which reading was stopped by backpressure (unacknowledged bytes at the "
          "memory budget, or a stage holding lines back).")),
      inotify_overflows_(metrics->GetCounter("sluice_inotify_overflows_total",
                                             "inotify queue overflows (a rescan follows).")),
      read_errors_(metrics->GetCounter("sluice_file_read_errors_total", "Failed reads or opens.")),
      files_lost_(metrics->GetCounter(
          "sluice_files_lost_total",
          "Files deleted or replaced before they could be read to the end (parked files, or files "
          "gone before they could be opened).")),
      rotated_bytes_lost_(metrics->GetCounter(
          "sluice_rotated_bytes_lost_total",
          "Bytes of files deleted or replaced (rotated away, compressed) before they were read to "
          "their end: what they held past the read offset when last seen.")),
      files_active_(metrics->GetGauge("loki_source_file_files_active_total",
                                      "Number of active files.", component_labels_)),
      write_watch_errors_(metrics->GetCounter(
          "sluice_inotify_file_watch_errors_total",
          "Files whose write watch could not be set; they are read at each rescan instead.")),
      unacked_gauge_(metrics->GetGauge(
          "sluice_unacked_bytes",
          "Line bytes read and not yet acknowledged by every endpoint (counted against the memory "
          "budget).")),
      budget_(opt_.max_open_files, &files_, metrics),
      book_(io, BookOptions(opt_), metrics, &files_),
      cut_(metrics->GetCounter("sluice_lines_truncated_total",
                               "Lines cut at max_line_size; the rest of the line dropped.")),
      splitter_(opt_.max_line_size + kPrefixAllowance, opt_.max_line_size, &cut_, metrics),
      decoder_(opt_.max_line_size, &cut_, metrics),
      inotify_(io),
      data_inotify_(io),
      rescan_timer_(*io),
      orphan_timer_(*io),
      open_retry_timer_(*io),
      coalesce_timer_(*io),
      delay_timer_(*io),
      lines_truncated_(
          metrics->GetCounter("sluice_lines_truncated_total",
                              "Lines cut at max_line_size; the rest of the line dropped.")),
      invalid_encoding_(metrics->GetCounter(
          "sluice_lines_invalid_encoding_total",
          "Lines of a file in another encoding (loki.source.file encoding) with sequences that are "
          "not valid in it, replaced with U+FFFD.")) {
  next_file_id_ = opt_.file_id_base + 1;
  // Room after the chunk: every line read in it is followed by kEntryLinePadding readable bytes,
  // so that stage.json parses it in place (EntryLine::padded()).
  read_buf_.resize(opt_.read_chunk + kEntryLinePadding);
}

TailManager::~TailManager() {
  // A runtime rebuilt by a reload must leave no series of its files behind, nor its count.
  for (const auto& [id, f] : files_.files()) ReleasePathMetrics(f.get());
  files_active_->Add(-static_cast<double>(reported_active_));
  // Pending timer handlers then complete with operation_aborted and touch nothing of ours.
  rescan_timer_.cancel();
  orphan_timer_.cancel();
  open_retry_timer_.cancel();
  coalesce_timer_.cancel();
  delay_timer_.cancel();
  for (const auto& [id, f] : files_.files()) {
    if (f->fd >= 0) ::close(f->fd);
  }
  // The inotify instances close their descriptors; the positions book stops its writer.
}

absl::Status TailManager::Start() {
  book_.Load();

  SetUpInotify();
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
  if (!opt_.positions_path.empty()) book_.MarkDirty();
  SchedulePass();
  return absl::OkStatus();
}

void TailManager::DrainRotated(const std::vector<std::string>& paths) {
  for (const auto& [candidate, old_name] : book_.FindRotated(paths)) {
    // Read it as an orphan: to its end, then let go.
    MaybeAddFile(candidate, true);
    File* f = files_.AtPath(candidate);
    if (f == nullptr) continue;
    auto t = targets_.find(old_name);
    if (!targets_.contains(candidate) && t != targets_.end()) {
      // Read for the target it was tailed as (labels, format, route), as if it had been renamed
      // while tailed.
      f->labels = t->second.labels;
      f->decode.format = t->second.format;
      f->route = t->second.route;
      f->pos_labels = f->labels.RenderLoki();
      f->labels.Set("filename", old_name);
      f->labels.Compact();  // kept per file: without the growth of the added label
      f->out_stream = -1;
    }
    OrphanFile(f);
  }
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
  size_t n = budget_.open();
  files_active_->Add(static_cast<double>(n) - static_cast<double>(reported_active_));
  reported_active_ = n;
}

size_t TailManager::active_files() const {
  size_t n = 0;
  for (const auto& [id, f] : files_.files()) n += f->fd >= 0;
  return n;
}

size_t TailManager::orphan_files() const {
  size_t n = 0;
  for (const auto& [id, f] : files_.files()) n += f->orphan && !f->closed;
  return n;
}

size_t TailManager::hot_files() const {
  size_t n = 0;
  for (const auto& [id, f] : files_.files()) n += f->hot && !f->closed;
  return n;
}

int64_t TailManager::CommittedOffset(const std::string& path) const {
  const File* f = files_.AtPath(path);
  return f == nullptr ? -1 : f->acked_offset;
}

// ---- discovery -----------------------------------------------------------------------------

void TailManager::MaybeAddFile(const std::string& path, bool at_start) {
  File* known = files_.AtPath(path);
  if (known != nullptr) {
    File* f = known;
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
  if ((at_start || starting_) && book_.load_failed() &&
      opt_.on_positions_error == PositionsErrorPolicy::kSkip) {
    skipped_.insert(key);
    ::close(fd);
    LogWarn("tail", "skipping file (positions file unreadable, policy skip)", {{"path", path}});
    return;
  }
  if (File* f = files_.AtInode(key); f != nullptr) {
    // Already tailed under another name (a rename we did not see, or a hard link): follow the
    // file, not the name.
    ::close(fd);
    // A symlink to a file already tailed (both names are targets) adds nothing: read it once.
    if (is_link) return;
    if (f->path != path && !f->closed) {
      files_.MoveName(f, path);
      f->orphan = false;
      budget_.NoteIdle(f);  // no longer draining: it can be parked again
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
  f->decode.format = opt_.format;
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
    f->decode.format = t->second.format;
    f->route = t->second.route;
  }
  f->pos_labels = f->labels.RenderLoki();
  f->labels.Set("filename", path);
  f->labels.Compact();  // kept per file: without the growth of the added label

  if (opt_.compression != Compression::kNone || !opt_.encoding.empty()) {
    f->transform = std::make_unique<FileTransform>();
    f->transform->compressed = opt_.compression != Compression::kNone;
    if (!opt_.encoding.empty()) {
      absl::StatusOr<std::unique_ptr<Transcoder>> tc = Transcoder::Create(opt_.encoding);
      if (!tc.ok()) {
        // Checked when the component was built: only a broken iconv gets here.
        read_errors_->Inc();
        LogWarn("tail", "cannot decode file", {{"path", path}, {"error", tc.status().ToString()}});
        ::close(fd);
        return;
      }
      f->transform->transcode = *std::move(tc);
    }
  }
  // A compressed file's positions are in its decompressed bytes: its size tells nothing of them.
  const int64_t size_for_positions =
      opt_.compression != Compression::kNone ? std::numeric_limits<int64_t>::max() : st.st_size;
  int64_t start = 0;
  if (std::optional<int64_t> by_inode = book_.TakeByInode(key, fd, size_for_positions, path)) {
    start = *by_inode;
  } else if (int64_t by_path = book_.TakeByPath(path, f->pos_labels, fd, size_for_positions);
             by_path >= 0) {
    // Alloy's (or Promtail's) position for this path, or sluice's for a file whose inode key
    // changed.
    start = by_path;
  } else if ((at_start || starting_) &&
             (opt_.tail_from_end ||
              (book_.load_failed() &&
               opt_.on_positions_error == PositionsErrorPolicy::kRestartFromEnd)) &&
             opt_.compression == Compression::kNone) {
    // (A compressed file is read whole: its size is not a position in its decompressed bytes.)
    // Like Alloy's tail_from_end: only what is written from now on (a line being written at this
    // moment is shipped from where we start).
    start = st.st_size;
  }
  f->read_offset = f->acked_offset = f->consumed_offset = start;
  if (start > 0 && opt_.compression == Compression::kNone) {
    // Resumed past its start: its byte order mark (read once per open, as Alloy does) still
    // decides its encoding.
    char head[4];
    ssize_t got = ::pread(fd, head, sizeof(head), 0);
    if (got > 0) ApplyBom(f, std::string_view(head, static_cast<size_t>(got)));
    f->bom_checked = true;
  }
  if (f->transform != nullptr && f->transform->compressed &&
      opt_.initial_delay > absl::ZeroDuration()) {
    f->transform->not_before_mono = clock_->MonotonicNanos() + ToNanos(opt_.initial_delay);
  }
  AcquirePathMetrics(f, st.st_size);

  if (known != nullptr) {
    // The name now belongs to a new file; the old one (still open, or retired) keeps its id.
    if (!known->orphan && !known->closed) OrphanFile(known);
  }
  files_.Add(std::move(file));
  if (!real_path.empty() && real_path != path) {
    // Writes, renames and deletes happen where the file really is: watch that directory too and
    // know the file by that name as well.
    files_.AddAlias(f, real_path);
    size_t slash = real_path.rfind('/');
    if (slash != std::string::npos && slash > 0) AddWatch(real_path.substr(0, slash));
  }
  budget_.Opened();
  if (budget_.open() > budget_.max()) {
    EvictIdle(budget_.max());
    if (budget_.open() > budget_.max()) {
      // Nothing idle to close: this one waits, parked, for its turn.
      f->maybe_unread = true;
      f->parked_size = st.st_size;
      ::close(f->fd);
      f->fd = -1;
      budget_.Closed();
    }
  }
  UpdateFilesActive();
  book_.MarkDirty();
  LogDebug("tail", "tailing file", {{"path", path}, {"offset", std::to_string(start)}});
  MarkReady(f);
}

void TailManager::OrphanFile(File* f) {
  if (f->orphan) return;
  f->orphan = true;
  f->last_data_mono = clock_->MonotonicNanos();
  MarkReady(f);
  ArmOrphanTimer();
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
    File* f = files_.Find(id);
    if (f == nullptr) continue;
    f->queued = false;
    if (f->closed) continue;
    if (FileTransform* x = f->transform.get(); x != nullptr && x->compressed) {
      if (x->finished) {
        // Read whole already: renamed away or deleted, it can go now (its position with it).
        if (f->orphan) CloseFile(f);
        continue;
      }
      if (x->not_before_mono > clock_->MonotonicNanos()) {
        delayed_.push_back(f->id);
        ArmDelayTimer();
        continue;
      }
      if (x->inflate == nullptr && inflating_ >= kMaxInflating) {
        inflate_wait_.push_back(f->id);
        continue;
      }
    }
    if (f->fd < 0 && !EnsureOpen(f)) {
      // EnsureOpen may have closed and forgotten the file (gone while parked): look it up again.
      File* again = files_.Find(id);
      if (again != nullptr && !again->closed) {
        again->queued = true;
        budget_.Wait(id);
      }
      continue;
    }
    // Set before reading: a write that lands after this read then fires it. A hot file is read
    // at the next interval anyway and goes without.
    const bool polls = Polls(f);
    if (!f->write_armed && !(polls && f->hot)) ArmWriteWatch(f);
    const int64_t offset_before = f->read_offset;
    ReadResult r = ReadOnce(f);
    if (r == ReadResult::kMore) {
      f->queued = true;
      ready_.push_back(f->id);
    } else if (r == ReadResult::kEof && polls && f->read_offset != offset_before) {
      // New bytes: likely more at the next interval (a writing container).
      f->hot = true;
      hot_.push_back(f->id);
      budget_.NoteIdle(f);
    } else if (r == ReadResult::kEof && polls && f->hot) {
      // Quiet for an interval: back to its write watch, and one more read now that it is set
      // (a write between the read that found nothing and the watch fires nothing).
      f->hot = false;
      ArmWriteWatch(f);
      f->queued = true;
      ready_.push_back(f->id);
    } else if (r == ReadResult::kEof && f->orphan &&
               clock_->MonotonicNanos() - f->last_data_mono >= ToNanos(opt_.orphan_grace)) {
      CloseFile(f);  // may forget it
    } else {
      budget_.NoteIdle(f);
    }
  }
  unacked_gauge_->Set(static_cast<double>(Inflight()));
  if (!hot_.empty()) ArmCoalesce();
  if (budget_.has_waiting()) {
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
    budget_.ReleaseWaiting(&ready_);
    SchedulePass();
  });
}

bool TailManager::EnsureOpen(File* f) {
  // First whether the name still leads to our file: if not, no descriptor is needed to know it
  // is lost.
  struct stat st;
  bool name_exists = ::stat(f->path.c_str(), &st) == 0;
  bool gone = !name_exists ? errno == ENOENT
                           : st.st_dev != f->identity.device || st.st_ino != f->identity.inode;
  if (!gone) {
    if (budget_.open() >= budget_.max()) EvictIdle(budget_.max() - 1);
    if (budget_.open() >= budget_.max()) return false;
    int fd = OpenForReading(f->path);
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == f->identity.device &&
        st.st_ino == f->identity.inode) {
      f->fd = fd;
      f->maybe_unread = false;
      budget_.Opened();
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
  f->carry.Clear();
  f->decode.Reset();
  f->bom_checked = false;
  if (f->transform != nullptr) {
    f->transform->carry.Clear();
    f->transform->text_start = 0;
  }
  book_.MarkDirty();
}

TailManager::ReadResult TailManager::ReadOnce(File* f) {
  if (f->transform != nullptr && f->transform->compressed) return ReadCompressed(f);
  const size_t want = opt_.read_chunk;
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
  uint64_t lines = SplitChunk(f, read_buf_.data(), static_cast<size_t>(n), base);
  if (f->m_read_lines != nullptr) f->m_read_lines->Inc(lines);
  return static_cast<size_t>(n) == want ? ReadResult::kMore : ReadResult::kEof;
}

bool TailManager::Wanted(std::string_view path) const { return targets_.contains(Av(path)); }

void TailManager::CloseFile(File* f) {
  // A rotated or deleted file that was quiet for the grace period: what it still holds of an
  // unfinished line will never be completed, so ship it rather than lose it.
  FlushLines(f);
  ReleaseInflate(f);
  if (f->fd >= 0) {
    ::close(f->fd);
    budget_.Closed();
  }
  f->fd = -1;
  f->closed = true;
  DropWriteWatch(f);
  files_.DropInode(f);
  ReleasePathMetrics(f);  // no longer tailed: its series go, as Alloy's tailer removes them
  UpdateFilesActive();
  LogDebug("tail", "closed drained file", {{"path", f->path}});
  MaybeForget(f);
}

void TailManager::MaybeForget(File* f) {
  // Keep a closed file until everything it produced is acknowledged, so that its position
  // survives a restart in between.
  if (!f->closed || f->acked_offset < f->consumed_offset) return;
  // Gone from the registry first: the positions written from now on no longer hold it.
  uint64_t id = f->id;
  files_.Forget(f);
  book_.MarkDirty();
  output_->OnFileForgotten(id);
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
    File* f = files_.AtPath(path);
    if (f == nullptr) continue;
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
    File* f = files_.AtPath(path);
    if (f == nullptr) continue;
    f->labels = t.labels;
    f->pos_labels = f->labels.RenderLoki();
    f->labels.Set("filename", path);
    f->labels.Compact();  // kept per file: without the growth of the added label
    f->route = t.route;
    book_.MarkDirty();
    f->out_stream = -1;
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
  if (!added.empty() && book_.has_inode_records()) DrainRotated(added);
}

void TailManager::Commit(uint64_t file_id, uint64_t generation, int64_t offset) {
  File* f = files_.Find(file_id);
  if (f == nullptr) return;
  if (generation != f->generation) return;  // marks from before a truncation
  if (offset > f->acked_offset) {
    f->acked_offset = offset;
    book_.MarkDirty();
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
  rescan_timer_.cancel();
  // Not the positions book's timer: acknowledgements still arrive while the pipeline drains,
  // and a kill during the drain must find them on disk.
  orphan_timer_.cancel();
  coalesce_timer_.cancel();
  delay_timer_.cancel();
  inotify_.Cancel();
  data_inotify_.Cancel();
  output_->SealAll();
}

std::optional<std::string> TailManager::Unhealthy() const { return book_.Unhealthy(); }

absl::Status TailManager::SavePositions() { return book_.Save(); }

}  // namespace sluice
