// loki.source.podlogs: watches PodLogs resources (monitoring.grafana.com/v1alpha2), the cluster's
// pods and namespaces (three list+watch informers, as Alloy's controller-runtime cache), and
// tails the containers each selected PodLogs describes through the same KubeLogTailer as
// loki.source.kubernetes. Targets are labelled as Alloy's reconciler labels them (podlogs.h);
// `selector` / `namespace_selector` pick the PodLogs (and the namespaces they live in),
// `node_filter` restricts pods to one node (node_name, else $NODE_NAME), `tail_from_end` starts
// containers without a saved place at "now", `preserve_discovered_labels` keeps the __meta_*
// labels on entries. `clustering` is accepted (sluice does not cluster: every target is tailed).
//
// Built on the loading thread; informers call back on their threads, which post a reconcile to
// the tail thread (coalesced); the rest runs there. Owned by the Runtime.
#include <boost/asio/post.hpp>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/common/strings.h"
#include "agent/components/component.h"
#include "agent/components/loki/source/kube_logs.h"
#include "agent/metadata/podlogs.h"

namespace sluice {
namespace {

bool DecodeSelectorBlock(config::Decoder& d, std::string_view name, metadata::SelectorSpec* out,
                         config::Diags* diags) {
  const config::Block* b = d.OptionalBlock(name);
  if (b == nullptr) return true;
  config::Decoder sd(*b, diags);
  std::map<std::string, std::string> labels;
  sd.StringMap("match_labels", &labels);
  for (const auto& [k, v] : labels) out->match_labels.emplace_back(k, v);
  for (const config::Block* eb : sd.Blocks("match_expression")) {
    config::Decoder ed(*eb, diags);
    metadata::SelectorSpec::Expression x;
    ed.String("key", &x.key, config::Required::kYes);
    ed.String("operator", &x.op, config::Required::kYes);
    ed.StringList("values", &x.values);
    if (ed.Finish()) out->expressions.push_back(std::move(x));
  }
  if (!sd.Finish()) return false;
  absl::StatusOr<metadata::LabelSelector> sel = metadata::LabelSelectorFromSpec(*out);
  if (!sel.ok()) {
    diags->Add(b->span, std::string(sel.status().message()));
    return false;
  }
  return true;
}

// What the informer threads hand to the tail thread.
struct PodLogsShared {
  std::mutex mu;
  std::vector<metadata::PodLogs> podlogs;
  std::vector<metadata::Pod> pods;
  std::map<std::string, metadata::ObjectMeta> namespaces;
  bool posted = false;
  bool stopped = false;
};

class LokiSourcePodLogs final : public Component {
 public:
  LokiSourcePodLogs(std::string id, ComponentEnv* env) : Component(std::move(id)), env_(env) {}
  ~LokiSourcePodLogs() override { StopReading(); }

  bool Build(const config::Block& args, config::Diags* diags) {
    config::Decoder d(args, diags);
    std::vector<LogsNode*> forward;
    env_->Receivers(d, &forward);
    bool tail_from_end = false;
    d.Bool("tail_from_end", &tail_from_end);
    d.Bool("preserve_discovered_labels", &preserve_meta_);
    bool ok = DecodeSelectorBlock(d, "selector", &selector_, diags);
    ok = DecodeSelectorBlock(d, "namespace_selector", &ns_selector_, diags) && ok;
    if (const config::Block* nb = d.OptionalBlock("node_filter")) {
      config::Decoder nd(*nb, diags);
      bool enabled = false;
      nd.Bool("enabled", &enabled);
      nd.String("node_name", &node_);
      nd.Finish();
      if (enabled && node_.empty()) {
        const char* env_node = std::getenv("NODE_NAME");
        if (env_node != nullptr) node_ = env_node;
      }
      if (!enabled) node_.clear();
    }
    metadata::KubeEndpoint endpoint;
    ok = DecodeKubeLogsCommon(d, *env_, args, diags, &endpoint) && ok;
    if (!d.Finish() || !ok) return false;
    endpoint_ = endpoint;
    tailer_ = MakeKubeLogTailer(id(), *env_, std::move(endpoint), forward, tail_from_end);
    invalid_ = env_->metrics->GetCounter(
        "sluice_kubernetes_logs_invalid_targets_total",
        "Targets refused (no namespace, pod, container or uid label; a value not UTF-8).",
        ComponentLabels(id()));
    env_->Export(id(), {});
    return true;
  }

  bool Update(const config::Block&, config::Diags*) override { return true; }
  bool UpdatesInPlace() const override { return false; }

  absl::Status Start() override {
    if (env_->options->validate_only) return absl::OkStatus();
    if (absl::Status st = tailer_->Start(); !st.ok()) return st;
    auto make = [&](const char* resource, std::string path, std::string field,
                    metadata::KubeObjectStore* store, int which) {
      metadata::KubeInformer::Options o;
      o.component_id = id();
      o.resource = resource;
      o.apiserver = endpoint_;
      o.collection.path = std::move(path);
      o.collection.field_selector = std::move(field);
      auto inf = std::make_unique<metadata::KubeInformer>(std::move(o), store, env_->metrics,
                                                          [this, which] { OnChange(which); });
      inf->Start();
      informers_.push_back(std::move(inf));
    };
    make("podlogs", metadata::kPodLogsPath, "", &podlogs_store_, 0);
    make("pods", "/api/v1/pods", node_.empty() ? "" : absl::StrCat("spec.nodeName=", node_),
         &pods_store_, 1);
    make("namespaces", "/api/v1/namespaces", "", &ns_store_, 2);
    return absl::OkStatus();
  }
  void StopReading() override {
    {
      std::lock_guard l(shared_->mu);
      shared_->stopped = true;
    }
    // Kept (stopped) until destruction: Degraded() may read them from another thread.
    for (auto& inf : informers_) inf->Stop();
    if (tailer_) tailer_->StopReading();
  }
  void Finish() override { (void)tailer_->SavePositions(); }
  std::optional<std::string> Degraded() const override {
    for (const auto& inf : informers_) {
      if (auto e = inf->Unhealthy()) return e;
    }
    return std::nullopt;
  }

 private:
  // Informer `which`'s thread: its store (only that thread touches it) as it is now, then a
  // reconcile on the tail thread.
  void OnChange(int which) {
    std::lock_guard l(shared_->mu);
    if (shared_->stopped) return;
    if (which == 0) shared_->podlogs = podlogs_store_.Snapshot();
    if (which == 1) shared_->pods = pods_store_.Snapshot();
    if (which == 2) shared_->namespaces = ns_store_.objects();
    if (shared_->posted) return;
    shared_->posted = true;
    boost::asio::post(*env_->io, [this, shared = shared_] {
      {
        std::lock_guard l(shared->mu);
        shared->posted = false;
        if (shared->stopped) return;
      }
      Reconcile();
    });
  }

  void Reconcile() {
    std::vector<metadata::PodLogs> podlogs;
    std::vector<metadata::Pod> pods;
    std::map<std::string, metadata::ObjectMeta> namespaces;
    {
      std::lock_guard l(shared_->mu);
      podlogs = shared_->podlogs;
      pods = shared_->pods;
      namespaces = shared_->namespaces;
    }
    absl::StatusOr<metadata::LabelSelector> sel = metadata::LabelSelectorFromSpec(selector_);
    absl::StatusOr<metadata::LabelSelector> ns_sel = metadata::LabelSelectorFromSpec(ns_selector_);
    std::vector<KubeLogTarget> targets;
    for (const metadata::PodLogs& pl : podlogs) {
      if (!sel->Matches(pl.labels)) continue;
      auto nit = namespaces.find(pl.ns);
      if (nit == namespaces.end() || !ns_sel->Matches(nit->second.labels)) continue;
      if (!pl.error.empty()) {
        LogWarn("loki.source.podlogs", "failed to reconcile PodLogs",
                {{"component_id", id()}, {"key", metadata::KubeKey(pl)}, {"err", pl.error}});
        continue;
      }
      for (const LabelSet& t : metadata::PodLogsTargets(pl, pods, namespaces)) {
        LabelValue c = t.Get("__pod_container_name__");
        std::string job = absl::StrCat(pl.ns, "/", pl.name, ":", c ? Av(*c) : absl::string_view());
        absl::StatusOr<KubeLogTarget> kt = PrepareKubeLogTarget(t, job, preserve_meta_);
        if (!kt.ok()) {
          invalid_->Inc();
          continue;
        }
        targets.push_back(std::move(*kt));
      }
    }
    tailer_->SetTargets(std::move(targets));
  }

  ComponentEnv* env_;
  metadata::SelectorSpec selector_;
  metadata::SelectorSpec ns_selector_;
  std::string node_;
  bool preserve_meta_ = false;
  metadata::KubeEndpoint endpoint_;
  std::unique_ptr<KubeLogTailer> tailer_;
  Counter* invalid_ = nullptr;
  metadata::KubeStore<metadata::PodLogs> podlogs_store_;
  metadata::KubeStore<metadata::Pod> pods_store_;
  metadata::KubeStore<metadata::ObjectMeta> ns_store_;
  std::vector<std::unique_ptr<metadata::KubeInformer>> informers_;
  std::shared_ptr<PodLogsShared> shared_ = std::make_shared<PodLogsShared>();
};

}  // namespace

std::unique_ptr<Component> BuildLokiSourcePodLogs(const config::Component& c,
                                                  const config::Block& args, ComponentEnv& env,
                                                  config::Diags* diags) {
  auto s = std::make_unique<LokiSourcePodLogs>(c.id, &env);
  if (!s->Build(args, diags)) return nullptr;
  return s;
}

}  // namespace sluice
