// discovery.kubernetes, role "pod": pods from the API server (watched), or from the node's
// kubelet when a field selector restricts it to one node, as targets with Alloy's
// __meta_kubernetes_* labels (attach_metadata: the node's, the namespace's); role "node": the
// cluster's nodes from the API server (watched), one target each. Other roles are refused with a
// message naming them.
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/common/log.h"
#include "agent/common/strings.h"
#include "agent/components/discovery/pods.h"
#include "agent/metadata/kubeconfig.h"

namespace sluice {

std::unique_ptr<Component> BuildDiscoveryKubernetes(const config::Component& c,
                                                    const config::Block& args, ComponentEnv& env,
                                                    config::Diags* diags) {
  config::Decoder d(args, diags);
  metadata::PodDiscoveryOptions o;
  std::string role;
  d.String("role", &role, config::Required::kYes);
  std::string api_server;
  bool has_api = d.String("api_server", &api_server);
  std::string kubeconfig;
  d.String("kubeconfig_file", &kubeconfig);
  metadata::KubeEndpoint api;
  std::optional<std::string> client_error = DecodeHttpClientConfig(d, &api.http);
  if (const config::Block* nb = d.OptionalBlock("namespaces")) {
    config::Decoder nd(*nb, diags);
    bool own = false;
    nd.Bool("own_namespace", &own);
    nd.StringList("names", &o.namespaces);
    nd.Finish();
    if (own) {
      std::ifstream f(absl::StrCat(kServiceAccountDir, "/namespace"));
      std::string ns;
      if (f >> ns) o.namespaces.push_back(ns);
    }
  }
  // The selectors of the component's own role, joined (Prometheus keeps one per role).
  std::vector<std::string> labels, fields;
  for (const config::Block* sb : d.Blocks("selectors")) {
    config::Decoder sd(*sb, diags);
    std::string srole, label, field;
    sd.String("role", &srole, config::Required::kYes);
    sd.String("label", &label);
    sd.String("field", &field);
    if (!label.empty()) {
      absl::StatusOr<metadata::LabelSelector> one = metadata::LabelSelector::Parse(label);
      if (!one.ok()) sd.ErrorAt("label", std::string(one.status().message()));
    }
    if (!field.empty()) {
      absl::StatusOr<metadata::FieldSelector> one =
          metadata::FieldSelector::Parse(field, srole == "node" ? metadata::SelectorObject::kNode
                                                                : metadata::SelectorObject::kPod);
      if (!one.ok()) sd.ErrorAt("field", std::string(one.status().message()));
    }
    if (!sd.Finish()) continue;
    if (srole == "node" && role == "pod") {
      // Prometheus applies node selectors to the node metadata it attaches to pods.
      LogWarn("discovery.kubernetes",
              "selectors for role \"node\" do not narrow the node metadata sluice attaches",
              {{"component_id", c.id}});
      continue;
    }
    if (srole != role && (role == "pod" || role == "node")) {
      diags->Add(sb->span, absl::StrCat("sluice: selectors for role \"", Av(srole),
                                        "\" cannot apply to role \"", Av(role), "\""));
    }
    if (!label.empty()) labels.push_back(label);
    if (!field.empty()) fields.push_back(field);
  }
  bool ns_meta = false;
  if (const config::Block* ab = d.OptionalBlock("attach_metadata")) {
    config::Decoder ad(*ab, diags);
    ad.Bool("node", &o.attach_node);
    ad.Bool("namespace", &ns_meta);
    if (ad.Finish() && role == "node" && (o.attach_node || ns_meta)) {
      LogWarn("discovery.kubernetes", "attach_metadata has no effect with role \"node\"",
              {{"component_id", c.id}});
    }
  }
  if (!d.Finish()) return nullptr;
  if (client_error) {
    diags->Add(args.span, *client_error);
    return nullptr;
  }
  if (role != "pod" && role != "node") {
    d.ErrorAt("role", absl::StrCat("sluice: role \"", Av(role),
                                   "\" is not supported (sluice supports roles \"pod\" and "
                                   "\"node\")"));
    return nullptr;
  }
  if (role == "node" && !o.namespaces.empty()) {
    // Nodes belong to no namespace: Prometheus lists them all.
    LogWarn("discovery.kubernetes", "namespaces have no effect with role \"node\"",
            {{"component_id", c.id}});
  }
  if (!kubeconfig.empty()) {
    if (has_api) {
      d.ErrorAt("kubeconfig_file", "cannot use 'kubeconfig_file' and 'api_server' simultaneously");
      return nullptr;
    }
    absl::StatusOr<metadata::KubeEndpoint> ep = metadata::LoadKubeconfig(kubeconfig);
    if (!ep.ok()) {
      d.ErrorAt("kubeconfig_file", std::string(ep.status().message()));
      return nullptr;
    }
    ep->http.http_headers = api.http.http_headers;
    ep->http.proxy = api.http.proxy;
    api = std::move(*ep);
  }
  std::string label_selector = absl::StrJoin(labels, ",");
  std::string field_selector = absl::StrJoin(fields, ",");
  if (has_api) {
    if (!CheckHttpUrl(d, "api_server", &api_server)) return nullptr;
    api.base_url = api_server;
  } else if (!kubeconfig.empty()) {
    // The kubeconfig's cluster and credentials (set above).
  } else {
    // In the cluster: the service's address and the service account, as client-go does.
    absl::StatusOr<std::string> base = InClusterApiServer(&api.http);
    if (!base.ok() && env.options->validate_only) base = std::string(kValidateApiServer);
    if (!base.ok()) {
      diags->Add(args.span, std::string(base.status().message()));
      return nullptr;
    }
    api.base_url = *base;
  }
  if (role == "node") {
    metadata::NodeDiscoveryOptions n;
    n.apiserver = std::move(api);
    n.label_selector = std::move(label_selector);
    n.field_selector = std::move(field_selector);
    return MakeNodesComponent(c, env, std::move(n));
  }
  o.label_selector = std::move(label_selector);
  o.field_selector = std::move(field_selector);
  absl::StatusOr<metadata::LabelSelector> ls = metadata::LabelSelector::Parse(o.label_selector);
  absl::StatusOr<metadata::FieldSelector> fs = metadata::FieldSelector::Parse(o.field_selector);
  if (!ls.ok() || !fs.ok()) {
    diags->Add(args.span, std::string((!ls.ok() ? ls.status() : fs.status()).message()));
    return nullptr;
  }
  o.labels = *ls;
  o.fields = *fs;
  o.attach_namespace = ns_meta;
  // Restricted to one node: that node's kubelet serves the pods, the API server is not asked
  // (and is the fallback while the kubelet has never answered).
  if (std::optional<std::string> node = o.fields.NodeName()) {
    o.node_name = *node;
    metadata::KubeEndpoint kubelet;
    kubelet.base_url = EnvVar("SLUICE_KUBELET_URL");
    if (kubelet.base_url.empty()) {
      std::string host = EnvVar("NODE_IP");
      if (host.empty()) host = *node;
      if (host.find(':') != std::string::npos) host = absl::StrCat("[", host, "]");
      kubelet.base_url = absl::StrCat("https://", host, ":10250");
    }
    while (!kubelet.base_url.empty() && kubelet.base_url.back() == '/') kubelet.base_url.pop_back();
    kubelet.http = api.http;  // the same credentials (the service account's token)
    // Kubelet serving certificates are often self-signed (kubeadm's default).
    if (EnvVar("SLUICE_KUBELET_INSECURE_SKIP_VERIFY") == "true") {
      kubelet.http.tls.insecure_skip_verify = true;
    }
    o.kubelet = std::move(kubelet);
  }
  o.apiserver = std::move(api);
  o.watch = true;
  o.index.flavor = metadata::TargetFlavor::kKubernetes;
  o.index.fallback_namespaces = o.namespaces;
  // Only the node and the namespace can be told from a pod's directory name.
  o.index.fallback =
      o.labels.empty() &&
      (o.fields.empty() || o.field_selector == absl::StrCat("spec.nodeName=", o.node_name) ||
       o.field_selector == absl::StrCat("spec.nodeName==", o.node_name));
  return MakePodsComponent(c, env, std::move(o));
}

}  // namespace sluice
