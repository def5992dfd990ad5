#include "agent/metadata/pod.h"

#include <simdjson.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
#include "agent/common/utf8.h"

namespace sluice::metadata {
namespace {

using simdjson::dom::element;
using simdjson::dom::object;

constexpr std::string_view kPrefix = "__meta_kubernetes_";

std::string Str(element e, std::string_view key) {
  std::string_view v;
  if (e[key].get_string().get(v) != simdjson::SUCCESS) return "";
  return std::string(v);
}

bool Bool(element e, std::string_view key) {
  bool b = false;
  if (e[key].get_bool().get(b) != simdjson::SUCCESS) return false;
  return b;
}

std::vector<std::pair<std::string, std::string>> StringMap(element e, std::string_view key) {
  std::vector<std::pair<std::string, std::string>> out;
  object o;
  if (e[key].get_object().get(o) != simdjson::SUCCESS) return out;
  for (auto field : o) {
    std::string_view v;
    if (field.value.get_string().get(v) != simdjson::SUCCESS) continue;
    out.emplace_back(std::string(field.key), std::string(v));
  }
  std::sort(out.begin(), out.end());
  return out;
}

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
        int64_t n = 0;
        if (p["containerPort"].get_int64().get(n) == simdjson::SUCCESS) port.number = n;
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

Pod ParsePod(element e) {
  Pod pod;
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
  return pod;
}

absl::Status JsonError(simdjson::error_code code, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("cannot parse ", Av(what), ": ", simdjson::error_message(code)));
}

// Parses `json` into `*doc` (which lives as long as `parser`).
absl::Status ParseDoc(std::string_view json, std::string_view what, simdjson::dom::parser* parser,
                      simdjson::padded_string* padded, element* doc) {
  *padded = simdjson::padded_string(json);
  if (auto err = parser->parse(*padded).get(*doc); err) return JsonError(err, what);
  return absl::OkStatus();
}

// metadata.<key> of an object, "" without one.
std::string MetaStr(element obj, std::string_view key) {
  element meta;
  if (obj["metadata"].get(meta) != simdjson::SUCCESS) return "";
  return Str(meta, key);
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

absl::StatusOr<std::vector<Pod>> ParsePodList(std::string_view json,
                                              std::string* resource_version) {
  if (json.size() > kMaxPodListBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("pod list of ", json.size(), " bytes is larger than ", kMaxPodListBytes));
  }
  simdjson::dom::parser parser;
  simdjson::padded_string padded;
  element doc;
  if (absl::Status st = ParseDoc(json, "pod list", &parser, &padded, &doc); !st.ok()) return st;
  std::string_view kind;
  if (doc["kind"].get_string().get(kind) == simdjson::SUCCESS && kind != "PodList") {
    return absl::InvalidArgumentError(absl::StrCat("expected a PodList, got ", Av(kind)));
  }
  if (resource_version != nullptr) *resource_version = MetaStr(doc, "resourceVersion");
  std::vector<Pod> pods;
  simdjson::dom::array items;
  auto err = doc["items"].get_array().get(items);
  if (err == simdjson::NO_SUCH_FIELD) return pods;  // an empty list may leave items out
  if (err) return JsonError(err, "pod list items");
  for (element item : items) pods.push_back(ParsePod(item));
  return pods;
}

absl::StatusOr<WatchEvent> ParseWatchEvent(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded;
  element doc;
  if (absl::Status st = ParseDoc(json, "watch event", &parser, &padded, &doc); !st.ok()) return st;
  WatchEvent ev;
  ev.type = Str(doc, "type");
  element obj;
  if (auto err = doc["object"].get(obj); err) return JsonError(err, "watch event object");
  if (ev.type == "ERROR") {
    int64_t code = 0;
    if (obj["code"].get_int64().get(code) == simdjson::SUCCESS) ev.code = code;
    ev.message = Str(obj, "message");
    return ev;
  }
  ev.resource_version = MetaStr(obj, "resourceVersion");
  if (ev.type != "BOOKMARK") ev.pod = ParsePod(obj);
  return ev;
}

absl::StatusOr<ObjectMeta> ParseObjectMeta(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded;
  element doc;
  if (absl::Status st = ParseDoc(json, "object", &parser, &padded, &doc); !st.ok()) return st;
  element meta;
  if (auto err = doc["metadata"].get(meta); err) return JsonError(err, "object metadata");
  ObjectMeta out;
  out.name = Str(meta, "name");
  out.labels = StringMap(meta, "labels");
  out.annotations = StringMap(meta, "annotations");
  return out;
}

std::string SanitizeLabelName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  size_t i = 0;
  while (i < name.size()) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x80) {
      out.push_back(absl::ascii_isalnum(c) || c == '_' ? static_cast<char>(c) : '_');
      ++i;
      continue;
    }
    // Go's regexp replaces a whole rune (or one invalid byte) with one '_'.
    size_t width = 0;
    DecodeUtf8Rune(name, i, &width);
    out.push_back('_');
    i += std::max<size_t>(width, 1);
  }
  return out;
}

void AddObjectMetaLabels(std::string_view role,
                         const std::vector<std::pair<std::string, std::string>>& labels,
                         const std::vector<std::pair<std::string, std::string>>& annotations,
                         LabelSet* out) {
  std::string base = absl::StrCat(Av(kPrefix), Av(role));
  for (const auto& [k, v] : labels) {
    std::string n = SanitizeLabelName(k);
    out->Set(absl::StrCat(base, "_label_", n), v);
    out->Set(absl::StrCat(base, "_labelpresent_", n), "true");
  }
  for (const auto& [k, v] : annotations) {
    std::string n = SanitizeLabelName(k);
    out->Set(absl::StrCat(base, "_annotation_", n), v);
    out->Set(absl::StrCat(base, "_annotationpresent_", n), "true");
  }
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
