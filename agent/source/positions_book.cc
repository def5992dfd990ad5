#include "agent/source/positions_book.h"

#include <dirent.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <boost/asio/post.hpp>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "agent/common/log.h"

namespace sluice {

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

PositionsBook::PositionsBook(boost::asio::io_context* io, Options options, MetricsRegistry* metrics,
                             const FileRegistry* files)
    : io_(io),
      opt_(std::move(options)),
      metrics_(metrics),
      files_(files),
      timer_(*io),
      gap_(opt_.min_interval),
      truncations_(metrics->GetCounter("sluice_file_truncations_total",
                                       "Files that shrank below the read offset (copytruncate).")),
      errors_(metrics->GetCounter("sluice_positions_write_errors_total",
                                  "Failed writes of the positions file.")),
      writes_(metrics->GetCounter(
          "sluice_positions_writes_total",
          "Writes of the positions file (after acknowledgements, coalesced and rate-limited).")) {}

PositionsBook::~PositionsBook() {
  // First: its thread reports into members declared after it (health, counters).
  writer_.reset();
  // A pending timer handler then completes with operation_aborted and touches nothing of ours.
  timer_.cancel();
}

void PositionsBook::Load() {
  if (opt_.path.empty()) return;
  absl::StatusOr<std::vector<PositionRecord>> records = ReadPositionsFile(opt_.path);
  if (records.ok()) {
    LogInfo("tail", "positions loaded",
            {{"path", opt_.path}, {"files", std::to_string(records->size())}});
    Restore(std::move(*records));
  } else if (absl::IsNotFound(records.status()) && !opt_.legacy_path.empty()) {
    LoadLegacy();
  } else if (!absl::IsNotFound(records.status())) {
    // A broken positions file must not stop the agent (nor crash-loop it): the policy says
    // what becomes of the files found now; the next save replaces the broken file.
    load_failed_ = true;
    metrics_
        ->GetCounter("sluice_positions_read_errors_total",
                     "Positions files that could not be read and were ignored.")
        ->Inc();
    LogWarn("tail",
            opt_.on_error == PositionsErrorPolicy::kRestartFromBeginning
                ? "positions file unreadable, reading files from the beginning"
            : opt_.on_error == PositionsErrorPolicy::kRestartFromEnd
                ? "positions file unreadable, starting files at their end"
                : "positions file unreadable, skipping the files present now",
            {{"path", opt_.path}, {"error", std::string(records.status().message())}});
  }
  writer_ = std::make_unique<PositionsWriter>(
      opt_.path, opt_.interval, [this](const absl::Status& s, bool) { OnWritten(s); });
}

void PositionsBook::Restore(std::vector<PositionRecord> records) {
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

void PositionsBook::LoadLegacy() {
  // Promtail's map, or Alloy's (Alloy converts Promtail's entries to the `{}` key; both are
  // matched by path and labels, then by path alone).
  absl::StatusOr<std::vector<PositionRecord>> parsed = ReadPositionsFile(opt_.legacy_path);
  if (!parsed.ok()) {
    if (!absl::IsNotFound(parsed.status())) {
      LogWarn("tail", "legacy positions file unreadable, ignored",
              {{"path", opt_.legacy_path}, {"error", std::string(parsed.status().message())}});
    }
    return;
  }
  LogInfo("tail", "legacy positions imported",
          {{"path", opt_.legacy_path}, {"files", std::to_string(parsed->size())}});
  for (PositionRecord& r : *parsed) r.has_identity = false;  // another machine's inodes, maybe
  Restore(std::move(*parsed));
}

std::optional<int64_t> PositionsBook::TakeByInode(std::pair<uint64_t, uint64_t> key, int fd,
                                                  int64_t size, const std::string& path) {
  auto restored = restored_.find(key);
  if (restored == restored_.end()) return std::nullopt;
  int64_t start = 0;
  absl::StatusOr<bool> match = FingerprintMatches(fd, restored->second.identity);
  if (match.ok() && *match) {
    start = restored->second.offset;
    if (start > size) {
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
  return start;
}

int64_t PositionsBook::TakeByPath(const std::string& path, const std::string& labels, int fd,
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

std::vector<std::pair<std::string, std::string>> PositionsBook::FindRotated(
    const std::vector<std::string>& paths) const {
  // Restored positions no file matched: the file may have been rotated while we were down and
  // still sit next to its old name; look for its inode there so its tail is not lost.
  absl::flat_hash_set<std::string> only(paths.begin(), paths.end());
  std::vector<std::pair<std::string, std::string>> rotated;  // (where it is now, old name)
  for (const auto& [key, r] : restored_) {
    if (!only.contains(r.path)) continue;
    size_t slash = r.path.rfind('/');
    if (slash == std::string::npos) continue;
    std::string dir = r.path.substr(0, slash);
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) continue;
    while (dirent* e = readdir(d)) {
      if (e->d_ino != key.second) continue;
      std::string candidate = dir + "/" + e->d_name;
      if (!candidate.ends_with(".gz")) rotated.emplace_back(std::move(candidate), r.path);
      break;
    }
    closedir(d);
  }
  return rotated;
}

void PositionsBook::MarkDirty() {
  dirty_ = true;
  if (writer_ == nullptr || write_scheduled_) return;
  write_scheduled_ = true;
  absl::Duration wait =
      absl::Nanoseconds(last_write_mono_) + gap_ - absl::Nanoseconds(absl::GetCurrentTimeNanos());
  if (last_write_mono_ == 0 || wait <= absl::ZeroDuration()) {
    // After the handlers queued now (the acknowledgements that came together): one write.
    boost::asio::post(*io_, [this, alive = std::weak_ptr<int>(alive_)] {
      if (alive.expired()) return;
      WriteNow();
    });
    return;
  }
  timer_.expires_after(absl::ToChronoNanoseconds(wait));
  // A cancelled wait completes after the cancel, maybe after this object is gone (the
  // destructor cancels): look at nothing of ours before checking it is still alive.
  timer_.async_wait(
      [this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
        if (alive.expired()) return;
        if (ec) {
          write_scheduled_ = false;  // cancelled (shutdown: Save writes)
          return;
        }
        WriteNow();
      });
}

void PositionsBook::WriteNow() {
  write_scheduled_ = false;
  if (!dirty_ || writer_ == nullptr) return;
  timespec cpu0, cpu1;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
  std::string doc = renderer_.Render(Collect());
  dirty_ = false;
  writer_->Submit(std::move(doc));
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
  last_write_mono_ = absl::GetCurrentTimeNanos();
  // Spend at most ~1% of a core on positions: with thousands of files a write costs
  // milliseconds of CPU (rendering here, writing on the writer's thread), and the gap grows with
  // it, up to 5 s (a node of tens of thousands of files; Alloy writes every 10 s). A longer gap
  // (300x) sent more again after kill -9 (positions_e2e_test's bound) for no measured saving:
  // at 20k lines/s writes follow the acknowledgements (~8 a second) either way.
  absl::Duration cost = absl::DurationFromTimespec(cpu1) - absl::DurationFromTimespec(cpu0) +
                        writer_->last_write_duration();
  gap_ = std::clamp(cost * 100, opt_.min_interval, std::max(opt_.min_interval, absl::Seconds(5)));
}

void PositionsBook::OnWritten(const absl::Status& s) {
  // The writer's thread: the health text is behind its mutex, the counters are atomic.
  {
    std::lock_guard<std::mutex> lock(health_mu_);
    error_ = s.ok() ? "" : std::string(s.message());
  }
  if (!s.ok()) {
    errors_->Inc();
    LogError("tail", "cannot write positions file",
             {{"path", opt_.path}, {"error", std::string(s.message())}});
    return;
  }
  writes_->Inc();
}

std::optional<std::string> PositionsBook::Unhealthy() const {
  std::lock_guard<std::mutex> lock(health_mu_);
  if (error_.empty()) return std::nullopt;
  return absl::StrCat("cannot write positions file: ", error_);
}

std::vector<PositionRecord> PositionsBook::Collect() {
  std::vector<PositionRecord> records;
  records.reserve(files_->files().size() + restored_.size());
  for (const auto& [id, f] : files_->files()) {
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

absl::Status PositionsBook::Save() {
  if (opt_.path.empty()) return absl::OkStatus();
  timer_.cancel();
  std::string doc = renderer_.Render(Collect());
  dirty_ = false;
  if (writer_ == nullptr) {
    // Not started (tests): write directly.
    absl::Status s = WritePositionsData(opt_.path, doc, true);
    OnWritten(s);
    return s;
  }
  return writer_->Flush(std::move(doc));
}

}  // namespace sluice
