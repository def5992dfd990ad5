// loki.echo: prints each entry it receives to stdout as a JSON line (Alloy logs them); an
// entry counts as delivered once printed. Exports `receiver`.
#include "agent/components/component.h"
#include "agent/runtime/write_node.h"
#include "agent/sink/echo_sink.h"

namespace sluice {

std::unique_ptr<Component> MakeWriteComponent(const config::Component& c, WriteNodeSettings ws,
                                              ComponentEnv& env);

std::unique_ptr<Component> BuildLokiEcho(const config::Component& c, const config::Block& args,
                                         ComponentEnv& env, config::Diags* diags) {
  config::Decoder d(args, diags);
  if (!d.Finish()) return nullptr;
  WriteNodeSettings ws;
  ws.component_id = c.id;
  WriteEndpointSettings es;
  es.name = c.id;
  // Echo prints at once, as Alloy's loki.echo logs each entry as it arrives.
  es.batch_wait = absl::Milliseconds(100);
  MetricsRegistry* m = env.metrics;
  es.make_sink = [m]() -> std::unique_ptr<Sink> { return std::make_unique<EchoSink>(stdout, m); };
  es.json_labels = true;
  ws.endpoints.push_back(std::move(es));
  return MakeWriteComponent(c, std::move(ws), env);
}

}  // namespace sluice
