// The top-level blocks of an Alloy configuration that are not components: logging,
// livedebugging, tracing, remotecfg. Each is decoded with Alloy's arguments and defaults;
// what sluice does not do is accepted where Alloy's defaults leave it inert, and a setting that
// asks for it is logged once as a warning (never a silent change of behaviour).
//
// LogForwarder is logging's write_to: sluice's own log lines enter the given receivers as Loki
// entries labelled {component="alloy"}, the line as written (trailing newline included),
// stamped when written, as Alloy's lokiWriter does. Built on the loading thread; its tap runs
// on whichever thread logs and only queues (bounded: kMaxQueuedBytes, then dropped and counted
// in sluice_logging_write_to_dropped_total, where Alloy drops on a full channel); the queue is
// handed to the receivers on the tail thread. Owned by the Runtime; Stop() before the
// receivers go.
#pragma once

#include <boost/asio/io_context.hpp>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/common/clock.h"
#include "agent/common/metrics.h"
#include "agent/config/decode.h"
#include "agent/runtime/logs_node.h"

namespace sluice {

struct ComponentEnv;

class LogForwarder {
 public:
  static constexpr size_t kMaxQueuedBytes = 1 << 20;

  LogForwarder(boost::asio::io_context* io, const Clock* clock, MetricsRegistry* metrics,
               std::vector<LogsNode*> receivers);
  ~LogForwarder();
  // Installs the log tap (tail thread running or about to).
  void Start();
  // Removes the tap; what is queued is dropped uncounted (shutdown). Any thread but a tap's.
  void Stop();

  // The tap: queue one line. Any thread.
  void Enqueue(std::string_view line);

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// Decodes and applies one top-level block (`logging`, `livedebugging`, `tracing`, `remotecfg`).
// For logging: level and format take effect at once; `forwarder` is set when write_to names
// receivers (looked up in env). False with diagnostics on invalid arguments.
bool ApplyConfigBlock(const std::string& name, const config::Block& b, ComponentEnv& env,
                      std::unique_ptr<LogForwarder>* forwarder, config::Diags* diags);

// The names above, for the loader's registry.
const std::vector<std::string>& ConfigBlockNames();

}  // namespace sluice
