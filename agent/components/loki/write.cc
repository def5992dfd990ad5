// loki.write: batches entries per endpoint (batch_size, batch_wait, external_labels,
// max_streams) and pushes them to Loki from one send thread per endpoint, with retries; each
// acknowledgement moves the sources' positions. loki.echo (echo.cc) shares the WriteNode.
// Exports `receiver`.
#include <random>

#include "agent/components/component.h"
#include "agent/runtime/write_node.h"
#include "agent/sink/asio_http_client.h"
#include "agent/sink/endpoint_config.h"
#include "agent/sink/http_client.h"
#include "agent/sink/loki_sink.h"

namespace sluice {

// A WriteNode as a component (loki.write and loki.echo).
class WriteComponent final : public Component {
 public:
  WriteComponent(std::string id, std::unique_ptr<WriteNode> node)
      : Component(std::move(id)), node_(std::move(node)) {}
  // Endpoints change at a reload only.
  bool Update(const config::Block&, config::Diags*) override { return true; }
  bool UpdatesInPlace() const override { return false; }
  absl::Status Start() override {
    node_->Start();
    return absl::OkStatus();
  }
  void Drain(absl::Time deadline) override { node_->Drain(deadline); }
  std::optional<std::string> Degraded() const override { return node_->Unhealthy(); }

 private:
  std::unique_ptr<WriteNode> node_;
};

std::unique_ptr<Component> MakeWriteComponent(const config::Component& c, WriteNodeSettings ws,
                                              ComponentEnv& env) {
  auto node =
      std::make_unique<WriteNode>(std::move(ws), env.router, env.io, env.clock, env.metrics);
  env.receivers[c.id] = node.get();
  env.router->AddNode(node.get());
  config::Object exports;
  exports["receiver"] = ReceiverValue(c.id);
  env.Export(c.id, std::move(exports));
  return std::make_unique<WriteComponent>(c.id, std::move(node));
}

std::unique_ptr<Component> BuildLokiWrite(const config::Component& c, const config::Block& args,
                                          ComponentEnv& env, config::Diags* diags) {
  config::Decoder d(args, diags);
  LokiWriteConfig cfg;
  if (!DecodeLokiWrite(d, &cfg) || !d.Finish()) return nullptr;
  WriteNodeSettings ws;
  ws.component_id = c.id;
  for (const auto& [k, v] : cfg.external_labels) ws.external_labels.Set(k, v);
  ws.max_streams = cfg.max_streams;
  MetricsRegistry* m = env.metrics;
  for (const EndpointConfig& ep : cfg.endpoints) {
    WriteEndpointSettings es;
    es.name = ep.name;
    es.tenant = ep.tenant_id;
    es.batch_size = ep.batch_size;
    es.batch_wait = ep.batch_wait;
    absl::Status files = CheckEndpointFiles(ep);
    if (!files.ok()) {
      diags->Add(c.span, std::string(files.message()));
      return nullptr;
    }
    if (env.budget_auto) {
      env.budget = std::max<size_t>(env.budget, kBudgetBatches * ep.batch_size);
    }
    if (ep.queue_config_set) {
      es.drain_timeout = ep.queue_config.drain_timeout;
      // The bytes queued for an endpoint are bounded by the agent's budget of unacknowledged
      // bytes: a smaller capacity lowers that budget (sources are built after their writers).
      env.budget = std::min<size_t>(env.budget, std::max<uint64_t>(ep.queue_config.capacity, 1));
    }
    LokiSinkConfig sink = LokiSinkConfigFromEndpoint(ep);
    sink.component_id = c.id;
    HttpClientOptions http = HttpClientOptionsFromEndpoint(ep);
    es.make_sink = [sink, http, m]() -> std::unique_ptr<Sink> {
      return std::make_unique<LokiSink>(sink, NewHttpClient(http), std::make_unique<RealSleeper>(),
                                        m, std::random_device{}());
    };
    ws.endpoints.push_back(std::move(es));
  }
  return MakeWriteComponent(c, std::move(ws), env);
}

}  // namespace sluice
