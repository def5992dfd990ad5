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
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/common/metrics.h"

namespace sluice {

struct RuntimeOptions {
  std::string config_path;
  std::string http_listen_addr = "127.0.0.1:12345";
  std::string storage_path = "data-alloy";  // Alloy's default: positions carry over from Alloy
  absl::Duration shutdown_timeout = absl::Seconds(15);
  size_t memory_budget = 8 * 1024 * 1024;
  size_t max_line_size = 256 * 1024;
  absl::Duration read_interval = absl::Milliseconds(50);
  absl::Duration rescan_interval = absl::Seconds(10);
  absl::Duration positions_interval = absl::Seconds(5);
  size_t max_open_files = 0;
  // Kubernetes discovery (see metadata/pod_index.h).
  std::string pods_dir = "/var/log/pods";
  absl::Duration unknown_pod_wait = absl::Seconds(10);
  absl::Duration pod_grace_period = absl::Minutes(1);
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

 private:
  struct Impl;
  explicit Runtime(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice
