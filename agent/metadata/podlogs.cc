#include "agent/metadata/podlogs.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/common/strings.h"
#include "agent/metadata/kube_json.h"

namespace sluice::metadata {
namespace {

using kube_json::element;

SelectorSpec DecodeSelector(element e) {
  SelectorSpec s;
  s.match_labels = kube_json::StringMap(e, "matchLabels");
  simdjson::dom::array exprs;
  if (e["matchExpressions"].get_array().get(exprs) == simdjson::SUCCESS) {
    for (element x : exprs) {
      SelectorSpec::Expression ex;
      ex.key = kube_json::Str(x, "key");
      ex.op = kube_json::Str(x, "operator");
      simdjson::dom::array values;
      if (x["values"].get_array().get(values) == simdjson::SUCCESS) {
        for (element v : values) {
          std::string_view sv;
          if (v.get_string().get(sv) == simdjson::SUCCESS) ex.values.emplace_back(sv);
        }
      }
      s.expressions.push_back(std::move(ex));
    }
  }
  return s;
}

// A Prometheus Operator RelabelConfig with Alloy's conversion (convertRelabelConfig): unset or
// empty fields keep Prometheus' defaults, the action is lower-cased.
absl::Status DecodeRule(element e, RelabelRule* r) {
  simdjson::dom::array src;
  if (e["sourceLabels"].get_array().get(src) == simdjson::SUCCESS) {
    for (element v : src) {
      std::string_view sv;
      if (v.get_string().get(sv) == simdjson::SUCCESS) r->source_labels.emplace_back(sv);
    }
    r->source_labels_set = !r->source_labels.empty();
  }
  std::string sep = kube_json::Str(e, "separator");
  if (!sep.empty()) r->separator = sep;
  std::string regex = kube_json::Str(e, "regex");
  if (!regex.empty()) r->regex = regex;
  int64_t modulus = kube_json::Int(e, "modulus");
  if (modulus > 0) r->modulus = static_cast<uint64_t>(modulus);
  std::string target = kube_json::Str(e, "targetLabel");
  if (!target.empty()) r->target_label = target;
  std::string replacement = kube_json::Str(e, "replacement");
  if (!replacement.empty()) r->replacement = replacement;
  std::string action = kube_json::Str(e, "action");
  if (!action.empty()) {
    absl::StatusOr<RelabelAction> a = ParseRelabelAction(absl::AsciiStrToLower(action));
    if (!a.ok()) return a.status();
    r->action = *a;
  }
  return CompileRule(r);
}

void DecodePodLogs(element e, PodLogs* out) {
  ObjectMeta m = kube_json::Meta(e);
  out->name = std::move(m.name);
  out->labels = std::move(m.labels);
  out->annotations = std::move(m.annotations);
  out->ns = kube_json::MetaStr(e, "namespace");
  out->resource_version = kube_json::MetaStr(e, "resourceVersion");
  element spec;
  if (e["spec"].get(spec) != simdjson::SUCCESS) return;
  element sel;
  if (spec["selector"].get(sel) == simdjson::SUCCESS) out->selector = DecodeSelector(sel);
  if (spec["namespaceSelector"].get(sel) == simdjson::SUCCESS) {
    out->namespace_selector = DecodeSelector(sel);
  }
  simdjson::dom::array rules;
  if (spec["relabelings"].get_array().get(rules) == simdjson::SUCCESS) {
    for (element r : rules) {
      RelabelRule rule;
      if (absl::Status st = DecodeRule(r, &rule); !st.ok()) {
        out->error = absl::StrCat("invalid relabelings: ", st.message());
        out->relabelings.clear();
        return;
      }
      out->relabelings.push_back(std::move(rule));
    }
  }
}

}  // namespace

absl::Status ParseKubeList(std::string_view json, std::vector<PodLogs>* out,
                           std::string* resource_version) {
  return kube_json::ParseList(json, "PodLogsList", DecodePodLogs, out, resource_version);
}

absl::Status ParseKubeWatchEvent(std::string_view json, KubeWatchEvent<PodLogs>* out) {
  return kube_json::ParseWatchEvent(json, DecodePodLogs, out);
}

absl::StatusOr<LabelSelector> LabelSelectorFromSpec(const SelectorSpec& spec) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : spec.match_labels) parts.push_back(absl::StrCat(k, "=", v));
  for (const SelectorSpec::Expression& x : spec.expressions) {
    if (x.op == "In" || x.op == "NotIn") {
      if (x.values.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("values: Invalid value: []string(nil): for 'in', 'notin' operators, "
                         "values set can't be empty"));
      }
      parts.push_back(absl::StrCat(x.key, x.op == "In" ? " in (" : " notin (",
                                   absl::StrJoin(x.values, ","), ")"));
    } else if (x.op == "Exists") {
      parts.push_back(x.key);
    } else if (x.op == "DoesNotExist") {
      parts.push_back(absl::StrCat("!", x.key));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", x.op, "\" is not a valid label selector operator"));
    }
  }
  return LabelSelector::Parse(absl::StrJoin(parts, ","));
}

std::vector<LabelSet> PodLogsTargets(const PodLogs& pl, const std::vector<Pod>& pods,
                                     const std::map<std::string, ObjectMeta>& namespaces) {
  std::vector<LabelSet> out;
  if (!pl.error.empty()) return out;
  absl::StatusOr<LabelSelector> sel = LabelSelectorFromSpec(pl.selector);
  absl::StatusOr<LabelSelector> ns_sel = LabelSelectorFromSpec(pl.namespace_selector);
  if (!sel.ok() || !ns_sel.ok()) return out;
  LabelSet base;
  base.Set("__meta_kubernetes_podlogs_namespace", pl.ns);
  base.Set("__meta_kubernetes_podlogs_name", pl.name);
  AddObjectMetaLabels("podlogs", pl.labels, pl.annotations, &base);
  for (const Pod& pod : pods) {
    if (!sel->Matches(pod.labels)) continue;
    auto nit = namespaces.find(pod.ns);
    if (nit == namespaces.end()) continue;
    if (!ns_sel->Matches(nit->second.labels)) continue;
    LabelSet pt = base;
    pt.Set("__meta_kubernetes_namespace", pod.ns);
    AddObjectMetaLabels("namespace", nit->second.labels, nit->second.annotations, &pt);
    pt.Set("__meta_kubernetes_pod_uid", pod.uid);
    pt.Set("__meta_kubernetes_pod_name", pod.name);
    pt.Set("__meta_kubernetes_pod_node_name", pod.node_name);
    pt.Set("__meta_kubernetes_pod_ip", pod.pod_ip);
    pt.Set("__meta_kubernetes_pod_host_ip", pod.host_ip);
    pt.Set("__meta_kubernetes_pod_ready", pod.ready);
    pt.Set("__meta_kubernetes_pod_phase", pod.phase);
    AddObjectMetaLabels("pod", pod.labels, pod.annotations, &pt);
    if (!pod.controller_kind.empty()) {
      pt.Set("__meta_kubernetes_pod_controller_kind", pod.controller_kind);
      pt.Set("__meta_kubernetes_pod_controller_name", pod.controller_name);
    }
    pt.Set("__pod_namespace__", pod.ns);
    pt.Set("__pod_name__", pod.name);
    pt.Set("__pod_uid__", pod.uid);
    // Alloy: init containers first, then the others.
    for (bool init : {true, false}) {
      for (const Container& c : pod.containers) {
        if (c.init != init) continue;
        LabelSet t = pt;
        t.Set("__meta_kubernetes_pod_container_init", init ? "true" : "false");
        t.Set("__meta_kubernetes_pod_container_name", c.name);
        t.Set("__meta_kubernetes_pod_container_image", c.image);
        t.Set("__pod_container_name__", c.name);
        t.Set("instance", absl::StrCat(pod.ns, "/", pod.name, ":", c.name));
        t.Set("job", absl::StrCat(pl.ns, "/", pl.name));
        if (!Relabel(pl.relabelings, &t, LabelNameScheme::kLegacy)) continue;
        if (t.empty()) continue;
        out.push_back(std::move(t));
      }
    }
  }
  return out;
}

}  // namespace sluice::metadata
