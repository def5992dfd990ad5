// remote.kubernetes.secret and remote.kubernetes.configmap: one Secret or ConfigMap read from the
// API server (GET /api/v1/namespaces/NS/{secrets,configmaps}/NAME), again every
// poll_frequency; exports `data`: for a secret every value is a secret (base64 decoded; shown
// only through convert.nonsensitive, never logged), for a config map a string. The first read
// happens at load, as Alloy's does, and its failure fails the load with the reason; later
// failures keep the last data (unhealthy, counted, logged without values). A change re-evaluates
// the components that use it.
//
// Built on the loading thread; the poller is its own thread, which posts new data to the tail
// thread. Owned by the Runtime.
#include <simdjson.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/common/periodic_thread.h"
#include "agent/common/strings.h"
#include "agent/common/thread.h"
#include "agent/components/component.h"
#include "agent/components/discovery/pods.h"
#include "agent/go/strconv.h"
#include "agent/metadata/kubeconfig.h"
#include "agent/sink/asio_http_client.h"
#include "agent/sink/http_client.h"
#include "agent/sink/loki_sink.h"
#include "agent/sink/request_auth.h"

namespace sluice {
namespace {

constexpr size_t kMaxObjectBytes = 4 << 20;  // a Secret is at most 1 MiB in etcd

struct Target {
  bool secret = false;  // else a config map
  std::string base_url;
  std::string ns, name;
  HttpClientConfig http;
  absl::Duration timeout = absl::Seconds(15);
};

// The object's data as key -> value (secrets decoded), or why not.
absl::StatusOr<std::map<std::string, std::string>> Fetch(const Target& t, HttpClient* client,
                                                         RequestAuth* auth) {
  HttpRequest req;
  req.url = absl::StrCat(t.base_url, "/api/v1/namespaces/", t.ns,
                         t.secret ? "/secrets/" : "/configmaps/", t.name);
  req.timeout = t.timeout;
  req.headers.emplace_back("Accept", "application/json");
  for (const auto& [k, values] : t.http.http_headers) {
    for (const std::string& v : values) req.headers.emplace_back(k, v);
  }
  if (absl::Status st = auth->Apply(&req.headers); !st.ok()) return st;
  absl::StatusOr<HttpResponse> resp = client->Get(req, kMaxObjectBytes);
  if (!resp.ok()) return resp.status();
  if (resp->status != 200) {
    return absl::UnavailableError(absl::StrCat(t.secret ? "secret" : "configmap", " \"", t.name,
                                               "\" in namespace \"", t.ns, "\": HTTP ",
                                               resp->status));
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(resp->body).get(doc) != simdjson::SUCCESS) {
    return absl::DataLossError("the API server's answer is not JSON");
  }
  std::map<std::string, std::string> out;
  simdjson::dom::object data;
  if (doc["data"].get_object().get(data) != simdjson::SUCCESS) return out;  // no data: empty
  for (auto field : data) {
    std::string_view v;
    if (field.value.get_string().get(v) != simdjson::SUCCESS) continue;
    std::string key(field.key);
    if (t.secret) {
      std::string decoded;
      if (!absl::Base64Unescape(absl::string_view(v.data(), v.size()), &decoded)) {
        return absl::DataLossError(absl::StrCat("key \"", key, "\" is not base64"));
      }
      out[key] = std::move(decoded);
    } else {
      out[key] = std::string(v);
    }
  }
  return out;
}

config::Value DataExports(const std::map<std::string, std::string>& data, bool secret);

class RemoteKubernetes final : public Component {
 public:
  RemoteKubernetes(const config::Component& c, ComponentEnv& env, Target t, absl::Duration poll,
                   std::map<std::string, std::string> data)
      : Component(c.id),
        env_(&env),
        target_(std::move(t)),
        poll_(poll),
        data_(std::move(data)),
        client_(NewHttpClient(HttpClientOptionsFromEndpoint(target_.http))),
        auth_(target_.http.basic_auth, target_.http.authorization, target_.http.oauth2) {
    MetricLabels l = ComponentLabels(c.id);
    errors_ = env.metrics->GetCounter("sluice_remote_kubernetes_poll_errors_total",
                                      "Reads of a Secret or ConfigMap that failed.", l);
    Export();
  }
  ~RemoteKubernetes() override { StopReading(); }

  bool Update(const config::Block&, config::Diags*) override { return true; }
  bool UpdatesInPlace() const override { return false; }

  absl::Status Start() override {
    poller_.Start("sluice-remote", poll_, [this] { Poll(); });
    return absl::OkStatus();
  }
  void StopReading() override {
    client_->Cancel();  // a read in progress returns at once
    poller_.Stop();
  }
  std::optional<std::string> Unhealthy() const override {
    std::lock_guard<std::mutex> lock(mu_);
    if (error_.empty()) return std::nullopt;
    return error_;
  }

 private:
  void Export() { env_->Export(id(), DataExports(data_, target_.secret).as_object()); }

  // One read (poller thread).
  void Poll() {
    absl::StatusOr<std::map<std::string, std::string>> got = Fetch(target_, client_.get(), &auth_);
    if (poller_.stopping()) return;  // cancelled: not a failure
    std::lock_guard<std::mutex> lock(mu_);
    if (!got.ok()) {
      errors_->Inc();
      error_ = std::string(got.status().message());
      LogWarn(target_.secret ? "remote.kubernetes.secret" : "remote.kubernetes.configmap",
              "read failed; the last data stays", {{"component_id", id()}, {"error", error_}});
      return;
    }
    error_.clear();
    // The data goes to the tail thread, which owns the graph's exports.
    boost::asio::post(*env_->io, [this, data = std::move(*got)]() mutable {
      if (data == data_) return;
      data_ = std::move(data);
      Export();
      env_->exports_changed(id());
    });
  }

  ComponentEnv* env_;
  Target target_;
  absl::Duration poll_;
  std::map<std::string, std::string> data_;  // tail thread (after Start)
  std::unique_ptr<HttpClient> client_;
  RequestAuth auth_;
  Counter* errors_;
  mutable std::mutex mu_;
  std::string error_;      // guarded by mu_
  PeriodicThread poller_;  // last: stopped (joined) before the members it reads go
};

// The string keys the configuration reads with `<name>.<label>.data["key"]` (any scope: for
// `sluice validate`).
void CollectKeys(const config::Expr& e, const std::string& suffix, std::set<std::string>* out) {
  if (e.kind == config::ExprKind::kIndex && e.left && e.left->kind == config::ExprKind::kAccess &&
      e.left->text == "data" && e.right && e.right->kind == config::ExprKind::kLiteral &&
      e.right->tok == config::Token::kString) {
    // The chain before ".data": ident.access.access...
    std::vector<std::string> parts;
    for (const config::Expr* x = e.left->left.get(); x != nullptr; x = x->left.get()) {
      parts.insert(parts.begin(), x->text);
      if (x->kind == config::ExprKind::kIdent) break;
    }
    std::string chain;
    for (const std::string& p : parts) chain += (chain.empty() ? "" : ".") + p;
    std::string key;
    if (chain == suffix && GoUnquote(e.right->text, &key)) out->insert(key);
  }
  if (e.left) CollectKeys(*e.left, suffix, out);
  if (e.right) CollectKeys(*e.right, suffix, out);
  for (const auto& x : e.elems) CollectKeys(*x, suffix, out);
  for (const auto& f : e.fields) CollectKeys(*f.value, suffix, out);
}

void CollectKeys(const config::StmtList& body, const std::string& suffix,
                 std::set<std::string>* out) {
  for (const config::Stmt& s : body) {
    if (s.attr) {
      CollectKeys(*s.attr->value, suffix, out);
    } else {
      CollectKeys(s.block->body, suffix, out);
    }
  }
}

std::set<std::string> IndexedKeys(const config::Module& m, const config::Component& c) {
  std::set<std::string> keys;
  const std::string suffix = absl::StrCat(c.name, ".", c.label);
  for (const config::File& f : m.files()) CollectKeys(f.body, suffix, &keys);
  return keys;
}

// The object a component reads (and how often), from its arguments; nullopt with diags.
std::optional<Target> DecodeTarget(const config::Block& args, bool secret, bool validate_only,
                                   config::Diags* diags, absl::Duration* poll) {
  config::Decoder d(args, diags);
  Target t;
  t.secret = secret;
  d.String("namespace", &t.ns, config::Required::kYes);
  d.String("name", &t.name, config::Required::kYes);
  *poll = absl::Minutes(1);
  d.Duration("poll_frequency", poll);
  d.Duration("poll_timeout", &t.timeout);
  std::string api_server;
  bool has_api = false;
  std::optional<std::string> client_error;
  if (const config::Block* cb = d.OptionalBlock("client")) {
    config::Decoder cd(*cb, diags);
    has_api = cd.String("api_server", &api_server);
    std::string kubeconfig;
    client_error = DecodeHttpClientConfig(cd, &t.http);
    if (cd.String("kubeconfig_file", &kubeconfig)) {
      absl::StatusOr<metadata::KubeEndpoint> ep = metadata::LoadKubeconfig(kubeconfig);
      if (!ep.ok()) {
        cd.ErrorAt("kubeconfig_file", std::string(ep.status().message()));
      } else if (has_api) {
        cd.ErrorAt("kubeconfig_file",
                   "cannot use 'kubeconfig_file' and 'api_server' simultaneously");
      } else {
        t.http = ep->http;
        api_server = ep->base_url;
        has_api = true;
      }
    }
    if (has_api && !CheckHttpUrl(cd, "api_server", &api_server)) return std::nullopt;
    if (!cd.Finish()) return std::nullopt;
  }
  if (!d.Finish()) return std::nullopt;
  if (client_error) {
    diags->Add(args.span, *client_error);
    return std::nullopt;
  }
  if (*poll <= absl::ZeroDuration()) {
    d.ErrorAt("poll_frequency", "poll_frequency must be greater than 0");
    return std::nullopt;
  }
  if (has_api) {
    t.base_url = api_server;
  } else {
    absl::StatusOr<std::string> base = InClusterApiServer(&t.http);
    if (!base.ok() && validate_only) base = std::string(kValidateApiServer);
    if (!base.ok()) {
      diags->Add(args.span, std::string(base.status().message()));
      return std::nullopt;
    }
    t.base_url = *base;
  }
  return t;
}

config::Value DataExports(const std::map<std::string, std::string>& data, bool secret) {
  config::Object values;
  for (const auto& [k, v] : data) {
    values[k] = secret ? config::Value::Secret(v) : config::Value::String(v);
  }
  config::Object exports;
  exports["data"] = config::Value::MakeObject(std::move(values));
  return config::Value::MakeObject(std::move(exports));
}

std::unique_ptr<Component> Build(const config::Component& c, const config::Block& args,
                                 ComponentEnv& env, config::Diags* diags, bool secret) {
  absl::Duration poll;
  std::optional<Target> target =
      DecodeTarget(args, secret, env.options->validate_only, diags, &poll);
  if (!target.has_value()) return nullptr;
  Target t = std::move(*target);
  if (env.options->validate_only) {
    // Nothing is read: every key the configuration indexes gets an empty value, so that what
    // uses them is checked as it would be with the real data.
    std::map<std::string, std::string> data;
    for (const std::string& key : IndexedKeys(*env.module, c)) data[key] = "";
    return std::make_unique<RemoteKubernetes>(c, env, std::move(t), poll, std::move(data));
  }
  // The first read, at load: the components that use the data are evaluated with it.
  std::unique_ptr<HttpClient> client = NewHttpClient(HttpClientOptionsFromEndpoint(t.http));
  RequestAuth auth(t.http.basic_auth, t.http.authorization, t.http.oauth2);
  absl::StatusOr<std::map<std::string, std::string>> data = Fetch(t, client.get(), &auth);
  if (!data.ok()) {
    diags->Add(args.span, absl::StrCat("reading ", secret ? "secret" : "configmap", " ", t.ns, "/",
                                       t.name, ": ", data.status().message()));
    return nullptr;
  }
  return std::make_unique<RemoteKubernetes>(c, env, std::move(t), poll, std::move(*data));
}

}  // namespace

absl::StatusOr<config::Value> ReadRemoteKubernetesExports(const config::Block& args, bool secret,
                                                          bool validate_only,
                                                          absl::Duration* poll) {
  config::Diags diags;
  std::optional<Target> t = DecodeTarget(args, secret, validate_only, &diags, poll);
  if (!t.has_value()) {
    return absl::InvalidArgumentError(diags.list().empty() ? "invalid arguments"
                                                           : diags.list().front().message);
  }
  if (validate_only) {
    return absl::FailedPreconditionError(
        absl::StrCat("sluice validate reads no ", secret ? "Secret" : "ConfigMap",
                     " (a module's text is read from ", t->ns, "/", t->name, " when it runs)"));
  }
  std::unique_ptr<HttpClient> client = NewHttpClient(HttpClientOptionsFromEndpoint(t->http));
  RequestAuth auth(t->http.basic_auth, t->http.authorization, t->http.oauth2);
  absl::StatusOr<std::map<std::string, std::string>> data = Fetch(*t, client.get(), &auth);
  if (!data.ok()) {
    return absl::Status(data.status().code(),
                        absl::StrCat("reading ", secret ? "secret" : "configmap", " ", t->ns, "/",
                                     t->name, ": ", data.status().message()));
  }
  return DataExports(*data, secret);
}

std::unique_ptr<Component> BuildRemoteKubernetesSecret(const config::Component& c,
                                                       const config::Block& args, ComponentEnv& env,
                                                       config::Diags* diags) {
  return Build(c, args, env, diags, /*secret=*/true);
}

std::unique_ptr<Component> BuildRemoteKubernetesConfigMap(const config::Component& c,
                                                          const config::Block& args,
                                                          ComponentEnv& env, config::Diags* diags) {
  return Build(c, args, env, diags, /*secret=*/false);
}

}  // namespace sluice
