// Runtime: `sluice run config.alloy`: the configuration's components, built and running.
//
// Load() parses the file (or directory), evaluates every component in dependency order with the
// exports of those before it, and builds it: local.file_match and discovery.relabel compute
// targets; loki.source.file becomes a TailManager in target mode; loki.process, loki.relabel,
// loki.write and loki.echo become nodes of the graph that the LogsRouter drives. Anything sluice
// does not run is an error naming it. Start() runs it: one tail thread (an io_context with every
// TailManager, the router and the timers that re-evaluate targets) and one send thread per
// endpoint. When targets change (a glob matches new files), the components that depend on them
// are evaluated again and the sources get their new file lists.
//
// Created, started and shut down by main(); everything after Start() runs on the tail thread
// except the senders.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/common/metrics.h"
#include "agent/source/log_format.h"

namespace sluice {

struct RuntimeOptions {
  std::string config_path;
  // When set, the configuration is this text (named config_path in errors) rather than the
  // file: the `sluice tail` preset (tail_preset.h).
  std::string config_text;
  // The preset's line format for every loki.source.file (kAuto has no Alloy syntax); unset:
  // plain, or what a loki.process starting with stage.cri / stage.docker parses.
  std::optional<LogFormat> source_format;
  // Positions files by loki.source.file component id, in place of
  // <storage_path>/<component id>/positions.yml (the preset keeps <storage_path>/tail/).
  std::map<std::string, std::string> positions_paths;
  std::string http_listen_addr = "127.0.0.1:12345";
  std::string storage_path = "data-alloy";  // Alloy's default: positions carry over from Alloy
  absl::Duration shutdown_timeout = absl::Seconds(15);
  // --memory-budget; 0 (not given): kDefaultMemoryBudget, raised to kBudgetBatches batches of the
  // largest loki.write batch_size when that is more.
  size_t memory_budget = 0;
  size_t max_line_size = 256 * 1024;
  // Alloy's loki.source.file reads a changing file every 250 ms (file_watch's
  // min_poll_frequency): the same latency, and a fifth of the wake-ups of the 50 ms this was.
  absl::Duration read_interval = absl::Milliseconds(250);
  absl::Duration rescan_interval = absl::Seconds(10);
  absl::Duration positions_interval = absl::Seconds(5);
  size_t max_open_files = 0;
  // Kubernetes discovery (see metadata/pod_index.h).
  std::string pods_dir = "/var/log/pods";
  absl::Duration unknown_pod_wait = absl::Seconds(10);
  absl::Duration pod_grace_period = absl::Minutes(1);
  // `sluice validate`: components are built without reaching outside (no API server, no
  // Secret read, no in-cluster environment needed), as `alloy validate` checks a file anywhere.
  bool validate_only = false;
  // Called (on the tail thread) when a component that cannot update in place got new
  // arguments: the owner reloads the configuration from another thread. Unset: logged only.
  std::function<void()> request_reload;
};

class Runtime {
 public:
  // Loads and checks the configuration and builds its components without starting them. On
  // error returns nullptr and sets `error` to every diagnostic, rendered as Alloy prints them.
  static std::unique_ptr<Runtime> Load(const RuntimeOptions& options, MetricsRegistry* metrics,
                                       std::string* error);
  ~Runtime();

  absl::Status Start();
  // Stops reading, delivers what was read within shutdown_timeout, saves positions, joins.
  void Shutdown();

  // Line bytes not acknowledged at shutdown (read again at the next start).
  size_t aborted_bytes() const;
  // "<component id>: <why>" for each component that is failing in itself now: a source whose
  // positions cannot be written, or the event loop when it has not run for 30 s. Any thread.
  std::vector<std::string> Unhealthy() const;
  // The same for components whose remote side fails (a loki.write endpoint retrying, a discovery
  // whose pod list refresh fails): reported, but a restart would not help. Any thread.
  std::vector<std::string> Degraded() const;

  // Whether a module of an import block changed since the load (each one read again at most
  // once per its poll_frequency; blocking: import.http and import.git fetch). The caller then
  // reloads. Any thread but the tail thread; one caller at a time.
  bool ImportsChanged();
  bool has_imports() const;

 private:
  struct Impl;
  explicit Runtime(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice
