#include "agent/sink/echo_sink.h"

#include "agent/common/timestamp.h"
#include "agent/pipeline/labels.h"

namespace sluice {

EchoSink::EchoSink(FILE* out, MetricsRegistry* metrics)
    : out_(out),
      sent_entries_(metrics->GetCounter("loki_write_sent_entries_total",
                                        "Number of log entries sent.", {{"host", "stdout"}})),
      sent_bytes_(metrics->GetCounter("loki_write_sent_bytes_total", "Number of bytes sent.",
                                      {{"host", "stdout"}})) {}

BatchOutcome EchoSink::Deliver(const Batch& batch) {
  buf_.clear();
  // Entries are written stream by stream, each stream in its own order, as Loki would store them.
  for (size_t i = 0; i < batch.num_streams; ++i) {
    const BatchStream& s = batch.streams[i];
    for (const BatchEntry& e : s.entries) {
      buf_.append("{\"timestamp\":\"");
      AppendRfc3339Nano(e.timestamp_ns, &buf_);
      buf_.append("\",\"labels\":");
      buf_.append(s.info->json_labels);
      buf_.append(",\"line\":");
      AppendJsonQuoted(batch.Line(e), &buf_);
      buf_.append("}\n");
    }
  }
  if (!buf_.empty()) {
    fwrite(buf_.data(), 1, buf_.size(), out_);
    fflush(out_);
  }
  sent_entries_->Inc(batch.entries);
  sent_bytes_->Inc(batch.line_bytes);
  return BatchOutcome::kDelivered;
}

}  // namespace sluice
