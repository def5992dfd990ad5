// Sink: where sealed batches go. Implementations: LokiSink (HTTP push with retries) and EchoSink
// (stdout, like Alloy's loki.echo).
//
// Encode() runs on the sender's encoder thread: it turns a queued batch into its payload (for
// Loki: the snappy-compressed PushRequest), off the tail thread, so that a catch-up uses two
// cores. Deliver() runs on the send thread only and blocks until the batch is delivered, dropped
// (counted) or the sink is cancelled; it also takes batches that were never encoded (it encodes
// them itself). The two share no mutable state. Cancel() may be called from any thread. Owned
// by Sender.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "agent/common/metrics.h"
#include "agent/pipeline/batch.h"

namespace sluice {

class Sink {
 public:
  virtual ~Sink() = default;
  // Fills batch->payload and sets batch->encoded; the default leaves the batch as it is. May run
  // on two threads at once (the encoder, and the tail thread when the encoder is behind).
  virtual void Encode(Batch* batch) { (void)batch; }
  virtual BatchOutcome Deliver(const Batch& batch) = 0;
  // Makes the current and every later Deliver() return kAborted as soon as possible.
  virtual void Cancel() = 0;
  // Why deliveries are failing now (the last attempt failed and is being retried), or nullopt.
  // Any thread.
  virtual std::optional<std::string> Unhealthy() const { return std::nullopt; }
  // The sink's loki_write_dropped_{entries,bytes}_total series for `tenant` and `reason`, for
  // entries dropped before they reach it (max_streams: "stream_limited"); {nullptr, nullptr} when
  // the sink counts no drops. Any thread; the counters stay valid for the registry's lifetime.
  virtual std::pair<Counter*, Counter*> DropCounters(const std::string& tenant,
                                                     std::string_view reason) {
    (void)tenant;
    (void)reason;
    return {nullptr, nullptr};
  }
};

}  // namespace sluice
