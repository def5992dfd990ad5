#include "agent/source/open_budget.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace sluice {

OpenFileBudget::OpenFileBudget(size_t max_open_files, const FileRegistry* files,
                               MetricsRegistry* metrics)
    : files_(files),
      max_(max_open_files),
      evictions_(metrics->GetCounter(
          "sluice_files_parked_total",
          "Idle files closed to stay within max_open_files (reopened for their next turn).")) {
  if (max_ == 0) {
    rlimit rl;
    // Leave room for sockets, the positions file, inotify and the libraries' own descriptors.
    max_ = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
               ? static_cast<size_t>(rl.rlim_cur)
               : 65536;
    max_ = max_ > 256 ? max_ - 128 : std::max<size_t>(16, max_ / 2);
  }
}

void OpenFileBudget::NoteIdle(TailFile* f) {
  if (f->fd < 0 || f->queued || f->orphan || f->closed) return;
  idle_.emplace_back(f->id, ++f->idle_seq);
  // Stale entries go as EvictIdle meets them; with few evictions they would pile up. At most one
  // entry per open file is current, so a sweep at twice that is paid for by the pushes before it.
  if (idle_.size() > 2 * open_ + 64) {
    std::erase_if(idle_, [this](const std::pair<uint64_t, uint64_t>& e) {
      const TailFile* g = files_->Find(e.first);
      if (g == nullptr) return true;
      return g->idle_seq != e.second || g->fd < 0 || g->queued || g->orphan || g->closed;
    });
  }
}

bool OpenFileBudget::EvictIdle(size_t target) {
  // Close the files that went idle longest ago: not queued (no data known to be pending), not
  // draining (an orphan's content is reachable only through its descriptor). Taken from the
  // front of idle_, not found by a pass over every file: a burst of new files parks each one
  // past the limit and reopens each parked file here, so a pass per call would make the burst
  // quadratic in the number of files.
  bool parked = false;
  while (open_ > target && !idle_.empty()) {
    auto [id, seq] = idle_.front();
    idle_.pop_front();
    TailFile* f = files_->Find(id);
    if (f == nullptr) continue;
    if (f->idle_seq != seq || f->fd < 0 || f->queued || f->orphan || f->closed) continue;
    struct stat st;
    f->maybe_unread = fstat(f->fd, &st) != 0 || st.st_size != f->read_offset;
    f->parked_size = f->maybe_unread ? st.st_size : f->read_offset;
    ::close(f->fd);
    f->fd = -1;
    --open_;
    evictions_->Inc();
    parked = true;
  }
  return parked;
}

void OpenFileBudget::ReleaseWaiting(std::deque<uint64_t>* ready) {
  while (!waiting_.empty()) {
    ready->push_back(waiting_.front());
    waiting_.pop_front();
  }
}

}  // namespace sluice
