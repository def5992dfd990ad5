// loki.relabel: relabel rules over each entry's labels (results cached per label set, up to
// max_cache_size); entries whose labels are dropped are counted and go no further. Exports
// `receiver` and `rules`.
#include "agent/relabel/relabel.h"
#include "agent/components/component.h"
#include "agent/runtime/relabel_node.h"

namespace sluice {
namespace {

class LokiRelabel final : public Component {
 public:
  LokiRelabel(std::string id, std::unique_ptr<RelabelNode> node)
      : Component(std::move(id)), node_(std::move(node)) {}
  // Rules and receivers change at a reload only.
  bool Update(const config::Block&, config::Diags*) override { return true; }
  bool UpdatesInPlace() const override { return false; }

 private:
  std::unique_ptr<RelabelNode> node_;
};

}  // namespace

std::unique_ptr<Component> BuildLokiRelabel(const config::Component& c, const config::Block& args,
                                            ComponentEnv& env, config::Diags* diags) {
  config::Decoder d(args, diags);
  std::vector<LogsNode*> forward;
  env.Receivers(d, &forward);
  int64_t max_cache_size = 10000;
  d.Int("max_cache_size", &max_cache_size);
  auto set = std::make_shared<const std::vector<RelabelRule>>(DecodeRules(d));
  if (!d.Finish()) return nullptr;
  if (max_cache_size <= 0) {
    // Alloy's LRU refuses it, failing the component with this text.
    d.ErrorAt("max_cache_size", "must provide a positive size");
    return nullptr;
  }
  auto node =
      std::make_unique<RelabelNode>(c.id, set, static_cast<size_t>(max_cache_size), env.metrics);
  node->SetForward(std::move(forward));
  env.receivers[c.id] = node.get();
  env.router->AddNode(node.get());
  config::Object exports;
  exports["receiver"] = ReceiverValue(c.id);
  exports["rules"] = RulesToValue(set, c.id);
  env.Export(c.id, std::move(exports));
  return std::make_unique<LokiRelabel>(c.id, std::move(node));
}

}  // namespace sluice
