// discovery.relabel: its targets through its rules; exports `output` (the targets kept) and
// `rules` (for loki.source.* relabel_rules).
#include "agent/relabel/relabel.h"
#include "agent/components/component.h"

namespace sluice {
namespace {

class DiscoveryRelabel final : public Component {
 public:
  DiscoveryRelabel(std::string id, ComponentEnv* env) : Component(std::move(id)), env_(env) {}

  bool Update(const config::Block& args, config::Diags* diags) override {
    config::Decoder d(args, diags);
    std::vector<LabelSet> targets;
    d.Targets("targets", &targets, config::Required::kYes);
    auto rules = std::make_shared<const std::vector<RelabelRule>>(DecodeRules(d));
    if (!d.Finish()) return false;
    rules_ = rules;
    std::vector<LabelSet> output;
    for (LabelSet& t : targets) {
      if (!Relabel(*rules_, &t)) continue;
      t.Compact();  // the rules added labels: its vector grew to twice what it holds
      output.push_back(std::move(t));
    }
    config::Object exports;
    exports["output"] = TargetsToValue(std::move(output));
    exports["rules"] = RulesToValue(rules_, id());
    env_->Export(id(), std::move(exports));
    return true;
  }

 private:
  ComponentEnv* env_;
  std::shared_ptr<const std::vector<RelabelRule>> rules_;
};

}  // namespace

std::unique_ptr<Component> BuildDiscoveryRelabel(const config::Component& c,
                                                 const config::Block& args, ComponentEnv& env,
                                                 config::Diags* diags) {
  auto r = std::make_unique<DiscoveryRelabel>(c.id, &env);
  if (!r->Update(args, diags)) return nullptr;
  return r;
}

}  // namespace sluice
