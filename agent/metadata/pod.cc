#include "agent/metadata/pod.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/common/status_macros.h"
#include "agent/common/strings.h"
#include "agent/metadata/kube_json.h"

namespace sluice::metadata {
namespace {

using kube_json::Bool;
using kube_json::element;
using kube_json::Str;
using kube_json::StringMap;

void ParseContainers(element spec, element status, std::string_view spec_key,
                     std::string_view status_key, bool init, std::vector<Container>* out) {
  simdjson::dom::array list;
  if (spec[spec_key].get_array().get(list) != simdjson::SUCCESS) return;
  simdjson::dom::array statuses;
  bool have_statuses = status[status_key].get_array().get(statuses) == simdjson::SUCCESS;
  for (element c : list) {
    Container container;
    container.name = Str(c, "name");
    container.image = Str(c, "image");
    container.init = init;
    simdjson::dom::array ports;
    if (c["ports"].get_array().get(ports) == simdjson::SUCCESS) {
      for (element p : ports) {
        ContainerPort port;
        port.name = Str(p, "name");
        port.number = kube_json::Int(p, "containerPort");
        port.protocol = Str(p, "protocol");
        container.ports.push_back(std::move(port));
      }
    }
    if (have_statuses) {
      for (element s : statuses) {
        if (Str(s, "name") == container.name) {
          container.id = Str(s, "containerID");
          break;
        }
      }
    }
    out->push_back(std::move(container));
  }
}

void DecodePod(element e, Pod* out) {
  Pod& pod = *out;
  pod = Pod();
  element meta = e["metadata"].value_unsafe();
  element spec = e["spec"].value_unsafe();
  element status = e["status"].value_unsafe();
  if (e["metadata"].error() == simdjson::SUCCESS) {
    pod.ns = Str(meta, "namespace");
    pod.name = Str(meta, "name");
    pod.uid = Str(meta, "uid");
    pod.resource_version = Str(meta, "resourceVersion");
    pod.labels = StringMap(meta, "labels");
    pod.annotations = StringMap(meta, "annotations");
    simdjson::dom::array owners;
    if (meta["ownerReferences"].get_array().get(owners) == simdjson::SUCCESS) {
      for (element o : owners) {
        if (!Bool(o, "controller")) continue;
        pod.controller_kind = Str(o, "kind");
        pod.controller_name = Str(o, "name");
        break;
      }
    }
  }
  bool have_spec = e["spec"].error() == simdjson::SUCCESS;
  bool have_status = e["status"].error() == simdjson::SUCCESS;
  if (have_spec) {
    pod.node_name = Str(spec, "nodeName");
    pod.service_account = Str(spec, "serviceAccountName");
    pod.restart_policy = Str(spec, "restartPolicy");
    pod.scheduler_name = Str(spec, "schedulerName");
    pod.host_network = Bool(spec, "hostNetwork");
  }
  if (have_status) {
    pod.pod_ip = Str(status, "podIP");
    pod.host_ip = Str(status, "hostIP");
    pod.phase = Str(status, "phase");
    simdjson::dom::array ips;
    if (status["podIPs"].get_array().get(ips) == simdjson::SUCCESS) {
      for (element ip : ips) pod.pod_ips.push_back(Str(ip, "ip"));
    }
    simdjson::dom::array conditions;
    if (status["conditions"].get_array().get(conditions) == simdjson::SUCCESS) {
      for (element c : conditions) {
        if (Str(c, "type") == "Ready") {
          pod.ready = absl::AsciiStrToLower(Av(Str(c, "status")));
          break;
        }
      }
    }
  }
  if (have_spec) {
    element st = have_status ? status : spec;  // no status: no container ids
    ParseContainers(spec, st, "containers", have_status ? "containerStatuses" : "", false,
                    &pod.containers);
    ParseContainers(spec, st, "initContainers", have_status ? "initContainerStatuses" : "", true,
                    &pod.containers);
  }
}

// Is `ip` an IPv4 address (dotted quad)? Anything else with a ':' is taken as IPv6.
bool IsIpv4(std::string_view ip) { return ip.find(':') == std::string_view::npos; }

}  // namespace

const std::string* Pod::Annotation(std::string_view key) const {
  for (const auto& [k, v] : annotations) {
    if (k == key) return &v;
  }
  return nullptr;
}

absl::Status ParseKubeList(std::string_view json, std::vector<Pod>* out,
                           std::string* resource_version) {
  return kube_json::ParseList(json, "PodList", DecodePod, out, resource_version);
}

absl::Status ParseKubeWatchEvent(std::string_view json, KubeWatchEvent<Pod>* out) {
  return kube_json::ParseWatchEvent(json, DecodePod, out);
}

absl::StatusOr<std::vector<Pod>> ParsePodList(std::string_view json,
                                              std::string* resource_version) {
  std::vector<Pod> pods;
  RETURN_IF_ERROR(ParseKubeList(json, &pods, resource_version));
  return pods;
}

absl::StatusOr<WatchEvent> ParseWatchEvent(std::string_view json) {
  WatchEvent ev;
  RETURN_IF_ERROR(ParseKubeWatchEvent(json, &ev));
  return ev;
}

void AppendPodTargets(const Pod& pod, TargetFlavor flavor, const LabelSet* extra,
                      std::vector<LabelSet>* out) {
  // As both Alloy and Prometheus: no IP (starting, evicted), no target.
  if (pod.pod_ip.empty()) return;
  LabelSet group;
  group.Set("__meta_kubernetes_namespace", pod.ns);
  group.Set("__meta_kubernetes_pod_name", pod.name);
  group.Set("__meta_kubernetes_pod_ip", pod.pod_ip);
  group.Set("__meta_kubernetes_pod_ready", pod.ready);
  group.Set("__meta_kubernetes_pod_phase", pod.phase);
  group.Set("__meta_kubernetes_pod_node_name", pod.node_name);
  group.Set("__meta_kubernetes_pod_host_ip", pod.host_ip);
  group.Set("__meta_kubernetes_pod_uid", pod.uid);
  if (!pod.controller_kind.empty()) {
    group.Set("__meta_kubernetes_pod_controller_kind", pod.controller_kind);
  }
  if (!pod.controller_name.empty()) {
    group.Set("__meta_kubernetes_pod_controller_name", pod.controller_name);
  }
  AddObjectMetaLabels("pod", pod.labels, pod.annotations, &group);
  std::string address = pod.pod_ip;
  if (flavor == TargetFlavor::kKubernetes) {
    // The first IPv4 and the first IPv6 address of status.podIPs.
    bool v4 = false, v6 = false;
    for (const std::string& ip : pod.pod_ips) {
      if (ip.empty()) continue;
      if (IsIpv4(ip) && !v4) {
        group.Set("__meta_kubernetes_pod_ipv4", ip);
        v4 = true;
      } else if (!IsIpv4(ip) && !v6) {
        group.Set("__meta_kubernetes_pod_ipv6", ip);
        v6 = true;
      }
    }
    // A bare IPv6 address in __address__ is bracketed (RFC 3986).
    if (!IsIpv4(pod.pod_ip)) address = absl::StrCat("[", pod.pod_ip, "]");
  }
  if (extra != nullptr) {
    for (const auto& [k, v] : extra->labels()) group.Set(k, v);
  }
  for (const Container& c : pod.containers) {
    auto add = [&](const ContainerPort* port) {
      LabelSet t = group;
      t.Set("__meta_kubernetes_pod_container_name", c.name);
      t.Set("__meta_kubernetes_pod_container_id", c.id);
      t.Set("__meta_kubernetes_pod_container_image", c.image);
      t.Set("__meta_kubernetes_pod_container_init", c.init ? "true" : "false");
      if (port == nullptr) {
        t.Set("__address__", address);
      } else {
        std::string number = std::to_string(port->number);
        t.Set("__address__", IsIpv4(pod.pod_ip) ? absl::StrCat(pod.pod_ip, ":", number)
                                                : absl::StrCat("[", pod.pod_ip, "]:", number));
        t.Set("__meta_kubernetes_pod_container_port_number", number);
        t.Set("__meta_kubernetes_pod_container_port_name", port->name);
        t.Set("__meta_kubernetes_pod_container_port_protocol", port->protocol);
      }
      t.Compact();
      out->push_back(std::move(t));
    };
    if (c.ports.empty()) {
      add(nullptr);
    } else {
      for (const ContainerPort& p : c.ports) add(&p);
    }
  }
}

}  // namespace sluice::metadata
