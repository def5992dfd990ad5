// FileRegistry: the files a TailManager tails, and the names it knows them by. A file is known by
// its id (what entries and marks carry), by the names that lead to it (the name it is tailed
// under and, for a symlink, the file's real name, where its events arrive) and by its device and
// inode (a file renamed or linked elsewhere is followed, not read twice). TailFile is a file's
// state: its descriptor, offsets, watches, carried line and decoding state, labels and per-path
// series.
//
// Owned by a TailManager and used on the tail thread only. It keeps the maps consistent; what a
// rename or a deletion means (drain, reopen, forget) is the TailManager's.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "agent/common/metrics.h"
#include "agent/pipeline/labels.h"
#include "agent/source/file_transform.h"
#include "agent/source/fingerprint.h"
#include "agent/source/line_decoder.h"
#include "agent/source/line_splitter.h"

namespace sluice {

struct TailFile {
  uint64_t id = 0;
  std::string path;
  std::string alias;  // where a symlinked file really is (events arrive under that name)
  int fd = -1;
  FileIdentity identity;
  uint64_t generation = 0;
  int64_t read_offset = 0;      // next byte to read
  int64_t acked_offset = 0;     // committed: everything before it is acknowledged
  int64_t consumed_offset = 0;  // everything before it became entries or marks
  int64_t last_data_mono = 0;
  // Renamed away from a tailed name, or deleted: drain, then close.
  bool orphan = false;
  bool maybe_unread = false;       // parked (fd closed) with bytes possibly past read_offset
  bool closed = false;             // fd closed; kept until its marks are acknowledged
  bool queued = false;             // in the ready queue (or waiting for a descriptor)
  int write_wd = -1;               // its one-shot write watch on the write-event instance
  uint64_t name_checked_scan = 0;  // the rescan whose listing found its name unchanged
  bool write_armed = false;        // that watch is set and has not fired
  // Its last read found new bytes: read again at the next interval without a watch (a busy
  // file costs no inotify_add_watch per read); it gets its watch back once a read finds none.
  bool hot = false;
  LineCarry carry;           // an incomplete line
  bool bom_checked = false;  // its first bytes were looked at for a byte order mark
  // Compressed or transcoded (loki.source.file's decompression and encoding); null: its bytes
  // are UTF-8 lines as they are.
  std::unique_ptr<FileTransform> transform;
  DecodeState decode;  // format, partial lines
  LabelSet labels;     // without `stream`
  // The key of its position in Alloy's map: the target's labels without "__" ones (and
  // without `filename`, which Alloy adds after) as LabelSet.String().
  std::string pos_labels = "{}";
  uint32_t route = 0;
  // labels + `stream` of the LogStream out_stream (-1: not built), stamped (LabelSet::Stamp).
  // The other stream's set once the file switched between stdout and stderr (other_stream,
  // -1: none): a switch back is a swap that keeps both sets' tokens.
  LabelSet out_labels, other_labels;
  int8_t out_stream = -1, other_stream = -1;
  int64_t parked_size = 0;  // its size when it was parked (what was left to read then)
  uint64_t idle_seq = 0;    // names its latest entry in the idle queue (older ones are stale)
  // Alloy's per-path series (loki_source_file_*{path}), held from the moment the file is
  // tailed until it is closed; `metrics_path` is the path they carry ("" once released).
  std::string metrics_path;
  Gauge* m_read_bytes = nullptr;  // the read offset (Alloy: the position), not a sum
  Gauge* m_file_bytes = nullptr;  // the file's size when last seen
  Counter* m_read_lines = nullptr;

  std::pair<uint64_t, uint64_t> inode_key() const { return {identity.device, identity.inode}; }
};

// Where a name leads now, for a file known by `id`.
enum class NameState { kSame, kReplaced, kGone };
NameState CheckName(const std::string& path, const FileIdentity& id);

class FileRegistry {
 public:
  using Key = std::pair<uint64_t, uint64_t>;  // device, inode
  using Map = absl::flat_hash_map<uint64_t, std::unique_ptr<TailFile>>;

  const Map& files() const { return files_; }
  TailFile* Find(uint64_t id) const;
  TailFile* AtPath(std::string_view path) const;  // by its name or its real name
  TailFile* AtInode(Key key) const;
  // The symlink (a tailed name) that leads to `real_path`, or nullptr.
  const std::string* LinkTo(std::string_view real_path) const;

  // A new file, known by its path and inode from now on (its path taken from an older file).
  TailFile* Add(std::unique_ptr<TailFile> file);
  // A symlinked file is known by its real name too (and that name leads to its path).
  void AddAlias(TailFile* f, const std::string& real_path);
  // The file is found under `path` (a rename not seen, or a hard link): its old name goes.
  void MoveName(TailFile* f, const std::string& path);
  // The file was renamed to `path` (an event): the names it had go, if still its own.
  void Renamed(TailFile* f, const std::string& path);
  // Closed: its inode may be another file's from now on.
  void DropInode(const TailFile* f);
  // Gone for good: its names (if still its own) and its state.
  void Forget(TailFile* f);

 private:
  Map files_;
  absl::flat_hash_map<std::string, uint64_t> by_path_;
  absl::flat_hash_map<Key, uint64_t> by_inode_;
  // Real path of a symlinked file -> the symlink (a target) that points to it.
  absl::flat_hash_map<std::string, std::string> link_targets_;
};

}  // namespace sluice
