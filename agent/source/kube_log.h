// The pure parts of tailing container logs through the Kubernetes API (loki.source.kubernetes,
// loki.source.podlogs), as Alloy's kubetail package does them:
//
//  - PrepareKubeLogTarget: a discovery target becomes the container to stream (namespace, pod,
//    container, uid from __pod_*__ or __meta_kubernetes_* labels), its entries' labels (the
//    target's without "__" names, plus `job` = the component id and `instance` =
//    "<ns>/<pod>:<container>" when absent) and its positions key (Alloy's
//    "cursor-<ns>/<pod>:<container>:<uid>" with the labels as `{a="x", ...}`).
//  - ParseKubeLogLine: "<RFC3339Nano> <line>" as the API returns with timestamps=true.
//  - KubeLogResume: where a (re)opened stream starts (sinceTime, whole seconds in the API) and
//    which of its first lines were already read or acknowledged, so none is sent twice.
//  - KubeLogCommits: offsets of entries handed down mapped to their timestamps, so that an
//    acknowledged offset becomes the saved place (Alloy's value: Unix microseconds).
//
// Plain values and pure functions; any thread (each object is used by one thread at a time).
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "agent/pipeline/labels.h"

namespace sluice {

// Alloy's internal labels that say which container to tail.
inline constexpr char kPodNamespaceLabel[] = "__pod_namespace__";
inline constexpr char kPodNameLabel[] = "__pod_name__";
inline constexpr char kPodContainerNameLabel[] = "__pod_container_name__";
inline constexpr char kPodUidLabel[] = "__pod_uid__";

struct KubeLogTarget {
  std::string ns;
  std::string pod;
  std::string container;
  std::string uid;
  LabelSet labels;  // the entries' labels ("__" names removed)
  // Alloy's positions entry: CursorKey("<ns>/<pod>:<container>:<uid>") and labels.String().
  std::string positions_path;
  std::string positions_labels;
  // "<ns>/<pod>:<container>" (logs, instance).
  std::string Name() const { return ns + "/" + pod + ":" + container; }
  // Identity of a stream: same key, same reader (Alloy's runner: uid and public labels).
  std::string Key() const { return positions_path + "\x1f" + positions_labels; }
};

// Alloy's kubetail.PrepareLabels followed by the target's public labels. `default_job` is the
// component id (loki.source.kubernetes) or "<ns>/<podlogs>:<container>" (podlogs). With
// `preserve_meta`, __meta_* labels stay in `labels` (podlogs' preserve_discovered_labels).
// InvalidArgument with Alloy's message ("missing pod namespace label", ...) otherwise.
absl::StatusOr<KubeLogTarget> PrepareKubeLogTarget(const LabelSet& target,
                                                   std::string_view default_job,
                                                   bool preserve_meta = false);

struct KubeLogLine {
  int64_t timestamp_ns = 0;
  std::string_view line;  // without the timestamp and its space, without the trailing newline
  bool parsed = false;    // false: no timestamp; the line is whole and timestamp_ns is `now_ns`
};

// One line of a timestamps=true log stream (its "\n" and a "\r" before it removed). As Alloy:
// RFC3339Nano or RFC3339 before the first space; without one the line is kept whole.
KubeLogLine ParseKubeLogLine(std::string_view text, int64_t now_ns);

// sinceTime for a stream resuming after `ts_ns`: RFC3339 in whole seconds, rounded down (the API
// server's metav1.Time has second precision), so the lines of that second come again and are
// skipped by KubeLogResume.
std::string KubeSinceTime(int64_t ts_ns);

// Where a stream resumes. Two sources of truth:
//  - after a restart, the saved place: Unix microseconds (Alloy's value) of the last
//    acknowledged entry; lines at or before that microsecond are skipped;
//  - within a run (the stream broke, the tailer's lifetime ended), the last line read: lines
//    before its timestamp are skipped, and as many lines at exactly its timestamp as were read.
// Skipping stops at the first line that is new: a later line with an older timestamp (a clock
// step on the node) is sent, not dropped as Alloy would.
class KubeLogResume {
 public:
  // A saved place (microseconds; 0 = none).
  void SetSaved(int64_t unix_micros) { saved_us_ = unix_micros; }
  // A line was read (and handed down): a reconnect resumes after it.
  void Read(int64_t ts_ns);
  // Whether anything says where to start; when false the stream starts at the beginning of the
  // container's log (or at `now`, with tail_from_end).
  bool has_start() const { return read_ns_ != INT64_MIN || saved_us_ > 0; }
  // The instant the stream is asked for (before KubeSinceTime rounds it).
  int64_t start_ns() const;
  // A new stream opens: the first lines are checked against the place again.
  void Reopen() {
    skipping_ = true;
    seen_at_read_ = 0;
  }
  // Whether the stream's next line (with this timestamp) was already sent. Call once per line,
  // in order, before Read.
  bool Skip(int64_t ts_ns);

 private:
  int64_t saved_us_ = 0;
  int64_t read_ns_ = INT64_MIN;  // the last line read in this run
  int64_t read_count_ = 0;       // lines read at exactly read_ns_, in a row
  int64_t seen_at_read_ = 0;     // lines at read_ns_ skipped since Reopen
  bool skipping_ = true;
};

// Offsets handed down for one container's stream and their timestamps, until acknowledged.
class KubeLogCommits {
 public:
  // Entry `offset` (increasing) with this timestamp went down.
  void Handed(int64_t offset, int64_t ts_ns) { pending_.push_back({offset, ts_ns}); }
  // Everything up to `offset` is acknowledged: the place to save (Unix microseconds), or 0 when
  // it does not move. A place is never saved inside a microsecond whose later lines are still
  // in flight (they would be skipped after a restart): the microsecond before it is saved then.
  int64_t Acked(int64_t offset);
  int64_t saved_us() const { return saved_us_; }
  void SetSaved(int64_t us) { saved_us_ = us; }
  size_t pending() const { return pending_.size(); }

 private:
  struct Item {
    int64_t offset;
    int64_t ts_ns;
  };
  std::deque<Item> pending_;
  int64_t saved_us_ = 0;
};

// Floor division of nanoseconds to microseconds (negative instants included).
inline int64_t NanosToMicros(int64_t ns) { return ns >= 0 ? ns / 1000 : -((-ns + 999) / 1000); }

}  // namespace sluice
