// PositionsBook: a TailManager's positions. At start-up it reads the positions file (or Alloy's
// legacy_positions_file) and holds the restored records until files claim them: by inode (with
// the fingerprint of the file's first bytes), else by path and labels, then by path alone. It
// renders the positions of the registry's files (and the restored records not claimed yet) and
// schedules their writes: at once after an acknowledgement moves an offset, at most once per
// positions_min_interval and at ~1% of a core, on the PositionsWriter's thread.
//
// Owned by a TailManager and used on the tail thread; only its writer's result (health,
// counters) arrives on the writer's thread, and Unhealthy() may be called from any thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/common/metrics.h"
#include "agent/source/file_registry.h"
#include "agent/source/fingerprint.h"
#include "agent/source/positions.h"
#include "agent/source/positions_writer.h"

namespace sluice {

// What to do with the files found at start-up when the positions file cannot be read (Alloy's
// loki.source.file on_positions_file_error).
enum class PositionsErrorPolicy {
  kRestartFromBeginning,  // read them from the start: duplicates, no loss (default)
  kRestartFromEnd,        // start them at their end: no duplicates, their unread lines lost
  kSkip,                  // do not tail them at all (files created later are tailed)
};
bool ParsePositionsErrorPolicy(std::string_view text, PositionsErrorPolicy* out);

class PositionsBook {
 public:
  struct Options {
    std::string path;  // empty: positions are not kept
    std::string legacy_path;
    absl::Duration interval;      // fsync period (PositionsWriter)
    absl::Duration min_interval;  // between two writes, at least
    PositionsErrorPolicy on_error = PositionsErrorPolicy::kRestartFromBeginning;
  };
  PositionsBook(boost::asio::io_context* io, Options options, MetricsRegistry* metrics,
                const FileRegistry* files);
  ~PositionsBook();

  // Reads the positions file (or the legacy one) and starts the writer. Tail thread.
  void Load();
  // The positions file was there and unreadable (the policy decides for the files found now).
  bool load_failed() const { return load_failed_; }

  // The restored position of the file with this inode key: nullopt if none was recorded; 0 if
  // one was and the file is not the same content (or is shorter). Consumes the record.
  std::optional<int64_t> TakeByInode(std::pair<uint64_t, uint64_t> key, int fd, int64_t size,
                                     const std::string& path);
  // The restored position for a new file at `path` with these position labels (consuming it),
  // or -1.
  int64_t TakeByPath(const std::string& path, const std::string& labels, int fd, int64_t size);
  bool has_inode_records() const { return !restored_.empty(); }
  // Files of restored positions of these paths that no file matched but whose inode is still
  // next to their old name (rotated while we were down): (where it is now, old name).
  std::vector<std::pair<std::string, std::string>> FindRotated(
      const std::vector<std::string>& paths) const;

  // Something to write changed: schedules a write.
  void MarkDirty();
  // Writes the positions file now, with fsync, and returns when it is done (no-op without a
  // path).
  absl::Status Save();
  std::optional<std::string> Unhealthy() const;

 private:
  void Restore(std::vector<PositionRecord> records);
  void LoadLegacy();
  void WriteNow();
  std::vector<PositionRecord> Collect();
  void OnWritten(const absl::Status& s);

  boost::asio::io_context* io_;
  Options opt_;
  MetricsRegistry* metrics_;
  const FileRegistry* files_;
  bool load_failed_ = false;

  // Positions restored at start-up with a file identity (written by sluice), by (device,
  // inode); consumed as files are found.
  struct Restored {
    std::string path;
    std::string labels;
    FileIdentity identity;
    int64_t offset;
  };
  absl::flat_hash_map<std::pair<uint64_t, uint64_t>, Restored> restored_;
  // Every restored position by path, identity or not (Alloy's and Promtail's files have none;
  // legacy_positions_path's too): a file no inode matched is matched by path and labels, then
  // by path alone, provided it is at least as long as the offset (and, with an identity, still
  // starts with the same bytes: a device number that changed across a reboot). Consumed as
  // files are found.
  struct PathRestored {
    std::string labels;
    int64_t offset = 0;
    bool has_identity = false;
    FileIdentity identity;
  };
  absl::flat_hash_map<std::string, std::vector<PathRestored>> path_restored_;

  // Writes: at most one scheduled; the next no sooner than gap_ after the last, which was handed
  // to the writer at last_write_mono_.
  std::unique_ptr<PositionsWriter> writer_;
  boost::asio::steady_timer timer_;
  bool dirty_ = false;
  bool write_scheduled_ = false;
  int64_t last_write_mono_ = 0;
  absl::Duration gap_;
  // The text of each file's path and labels, rendered by libyaml once (tail thread).
  PositionsRenderer renderer_;
  mutable std::mutex health_mu_;  // error_: written on the writer's thread, read by any
  std::string error_;
  Counter* truncations_;
  Counter* errors_;
  Counter* writes_;
  // Expires with this object; posted handlers check it.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace sluice
