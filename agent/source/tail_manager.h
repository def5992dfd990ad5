// TailManager: tails the files of its targets, turns their lines into entries for its
// TailOutput, and commits positions as their entries are acknowledged. The coordinator of the
// tailer: it decides what to read when, and what a rename, a deletion or a truncation means;
// the work is in its parts:
//   Inotify          two instances: the targets' directories (files that appear, are renamed or
//                    deleted) and one-shot per-file write watches;
//   FileRegistry     the files by id, name and inode, and each file's state (TailFile);
//   OpenFileBudget   descriptors within max_open_files (idle files parked and reopened);
//   LineSplitter     read bytes to lines (carry, max_line_size, UTF-8 repair);
//   LineDecoder      format detection, CRI/docker parsing, partial lines joined per stream;
//   PositionsBook    restored positions, the positions file and its writes.
//
// Runs entirely on the tail thread's io_context (inotify, timers, reads, parsing,
// acknowledgements), so none of its state needs a lock; other threads reach it only through
// boost::asio::post. Owned by its loki.source.file component (agent/components/loki/source/
// file.cc); its entries go to a TailOutput (the Runtime's LogsRouter).
//
// How it keeps its promises:
// - Event driven: one inotify instance watches the targets' directories for files that
//   appear, are renamed or deleted (handled at once); a second holds a one-shot IN_MODIFY watch
//   per idle file, set just before the file is read, and is read once per event_coalesce
//   (one event per file per interval, not one per write). A file whose last read found bytes is
//   "hot": it is read again at the next interval without a watch (setting one is a path lookup
//   in the kernel, ~10% of the agent's CPU at 20k lines/s when done before every read); the
//   first read that finds nothing sets its watch and reads once more, so no write between the
//   two is missed. A periodic rescan is the safety net for an overflowed inotify queue, missed
//   events or watches the kernel refused.
// - Fair and bounded: a file is read at most `read_chunk` bytes per turn, then goes to the back
//   of the ready queue; lines are found with memchr in a large buffer, no syscall per line.
// - Backpressure: bytes handed to the output and not yet acknowledged are counted against
//   `memory_budget`; at the budget reading stops (files stay marked ready: the files are the
//   buffer) until acknowledgements bring it back down.
// - Positions: a file's committed offset advances only through the marks of acknowledged
//   entries (delivered, or dropped and counted). A CRI partial line holds the mark at its start
//   until its final piece is read, so a restart never resumes in the middle of a joined line.
// - Files are known by device + inode (+ a fingerprint of their first bytes when restoring
//   positions), so a renamed (rotated) file keeps being read to its end under its new name and
//   a new file under the old name starts from zero.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/common/clock.h"
#include "agent/common/metrics.h"
#include "agent/pipeline/labels.h"
#include "agent/process/entry_line.h"
#include "agent/runtime/acked_source.h"
#include "agent/source/cri_parser.h"
#include "agent/source/file_registry.h"
#include "agent/source/file_transform.h"
#include "agent/source/inotify.h"
#include "agent/source/line_decoder.h"
#include "agent/source/line_splitter.h"
#include "agent/source/log_format.h"
#include "agent/source/open_budget.h"
#include "agent/source/positions_book.h"

namespace sluice {

// One file to tail (loki.source.file's targets).
struct FileTarget {
  std::string path;
  LabelSet labels;  // the target's labels ("__" ones included; never sent)
  LogFormat format = LogFormat::kPlain;
  uint32_t route = 0;  // passed back with each entry (TailOutput)
};

// Where entries go (the component graph: LogsRouter). Called on the tail thread only; owned by
// whoever built the TailManager, outlives its reading.
class TailOutput {
 public:
  virtual ~TailOutput() = default;
  // One entry. `labels`: the file's (target's) labels plus `stream` for CRI/docker lines.
  // [start, end): the file bytes it came from. `cri`: for CRI lines, what stage.cri would have
  // extracted (for a route that enters a loki.process after its stage.cri); else null.
  // `line` is valid for the call only; `padded`: kEntryLinePadding readable bytes follow it (a
  // line in the read buffer), see EntryLine.
  virtual void OnEntry(uint32_t route, uint64_t file_id, uint64_t generation,
                       const LabelSet& labels, int64_t timestamp_ns, std::string_view line,
                       int64_t start, int64_t end, const CriPieceFields* cri, bool padded) = 0;
  // Everything of the file before `offset` has been passed on (or skipped): once acknowledged
  // downstream, the output calls TailManager::Commit.
  virtual void OnMark(uint32_t route, uint64_t file_id, uint64_t generation, int64_t offset) = 0;
  // The entries of one read chunk have all been passed on: an output that holds back the marks
  // of entries (one mark per chunk rather than one per line) passes them on now.
  virtual void EndOfChunk() {}
  // The file is closed and fully committed; its state can go.
  virtual void OnFileForgotten(uint64_t file_id) = 0;
  // Line bytes handed out and not yet acknowledged (what the memory budget counts).
  virtual size_t inflight_bytes() const = 0;
  // Reading paused or stopping: send what is batched now.
  virtual void SealAll() = 0;
  // True while a stage wants reading to stop (loki.process limit with drop = false).
  virtual bool Backlogged() const { return false; }
};

// The files to tail are exactly those given to SetTargets(); their directories are watched for
// rotation.
struct TailOptions {
  // File ids start past this (several TailManagers share one TailOutput).
  uint64_t file_id_base = 0;
  LogFormat format = LogFormat::kAuto;
  size_t max_line_size = 256 * 1024;       // Loki's default max_line_size; longer lines truncated
  size_t read_chunk = 256 * 1024;          // bytes read from one file per turn (fairness)
  size_t memory_budget = 8 * 1024 * 1024;  // line bytes read but not yet acknowledged
  absl::Duration rescan_interval = absl::Seconds(10);
  // Positions are written (temporary file + rename: safe from kill -9) as soon as an
  // acknowledgement moves an offset, at most once per positions_min_interval and spending at
  // most ~1% of a core on it (the gap grows with the cost of a write, for nodes with many files);
  // fsync (safe from power loss) every positions_interval and at shutdown.
  absl::Duration positions_interval = absl::Seconds(5);
  absl::Duration positions_min_interval = absl::Milliseconds(10);
  // A file renamed away or deleted keeps being read until it has been quiet this long.
  absl::Duration orphan_grace = absl::Seconds(5);
  // A file written to is read this long after the write's event, together with the writes
  // that follow (0: at once).
  absl::Duration event_coalesce = absl::Milliseconds(50);
  std::string positions_path;  // empty: positions are not kept
  // Alloy's legacy_positions_file: a Promtail (or Alloy) positions file whose offsets are used,
  // by path, for files the positions file does not know yet.
  std::string legacy_positions_path;
  bool tail_from_end = false;  // for files with no stored position at start-up
  PositionsErrorPolicy on_positions_error = PositionsErrorPolicy::kRestartFromBeginning;
  // Files held open at once; 0 = the process's RLIMIT_NOFILE less a reserve. Past it, idle files
  // are closed ("parked", their write watch kept) and reopened for their turn.
  size_t max_open_files = 0;
  // loki.source.file's decompression: every file is read as one compressed stream (offsets and
  // positions in its decompressed bytes), once, `initial_delay` after it is found, to its end.
  Compression compression = Compression::kNone;
  absl::Duration initial_delay = absl::ZeroDuration();
  // loki.source.file's encoding (empty: UTF-8): lines are split and decoded in it.
  std::string encoding;
  // The loki.source.file component (Alloy labels its metrics with component_id and
  // component_path="/"); empty: no component labels.
  std::string component_id;
};

class TailManager final : public AckedSource {
 public:
  // Entries go to `output` (required), which outlives this TailManager's reading.
  TailManager(boost::asio::io_context* io, TailOptions options, const Clock* clock,
              MetricsRegistry* metrics, TailOutput* output);
  ~TailManager();

  // The files to tail now. New paths are opened at once; a path no longer listed
  // is read to its end, then closed. Tail thread (before or after Start()).
  void SetTargets(std::vector<FileTarget> targets);
  // Everything of `file_id` before `offset` is acknowledged downstream.
  void Commit(uint64_t file_id, uint64_t generation, int64_t offset) override;
  // Acknowledgements brought the in-flight bytes down; resume if paused.
  void OnOutputProgress() override;

  // Loads positions, sets up inotify, opens the targets and starts reading. Tail thread.
  absl::Status Start();

  // Stops reading and timers and has the output seal what it batched. Entries of unfinished partial
  // lines stay unacknowledged (re-read after a restart). Tail thread.
  void StopReading();

  // Writes the positions file now, with fsync, and returns when it is done (no-op without a
  // path). Tail thread.
  absl::Status SavePositions();
  // Why this source is failing (its positions file cannot be written: a restart would read
  // again what was delivered since), or nullopt. Any thread.
  std::optional<std::string> Unhealthy() const;

  // Introspection for tests and metrics (tail thread).
  bool paused() const { return paused_; }
  size_t active_files() const;
  size_t orphan_files() const;  // renamed away or deleted, still being drained
  size_t hot_files() const;     // read again at the next interval, without a write watch
  int64_t CommittedOffset(const std::string& path) const;  // -1 if not tracked

  // Runs one read pass synchronously (tests drive the loop by hand).
  void ReadPassForTest() { ReadPass(); }
  void RescanForTest() { Rescan(); }

 private:
  using File = TailFile;
  enum class ReadResult { kMore, kEof, kError };

  // Discovery and watches (tail_watch.cc).
  void SetUpInotify();
  void ScanDir(const std::string& dir, int depth);
  void AddWatch(const std::string& dir);
  void MaybeAddFile(const std::string& path, bool at_start);
  void AddCreated(const std::string& path);
  void ArmInotify();
  void ArmDataInotify();
  void ReadDataEvents();
  void HandleDataEvent(int wd, uint32_t mask);  // file watches carry no name
  void OnFileWritten(File* f);
  void ArmWriteWatch(File* f);
  void DropWriteWatch(File* f);
  void HandleEvent(int wd, uint32_t mask, uint32_t cookie, std::string_view name);
  void Rescan();
  void ArmRescan();
  void ArmOrphanTimer();
  // Reads, as orphans, the files of restored positions of these paths (targets just given,
  // whose labels and route those files take) rotated while we were down.
  void DrainRotated(const std::vector<std::string>& paths);

  // Reading (tail_manager.cc).
  void MarkReady(File* f);
  void SchedulePass();
  void ReadPass();
  ReadResult ReadOnce(File* f);
  void RestartFromZero(File* f, std::string_view why, int64_t size);
  // From here to Emit: tail_transform.cc.
  // Read through the file's Decompressor (file_transform.h): its decompressed bytes.
  ReadResult ReadCompressed(File* f);
  // Lines of `n` bytes of the file's text at offset `base` (a byte order mark at its start
  // looked at first), split and, for a transcoded file, turned into UTF-8.
  uint64_t SplitChunk(File* f, const char* data, size_t n, int64_t base);
  // The byte order mark of a file whose first bytes are `head` (Alloy: a UTF-8 mark is
  // skipped, a UTF-16 one decides the encoding).
  void ApplyBom(File* f, std::string_view head);
  // A compressed file read to its end: its last line goes out, its descriptor and decompressor
  // go; it stays known (its position kept) until its target goes.
  void FinishCompressed(File* f);
  // Lines a file will never complete (closed or finished) go out, marked at read_offset.
  void FlushLines(File* f);
  // Its decompressor goes (at its end, or to let a waiting file have one).
  void ReleaseInflate(File* f);
  void ArmDelayTimer();
  // A split line decoded (CRI, docker; partial lines joined) into entries for Emit.
  void ProcessLine(File* f, std::string_view raw, int64_t line_start, int64_t line_end);
  // One entry to the output, with its stream's label set (kept per file and stamped).
  void Emit(File* f, const DecodedLine& d);
  size_t Inflight() const { return output_->inflight_bytes(); }
  // Unacknowledged bytes leave no room for another read within memory_budget.
  bool BudgetFull() const;
  bool Wanted(std::string_view path) const;
  void CloseFile(File* f);
  void MaybeForget(File* f);
  void OrphanFile(File* f);
  bool EnsureOpen(File* f);
  void ArmOpenRetry();
  void ArmCoalesce();
  bool Polls(const TailFile* f) const;  // whether a read that finds bytes makes it hot
  void QueueHot();                      // the hot files into the ready queue (coalesce tick)
  void CheckOrphans();
  void Pause();
  // Per-path series (see TailFile::metrics_path).
  void AcquirePathMetrics(File* f, int64_t size);
  void ReleasePathMetrics(File* f);
  MetricLabels PathLabels(const std::string& path) const;
  // loki_source_file_files_active_total is shared by every TailManager (one per component when
  // no component_id is given): each adds its own change rather than setting its own count.
  void UpdateFilesActive();
  // Parks idle files until at most `target` are open.
  void EvictIdle(size_t target) {
    if (budget_.EvictIdle(target)) UpdateFilesActive();
  }

  boost::asio::io_context* io_;
  TailOptions opt_;
  const Clock* clock_;
  MetricsRegistry* metrics_;
  TailOutput* output_;
  // Metrics (Alloy's names where Alloy has one).
  MetricLabels component_labels_;  // component_id, component_path; empty without component_id
  size_t reported_active_ = 0;     // what this manager added to files_active_
  Counter* truncations_;
  Counter* pauses_;
  Counter* paused_ns_;  // sluice_backpressure_paused_seconds_total (nanoseconds, shown in s)
  Counter* inotify_overflows_;
  Counter* read_errors_;
  Counter* files_lost_;
  Counter* rotated_bytes_lost_;
  Gauge* files_active_;
  Counter* write_watch_errors_;
  Gauge* unacked_gauge_;

  FileRegistry files_;
  OpenFileBudget budget_;
  PositionsBook book_;
  LineCut cut_;
  LineSplitter splitter_;
  LineDecoder decoder_;

  Inotify inotify_;       // structure: creations, renames, deletions
  Inotify data_inotify_;  // writes (IN_MODIFY), read at most once per event_coalesce
  bool data_armed_ = false;
  uint32_t dir_mask_ = 0;
  absl::flat_hash_map<int, std::string> watches_;  // wd -> directory
  absl::flat_hash_map<std::string, int> watched_dirs_;
  absl::flat_hash_map<int, uint64_t> data_watches_;  // wd of data_inotify_ -> file id
  int64_t last_watch_error_log_ = 0;
  absl::flat_hash_map<uint32_t, uint64_t> pending_moves_;  // inotify cookie -> file id
  // Directories read by the current scan (device, inode): symlinked trees are walked once.
  absl::flat_hash_set<std::pair<uint64_t, uint64_t>> scanned_dirs_;

  boost::asio::steady_timer rescan_timer_;
  boost::asio::steady_timer orphan_timer_;
  boost::asio::steady_timer open_retry_timer_;
  boost::asio::steady_timer coalesce_timer_;
  bool orphan_timer_armed_ = false;
  bool open_retry_armed_ = false;
  bool coalesce_armed_ = false;
  bool pass_scheduled_ = false;
  bool starting_ = false;  // within Start(): files found count as present at start-up
  bool started_ = false;
  bool stopping_ = false;
  bool paused_ = false;
  int64_t paused_since_mono_ = 0;
  // Files skipped by PositionsErrorPolicy::kSkip, by (device, inode).
  absl::flat_hash_set<std::pair<uint64_t, uint64_t>> skipped_;
  int64_t chunk_time_ns_ = 0;  // read time of the chunk being processed (plain lines' timestamp)
  // The chunk being split, up to its last newline, when that is valid UTF-8 (one check per chunk
  // instead of one per line): a line that lies in it and ends at a newline needs no repair.
  const char* valid_begin_ = nullptr;
  const char* valid_end_ = nullptr;
  uint64_t next_file_id_ = 1;
  uint64_t scan_seq_ = 0;                                 // counts rescans
  absl::flat_hash_map<std::string, FileTarget> targets_;  // by path
  std::deque<uint64_t> ready_;
  std::vector<uint64_t> hot_;  // hot files (see above), queued at the next coalesce tick
  std::string read_buf_;
  // Decompressors alive at once (each up to ~2.3 MiB for bzip2); files past it wait their turn.
  static constexpr size_t kMaxInflating = 4;
  size_t inflating_ = 0;
  std::deque<uint64_t> inflate_wait_;
  // Compressed files waiting for their initial_delay.
  std::vector<uint64_t> delayed_;
  boost::asio::steady_timer delay_timer_;
  bool delay_armed_ = false;
  Counter* lines_truncated_;
  Counter* invalid_encoding_;
  std::string path_buf_;  // event path assembly
  // Expires with this object; posted handlers check it.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace sluice
