// AgentService: `sluice run` as the HTTP endpoints and signals see it. It owns the running
// Runtime, replaces it on reload, and answers /metrics, /-/ready, /-/healthy and /-/reload.
//
// A reload (POST or GET /-/reload, or SIGHUP) loads the configuration file again. An invalid one
// is refused with its rendered error (HTTP 400) and the running graph is left alone. A valid one
// replaces the running graph: the old one stops reading, delivers what it read (within
// --shutdown-timeout) and saves its positions, then the new one starts from those positions, so
// nothing is lost or sent twice. Metrics carry over (the registry outlives runtimes), as Alloy's
// `alloy_config_last_load_successful` and `alloy_config_load_failures_total` do.
//
// Thread-safe: handlers run on the HTTP server's threads, SIGHUP on the main thread; one reload
// at a time. Owned by main().
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "agent/common/metrics.h"
#include "agent/runtime/runtime.h"
#include "agent/server/http_server.h"

namespace sluice {

class AgentService {
 public:
  AgentService(RuntimeOptions options, MetricsRegistry* metrics);
  ~AgentService();

  // Loads and starts the configuration. An invalid configuration is InvalidArgument with every
  // diagnostic rendered as Alloy prints them.
  absl::Status Start();
  // See the header comment. InvalidArgument (rendered diagnostics) when the new configuration
  // is refused; the running one then keeps running.
  absl::Status Reload();
  // Stops reading, delivers what was read within the shutdown timeout, saves positions.
  void Shutdown();

  bool Ready() const;
  // "<component id>: <why>" for each unhealthy component (Runtime::Unhealthy).
  std::vector<std::string> Unhealthy() const;
  // Components whose remote side fails (Runtime::Degraded).
  std::vector<std::string> Degraded() const;
  size_t aborted_bytes() const;

  // The HTTP endpoints.
  HttpReply Handle(const std::string& method, const std::string& target);

 private:
  void RecordLoad(bool ok);
  // SHA-256 of the configuration's text (a directory: its *.alloy files in name order), for
  // alloy_config_hash; "" when it cannot be read.
  std::string ConfigHash() const;

  // Reads imported modules again at their poll_frequency; reloads when one changed or a
  // component asked for it (RuntimeOptions::request_reload).
  void PollImports();

  RuntimeOptions options_;
  MetricsRegistry* metrics_;
  std::thread poller_;
  std::mutex poll_mu_;
  std::condition_variable poll_cv_;
  bool stopping_ = false;          // guarded by poll_mu_
  bool reload_requested_ = false;  // guarded by poll_mu_: a component's arguments changed
  std::mutex reload_mu_;           // one Start/Reload/Shutdown at a time
  mutable std::mutex mu_;          // guards runtime_ (swapped by reloads, read by handlers)
  std::shared_ptr<Runtime> runtime_;
  bool running_ = false;
  size_t aborted_bytes_ = 0;
  ConfigLoadMetrics load_metrics_;
  Counter* reloads_;
};

}  // namespace sluice
