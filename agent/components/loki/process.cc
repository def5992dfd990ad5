// loki.process: its stage.* blocks, in order, over every entry it receives; what survives goes
// to forward_to. Exports `receiver`.
#include "agent/components/component.h"
#include "agent/process/stage.h"
#include "agent/runtime/process_node.h"

namespace sluice {
namespace {

class LokiProcess final : public Component {
 public:
  LokiProcess(std::string id, std::unique_ptr<ProcessNode> node)
      : Component(std::move(id)), node_(std::move(node)) {}
  // Stages and receivers change at a reload only.
  bool Update(const config::Block&, config::Diags*) override { return true; }
  bool UpdatesInPlace() const override { return false; }

 private:
  std::unique_ptr<ProcessNode> node_;
};

}  // namespace

std::unique_ptr<Component> BuildLokiProcess(const config::Component& c, const config::Block& args,
                                            ComponentEnv& env, config::Diags* diags) {
  config::Decoder d(args, diags);
  std::vector<LogsNode*> forward;
  env.Receivers(d, &forward);
  StageContext ctx;
  ctx.clock = env.clock;
  ctx.metrics = env.metrics;
  ctx.component_id = c.id;
  ctx.validate_only = env.options != nullptr && env.options->validate_only;
  std::vector<const config::Block*> stage_blocks = d.BlocksWithPrefix("stage.");
  std::vector<std::unique_ptr<Stage>> stages = BuildStages(stage_blocks, diags, ctx);
  if (!d.Finish()) return nullptr;
  auto node = std::make_unique<ProcessNode>(std::move(stages), env.router);
  node->SetForward(std::move(forward));
  env.receivers[c.id] = node.get();
  env.router->AddNode(node.get());
  config::Object exports;
  exports["receiver"] = ReceiverValue(c.id);
  env.Export(c.id, std::move(exports));
  return std::make_unique<LokiProcess>(c.id, std::move(node));
}

}  // namespace sluice
