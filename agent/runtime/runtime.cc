#include "agent/runtime/runtime.h"

#include <pthread.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <map>
#include <random>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/common/log.h"
#include "agent/common/strings.h"
#include "agent/common/thread.h"
#include "agent/config/decode.h"
#include "agent/config/module.h"
#include "agent/discovery/dir_watcher.h"
#include "agent/discovery/file_match.h"
#include "agent/discovery/glob.h"
#include "agent/metadata/pod_discovery.h"
#include "agent/process/stage.h"
#include "agent/relabel/relabel.h"
#include "agent/runtime/logs_router.h"
#include "agent/runtime/process_node.h"
#include "agent/runtime/relabel_node.h"
#include "agent/runtime/write_node.h"
#include "agent/sink/echo_sink.h"
#include "agent/sink/endpoint_config.h"
#include "agent/sink/http_client.h"
#include "agent/sink/loki_sink.h"
#include "agent/source/tail_manager.h"

namespace sluice {

namespace {

constexpr char kReceiverType[] = "loki.LogsReceiver";
// The event loop beats every second; silent this long, it is stuck (a liveness failure).
constexpr absl::Duration kStallLimit = absl::Seconds(30);

config::Value TargetsToValue(const std::vector<LabelSet>& targets) {
  config::Array out;
  out.reserve(targets.size());
  for (const LabelSet& t : targets) {
    config::Object o;
    for (const auto& [k, v] : t.labels()) o[k] = config::Value::String(v);
    out.push_back(config::Value::MakeObject(std::move(o)));
  }
  return config::Value::MakeArray(std::move(out));
}

config::Value ReceiverExports(const std::string& id) {
  config::Object o;
  o["receiver"] = config::Value::MakeCapsule({kReceiverType, id});
  return config::Value::MakeObject(std::move(o));
}

}  // namespace

struct Runtime::Impl {
  RuntimeOptions options;
  MetricsRegistry* metrics;
  const Clock* clock = RealClock::Get();
  std::optional<config::Module> module;
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  LogsRouter router{&io, clock};
  std::thread tail_thread;
  std::atomic<bool> started{false};
  // Monotonic time of the event loop's last heartbeat (every second), for /-/healthy.
  std::atomic<int64_t> heartbeat_ns{0};
  std::unique_ptr<boost::asio::steady_timer> heartbeat_timer;
  void Beat();

  // Graph nodes by component id.
  absl::flat_hash_map<std::string, LogsNode*> receivers;
  std::vector<std::unique_ptr<WriteNode>> writes;
  std::vector<std::unique_ptr<ProcessNode>> processes;
  std::vector<std::unique_ptr<RelabelNode>> relabels;
  // Rule sets exported by discovery.relabel / loki.relabel, by component id.
  absl::flat_hash_map<std::string, std::shared_ptr<const std::vector<RelabelRule>>> rules;

  struct FileMatch {
    std::string id;
    FileMatchArgs args;
    std::vector<LabelSet> current;
    std::unique_ptr<boost::asio::steady_timer> timer;
    std::unique_ptr<DirWatcher> watcher;  // re-globs at once when its directories change
  };
  std::vector<std::unique_ptr<FileMatch>> file_matches;

  struct Source {
    std::string id;
    std::unique_ptr<TailManager> tail;
    uint32_t route = 0;
    LogFormat format = LogFormat::kPlain;
    bool file_match = false;  // loki.source.file's own file_match block
    FileMatchArgs match_args;
    std::vector<LabelSet> targets;  // as given (before its own file_match)
    std::unique_ptr<boost::asio::steady_timer> timer;
  };
  std::vector<std::unique_ptr<Source>> sources;
  absl::flat_hash_map<std::string, Source*> source_by_id;

  // discovery.kubelet / discovery.kubernetes: their targets change when pods do.
  std::vector<std::unique_ptr<metadata::PodDiscovery>> pod_discoveries;

  Impl(const RuntimeOptions& o, MetricsRegistry* m)
      : options(o), metrics(m), budget(o.memory_budget) {}
  size_t budget;  // memory budget of the sources: --memory-budget, or a smaller queue capacity

  // ---- building -----------------------------------------------------------------------------

  bool Build(config::Diags* diags);
  bool BuildComponent(const config::Component& c, const config::Block& b, config::Diags* diags);
  bool BuildFileMatch(const config::Component& c, const config::Block& b, config::Diags* diags);
  bool BuildDiscoveryRelabel(const config::Component& c, const config::Block& b,
                             config::Diags* diags);
  bool BuildSourceFile(const config::Component& c, const config::Block& b, config::Diags* diags);
  bool BuildKubelet(const config::Component& c, const config::Block& b, config::Diags* diags);
  bool BuildKubernetes(const config::Component& c, const config::Block& b, config::Diags* diags);
  void AddPodDiscovery(const config::Component& c, metadata::PodDiscoveryOptions o);
  bool BuildProcess(const config::Component& c, const config::Block& b, config::Diags* diags);
  bool BuildLokiRelabel(const config::Component& c, const config::Block& b, config::Diags* diags);
  bool BuildWrite(const config::Component& c, const config::Block& b, config::Diags* diags);
  bool BuildEcho(const config::Component& c, const config::Block& b, config::Diags* diags);
  bool ApplyLogging(const config::Block& b, config::Diags* diags);
  // forward_to: the receivers of the capsules.
  bool Receivers(config::Decoder& d, std::vector<LogsNode*>* out, std::vector<std::string>* ids);
  std::vector<FileTarget> SourceTargets(Source* s, const std::vector<LabelSet>& targets);

  // ---- running (tail thread) ------------------------------------------------------------------
  void ArmFileMatch(FileMatch* fm);
  void SyncFileMatch(FileMatch* fm);
  static std::vector<DirWatcher::Root> WatchRoots(const std::vector<LabelSet>& path_targets);
  void ArmSourceMatch(Source* s);
  // Components depending on `id` are evaluated again and updated.
  void Propagate(const std::string& id);
};

bool Runtime::Impl::Receivers(config::Decoder& d, std::vector<LogsNode*>* out,
                              std::vector<std::string>* ids) {
  std::vector<config::Capsule> caps;
  if (!d.Capsules("forward_to", kReceiverType, &caps, config::Required::kYes)) return false;
  for (const config::Capsule& cap : caps) {
    auto it = receivers.find(cap.id);
    if (it == receivers.end()) {
      d.ErrorAt("forward_to", absl::StrCat("component \"", Av(cap.id), "\" is not a receiver"));
      return false;
    }
    out->push_back(it->second);
    if (ids != nullptr) ids->push_back(cap.id);
  }
  return true;
}

bool Runtime::Impl::Build(config::Diags* diags) {
  for (const config::Component* c : module->ConfigBlocks()) {
    config::Block b;
    if (!module->Evaluate(*c, &b, diags)) return false;
    if (c->name == "logging" && !ApplyLogging(b, diags)) return false;
  }
  for (const config::Component* c : module->Order()) {
    config::Block b;
    if (!module->Evaluate(*c, &b, diags)) return false;
    if (!BuildComponent(*c, b, diags)) return false;
  }
  // Processes know their receivers only now that everything is built (forward_to may name a
  // component declared later in the file; the graph order put those first anyway).
  return diags->ok();
}

bool Runtime::Impl::BuildComponent(const config::Component& c, const config::Block& b,
                                   config::Diags* diags) {
  if (c.name == "local.file_match") return BuildFileMatch(c, b, diags);
  if (c.name == "discovery.relabel") return BuildDiscoveryRelabel(c, b, diags);
  if (c.name == "loki.source.file") return BuildSourceFile(c, b, diags);
  if (c.name == "discovery.kubelet") return BuildKubelet(c, b, diags);
  if (c.name == "discovery.kubernetes") return BuildKubernetes(c, b, diags);
  if (c.name == "loki.process") return BuildProcess(c, b, diags);
  if (c.name == "loki.relabel") return BuildLokiRelabel(c, b, diags);
  if (c.name == "loki.write") return BuildWrite(c, b, diags);
  if (c.name == "loki.echo") return BuildEcho(c, b, diags);
  diags->Add(c.span, absl::StrCat("component \"", Av(c.name), "\" is not supported by sluice"));
  return false;
}

bool Runtime::Impl::ApplyLogging(const config::Block& b, config::Diags* diags) {
  config::Decoder d(b, diags);
  std::string level = "info";
  std::string format = "logfmt";
  if (d.String("level", &level)) {
    LogLevel l;
    if (!ParseLogLevel(level, &l)) {
      d.ErrorAt("level", absl::StrCat("unrecognized log level \"", Av(level), "\""));
    } else {
      SetLogLevel(l);
    }
  }
  if (d.String("format", &format) && format != "logfmt" && format != "json") {
    d.ErrorAt("format", absl::StrCat("unrecognized log format \"", Av(format), "\""));
  }
  // write_to forwards Alloy's own logs to a loki receiver; sluice logs to stderr only.
  if (d.Get("write_to") != nullptr) {
    d.ErrorAt("write_to", "logging.write_to is not supported by sluice (logs go to stderr)");
  }
  return d.Finish();
}

bool Runtime::Impl::BuildFileMatch(const config::Component& c, const config::Block& b,
                                   config::Diags* diags) {
  auto fm = std::make_unique<FileMatch>();
  fm->id = c.id;
  if (!DecodeFileMatchArgs(b, diags, &fm->args)) return false;
  fm->current = ExpandFileTargets(fm->args.path_targets, *clock, fm->args.ignore_older_than);
  config::Object exports;
  exports["targets"] = TargetsToValue(fm->current);
  module->SetExports(c.id, config::Value::MakeObject(std::move(exports)));
  file_matches.push_back(std::move(fm));
  return true;
}

bool Runtime::Impl::BuildDiscoveryRelabel(const config::Component& c, const config::Block& b,
                                          config::Diags* diags) {
  config::Decoder d(b, diags);
  std::vector<LabelSet> targets;
  d.Targets("targets", &targets, config::Required::kYes);
  auto set = std::make_shared<const std::vector<RelabelRule>>(DecodeRules(d));
  if (!d.Finish()) return false;
  rules[c.id] = set;
  std::vector<LabelSet> output;
  for (LabelSet& t : targets) {
    if (Relabel(*set, &t)) output.push_back(std::move(t));
  }
  config::Object exports;
  exports["output"] = TargetsToValue(output);
  exports["rules"] = RulesToValue(set, c.id);
  module->SetExports(c.id, config::Value::MakeObject(std::move(exports)));
  return true;
}

std::vector<FileTarget> Runtime::Impl::SourceTargets(Source* s,
                                                     const std::vector<LabelSet>& targets) {
  std::vector<LabelSet> expanded;
  const std::vector<LabelSet>* list = &targets;
  if (s->file_match) {
    expanded = ExpandFileTargets(targets, *clock, s->match_args.ignore_older_than);
    list = &expanded;
  }
  std::vector<FileTarget> out;
  std::set<std::string> seen;
  for (const LabelSet& t : *list) {
    const std::string* path = t.Get("__path__");
    if (path == nullptr || path->empty()) continue;
    // One tailer per path, as Alloy: the first target naming it wins.
    if (!seen.insert(*path).second) continue;
    FileTarget ft;
    ft.path = *path;
    // Alloy's loki.source.file keeps only the public labels of a target.
    for (const auto& [k, v] : t.labels()) {
      if (!absl::StartsWith(Av(k), "__")) ft.labels.Set(k, v);
    }
    ft.format = s->format;
    ft.route = s->route;
    out.push_back(std::move(ft));
  }
  return out;
}

bool Runtime::Impl::BuildSourceFile(const config::Component& c, const config::Block& b,
                                    config::Diags* diags) {
  config::Decoder d(b, diags);
  auto s = std::make_unique<Source>();
  s->id = c.id;
  d.Targets("targets", &s->targets, config::Required::kYes);
  std::vector<LogsNode*> forward;
  std::vector<std::string> forward_ids;
  Receivers(d, &forward, &forward_ids);
  TailOptions t;
  t.target_mode = true;
  t.memory_budget = budget;
  t.max_line_size = options.max_line_size;
  t.event_coalesce = options.read_interval;
  t.rescan_interval = options.rescan_interval;
  t.positions_interval = options.positions_interval;
  t.max_open_files = options.max_open_files;
  auto own_path = options.positions_paths.find(c.id);
  t.positions_path = own_path != options.positions_paths.end()
                         ? own_path->second
                         : absl::StrCat(options.storage_path, "/", c.id, "/positions.yml");
  t.component_id = c.id;
  std::string encoding;
  if (d.String("encoding", &encoding) && !encoding.empty()) {
    std::string lower = encoding;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (lower != "utf-8" && lower != "utf8") {
      d.ErrorAt("encoding", absl::StrCat("encoding \"", Av(encoding),
                                         "\" is not supported by sluice (only UTF-8)"));
    }
  }
  d.Bool("tail_from_end", &t.tail_from_end);
  std::string legacy;
  d.String("legacy_positions_file", &legacy);
  t.legacy_positions_path = legacy;
  std::string on_error;
  if (d.String("on_positions_file_error", &on_error) &&
      !ParsePositionsErrorPolicy(on_error, &t.on_positions_error)) {
    d.ErrorAt("on_positions_file_error",
              absl::StrCat("unknown on_positions_file_error value \"", Av(on_error),
                           "\" (want restart_from_beginning, restart_from_end or skip)"));
  }
  if (const config::Block* dec = d.OptionalBlock("decompression")) {
    config::Decoder dd(*dec, diags);
    bool enabled = false;
    dd.Bool("enabled", &enabled);
    std::string format;
    dd.String("format", &format);
    absl::Duration delay;
    dd.Duration("initial_delay", &delay);
    if (enabled) {
      dd.Error(dec->span, "decompression is not supported by sluice");
    }
    dd.Finish();
  }
  if (const config::Block* fw = d.OptionalBlock("file_watch")) {
    // Alloy polls files with stat at these frequencies; sluice is told of writes by inotify
    // (with a periodic rescan as a safety net), so the values are accepted and have no use.
    config::Decoder fd(*fw, diags);
    absl::Duration min_poll = absl::Milliseconds(250), max_poll = absl::Milliseconds(250);
    fd.Duration("min_poll_frequency", &min_poll);
    fd.Duration("max_poll_frequency", &max_poll);
    if (min_poll > max_poll) {
      fd.Error(fw->span, "min_poll_frequency must not be greater than max_poll_frequency");
    }
    fd.Finish();
  }
  if (const config::Block* fm = d.OptionalBlock("file_match")) {
    config::Decoder md(*fm, diags);
    md.Bool("enabled", &s->file_match);
    md.Duration("sync_period", &s->match_args.sync_period);
    md.Duration("ignore_older_than", &s->match_args.ignore_older_than);
    md.Finish();
  }
  if (!d.Finish()) return false;

  // A source whose only receiver is a loki.process starting with a default stage.cri (or
  // stage.docker) has the TailManager parse those lines: the same result, partial lines joined
  // per file, no second pass over each line.
  std::vector<LogsNode*> route_nodes = forward;
  if (!options.source_format.has_value() && forward_ids.size() == 1 &&
      absl::StartsWith(Av(forward_ids[0]), "loki.process.")) {
    const config::Component* pc = module->Find(forward_ids[0]);
    config::Block pb;
    config::Diags scratch;
    if (pc != nullptr && module->Evaluate(*pc, &pb, &scratch) && !pb.body.blocks.empty()) {
      const config::Block& first = pb.body.blocks.front();
      bool plain = first.body.attrs.empty() && first.body.blocks.empty();
      auto* node = static_cast<ProcessNode*>(forward[0]);
      if (plain && first.name == "stage.cri") {
        s->format = LogFormat::kCri;
        route_nodes = {node->EntryFrom(1)};
      } else if (plain && first.name == "stage.docker") {
        s->format = LogFormat::kDocker;
        route_nodes = {node->EntryFrom(1)};
      }
    }
  }
  if (options.source_format.has_value()) s->format = *options.source_format;
  s->route = router.AddRoute(route_nodes);
  uint32_t index = static_cast<uint32_t>(sources.size());
  t.file_id_base = static_cast<uint64_t>(index) << LogsRouter::kSourceShift;
  s->tail = std::make_unique<TailManager>(&io, t, clock, metrics, nullptr);
  s->tail->SetOutput(&router);
  router.AddSource(s->tail.get());
  s->tail->SetTargets(SourceTargets(s.get(), s->targets));
  source_by_id[c.id] = s.get();
  sources.push_back(std::move(s));
  module->SetExports(c.id, config::Value::MakeObject({}));
  return true;
}

bool Runtime::Impl::BuildProcess(const config::Component& c, const config::Block& b,
                                 config::Diags* diags) {
  config::Decoder d(b, diags);
  std::vector<LogsNode*> forward;
  Receivers(d, &forward, nullptr);
  StageContext ctx;
  ctx.clock = clock;
  ctx.metrics = metrics;
  ctx.component_id = c.id;
  std::vector<const config::Block*> stage_blocks = d.BlocksWithPrefix("stage.");
  std::vector<std::unique_ptr<Stage>> stages = BuildStages(stage_blocks, diags, ctx);
  if (!d.Finish()) return false;
  auto node = std::make_unique<ProcessNode>(std::move(stages), &router);
  node->SetForward(std::move(forward));
  receivers[c.id] = node.get();
  router.AddNode(node.get());
  processes.push_back(std::move(node));
  module->SetExports(c.id, ReceiverExports(c.id));
  return true;
}

bool Runtime::Impl::BuildLokiRelabel(const config::Component& c, const config::Block& b,
                                     config::Diags* diags) {
  config::Decoder d(b, diags);
  std::vector<LogsNode*> forward;
  Receivers(d, &forward, nullptr);
  int64_t max_cache_size = 10000;
  d.Int("max_cache_size", &max_cache_size);
  auto set = std::make_shared<const std::vector<RelabelRule>>(DecodeRules(d));
  if (!d.Finish()) return false;
  rules[c.id] = set;
  auto node =
      std::make_unique<RelabelNode>(c.id, set, static_cast<size_t>(max_cache_size), metrics);
  node->SetForward(std::move(forward));
  receivers[c.id] = node.get();
  router.AddNode(node.get());
  relabels.push_back(std::move(node));
  config::Object exports;
  exports["receiver"] = config::Value::MakeCapsule({kReceiverType, c.id});
  exports["rules"] = RulesToValue(set, c.id);
  module->SetExports(c.id, config::Value::MakeObject(std::move(exports)));
  return true;
}

bool Runtime::Impl::BuildWrite(const config::Component& c, const config::Block& b,
                               config::Diags* diags) {
  config::Decoder d(b, diags);
  LokiWriteConfig cfg;
  if (!DecodeLokiWrite(d, &cfg) || !d.Finish()) return false;
  WriteNodeSettings ws;
  ws.component_id = c.id;
  for (const auto& [k, v] : cfg.external_labels) ws.external_labels.Set(k, v);
  ws.max_streams = cfg.max_streams;
  MetricsRegistry* m = metrics;
  for (const EndpointConfig& ep : cfg.endpoints) {
    WriteEndpointSettings es;
    es.name = ep.name;
    es.tenant = ep.tenant_id;
    es.batch_size = ep.batch_size;
    es.batch_wait = ep.batch_wait;
    absl::Status files = CheckEndpointFiles(ep);
    if (!files.ok()) {
      diags->Add(c.span, std::string(files.message()));
      return false;
    }
    if (ep.queue_config_set) {
      es.drain_timeout = ep.queue_config.drain_timeout;
      // The bytes queued for an endpoint are bounded by the agent's budget of unacknowledged
      // bytes: a smaller capacity lowers that budget (sources are built after their writers).
      budget = std::min<size_t>(budget, std::max<uint64_t>(ep.queue_config.capacity, 1));
    }
    LokiSinkConfig sink = LokiSinkConfigFromEndpoint(ep);
    sink.component_id = c.id;
    CurlHttpClientOptions http = CurlOptionsFromEndpoint(ep);
    es.make_sink = [sink, http, m]() -> std::unique_ptr<Sink> {
      return std::make_unique<LokiSink>(sink, std::make_unique<CurlHttpClient>(http),
                                        std::make_unique<RealSleeper>(), m, std::random_device{}());
    };
    ws.endpoints.push_back(std::move(es));
  }
  auto node = std::make_unique<WriteNode>(std::move(ws), &router, &io, clock, metrics);
  receivers[c.id] = node.get();
  router.AddNode(node.get());
  writes.push_back(std::move(node));
  module->SetExports(c.id, ReceiverExports(c.id));
  return true;
}

bool Runtime::Impl::BuildEcho(const config::Component& c, const config::Block& b,
                              config::Diags* diags) {
  config::Decoder d(b, diags);
  if (!d.Finish()) return false;
  WriteNodeSettings ws;
  ws.component_id = c.id;
  WriteEndpointSettings es;
  es.name = c.id;
  // Echo prints at once, as Alloy's loki.echo logs each entry as it arrives.
  es.batch_wait = absl::Milliseconds(100);
  MetricsRegistry* m = metrics;
  es.make_sink = [m]() -> std::unique_ptr<Sink> { return std::make_unique<EchoSink>(stdout, m); };
  ws.endpoints.push_back(std::move(es));
  auto node = std::make_unique<WriteNode>(std::move(ws), &router, &io, clock, metrics);
  receivers[c.id] = node.get();
  router.AddNode(node.get());
  writes.push_back(std::move(node));
  module->SetExports(c.id, ReceiverExports(c.id));
  return true;
}

namespace {

constexpr char kServiceAccountDir[] = "/var/run/secrets/kubernetes.io/serviceaccount";

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

// Alloy's URL arguments: absolute http(s) URLs; the path Alloy appends to is kept as given,
// without a trailing slash.
bool CheckHttpUrl(config::Decoder& d, std::string_view attr, std::string* url) {
  if (auto parse = GoUrlParseError(*url)) {
    d.ErrorAt(attr, *parse);
    return false;
  }
  if (!absl::StartsWith(Av(*url), "http://") && !absl::StartsWith(Av(*url), "https://")) {
    d.ErrorAt(attr, absl::StrCat("sluice: ", Av(attr), " \"", Av(*url),
                                 "\" must start with http:// or https://"));
    return false;
  }
  while (!url->empty() && url->back() == '/') url->pop_back();
  return true;
}

// The service account's credentials, as client-go's in-cluster configuration uses them.
HttpClientConfig InClusterHttp() {
  HttpClientConfig h;
  h.authorization = AuthorizationConfig{"Bearer", "", absl::StrCat(kServiceAccountDir, "/token")};
  h.tls.ca_file = absl::StrCat(kServiceAccountDir, "/ca.crt");
  return h;
}

}  // namespace

void Runtime::Impl::AddPodDiscovery(const config::Component& c, metadata::PodDiscoveryOptions o) {
  o.component_id = c.id;
  o.pods_dir = options.pods_dir;
  o.index.grace_period = options.pod_grace_period;
  o.index.unknown_pod_wait = options.unknown_pod_wait;
  std::string id = c.id;
  auto disc = std::make_unique<metadata::PodDiscovery>(
      &io, std::move(o), clock, metrics, [this, id](std::vector<LabelSet> targets) {
        config::Object exports;
        exports["targets"] = TargetsToValue(targets);
        module->SetExports(id, config::Value::MakeObject(std::move(exports)));
        Propagate(id);
      });
  pod_discoveries.push_back(std::move(disc));
  // Nothing known before the first refresh (as in Alloy); the sources get the targets then.
  config::Object exports;
  exports["targets"] = TargetsToValue({});
  module->SetExports(c.id, config::Value::MakeObject(std::move(exports)));
}

bool Runtime::Impl::BuildKubelet(const config::Component& c, const config::Block& b,
                                 config::Diags* diags) {
  config::Decoder d(b, diags);
  metadata::PodDiscoveryOptions o;
  metadata::KubeEndpoint kubelet;
  kubelet.base_url = "https://localhost:10250";
  bool has_url = d.String("url", &kubelet.base_url);
  d.Duration("refresh_interval", &o.refresh_interval);
  d.StringList("namespaces", &o.namespaces);
  std::optional<std::string> client_error = DecodeHttpClientConfig(d, &kubelet.http);
  if (!d.Finish()) return false;
  if (client_error) {
    diags->Add(b.span, *client_error);
    return false;
  }
  if (has_url && !CheckHttpUrl(d, "url", &kubelet.base_url)) return false;
  if (o.refresh_interval <= absl::ZeroDuration()) {
    diags->Add(b.span, "refresh_interval must be greater than 0");
    return false;
  }
  // The CA and token files are read at each request: one missing now (a volume not mounted yet,
  // a config validated off the cluster) shows as refresh errors, retried, not as a load failure.
  o.kubelet = std::move(kubelet);
  o.index.flavor = metadata::TargetFlavor::kKubelet;
  o.index.fallback_namespaces = o.namespaces;
  AddPodDiscovery(c, std::move(o));
  return true;
}

bool Runtime::Impl::BuildKubernetes(const config::Component& c, const config::Block& b,
                                    config::Diags* diags) {
  config::Decoder d(b, diags);
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
      absl::StatusOr<metadata::FieldSelector> one = metadata::FieldSelector::Parse(field);
      if (!one.ok()) sd.ErrorAt("field", std::string(one.status().message()));
    }
    if (sd.Finish() && srole != "pod") {
      diags->Add(sb->span, absl::StrCat("sluice: selectors for role \"", Av(srole),
                                        "\" cannot apply to role \"pod\""));
    }
    if (!label.empty()) labels.push_back(label);
    if (!field.empty()) fields.push_back(field);
  }
  if (const config::Block* ab = d.OptionalBlock("attach_metadata")) {
    config::Decoder ad(*ab, diags);
    bool ns_meta = false;
    ad.Bool("node", &o.attach_node);
    ad.Bool("namespace", &ns_meta);
    if (ad.Finish() && ns_meta) {
      diags->Add(ab->span, "sluice: attach_metadata namespace is not supported (node is)");
    }
  }
  if (!d.Finish()) return false;
  if (client_error) {
    diags->Add(b.span, *client_error);
    return false;
  }
  if (role != "pod") {
    d.ErrorAt("role", absl::StrCat("sluice: role \"", Av(role),
                                   "\" is not supported (sluice ships pod logs: role \"pod\")"));
    return false;
  }
  if (!kubeconfig.empty()) {
    d.ErrorAt("kubeconfig_file",
              "sluice: kubeconfig_file is not supported; use api_server with bearer_token_file "
              "and tls_config, or the in-cluster service account");
    return false;
  }
  o.label_selector = absl::StrJoin(labels, ",");
  o.field_selector = absl::StrJoin(fields, ",");
  absl::StatusOr<metadata::LabelSelector> ls = metadata::LabelSelector::Parse(o.label_selector);
  absl::StatusOr<metadata::FieldSelector> fs = metadata::FieldSelector::Parse(o.field_selector);
  if (!ls.ok() || !fs.ok()) {
    diags->Add(b.span, std::string((!ls.ok() ? ls.status() : fs.status()).message()));
    return false;
  }
  o.labels = *ls;
  o.fields = *fs;
  if (has_api) {
    if (!CheckHttpUrl(d, "api_server", &api_server)) return false;
    api.base_url = api_server;
  } else {
    // In the cluster: the service's address and the service account, as client-go does.
    std::string host = Env("KUBERNETES_SERVICE_HOST");
    std::string port = Env("KUBERNETES_SERVICE_PORT");
    if (host.empty()) {
      diags->Add(b.span,
                 "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and "
                 "KUBERNETES_SERVICE_PORT must be defined");
      return false;
    }
    if (host.find(':') != std::string::npos) host = absl::StrCat("[", host, "]");
    api.base_url = absl::StrCat("https://", host, ":", port.empty() ? "443" : port);
    HttpClientConfig in_cluster = InClusterHttp();
    if (!api.http.authorization && !api.http.basic_auth) {
      api.http.authorization = in_cluster.authorization;
    }
    if (api.http.tls.ca_file.empty() && api.http.tls.ca_pem.empty()) {
      api.http.tls.ca_file = in_cluster.tls.ca_file;
    }
  }
  // Restricted to one node: that node's kubelet serves the pods, the API server is not asked
  // (and is the fallback while the kubelet has never answered).
  if (std::optional<std::string> node = o.fields.NodeName()) {
    o.node_name = *node;
    metadata::KubeEndpoint kubelet;
    kubelet.base_url = Env("SLUICE_KUBELET_URL");
    if (kubelet.base_url.empty()) {
      std::string host = Env("NODE_IP");
      if (host.empty()) host = *node;
      if (host.find(':') != std::string::npos) host = absl::StrCat("[", host, "]");
      kubelet.base_url = absl::StrCat("https://", host, ":10250");
    }
    while (!kubelet.base_url.empty() && kubelet.base_url.back() == '/') kubelet.base_url.pop_back();
    kubelet.http = api.http;  // the same credentials (the service account's token)
    // Kubelet serving certificates are often self-signed (kubeadm's default).
    if (Env("SLUICE_KUBELET_INSECURE_SKIP_VERIFY") == "true") {
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
  AddPodDiscovery(c, std::move(o));
  return true;
}

// ---- running --------------------------------------------------------------------------------

std::vector<DirWatcher::Root> Runtime::Impl::WatchRoots(const std::vector<LabelSet>& path_targets) {
  std::vector<DirWatcher::Root> roots;
  for (const LabelSet& t : path_targets) {
    const std::string* pattern = t.Get("__path__");
    if (pattern == nullptr || pattern->empty()) continue;
    DirWatcher::Root r;
    r.dir = glob::StaticPrefix(*pattern);
    std::optional<int> depth = glob::MaxMatchDepth(*pattern);
    // Files sit `depth` levels below the prefix: their directories, one level less.
    r.max_depth = depth.has_value() ? std::max(0, *depth - 1) : -1;
    // Per-pod patterns share their prefix: one root, watched to the deepest depth asked.
    bool merged = false;
    for (DirWatcher::Root& have : roots) {
      if (have.dir != r.dir) continue;
      have.max_depth =
          have.max_depth < 0 || r.max_depth < 0 ? -1 : std::max(have.max_depth, r.max_depth);
      merged = true;
      break;
    }
    if (!merged) roots.push_back(std::move(r));
  }
  return roots;
}

void Runtime::Impl::SyncFileMatch(FileMatch* fm) {
  std::vector<LabelSet> next =
      ExpandFileTargets(fm->args.path_targets, *clock, fm->args.ignore_older_than);
  if (next == fm->current) return;
  fm->current = std::move(next);
  config::Object exports;
  exports["targets"] = TargetsToValue(fm->current);
  module->SetExports(fm->id, config::Value::MakeObject(std::move(exports)));
  Propagate(fm->id);
}

void Runtime::Impl::ArmFileMatch(FileMatch* fm) {
  fm->timer->expires_after(absl::ToChronoNanoseconds(fm->args.sync_period));
  fm->timer->async_wait([this, fm](const boost::system::error_code& ec) {
    if (ec) return;
    SyncFileMatch(fm);
    if (fm->watcher) fm->watcher->Refresh();  // roots that did not exist before
    ArmFileMatch(fm);
  });
}

void Runtime::Impl::ArmSourceMatch(Source* s) {
  s->timer->expires_after(absl::ToChronoNanoseconds(s->match_args.sync_period));
  s->timer->async_wait([this, s](const boost::system::error_code& ec) {
    if (ec) return;
    s->tail->SetTargets(SourceTargets(s, s->targets));
    ArmSourceMatch(s);
  });
}

void Runtime::Impl::Propagate(const std::string& id) {
  std::vector<std::string> deps = module->Dependents(id);
  std::set<std::string> dep_set(deps.begin(), deps.end());
  for (const config::Component* c : module->Order()) {
    if (!dep_set.contains(c->id)) continue;
    config::Block b;
    config::Diags diags;
    if (!module->Evaluate(*c, &b, &diags)) {
      LogWarn("runtime", "re-evaluating a component failed; it keeps its last arguments",
              {{"component", c->id}, {"error", config::FormatHeadline(diags.list()[0])}});
      continue;
    }
    config::Decoder d(b, &diags);
    if (c->name == "discovery.relabel") {
      std::vector<LabelSet> targets;
      if (!d.Targets("targets", &targets, config::Required::kYes)) continue;
      const auto& set = rules[c->id];
      std::vector<LabelSet> output;
      for (LabelSet& t : targets) {
        if (Relabel(*set, &t)) output.push_back(std::move(t));
      }
      config::Object exports;
      exports["output"] = TargetsToValue(output);
      exports["rules"] = RulesToValue(set, c->id);
      module->SetExports(c->id, config::Value::MakeObject(std::move(exports)));
    } else if (c->name == "loki.source.file") {
      Source* s = source_by_id[c->id];
      std::vector<LabelSet> targets;
      if (!d.Targets("targets", &targets, config::Required::kYes)) continue;
      s->targets = std::move(targets);
      s->tail->SetTargets(SourceTargets(s, s->targets));
    } else if (c->name == "local.file_match") {
      for (auto& fm : file_matches) {
        if (fm->id != c->id) continue;
        FileMatchArgs args;
        if (!DecodeFileMatchArgs(b, &diags, &args)) break;
        fm->args.path_targets = std::move(args.path_targets);
        if (fm->watcher) fm->watcher->SetRoots(WatchRoots(fm->args.path_targets));
        fm->current = ExpandFileTargets(fm->args.path_targets, *clock, fm->args.ignore_older_than);
        config::Object exports;
        exports["targets"] = TargetsToValue(fm->current);
        module->SetExports(fm->id, config::Value::MakeObject(std::move(exports)));
      }
    }
  }
}

void Runtime::Impl::Beat() {
  heartbeat_ns.store(clock->MonotonicNanos(), std::memory_order_relaxed);
  heartbeat_timer->expires_after(std::chrono::seconds(1));
  heartbeat_timer->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Beat();
  });
}

// ---- Runtime --------------------------------------------------------------------------------

Runtime::Runtime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Runtime::~Runtime() {
  if (impl_->started) Shutdown();
}

std::unique_ptr<Runtime> Runtime::Load(const RuntimeOptions& options, MetricsRegistry* metrics,
                                       std::string* error) {
  auto impl = std::make_unique<Impl>(options, metrics);
  config::Registry registry;
  registry.components = {"local.file_match", "discovery.relabel", "loki.source.file",
                         "loki.process",     "loki.relabel",      "loki.write",
                         "loki.echo",        "discovery.kubelet", "discovery.kubernetes"};
  registry.config_blocks = {"logging"};
  config::Diags diags;
  impl->module =
      options.config_text.empty()
          ? config::Module::Load(options.config_path, registry, &diags)
          : config::Module::Parse(options.config_path, options.config_text, registry, &diags);
  if (impl->module.has_value() && diags.ok()) impl->Build(&diags);
  if (!diags.ok()) {
    std::map<std::string, std::string> none;
    const auto& sources = impl->module.has_value() ? impl->module->sources() : none;
    error->clear();
    for (const config::Diagnostic& d : diags.list()) error->append(config::Render(d, sources));
    return nullptr;
  }
  return std::unique_ptr<Runtime>(new Runtime(std::move(impl)));
}

absl::Status Runtime::Start() {
  Impl& m = *impl_;
  for (auto& w : m.writes) w->Start();
  m.tail_thread = StartThread("sluice-tail", [&m] { m.io.run(); });
  std::promise<absl::Status> started;
  boost::asio::post(m.io, [&] {
    absl::Status st;
    for (auto& s : m.sources) {
      absl::Status one = s->tail->Start();
      if (!one.ok() && st.ok()) st = one;
      if (s->file_match) {
        s->timer = std::make_unique<boost::asio::steady_timer>(m.io);
        m.ArmSourceMatch(s.get());
      }
    }
    for (auto& fm : m.file_matches) {
      fm->timer = std::make_unique<boost::asio::steady_timer>(m.io);
      Impl::FileMatch* raw = fm.get();
      fm->watcher = std::make_unique<DirWatcher>(&m.io, absl::Milliseconds(100), 65536,
                                                 [&m, raw] { m.SyncFileMatch(raw); });
      fm->watcher->SetRoots(Impl::WatchRoots(fm->args.path_targets));
      m.ArmFileMatch(fm.get());
    }
    for (auto& pd : m.pod_discoveries) pd->Start();
    m.heartbeat_timer = std::make_unique<boost::asio::steady_timer>(m.io);
    m.Beat();
    started.set_value(st);
  });
  absl::Status st = started.get_future().get();
  m.started = true;
  if (!st.ok()) {
    Shutdown();
    return st;
  }
  return absl::OkStatus();
}

void Runtime::Shutdown() {
  Impl& m = *impl_;
  if (!m.started) return;
  m.started = false;
  auto on_tail = [&m](auto fn) {
    std::promise<void> done;
    boost::asio::post(m.io, [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  };
  on_tail([&m] {
    if (m.heartbeat_timer) m.heartbeat_timer->cancel();
    for (auto& pd : m.pod_discoveries) pd->Stop();
    for (auto& fm : m.file_matches) {
      fm->timer->cancel();
      fm->watcher.reset();
    }
    for (auto& s : m.sources) {
      if (s->timer) s->timer->cancel();
      s->tail->StopReading();
    }
    m.router.FlushAll();
  });
  absl::Time deadline = absl::Now() + m.options.shutdown_timeout;
  for (auto& w : m.writes) w->Drain(deadline);
  // The senders' outcomes were posted before this: the positions saved include every
  // acknowledgement.
  on_tail([&m] {
    m.router.Stop();
    for (auto& s : m.sources) (void)s->tail->SavePositions();
  });
  m.work.reset();
  m.io.stop();
  if (m.tail_thread.joinable()) m.tail_thread.join();
  if (m.router.aborted_bytes() > 0) {
    LogWarn("runtime",
            "stopped with entries not acknowledged; they are read again at the next start",
            {{"bytes", std::to_string(m.router.aborted_bytes())}});
  }
}

size_t Runtime::aborted_bytes() const { return impl_->router.aborted_bytes(); }

std::vector<std::string> Runtime::Unhealthy() const {
  std::vector<std::string> out;
  const Impl& m = *impl_;
  if (m.started) {
    int64_t beat = m.heartbeat_ns.load(std::memory_order_relaxed);
    int64_t stalled = RealClock::Get()->MonotonicNanos() - beat;
    if (beat != 0 && stalled > absl::ToInt64Nanoseconds(kStallLimit)) {
      out.push_back(absl::StrCat("runtime: the event loop has not run for ",
                                 absl::FormatDuration(absl::Nanoseconds(stalled))));
    }
  }
  for (const auto& s : m.sources) {
    if (std::optional<std::string> why = s->tail->Unhealthy()) {
      out.push_back(absl::StrCat(s->id, ": ", *why));
    }
  }
  return out;
}

std::vector<std::string> Runtime::Degraded() const {
  std::vector<std::string> out;
  for (const auto& pd : impl_->pod_discoveries) {
    if (std::optional<std::string> why = pd->Unhealthy()) {
      out.push_back(absl::StrCat(pd->component_id(), ": ", *why));
    }
  }
  for (const auto& w : impl_->writes) {
    if (std::optional<std::string> why = w->Unhealthy()) {
      out.push_back(absl::StrCat(w->component_id(), ": ", *why));
    }
  }
  return out;
}

}  // namespace sluice
