// loki.source.kubernetes: tails the containers its `targets` name through the API server's pod
// log endpoint (a KubeLogTailer), labelled as Alloy's kubetail labels them: the target's labels
// without "__" names, `job` = the component id and `instance` = "<ns>/<pod>:<container>" unless
// the target has them. Places live in <storage.path>/<component id>/positions.yml, in Alloy's
// keys and values, and advance only when Loki acknowledged.
//
// `client` is Alloy's Kubernetes client block (decoded as discovery.kubernetes decodes it);
// `clustering` is accepted: sluice runs no cluster, so with `enabled` every target is tailed
// here, which is what Alloy does when it is not running clustered.
//
// Built on the loading thread; the rest on the tail thread (component.h). Owned by the Runtime.
#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/components/component.h"
#include "agent/components/kube_client_block.h"
#include "agent/components/loki/source/kube_logs.h"
#include "agent/source/kube_tailer.h"

namespace sluice {

bool DecodeKubeLogsCommon(config::Decoder& d, ComponentEnv& env, const config::Block& args,
                          config::Diags* diags, metadata::KubeEndpoint* endpoint) {
  bool ok = DecodeKubeClientBlock(d, args, env.options->validate_only, diags, endpoint);
  if (const config::Block* kb = d.OptionalBlock("clustering")) {
    config::Decoder kd(*kb, diags);
    bool enabled = false;
    kd.Bool("enabled", &enabled, config::Required::kYes);
    kd.Finish();
  }
  return ok;
}

std::unique_ptr<KubeLogTailer> MakeKubeLogTailer(const std::string& id, ComponentEnv& env,
                                                 metadata::KubeEndpoint endpoint,
                                                 const std::vector<LogsNode*>& forward,
                                                 bool tail_from_end) {
  const RuntimeOptions& options = *env.options;
  KubeTailerOptions t;
  t.component_id = id;
  t.apiserver = std::move(endpoint);
  auto own_path = options.positions_paths.find(id);
  t.positions_path = own_path != options.positions_paths.end()
                         ? own_path->second
                         : absl::StrCat(options.storage_path, "/", id, "/positions.yml");
  t.route = env.router->AddRoute(forward);
  uint32_t index = env.sources++;
  t.stream_id_base = static_cast<uint64_t>(index) << LogsRouter::kSourceShift;
  t.memory_budget = env.budget;
  t.max_line_size = options.max_line_size;
  t.tail_from_end = tail_from_end;
  t.positions_interval = options.positions_interval;
  auto tailer =
      std::make_unique<KubeLogTailer>(env.io, std::move(t), env.clock, env.metrics, env.router);
  env.router->AddSource(tailer.get());
  return tailer;
}

namespace {

class LokiSourceKubernetes final : public Component {
 public:
  LokiSourceKubernetes(std::string id, ComponentEnv* env) : Component(std::move(id)), env_(env) {}

  bool Build(const config::Block& args, config::Diags* diags) {
    config::Decoder d(args, diags);
    std::vector<LabelSet> targets;
    d.Targets("targets", &targets, config::Required::kYes);
    std::vector<LogsNode*> forward;
    env_->Receivers(d, &forward);
    metadata::KubeEndpoint endpoint;
    bool ok = DecodeKubeLogsCommon(d, *env_, args, diags, &endpoint);
    if (!d.Finish() || !ok) return false;
    tailer_ = MakeKubeLogTailer(id(), *env_, std::move(endpoint), forward, false);
    invalid_ = env_->metrics->GetCounter(
        "sluice_kubernetes_logs_invalid_targets_total",
        "Targets refused (no namespace, pod, container or uid label; a value not UTF-8).",
        ComponentLabels(id()));
    SetTargets(targets);
    env_->Export(id(), {});
    return true;
  }

  bool Update(const config::Block& args, config::Diags* diags) override {
    config::Decoder d(args, diags);
    std::vector<LabelSet> targets;
    if (!d.Targets("targets", &targets, config::Required::kYes)) return false;
    SetTargets(targets);
    return true;
  }

  absl::Status Start() override {
    if (env_->options->validate_only) return absl::OkStatus();
    return tailer_->Start();
  }
  void StopReading() override { tailer_->StopReading(); }
  void Finish() override { (void)tailer_->SavePositions(); }

 private:
  void SetTargets(const std::vector<LabelSet>& targets) {
    std::vector<KubeLogTarget> out;
    for (const LabelSet& t : targets) {
      absl::StatusOr<KubeLogTarget> kt = PrepareKubeLogTarget(t, id());
      if (!kt.ok()) {
        invalid_->Inc();
        LogWarn("loki.source.kubernetes", "failed to process input target",
                {{"component_id", id()},
                 {"target", t.RenderLoki()},
                 {"err", std::string(kt.status().message())}});
        continue;
      }
      out.push_back(std::move(*kt));
    }
    tailer_->SetTargets(std::move(out));
  }

  ComponentEnv* env_;
  std::unique_ptr<KubeLogTailer> tailer_;
  Counter* invalid_ = nullptr;
};

}  // namespace

std::unique_ptr<Component> BuildLokiSourceKubernetes(const config::Component& c,
                                                     const config::Block& args, ComponentEnv& env,
                                                     config::Diags* diags) {
  auto s = std::make_unique<LokiSourceKubernetes>(c.id, &env);
  if (!s->Build(args, diags)) return nullptr;
  return s;
}

}  // namespace sluice
