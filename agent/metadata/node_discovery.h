// NodeDiscovery: the running part of discovery.kubernetes with role "node".
//
// A KubeInformer lists and watches /api/v1/nodes with the component's node selectors
// (`selectors { role = "node" ... }`: labelSelector/fieldSelector) and every change becomes the
// component's targets: one per node (see node.h), sorted by node name. As Prometheus, a node that
// loses all its addresses keeps the target it had (Prometheus sends no update for it) until it is
// deleted; one that never had an address has none (counted in
// sluice_kubernetes_nodes_without_address_total, and logged).
//
// Created by the Runtime on the loading thread; Start()/Stop(), the targets and `publish` run on
// the tail thread (changes are posted to its io_context); the informer's thread lists and watches.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "agent/common/metrics.h"
#include "agent/metadata/kube_watch.h"
#include "agent/metadata/node.h"
#include "agent/pipeline/labels.h"

namespace sluice::metadata {

struct NodeDiscoveryOptions {
  std::string component_id;
  KubeEndpoint apiserver;
  std::string label_selector;  // sent to the API server as given
  std::string field_selector;
  absl::Duration timeout = absl::Seconds(30);
};

class NodeDiscovery {
 public:
  using Publish = std::function<void(std::vector<LabelSet>)>;

  NodeDiscovery(boost::asio::io_context* io, NodeDiscoveryOptions options, MetricsRegistry* metrics,
                Publish publish, KubeClientFactory factory = nullptr);
  ~NodeDiscovery();
  NodeDiscovery(const NodeDiscovery&) = delete;
  NodeDiscovery& operator=(const NodeDiscovery&) = delete;

  void Start();  // tail thread
  void Stop();   // tail thread; joins the informer's thread
  // Why the component is unhealthy (the last list or watch failed), or nullopt. Any thread.
  std::optional<std::string> Unhealthy() const { return informer_->Unhealthy(); }

 private:
  void PostNodes();                       // informer thread
  void OnNodes(std::vector<Node> nodes);  // tail thread

  boost::asio::io_context* io_;
  NodeDiscoveryOptions options_;
  Publish publish_;

  // Informer thread.
  KubeStore<Node> store_;
  std::unique_ptr<KubeInformer> informer_;
  // The newest nodes not handled by the tail thread yet: a burst of changes is handled once.
  std::mutex pending_mu_;
  std::optional<std::vector<Node>> pending_;

  // Tail thread.
  std::map<std::string, LabelSet> targets_;  // by node name
  std::set<std::string> addressless_;        // nodes seen without an address (counted once)
  size_t published_hash_ = 0;  // of the targets last published (HashTargets): not a copy
  bool published_once_ = false;
  bool stopped_ = false;

  Counter* addressless_total_;
  Gauge* targets_gauge_;
};

}  // namespace sluice::metadata
