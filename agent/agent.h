// Agent: owns the threads and wires the stages.
//
//   tail thread   io_context: TailManager (inotify, reads, parsing, batching, acks, positions)
//   send thread   Sender: one batch at a time through the Sink (LokiSink or EchoSink)
//   main thread   signals (see main.cc)
//
// Sealed batches go tail -> send through Sender::Enqueue; outcomes come back by posting to the
// tail io_context. Only the tail thread touches TailManager. Created and driven by main().
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/common/clock.h"
#include "agent/common/metrics.h"
#include "agent/sink/loki_sink.h"
#include "agent/sink/sender.h"
#include "agent/source/tail_manager.h"

namespace sluice {

struct AgentOptions {
  TailOptions tail;
  // Empty url: entries are printed to stdout as JSON lines.
  LokiSinkConfig loki;
  absl::Duration shutdown_timeout = absl::Seconds(15);
};

class Agent {
 public:
  Agent(AgentOptions options, MetricsRegistry* metrics);
  ~Agent();

  // Starts the send and tail threads. Fails when the tail stage cannot start.
  absl::Status Start();
  // Stops reading, delivers what was read within shutdown_timeout, saves positions and joins
  // the threads. Safe to call once from any thread but the agent's own.
  void Shutdown();

 private:
  template <typename Fn>
  void RunOnTail(Fn fn);

  AgentOptions options_;
  MetricsRegistry* metrics_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::unique_ptr<Sender> sender_;
  std::unique_ptr<TailManager> tail_;
  std::thread tail_thread_;
  bool started_ = false;
};

}  // namespace sluice
