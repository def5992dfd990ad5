#include "agent/source/positions_writer.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/common/thread.h"
#include "agent/source/positions.h"

namespace sluice {
namespace {

// CPU time of the calling thread: what a write costs the machine (an fsync's wait is not).
absl::Duration ThreadCpuTime() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return absl::DurationFromTimespec(ts);
}

// fsync of what rename put in place, and of its directory (the rename itself).
absl::Status SyncInPlace(const std::string& path) {
  for (int pass = 0; pass < 2; ++pass) {
    std::string target = path;
    if (pass == 1) {
      size_t slash = path.rfind('/');
      target = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    }
    int fd = open(target.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("positions file ", path, ": open"));
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    if (rc != 0) return absl::ErrnoToStatus(err, absl::StrCat("positions file ", path, ": fsync"));
  }
  return absl::OkStatus();
}

}  // namespace

PositionsWriter::PositionsWriter(std::string path, absl::Duration sync_interval, ResultFn on_result)
    : path_(std::move(path)), sync_interval_(sync_interval), on_result_(std::move(on_result)) {
  thread_ = StartThread("sluice-positions", [this] { RunLoop(); });
}

PositionsWriter::~PositionsWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void PositionsWriter::Submit(std::string document) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_ = std::move(document);
  }
  cv_.notify_all();
}

absl::Status PositionsWriter::Flush(std::string document) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return !writing_; });
  pending_.reset();
  writing_ = true;  // the writer thread waits for this one
  lock.unlock();
  absl::Duration start = ThreadCpuTime();
  absl::Status s = WritePositionsData(path_, document, /*sync=*/true);
  absl::Duration took = ThreadCpuTime() - start;
  lock.lock();
  writing_ = false;
  ++writes_;
  last_write_ = took;
  if (s.ok()) {
    unsynced_ = false;
    last_sync_ = absl::Now();
  }
  lock.unlock();
  cv_.notify_all();
  if (on_result_) on_result_(s, true);
  return s;
}

absl::Duration PositionsWriter::last_write_duration() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_write_;
}

uint64_t PositionsWriter::writes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return writes_;
}

void PositionsWriter::RunLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    // Wake for a document, to stop, or when the data written last is due for its fsync.
    auto ready = [this] { return stop_ || (pending_.has_value() && !writing_); };
    if (unsynced_ && sync_interval_ > absl::ZeroDuration()) {
      absl::Time due = last_sync_ + sync_interval_;
      cv_.wait_for(lock,
                   absl::ToChronoNanoseconds(std::max(due - absl::Now(), absl::ZeroDuration())),
                   ready);
    } else {
      cv_.wait(lock, ready);
    }
    if (pending_.has_value() && !writing_) {
      std::string doc = std::move(*pending_);
      pending_.reset();
      bool sync = sync_interval_ <= absl::ZeroDuration() ||
                  absl::Now() - last_sync_ >= sync_interval_ || stop_;
      writing_ = true;
      lock.unlock();
      absl::Duration start = ThreadCpuTime();
      absl::Status s = WritePositionsData(path_, doc, sync);
      absl::Duration took = ThreadCpuTime() - start;
      if (on_result_) on_result_(s, sync);
      lock.lock();
      writing_ = false;
      ++writes_;
      last_write_ = took;
      if (s.ok()) {
        unsynced_ = !sync;
        if (sync) last_sync_ = absl::Now();
      }
      cv_.notify_all();
      continue;
    }
    if (unsynced_ && !writing_ && absl::Now() - last_sync_ >= sync_interval_) {
      writing_ = true;
      lock.unlock();
      absl::Status s = SyncInPlace(path_);
      if (!s.ok() && on_result_) on_result_(s, true);
      lock.lock();
      writing_ = false;
      unsynced_ = false;  // tried; the next write starts a new period either way
      last_sync_ = absl::Now();
      cv_.notify_all();
      continue;
    }
    if (stop_ && !pending_.has_value() && !writing_) {
      if (unsynced_) {
        lock.unlock();
        absl::Status s = SyncInPlace(path_);
        if (!s.ok() && on_result_) on_result_(s, true);
        lock.lock();
        unsynced_ = false;
      }
      return;
    }
  }
}

}  // namespace sluice
