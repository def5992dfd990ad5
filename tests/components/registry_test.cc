// The component table (ComponentTypes) and its builders: every type has a unique name and loads
// through Runtime::Load from a small configuration (nothing is started: no connection is made),
// an unknown component is an error naming it at file:line:col, and re-evaluation: when a
// local.file_match's directory gains a file, its new targets reach a discovery.relabel
// downstream, by Update (as the Runtime re-evaluates dependents) and by its own directory watch.
#include "agent/components/component.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/common/metrics.h"
#include "agent/components/builders.h"
#include "agent/config/module.h"
#include "agent/runtime/logs_router.h"
#include "agent/runtime/runtime.h"
#include "tests/support/temp_dir.h"

namespace sluice {
namespace {

using ::sluice::testing::TempDir;
using ::sluice::testing::WriteFile;

// A receiver for the components that forward.
constexpr char kEcho[] = "loki.echo \"out\" {}\n";

// One small configuration per component type, each with the component labelled "t".
const std::map<std::string, std::string>& Snippets() {
  static const auto* m = new std::map<std::string, std::string>{
      {"local.file_match",
       "local.file_match \"t\" {\n  path_targets = [{\"__path__\" = \"/nonexistent/*.log\"}]\n}\n"},
      {"discovery.relabel",
       "discovery.relabel \"t\" {\n  targets = [{\"a\" = \"b\"}]\n  rule {\n"
       "    source_labels = [\"a\"]\n    target_label = \"c\"\n  }\n}\n"},
      {"discovery.kubelet", "discovery.kubelet \"t\" {\n  url = \"http://127.0.0.1:1\"\n}\n"},
      {"discovery.kubernetes",
       "discovery.kubernetes \"t\" {\n  role = \"pod\"\n  api_server = "
       "\"http://127.0.0.1:1\"\n}\n"},
      {"loki.source.file",
       std::string(kEcho) +
           "loki.source.file \"t\" {\n  targets = [{\"__path__\" = \"/nonexistent/a.log\"}]\n"
           "  forward_to = [loki.echo.out.receiver]\n}\n"},
      {"loki.process", std::string(kEcho) +
                           "loki.process \"t\" {\n  forward_to = [loki.echo.out.receiver]\n"
                           "  stage.static_labels {\n    values = {env = \"test\"}\n  }\n}\n"},
      {"loki.relabel",
       std::string(kEcho) +
           "loki.relabel \"t\" {\n  forward_to = [loki.echo.out.receiver]\n  rule {\n"
           "    action = \"labeldrop\"\n    regex = \"tmp.*\"\n  }\n}\n"},
      {"loki.write",
       "loki.write \"t\" {\n  endpoint {\n    url = \"http://127.0.0.1:1/loki/api/v1/push\"\n"
       "  }\n  external_labels = {cluster = \"c1\"}\n}\n"},
      {"loki.echo", "loki.echo \"t\" {}\n"},
      {"loki.secretfilter", std::string(kEcho) +
                                "loki.secretfilter \"t\" {\n  forward_to = "
                                "[loki.echo.out.receiver]\n  redact_percent = 100\n}\n"},
      {"discovery.file", "discovery.file \"t\" {\n  files = [\"/nonexistent/*.json\"]\n}\n"},
      {"local.file",
       "local.file \"t\" {\n  filename = \"/etc/os-release\"\n  is_secret = true\n}\n"},
      {"loki.source.api",
       std::string(kEcho) +
           "loki.source.api \"t\" {\n  http {\n    listen_address = \"127.0.0.1\"\n"
           "    listen_port = 0\n  }\n  forward_to = [loki.echo.out.receiver]\n"
           "  labels = {source = \"api\"}\n}\n"},
      {"loki.source.kubernetes_events",
       std::string(kEcho) +
           "loki.source.kubernetes_events \"t\" {\n  client {\n    api_server = "
           "\"http://127.0.0.1:1\"\n  }\n  forward_to = [loki.echo.out.receiver]\n}\n"},
      {"loki.source.kubernetes",
       std::string(kEcho) +
           "loki.source.kubernetes \"t\" {\n  targets = [{\"__pod_namespace__\" = \"ns\", "
           "\"__pod_name__\" = \"p\", \"__pod_container_name__\" = \"c\", "
           "\"__pod_uid__\" = \"u\"}]\n  forward_to = [loki.echo.out.receiver]\n"
           "  client {\n    api_server = \"http://127.0.0.1:1\"\n  }\n"
           "  clustering {\n    enabled = true\n  }\n}\n"},
      {"loki.source.podlogs",
       std::string(kEcho) +
           "loki.source.podlogs \"t\" {\n  forward_to = [loki.echo.out.receiver]\n"
           "  client {\n    api_server = \"http://127.0.0.1:1\"\n  }\n"
           "  selector {\n    match_labels = {team = \"a\"}\n"
           "    match_expression {\n      key = \"tier\"\n      operator = \"In\"\n"
           "      values = [\"web\"]\n    }\n  }\n"
           "  namespace_selector {\n    match_labels = {logs = \"on\"}\n  }\n"
           "  node_filter {\n    enabled = true\n    node_name = \"n1\"\n  }\n"
           "  tail_from_end = true\n  preserve_discovered_labels = true\n}\n"},
      {"loki.source.journal",
       std::string(kEcho) +
           "loki.source.journal \"t\" {\n  path = \"/nonexistent/journal\"\n"
           "  matches = \"_SYSTEMD_UNIT=kubelet.service PRIORITY=3\"\n  max_age = \"8h\"\n"
           "  format_as_json = true\n  labels = {job = \"integrations/kubernetes/journal\"}\n"
           "  forward_to = [loki.echo.out.receiver]\n}\n"},
      {"loki.source.syslog",
       std::string(kEcho) +
           "loki.source.syslog \"t\" {\n  listener {\n    address = \"127.0.0.1:0\"\n"
           "    labels = {job = \"syslog\"}\n  }\n  listener {\n"
           "    address = \"127.0.0.1:0\"\n    protocol = \"udp\"\n"
           "    syslog_format = \"rfc3164\"\n  }\n  forward_to = [loki.echo.out.receiver]\n}\n"},
      {"loki.source.gelf", std::string(kEcho) +
                               "loki.source.gelf \"t\" {\n  listen_address = \"127.0.0.1:0\"\n"
                               "  forward_to = [loki.echo.out.receiver]\n}\n"},
      {"discovery.docker",
       "discovery.docker \"t\" {\n  host = \"unix:///nonexistent/docker.sock\"\n"
       "  filter {\n    name = \"label\"\n    values = [\"logs=true\"]\n  }\n}\n"},
      {"loki.source.docker",
       std::string(kEcho) +
           "loki.source.docker \"t\" {\n  host = \"unix:///nonexistent/docker.sock\"\n"
           "  targets = [{\"__meta_docker_container_id\" = \"abc\"}]\n"
           "  forward_to = [loki.echo.out.receiver]\n  labels = {job = \"docker\"}\n}\n"},
      {"otelcol.exporter.loki",
       std::string(kEcho) +
           "otelcol.exporter.loki \"t\" {\n  forward_to = [loki.echo.out.receiver]\n}\n"},
  };
  return *m;
}

class RegistryTest : public ::testing::Test {
 protected:
  std::unique_ptr<Runtime> Load(const std::string& text, std::string* error) {
    RuntimeOptions o;
    o.config_path = "cfg.alloy";
    o.config_text = text;
    o.storage_path = dir_.Join("data");
    o.pods_dir = dir_.Join("pods");
    return Runtime::Load(o, &metrics_, error);
  }

  TempDir dir_;
  MetricsRegistry metrics_{MetricsRegistry::Options{.process_metrics = false}};
};

TEST_F(RegistryTest, EveryTypeNameIsUniqueAndHasABuilder) {
  std::set<std::string> names;
  for (const ComponentType& t : ComponentTypes()) {
    EXPECT_TRUE(names.insert(t.name).second) << "duplicate: " << t.name;
    EXPECT_NE(t.build, nullptr) << t.name;
  }
  EXPECT_EQ(names.size(), ComponentTypes().size());
  EXPECT_GE(names.size(), 9u);
}

TEST_F(RegistryTest, EveryTypeLoadsThroughTheRuntime) {
  for (const ComponentType& t : ComponentTypes()) {
    // Read from the API server at load: run_e2e_test loads them against a fake one.
    if (std::string_view(t.name).starts_with("remote.kubernetes.")) continue;
    auto it = Snippets().find(t.name);
    ASSERT_NE(it, Snippets().end()) << "add a configuration for " << t.name << " to Snippets()";
    std::string error;
    std::unique_ptr<Runtime> rt = Load(it->second, &error);
    EXPECT_NE(rt, nullptr) << t.name << ":\n" << error << "\n" << it->second;
    EXPECT_EQ(error, "") << t.name;
  }
  // All of them at once, too (one of each; the receiver once).
  std::string all = kEcho;
  for (const auto& [name, text] : Snippets()) {
    std::string one = text;
    if (one.rfind(kEcho, 0) == 0) one = one.substr(std::string(kEcho).size());
    if (name == "loki.echo") continue;
    all += one;
  }
  std::string error;
  EXPECT_NE(Load(all, &error), nullptr) << error << "\n" << all;
}

TEST_F(RegistryTest, AnUnknownComponentIsAnErrorNamingItWithItsPosition) {
  std::string error;
  std::unique_ptr<Runtime> rt =
      Load("loki.echo \"out\" {}\n\n  loki.source.windowsevent \"j\" {\n  }\n", &error);
  EXPECT_EQ(rt, nullptr);
  EXPECT_NE(error.find("cfg.alloy:3:3: component \"loki.source.windowsevent\" is not supported by "
                       "sluice"),
            std::string::npos)
      << error;
}

TEST_F(RegistryTest, ABadArgumentIsAnErrorWithItsPosition) {
  std::string error;
  std::unique_ptr<Runtime> rt = Load(
      "loki.echo \"out\" {}\nloki.relabel \"r\" {\n  forward_to = [loki.echo.out.receiver]\n"
      "  max_cache_size = \"many\"\n}\n",
      &error);
  EXPECT_EQ(rt, nullptr);
  EXPECT_NE(error.find("cfg.alloy:4:"), std::string::npos) << error;
  EXPECT_NE(error.find("max_cache_size"), std::string::npos) << error;
  rt = Load(
      "loki.echo \"out\" {}\nloki.relabel \"r\" {\n  forward_to = [loki.echo.out.receiver]\n"
      "  max_cache_size = 0\n}\n",
      &error);
  EXPECT_EQ(rt, nullptr);
  EXPECT_NE(error.find("cfg.alloy:4:20: must provide a positive size"), std::string::npos) << error;
}

TEST_F(RegistryTest, DockerArgumentsAreCheckedAsAlloy) {
  std::string error;
  EXPECT_EQ(Load("discovery.docker \"d\" {\n  host = \"\"\n}\n", &error), nullptr);
  EXPECT_NE(error.find("cfg.alloy:2:"), std::string::npos) << error;
  EXPECT_NE(error.find("host attribute must not be empty"), std::string::npos) << error;
  EXPECT_EQ(
      Load("discovery.docker \"d\" {\n  host = \"unix:///x\"\n  refresh_interval = \"0s\"\n}\n",
           &error),
      nullptr);
  EXPECT_NE(error.find("refresh_interval must be greater than 0"), std::string::npos) << error;
  const std::string src = std::string(kEcho) +
                          "loki.source.docker \"s\" {\n  targets = []\n"
                          "  forward_to = [loki.echo.out.receiver]\n";
  EXPECT_EQ(Load(src + "}\n", &error), nullptr);
  EXPECT_NE(error.find("host"), std::string::npos) << error;
  EXPECT_EQ(Load(src + "  host = \"unix:///x\"\n  refresh_interval = \"0s\"\n}\n", &error),
            nullptr);
  EXPECT_NE(error.find("refresh_interval must be positive"), std::string::npos) << error;
  EXPECT_EQ(Load(src + "  host = \"ftp://x\"\n}\n", &error), nullptr);
  EXPECT_NE(error.find("failed to parse Docker host"), std::string::npos) << error;
}

TEST_F(RegistryTest, LokiSourceFileDecompressionAndEncodingArguments) {
  const std::string head =
      std::string(kEcho) +
      "loki.source.file \"t\" {\n  targets = [{\"__path__\" = \"/nonexistent/a.log\"}]\n"
      "  forward_to = [loki.echo.out.receiver]\n";
  std::string error;
  // Alloy's documented shapes load.
  EXPECT_NE(Load(head + "  encoding = \"UTF-16LE\"\n  decompression {\n    enabled = true\n"
                        "    initial_delay = \"10s\"\n    format = \"bz2\"\n  }\n}\n",
                 &error),
            nullptr)
      << error;
  EXPECT_EQ(
      Load(head + "  decompression {\n    enabled = true\n    format = \"zip\"\n  }\n}\n", &error),
      nullptr);
  EXPECT_NE(error.find("cfg.alloy:7:14: unsupported compression format: \"zip\" - please use one "
                       "of \"gz, z, bz2\""),
            std::string::npos)
      << error;
  EXPECT_EQ(Load(head + "  decompression {\n    format = \"gz\"\n  }\n}\n", &error), nullptr);
  EXPECT_NE(error.find("enabled"), std::string::npos) << error;
  EXPECT_EQ(Load(head + "  encoding = \"klingon-8\"\n}\n", &error), nullptr);
  EXPECT_NE(error.find("cfg.alloy:5:14: unknown encoding \"klingon-8\""), std::string::npos)
      << error;
}

// A file is read --read-interval after a write (250 ms by default, Alloy's poll frequency), or
// its component's file_watch min_poll_frequency when given; max_poll_frequency sets nothing.
TEST_F(RegistryTest, LokiSourceFileReadIntervalFromFileWatch) {
  auto config = [](const std::string& id, const std::string& extra) {
    return "loki.source.file \"" + id +
           "\" {\n  targets = [{\"__path__\" = \"/nonexistent/a.log\"}]\n"
           "  forward_to = [loki.echo.out.receiver]\n" +
           extra + "}\n";
  };
  std::string error;
  std::unique_ptr<Runtime> r =
      Load(std::string(kEcho) + config("plain", "") +
               config("tuned",
                      "  file_watch {\n    min_poll_frequency = \"1s\"\n"
                      "    max_poll_frequency = \"5s\"\n  }\n") +
               config("max_only", "  file_watch {\n    max_poll_frequency = \"5s\"\n  }\n"),
           &error);
  ASSERT_NE(r, nullptr) << error;
  auto interval = [&](const std::string& id) {
    return metrics_.GaugeValue("sluice_file_read_interval_seconds",
                               ComponentLabels("loki.source.file." + id));
  };
  EXPECT_EQ(interval("plain"), 0.25);
  EXPECT_EQ(interval("tuned"), 1.0);
  EXPECT_EQ(interval("max_only"), 0.25);
  EXPECT_EQ(Load(std::string(kEcho) +
                     config("bad", "  file_watch {\n    min_poll_frequency = \"10s\"\n  }\n"),
                 &error),
            nullptr);
  EXPECT_NE(error.find("min_poll_frequency must not be greater than max_poll_frequency"),
            std::string::npos)
      << error;
}

// local.file_match -> discovery.relabel, built with their Build functions in an environment of
// the test's own, as the Runtime builds and re-evaluates them.
class ReevaluationTest : public ::testing::Test {
 protected:
  ReevaluationTest() : router_(&io_, RealClock::Get()) {}
  ~ReevaluationTest() override {
    for (auto& c : built_) c->StopReading();
    router_.Stop();
  }

  void SetUpModule() {
    config::Registry registry;
    for (const ComponentType& t : ComponentTypes()) registry.components.insert(t.name);
    std::string text = "local.file_match \"logs\" {\n  path_targets = [{\"__path__\" = \"" +
                       dir_.path() +
                       "/*.log\", \"job\" = \"j\"}]\n}\n"
                       "discovery.relabel \"files\" {\n"
                       "  targets = local.file_match.logs.targets\n"
                       "  rule {\n"
                       "    source_labels = [\"__path__\"]\n"
                       "    regex = \".*/(.*)\\\\.log\"\n"
                       "    target_label = \"file\"\n"
                       "  }\n"
                       "  rule {\n"
                       "    source_labels = [\"file\"]\n"
                       "    regex = \"skip.*\"\n"
                       "    action = \"drop\"\n"
                       "  }\n"
                       "}\n";
    config::Diags diags;
    module_ = config::Module::Parse("cfg.alloy", text, registry, &diags);
    ASSERT_TRUE(module_.has_value() && diags.ok()) << config::RenderAll(
        diags, module_ ? module_->sources() : std::map<std::string, std::string>{});
    env_.io = &io_;
    env_.clock = RealClock::Get();
    env_.metrics = &metrics_;
    env_.router = &router_;
    env_.module = &*module_;
    env_.options = &options_;
    env_.budget = kDefaultMemoryBudget;
    env_.exports_changed = [this](const std::string& id) { Propagate(id); };
  }

  // Builds every component in dependency order, as Runtime::Impl::Build does.
  void Build() {
    for (const config::Component* c : module_->Order()) {
      config::Block b;
      config::Diags diags;
      ASSERT_TRUE(module_->Evaluate(*c, &b, &diags)) << c->id;
      std::unique_ptr<Component> built =
          c->name == "local.file_match"    ? BuildLocalFileMatch(*c, b, env_, &diags)
          : c->name == "discovery.relabel" ? BuildDiscoveryRelabel(*c, b, env_, &diags)
                                           : nullptr;
      ASSERT_NE(built, nullptr) << c->id << ": " << config::RenderAll(diags, module_->sources());
      by_id_[c->id] = built.get();
      built_.push_back(std::move(built));
    }
  }

  // Evaluates `id` again and updates it.
  void Update(const std::string& id) {
    config::Block b;
    config::Diags diags;
    ASSERT_TRUE(module_->Evaluate(*module_->Find(id), &b, &diags));
    ASSERT_TRUE(by_id_.at(id)->Update(b, &diags)) << config::RenderAll(diags, module_->sources());
  }

  // As the Runtime: the components depending on `id`, in order.
  void Propagate(const std::string& id) {
    ++propagated_;
    std::vector<std::string> deps = module_->Dependents(id);
    std::set<std::string> dep_set(deps.begin(), deps.end());
    for (const config::Component* c : module_->Order()) {
      if (dep_set.contains(c->id)) Update(c->id);
    }
  }

  // `field` of `id`'s exports as "k=v,..;" per target, in order.
  std::string Targets(const std::string& id, const std::string& field) {
    const config::Value* v = module_->Exports(id);
    if (v == nullptr) return "<no exports>";
    auto it = v->as_object().find(field);
    if (it == v->as_object().end()) return "<no " + field + ">";
    std::string out;
    for (const config::Value& t : it->second.as_array()) {
      std::map<std::string, std::string> sorted;
      for (const auto& [k, val] : t.as_object()) sorted[k] = val.as_string();
      for (const auto& [k, val] : sorted) {
        if (k == "__path__") continue;  // the temporary directory's name
        out += k + "=" + val + ",";
      }
      out += ";";
    }
    return out;
  }

  TempDir dir_;
  boost::asio::io_context io_;
  MetricsRegistry metrics_{MetricsRegistry::Options{.process_metrics = false}};
  LogsRouter router_;
  RuntimeOptions options_;
  std::optional<config::Module> module_;
  ComponentEnv env_;
  std::vector<std::unique_ptr<Component>> built_;
  std::map<std::string, Component*> by_id_;
  int propagated_ = 0;
};

TEST_F(ReevaluationTest, ANewFileReachesTheRelabelDownstreamThroughUpdate) {
  SetUpModule();
  WriteFile(dir_.Join("a.log"), "x\n");
  Build();
  EXPECT_EQ(Targets("local.file_match.logs", "targets"), "job=j,;");
  EXPECT_EQ(Targets("discovery.relabel.files", "output"), "file=a,job=j,;");
  WriteFile(dir_.Join("b.log"), "y\n");
  WriteFile(dir_.Join("skip-me.log"), "z\n");
  WriteFile(dir_.Join("c.txt"), "not matched\n");
  // Only re-evaluation updates the exports.
  EXPECT_EQ(Targets("discovery.relabel.files", "output"), "file=a,job=j,;");
  Update("local.file_match.logs");
  EXPECT_EQ(Targets("local.file_match.logs", "targets"), "job=j,;job=j,;job=j,;");
  EXPECT_EQ(Targets("discovery.relabel.files", "output"), "file=a,job=j,;")
      << "not re-evaluated yet";
  Propagate("local.file_match.logs");
  EXPECT_EQ(Targets("discovery.relabel.files", "output"), "file=a,job=j,;file=b,job=j,;");
}

TEST_F(ReevaluationTest, TheDirectoryWatchPropagatesANewFile) {
  SetUpModule();
  WriteFile(dir_.Join("a.log"), "x\n");
  Build();
  ASSERT_TRUE(by_id_.at("local.file_match.logs")->Start().ok());
  EXPECT_EQ(propagated_, 0);
  WriteFile(dir_.Join("b.log"), "y\n");
  // inotify sees the file; the watcher's coalescing timer fires: wait for the outcome (at most
  // 20 s), not for a time.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (propagated_ == 0 && std::chrono::steady_clock::now() < deadline) {
    io_.run_one_for(std::chrono::milliseconds(50));
  }
  ASSERT_GE(propagated_, 1);
  EXPECT_EQ(Targets("discovery.relabel.files", "output"), "file=a,job=j,;file=b,job=j,;");
}

// discovery.file: Prometheus file_sd target groups from JSON and YAML files, each target with
// its __address__, __meta_filepath and the group's labels; a broken file counted.
TEST(DiscoveryFileTest, TargetGroupsFromJsonAndYaml) {
  TempDir dir;
  WriteFile(dir.Join("a.json"),
            R"([{"targets": ["10.0.0.1:9100", "10.0.0.2:9100"], "labels": {"env": "prod"}}])");
  WriteFile(dir.Join("b.yml"), "- targets: ['db:5432']\n  labels:\n    job: postgres\n");
  WriteFile(dir.Join("c.json"), "{not json");
  config::Registry registry;
  registry.components = {"discovery.file"};
  config::Diags diags;
  std::string text = "discovery.file \"f\" {\n  files = [\"" + dir.Join("*.json") + "\", \"" +
                     dir.Join("*.yml") + "\"]\n}\n";
  std::optional<config::Module> m = config::Module::Parse("c.alloy", text, registry, &diags);
  ASSERT_TRUE(m.has_value());
  boost::asio::io_context io;
  FakeClock clock;
  MetricsRegistry metrics;
  ComponentEnv env;
  env.io = &io;
  env.clock = &clock;
  env.metrics = &metrics;
  env.module = &*m;
  const config::Component* c = m->Find("discovery.file.f");
  config::Block args;
  ASSERT_TRUE(m->Evaluate(*c, &args, &diags));
  std::unique_ptr<Component> comp = BuildDiscoveryFile(*c, args, env, &diags);
  ASSERT_NE(comp, nullptr);
  const config::Array& targets =
      m->Exports("discovery.file.f")->as_object().at("targets").as_array();
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0].as_object().at("__address__").as_string(), "10.0.0.1:9100");
  EXPECT_EQ(targets[0].as_object().at("env").as_string(), "prod");
  EXPECT_EQ(targets[0].as_object().at("__meta_filepath").as_string(), dir.Join("a.json"));
  EXPECT_EQ(targets[2].as_object().at("__address__").as_string(), "db:5432");
  EXPECT_EQ(targets[2].as_object().at("job").as_string(), "postgres");
  EXPECT_EQ(metrics.CounterValue("sluice_discovery_file_read_errors_total",
                                 ComponentLabels("discovery.file.f")),
            1u);
}

class CollectNode final : public LogsNode {
 public:
  void Push(ProcessEntry& e) override { got.push_back(e); }
  void PushMark(uint64_t, uint64_t, int64_t) override {}
  std::vector<ProcessEntry> got;
};

// loki.secretfilter: tokens of the known formats redacted with redact_with's placeholders or
// gitleaks' percentage mask, allowlisted ones kept, each counted by rule and origin.
TEST(SecretFilterTest, RedactsKnownTokenFormats) {
  auto run = [](const std::string& args, std::vector<std::string> lines, MetricsRegistry* metrics) {
    config::Registry registry;
    registry.components = {"loki.secretfilter", "loki.echo"};
    config::Diags diags;
    std::string text =
        "loki.echo \"out\" {}\nloki.secretfilter \"s\" {\n  forward_to = "
        "[loki.echo.out.receiver]\n" +
        args + "}\n";
    std::optional<config::Module> m = config::Module::Parse("c.alloy", text, registry, &diags);
    EXPECT_TRUE(m.has_value());
    config::Object o;
    o["receiver"] = config::Value::MakeCapsule({"loki.LogsReceiver", "loki.echo.out"});
    m->SetExports("loki.echo.out", config::Value::MakeObject(std::move(o)));
    boost::asio::io_context io;
    FakeClock clock;
    LogsRouter router(&io, &clock);
    ComponentEnv env;
    env.io = &io;
    env.clock = &clock;
    env.metrics = metrics;
    env.module = &*m;
    env.router = &router;
    CollectNode out;
    env.receivers["loki.echo.out"] = &out;
    const config::Component* c = m->Find("loki.secretfilter.s");
    config::Block b;
    EXPECT_TRUE(m->Evaluate(*c, &b, &diags));
    std::unique_ptr<Component> comp = BuildLokiSecretFilter(*c, b, env, &diags);
    EXPECT_NE(comp, nullptr);
    for (const std::string& line : lines) {
      ProcessEntry e;
      e.line = line;
      e.labels.Set("namespace", "prod");
      env.receivers["loki.secretfilter.s"]->Push(e);
    }
    std::vector<std::string> got;
    for (const auto& e : out.got) got.emplace_back(e.line);
    return got;
  };
  MetricsRegistry m1;
  std::vector<std::string> got =
      run("  redact_with = \"<$SECRET_NAME:$SECRET_HASH>\"\n  origin_label = \"namespace\"\n",
          {"key=AKIAIOSFODNN7EXAMPLE done", "nothing here"}, &m1);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "key=<aws-access-token:25910f981e85ca04baf359199dd0bd4a3ae738b6> done");
  EXPECT_EQ(got[1], "nothing here");
  MetricLabels cat = ComponentLabels("loki.secretfilter.s");
  cat.emplace_back("name", "aws-access-token");
  cat.emplace_back("origin", "prod");
  EXPECT_EQ(m1.CounterValue("loki_secretfilter_secrets_redacted_by_category_total", cat), 1u);

  MetricsRegistry m2;
  const std::string ghp = "ghp_" + std::string(36, 'a');
  got = run("  allowlist = [\"^glpat-keep\"]\n", {"token " + ghp, "gl glpat-keepkeepkeepkeepkeep1"},
            &m2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "token ghp_aaaa...") << "80%: the first 20% of 40 bytes, then ...";
  EXPECT_EQ(got[1], "gl glpat-keepkeepkeepkeepkeep1") << "allowlisted";
  EXPECT_EQ(m2.CounterValue("loki_secretfilter_secrets_redacted_total",
                            ComponentLabels("loki.secretfilter.s")),
            1u);
}

}  // namespace
}  // namespace sluice
