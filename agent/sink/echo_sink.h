// EchoSink: writes every entry to a FILE* (stdout by default) as one JSON object per line,
// `{"timestamp":"<RFC3339Nano>","labels":{...},"line":"..."}`: the stand-in for Loki when no
// --url is given, like Alloy's loki.echo. Deliver renders and writes the batch on the sender
// thread; owned by Sender. One fwrite per batch.
#pragma once

#include <cstdio>
#include <string>

#include "agent/common/metrics.h"
#include "agent/sink/sink.h"

namespace sluice {

class EchoSink final : public Sink {
 public:
  EchoSink(FILE* out, MetricsRegistry* metrics);
  void Encode(Batch* batch) override;
  BatchOutcome Deliver(const Batch& batch) override;
  void Cancel() override {}

 private:
  FILE* out_;
  std::string buf_;  // sender thread scratch
  Counter* sent_entries_;
  Counter* sent_bytes_;
};

}  // namespace sluice
