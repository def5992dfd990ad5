#include "agent/metadata/node.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
#include "agent/metadata/kube_json.h"

namespace sluice::metadata {
namespace {

using kube_json::element;
using kube_json::Str;

void DecodeNode(element e, Node* out) {
  *out = Node();
  out->meta = kube_json::Meta(e);
  element spec, status;
  if (e["spec"].get(spec) == simdjson::SUCCESS) out->provider_id = Str(spec, "providerID");
  if (e["status"].get(status) != simdjson::SUCCESS) return;
  simdjson::dom::array list;
  if (status["addresses"].get_array().get(list) == simdjson::SUCCESS) {
    for (element a : list) out->addresses.push_back({Str(a, "type"), Str(a, "address")});
  }
  if (status["conditions"].get_array().get(list) == simdjson::SUCCESS) {
    for (element c : list) out->conditions.push_back({Str(c, "type"), Str(c, "status")});
  }
  element kubelet;
  // The field is "Port", capitalised, in the API's JSON.
  if (status["daemonEndpoints"]["kubeletEndpoint"].get(kubelet) == simdjson::SUCCESS) {
    out->kubelet_port = kube_json::Int(kubelet, "Port");
  }
}

// The first address of `type`, or null.
const std::string* FirstOfType(const Node& node, std::string_view type) {
  for (const Node::Address& a : node.addresses) {
    if (a.type == type) return &a.address;
  }
  return nullptr;
}

}  // namespace

absl::Status ParseKubeList(std::string_view json, std::vector<Node>* out,
                           std::string* resource_version) {
  return kube_json::ParseList(json, "NodeList", DecodeNode, out, resource_version);
}

absl::Status ParseKubeWatchEvent(std::string_view json, KubeWatchEvent<Node>* out) {
  return kube_json::ParseWatchEvent(json, DecodeNode, out);
}

std::optional<std::string> NodeAddress(const Node& node) {
  // Prometheus' order (from Kubernetes' own node address helper).
  for (std::string_view type :
       {"InternalIP", "InternalDNS", "ExternalIP", "ExternalDNS", "LegacyHostIP", "Hostname"}) {
    if (const std::string* a = FirstOfType(node, type)) return *a;
  }
  return std::nullopt;
}

std::optional<LabelSet> NodeTarget(const Node& node) {
  std::optional<std::string> address = NodeAddress(node);
  if (!address) return std::nullopt;
  LabelSet t;
  t.Set("__meta_kubernetes_node_name", node.meta.name);
  t.Set("__meta_kubernetes_node_provider_id", node.provider_id);
  for (const Node::Condition& c : node.conditions) {
    t.Set(absl::StrCat("__meta_kubernetes_node_condition_",
                       SanitizeLabelName(absl::AsciiStrToLower(Av(c.type)))),
          absl::AsciiStrToLower(Av(c.status)));
  }
  AddObjectMetaLabels("node", node.meta.labels, node.meta.annotations, &t);
  // Target labels over the group's, as Alloy merges them (they do not overlap).
  for (const Node::Address& a : node.addresses) {
    std::string name = SanitizeLabelName(absl::StrCat("__meta_kubernetes_node_address_", a.type));
    if (!t.Has(name)) t.Set(name, a.address);  // the first of each type
  }
  std::string port = std::to_string(node.kubelet_port);
  t.Set("__address__", address->find(':') == std::string::npos
                           ? absl::StrCat(*address, ":", port)
                           : absl::StrCat("[", *address, "]:", port));
  t.Set("instance", node.meta.name);
  return t;
}

}  // namespace sluice::metadata
