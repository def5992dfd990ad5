// Module: loading files and directories, the component graph (order, references, dependents),
// evaluation against exports, and the loader's errors.
#include "agent/config/module.h"

#include <sys/stat.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/config/test_registry.h"
#include "tests/support/temp_dir.h"

namespace sluice::config {
namespace {

using sluice::testing::TempDir;
using sluice::testing::WriteFile;
using test::FakeExports;
using test::TestRegistry;

constexpr char kPipeline[] = R"(logging {
	level = sys.env("SLUICE_MODULE_TEST_LEVEL")
}

loki.write "default" {
	endpoint {
		url = "http://loki:3100/loki/api/v1/push"
	}
}

loki.source.file "pods" {
	targets    = local.file_match.pods.targets
	forward_to = [loki.process.pods.receiver]
}

loki.process "pods" {
	forward_to = [loki.write.default.receiver]
}

local.file_match "pods" {
	path_targets = discovery.relabel.pods.output
}

discovery.relabel "pods" {
	targets = discovery.kubernetes.pods.targets
}

discovery.kubernetes "pods" {
	role = "pod"
}
)";

std::string Errors(const Diags& d, const std::map<std::string, std::string>& sources = {}) {
  return RenderAll(d, sources);
}

std::vector<std::string> Ids(const std::vector<const Component*>& cs) {
  std::vector<std::string> out;
  for (const Component* c : cs) out.push_back(c->id);
  return out;
}

TEST(ModuleTest, OrderPutsDependenciesFirst) {
  Diags d;
  std::optional<Module> m = Module::Parse("config.alloy", kPipeline, TestRegistry(), &d);
  ASSERT_TRUE(m) << Errors(d);
  EXPECT_EQ(Ids(m->Order()),
            (std::vector<std::string>{"loki.write.default", "loki.process.pods",
                                      "discovery.kubernetes.pods", "discovery.relabel.pods",
                                      "local.file_match.pods", "loki.source.file.pods"}));
  EXPECT_EQ(Ids(m->ConfigBlocks()), std::vector<std::string>{"logging"});
  EXPECT_EQ(m->All().size(), 7u);
  const Component* src = m->Find("loki.source.file.pods");
  ASSERT_NE(src, nullptr);
  EXPECT_EQ(src->name, "loki.source.file");
  EXPECT_EQ(src->label, "pods");
  EXPECT_EQ(src->deps, (std::vector<std::string>{"local.file_match.pods", "loki.process.pods"}));
  EXPECT_EQ(src->span.begin.line, 11);
  EXPECT_EQ(src->file, "config.alloy");
  EXPECT_EQ(m->Find("nope"), nullptr);
  EXPECT_TRUE(m->Find("logging")->config_block);
}

TEST(ModuleTest, Dependents) {
  Diags d;
  std::optional<Module> m = Module::Parse("config.alloy", kPipeline, TestRegistry(), &d);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->DirectDependents("loki.write.default"),
            std::vector<std::string>{"loki.process.pods"});
  EXPECT_EQ(m->Dependents("loki.write.default"),
            (std::vector<std::string>{"loki.process.pods", "loki.source.file.pods"}));
  EXPECT_EQ(m->Dependents("discovery.kubernetes.pods"),
            (std::vector<std::string>{"discovery.relabel.pods", "local.file_match.pods",
                                      "loki.source.file.pods"}));
  EXPECT_TRUE(m->Dependents("loki.source.file.pods").empty());
}

TEST(ModuleTest, EvaluateSeesExportsAndStdlib) {
  setenv("SLUICE_MODULE_TEST_LEVEL", "debug", 1);
  Diags d;
  std::optional<Module> loaded = Module::Parse("config.alloy", kPipeline, TestRegistry(), &d);
  ASSERT_TRUE(loaded);
  Module m = std::move(*loaded);  // movable: components and trees stay valid
  Block logging;
  ASSERT_TRUE(m.Evaluate(*m.Find("logging"), &logging, &d)) << Errors(d, m.sources());
  EXPECT_EQ(logging.body.attrs[0].value, Value::String("debug"));

  for (const Component* c : m.Order()) {
    Block b;
    ASSERT_TRUE(m.Evaluate(*c, &b, &d)) << c->id << Errors(d, m.sources());
    EXPECT_EQ(b.name, c->name);
    EXPECT_EQ(b.label, c->label);
    if (c->id == "loki.source.file.pods") {
      const Value& fwd = b.body.attrs[1].value;
      ASSERT_EQ(fwd.as_array().size(), 1u);
      EXPECT_EQ(fwd.as_array()[0].as_capsule(),
                (Capsule{"loki.LogsReceiver", "loki.process.pods"}));
    }
    m.SetExports(c->id, FakeExports(*c));
  }
  ASSERT_NE(m.Exports("loki.write.default"), nullptr);
  EXPECT_EQ(m.Exports("nope"), nullptr);
}

TEST(ModuleTest, ExportsNotSetYetAreEmpty) {
  Diags d;
  std::optional<Module> m = Module::Parse("config.alloy", kPipeline, TestRegistry(), &d);
  ASSERT_TRUE(m);
  Block b;
  EXPECT_FALSE(m->Evaluate(*m->Find("loki.process.pods"), &b, &d));
  ASSERT_EQ(d.list().size(), 1u);
  EXPECT_EQ(FormatHeadline(d.list()[0]), "config.alloy:17:35: field \"receiver\" does not exist");
}

// A discovery export held as a target list (Value::MakeTargets) indexes like any array of objects.
TEST(ModuleTest, TargetListExportsIndexLikeArrays) {
  Diags d;
  std::optional<Module> m =
      Module::Parse("c.alloy",
                    "logging {\n\tlevel = discovery.kubernetes.k.targets[1][\"level\"]\n}\n"
                    "discovery.kubernetes \"k\" {\n\trole = \"pod\"\n}\n",
                    TestRegistry(), &d);
  ASSERT_TRUE(m) << Errors(d);
  TargetList list(2);
  list[0].Set("level", "info");
  list[1].Set("level", "debug");
  m->SetExports("discovery.kubernetes.k",
                Value::MakeObject(
                    {{"targets", Value::MakeTargets(std::make_shared<const TargetList>(list))}}));
  Block b;
  ASSERT_TRUE(m->Evaluate(*m->Find("logging"), &b, &d)) << Errors(d, m->sources());
  EXPECT_EQ(b.body.attrs[0].value, Value::String("debug"));
}

TEST(ModuleTest, MissingExportField) {
  Diags d;
  std::optional<Module> m = Module::Parse(
      "c.alloy",
      "loki.write \"w\" {}\nloki.process \"p\" {\n\tforward_to = [loki.write.w.nope]\n}\n",
      TestRegistry(), &d);
  ASSERT_TRUE(m) << Errors(d);
  m->SetExports("loki.write.w", FakeExports(*m->Find("loki.write.w")));
  Block b;
  EXPECT_FALSE(m->Evaluate(*m->Find("loki.process.p"), &b, &d));
  EXPECT_EQ(FormatHeadline(d.list()[0]), "c.alloy:3:29: field \"nope\" does not exist");
}

TEST(ModuleTest, LoadDirectoryReadsOnlyAlloyFilesSorted) {
  TempDir dir;
  WriteFile(dir.Join("b.alloy"),
            "loki.process \"p\" {\n\tforward_to = [loki.write.w.receiver]\n}\n");
  WriteFile(dir.Join("a.alloy"), "loki.write \"w\" {\n}\n");
  WriteFile(dir.Join("notes.txt"), "# not alloy");
  mkdir(dir.Join("sub.alloy").c_str(), 0755);
  WriteFile(dir.Join("sub.alloy/c.alloy"), "# not read");
  Diags d;
  std::optional<Module> m = Module::Load(dir.path(), TestRegistry(), &d);
  ASSERT_TRUE(m) << Errors(d);
  ASSERT_EQ(m->sources().size(), 2u);
  EXPECT_EQ(m->sources().begin()->first, dir.path() + "/a.alloy");
  EXPECT_EQ(m->Find("loki.process.p")->file, dir.path() + "/b.alloy");
  EXPECT_EQ(Ids(m->Order()), (std::vector<std::string>{"loki.write.w", "loki.process.p"}));
  Block b;
  Diags ed;
  EXPECT_FALSE(m->Evaluate(*m->Find("loki.process.p"), &b, &ed));
  EXPECT_EQ(ed.list()[0].span.file, dir.path() + "/b.alloy");
}

TEST(ModuleTest, ErrorsNameTheFileTheyAreIn) {
  TempDir dir;
  WriteFile(dir.Join("a.alloy"), "loki.write \"w\" {\n}\n");
  WriteFile(dir.Join("b.alloy"), "\nloki.write \"w\" {\n}\n");
  Diags d;
  EXPECT_FALSE(Module::Load(dir.path(), TestRegistry(), &d));
  ASSERT_EQ(d.list().size(), 1u);
  EXPECT_EQ(FormatHeadline(d.list()[0]),
            dir.path() + "/b.alloy:2:1: block loki.write.w already declared at " + dir.path() +
                "/a.alloy:1:1");
}

TEST(ModuleTest, ParseErrorsFromEveryFile) {
  Diags d;
  std::map<std::string, std::string> sources{{"a.alloy", "# x\n"}, {"b.alloy", "a = 'x'\n"}};
  EXPECT_FALSE(Module::ParseSources(sources, TestRegistry(), &d));
  ASSERT_EQ(d.list().size(), 4u);
  EXPECT_EQ(d.list()[0].span.file, "a.alloy");
  EXPECT_EQ(d.list()[2].span.file, "b.alloy");
}

TEST(ModuleTest, MissingPath) {
  Diags d;
  EXPECT_FALSE(Module::Load("/nonexistent/sluice.alloy", TestRegistry(), &d));
  ASSERT_EQ(d.list().size(), 1u);
  EXPECT_EQ(FormatHeadline(d.list()[0]),
            "/nonexistent/sluice.alloy: stat /nonexistent/sluice.alloy: No such file or directory");
}

TEST(ModuleTest, GraphErrors) {
  auto errors = [](std::string text) {
    Diags d;
    EXPECT_FALSE(Module::Parse("c.alloy", text, TestRegistry(), &d));
    std::string out;
    for (const Diagnostic& x : d.list()) out += FormatHeadline(x) + "\n";
    return out;
  };
  EXPECT_EQ(errors("foo.bar \"x\" {}\n"),
            "c.alloy:1:1: cannot find the definition of component name \"foo.bar\"\n");
  EXPECT_EQ(errors("loki.write {}\n"), "c.alloy:1:1: component \"loki.write\" must have a label\n");
  EXPECT_EQ(errors("logging {}\nlogging {}\n"),
            "c.alloy:2:1: block logging already declared at c.alloy:1:1\n");
  EXPECT_EQ(errors("logging \"x\" {}\n"),
            "c.alloy:1:1: block \"logging\" does not support specifying labels\n");
  EXPECT_EQ(errors("loki.process \"p\" {\n\tforward_to = [nothing.here]\n}\n"),
            "c.alloy:2:16: component \"nothing.here\" does not exist or is out of scope\n");
  EXPECT_EQ(errors("x = 1\n"), "c.alloy:1:1: unrecognized attribute x\n");
  EXPECT_EQ(errors("loki.process \"a\" {\n\tf = [loki.process.b.receiver]\n}\n"
                   "loki.process \"b\" {\n\tf = [loki.process.c.receiver]\n}\n"
                   "loki.process \"c\" {\n\tf = [loki.process.a.receiver]\n}\n"),
            "-: cycle: loki.process.c, loki.process.b, loki.process.a\n");
  EXPECT_EQ(errors("loki.process \"a\" {\n\tf = loki.process.a.receiver\n}\n"),
            "-: self reference: loki.process.a\n");
}

// Evaluates every node in dependency order as the Runtime does (components get FakeExports).
// Returns "" or the first error.
std::string EvaluateAll(Module& m, std::map<std::string, Block>* blocks = nullptr) {
  Diags d;
  for (const Component* c : m.All()) {
    if (c->is_value()) {
      if (!m.EvaluateValue(*c, &d)) return Errors(d, m.sources());
      continue;
    }
    Block b;
    if (!m.Evaluate(*c, &b, &d)) return Errors(d, m.sources());
    if (blocks != nullptr) (*blocks)[c->id] = b;
    if (!c->config_block) m.SetExports(c->id, FakeExports(*c));
  }
  return "";
}

// The shape the k8s-monitoring chart renders: a declare per feature whose argument carries the
// destinations, instantiated once, its components prefixed with the instance's id.
TEST(ModuleTest, DeclareExpandsIntoPrefixedComponentsWithArgumentsAndExports) {
  constexpr char kConfig[] = R"(declare "pod_logs" {
  argument "logs_destinations" {
    comment = "Must be a list of log destinations where collected logs should be forwarded to"
  }
  argument "job" {
    optional = true
    default  = "pods"
  }
  loki.process "pod_logs" {
    stage.static_labels {
      values = { job = argument.job.value }
    }
    forward_to = argument.logs_destinations.value
  }
  export "input" {
    value = loki.process.pod_logs.receiver
  }
}

pod_logs "feature" {
  logs_destinations = [loki.write.default.receiver]
}

loki.relabel "front" {
  forward_to = [pod_logs.feature.input]
}

loki.write "default" {
  endpoint {
    url = "http://loki:3100/loki/api/v1/push"
  }
}
)";
  Diags d;
  std::optional<Module> loaded = Module::Parse("c.alloy", kConfig, TestRegistry(), &d);
  ASSERT_TRUE(loaded) << Errors(d, {{"c.alloy", kConfig}});
  Module m = std::move(*loaded);
  EXPECT_EQ(Ids(m.Order()), (std::vector<std::string>{"loki.write.default",
                                                      "pod_logs.feature/loki.process.pod_logs",
                                                      "loki.relabel.front"}));
  std::map<std::string, Block> blocks;
  ASSERT_EQ(EvaluateAll(m, &blocks), "");
  const Block& inner = blocks.at("pod_logs.feature/loki.process.pod_logs");
  EXPECT_EQ(inner.body.attrs[0].value.as_array()[0].as_capsule().id, "loki.write.default");
  EXPECT_EQ(inner.body.blocks[0].body.attrs[0].value.as_object().at("job"), Value::String("pods"));
  const Block& front = blocks.at("loki.relabel.front");
  EXPECT_EQ(front.body.attrs[0].value.as_array()[0].as_capsule().id,
            "pod_logs.feature/loki.process.pod_logs");
  // The argument's dependents are the body's components, then the export and the instance.
  EXPECT_EQ(
      m.Dependents("loki.write.default"),
      (std::vector<std::string>{
          "loki.relabel.front", "pod_logs.feature", "pod_logs.feature/argument.logs_destinations",
          "pod_logs.feature/export.input", "pod_logs.feature/loki.process.pod_logs"}));
}

TEST(ModuleTest, DeclareScopingNestingAndInstancesTwice) {
  // Nested declares, a top-level declare used from inside another, two instances.
  constexpr char kConfig[] = R"(declare "leaf" {
  argument "to" { }
  loki.relabel "r" {
    forward_to = argument.to.value
  }
  export "input" {
    value = loki.relabel.r.receiver
  }
}
declare "outer" {
  argument "to" { }
  declare "inner" {
    argument "to" { }
    leaf "l" {
      to = argument.to.value
    }
    export "input" {
      value = leaf.l.input
    }
  }
  inner "i" {
    to = argument.to.value
  }
  export "input" {
    value = inner.i.input
  }
}
outer "a" {
  to = [loki.write.w.receiver]
}
outer "b" {
  to = [outer.a.input]
}
loki.write "w" {
  endpoint {
    url = "http://loki/push"
  }
}
)";
  Diags d;
  std::optional<Module> loaded = Module::Parse("c.alloy", kConfig, TestRegistry(), &d);
  ASSERT_TRUE(loaded) << Errors(d, {{"c.alloy", kConfig}});
  Module m = std::move(*loaded);
  EXPECT_EQ(Ids(m.Order()),
            (std::vector<std::string>{"loki.write.w", "outer.a/inner.i/leaf.l/loki.relabel.r",
                                      "outer.b/inner.i/leaf.l/loki.relabel.r"}));
  std::map<std::string, Block> blocks;
  ASSERT_EQ(EvaluateAll(m, &blocks), "");
  EXPECT_EQ(blocks.at("outer.b/inner.i/leaf.l/loki.relabel.r")
                .body.attrs[0]
                .value.as_array()[0]
                .as_capsule()
                .id,
            "outer.a/inner.i/leaf.l/loki.relabel.r");
}

TEST(ModuleTest, DeclareErrorsAsAlloy) {
  auto errors = [](std::string text) {
    Diags d;
    EXPECT_FALSE(Module::Parse("c.alloy", text, TestRegistry(), &d));
    std::string out;
    for (const Diagnostic& x : d.list()) out += FormatHeadline(x) + "\n";
    return out;
  };
  EXPECT_EQ(errors("declare \"m\" {\n  argument \"to\" { }\n}\nm \"x\" { }\n"),
            "c.alloy:2:3: missing required argument \"to\" to module\n");
  EXPECT_EQ(errors("declare \"m\" { }\nm \"x\" {\n  extra = 1\n}\n"),
            "c.alloy:3:3: Provided argument \"extra\" is not defined in the module\n");
  EXPECT_EQ(errors("argument \"a\" { }\n"),
            "c.alloy:1:1: argument blocks only allowed inside a module\n");
  EXPECT_EQ(errors("declare \"m\" {\n  logging { }\n}\nm \"x\" { }\n"),
            "c.alloy:2:3: logging block not allowed inside a module\n");
  // A declare body sees nothing of the file around it.
  EXPECT_EQ(
      errors("loki.write \"w\" {}\ndeclare \"m\" {\n  loki.relabel \"r\" {\n"
             "    forward_to = [loki.write.w.receiver]\n  }\n}\nm \"x\" { }\n"),
      "c.alloy:4:19: component \"loki.write.w.receiver\" does not exist or is out of scope\n");
  EXPECT_EQ(
      errors("declare \"a\" {\n  b \"x\" { }\n}\ndeclare \"b\" {\n  a \"y\" { }\n}\na \"z\" { }\n"),
      "c.alloy:5:3: cycle: declare.a, declare.b\n");
  EXPECT_EQ(errors("declare \"a\" {\n  a \"x\" { }\n}\na \"z\" { }\n"),
            "c.alloy:2:3: self reference: declare.a\n");
  EXPECT_EQ(errors("declare \"m\" { }\ndeclare \"m\" { }\n"),
            "c.alloy:2:1: block declare.m already declared at c.alloy:1:1\n");
  // Instances of instances multiply; the expansion is bounded.
  std::string bomb = "declare \"d0\" {\n  loki.echo \"e\" { }\n}\n";
  for (int i = 1; i <= 20; ++i) {
    bomb += absl::StrCat("declare \"d", i, "\" {\n  d", i - 1, " \"a\" { }\n  d", i - 1,
                         " \"b\" { }\n}\n");
  }
  bomb += "d20 \"top\" { }\n";
  EXPECT_THAT(errors(bomb), ::testing::HasSubstr("expand to more than 20000 components"));
  // An unused declare is not checked (Alloy checks a body when it is instantiated).
  Diags d;
  EXPECT_TRUE(
      Module::Parse("c.alloy", "declare \"m\" {\n  nope.nope \"x\" { }\n}\n", TestRegistry(), &d));
}

TEST(ModuleTest, ImportFileAndStringModules) {
  TempDir dir;
  WriteFile(dir.Join("mods/filters.alloy"), R"(declare "drop_debug" {
  argument "to" { }
  loki.process "p" {
    forward_to = argument.to.value
  }
  export "input" {
    value = loki.process.p.receiver
  }
}
)");
  WriteFile(dir.Join("mods/more.alloy"), R"(declare "wrap" {
  argument "to" { }
  drop_debug "d" {
    to = argument.to.value
  }
  export "input" {
    value = drop_debug.d.input
  }
}
)");
  WriteFile(dir.Join("bad.alloy"), "loki.write \"w\" { }\n");
  std::string config = R"(import.file "mods" {
  filename = file.path_join(module_path, "mods")
}
import.string "inline" {
  content = "declare \"echo\" {\n  loki.echo \"e\" { }\n  export \"input\" {\n    value = loki.echo.e.receiver\n  }\n}\n"
}
mods.wrap "w" {
  to = [inline.echo.x.input]
}
inline.echo "x" { }
)";
  WriteFile(dir.Join("config.alloy"), config);
  Diags d;
  std::optional<Module> loaded = Module::Load(dir.Join("config.alloy"), TestRegistry(), &d);
  ASSERT_TRUE(loaded) << Errors(d);
  Module m = std::move(*loaded);
  EXPECT_EQ(Ids(m.Order()), (std::vector<std::string>{"inline.echo.x/loki.echo.e",
                                                      "mods.wrap.w/drop_debug.d/loki.process.p"}));
  ASSERT_EQ(EvaluateAll(m), "");
  ASSERT_EQ(m.imports().size(), 2u);
  EXPECT_EQ(m.imports()[0].kind, "file");
  EXPECT_EQ(m.imports()[0].sources.size(), 2u) << "a directory: every *.alloy in it";

  // A module holds only declare and import blocks; errors name the module's file.
  WriteFile(dir.Join("config.alloy"),
            "import.file \"m\" {\n  filename = \"" + dir.Join("bad.alloy") + "\"\n}\n");
  d.Clear();
  EXPECT_FALSE(Module::Load(dir.Join("config.alloy"), TestRegistry(), &d));
  EXPECT_EQ(FormatHeadline(d.list().at(0)),
            dir.Join("bad.alloy") +
                ":1:1: only declare and import blocks are allowed in a module, got loki.write");
  WriteFile(dir.Join("config.alloy"),
            "import.file \"m\" {\n  filename = \"/nonexistent/x.alloy\"\n}\n");
  d.Clear();
  EXPECT_FALSE(Module::Load(dir.Join("config.alloy"), TestRegistry(), &d));
  EXPECT_EQ(d.list().at(0).message,
            "Failed to evaluate node for config block: failed to read file: stat "
            "/nonexistent/x.alloy: No such file or directory");
}

// import.string's content from another component's export, as Alloy's documentation shows it:
// the value components it names are read first (through Registry::read_value) and recorded for
// the poller.
TEST(ModuleTest, ImportStringContentFromAValueComponent) {
  Registry r = TestRegistry();
  r.components.insert("local.file");
  std::vector<std::string> asked;
  r.read_value = [&](const std::string& name, const Block& args, absl::Duration* poll) {
    asked.push_back(name + " " + args.body.attrs.at(0).value.as_string());
    *poll = absl::Seconds(30);
    Object o;
    o["content"] = Value::Secret(
        "declare \"echo\" {\n  loki.echo \"e\" { }\n  export \"input\" {\n"
        "    value = loki.echo.e.receiver\n  }\n}\n");
    return absl::StatusOr<Value>(Value::MakeObject(std::move(o)));
  };
  std::string config = R"(local.file "mod" {
  filename = "/etc/sluice/echo.alloy"
}
local.file "unused" {
  filename = "/etc/sluice/other.alloy"
}
import.string "inline" {
  content = local.file.mod.content
}
inline.echo "x" { }
)";
  Diags d;
  std::optional<Module> loaded = Module::Parse("config.alloy", config, r, &d);
  ASSERT_TRUE(loaded) << Errors(d);
  EXPECT_EQ(asked, std::vector<std::string>{"local.file /etc/sluice/echo.alloy"})
      << "only what the content uses is read";
  ASSERT_EQ(loaded->imports().size(), 1u);
  const LoadedImport& li = loaded->imports()[0];
  EXPECT_EQ(li.kind, "string");
  ASSERT_EQ(li.value_sources.size(), 1u);
  EXPECT_EQ(li.value_sources[0].name, "local.file");
  EXPECT_EQ(li.poll_frequency, absl::Seconds(30));
  EXPECT_NE(loaded->Find("inline.echo.x/loki.echo.e"), nullptr);

  // Unreadable: the import block's error says why.
  r.read_value = [](const std::string&, const Block&, absl::Duration*) {
    return absl::StatusOr<Value>(absl::NotFoundError("failed to read file: no such file"));
  };
  d.Clear();
  EXPECT_FALSE(Module::Parse("config.alloy", config, r, &d));
  ASSERT_FALSE(d.list().empty());
  EXPECT_EQ(FormatHeadline(d.list().at(0)),
            "config.alloy:7:1: Failed to evaluate node for config block: local.file.mod: failed "
            "to read file: no such file");
}

TEST(ModuleTest, StdlibNamesAreNotReferences) {
  Diags d;
  std::optional<Module> m =
      Module::Parse("c.alloy",
                    "logging {\n\tlevel = string.to_lower(coalesce(env(\"X\"), constants.os))\n"
                    "\tformat = [1, 2][0] + encoding.from_json(\"{}\").x\n}\n",
                    TestRegistry(), &d);
  ASSERT_TRUE(m) << Errors(d);
  EXPECT_TRUE(m->Find("logging")->deps.empty());
}

TEST(ModuleTest, EmptyConfig) {
  Diags d;
  std::optional<Module> m = Module::Parse("c.alloy", "// nothing\n", TestRegistry(), &d);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->All().empty());
}

TEST(DiagTest, RenderMultiLineSpan) {
  Diagnostic d{Span{"f.alloy", {2, 3}, {4, 2}}, "boom"};
  std::map<std::string, std::string> src{{"f.alloy", "a\nbcdef\nx\nyz\nlast\n"}};
  EXPECT_EQ(Render(d, src),
            "Error: f.alloy:2:3: boom\n\n"
            "1 |   a\n"
            "2 |   bcdef\n"
            "  |  ___^^^\n"
            "3 | | x\n"
            "4 | | yz\n"
            "  | |_^\n"
            "5 |   last\n");
}

TEST(DiagTest, RenderTabsAndWidth) {
  Diagnostic d{Span{"f.alloy", {10, 2}, {10, 4}}, "bad"};
  std::string text;
  for (int i = 1; i <= 9; ++i) text += "l\n";
  text += "\tab\n";
  std::map<std::string, std::string> src{{"f.alloy", text}};
  EXPECT_EQ(Render(d, src),
            "Error: f.alloy:10:2: bad\n\n"
            " 9 | l\n"
            "10 |     ab\n"
            "   |     ^^\n"
            "11 | \n");
}

TEST(DiagTest, HeadlineWithoutPosition) {
  EXPECT_EQ(FormatHeadline(Diagnostic{Span{}, "cycle: a, b"}), "-: cycle: a, b");
  EXPECT_EQ(FormatHeadline(Diagnostic{Span{"f", {}, {}}, "m"}), "f: m");
  EXPECT_EQ(Render(Diagnostic{Span{}, "x"}, {}), "Error: -: x\n");
}

}  // namespace
}  // namespace sluice::config
