// KubeLogTailer: the running part of loki.source.kubernetes and loki.source.podlogs (Alloy's
// kubetail.Manager): one reader per target container, streaming
//   GET /api/v1/namespaces/<ns>/pods/<pod>/log?container=<c>&follow=true&timestamps=true
//       [&sinceTime=<RFC3339>]
// from the API server, each line sent down the component's route with the target's labels and
// the line's own timestamp.
//
//  - Resume: the place of each container is its last acknowledged entry's time, kept in
//    <storage.path>/<component id>/positions.yml under Alloy's key and value (Unix
//    microseconds), so Alloy's file is read and Alloy reads sluice's. The place advances only on
//    acknowledgement (AckedSource: each entry goes down with an offset of its container's own,
//    mapped back to its timestamp on Commit). A stream opened again (broken, ended, restarted)
//    asks for sinceTime and skips what was already read (KubeLogResume).
//  - Reconnects: a stream that ends while its container may still log is opened again with
//    backoff (10ms doubling to 1m, reset by every line read, as Alloy); after it ends the pod is
//    fetched to tell whether the container has finished (Alloy's restart-policy rules), and the
//    reader stops if so. Every stream is reopened after an hour (Alloy's maxTailerLifetime).
//  - Bounds: at most `max_streams` streams open at once (the rest wait their turn), lines longer
//    than `max_line_size` truncated (counted), reading paused while the pipeline holds the
//    memory budget (the API server's stream waits in TCP) and while a reader's lines on their way
//    to the tail thread exceed 1 MiB.
//  - A target that goes away stops its reader and forgets its place (as Alloy).
//
// Threads: SetTargets, Commit, OnOutputProgress, Start, StopReading and Finish run on the tail
// thread (env io); each reader has a thread of its own ("sluice-klog") doing blocking HTTP, which
// hands lines over with boost::asio::post. Owned by its component; the LogsRouter points to it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "agent/common/clock.h"
#include "agent/common/metrics.h"
#include "agent/metadata/kube_watch.h"
#include "agent/runtime/acked_source.h"
#include "agent/runtime/logs_router.h"
#include "agent/source/kube_log.h"
#include "agent/source/positions_writer.h"

namespace sluice {

struct KubeTailerOptions {
  std::string component_id;
  metadata::KubeEndpoint apiserver;
  metadata::KubeClientFactory factory;  // null: libcurl
  std::string positions_path;
  uint32_t route = 0;
  uint64_t stream_id_base = 0;  // index << LogsRouter::kSourceShift
  size_t memory_budget = 64 << 20;
  size_t max_line_size = 256 << 10;
  int max_streams = 1000;
  bool tail_from_end = false;  // a container without a place starts at "now" (podlogs)
  absl::Duration positions_interval = absl::Seconds(10);
  absl::Duration max_lifetime = absl::Hours(1);
  absl::Duration min_backoff = absl::Milliseconds(10);
  absl::Duration max_backoff = absl::Minutes(1);
};

// Whether a container whose log stream ended has finished for good, from its pod's JSON (GET of
// the pod): the pod has another uid, or Alloy's rules for its restart policy, container kind
// (app, init, ephemeral) and Job ownership say it will not run again. `now_ns` for Job pods'
// grace period. An error when the answer cannot be read or has no status for the container.
absl::StatusOr<bool> KubeContainerFinished(std::string_view pod_json, std::string_view uid,
                                           std::string_view container, int64_t now_ns);

class KubeLogTailer final : public AckedSource {
 public:
  KubeLogTailer(boost::asio::io_context* io, KubeTailerOptions options, const Clock* clock,
                MetricsRegistry* metrics, LogsRouter* router);
  ~KubeLogTailer() override;
  KubeLogTailer(const KubeLogTailer&) = delete;
  KubeLogTailer& operator=(const KubeLogTailer&) = delete;

  // Reads the positions file (a missing one is no places; a corrupt one is logged and ignored,
  // as Alloy's reader refuses it), starts the readers of the targets set so far.
  absl::Status Start();
  // The containers to tail now. Readers of targets that stay keep running.
  void SetTargets(std::vector<KubeLogTarget> targets);
  // Stops every reader (their lines not yet handed down are read again next time).
  void StopReading();
  // Saves the places (every acknowledgement is in).
  absl::Status SavePositions();

  // AckedSource
  void Commit(uint64_t stream_id, uint64_t generation, int64_t offset) override;
  void OnOutputProgress() override;

  size_t active_readers() const { return readers_.size(); }
  // The saved place of a target (microseconds), 0 without one. Tail thread.
  int64_t SavedPlace(const KubeLogTarget& t) const;

  struct Shared;  // kube_tailer.cc: what a reader thread and the tail thread share
  struct Reader;

 private:
  void StartReader(Reader& r);
  void Deliver(uint64_t stream_id, std::vector<std::pair<int64_t, std::string>> lines,
               size_t bytes);
  void ArmPositions();
  void SubmitPositions();
  void Reap();

  boost::asio::io_context* io_;
  KubeTailerOptions opts_;
  const Clock* clock_;
  LogsRouter* router_;
  std::shared_ptr<Shared> shared_;
  bool started_ = false;
  bool stopped_ = false;
  uint64_t next_stream_ = 0;
  std::map<std::string, std::unique_ptr<Reader>> readers_;  // by KubeLogTarget::Key()
  std::map<uint64_t, Reader*> by_id_;
  std::vector<std::unique_ptr<Reader>> stopping_;                  // threads not joined yet
  std::vector<KubeLogTarget> pending_targets_;                     // set before Start
  std::map<std::pair<std::string, std::string>, int64_t> places_;  // (path, labels) -> micros
  bool dirty_ = false;
  bool submit_posted_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // posted jobs check it
  std::unique_ptr<PositionsWriter> writer_;
  boost::asio::steady_timer timer_;

  Counter* lines_;
  Counter* skipped_;
  Counter* truncated_;
  Counter* unparsed_;
  Counter* failures_;
  Counter* positions_errors_;
  Counter* paused_;
  Gauge* active_;
};

}  // namespace sluice
