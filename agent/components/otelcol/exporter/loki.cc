// otelcol.exporter.loki: OTLP logs handed to its `input` (an otelcol.Consumer) become Loki
// entries (otlp::LogToLokiEntry: the translator Alloy uses) sent to each of `forward_to`. Every
// k8s-monitoring render declares one per Loki destination, whether or not an OTLP pipeline
// feeds it. Counts otelcol_exporter_loki_entries_total / _processed / _failed as Alloy does.
// Tail thread; owned by the Runtime.
#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/components/component.h"
#include "agent/otlp/logs.h"

namespace sluice {
namespace {

class OtelcolExporterLoki final : public Component, public otlp::LogsConsumer {
 public:
  OtelcolExporterLoki(const config::Component& c, ComponentEnv& env,
                      std::vector<LogsNode*> forward_to)
      : Component(c.id), clock_(env.clock), forward_to_(std::move(forward_to)) {
    MetricLabels labels = ComponentLabels(c.id);
    total_ = env.metrics->GetCounter("otelcol_exporter_loki_entries_total",
                                     "Number of log entries received by the exporter.", labels);
    processed_ = env.metrics->GetCounter(
        "otelcol_exporter_loki_entries_processed",
        "Number of log entries converted and forwarded by the exporter.", labels);
    failed_ = env.metrics->GetCounter("otelcol_exporter_loki_entries_failed",
                                      "Number of log entries that could not be converted.", labels);
  }

  bool Update(const config::Block&, config::Diags*) override { return true; }
  bool UpdatesInPlace() const override { return false; }

  void ConsumeLogs(const otlp::Logs& logs) override {
    ProcessEntry copy;  // for all but the last receiver, its buffers reused within the call
    for (const otlp::ResourceLogs& rl : logs) {
      for (const otlp::ScopeLogs& sl : rl.scopes) {
        for (const otlp::LogRecord& r : sl.records) {
          total_->Inc();
          absl::StatusOr<ProcessEntry> e =
              otlp::LogToLokiEntry(r, rl.resource, sl.scope, clock_->NowUnixNanos());
          if (!e.ok()) {
            failed_->Inc();
            LogError("otelcol.exporter.loki", "failed to convert log to loki entry",
                     {{"component_id", id()}, {"err", std::string(e.status().message())}});
            continue;
          }
          processed_->Inc();
          PushToAll(forward_to_, *e, &copy);
        }
      }
    }
  }

 private:
  const Clock* clock_;
  std::vector<LogsNode*> forward_to_;
  Counter* total_;
  Counter* processed_;
  Counter* failed_;
};

}  // namespace

std::unique_ptr<Component> BuildOtelcolExporterLoki(const config::Component& c,
                                                    const config::Block& args, ComponentEnv& env,
                                                    config::Diags* diags) {
  config::Decoder d(args, diags);
  std::vector<LogsNode*> forward_to;
  if (!env.Receivers(d, &forward_to) || !d.Finish()) return nullptr;
  auto comp = std::make_unique<OtelcolExporterLoki>(c, env, std::move(forward_to));
  env.otlp_consumers[c.id] = comp.get();
  config::Object exports;
  exports["input"] = config::Value::MakeCapsule({kOtelcolConsumerType, c.id});
  env.Export(c.id, std::move(exports));
  return comp;
}

}  // namespace sluice
