// Formatter: canonical output as `alloy fmt` prints it (checked case by case against Alloy's
// printer), idempotence over the valid test configurations, expression printing.
#include "agent/config/format.h"

#include <dirent.h>

#include <fstream>
#include <sstream>
#include <string>

#include "agent/config/parser.h"
#include "gtest/gtest.h"

namespace sluice::config {
namespace {

std::string Fmt(std::string_view text) {
  Diags d;
  std::string out;
  EXPECT_TRUE(FormatSource("t.alloy", text, &out, &d))
      << RenderAll(d, {{"t.alloy", std::string(text)}});
  return out;
}

std::string ExprText(std::string_view expr) {
  Diags d;
  std::unique_ptr<Expr> e = ParseExpression(expr, &d);
  EXPECT_TRUE(e);
  return e ? FormatExpr(*e) : "";
}

TEST(FormatTest, IndentsAlignsAndKeepsOneBlankLine) {
  EXPECT_EQ(Fmt(R"ALLOY(loki.write "default" {
endpoint {
url = "http://x"
batch_wait = "1s"



batch_size="1MiB" // size
}
  external_labels = {a="1", "b c"=2,
   long_name = 3}
}
logging {}
local.file_match "x" { path_targets = [{"__path__"="/a"},{"__path__"="/b"}] }
/* trailing */
)ALLOY"),
            R"ALLOY(loki.write "default" {
	endpoint {
		url        = "http://x"
		batch_wait = "1s"

		batch_size = "1MiB" // size
	}
	external_labels = {a      = "1", "b c" = 2,
			long_name = 3}
}

logging { }

local.file_match "x" {
	path_targets = [{"__path__" = "/a"}, {"__path__" = "/b"}]
}
/* trailing */
)ALLOY");
}

TEST(FormatTest, CommentsListsAndCalls) {
  EXPECT_EQ(Fmt(R"ALLOY(// header comment



loki.process "p" {
  forward_to = [
    loki.write.a.receiver,
    loki.write.b.receiver,
  ]
  // stage comment
  stage.json {
    expressions = {level = "lvl", msg = "message"}
  }
  stage.match { selector = "{app=\"x\"}" }
}
x.y "z" {
  v = string.format("%s-%s",
    "a", "b")
  w = (1+2)*-3 /* inline */ + 4
  u = a.b[0].c
}
)ALLOY"),
            R"ALLOY(// header comment

loki.process "p" {
	forward_to = [
		loki.write.a.receiver,
		loki.write.b.receiver,
	]
	// stage comment
	stage.json {
		expressions = {level = "lvl", msg = "message"}
	}

	stage.match {
		selector = "{app=\"x\"}"
	}
}

x.y "z" {
	v = string.format("%s-%s",
		"a", "b")
	w = (1 + 2) * -3 /* inline */ + 4
	u = a.b[0].c
}
)ALLOY");
}

TEST(FormatTest, AlignmentRunsEndAfterMultiLineStatements) {
  EXPECT_EQ(Fmt("b {\na = 1\nlonger = {\nx = 1,\n}\nc = 2\nde = 3\n}\n"),
            "b {\n\ta      = 1\n\tlonger = {\n\t\tx = 1,\n\t}\n\tc  = 2\n\tde = 3\n}\n");
}

TEST(FormatTest, ObjectFieldsAlign) {
  EXPECT_EQ(Fmt("x = {\na = 1,\nlong_key = 2,\n\"q k\" = 3,\n}\n"),
            "x = {\n\ta        = 1,\n\tlong_key = 2,\n\t\"q k\"    = 3,\n}\n");
}

TEST(FormatTest, EmptyBlockAndOneLineBlock) {
  EXPECT_EQ(Fmt("a {}\nb { c = 1 }\n"), "a { }\n\nb {\n\tc = 1\n}\n");
}

TEST(FormatTest, TokensThatWouldMerge) {
  EXPECT_EQ(ExprText("1 .a"), "1 .a");  // "1.a" would scan as a float
  EXPECT_EQ(ExprText("a.b"), "a.b");
}

TEST(FormatTest, Expressions) {
  EXPECT_EQ(ExprText("(1+2)*-3"), "(1 + 2) * -3");
  EXPECT_EQ(ExprText("f( a,b )[0].c"), "f(a, b)[0].c");
  EXPECT_EQ(ExprText("{a=1,\"b\"=[true,null]}"), "{a = 1, \"b\" = [true, null]}");
  EXPECT_EQ(ExprText("!x || y"), "!x || y");
}

TEST(FormatTest, SyntaxErrorsAreReported) {
  Diags d;
  std::string out = "untouched";
  EXPECT_FALSE(FormatSource("t.alloy", "a = [1\n", &out, &d));
  EXPECT_EQ(out, "untouched");
  EXPECT_FALSE(d.ok());
}

TEST(FormatTest, IdempotentOnTestConfigs) {
  const std::string dir = std::string(SLUICE_SOURCE_DIR) + "/tests/config/testdata/valid";
  DIR* d = opendir(dir.c_str());
  ASSERT_NE(d, nullptr);
  int files = 0;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() < 6 || name.substr(name.size() - 6) != ".alloy") continue;
    ++files;
    std::ifstream in(dir + "/" + name, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string once = Fmt(ss.str());
    EXPECT_EQ(Fmt(once), once) << name;
  }
  closedir(d);
  EXPECT_GE(files, 2);
}

TEST(FormatTest, CanonicalPipelineIsUnchanged) {
  std::ifstream in(
      std::string(SLUICE_SOURCE_DIR) + "/tests/config/testdata/valid/k8s_pod_logs.alloy",
      std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(Fmt(ss.str()), ss.str());
}

}  // namespace
}  // namespace sluice::config
