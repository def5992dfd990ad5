#include "agent/metadata/node_discovery.h"

#include <boost/asio/post.hpp>

#include "agent/common/log.h"

namespace sluice::metadata {

NodeDiscovery::NodeDiscovery(boost::asio::io_context* io, NodeDiscoveryOptions options,
                             MetricsRegistry* metrics, Publish publish, KubeClientFactory factory)
    : io_(io), options_(std::move(options)), publish_(std::move(publish)) {
  KubeInformer::Options o;
  o.component_id = options_.component_id;
  o.resource = "nodes";
  o.apiserver = options_.apiserver;
  o.collection.path = "/api/v1/nodes";
  o.collection.label_selector = options_.label_selector;
  o.collection.field_selector = options_.field_selector;
  o.timeout = options_.timeout;
  o.factory = std::move(factory);
  informer_ =
      std::make_unique<KubeInformer>(std::move(o), &store_, metrics, [this] { PostNodes(); });
  MetricLabels l = {{"component_id", SplitComponentId(options_.component_id).first}};
  addressless_total_ = metrics->GetCounter(
      "sluice_kubernetes_nodes_without_address_total",
      "Nodes that had no address to make a target of (each counted once per time it happens).", l);
  targets_gauge_ = metrics->GetGauge("sluice_kubernetes_node_targets", "Node targets exported.", l);
}

NodeDiscovery::~NodeDiscovery() { Stop(); }

void NodeDiscovery::Start() { informer_->Start(); }

void NodeDiscovery::Stop() {
  stopped_ = true;
  informer_->Stop();
}

void NodeDiscovery::PostNodes() {
  std::vector<Node> nodes = store_.Snapshot();
  bool idle;
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    idle = !pending_.has_value();
    pending_ = std::move(nodes);
  }
  if (!idle) return;  // the handler posted before takes these
  boost::asio::post(*io_, [this] {
    std::optional<std::vector<Node>> latest;
    {
      std::lock_guard<std::mutex> lock(pending_mu_);
      latest.swap(pending_);
    }
    if (latest) OnNodes(std::move(*latest));
  });
}

void NodeDiscovery::OnNodes(std::vector<Node> nodes) {
  if (stopped_) return;
  std::map<std::string, LabelSet> next;
  std::set<std::string> without;
  for (const Node& n : nodes) {
    const std::string& name = n.meta.name;
    if (std::optional<LabelSet> t = NodeTarget(n)) {
      next.emplace(name, std::move(*t));
      continue;
    }
    without.insert(name);
    if (!addressless_.contains(name)) {
      addressless_total_->Inc();
      LogWarn("discovery", "no node address found: the node has no target",
              {{"component", options_.component_id}, {"node", name}});
    }
    // Prometheus sends nothing for it: the target it had stays.
    if (auto old = targets_.find(name); old != targets_.end()) next.emplace(name, old->second);
  }
  addressless_ = std::move(without);
  targets_ = std::move(next);
  std::vector<LabelSet> targets;
  targets.reserve(targets_.size());
  for (const auto& [name, t] : targets_) targets.push_back(t);
  targets_gauge_->Set(static_cast<double>(targets.size()));
  const size_t hash = HashTargets(targets);
  if (!published_once_ || hash != published_hash_) {
    published_once_ = true;
    published_hash_ = hash;
    publish_(std::move(targets));
  }
}

}  // namespace sluice::metadata
