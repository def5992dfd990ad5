// PositionsWriter: writes one positions file on a thread of its own, so that the tail thread
// hands over a rendered document in microseconds and never waits on the disk.
//
// - Coalescing: at most one write in flight; a document submitted meanwhile replaces the one
//   waiting (only the newest matters: offsets only grow).
// - Durability: every write goes to a spare file that then exchanges names with the positions
//   file (WritePositionsData), which survives the process (kill -9, OOM kill) the moment that
//   returns. Surviving the machine (power loss) needs fsync of the file and its directory, which
//   can take tens of milliseconds on a busy disk: that is done on a slower period
//   (`sync_interval`), for the newest document, and by Flush at shutdown.
// - Errors go to `on_result` (on the writer thread), which the owner uses for its health, logs
//   and metrics; the next document is tried regardless.
//
// Runs its own thread (started by the constructor, joined by the destructor, which first writes
// what is pending). Submit and Flush may be called from any thread; the TailManager that owns it
// calls them from the tail thread. The thread runs under StartThread's catch-all (logs, exits
// the process): positions that stop being written would silently turn every restart into a
// re-read.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace sluice {

class PositionsWriter {
 public:
  using ResultFn = std::function<void(const absl::Status& status, bool synced)>;

  PositionsWriter(std::string path, absl::Duration sync_interval, ResultFn on_result);
  ~PositionsWriter();
  PositionsWriter(const PositionsWriter&) = delete;
  PositionsWriter& operator=(const PositionsWriter&) = delete;

  // Queues `document` to be written (replacing one that waits). Returns at once.
  void Submit(std::string document);
  // Writes `document` now with fsync, after any write in flight, and returns its result. What
  // waited is dropped (`document` is newer).
  absl::Status Flush(std::string document);

  // The CPU time the last write took (a disk's wait excluded), for the caller's rate limit.
  absl::Duration last_write_duration() const;
  uint64_t writes() const;

 private:
  void RunLoop();

  const std::string path_;
  const absl::Duration sync_interval_;
  const ResultFn on_result_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::string> pending_;           // guarded by mu_
  bool writing_ = false;                         // guarded by mu_: a write is in flight
  bool stop_ = false;                            // guarded by mu_
  bool unsynced_ = false;                        // guarded by mu_: written since the last fsync
  absl::Time last_sync_ = absl::InfinitePast();  // guarded by mu_
  absl::Duration last_write_ = absl::ZeroDuration();  // guarded by mu_
  uint64_t writes_ = 0;                               // guarded by mu_
  std::thread thread_;
};

}  // namespace sluice
