// Module: loading files and directories, the component graph (order, references, dependents),
// evaluation against exports, and the loader's errors.
#include "agent/config/module.h"

#include <sys/stat.h>

#include <string>

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
