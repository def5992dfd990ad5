#include "agent/sink/echo_sink.h"

#include "agent/pipeline/push_encoder.h"

#include "agent/common/json_quote.h"
#include "agent/common/timestamp.h"
#include "agent/pipeline/labels.h"

namespace sluice {

EchoSink::EchoSink(FILE* out, MetricsRegistry* metrics)
    : out_(out),
      sent_entries_(metrics->GetCounter("loki_write_sent_entries_total",
                                        "Number of log entries sent.", {{"host", "stdout"}})),
      sent_bytes_(metrics->GetCounter("loki_write_sent_bytes_total", "Number of bytes sent.",
                                      {{"host", "stdout"}})) {}

namespace {

void Render(const Batch& batch, std::string* out) {
  out->clear();
  // Entries are written stream by stream, each stream in its own order, as Loki would store them.
  for (size_t i = 0; i < batch.num_streams; ++i) {
    const BatchStream& s = batch.streams[i];
    for (const BatchEntry& e : s.entries) {
      out->append("{\"timestamp\":\"");
      AppendRfc3339Nano(e.timestamp_ns, out);
      out->append("\",\"labels\":");
      out->append(s.info->json_labels);
      out->append(",\"line\":");
      AppendJsonQuoted(batch.Line(e), out);
      if (e.meta_size != 0) {
        out->append(",\"structured_metadata\":{");
        bool first = true;
        ForEachMetadataPair(batch.Metadata(e), [&](std::string_view k, std::string_view v) {
          if (!first) out->push_back(',');
          first = false;
          AppendJsonQuoted(k, out);
          out->push_back(':');
          AppendJsonQuoted(v, out);
        });
        out->push_back('}');
      }
      out->append("}\n");
    }
  }
}

}  // namespace

void EchoSink::Encode(Batch* batch) {
  Render(*batch, &batch->payload);
  batch->encoded = true;
}

BatchOutcome EchoSink::Deliver(const Batch& batch) {
  const std::string* text = &batch.payload;
  if (!batch.encoded) {
    Render(batch, &buf_);
    text = &buf_;
  }
  if (!text->empty()) {
    fwrite(text->data(), 1, text->size(), out_);
    fflush(out_);
  }
  sent_entries_->Inc(batch.entries);
  sent_bytes_->Inc(batch.line_bytes);
  return BatchOutcome::kDelivered;
}

}  // namespace sluice
