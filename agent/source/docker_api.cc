#include "agent/source/docker_api.h"

#include <simdjson.h>

#include <algorithm>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/common/json_quote.h"
#include "agent/common/strings.h"
#include "agent/common/timestamp.h"
#include "agent/go/strconv.h"
#include "agent/metadata/kube_object.h"

namespace sluice {
namespace {

using simdjson::dom::element;
using simdjson::dom::object;

std::string Str(element e, std::string_view key) {
  std::string_view v;
  if (e[key].get_string().get(v)) return "";
  return std::string(v);
}

bool Bool(element e, std::string_view key) {
  bool b = false;
  if (e[key].get_bool().get(b)) return false;
  return b;
}

uint64_t Uint(element e, std::string_view key) {
  int64_t v = 0;
  if (e[key].get_int64().get(v)) return 0;
  return v < 0 ? 0 : static_cast<uint64_t>(v);
}

absl::Status JsonErr(simdjson::error_code code, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("cannot parse ", Av(what), ": ", simdjson::error_message(code)));
}

// JoinHostPort: IPv6 in brackets.
std::string JoinHostPort(std::string_view host, uint64_t port) {
  if (host.find(':') != std::string_view::npos) return absl::StrCat("[", Av(host), "]:", port);
  return absl::StrCat(Av(host), ":", port);
}

}  // namespace

absl::StatusOr<DockerEndpoint> ParseDockerHost(std::string_view host) {
  DockerEndpoint ep;
  if (absl::StartsWith(Av(host), "unix://")) {
    ep.socket_path = std::string(host.substr(7));
    if (ep.socket_path.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("docker host \"", Av(host), "\": no socket path"));
    }
    ep.base_url = "http://localhost";
    return ep;
  }
  std::string_view rest;
  std::string scheme;
  if (absl::StartsWith(Av(host), "tcp://")) {
    scheme = "http";
    rest = host.substr(6);
  } else if (absl::StartsWith(Av(host), "http://")) {
    scheme = "http";
    rest = host.substr(7);
  } else if (absl::StartsWith(Av(host), "https://")) {
    scheme = "https";
    rest = host.substr(8);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("docker host \"", Av(host),
                     "\": sluice supports unix://, tcp://, http:// and https:// Docker hosts"));
  }
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("docker host \"", Av(host), "\": no address"));
  }
  ep.base_url = absl::StrCat(scheme, "://", Av(rest));
  return ep;
}

std::string DockerFiltersJson(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& filters) {
  // The Docker client sends {"name":{"value":true}}; the engine reads that and a list alike. A
  // name given twice has its values merged, as filters.Args.Add does.
  std::map<std::string, std::vector<std::string>> merged;
  for (const auto& [name, values] : filters) {
    auto& v = merged[name];
    v.insert(v.end(), values.begin(), values.end());
  }
  std::string out = "{";
  bool first = true;
  for (const auto& [name, values] : merged) {
    if (!first) out += ',';
    first = false;
    AppendJsonQuoted(name, &out);
    out += ":{";
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out += ',';
      AppendJsonQuoted(values[i], &out);
      out += ":true";
    }
    out += '}';
  }
  out += '}';
  return out;
}

absl::StatusOr<std::vector<LabelSet>> DockerTargets(std::string_view containers_json,
                                                    std::string_view networks_json,
                                                    const DockerSdOptions& options) {
  simdjson::dom::parser cparser, nparser;
  simdjson::padded_string cpad(containers_json), npad(networks_json);
  simdjson::dom::array containers, networks;
  if (auto err = cparser.parse(cpad).get_array().get(containers); err) {
    return JsonErr(err, "the container list");
  }
  if (auto err = nparser.parse(npad).get_array().get(networks); err) {
    return JsonErr(err, "the network list");
  }
  // Network labels by network id.
  std::map<std::string, LabelSet> net_labels;
  for (element n : networks) {
    LabelSet l;
    std::string id = Str(n, "Id");
    l.Set("__meta_docker_network_id", id);
    l.Set("__meta_docker_network_name", Str(n, "Name"));
    l.Set("__meta_docker_network_scope", Str(n, "Scope"));
    l.Set("__meta_docker_network_internal", Bool(n, "Internal") ? "true" : "false");
    l.Set("__meta_docker_network_ingress", Bool(n, "Ingress") ? "true" : "false");
    object labels;
    if (!n["Labels"].get_object().get(labels)) {
      for (auto [k, v] : labels) {
        std::string_view sv;
        if (v.get_string().get(sv)) continue;
        l.Set(absl::StrCat("__meta_docker_network_label_", metadata::SanitizeLabelName(k)), sv);
      }
    }
    net_labels[id] = std::move(l);
  }
  std::map<std::string, element> by_id;
  for (element c : containers) by_id[Str(c, "Id")] = c;

  std::vector<LabelSet> out;
  for (element c : containers) {
    simdjson::dom::array names;
    std::string_view first_name;
    if (c["Names"].get_array().get(names) || names.size() == 0 ||
        names.at(0).get_string().get(first_name)) {
      continue;  // Prometheus skips a container without a name
    }
    LabelSet common;
    common.Set("__meta_docker_container_id", Str(c, "Id"));
    common.Set("__meta_docker_container_name", first_name);
    std::string mode;
    element hc;
    if (!c["HostConfig"].get(hc)) mode = Str(hc, "NetworkMode");
    common.Set("__meta_docker_container_network_mode", mode);
    object clabels;
    if (!c["Labels"].get_object().get(clabels)) {
      for (auto [k, v] : clabels) {
        std::string_view sv;
        if (v.get_string().get(sv)) continue;
        common.Set(absl::StrCat("__meta_docker_container_label_", metadata::SanitizeLabelName(k)),
                   sv);
      }
    }
    // Networks by name (sorted: Go's map order is random; a stable order is kinder).
    auto networks_of = [](element ct) {
      std::vector<std::pair<std::string, element>> nets;
      object m;
      element ns;
      if (!ct["NetworkSettings"].get(ns) && !ns["Networks"].get_object().get(m)) {
        for (auto [k, v] : m) {
          if (v.is_null()) continue;
          nets.emplace_back(std::string(k), v);
        }
      }
      std::sort(nets.begin(), nets.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      return nets;
    };
    auto nets = networks_of(c);
    if (nets.empty()) {
      // network_mode "container:<id>": the networks of the container it shares (followed on).
      std::string m = mode;
      for (int hops = 0; hops < 16 && absl::StartsWith(m, "container:"); ++hops) {
        auto it = by_id.find(m.substr(10));
        if (it == by_id.end()) break;
        nets = networks_of(it->second);
        element thc;
        m = it->second["HostConfig"].get(thc) ? "" : Str(thc, "NetworkMode");
        if (!nets.empty()) break;
      }
    }
    if (options.match_first_network && nets.size() > 1) nets.resize(1);
    for (const auto& [name, n] : nets) {
      std::string ip = Str(n, "IPAddress");
      auto nl = net_labels.find(Str(n, "NetworkID"));
      bool added = false;
      simdjson::dom::array ports;
      if (!c["Ports"].get_array().get(ports)) {
        for (element p : ports) {
          if (Str(p, "Type") != "tcp") continue;
          LabelSet t = common;
          t.Set("__meta_docker_network_ip", ip);
          uint64_t priv = Uint(p, "PrivatePort");
          t.Set("__meta_docker_port_private", absl::StrCat(priv));
          uint64_t pub = Uint(p, "PublicPort");
          if (pub > 0) {
            t.Set("__meta_docker_port_public", absl::StrCat(pub));
            t.Set("__meta_docker_port_public_ip", Str(p, "IP"));
          }
          if (nl != net_labels.end()) {
            for (const auto& [k, v] : nl->second.labels()) t.Set(k, v);
          }
          t.Set("__address__", JoinHostPort(ip, priv));
          out.push_back(std::move(t));
          added = true;
        }
      }
      if (!added) {
        LabelSet t = common;
        t.Set("__meta_docker_network_ip", ip);
        if (nl != net_labels.end()) {
          for (const auto& [k, v] : nl->second.labels()) t.Set(k, v);
        }
        t.Set("__address__", mode != "host" ? JoinHostPort(ip, static_cast<uint64_t>(options.port))
                                            : options.host_networking_host);
        out.push_back(std::move(t));
      }
    }
  }
  return out;
}

absl::StatusOr<DockerInspect> ParseDockerInspect(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string pad(json);
  element doc;
  if (auto err = parser.parse(pad).get(doc); err) return JsonErr(err, "the container");
  DockerInspect out;
  element cfg, state;
  if (!doc["Config"].get(cfg)) out.tty = Bool(cfg, "Tty");
  if (!doc["State"].get(state)) {
    out.running = Bool(state, "Running");
    int64_t ns = 0;
    if (ParseRfc3339Nano(Str(state, "FinishedAt"), &ns)) out.finished_unix = ns / 1000000000;
  }
  return out;
}

DockerClient::DockerClient(DockerEndpoint endpoint, HttpClientOptions http)
    : endpoint_(std::move(endpoint)), http_(NewHttpClient([&] {
        http.unix_socket_path = endpoint_.socket_path;
        return std::move(http);
      }())) {}

absl::StatusOr<std::string> DockerClient::Get(const std::string& path, absl::Duration timeout) {
  HttpRequest req;
  req.url = endpoint_.base_url + path;
  req.timeout = timeout;
  absl::StatusOr<HttpResponse> r = http_->Get(req, 64 << 20);
  if (!r.ok()) return r.status();
  if (r->status == 404) {
    return absl::NotFoundError(absl::StrCat("GET ", path, ": 404: ", r->body));
  }
  if (r->status != 200) {
    return absl::UnavailableError(
        absl::StrCat("GET ", path, ": status ", r->status, ": ", r->body.substr(0, 512)));
  }
  return std::move(r->body);
}

absl::Status DockerClient::Stream(const std::string& path,
                                  const std::function<bool(std::string_view)>& on_data) {
  HttpRequest req;
  req.url = endpoint_.base_url + path;
  req.timeout = absl::InfiniteDuration();
  absl::StatusOr<HttpResponse> r = http_->GetStream(req, on_data);
  if (!r.ok()) return r.status();
  if (r->status == 404) return absl::NotFoundError(absl::StrCat("GET ", path, ": 404"));
  if (r->status != 200) {
    return absl::UnavailableError(
        absl::StrCat("GET ", path, ": status ", r->status, ": ", r->body.substr(0, 512)));
  }
  return absl::OkStatus();
}

std::string RenderAllLabels(const LabelSet& labels) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels.labels()) {
    if (!first) out += ", ";
    first = false;
    out += k;
    out += '=';
    AppendGoQuoted(v, &out);
  }
  out += '}';
  return out;
}

}  // namespace sluice
