#include "agent/go/jmespath.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::jmespath {
namespace {

// Evaluates `expr` on `json` and returns the result as JSON text ("<error>" on a runtime error).
std::string Eval(const std::string& expr, const std::string& json) {
  absl::StatusOr<Expression> e = Expression::Compile(expr);
  EXPECT_TRUE(e.ok()) << expr << ": " << e.status();
  if (!e.ok()) return "<compile error>";
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::padded_string padded(json);
  EXPECT_EQ(parser.parse(padded).get(root), simdjson::SUCCESS);
  Value out;
  if (!e->Search(Value::Dom(root), &out)) return "<error>";
  std::string s;
  out.AppendJson(&s);
  return s;
}

std::string CompileError(const std::string& expr) {
  absl::StatusOr<Expression> e = Expression::Compile(expr);
  return e.ok() ? "<ok>" : std::string(e.status().message());
}

constexpr char kDoc[] = R"({
  "a": {"b": {"c": "deep"}}, "s": "str", "n": 125, "f": 1.5, "t": true, "z": null,
  "arr": [1, 2, 3, 4, 5], "objs": [{"k": "x", "v": 1}, {"k": "y"}, {"k": "z", "v": 3}],
  "nested": [[1, 2], [3], 4], "a.b": "dotted", "map": {"p": 1, "q": 2}, "empty": ""
})";

TEST(JmespathTest, Identifiers) {
  EXPECT_EQ(Eval("s", kDoc), R"("str")");
  EXPECT_EQ(Eval("n", kDoc), "125");
  EXPECT_EQ(Eval("f", kDoc), "1.5");
  EXPECT_EQ(Eval("t", kDoc), "true");
  EXPECT_EQ(Eval("z", kDoc), "null");
  EXPECT_EQ(Eval("missing", kDoc), "null");
}

TEST(JmespathTest, SubExpressions) {
  EXPECT_EQ(Eval("a.b.c", kDoc), R"("deep")");
  EXPECT_EQ(Eval("a.b", kDoc), R"({"c":"deep"})");
  EXPECT_EQ(Eval("a.x.c", kDoc), "null");
  EXPECT_EQ(Eval("s.x", kDoc), "null");  // field of a string
}

TEST(JmespathTest, QuotedIdentifiers) {
  EXPECT_EQ(Eval(R"("a.b")", kDoc), R"("dotted")");
  EXPECT_EQ(Eval(R"(a."b".c)", kDoc), R"("deep")");
  EXPECT_EQ(Eval(R"("\u0073")", kDoc), R"("str")");
}

TEST(JmespathTest, Indexes) {
  EXPECT_EQ(Eval("arr[0]", kDoc), "1");
  EXPECT_EQ(Eval("arr[4]", kDoc), "5");
  EXPECT_EQ(Eval("arr[5]", kDoc), "null");
  EXPECT_EQ(Eval("arr[-1]", kDoc), "5");
  EXPECT_EQ(Eval("arr[-5]", kDoc), "1");
  EXPECT_EQ(Eval("arr[-6]", kDoc), "null");
  EXPECT_EQ(Eval("objs[1].k", kDoc), R"("y")");
  EXPECT_EQ(Eval("s[0]", kDoc), "null");
}

TEST(JmespathTest, Slices) {
  EXPECT_EQ(Eval("arr[1:3]", kDoc), "[2,3]");
  EXPECT_EQ(Eval("arr[::2]", kDoc), "[1,3,5]");
  EXPECT_EQ(Eval("arr[::-1]", kDoc), "[5,4,3,2,1]");
  EXPECT_EQ(Eval("arr[-2:]", kDoc), "[4,5]");
  EXPECT_EQ(Eval("s[1:]", kDoc), R"("tr")");
  EXPECT_EQ(Eval("objs[:2].k", kDoc), R"(["x","y"])");
  EXPECT_EQ(Eval("arr[::0]", kDoc), "<error>");
}

TEST(JmespathTest, ListProjections) {
  EXPECT_EQ(Eval("objs[*].k", kDoc), R"(["x","y","z"])");
  // Nulls are left out of projections.
  EXPECT_EQ(Eval("objs[*].v", kDoc), "[1,3]");
  EXPECT_EQ(Eval("s[*]", kDoc), "null");
  EXPECT_EQ(Eval("objs[*].k | [0]", kDoc), R"("x")");
  // Without the pipe the index applies to each projected element.
  EXPECT_EQ(Eval("objs[*].k[0]", kDoc), "[]");
}

TEST(JmespathTest, ObjectProjections) {
  EXPECT_EQ(Eval("map.*", kDoc), "[1,2]");
  EXPECT_EQ(Eval("a.*.c", kDoc), R"(["deep"])");
  EXPECT_EQ(Eval("arr.*", kDoc), "null");
}

TEST(JmespathTest, Flatten) {
  EXPECT_EQ(Eval("nested[]", kDoc), "[1,2,3,4]");
  EXPECT_EQ(Eval("objs[].k", kDoc), R"(["x","y","z"])");
  EXPECT_EQ(CompileError("[[1,[2]],[3]][]"),
            "SyntaxError: Expected TOKRbracket, received: TOKComma");
  EXPECT_EQ(Eval("`[[1,[2]],[3]]`[]", "{}"), "[1,[2],3]");
}

TEST(JmespathTest, Filters) {
  EXPECT_EQ(Eval("objs[?k == 'y'].k", kDoc), R"(["y"])");
  EXPECT_EQ(Eval("objs[?v > `1`].k", kDoc), R"(["z"])");
  EXPECT_EQ(Eval("objs[?v].k", kDoc), R"(["x","z"])");
  EXPECT_EQ(Eval("arr[?@ >= `4`]", kDoc), "[4,5]");
}

TEST(JmespathTest, MultiSelectAndLiterals) {
  EXPECT_EQ(Eval("[s, n]", kDoc), R"(["str",125])");
  EXPECT_EQ(Eval("{x: s, y: a.b.c}", kDoc), R"({"x":"str","y":"deep"})");
  EXPECT_EQ(Eval("'raw'", kDoc), R"("raw")");
  EXPECT_EQ(Eval("`{\"k\": [1]}`", kDoc), R"({"k":[1]})");
}

TEST(JmespathTest, BooleanOperators) {
  EXPECT_EQ(Eval("missing || s", kDoc), R"("str")");
  EXPECT_EQ(Eval("empty || n", kDoc), "125");
  EXPECT_EQ(Eval("s && n", kDoc), "125");
  EXPECT_EQ(Eval("z && n", kDoc), "null");
  EXPECT_EQ(Eval("!t", kDoc), "false");
  EXPECT_EQ(Eval("!empty", kDoc), "true");
  EXPECT_EQ(Eval("s == 'str'", kDoc), "true");
  EXPECT_EQ(Eval("map == `{\"q\": 2, \"p\": 1}`", kDoc), "true");
  EXPECT_EQ(Eval("s < n", kDoc), "null");  // ordering only on numbers
}

TEST(JmespathTest, ArithmeticAndCurrentAndRoot) {
  EXPECT_EQ(Eval("n + `1`", kDoc), "126");
  EXPECT_EQ(Eval("n // `2`", kDoc), "62");
  EXPECT_EQ(Eval("n % `7`", kDoc), "6");
  EXPECT_EQ(Eval("-n", kDoc), "-125");
  EXPECT_EQ(Eval("@.s", kDoc), R"("str")");
  EXPECT_EQ(Eval("a.b | $.s", kDoc), R"("str")");
  EXPECT_EQ(Eval("(a).b.c", kDoc), R"("deep")");
}

TEST(JmespathTest, NullRootGivesNull) { EXPECT_EQ(Eval("a.b", "null"), "null"); }

TEST(JmespathTest, DuplicateKeysLastWins) {
  EXPECT_EQ(Eval("k", R"({"k": 1, "k": 2})"), "2");
  EXPECT_EQ(Eval("@", R"({"k": 1, "k": 2})"), R"({"k":2})");
}

TEST(JmespathTest, ObjectsReMarshalSortedAndEscaped) {
  EXPECT_EQ(Eval("o", R"({"o": {"b": "<&>", "a": [1e-7, 1e21, 0.5, 100]}})"),
            R"({"a":[1e-7,1e+21,0.5,100],"b":"\u003c\u0026\u003e"})");
}

TEST(JmespathTest, SyntaxErrorsLikeGoJmespath) {
  EXPECT_EQ(CompileError("3##@$#33"), "SyntaxError: Unknown char: '#'");
  EXPECT_EQ(CompileError("a."), "SyntaxError: Expected identifier, lbracket, or lbrace");
  EXPECT_EQ(CompileError("a[0"), "SyntaxError: Expected TOKRbracket, received: TOKEOF");
  EXPECT_EQ(CompileError("\"abc"), "SyntaxError: Unclosed delimiter: \"");
  EXPECT_EQ(CompileError(""), "SyntaxError: Incomplete expression");
  EXPECT_EQ(CompileError("a b"),
            "SyntaxError: Unexpected token at the end of the expression: TOKUnquotedIdentifier");
  EXPECT_EQ(CompileError("a[1:2:3:4]"), "SyntaxError: Too many colons in slice expression");
}

TEST(JmespathTest, UnsupportedFeaturesAreNamed) {
  EXPECT_NE(CompileError("length(a)").find("function calls (length())"), std::string::npos);
  EXPECT_NE(CompileError("sort_by(a, &b)").find("not supported"), std::string::npos);
  EXPECT_NE(CompileError("$foo").find("variables"), std::string::npos);
  EXPECT_NE(CompileError("let $x = a in $x").find("let"), std::string::npos);
}

}  // namespace
}  // namespace sluice::jmespath

namespace sluice::jmespath {
namespace {

TEST(JmespathDepthTest, DeepNestingIsAnErrorNotAStackOverflow) {
  absl::StatusOr<Expression> e = Expression::Compile(std::string(100000, '['));
  ASSERT_FALSE(e.ok());
  EXPECT_NE(std::string(e.status().message()).find("nested too deeply"), std::string::npos);
  EXPECT_TRUE(Expression::Compile("a[0][1][2].b.c").ok());
}

}  // namespace
}  // namespace sluice::jmespath
