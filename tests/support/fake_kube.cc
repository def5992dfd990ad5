#include "tests/support/fake_kube.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <simdjson.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "agent/common/strings.h"
#include "agent/common/timestamp.h"
#include "agent/go/json.h"
#include "tests/support/test_http_server.h"

namespace sluice::testing {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using Connection = TestHttpServer::Connection;
using StringMap = std::map<std::string, std::string>;

// ---- Deterministic identities ------------------------------------------------------------------

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

// splitmix64: a stream of well-mixed words from one seed.
uint64_t NextMix(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::string CharsOf(std::string_view seed, size_t n, std::string_view alphabet) {
  uint64_t state = Fnv1a(seed);
  std::string out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(alphabet[NextMix(&state) % alphabet.size()]);
  return out;
}

std::string HexOf(std::string_view seed, size_t n) { return CharsOf(seed, n, "0123456789abcdef"); }

// ---- JSON writing ------------------------------------------------------------------------------

std::string Q(std::string_view s) {
  std::string out;
  AppendGoJsonString(s, &out, GoJson::kEncodingJson);
  return out;
}

std::string MapJson(const StringMap& m) {
  std::string out = "{";
  for (const auto& [k, v] : m) absl::StrAppend(&out, out.size() > 1 ? "," : "", Q(k), ":", Q(v));
  out += "}";
  return out;
}

// Go's reference normalization as containerd reports it: "nginx:1.25" ->
// "docker.io/library/nginx:1.25", "grafana/loki:3" -> "docker.io/grafana/loki:3".
std::string NormalizedImage(std::string_view image) {
  const size_t slash = image.find('/');
  if (slash == std::string_view::npos) return absl::StrCat("docker.io/library/", Av(image));
  const std::string_view first = image.substr(0, slash);
  if (first.find_first_of(".:") == std::string_view::npos && first != "localhost") {
    return absl::StrCat("docker.io/", Av(image));
  }
  return std::string(image);
}

std::string ImageId(std::string_view image) {
  std::string repo = NormalizedImage(image);
  // Strip the tag (a ':' after the last '/').
  const size_t colon = repo.rfind(':');
  if (colon != std::string::npos && colon > repo.rfind('/')) repo.resize(colon);
  return absl::StrCat(repo, "@sha256:", HexOf(image, 64));
}

std::string ContainerJson(const FakeContainer& c) {
  std::string out = absl::StrCat("{\"name\":", Q(c.name), ",\"image\":", Q(c.image));
  if (!c.ports.empty()) {
    out += ",\"ports\":[";
    for (size_t i = 0; i < c.ports.size(); ++i) {
      const FakePort& p = c.ports[i];
      absl::StrAppend(&out, i ? "," : "", "{");
      if (!p.name.empty()) absl::StrAppend(&out, "\"name\":", Q(p.name), ",");
      absl::StrAppend(&out, "\"containerPort\":", p.number, ",\"protocol\":", Q(p.protocol), "}");
    }
    out += "]";
  }
  out +=
      ",\"resources\":{},\"terminationMessagePath\":\"/dev/termination-log\","
      "\"terminationMessagePolicy\":\"File\",\"imagePullPolicy\":\"IfNotPresent\"}";
  return out;
}

std::string ContainerStatusJson(const FakeContainer& c, bool init, bool ready,
                                std::string_view time) {
  std::string state;
  if (init) {
    state = absl::StrCat("{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\",\"startedAt\":",
                         Q(time), ",\"finishedAt\":", Q(time), ",\"containerID\":", Q(c.id), "}}");
  } else {
    state = absl::StrCat("{\"running\":{\"startedAt\":", Q(time), "}}");
  }
  return absl::StrCat("{\"name\":", Q(c.name), ",\"state\":", state,
                      ",\"lastState\":{},\"ready\":", (init || ready) ? "true" : "false",
                      ",\"restartCount\":", c.restart_count,
                      ",\"image\":", Q(NormalizedImage(c.image)),
                      ",\"imageID\":", Q(ImageId(c.image)), ",\"containerID\":", Q(c.id),
                      ",\"started\":", init ? "false" : "true", "}");
}

std::string ConditionJson(std::string_view type, bool status, std::string_view time,
                          std::string_view reason = "", std::string_view message = "") {
  std::string out =
      absl::StrCat("{\"type\":", Q(type), ",\"status\":", status ? "\"True\"" : "\"False\"",
                   ",\"lastProbeTime\":null,\"lastTransitionTime\":", Q(time));
  if (!reason.empty()) absl::StrAppend(&out, ",\"reason\":", Q(reason));
  if (!message.empty()) absl::StrAppend(&out, ",\"message\":", Q(message));
  out += "}";
  return out;
}

std::string IpListJson(const std::vector<std::string>& ips) {
  std::string out = "[";
  for (size_t i = 0; i < ips.size(); ++i)
    absl::StrAppend(&out, i ? "," : "", "{\"ip\":", Q(ips[i]), "}");
  out += "]";
  return out;
}

// Items of a typed list carry no kind/apiVersion; a single object and watch events do.
std::string PodObjectJson(const FakePod& pod, bool with_kind) {
  const std::string& t = pod.creation_timestamp;
  const std::string uid =
      pod.uid.empty() ? FakeUid(absl::StrCat(Av(pod.ns), "/", Av(pod.name))) : pod.uid;
  std::string out = with_kind ? "{\"kind\":\"Pod\",\"apiVersion\":\"v1\"," : "{";
  absl::StrAppend(&out, "\"metadata\":{\"name\":", Q(pod.name));
  if (pod.controller && pod.controller->kind != "Node") {
    absl::StrAppend(&out, ",\"generateName\":", Q(absl::StrCat(pod.controller->name, "-")));
  }
  absl::StrAppend(&out, ",\"namespace\":", Q(pod.ns), ",\"uid\":", Q(uid), ",\"resourceVersion\":",
                  Q(pod.resource_version.empty() ? "1" : pod.resource_version),
                  ",\"creationTimestamp\":", Q(t));
  if (!pod.labels.empty()) absl::StrAppend(&out, ",\"labels\":", MapJson(pod.labels));
  if (!pod.annotations.empty())
    absl::StrAppend(&out, ",\"annotations\":", MapJson(pod.annotations));
  if (pod.controller) {
    const FakeOwner& o = *pod.controller;
    const std::string owner_uid =
        o.uid.empty() ? FakeUid(absl::StrCat(o.kind, "/", pod.ns, "/", o.name)) : o.uid;
    absl::StrAppend(&out, ",\"ownerReferences\":[{\"apiVersion\":", Q(o.api_version),
                    ",\"kind\":", Q(o.kind), ",\"name\":", Q(o.name), ",\"uid\":", Q(owner_uid),
                    ",\"controller\":true,\"blockOwnerDeletion\":true}]");
  }
  out += "},\"spec\":{";
  if (!pod.init_containers.empty()) {
    out += "\"initContainers\":[";
    for (size_t i = 0; i < pod.init_containers.size(); ++i)
      absl::StrAppend(&out, i ? "," : "", ContainerJson(pod.init_containers[i]));
    out += "],";
  }
  out += "\"containers\":[";
  for (size_t i = 0; i < pod.containers.size(); ++i)
    absl::StrAppend(&out, i ? "," : "", ContainerJson(pod.containers[i]));
  absl::StrAppend(&out,
                  "],\"restartPolicy\":\"Always\",\"terminationGracePeriodSeconds\":30,"
                  "\"dnsPolicy\":\"ClusterFirst\",\"serviceAccountName\":",
                  Q(pod.service_account), ",\"serviceAccount\":", Q(pod.service_account));
  if (!pod.node_name.empty()) absl::StrAppend(&out, ",\"nodeName\":", Q(pod.node_name));
  if (pod.host_network) out += ",\"hostNetwork\":true";
  out +=
      ",\"securityContext\":{},\"schedulerName\":\"default-scheduler\",\"priority\":0,"
      "\"enableServiceLinks\":true,\"preemptionPolicy\":\"PreemptLowerPriority\"}";

  absl::StrAppend(&out, ",\"status\":{\"phase\":", Q(pod.phase), ",\"conditions\":[");
  const bool scheduled = !pod.node_name.empty();
  if (pod.ready.has_value()) {
    const bool ready = *pod.ready;
    std::string unready;
    if (!ready) {
      std::string names;
      for (const auto& c : pod.containers)
        absl::StrAppend(&names, names.empty() ? "" : " ", c.name);
      unready = absl::StrCat("containers with unready status: [", names, "]");
    }
    absl::StrAppend(
        &out, ConditionJson("Initialized", true, t), ",",
        ConditionJson("Ready", ready, t, ready ? "" : "ContainersNotReady", unready), ",",
        ConditionJson("ContainersReady", ready, t, ready ? "" : "ContainersNotReady", unready),
        ",");
  }
  absl::StrAppend(
      &out, ConditionJson("PodScheduled", scheduled, t, scheduled ? "" : "Unschedulable"), "]");
  if (!pod.host_ip.empty()) {
    absl::StrAppend(&out, ",\"hostIP\":", Q(pod.host_ip),
                    ",\"hostIPs\":", IpListJson({pod.host_ip}));
  }
  if (!pod.pod_ip.empty()) {
    std::vector<std::string> ips = {pod.pod_ip};
    ips.insert(ips.end(), pod.extra_pod_ips.begin(), pod.extra_pod_ips.end());
    absl::StrAppend(&out, ",\"podIP\":", Q(pod.pod_ip), ",\"podIPs\":", IpListJson(ips));
  }
  if (scheduled) absl::StrAppend(&out, ",\"startTime\":", Q(t));
  auto statuses = [&](std::string_view field, const std::vector<FakeContainer>& cs, bool init) {
    std::string list;
    for (const auto& c : cs) {
      if (c.id.empty()) continue;
      absl::StrAppend(&list, list.empty() ? "" : ",",
                      ContainerStatusJson(c, init, pod.ready.value_or(false), t));
    }
    if (!list.empty()) absl::StrAppend(&out, ",\"", Av(field), "\":[", list, "]");
  };
  statuses("initContainerStatuses", pod.init_containers, true);
  statuses("containerStatuses", pod.containers, false);
  out += ",\"qosClass\":\"BestEffort\"}}";
  return out;
}

std::string ReasonFor(int code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 409:
      return "Conflict";
    case 410:
      return "Expired";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return "";
  }
}

// ---- Selectors ---------------------------------------------------------------------------------

// One requirement of a label selector (k8s.io/apimachinery/pkg/labels syntax).
struct LabelRequirement {
  enum class Op { kEq, kNotEq, kIn, kNotIn, kExists, kNotExists } op;
  std::string key;
  std::vector<std::string> values;
};

// Splits on commas outside parentheses ("a in (x,y),b" -> "a in (x,y)", "b").
std::vector<std::string> SplitTopLevel(std::string_view s) {
  std::vector<std::string> out;
  int depth = 0;
  std::string cur;
  for (char c : s) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(std::move(cur));
  return out;
}

bool ValidLabelKey(std::string_view k) {
  if (k.empty()) return false;
  return std::all_of(k.begin(), k.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '/';
  });
}

bool ParseLabelSelector(std::string_view text, std::vector<LabelRequirement>* out,
                        std::string* error) {
  if (absl::StripAsciiWhitespace(Av(text)).empty()) return true;
  for (const std::string& raw : SplitTopLevel(text)) {
    std::string_view term = Sv(absl::StripAsciiWhitespace(raw));
    LabelRequirement r;
    if (term.starts_with("!")) {
      r.op = LabelRequirement::Op::kNotExists;
      r.key = std::string(Sv(absl::StripAsciiWhitespace(Av(term.substr(1)))));
    } else if (size_t open = term.find('('); open != std::string_view::npos) {
      // "key in (a,b)" / "key notin (a,b)".
      if (!term.ends_with(")")) {
        *error = absl::StrCat("unclosed set in ", Av(term));
        return false;
      }
      std::vector<std::string> words =
          absl::StrSplit(Av(term.substr(0, open)), ' ', absl::SkipWhitespace());
      if (words.size() != 2 || (words[1] != "in" && words[1] != "notin")) {
        *error = absl::StrCat("expected 'key in (...)' or 'key notin (...)', got ", Av(term));
        return false;
      }
      r.key = words[0];
      r.op = words[1] == "in" ? LabelRequirement::Op::kIn : LabelRequirement::Op::kNotIn;
      const std::string_view inner = term.substr(open + 1, term.size() - open - 2);
      for (absl::string_view v : absl::StrSplit(Av(inner), ',')) {
        r.values.emplace_back(absl::StripAsciiWhitespace(v));
      }
    } else if (size_t ne = term.find("!="); ne != std::string_view::npos) {
      r.op = LabelRequirement::Op::kNotEq;
      r.key = std::string(Sv(absl::StripAsciiWhitespace(Av(term.substr(0, ne)))));
      r.values.emplace_back(absl::StripAsciiWhitespace(Av(term.substr(ne + 2))));
    } else if (size_t eq = term.find('='); eq != std::string_view::npos) {
      r.op = LabelRequirement::Op::kEq;
      const size_t vstart = term.substr(eq).starts_with("==") ? eq + 2 : eq + 1;
      r.key = std::string(Sv(absl::StripAsciiWhitespace(Av(term.substr(0, eq)))));
      r.values.emplace_back(absl::StripAsciiWhitespace(Av(term.substr(vstart))));
    } else {
      r.op = LabelRequirement::Op::kExists;
      r.key = std::string(term);
    }
    if (!ValidLabelKey(r.key)) {
      *error = absl::StrCat("invalid label key in selector term \"", Av(term), "\"");
      return false;
    }
    out->push_back(std::move(r));
  }
  return true;
}

bool MatchesLabels(const std::vector<LabelRequirement>& reqs, const StringMap& labels) {
  for (const auto& r : reqs) {
    auto it = labels.find(r.key);
    const bool has = it != labels.end();
    const auto in_values = [&] {
      return has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
    };
    bool ok = false;
    switch (r.op) {
      case LabelRequirement::Op::kEq:
      case LabelRequirement::Op::kIn:
        ok = in_values();
        break;
      // As in Kubernetes, != and notin also match objects without the label.
      case LabelRequirement::Op::kNotEq:
      case LabelRequirement::Op::kNotIn:
        ok = !in_values();
        break;
      case LabelRequirement::Op::kExists:
        ok = has;
        break;
      case LabelRequirement::Op::kNotExists:
        ok = !has;
        break;
    }
    if (!ok) return false;
  }
  return true;
}

struct FieldRequirement {
  std::string field;
  bool negate = false;
  std::string value;
};

// The collections the API server side serves (list and watch).
enum class Resource { kPods, kNodes, kNamespaces, kEvents };

bool ParseFieldSelector(std::string_view text, Resource resource,
                        std::vector<FieldRequirement>* out, std::string* error) {
  if (absl::StripAsciiWhitespace(Av(text)).empty()) return true;
  for (absl::string_view raw : absl::StrSplit(Av(text), ',')) {
    std::string_view term = Sv(absl::StripAsciiWhitespace(raw));
    FieldRequirement r;
    size_t op = term.find("!=");
    size_t vstart;
    if (op != std::string_view::npos) {
      r.negate = true;
      vstart = op + 2;
    } else if ((op = term.find('=')) != std::string_view::npos) {
      vstart = term.substr(op).starts_with("==") ? op + 2 : op + 1;
    } else {
      *error =
          absl::StrCat("invalid selector: '", Av(text), "'; can't understand '", Av(term), "'");
      return false;
    }
    r.field = std::string(term.substr(0, op));
    r.value = std::string(term.substr(vstart));
    // What the API server accepts for each (the common metadata fields and the kind's own).
    static const std::vector<std::string_view> kPodFields = {
        "metadata.name", "metadata.namespace", "spec.nodeName",
        "status.phase",  "status.podIP",       "spec.serviceAccountName"};
    static const std::vector<std::string_view> kNodeFields = {"metadata.name",
                                                              "spec.unschedulable"};
    static const std::vector<std::string_view> kNamespaceFields = {"metadata.name", "status.phase"};
    static const std::vector<std::string_view> kEventFields = {"metadata.name",
                                                               "metadata.namespace",
                                                               "involvedObject.kind",
                                                               "involvedObject.name",
                                                               "involvedObject.namespace",
                                                               "reason",
                                                               "type"};
    const std::vector<std::string_view>& known = resource == Resource::kPods     ? kPodFields
                                                 : resource == Resource::kNodes  ? kNodeFields
                                                 : resource == Resource::kEvents ? kEventFields
                                                                                 : kNamespaceFields;
    if (std::find(known.begin(), known.end(), r.field) == known.end()) {
      *error = absl::StrCat("field label not supported: ", r.field);
      return false;
    }
    out->push_back(std::move(r));
  }
  return true;
}

// Every requirement holds for `field` (the value of a field name, null for an unknown one).
template <class FieldOf>
bool MatchesFieldsOf(const std::vector<FieldRequirement>& reqs, FieldOf field) {
  for (const auto& r : reqs) {
    const std::optional<std::string> v = field(r.field);
    if (!v || (*v == r.value) == r.negate) return false;
  }
  return true;
}

bool MatchesFields(const std::vector<FieldRequirement>& reqs, const FakePod& pod) {
  return MatchesFieldsOf(reqs, [&](const std::string& f) -> std::optional<std::string> {
    if (f == "metadata.name") return pod.name;
    if (f == "metadata.namespace") return pod.ns;
    if (f == "spec.nodeName") return pod.node_name;
    if (f == "status.phase") return pod.phase;
    if (f == "status.podIP") return pod.pod_ip;
    if (f == "spec.serviceAccountName") return pod.service_account;
    return std::nullopt;
  });
}

bool MatchesFields(const std::vector<FieldRequirement>& reqs, const FakeNode& node) {
  return MatchesFieldsOf(reqs, [&](const std::string& f) -> std::optional<std::string> {
    if (f == "metadata.name") return node.name;
    if (f == "spec.unschedulable") return node.unschedulable ? "true" : "false";
    return std::nullopt;
  });
}

bool MatchesFields(const std::vector<FieldRequirement>& reqs, const FakeNamespace& ns) {
  return MatchesFieldsOf(reqs, [&](const std::string& f) -> std::optional<std::string> {
    if (f == "metadata.name") return ns.name;
    if (f == "status.phase") return std::string("Active");
    return std::nullopt;
  });
}

bool MatchesFields(const std::vector<FieldRequirement>& reqs, const FakeEvent& e) {
  return MatchesFieldsOf(reqs, [&](const std::string& f) -> std::optional<std::string> {
    if (f == "metadata.name") return e.name;
    if (f == "metadata.namespace") return e.ns;
    if (f == "involvedObject.kind") return e.involved_kind;
    if (f == "involvedObject.name") return e.involved_name;
    if (f == "involvedObject.namespace")
      return e.involved_namespace.empty() ? e.ns : e.involved_namespace;
    if (f == "reason") return e.reason;
    if (f == "type") return e.type;
    return std::nullopt;
  });
}

// The labels a label selector sees: a namespace's include kubernetes.io/metadata.name.
const StringMap& LabelsOf(const FakePod& p) { return p.labels; }
const StringMap& LabelsOf(const FakeNode& n) { return n.labels; }
StringMap LabelsOf(const FakeNamespace& ns) {
  StringMap labels = ns.labels;
  labels.emplace("kubernetes.io/metadata.name", ns.name);
  return labels;
}

// ---- HTTP helpers ------------------------------------------------------------------------------

std::string Str(beast::string_view s) { return std::string(s.data(), s.size()); }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = absl::ascii_tolower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding, as Go's url.ParseQuery ('+' is a space).
std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

StringMap ParseQuery(std::string_view query) {
  StringMap out;
  for (absl::string_view pair : absl::StrSplit(Av(query), '&', absl::SkipEmpty())) {
    const size_t eq = pair.find('=');
    std::string key = PercentDecode(Sv(pair.substr(0, eq)));
    std::string value = eq == absl::string_view::npos ? "" : PercentDecode(Sv(pair.substr(eq + 1)));
    out.emplace(std::move(key), std::move(value));  // the first one wins, as url.Values.Get
  }
  return out;
}

bool GoParseBool(std::string_view s) {
  return s == "1" || s == "t" || s == "T" || s == "true" || s == "TRUE" || s == "True";
}

// A complete HTTP/1.1 response as bytes (so that BreakNext can send part of it).
std::string RawResponse(int status, std::string_view content_type, std::string_view body,
                        bool keep_alive) {
  const auto reason = http::obsolete_reason(static_cast<http::status>(status));
  return absl::StrCat("HTTP/1.1 ", status, " ", Av(std::string_view(reason.data(), reason.size())),
                      "\r\nContent-Type: ", Av(content_type), "\r\nContent-Length: ", body.size(),
                      keep_alive ? "" : "\r\nConnection: close", "\r\n\r\n", Av(body));
}

std::string Chunk(std::string_view data) {
  return absl::StrCat(absl::Hex(data.size()), "\r\n", Av(data), "\r\n");
}

using PodKey = std::pair<std::string, std::string>;  // namespace, name: etcd's key order

}  // namespace

// ---- PodLogs JSON ----
std::string PodLogsJsonImpl(const FakePodLogs& p, std::string_view rv, bool with_kind) {
  std::string out =
      with_kind ? "{\"apiVersion\":\"monitoring.grafana.com/v1alpha2\",\"kind\":\"PodLogs\"," : "{";
  absl::StrAppend(&out, "\"metadata\":{\"name\":", Q(p.name), ",\"namespace\":", Q(p.ns),
                  ",\"resourceVersion\":", Q(rv), ",\"uid\":", Q(FakeUid(p.ns + "/" + p.name)));
  if (!p.labels.empty()) absl::StrAppend(&out, ",\"labels\":", MapJson(p.labels));
  if (!p.annotations.empty()) absl::StrAppend(&out, ",\"annotations\":", MapJson(p.annotations));
  absl::StrAppend(&out, "},\"spec\":{\"selector\":{");
  if (!p.selector.empty()) absl::StrAppend(&out, "\"matchLabels\":", MapJson(p.selector));
  absl::StrAppend(&out, "},\"namespaceSelector\":{");
  if (!p.namespace_selector.empty()) {
    absl::StrAppend(&out, "\"matchLabels\":", MapJson(p.namespace_selector));
  }
  absl::StrAppend(&out, "}");
  if (!p.relabelings_json.empty()) absl::StrAppend(&out, ",\"relabelings\":", p.relabelings_json);
  absl::StrAppend(&out, "}}");
  return out;
}

// ---- Public JSON and pod makers ----------------------------------------------------------------

std::string PodJson(const FakePod& pod) { return PodObjectJson(pod, /*with_kind=*/true); }
std::string PodLogsJson(const FakePodLogs& p, std::string_view resource_version) {
  return PodLogsJsonImpl(p, resource_version, /*with_kind=*/true);
}

std::string PodListJson(const std::vector<FakePod>& pods, std::string_view resource_version) {
  std::string out = "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{";
  if (!resource_version.empty()) absl::StrAppend(&out, "\"resourceVersion\":", Q(resource_version));
  out += "},\"items\":[";
  for (size_t i = 0; i < pods.size(); ++i)
    absl::StrAppend(&out, i ? "," : "", PodObjectJson(pods[i], /*with_kind=*/false));
  out += "]}";
  return out;
}

namespace {

std::string NodeObjectJson(const FakeNode& node, bool with_kind) {
  std::string out = with_kind ? "{\"kind\":\"Node\",\"apiVersion\":\"v1\"," : "{";
  absl::StrAppend(
      &out, "\"metadata\":{\"name\":", Q(node.name),
      ",\"uid\":", Q(FakeUid(absl::StrCat("node/", node.name))),
      ",\"resourceVersion\":", Q(node.resource_version.empty() ? "1" : node.resource_version),
      ",\"creationTimestamp\":\"2024-05-01T09:00:00Z\"");
  if (!node.labels.empty()) absl::StrAppend(&out, ",\"labels\":", MapJson(node.labels));
  if (!node.annotations.empty())
    absl::StrAppend(&out, ",\"annotations\":", MapJson(node.annotations));
  out += "},\"spec\":{";
  std::string spec;
  if (!node.provider_id.empty()) absl::StrAppend(&spec, "\"providerID\":", Q(node.provider_id));
  if (node.unschedulable) absl::StrAppend(&spec, spec.empty() ? "" : ",", "\"unschedulable\":true");
  absl::StrAppend(&out, spec, "},\"status\":{\"conditions\":[");
  std::vector<std::pair<std::string, std::string>> conditions = node.conditions;
  if (conditions.empty()) conditions = {{"Ready", "True"}};
  for (size_t i = 0; i < conditions.size(); ++i) {
    const auto& [type, status] = conditions[i];
    absl::StrAppend(&out, i ? "," : "", "{\"type\":", Q(type), ",\"status\":", Q(status),
                    ",\"lastHeartbeatTime\":\"2024-05-01T10:00:00Z\",\"lastTransitionTime\":"
                    "\"2024-05-01T09:00:00Z\"",
                    type == "Ready" && status == "True" ? ",\"reason\":\"KubeletReady\"" : "", "}");
  }
  out += "],\"addresses\":[";
  std::vector<std::pair<std::string, std::string>> addresses;
  if (node.addresses) {
    addresses = *node.addresses;
  } else {
    addresses = {
        {"InternalIP", node.internal_ip.empty() ? FakeNodeIp(node.name) : node.internal_ip},
        {"Hostname", node.name}};
  }
  for (size_t i = 0; i < addresses.size(); ++i) {
    absl::StrAppend(&out, i ? "," : "", "{\"type\":", Q(addresses[i].first),
                    ",\"address\":", Q(addresses[i].second), "}");
  }
  absl::StrAppend(
      &out, "],\"daemonEndpoints\":{\"kubeletEndpoint\":{\"Port\":", node.kubelet_port,
      "}},\"nodeInfo\":{\"kubeletVersion\":\"v1.30.0\",\"containerRuntimeVersion\":"
      "\"containerd://1.7.13\",\"operatingSystem\":\"linux\",\"architecture\":\"amd64\"}}}");
  return out;
}

std::string NamespaceObjectJson(const FakeNamespace& ns, bool with_kind) {
  StringMap labels = ns.labels;
  labels.emplace("kubernetes.io/metadata.name", ns.name);
  std::string out = with_kind ? "{\"kind\":\"Namespace\",\"apiVersion\":\"v1\"," : "{";
  absl::StrAppend(
      &out, "\"metadata\":{\"name\":", Q(ns.name),
      ",\"uid\":", Q(FakeUid(absl::StrCat("namespace/", ns.name))),
      ",\"resourceVersion\":", Q(ns.resource_version.empty() ? "1" : ns.resource_version),
      ",\"creationTimestamp\":\"2024-05-01T09:00:00Z\",\"labels\":", MapJson(labels));
  if (!ns.annotations.empty()) absl::StrAppend(&out, ",\"annotations\":", MapJson(ns.annotations));
  out += "},\"spec\":{\"finalizers\":[\"kubernetes\"]},\"status\":{\"phase\":\"Active\"}}";
  return out;
}

template <class T, class ObjectJson>
std::string ListJson(std::string_view kind, const std::vector<T>& items,
                     std::string_view resource_version, ObjectJson object_json) {
  std::string out = absl::StrCat("{\"kind\":\"", Av(kind),
                                 "\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":",
                                 Q(resource_version), "},\"items\":[");
  for (size_t i = 0; i < items.size(); ++i) {
    absl::StrAppend(&out, i ? "," : "", object_json(items[i], /*with_kind=*/false));
  }
  out += "]}";
  return out;
}

std::string TimeOrNull(const std::string& t) { return t.empty() ? "null" : Q(t); }

std::string EventObjectJson(const FakeEvent& e, bool with_kind) {
  std::string out = with_kind ? "{\"kind\":\"Event\",\"apiVersion\":\"v1\"," : "{";
  const std::string involved_ns = e.involved_namespace.empty() ? e.ns : e.involved_namespace;
  absl::StrAppend(
      &out, "\"metadata\":{\"name\":", Q(e.name), ",\"namespace\":", Q(e.ns),
      ",\"uid\":", Q(e.uid.empty() ? FakeUid(absl::StrCat("event/", e.ns, "/", e.name)) : e.uid),
      ",\"resourceVersion\":", Q(e.resource_version.empty() ? "1" : e.resource_version),
      ",\"creationTimestamp\":\"2024-05-01T09:00:00Z\"},\"involvedObject\":{\"kind\":",
      Q(e.involved_kind), ",\"namespace\":", Q(involved_ns), ",\"name\":", Q(e.involved_name),
      ",\"uid\":",
      Q(FakeUid(absl::StrCat(e.involved_kind, "/", involved_ns, "/", e.involved_name))),
      ",\"apiVersion\":", Q(e.involved_api_version));
  if (!e.involved_resource_version.empty()) {
    absl::StrAppend(&out, ",\"resourceVersion\":", Q(e.involved_resource_version));
  }
  absl::StrAppend(&out, "},\"reason\":", Q(e.reason), ",\"message\":", Q(e.message),
                  ",\"source\":{");
  if (!e.source_component.empty()) absl::StrAppend(&out, "\"component\":", Q(e.source_component));
  if (!e.source_host.empty()) {
    absl::StrAppend(&out, e.source_component.empty() ? "" : ",", "\"host\":", Q(e.source_host));
  }
  absl::StrAppend(&out, "},\"firstTimestamp\":", TimeOrNull(e.first_timestamp),
                  ",\"lastTimestamp\":", TimeOrNull(e.last_timestamp));
  if (e.count != 0) absl::StrAppend(&out, ",\"count\":", e.count);
  absl::StrAppend(&out, ",\"type\":", Q(e.type), ",\"eventTime\":", TimeOrNull(e.event_time));
  if (!e.action.empty()) absl::StrAppend(&out, ",\"action\":", Q(e.action));
  absl::StrAppend(&out, ",\"reportingComponent\":", Q(e.reporting_component),
                  ",\"reportingInstance\":", Q(e.reporting_instance), "}");
  return out;
}

}  // namespace

std::string EventJson(const FakeEvent& event) { return EventObjectJson(event, /*with_kind=*/true); }

std::string EventListJson(const std::vector<FakeEvent>& events, std::string_view resource_version) {
  return ListJson("EventList", events, resource_version, EventObjectJson);
}

std::string LeaseObjectJson(const FakeLease& l) {
  std::string out = absl::StrCat(
      "{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\",\"metadata\":{\"name\":",
      Q(l.name), ",\"namespace\":", Q(l.ns),
      ",\"uid\":", Q(FakeUid(absl::StrCat("lease/", l.ns, "/", l.name))),
      ",\"resourceVersion\":", Q(l.resource_version),
      ",\"creationTimestamp\":\"2024-05-01T09:00:00Z\"");
  if (!l.annotations.empty()) absl::StrAppend(&out, ",\"annotations\":", MapJson(l.annotations));
  absl::StrAppend(&out, "},\"spec\":{");
  std::string spec;
  if (!l.holder.empty()) absl::StrAppend(&spec, "\"holderIdentity\":", Q(l.holder));
  if (l.lease_duration_seconds != 0) {
    absl::StrAppend(&spec, spec.empty() ? "" : ",",
                    "\"leaseDurationSeconds\":", l.lease_duration_seconds);
  }
  if (!l.acquire_time.empty())
    absl::StrAppend(&spec, spec.empty() ? "" : ",", "\"acquireTime\":", Q(l.acquire_time));
  if (!l.renew_time.empty())
    absl::StrAppend(&spec, spec.empty() ? "" : ",", "\"renewTime\":", Q(l.renew_time));
  if (l.lease_transitions != 0) {
    absl::StrAppend(&spec, spec.empty() ? "" : ",", "\"leaseTransitions\":", l.lease_transitions);
  }
  absl::StrAppend(&out, spec, "}}");
  return out;
}

std::string NodeJson(const FakeNode& node) { return NodeObjectJson(node, /*with_kind=*/true); }

std::string NamespaceJson(const FakeNamespace& ns) {
  return NamespaceObjectJson(ns, /*with_kind=*/true);
}

std::string NodeListJson(const std::vector<FakeNode>& nodes, std::string_view resource_version) {
  return ListJson("NodeList", nodes, resource_version, NodeObjectJson);
}

std::string NamespaceListJson(const std::vector<FakeNamespace>& namespaces,
                              std::string_view resource_version) {
  return ListJson("NamespaceList", namespaces, resource_version, NamespaceObjectJson);
}

std::string StatusJson(int code, std::string_view message, std::string_view reason) {
  const std::string r = reason.empty() ? ReasonFor(code) : std::string(reason);
  std::string out = absl::StrCat(
      "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
      "\"message\":",
      Q(message));
  if (!r.empty()) absl::StrAppend(&out, ",\"reason\":", Q(r));
  absl::StrAppend(&out, ",\"code\":", code, "}");
  return out;
}

std::string FakeUid(std::string_view seed) {
  const std::string h = HexOf(seed, 32);
  return absl::StrCat(h.substr(0, 8), "-", h.substr(8, 4), "-", h.substr(12, 4), "-",
                      h.substr(16, 4), "-", h.substr(20));
}

std::string FakeContainerId(std::string_view seed) {
  return absl::StrCat("containerd://", HexOf(seed, 64));
}

std::string FakeNodeIp(std::string_view node) {
  return absl::StrCat("10.0.0.", 1 + Fnv1a(node) % 250);
}

std::string FakeNameSuffix(std::string_view seed, size_t n) {
  // The alphabet of Kubernetes' generated names (no vowels, no look-alikes).
  return CharsOf(seed, n, "bcdfghjklmnpqrstvwxz2456789");
}

namespace {

FakeContainer StartedContainer(std::string_view pod_seed, std::string_view name,
                               std::string_view image, std::vector<FakePort> ports = {}) {
  FakeContainer c;
  c.name = std::string(name);
  c.image = std::string(image);
  c.id = FakeContainerId(absl::StrCat(Av(pod_seed), "/", Av(name)));
  c.ports = std::move(ports);
  return c;
}

FakePod BasePod(std::string_view ns, std::string_view name, std::string_view node,
                std::string_view pod_ip) {
  FakePod p;
  p.ns = std::string(ns);
  p.name = std::string(name);
  p.node_name = std::string(node);
  p.host_ip = node.empty() ? "" : FakeNodeIp(node);
  p.pod_ip = std::string(pod_ip);
  p.ready = true;
  return p;
}

}  // namespace

FakePod MakeDeploymentPod(std::string_view ns, std::string_view deployment, std::string_view node,
                          std::string_view pod_ip, int replica) {
  const std::string hash = FakeNameSuffix(absl::StrCat(Av(ns), "/", Av(deployment)), 10);
  const std::string rs = absl::StrCat(Av(deployment), "-", hash);
  const std::string name = absl::StrCat(rs, "-", FakeNameSuffix(absl::StrCat(rs, "#", replica), 5));
  FakePod p = BasePod(ns, name, node, pod_ip);
  p.labels = {{"app.kubernetes.io/name", std::string(deployment)},
              {"app.kubernetes.io/instance", absl::StrCat(Av(deployment), "-prod")},
              {"pod-template-hash", hash}};
  p.controller = FakeOwner{"apps/v1", "ReplicaSet", rs, ""};
  p.containers.push_back(StartedContainer(absl::StrCat(Av(ns), "/", name), deployment,
                                          absl::StrCat("example.com/", Av(deployment), ":1.0"),
                                          {{"http", 8080, "TCP"}}));
  return p;
}

FakePod MakeDaemonSetPod(std::string_view ns, std::string_view daemonset, std::string_view node,
                         std::string_view pod_ip) {
  const std::string name = absl::StrCat(
      Av(daemonset), "-", FakeNameSuffix(absl::StrCat(Av(daemonset), "@", Av(node)), 5));
  FakePod p = BasePod(ns, name, node, pod_ip);
  p.labels = {{"app", std::string(daemonset)},
              {"controller-revision-hash", FakeNameSuffix(daemonset, 10)},
              {"pod-template-generation", "1"}};
  p.controller = FakeOwner{"apps/v1", "DaemonSet", std::string(daemonset), ""};
  p.containers.push_back(StartedContainer(absl::StrCat(Av(ns), "/", name), daemonset,
                                          absl::StrCat("grafana/", Av(daemonset), ":v1.2.3")));
  return p;
}

FakePod MakeStaticPod(std::string_view ns, std::string_view base, std::string_view node) {
  const std::string ip = FakeNodeIp(node);
  FakePod p = BasePod(ns, absl::StrCat(Av(base), "-", Av(node)), node, ip);
  const std::string hash = HexOf(absl::StrCat(Av(base), "@", Av(node)), 32);
  p.annotations = {{"kubernetes.io/config.hash", hash},
                   {"kubernetes.io/config.mirror", hash},
                   {"kubernetes.io/config.seen", "2024-05-01T10:00:00.000000000Z"},
                   {"kubernetes.io/config.source", "file"}};
  p.labels = {{"component", std::string(base)}, {"tier", "control-plane"}};
  p.controller =
      FakeOwner{"v1", "Node", std::string(node), FakeUid(absl::StrCat("node/", Av(node)))};
  p.host_network = true;
  p.containers.push_back(StartedContainer(absl::StrCat(Av(ns), "/", p.name), base,
                                          absl::StrCat("registry.k8s.io/", Av(base), ":v1.30.0")));
  return p;
}

FakePod MakePodWithInitContainers(std::string_view ns, std::string_view deployment,
                                  std::string_view node, std::string_view pod_ip) {
  FakePod p = MakeDeploymentPod(ns, deployment, node, pod_ip);
  const std::string seed = absl::StrCat(Av(ns), "/", p.name);
  p.init_containers.push_back(StartedContainer(seed, "init-config", "busybox:1.36"));
  p.init_containers.push_back(StartedContainer(seed, "init-db", "busybox:1.36"));
  return p;
}

FakePod MakePendingPod(std::string_view ns, std::string_view name, std::string_view node) {
  FakePod p = BasePod(ns, name, node, "");
  p.phase = "Pending";
  p.ready = false;
  p.labels = {{"app", std::string(name)}};
  FakeContainer c;
  c.name = std::string(name);
  c.image = absl::StrCat("example.com/", Av(name), ":1.0");
  p.containers.push_back(std::move(c));
  return p;
}

// ---- The server --------------------------------------------------------------------------------

// Impl: server_ (TestHttpServer) owns the acceptor thread and one thread per connection, which
// runs Serve(): blocking Beast reads and raw writes. All shared state is under mu_; cv_ is
// notified on every change of pods, faults, requests, watches and on stop/down.
class FakeKube::Impl {
 public:
  explicit Impl(Options options)
      : opts_(std::move(options)),
        token_(opts_.bearer_token),
        rv_(opts_.initial_resource_version),
        history_floor_(opts_.initial_resource_version),
        server_(ServerOptions()) {}
  ~Impl() { Stop(); }  // before the members the connection threads use go away

  absl::Status Start() { return server_.Start(); }
  void Stop() { server_.Stop(); }
  absl::Status SetDown(bool down);
  int port() const { return server_.port(); }
  bool tls() const { return opts_.tls.has_value(); }

  // State.
  void SetPods(std::vector<FakePod> pods) {
    std::lock_guard l(mu_);
    std::map<PodKey, FakePod> wanted;
    for (auto& p : pods) {
      PodKey key{p.ns, p.name};
      wanted[std::move(key)] = std::move(p);
    }
    std::vector<PodKey> gone;
    for (const auto& [key, pod] : pods_)
      if (!wanted.contains(key)) gone.push_back(key);
    for (const auto& key : gone) DeleteLocked(key);
    for (auto& [key, pod] : wanted) UpsertLocked(std::move(pod));
  }
  int64_t UpsertPod(FakePod pod) {
    std::lock_guard l(mu_);
    return UpsertLocked(std::move(pod));
  }
  bool DeletePod(std::string_view ns, std::string_view name) {
    std::lock_guard l(mu_);
    return DeleteLocked({std::string(ns), std::string(name)});
  }
  std::vector<FakePod> Pods() const {
    std::lock_guard l(mu_);
    std::vector<FakePod> out;
    for (const auto& [key, pod] : pods_) out.push_back(pod);
    return out;
  }
  int64_t resource_version() const {
    std::lock_guard l(mu_);
    return rv_;
  }
  void CompactHistory() {
    std::lock_guard l(mu_);
    history_.clear();
    history_floor_ = rv_;
    cv_.notify_all();
  }
  void SetNodes(std::vector<FakeNode> nodes) {
    std::lock_guard l(mu_);
    SetNamedLocked(&nodes_, Resource::kNodes, std::move(nodes));
  }
  int64_t UpsertNode(FakeNode node) {
    std::lock_guard l(mu_);
    return UpsertNamedLocked(&nodes_, Resource::kNodes, std::move(node));
  }
  bool DeleteNode(std::string_view name) {
    std::lock_guard l(mu_);
    return DeleteNamedLocked(&nodes_, Resource::kNodes, std::string(name));
  }
  // kind: "secrets" (values base64-encoded in the answer) or "configmaps".
  int64_t UpsertEvent(FakeEvent ev) {
    std::lock_guard l(mu_);
    PodKey key{ev.ns, ev.name};
    auto it = events_.find(key);
    ev.resource_version.clear();
    if (it != events_.end()) {
      FakeEvent old = it->second;
      old.resource_version.clear();
      if (old == ev) return std::stoll(it->second.resource_version);
    }
    const int64_t rv = ++rv_;
    ev.resource_version = std::to_string(rv);
    Event e{rv, it == events_.end() ? "ADDED" : "MODIFIED", Resource::kEvents, {}, {}, {}, {}};
    e.ev = ev;
    history_.push_back(std::move(e));
    events_[std::move(key)] = std::move(ev);
    cv_.notify_all();
    return rv;
  }
  bool DeleteEvent(std::string_view ns, std::string_view name) {
    std::lock_guard l(mu_);
    auto it = events_.find(PodKey{std::string(ns), std::string(name)});
    if (it == events_.end()) return false;
    const int64_t rv = ++rv_;
    Event e{rv, "DELETED", Resource::kEvents, {}, {}, {}, {}};
    e.ev = std::move(it->second);
    e.ev.resource_version = std::to_string(rv);
    events_.erase(it);
    history_.push_back(std::move(e));
    cv_.notify_all();
    return true;
  }
  std::vector<FakeEvent> Events() const {
    std::lock_guard l(mu_);
    std::vector<FakeEvent> out;
    for (const auto& [k, e] : events_) out.push_back(e);
    return out;
  }
  std::optional<FakeLease> GetLease(std::string_view ns, std::string_view name) const {
    std::lock_guard l(mu_);
    auto it = leases_.find(PodKey{std::string(ns), std::string(name)});
    if (it == leases_.end()) return std::nullopt;
    return it->second;
  }
  size_t lease_conflicts() const {
    std::lock_guard l(mu_);
    return lease_conflicts_;
  }

  void SetData(const std::string& kind, const std::string& ns, const std::string& name,
               std::map<std::string, std::string> data) {
    std::lock_guard l(mu_);
    data_[{kind, ns, name}] = std::move(data);
  }
  void SetNamespaces(std::vector<FakeNamespace> namespaces) {
    std::lock_guard l(mu_);
    SetNamedLocked(&namespaces_, Resource::kNamespaces, std::move(namespaces));
  }
  int64_t UpsertNamespace(FakeNamespace ns) {
    std::lock_guard l(mu_);
    return UpsertNamedLocked(&namespaces_, Resource::kNamespaces, std::move(ns));
  }
  bool DeleteNamespace(std::string_view name) {
    std::lock_guard l(mu_);
    return DeleteNamedLocked(&namespaces_, Resource::kNamespaces, std::string(name));
  }
  void SetBearerToken(std::string token) {
    std::lock_guard l(mu_);
    token_ = std::move(token);
  }

  // Faults.
  bool down() const {
    std::lock_guard l(mu_);
    return down_;
  }
  void FailNext(int count, int status, std::string path) {
    std::lock_guard l(mu_);
    fail_remaining_ = count;
    fail_status_ = status;
    fail_path_ = std::move(path);
  }
  void SetDelay(absl::Duration delay) {
    std::lock_guard l(mu_);
    delay_ = delay;
  }
  void BreakNext(int count) {
    std::lock_guard l(mu_);
    break_remaining_ = count;
  }
  void CloseWatches(bool abrupt) {
    std::lock_guard l(mu_);
    ++watch_close_generation_;
    watch_close_abrupt_ = abrupt;
    cv_.notify_all();
  }
  void ClearFaults() {
    std::lock_guard l(mu_);
    fail_remaining_ = 0;
    break_remaining_ = 0;
    delay_ = absl::ZeroDuration();
    cv_.notify_all();
  }

  // Observations.
  size_t request_count() const {
    std::lock_guard l(mu_);
    return request_count_;
  }
  size_t request_count(std::string_view path) const {
    std::lock_guard l(mu_);
    auto it = by_path_.find(std::string(path));
    return it == by_path_.end() ? 0 : it->second;
  }
  std::vector<FakeKubeRequest> Requests() const {
    std::lock_guard l(mu_);
    return {requests_.begin(), requests_.end()};
  }
  std::optional<FakeKubeRequest> LastRequest() const {
    std::lock_guard l(mu_);
    if (requests_.empty()) return std::nullopt;
    return requests_.back();
  }
  size_t active_watches() const {
    std::lock_guard l(mu_);
    return active_watches_;
  }
  size_t watches_started() const {
    std::lock_guard l(mu_);
    return watches_started_;
  }
  void ClearObservations() {
    std::lock_guard l(mu_);
    request_count_ = 0;
    watches_started_ = 0;
    by_path_.clear();
    requests_.clear();
    cv_.notify_all();
  }
  bool WaitForRequests(size_t n, absl::Duration t) const {
    return WaitOn(mu_, cv_, t, [&] { return request_count_ >= n; });
  }
  bool WaitForRequests(std::string_view path, size_t n, absl::Duration t) const {
    const std::string p(path);
    return WaitOn(mu_, cv_, t, [&] {
      auto it = by_path_.find(p);
      return it != by_path_.end() && it->second >= n;
    });
  }
  bool WaitForWatches(size_t n, absl::Duration t) const {
    return WaitOn(mu_, cv_, t, [&] { return active_watches_ >= n; });
  }
  bool WaitForWatchesEnded(absl::Duration t) const {
    return WaitOn(mu_, cv_, t, [&] { return active_watches_ == 0; });
  }

 private:
  struct Event {
    int64_t rv;
    std::string type;  // ADDED, MODIFIED, DELETED
    Resource resource;
    // The object of `resource` (resource_version set); the others are empty.
    FakePod pod;
    FakeNode node;
    FakeNamespace ns;
    FakeEvent ev;
  };
  static void PutObject(Event* e, FakePod p) { e->pod = std::move(p); }
  static void PutObject(Event* e, FakeEvent v) { e->ev = std::move(v); }
  static void PutObject(Event* e, FakeNode n) { e->node = std::move(n); }
  static void PutObject(Event* e, FakeNamespace n) { e->ns = std::move(n); }

  // ---- Pod logs (kept apart from the collections above) ----
  struct LogLine {
    int64_t ts_ns;
    std::string text;
  };
  using LogKey = std::tuple<std::string, std::string, std::string>;  // ns, pod, container
  struct LogQuery {
    LogKey key;
    bool follow = false;
    bool timestamps = false;
    int64_t since_ns = INT64_MIN;
  };

 public:
  void AppendPodLog(std::string_view ns, std::string_view pod, std::string_view container,
                    std::string_view line, int64_t ts_ns) {
    std::lock_guard l(mu_);
    logs_[LogKey(ns, pod, container)].push_back({ts_ns, std::string(line)});
    cv_.notify_all();
  }
  void EndLogStreams(bool abrupt) {
    std::lock_guard l(mu_);
    ++log_close_generation_;
    log_close_abrupt_ = abrupt;
    cv_.notify_all();
  }
  size_t active_log_streams() const {
    std::lock_guard l(mu_);
    return active_log_streams_;
  }
  size_t log_streams_started() const {
    std::lock_guard l(mu_);
    return log_streams_started_;
  }
  bool WaitForLogStreams(size_t n, absl::Duration t) const {
    return WaitOn(mu_, cv_, t, [&] { return active_log_streams_ >= n; });
  }
  bool WaitForLogStreamsStarted(size_t n, absl::Duration t) const {
    return WaitOn(mu_, cv_, t, [&] { return log_streams_started_ >= n; });
  }
  void SetPodLogs(std::vector<FakePodLogs> podlogs) {
    std::lock_guard l(mu_);
    podlogs_ = std::move(podlogs);
    ++podlogs_rv_;
    cv_.notify_all();
  }

 private:
  // What Dispatch decided for one request.
  struct Answer {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    bool break_it = false;
    // watch=true: stream events instead (status 200).
    bool watch = false;
    Resource resource = Resource::kPods;
    std::string watch_ns;  // "" = all namespaces
    std::vector<LabelRequirement> labels;
    std::vector<FieldRequirement> fields;
    std::optional<int64_t> watch_from;  // nullopt: current state first (resourceVersion "" / 0)
    absl::Duration watch_timeout = absl::InfiniteDuration();
    std::optional<LogQuery> log;           // a pod log: stream it instead
    std::optional<int64_t> podlogs_watch;  // a PodLogs watch from this version
  };

  // Is `e` an event a watch answering `a` sends?
  static bool Matches(const Answer& a, const FakePod& p) {
    return (a.watch_ns.empty() || p.ns == a.watch_ns) && MatchesLabels(a.labels, LabelsOf(p)) &&
           MatchesFields(a.fields, p);
  }
  static bool Matches(const Answer& a, const FakeEvent& e) {
    return (a.watch_ns.empty() || e.ns == a.watch_ns) && MatchesFields(a.fields, e);
  }
  template <class T>
  static bool Matches(const Answer& a, const T& obj) {
    return MatchesLabels(a.labels, LabelsOf(obj)) && MatchesFields(a.fields, obj);
  }
  static bool Matches(const Answer& a, const Event& e) {
    if (e.resource != a.resource) return false;
    switch (e.resource) {
      case Resource::kPods:
        return Matches(a, e.pod);
      case Resource::kNodes:
        return Matches(a, e.node);
      case Resource::kNamespaces:
        return Matches(a, e.ns);
      case Resource::kEvents:
        return Matches(a, e.ev);
    }
    return false;
  }
  static std::string ObjectJson(const Event& e) {
    switch (e.resource) {
      case Resource::kPods:
        return PodJson(e.pod);
      case Resource::kNodes:
        return NodeJson(e.node);
      case Resource::kNamespaces:
        return NamespaceJson(e.ns);
      case Resource::kEvents:
        return EventJson(e.ev);
    }
    return "";
  }
  // The current objects of `a.resource` a watch without a version starts with, as ADDED events.
  std::vector<Event> CurrentLocked(const Answer& a) const {
    std::vector<Event> out;
    auto add = [&](const auto& obj) {
      Event e{rv_, "ADDED", a.resource, {}, {}, {}, {}};
      PutObject(&e, obj);
      if (Matches(a, e)) out.push_back(std::move(e));
    };
    switch (a.resource) {
      case Resource::kPods:
        for (const auto& [key, pod] : pods_) add(pod);
        break;
      case Resource::kNodes:
        for (const auto& [name, node] : nodes_) add(node);
        break;
      case Resource::kNamespaces:
        for (const auto& [name, ns] : namespaces_) add(ns);
        break;
      case Resource::kEvents:
        for (const auto& [key, ev] : events_) add(ev);
        break;
    }
    return out;
  }

  int64_t UpsertLocked(FakePod pod) {
    PodKey key{pod.ns, pod.name};
    auto it = pods_.find(key);
    pod.resource_version.clear();
    if (it != pods_.end()) {
      FakePod old = it->second;
      old.resource_version.clear();
      if (old == pod) return std::stoll(it->second.resource_version);  // nothing changed
    }
    const int64_t rv = ++rv_;
    pod.resource_version = std::to_string(rv);
    history_.push_back(
        {rv, it == pods_.end() ? "ADDED" : "MODIFIED", Resource::kPods, pod, {}, {}, {}});
    pods_[std::move(key)] = std::move(pod);
    cv_.notify_all();
    return rv;
  }
  bool DeleteLocked(const PodKey& key) {
    auto it = pods_.find(key);
    if (it == pods_.end()) return false;
    const int64_t rv = ++rv_;
    FakePod pod = std::move(it->second);
    pods_.erase(it);
    pod.resource_version = std::to_string(rv);
    history_.push_back({rv, "DELETED", Resource::kPods, std::move(pod), {}, {}, {}});
    cv_.notify_all();
    return true;
  }
  // Nodes and namespaces: cluster-scoped, keyed by name.
  template <class T>
  int64_t UpsertNamedLocked(std::map<std::string, T>* objects, Resource resource, T obj) {
    auto it = objects->find(obj.name);
    obj.resource_version.clear();
    if (it != objects->end()) {
      T old = it->second;
      old.resource_version.clear();
      if (old == obj) return std::stoll(it->second.resource_version);  // nothing changed
    }
    const int64_t rv = ++rv_;
    obj.resource_version = std::to_string(rv);
    Event e{rv, it == objects->end() ? "ADDED" : "MODIFIED", resource, {}, {}, {}, {}};
    PutObject(&e, obj);
    history_.push_back(std::move(e));
    const std::string name = obj.name;
    (*objects)[name] = std::move(obj);
    cv_.notify_all();
    return rv;
  }
  template <class T>
  bool DeleteNamedLocked(std::map<std::string, T>* objects, Resource resource,
                         const std::string& name) {
    auto it = objects->find(name);
    if (it == objects->end()) return false;
    const int64_t rv = ++rv_;
    T obj = std::move(it->second);
    objects->erase(it);
    obj.resource_version = std::to_string(rv);
    Event e{rv, "DELETED", resource, {}, {}, {}, {}};
    PutObject(&e, std::move(obj));
    history_.push_back(std::move(e));
    cv_.notify_all();
    return true;
  }
  template <class T>
  void SetNamedLocked(std::map<std::string, T>* objects, Resource resource, std::vector<T> wanted) {
    std::set<std::string> names;
    for (const T& o : wanted) names.insert(o.name);
    std::vector<std::string> gone;
    for (const auto& [name, obj] : *objects)
      if (!names.contains(name)) gone.push_back(name);
    for (const std::string& name : gone) DeleteNamedLocked(objects, resource, name);
    for (T& o : wanted) UpsertNamedLocked(objects, resource, std::move(o));
  }

  TestHttpServer::Options ServerOptions();
  void Serve(Connection& c);  // on the connection's thread
  template <class Stream>
  void ServeLoop(Connection& c, Stream& stream, bool tls);
  template <class Stream>
  void StreamWatch(Connection& c, Stream& stream, const Answer& a, FakeKubeRequest info);
  Answer Dispatch(const http::request<http::string_body>& req, FakeKubeRequest* info);
  Answer Route(const http::request<http::string_body>& req, const FakeKubeRequest& info);
  // A lease write (POST to the collection, PUT to the object) or read.
  Answer LeaseRequest(const http::request<http::string_body>& req, const std::string& ns,
                      const std::string& name);
  void Record(FakeKubeRequest info);
  void RecordLocked(FakeKubeRequest info);  // mu_ held
  // Route's part for .../pods/<pod>/log.
  Answer RouteLog(const std::vector<std::string>& parts, const FakeKubeRequest& info);
  Answer RoutePodLogs(const FakeKubeRequest& info);
  template <class Stream>
  void StreamPodLogsWatch(Connection& c, Stream& stream, const Answer& a, FakeKubeRequest info);
  template <class Stream>
  void StreamLog(Connection& c, Stream& stream, const Answer& a, FakeKubeRequest info);

  const Options opts_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool stopping_ = false;
  bool down_ = false;
  uint64_t down_epoch_ = 0;  // bumped by SetDown(true): requests and watches of before end
  std::string token_;
  // Cluster state.
  int64_t rv_;
  int64_t history_floor_;      // events with rv <= this are forgotten
  std::deque<Event> history_;  // ascending rv
  std::map<PodKey, FakePod> pods_;
  std::map<std::string, FakeNode> nodes_;
  std::map<std::string, FakeNamespace> namespaces_;
  std::map<PodKey, FakeEvent> events_;
  std::map<PodKey, FakeLease> leases_;
  size_t lease_conflicts_ = 0;
  std::map<std::tuple<std::string, std::string, std::string>, std::map<std::string, std::string>>
      data_;
  // Faults.
  int fail_remaining_ = 0;
  int fail_status_ = 500;
  std::string fail_path_;  // "" = every path
  int break_remaining_ = 0;
  absl::Duration delay_ = absl::ZeroDuration();
  uint64_t watch_close_generation_ = 0;
  bool watch_close_abrupt_ = false;
  // Observations.
  size_t request_count_ = 0;
  std::map<std::string, size_t> by_path_;
  std::deque<FakeKubeRequest> requests_;
  size_t active_watches_ = 0;
  size_t watches_started_ = 0;
  // Pod logs.
  std::map<LogKey, std::vector<LogLine>> logs_;
  uint64_t log_close_generation_ = 0;
  bool log_close_abrupt_ = false;
  size_t active_log_streams_ = 0;
  size_t log_streams_started_ = 0;
  // PodLogs.
  std::vector<FakePodLogs> podlogs_;
  int64_t podlogs_rv_ = 1;

  // Last: its threads use the members above. Serializes Start/Stop/SetDown.
  TestHttpServer server_;
};

TestHttpServer::Options FakeKube::Impl::ServerOptions() {
  TestHttpServer::Options o;
  o.name = "FakeKube";
  o.log_component = "fake_kube";
  o.listen_host = opts_.listen_host;
  o.listen_port = opts_.listen_port;
  if (opts_.tls) {
    o.tls.emplace();
    o.tls->cert_pem = opts_.tls->cert_pem;
    o.tls->key_pem = opts_.tls->key_pem;
  }
  o.serve = [this](Connection& c) { Serve(c); };
  o.on_stop = [this] {
    std::lock_guard l(mu_);
    stopping_ = true;
    cv_.notify_all();
  };
  return o;
}

absl::Status FakeKube::Impl::SetDown(bool down) {
  return server_.SetListening(!down, [&] {
    {
      std::lock_guard l(mu_);
      down_ = down;
      if (down) ++down_epoch_;
      cv_.notify_all();
    }
    // Open connections die with the server (watches too); their threads end and are reaped.
    if (down) server_.ShutdownConnections();
  });
}

void FakeKube::Impl::Serve(Connection& c) {
  if (boost::asio::ssl::context* ctx = server_.tls_context()) {
    TestHttpServer::TlsStream tls(c.socket(), *ctx);
    if (TestHttpServer::Handshake(tls, nullptr)) ServeLoop(c, tls, /*tls=*/true);
  } else {
    ServeLoop(c, c.socket(), /*tls=*/false);
  }
}

template <class Stream>
void FakeKube::Impl::ServeLoop(Connection& c, Stream& stream, bool tls) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    beast::error_code ec;
    http::read(stream, buffer, parser, ec);
    if (ec) return;  // EOF, reset, garbage, Stop(), SetDown(true)
    http::request<http::string_body> req = parser.release();
    FakeKubeRequest info;
    info.tls = tls;
    Answer a = Dispatch(req, &info);
    if (a.watch) {
      StreamWatch(c, stream, a, std::move(info));
      return;  // a watch ends its connection (the answer has no length)
    }
    if (a.log) {
      StreamLog(c, stream, a, std::move(info));
      return;  // likewise
    }
    if (a.podlogs_watch) {
      StreamPodLogsWatch(c, stream, a, std::move(info));
      return;
    }
    const bool keep_alive = req.keep_alive() && !a.break_it;
    const std::string bytes = RawResponse(a.status, a.content_type, a.body, keep_alive);
    info.status = a.status;
    info.broken = a.break_it;
    Record(std::move(info));
    if (a.break_it) {
      // Headers promise the whole body; half the bytes, then a reset.
      WriteAll(stream, std::string_view(bytes).substr(0, bytes.size() - a.body.size() / 2));
      c.Close(/*abort=*/true);
      return;
    }
    if (!WriteAll(stream, bytes) || !keep_alive) return;
  }
}

FakeKube::Impl::Answer FakeKube::Impl::Dispatch(const http::request<http::string_body>& req,
                                                FakeKubeRequest* info) {
  info->received = absl::Now();
  info->method = Str(req.method_string());
  const std::string target = Str(req.target());
  const size_t qpos = target.find('?');
  info->path = target.substr(0, qpos);
  if (qpos != std::string::npos) info->query = target.substr(qpos + 1);
  info->params = ParseQuery(info->query);
  for (const auto& field : req)
    info->headers.emplace_back(Str(field.name_string()), Str(field.value()));
  info->authorization = Str(req[http::field::authorization]);

  Answer a;
  {
    std::unique_lock l(mu_);
    // The delay first: a slow server is slow whatever it answers.
    if (delay_ > absl::ZeroDuration()) {
      const uint64_t epoch = down_epoch_;
      WaitOn(cv_, l, delay_, [&] { return stopping_ || down_epoch_ != epoch; });
    }
    if (fail_remaining_ != 0 && (fail_path_.empty() || fail_path_ == info->path)) {
      if (fail_remaining_ > 0) --fail_remaining_;
      a.status = fail_status_;
      a.body = StatusJson(fail_status_, absl::StrCat("fake_kube: forced status ", fail_status_));
    } else if (!token_.empty() && info->authorization != absl::StrCat("Bearer ", token_)) {
      a.status = 401;
      a.body = StatusJson(401, "Unauthorized");
    }
  }
  if (a.status == 200) a = Route(req, *info);
  if (!a.watch) {
    std::lock_guard l(mu_);
    if (break_remaining_ != 0) {
      if (break_remaining_ > 0) --break_remaining_;
      a.break_it = true;
    }
  }
  return a;
}

FakeKube::Impl::Answer FakeKube::Impl::Route(const http::request<http::string_body>& req,
                                             const FakeKubeRequest& info) {
  Answer a;
  auto fail = [&](int status, std::string message) {
    a.status = status;
    a.body = StatusJson(status, message);
    return a;
  };
  {
    const std::vector<std::string> lp = absl::StrSplit(info.path, '/', absl::SkipEmpty());
    if (lp.size() >= 6 && lp[0] == "apis" && lp[1] == "coordination.k8s.io" && lp[2] == "v1" &&
        lp[3] == "namespaces" && lp[5] == "leases" && lp.size() <= 7) {
      return LeaseRequest(req, lp[4], lp.size() == 7 ? lp[6] : "");
    }
  }
  if (req.method() != http::verb::get) {
    return fail(405,
                absl::StrCat("the server does not allow this method on the requested resource"));
  }
  const std::vector<std::string> parts = absl::StrSplit(info.path, '/', absl::SkipEmpty());
  auto param = [&](const std::string& name) -> std::string {
    auto it = info.params.find(name);
    return it == info.params.end() ? "" : it->second;
  };

  if (info.path == "/healthz" || info.path == "/readyz" || info.path == "/livez") {
    a.content_type = "text/plain; charset=utf-8";
    a.body = "ok";
    return a;
  }
  if (info.path == "/pods") {  // the kubelet
    std::lock_guard l(mu_);
    std::vector<FakePod> pods;
    for (const auto& [key, pod] : pods_) pods.push_back(pod);
    a.body = PodListJson(pods);
    return a;
  }
  if (info.path == "/apis/monitoring.grafana.com/v1alpha2/podlogs") return RoutePodLogs(info);
  if (parts.size() < 3 || parts[0] != "api" || parts[1] != "v1") {
    return fail(404, "the server could not find the requested resource");
  }

  // Collections: /api/v1/pods, /api/v1/namespaces/<ns>/pods, /api/v1/nodes, /api/v1/namespaces.
  std::optional<Resource> collection;
  if (parts.size() == 3 && parts[2] == "pods") collection = Resource::kPods;
  if (parts.size() == 5 && parts[2] == "namespaces" && parts[4] == "pods") {
    collection = Resource::kPods;
    a.watch_ns = parts[3];
  }
  if (parts.size() == 3 && parts[2] == "events") collection = Resource::kEvents;
  if (parts.size() == 5 && parts[2] == "namespaces" && parts[4] == "events") {
    collection = Resource::kEvents;
    a.watch_ns = parts[3];
  }
  if (parts.size() == 3 && parts[2] == "nodes") collection = Resource::kNodes;
  if (parts.size() == 3 && parts[2] == "namespaces") collection = Resource::kNamespaces;
  if (collection) {
    a.resource = *collection;
    std::string error;
    if (!ParseLabelSelector(param("labelSelector"), &a.labels, &error) ||
        !ParseFieldSelector(param("fieldSelector"), a.resource, &a.fields, &error)) {
      return fail(400, error);
    }
    if (GoParseBool(param("watch"))) {
      a.watch = true;
      const std::string rv = param("resourceVersion");
      int64_t from = 0;
      if (!rv.empty() && rv != "0") {
        if (!absl::SimpleAtoi(rv, &from))
          return fail(400, absl::StrCat("invalid resource version: ", rv));
        a.watch_from = from;
      }
      int64_t seconds = 0;
      if (absl::SimpleAtoi(param("timeoutSeconds"), &seconds) && seconds > 0) {
        a.watch_timeout = absl::Seconds(seconds);
      }
      return a;
    }
    std::lock_guard l(mu_);
    const std::string rv = std::to_string(rv_);
    switch (a.resource) {
      case Resource::kPods: {
        std::vector<FakePod> pods;
        for (const auto& [key, pod] : pods_)
          if (Matches(a, pod)) pods.push_back(pod);
        a.body = PodListJson(pods, rv);
        break;
      }
      case Resource::kNodes: {
        std::vector<FakeNode> nodes;
        for (const auto& [name, node] : nodes_)
          if (Matches(a, node)) nodes.push_back(node);
        a.body = NodeListJson(nodes, rv);
        break;
      }
      case Resource::kEvents: {
        std::vector<FakeEvent> events;
        for (const auto& [key, ev] : events_)
          if (Matches(a, ev)) events.push_back(ev);
        a.body = EventListJson(events, rv);
        break;
      }
      case Resource::kNamespaces: {
        std::vector<FakeNamespace> namespaces;
        for (const auto& [name, ns] : namespaces_)
          if (Matches(a, ns)) namespaces.push_back(ns);
        a.body = NamespaceListJson(namespaces, rv);
        break;
      }
    }
    return a;
  }
  if (parts.size() == 7 && parts[2] == "namespaces" && parts[4] == "pods" && parts[6] == "log") {
    return RouteLog(parts, info);
  }
  std::lock_guard l(mu_);
  if (parts.size() == 6 && parts[2] == "namespaces" && parts[4] == "pods") {
    auto it = pods_.find({parts[3], parts[5]});
    if (it == pods_.end()) return fail(404, absl::StrCat("pods \"", parts[5], "\" not found"));
    a.body = PodJson(it->second);
    return a;
  }
  if (parts.size() == 6 && parts[2] == "namespaces" &&
      (parts[4] == "secrets" || parts[4] == "configmaps")) {
    auto it = data_.find({parts[4], parts[3], parts[5]});
    if (it == data_.end()) {
      return fail(404, absl::StrCat(parts[4], " \"", parts[5], "\" not found"));
    }
    std::string body = absl::StrCat("{\"kind\":\"", parts[4] == "secrets" ? "Secret" : "ConfigMap",
                                    "\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"", parts[5],
                                    "\",\"namespace\":\"", parts[3], "\"},\"data\":{");
    bool first = true;
    for (const auto& [k, v] : it->second) {
      absl::StrAppend(&body, first ? "" : ",", "\"", k, "\":\"",
                      parts[4] == "secrets" ? absl::Base64Escape(v) : v, "\"");
      first = false;
    }
    a.body = body + "}}";
    return a;
  }
  if (parts.size() == 4 && parts[2] == "nodes") {
    auto it = nodes_.find(parts[3]);
    if (it == nodes_.end()) return fail(404, absl::StrCat("nodes \"", parts[3], "\" not found"));
    a.body = NodeJson(it->second);
    return a;
  }
  if (parts.size() == 4 && parts[2] == "namespaces") {
    auto it = namespaces_.find(parts[3]);
    if (it == namespaces_.end())
      return fail(404, absl::StrCat("namespaces \"", parts[3], "\" not found"));
    a.body = NamespaceJson(it->second);
    return a;
  }
  return fail(404, "the server could not find the requested resource");
}

FakeKube::Impl::Answer FakeKube::Impl::LeaseRequest(const http::request<http::string_body>& req,
                                                    const std::string& ns,
                                                    const std::string& name) {
  Answer a;
  auto fail = [&](int status, std::string message, std::string_view reason = "") {
    a.status = status;
    a.body = StatusJson(status, message, reason);
    return a;
  };
  std::lock_guard l(mu_);
  if (req.method() == http::verb::get && !name.empty()) {
    auto it = leases_.find({ns, name});
    if (it == leases_.end()) {
      return fail(404, absl::StrCat("leases.coordination.k8s.io \"", name, "\" not found"));
    }
    a.body = LeaseObjectJson(it->second);
    return a;
  }
  const bool create = req.method() == http::verb::post && name.empty();
  const bool update = req.method() == http::verb::put && !name.empty();
  if (!create && !update) {
    return fail(405, "the server does not allow this method on the requested resource");
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::padded_string padded(req.body());
  if (parser.parse(padded).get(doc) != simdjson::SUCCESS) return fail(400, "invalid JSON body");
  FakeLease lease;
  lease.ns = ns;
  auto str = [](simdjson::dom::element e, const char* key) {
    std::string_view v;
    return e[key].get_string().get(v) == simdjson::SUCCESS ? std::string(v) : std::string();
  };
  simdjson::dom::element meta, spec;
  std::string sent_rv;
  if (doc["metadata"].get(meta) == simdjson::SUCCESS) {
    lease.name = str(meta, "name");
    sent_rv = str(meta, "resourceVersion");
    simdjson::dom::object ann;
    if (meta["annotations"].get_object().get(ann) == simdjson::SUCCESS) {
      for (auto field : ann) {
        std::string_view v;
        if (field.value.get_string().get(v) == simdjson::SUCCESS) {
          lease.annotations[std::string(field.key)] = std::string(v);
        }
      }
    }
  }
  if (doc["spec"].get(spec) == simdjson::SUCCESS) {
    lease.holder = str(spec, "holderIdentity");
    int64_t n = 0;
    if (spec["leaseDurationSeconds"].get_int64().get(n) == simdjson::SUCCESS) {
      lease.lease_duration_seconds = n;
    }
    n = 0;
    if (spec["leaseTransitions"].get_int64().get(n) == simdjson::SUCCESS)
      lease.lease_transitions = n;
    lease.acquire_time = str(spec, "acquireTime");
    lease.renew_time = str(spec, "renewTime");
  }
  if (update && lease.name != name) return fail(400, "the name of the object does not match");
  auto it = leases_.find({ns, lease.name});
  if (create) {
    if (it != leases_.end()) {
      ++lease_conflicts_;
      return fail(409,
                  absl::StrCat("leases.coordination.k8s.io \"", lease.name, "\" already exists"),
                  "AlreadyExists");
    }
    a.status = 201;
  } else {
    if (it == leases_.end()) {
      return fail(404, absl::StrCat("leases.coordination.k8s.io \"", name, "\" not found"));
    }
    if (sent_rv != it->second.resource_version) {
      ++lease_conflicts_;
      return fail(
          409,
          absl::StrCat("Operation cannot be fulfilled on leases.coordination.k8s.io \"", name,
                       "\": the object has been modified; please apply your changes "
                       "to the latest version and try again"),
          "Conflict");
    }
  }
  lease.resource_version = std::to_string(++rv_);
  a.body = LeaseObjectJson(lease);
  leases_[{ns, lease.name}] = std::move(lease);
  return a;
}

template <class Stream>
void FakeKube::Impl::StreamWatch(Connection& c, Stream& stream, const Answer& a,
                                 FakeKubeRequest info) {
  info.watch = true;
  info.status = 200;
  const absl::Time deadline = absl::Now() + a.watch_timeout;
  std::unique_lock l(mu_);
  const uint64_t close_gen = watch_close_generation_;
  const uint64_t epoch = down_epoch_;
  auto event_json = [](const Event& e) {
    return absl::StrCat("{\"type\":\"", e.type, "\",\"object\":", ObjectJson(e), "}\n");
  };
  // Without a resource version: the current state as ADDED events, then what changes.
  std::string pending;
  int64_t sent = rv_;
  if (a.watch_from) {
    sent = *a.watch_from;
  } else {
    for (const Event& e : CurrentLocked(a)) pending += Chunk(event_json(e));
  }
  ++active_watches_;
  // Counted with the watch, under the same lock: a test that subtracts watches from requests
  // (the lists) never sees one without the other.
  ++watches_started_;
  RecordLocked(std::move(info));
  l.unlock();
  bool ok = WriteAll(stream,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n");
  if (ok && !pending.empty()) ok = WriteAll(stream, pending);
  l.lock();
  bool abrupt = false;
  while (ok) {
    pending.clear();
    bool expired = false;
    if (sent < history_floor_) {
      // What this watch needs was compacted away.
      expired = true;
      pending = Chunk(absl::StrCat("{\"type\":\"ERROR\",\"object\":",
                                   StatusJson(410, absl::StrCat("too old resource version: ", sent,
                                                                " (", history_floor_ + 1, ")")),
                                   "}\n"));
    } else {
      auto it = std::upper_bound(history_.begin(), history_.end(), sent,
                                 [](int64_t v, const Event& e) { return v < e.rv; });
      for (; it != history_.end(); ++it) {
        if (Matches(a, *it)) pending += Chunk(event_json(*it));
        sent = it->rv;
      }
    }
    if (!pending.empty()) {
      l.unlock();
      ok = WriteAll(stream, pending);
      l.lock();
      if (expired) break;
      continue;
    }
    if (stopping_ || down_epoch_ != epoch) {
      ok = false;  // the connection is being shut down under us
      break;
    }
    if (watch_close_generation_ != close_gen) {
      abrupt = watch_close_abrupt_;
      break;
    }
    if (absl::Now() >= deadline) break;
    // Wake at least every 100ms to notice a client that went away.
    cv_.wait_for(l, std::chrono::milliseconds(100));
    l.unlock();
    if (c.PeerGone()) ok = false;
    l.lock();
  }
  --active_watches_;
  cv_.notify_all();
  l.unlock();
  if (abrupt) {
    c.Close(/*abort=*/true);
  } else if (ok) {
    WriteAll(stream, "0\r\n\r\n");  // the end of the chunked body: the watch ended normally
  }
}

// ---- Pod logs ----------------------------------------------------------------------------------

FakeKube::Impl::Answer FakeKube::Impl::RouteLog(const std::vector<std::string>& parts,
                                                const FakeKubeRequest& info) {
  Answer a;
  auto param = [&](const std::string& name) -> std::string {
    auto it = info.params.find(name);
    return it == info.params.end() ? "" : it->second;
  };
  auto fail = [&](int status, std::string message) {
    a.status = status;
    a.body = StatusJson(status, message);
    return a;
  };
  const std::string& ns = parts[3];
  const std::string& pod = parts[5];
  std::string container = param("container");
  std::lock_guard l(mu_);
  auto it = pods_.find({ns, pod});
  if (it != pods_.end()) {
    const FakePod& p = it->second;
    std::vector<std::string> names;
    for (const auto& c : p.containers) names.push_back(c.name);
    for (const auto& c : p.init_containers) names.push_back(c.name);
    if (container.empty()) {
      if (names.size() != 1) {
        return fail(400, absl::StrCat("a container name must be specified for pod ", pod));
      }
      container = names[0];
    } else if (std::find(names.begin(), names.end(), container) == names.end()) {
      return fail(400, absl::StrCat("container ", container, " is not valid for pod ", pod));
    }
  } else if (logs_.find(LogKey(ns, pod, container)) == logs_.end()) {
    return fail(404, absl::StrCat("pods \"", pod, "\" not found"));
  }
  LogQuery q;
  q.key = LogKey(ns, pod, container);
  q.follow = GoParseBool(param("follow"));
  q.timestamps = GoParseBool(param("timestamps"));
  const std::string since = param("sinceTime");
  if (!since.empty()) {
    int64_t ns_since = 0;
    if (!ParseRfc3339Nano(since, &ns_since)) {
      return fail(400, absl::StrCat("parsing time \"", since, "\" as RFC3339: invalid"));
    }
    q.since_ns = ns_since;
  }
  a.content_type = "text/plain";
  a.log = std::move(q);
  return a;
}

template <class Stream>
void FakeKube::Impl::StreamLog(Connection& c, Stream& stream, const Answer& a,
                               FakeKubeRequest info) {
  info.status = 200;
  const LogQuery& q = *a.log;
  std::unique_lock l(mu_);
  const uint64_t close_gen = log_close_generation_;
  const uint64_t epoch = down_epoch_;
  ++active_log_streams_;
  ++log_streams_started_;
  cv_.notify_all();
  l.unlock();
  Record(std::move(info));
  bool ok = WriteAll(stream,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n");
  size_t next = 0;  // index of the next line of the log to consider
  bool abrupt = false;
  l.lock();
  while (ok) {
    std::string pending;
    const std::vector<LogLine>& lines = logs_[q.key];
    for (; next < lines.size(); ++next) {
      const LogLine& line = lines[next];
      if (line.ts_ns < q.since_ns) continue;
      if (q.timestamps) {
        AppendRfc3339Nano(line.ts_ns, &pending);
        pending.push_back(' ');
      }
      absl::StrAppend(&pending, line.text, "\n");
    }
    if (!pending.empty()) {
      l.unlock();
      ok = WriteAll(stream, Chunk(pending));
      l.lock();
      continue;
    }
    if (!q.follow) break;
    if (stopping_ || down_epoch_ != epoch) {
      ok = false;
      break;
    }
    if (log_close_generation_ != close_gen) {
      abrupt = log_close_abrupt_;
      break;
    }
    cv_.wait_for(l, std::chrono::milliseconds(100));
    l.unlock();
    if (c.PeerGone()) ok = false;
    l.lock();
  }
  --active_log_streams_;
  cv_.notify_all();
  l.unlock();
  if (abrupt) {
    // Half of a line no log holds, then a reset: a reader must not send it.
    WriteAll(stream, Chunk("2024-01-01T00:00:00Z cut-in-the-mid"));
    c.Close(/*abort=*/true);
  } else if (ok) {
    WriteAll(stream, "0\r\n\r\n");
  }
}

// ---- PodLogs -----------------------------------------------------------------------------------

FakeKube::Impl::Answer FakeKube::Impl::RoutePodLogs(const FakeKubeRequest& info) {
  Answer a;
  auto it = info.params.find("watch");
  std::lock_guard l(mu_);
  if (it != info.params.end() && GoParseBool(it->second)) {
    int64_t from = podlogs_rv_;
    auto rv = info.params.find("resourceVersion");
    if (rv != info.params.end()) (void)absl::SimpleAtoi(rv->second, &from);
    a.podlogs_watch = from;
    return a;
  }
  const std::string rv = std::to_string(podlogs_rv_);
  std::string body = absl::StrCat(
      "{\"apiVersion\":\"monitoring.grafana.com/v1alpha2\",\"kind\":\"PodLogsList\","
      "\"metadata\":{\"resourceVersion\":",
      Q(rv), "},\"items\":[");
  for (size_t i = 0; i < podlogs_.size(); ++i) {
    absl::StrAppend(&body, i == 0 ? "" : ",", PodLogsJsonImpl(podlogs_[i], rv, true));
  }
  a.body = body + "]}";
  return a;
}

template <class Stream>
void FakeKube::Impl::StreamPodLogsWatch(Connection& c, Stream& stream, const Answer& a,
                                        FakeKubeRequest info) {
  info.watch = true;
  info.status = 200;
  Record(std::move(info));
  bool ok = WriteAll(stream,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n");
  std::unique_lock l(mu_);
  const uint64_t epoch = down_epoch_;
  bool expired = false;
  while (ok) {
    if (podlogs_rv_ != *a.podlogs_watch) {
      expired = true;
      break;
    }
    if (stopping_ || down_epoch_ != epoch) {
      ok = false;
      break;
    }
    cv_.wait_for(l, std::chrono::milliseconds(100));
    l.unlock();
    if (c.PeerGone()) ok = false;
    l.lock();
  }
  l.unlock();
  if (!ok) return;
  if (expired) {
    WriteAll(stream, Chunk(absl::StrCat("{\"type\":\"ERROR\",\"object\":",
                                        StatusJson(410, "too old resource version"), "}\n")));
  }
  WriteAll(stream, "0\r\n\r\n");
}

void FakeKube::Impl::Record(FakeKubeRequest info) {
  std::lock_guard l(mu_);
  RecordLocked(std::move(info));
}

void FakeKube::Impl::RecordLocked(FakeKubeRequest info) {
  ++request_count_;
  ++by_path_[info.path];
  requests_.push_back(std::move(info));
  while (requests_.size() > opts_.request_log_size) requests_.pop_front();
  cv_.notify_all();
}

// ---- FakeKube forwarding -----------------------------------------------------------------------

FakeKube::FakeKube() : FakeKube(Options()) {}
FakeKube::FakeKube(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
FakeKube::~FakeKube() { Stop(); }

absl::Status FakeKube::Start() { return impl_->Start(); }
void FakeKube::Stop() { impl_->Stop(); }
int FakeKube::port() const { return impl_->port(); }
std::string FakeKube::base_url() const {
  return absl::StrCat(impl_->tls() ? "https" : "http", "://127.0.0.1:", port());
}

void FakeKube::SetPods(std::vector<FakePod> pods) { impl_->SetPods(std::move(pods)); }
int64_t FakeKube::UpsertPod(FakePod pod) { return impl_->UpsertPod(std::move(pod)); }
bool FakeKube::DeletePod(std::string_view ns, std::string_view name) {
  return impl_->DeletePod(ns, name);
}
std::vector<FakePod> FakeKube::Pods() const { return impl_->Pods(); }
int64_t FakeKube::resource_version() const { return impl_->resource_version(); }
void FakeKube::CompactHistory() { impl_->CompactHistory(); }
void FakeKube::SetNodes(std::vector<FakeNode> nodes) { impl_->SetNodes(std::move(nodes)); }
int64_t FakeKube::UpsertNode(FakeNode node) { return impl_->UpsertNode(std::move(node)); }
bool FakeKube::DeleteNode(std::string_view name) { return impl_->DeleteNode(name); }
int64_t FakeKube::UpsertEvent(FakeEvent event) { return impl_->UpsertEvent(std::move(event)); }
bool FakeKube::DeleteEvent(std::string_view ns, std::string_view name) {
  return impl_->DeleteEvent(ns, name);
}
std::vector<FakeEvent> FakeKube::Events() const { return impl_->Events(); }
std::optional<FakeLease> FakeKube::GetLease(std::string_view ns, std::string_view name) const {
  return impl_->GetLease(ns, name);
}
size_t FakeKube::lease_conflicts() const { return impl_->lease_conflicts(); }
void FakeKube::SetData(const std::string& kind, const std::string& ns, const std::string& name,
                       std::map<std::string, std::string> data) {
  impl_->SetData(kind, ns, name, std::move(data));
}
void FakeKube::SetNamespaces(std::vector<FakeNamespace> namespaces) {
  impl_->SetNamespaces(std::move(namespaces));
}
int64_t FakeKube::UpsertNamespace(FakeNamespace ns) {
  return impl_->UpsertNamespace(std::move(ns));
}
bool FakeKube::DeleteNamespace(std::string_view name) { return impl_->DeleteNamespace(name); }
void FakeKube::SetBearerToken(std::string token) { impl_->SetBearerToken(std::move(token)); }

absl::Status FakeKube::SetDown(bool down) { return impl_->SetDown(down); }
bool FakeKube::down() const { return impl_->down(); }
void FakeKube::FailNext(int count, int status, std::string path) {
  impl_->FailNext(count, status, std::move(path));
}
void FakeKube::SetDelay(absl::Duration delay) { impl_->SetDelay(delay); }
void FakeKube::BreakNext(int count) { impl_->BreakNext(count); }
void FakeKube::CloseWatches(bool abrupt) { impl_->CloseWatches(abrupt); }
void FakeKube::ClearFaults() { impl_->ClearFaults(); }

size_t FakeKube::request_count() const { return impl_->request_count(); }
size_t FakeKube::request_count(std::string_view path) const { return impl_->request_count(path); }
std::vector<FakeKubeRequest> FakeKube::Requests() const { return impl_->Requests(); }
std::optional<FakeKubeRequest> FakeKube::LastRequest() const { return impl_->LastRequest(); }
std::map<std::string, std::string> FakeKube::LastRequestHeaders() const {
  std::map<std::string, std::string> out;
  if (auto r = impl_->LastRequest()) {
    for (const auto& [name, value] : r->headers) out[absl::AsciiStrToLower(name)] = value;
  }
  return out;
}
std::string FakeKube::last_authorization() const {
  auto r = impl_->LastRequest();
  return r ? r->authorization : "";
}
std::vector<std::string> FakeKube::QueryStrings() const {
  std::vector<std::string> out;
  for (const auto& r : impl_->Requests()) out.push_back(r.query);
  return out;
}
size_t FakeKube::active_watches() const { return impl_->active_watches(); }
size_t FakeKube::watches_started() const { return impl_->watches_started(); }
bool FakeKube::WaitForRequests(size_t n, absl::Duration timeout) const {
  return impl_->WaitForRequests(n, timeout);
}
bool FakeKube::WaitForRequests(std::string_view path, size_t n, absl::Duration timeout) const {
  return impl_->WaitForRequests(path, n, timeout);
}
bool FakeKube::WaitForWatches(size_t n, absl::Duration timeout) const {
  return impl_->WaitForWatches(n, timeout);
}
bool FakeKube::WaitForWatchesEnded(absl::Duration timeout) const {
  return impl_->WaitForWatchesEnded(timeout);
}
void FakeKube::ClearObservations() { impl_->ClearObservations(); }

// Pod logs.
void FakeKube::AppendPodLog(std::string_view ns, std::string_view pod, std::string_view container,
                            std::string_view line, int64_t timestamp_ns) {
  impl_->AppendPodLog(ns, pod, container, line, timestamp_ns);
}
void FakeKube::EndLogStreams(bool abrupt) { impl_->EndLogStreams(abrupt); }
size_t FakeKube::active_log_streams() const { return impl_->active_log_streams(); }
size_t FakeKube::log_streams_started() const { return impl_->log_streams_started(); }
bool FakeKube::WaitForLogStreams(size_t n, absl::Duration timeout) const {
  return impl_->WaitForLogStreams(n, timeout);
}
bool FakeKube::WaitForLogStreamsStarted(size_t n, absl::Duration timeout) const {
  return impl_->WaitForLogStreamsStarted(n, timeout);
}

void FakeKube::SetPodLogs(std::vector<FakePodLogs> podlogs) {
  impl_->SetPodLogs(std::move(podlogs));
}

}  // namespace sluice::testing
