#include "agent/metadata/pod.h"

#include "agent/metadata/node.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

namespace sluice::metadata {
namespace {

using ::testing::HasSubstr;

// Shaped like a kubelet's /pods answer (fields the targets do not use included).
constexpr char kPodList[] = R"json({
 "kind": "PodList", "apiVersion": "v1", "metadata": {},
 "items": [
  {"metadata": {"name": "web-7d9f-abcde", "namespace": "shop", "uid": "1111-aaaa",
     "resourceVersion": "42", "creationTimestamp": "2026-11-24T10:00:00Z",
     "labels": {"app.kubernetes.io/name": "web", "pod-template-hash": "7d9f"},
     "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-01T00:00:00Z"},
     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f",
        "uid": "rs-1", "controller": true, "blockOwnerDeletion": true}]},
   "spec": {"nodeName": "node-1", "serviceAccountName": "web", "restartPolicy": "Always",
     "initContainers": [{"name": "migrate", "image": "web:1.2"}],
     "containers": [
       {"name": "web", "image": "web:1.2",
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}]},
       {"name": "sidecar", "image": "envoy:1"}]},
   "status": {"phase": "Running", "hostIP": "10.0.0.1", "podIP": "10.1.0.5",
     "podIPs": [{"ip": "10.1.0.5"}, {"ip": "fd00::5"}],
     "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
     "containerStatuses": [
       {"name": "sidecar", "containerID": "containerd://bbb", "ready": true},
       {"name": "web", "containerID": "containerd://aaa", "ready": true}],
     "initContainerStatuses": [{"name": "migrate", "containerID": "containerd://ccc"}]}},
  {"metadata": {"name": "pending-1", "namespace": "shop", "uid": "2222"},
   "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "x"}]},
   "status": {"phase": "Pending"}}
 ]})json";

std::map<std::string, std::string> Map(const LabelSet& l) {
  return {l.labels().begin(), l.labels().end()};
}

TEST(PodTest, ParsesKubeletPodList) {
  std::string rv;
  absl::StatusOr<std::vector<Pod>> pods = ParsePodList(kPodList, &rv);
  ASSERT_TRUE(pods.ok()) << pods.status();
  ASSERT_EQ(pods->size(), 2u);
  const Pod& p = (*pods)[0];
  EXPECT_EQ(p.ns, "shop");
  EXPECT_EQ(p.uid, "1111-aaaa");
  EXPECT_EQ(p.ready, "true");
  EXPECT_EQ(p.controller_kind, "ReplicaSet");
  EXPECT_EQ(p.controller_name, "web-7d9f");
  ASSERT_EQ(p.containers.size(), 3u);
  EXPECT_EQ(p.containers[0].id, "containerd://aaa");  // found by name, not by position
  EXPECT_EQ(p.containers[1].id, "containerd://bbb");
  EXPECT_TRUE(p.containers[2].init);
  EXPECT_EQ(p.containers[2].id, "containerd://ccc");
  EXPECT_EQ((*pods)[1].ready, "unknown");
  EXPECT_EQ((*pods)[1].pod_ip, "");
}

TEST(PodTest, KubeletTargetsAsAlloy) {
  auto pods = ParsePodList(kPodList);
  ASSERT_TRUE(pods.ok());
  std::vector<LabelSet> targets;
  for (const Pod& p : *pods) AppendPodTargets(p, TargetFlavor::kKubelet, nullptr, &targets);
  // web: two ports; sidecar and the init container: one each; the pod without IP: none.
  ASSERT_EQ(targets.size(), 4u);
  auto first = Map(targets[0]);
  std::map<std::string, std::string> want = {
      {"__address__", "10.1.0.5:8080"},
      {"__meta_kubernetes_namespace", "shop"},
      {"__meta_kubernetes_pod_name", "web-7d9f-abcde"},
      {"__meta_kubernetes_pod_ip", "10.1.0.5"},
      {"__meta_kubernetes_pod_ready", "true"},
      {"__meta_kubernetes_pod_phase", "Running"},
      {"__meta_kubernetes_pod_node_name", "node-1"},
      {"__meta_kubernetes_pod_host_ip", "10.0.0.1"},
      {"__meta_kubernetes_pod_uid", "1111-aaaa"},
      {"__meta_kubernetes_pod_controller_kind", "ReplicaSet"},
      {"__meta_kubernetes_pod_controller_name", "web-7d9f"},
      {"__meta_kubernetes_pod_label_app_kubernetes_io_name", "web"},
      {"__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name", "true"},
      {"__meta_kubernetes_pod_label_pod_template_hash", "7d9f"},
      {"__meta_kubernetes_pod_labelpresent_pod_template_hash", "true"},
      {"__meta_kubernetes_pod_annotation_kubectl_kubernetes_io_restartedAt",
       "2026-11-01T00:00:00Z"},
      {"__meta_kubernetes_pod_annotationpresent_kubectl_kubernetes_io_restartedAt", "true"},
      {"__meta_kubernetes_pod_container_name", "web"},
      {"__meta_kubernetes_pod_container_id", "containerd://aaa"},
      {"__meta_kubernetes_pod_container_image", "web:1.2"},
      {"__meta_kubernetes_pod_container_init", "false"},
      {"__meta_kubernetes_pod_container_port_name", "http"},
      {"__meta_kubernetes_pod_container_port_number", "8080"},
      {"__meta_kubernetes_pod_container_port_protocol", "TCP"},
  };
  EXPECT_EQ(first, want);
  EXPECT_EQ(Map(targets[1]).at("__address__"), "10.1.0.5:9090");
  auto sidecar = Map(targets[2]);
  EXPECT_EQ(sidecar.at("__address__"), "10.1.0.5");
  EXPECT_EQ(sidecar.count("__meta_kubernetes_pod_container_port_name"), 0u);
  auto init = Map(targets[3]);
  EXPECT_EQ(init.at("__meta_kubernetes_pod_container_name"), "migrate");
  EXPECT_EQ(init.at("__meta_kubernetes_pod_container_init"), "true");
  // discovery.kubelet does not add the per-family addresses.
  EXPECT_EQ(first.count("__meta_kubernetes_pod_ipv4"), 0u);
}

TEST(PodTest, KubernetesRoleTargetsAddAddressFamiliesAndNodeLabels) {
  auto pods = ParsePodList(kPodList);
  ASSERT_TRUE(pods.ok());
  LabelSet node;
  node.Set("__meta_kubernetes_node_name", "node-1");
  AddObjectMetaLabels("node", {{"topology.kubernetes.io/zone", "a"}}, {}, &node);
  std::vector<LabelSet> targets;
  AppendPodTargets((*pods)[0], TargetFlavor::kKubernetes, &node, &targets);
  ASSERT_EQ(targets.size(), 4u);
  auto t = Map(targets[2]);
  EXPECT_EQ(t.at("__meta_kubernetes_pod_ipv4"), "10.1.0.5");
  EXPECT_EQ(t.at("__meta_kubernetes_pod_ipv6"), "fd00::5");
  EXPECT_EQ(t.at("__meta_kubernetes_node_name"), "node-1");
  EXPECT_EQ(t.at("__meta_kubernetes_node_label_topology_kubernetes_io_zone"), "a");
  EXPECT_EQ(t.at("__meta_kubernetes_node_labelpresent_topology_kubernetes_io_zone"), "true");
}

TEST(PodTest, Ipv6PodAddressIsBracketedForKubernetesRole) {
  Pod p;
  p.ns = "a";
  p.name = "b";
  p.pod_ip = "fd00::7";
  p.containers.push_back(Container{"c", "img", "", false, {}});
  p.containers.push_back(Container{"d", "img", "", false, {{"http", 80, "TCP"}}});
  std::vector<LabelSet> k8s, kubelet;
  AppendPodTargets(p, TargetFlavor::kKubernetes, nullptr, &k8s);
  AppendPodTargets(p, TargetFlavor::kKubelet, nullptr, &kubelet);
  EXPECT_EQ(*k8s[0].Get("__address__"), "[fd00::7]");
  EXPECT_EQ(*k8s[1].Get("__address__"), "[fd00::7]:80");
  EXPECT_EQ(*kubelet[0].Get("__address__"), "fd00::7");
  EXPECT_EQ(*kubelet[1].Get("__address__"), "[fd00::7]:80");
}

TEST(PodTest, SanitizesLabelNamesAsPrometheus) {
  EXPECT_EQ(SanitizeLabelName("app.kubernetes.io/name"), "app_kubernetes_io_name");
  EXPECT_EQ(SanitizeLabelName("a-b_c9"), "a_b_c9");
  EXPECT_EQ(SanitizeLabelName("caf\xc3\xa9"), "caf_");  // one rune, one underscore
  EXPECT_EQ(SanitizeLabelName("9lives"), "9lives");
}

TEST(PodTest, RefusesWhatIsNotAPodList) {
  EXPECT_FALSE(ParsePodList("{not json").ok());
  auto other = ParsePodList(R"({"kind":"Status","apiVersion":"v1"})");
  ASSERT_FALSE(other.ok());
  EXPECT_THAT(other.status().message(), HasSubstr("expected a PodList, got Status"));
  auto empty = ParsePodList(R"({"kind":"PodList","metadata":{"resourceVersion":"7"}})");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

// The list is split at its top level and each item parsed on its own: the split must not be
// fooled by brackets and quotes inside strings, and must refuse what the whole-document parse
// refused.
TEST(PodTest, SplitsTheListAtItsTopLevelOnly) {
  auto pods = ParsePodList(
      "{ \"apiVersion\" : \"v1\", \"kind\":\"PodList\",\n"
      " \"metadata\": {\"resourceVersion\": \"42\", \"x\": [1, {\"y\": \"]}\"}]},\n"
      " \"items\" : [ {\"metadata\": {\"name\": \"a\\\"]},\", \"namespace\": \"n\", "
      "\"uid\": \"u1\", \"labels\": {\"k\": \"{[\"}}} ,\n"
      "  {\"metadata\": {\"name\": \"b\", \"namespace\": \"n\", \"uid\": \"u2\"}} ] }\n");
  ASSERT_TRUE(pods.ok()) << pods.status();
  ASSERT_EQ(pods->size(), 2u);
  EXPECT_EQ((*pods)[0].name, "a\"]},");
  EXPECT_EQ((*pods)[1].uid, "u2");
  std::string rv;
  ASSERT_TRUE(
      ParsePodList(R"({"kind":"PodList","metadata":{"resourceVersion":"42"},"items":[]})", &rv)
          .ok());
  EXPECT_EQ(rv, "42");
  // Go marshals a nil slice as null.
  auto null_items = ParsePodList(R"({"kind":"PodList","items":null})");
  ASSERT_TRUE(null_items.ok()) << null_items.status();
  EXPECT_TRUE(null_items->empty());

  for (const char* bad : {
           R"({"kind":"PodList","items":[{"metadata":{}}]} trailing)",
           R"({"kind":"PodList","items":[{"metadata":{}},]})",
           R"({"kind":"PodList","items":[{"metadata":{"name":"x"}})",
           R"({"kind":"PodList","items":[{"metadata":{"name":"x"]}]})",
           R"({"kind":"PodList","items":[{"metadata":{"name":tru}}]})",
           R"({"kind":"PodList" "items":[]})",
           R"({"kind":"PodList","items":{"a":1}})",
           R"({"kind":"PodList","metadata":{"resourceVersion":"1",},"items":[]})",
           R"({"kind":"PodList","items":[{"metadata":{"name":"unterminated}}]})",
           "{\"kind\":\"PodList\",\"items\":[{\"metadata\":{\"name\":\"\xff\"}}]}",
           R"([])",
           "",
       }) {
    auto st = ParsePodList(bad);
    EXPECT_FALSE(st.ok()) << bad;
  }
}

TEST(PodTest, ParsesWatchEvents) {
  auto added = ParseWatchEvent(
      R"({"type":"ADDED","object":{"metadata":{"name":"p","namespace":"n","uid":"u",)"
      R"("resourceVersion":"9"},"status":{"podIP":"10.0.0.9"}}})");
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(added->type, "ADDED");
  EXPECT_EQ(added->object.uid, "u");
  EXPECT_EQ(added->resource_version, "9");
  auto gone = ParseWatchEvent(
      R"({"type":"ERROR","object":{"kind":"Status","code":410,"message":"too old"}})");
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->code, 410);
  EXPECT_EQ(gone->message, "too old");
}

// A NodeList as the API server sends it (fields the target does not use included).
constexpr char kNodeList[] = R"json({
 "kind": "NodeList", "apiVersion": "v1", "metadata": {"resourceVersion": "812"},
 "items": [
  {"metadata": {"name": "ip-10-0-1-7.eu-west-1.compute.internal", "uid": "n-1",
     "resourceVersion": "800",
     "labels": {"kubernetes.io/hostname": "ip-10-0-1-7", "topology.kubernetes.io/zone": "eu-west-1a",
                "node-role.kubernetes.io/worker": ""},
     "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
   "spec": {"providerID": "aws:///eu-west-1a/i-0abc", "podCIDR": "10.244.1.0/24"},
   "status": {
     "conditions": [{"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"},
                    {"type": "Ready", "status": "True", "reason": "KubeletReady"},
                    {"type": "NetworkUnavailable", "status": "Unknown"}],
     "addresses": [{"type": "Hostname", "address": "ip-10-0-1-7"},
                   {"type": "ExternalIP", "address": "203.0.113.7"},
                   {"type": "InternalIP", "address": "10.0.1.7"},
                   {"type": "InternalIP", "address": "10.0.1.8"},
                   {"type": "InternalDNS", "address": "ip-10-0-1-7.eu-west-1.compute.internal"}],
     "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
     "nodeInfo": {"kubeletVersion": "v1.30.2"}}},
  {"metadata": {"name": "v6"},
   "status": {"addresses": [{"type": "ExternalDNS", "address": "v6.example.com"},
                            {"type": "ExternalIP", "address": "2001:db8::6"}],
              "daemonEndpoints": {"kubeletEndpoint": {"Port": 10255}}}},
  {"metadata": {"name": "hostname-only"},
   "status": {"addresses": [{"type": "Hostname", "address": "h1"}]}},
  {"metadata": {"name": "no-address"}, "status": {}}
 ]})json";

TEST(NodeTest, TargetsAsPrometheusNodeRole) {
  std::vector<Node> nodes;
  std::string rv;
  ASSERT_TRUE(ParseKubeList(kNodeList, &nodes, &rv).ok());
  EXPECT_EQ(rv, "812");
  ASSERT_EQ(nodes.size(), 4u);
  std::optional<LabelSet> t = NodeTarget(nodes[0]);
  ASSERT_TRUE(t.has_value());
  const std::string name = "ip-10-0-1-7.eu-west-1.compute.internal";
  std::map<std::string, std::string> want = {
      // InternalIP first, whatever the order of the list; the first of them.
      {"__address__", "10.0.1.7:10250"},
      {"instance", name},
      {"__meta_kubernetes_node_name", name},
      {"__meta_kubernetes_node_provider_id", "aws:///eu-west-1a/i-0abc"},
      {"__meta_kubernetes_node_condition_memorypressure", "false"},
      {"__meta_kubernetes_node_condition_ready", "true"},
      {"__meta_kubernetes_node_condition_networkunavailable", "unknown"},
      {"__meta_kubernetes_node_address_Hostname", "ip-10-0-1-7"},
      {"__meta_kubernetes_node_address_ExternalIP", "203.0.113.7"},
      {"__meta_kubernetes_node_address_InternalIP", "10.0.1.7"},
      {"__meta_kubernetes_node_address_InternalDNS", name},
      {"__meta_kubernetes_node_label_kubernetes_io_hostname", "ip-10-0-1-7"},
      {"__meta_kubernetes_node_labelpresent_kubernetes_io_hostname", "true"},
      {"__meta_kubernetes_node_label_topology_kubernetes_io_zone", "eu-west-1a"},
      {"__meta_kubernetes_node_labelpresent_topology_kubernetes_io_zone", "true"},
      {"__meta_kubernetes_node_label_node_role_kubernetes_io_worker", ""},
      {"__meta_kubernetes_node_labelpresent_node_role_kubernetes_io_worker", "true"},
      {"__meta_kubernetes_node_annotation_node_alpha_kubernetes_io_ttl", "0"},
      {"__meta_kubernetes_node_annotationpresent_node_alpha_kubernetes_io_ttl", "true"},
  };
  EXPECT_EQ(Map(*t), want);

  // ExternalIP before ExternalDNS; an IPv6 address bracketed; no providerID: an empty label.
  t = NodeTarget(nodes[1]);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(*t->Get("__address__"), "[2001:db8::6]:10255");
  EXPECT_EQ(*t->Get("__meta_kubernetes_node_address_ExternalDNS"), "v6.example.com");
  EXPECT_EQ(*t->Get("__meta_kubernetes_node_provider_id"), "");
  // Only a hostname: that; no kubelet endpoint: port 0, as Go's zero value.
  t = NodeTarget(nodes[2]);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(*t->Get("__address__"), "h1:0");
  // No address at all: no target.
  EXPECT_FALSE(NodeTarget(nodes[3]).has_value());
}

TEST(NodeTest, WatchEventsAndNamespaces) {
  KubeWatchEvent<Node> ev;
  ASSERT_TRUE(ParseKubeWatchEvent(
                  R"({"type":"MODIFIED","object":{"kind":"Node","metadata":{"name":"n1",)"
                  R"("resourceVersion":"9"},"status":{"addresses":[{"type":"InternalIP",)"
                  R"("address":"10.0.0.1"}],"daemonEndpoints":{"kubeletEndpoint":{"Port":1}}}}})",
                  &ev)
                  .ok());
  EXPECT_EQ(ev.type, "MODIFIED");
  EXPECT_EQ(ev.resource_version, "9");
  EXPECT_EQ(*NodeTarget(ev.object)->Get("__address__"), "10.0.0.1:1");
  std::vector<Node> wrong;
  EXPECT_THAT(std::string(ParseKubeList(kPodList, &wrong, nullptr).message()),
              HasSubstr("expected a NodeList, got PodList"));

  std::vector<ObjectMeta> namespaces;
  ASSERT_TRUE(
      ParseKubeList(
          R"({"kind":"NamespaceList","metadata":{"resourceVersion":"3"},"items":[)"
          R"({"metadata":{"name":"shop","labels":{"kubernetes.io/metadata.name":"shop",)"
          R"("team.example.com/owner":"payments"},"annotations":{"scheduler.alpha/x":"y"}}}]})",
          &namespaces, nullptr)
          .ok());
  ASSERT_EQ(namespaces.size(), 1u);
  // The namespace's labels and annotations, not its name (the pod's target has it already).
  std::map<std::string, std::string> want = {
      {"__meta_kubernetes_namespace_label_kubernetes_io_metadata_name", "shop"},
      {"__meta_kubernetes_namespace_labelpresent_kubernetes_io_metadata_name", "true"},
      {"__meta_kubernetes_namespace_label_team_example_com_owner", "payments"},
      {"__meta_kubernetes_namespace_labelpresent_team_example_com_owner", "true"},
      {"__meta_kubernetes_namespace_annotation_scheduler_alpha_x", "y"},
      {"__meta_kubernetes_namespace_annotationpresent_scheduler_alpha_x", "true"},
  };
  EXPECT_EQ(Map(NamespaceMetaLabels(namespaces[0])), want);
}

}  // namespace
}  // namespace sluice::metadata
