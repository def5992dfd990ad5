// Evaluator: values of every expression kind, Alloy's operator rules and its error messages
// (node text + message, over the node's span).
#include "agent/config/eval.h"

#include <string>

#include "agent/config/parser.h"
#include "gtest/gtest.h"

namespace sluice::config {
namespace {

// Evaluates `expr` written as the value of `x = ...` in file "t.alloy"; on error returns the
// headline of the diagnostic.
struct Result {
  bool ok = false;
  Value value;
  std::string error;
  Span span;
};

Result Eval(std::string_view expr, const Scope& scope = Scope()) {
  Result r;
  Diags d;
  std::optional<File> f = ParseFile("t.alloy", "x = " + std::string(expr) + "\n", &d);
  if (!f) {
    r.error = "parse: " + FormatHeadline(d.list()[0]);
    return r;
  }
  r.ok = EvalExpr("t.alloy", *f->body[0].attr->value, scope, &r.value, &d);
  if (!r.ok) {
    r.error = FormatHeadline(d.list()[0]);
    r.span = d.list()[0].span;
  }
  return r;
}

Value V(std::string_view expr) {
  Result r = Eval(expr);
  EXPECT_TRUE(r.ok) << expr << ": " << r.error;
  return r.value;
}

std::string Err(std::string_view expr) {
  Result r = Eval(expr);
  EXPECT_FALSE(r.ok) << expr;
  return r.error;
}

TEST(EvalTest, Literals) {
  EXPECT_EQ(V("1"), Value::Int(1));
  EXPECT_TRUE(V("1").is_int());
  EXPECT_FALSE(V("1.0").is_int());
  EXPECT_EQ(V("1.5").as_double(), 1.5);
  EXPECT_EQ(V("1e3").as_double(), 1000.0);
  EXPECT_EQ(V("010"), Value::Int(8));   // Go's ParseInt base 0: a leading 0 is octal
  EXPECT_EQ(V("09").as_double(), 9.0);  // not octal, read as a float as Alloy does
  EXPECT_EQ(V("true"), Value::Bool(true));
  EXPECT_TRUE(V("null").is_null());
  EXPECT_EQ(V(R"("a\tb\x41\u00e9")"), Value::String("a\tbA\xC3\xA9"));
  EXPECT_EQ(V("`raw\\n`"), Value::String("raw\\n"));
}

TEST(EvalTest, ArraysAndObjects) {
  Value a = V("[1, \"two\", [3]]");
  ASSERT_EQ(a.as_array().size(), 3u);
  EXPECT_EQ(a.as_array()[2].as_array()[0], Value::Int(3));
  Value o = V("{ b = 1, \"a key\" = 2, b = 3 }");
  EXPECT_EQ(o.as_object().size(), 2u);
  EXPECT_EQ(o.as_object().at("b"), Value::Int(3));  // a repeated key: the last wins
  EXPECT_EQ(o.as_object().at("a key"), Value::Int(2));
}

TEST(EvalTest, Arithmetic) {
  EXPECT_EQ(V("1 + 2 * 3"), Value::Int(7));
  EXPECT_EQ(V("7 / 2"), Value::Int(3));
  EXPECT_EQ(V("7 % 3"), Value::Int(1));
  EXPECT_EQ(V("-7 / 2"), Value::Int(-3));
  EXPECT_EQ(V("2 ^ 3 ^ 2"), Value::Int(512));
  EXPECT_EQ(V("2 ^ 0"), Value::Int(1));
  EXPECT_EQ(V("7.0 / 2").as_double(), 3.5);
  EXPECT_EQ(V("1 + 0.5").as_double(), 1.5);
  EXPECT_EQ(V("7.5 % 2").as_double(), 1.5);
  EXPECT_EQ(V("2.0 ^ 0.5").as_double(), std::pow(2.0, 0.5));
  EXPECT_EQ(V("-(3)"), Value::Int(-3));
  EXPECT_EQ(V("--3"), Value::Int(3));
  EXPECT_EQ(V("9223372036854775807 + 1"), Value::Int(INT64_MIN));  // wraps as Go does
  EXPECT_EQ(V("3 ^ 1000000000000"), Value::Int(static_cast<int64_t>(0x701e17ccabd34001ULL)))
      << "large exponents compute by squaring, not a trillion multiplications";
}

TEST(EvalTest, StringsAndComparisons) {
  EXPECT_EQ(V("\"a\" + \"b\""), Value::String("ab"));
  EXPECT_EQ(V("\"a\" < \"b\""), Value::Bool(true));
  EXPECT_EQ(V("1 == 1.0"), Value::Bool(true));
  EXPECT_EQ(V("1 == \"1\""), Value::Bool(false));  // different types are never equal
  EXPECT_EQ(V("[1, {a = 2}] == [1, {a = 2}]"), Value::Bool(true));
  EXPECT_EQ(V("null != null"), Value::Bool(false));
  EXPECT_EQ(V("2 >= 2 && 1 <= 0 || !false"), Value::Bool(true));
}

TEST(EvalTest, IndexAndAccess) {
  EXPECT_EQ(V("[10, 20][1]"), Value::Int(20));
  EXPECT_EQ(V("{a = {b = 1}}.a.b"), Value::Int(1));
  EXPECT_EQ(V("{a = 1}[\"a\"]"), Value::Int(1));
  EXPECT_TRUE(V("{a = 1}[\"zz\"]").is_null());  // a missing key read with [] is null
  EXPECT_EQ(V("([1, 2])[0]"), Value::Int(1));
}

TEST(EvalTest, OperatorErrors) {
  EXPECT_EQ(Err("1 + \"a\""), "t.alloy:1:9: \"a\" should be number, got string");
  EXPECT_EQ(Err("\"a\" + 1"), "t.alloy:1:11: 1 should be string, got number");
  EXPECT_EQ(Err("true + 1"),
            "t.alloy:1:5: true should be one of [number string capsule] for binop +, got bool");
  EXPECT_EQ(Err("1 + [1]"),
            "t.alloy:1:9: [1] should be one of [number string capsule] for binop +, got array");
  EXPECT_EQ(Err("1 && true"), "t.alloy:1:5: 1 should be one of [bool] for binop &&, got number");
  EXPECT_EQ(Err("\"a\" - \"b\""),
            "t.alloy:1:5: \"a\" should be one of [number] for binop -, got string");
  EXPECT_EQ(Err("{} < 1"),
            "t.alloy:1:5: {} should be one of [number string] for binop <, got object");
  EXPECT_EQ(Err("1 / 0"), "t.alloy:1:9: 0 divide by zero error");
  EXPECT_EQ(Err("1 % (1 - 1)"), "t.alloy:1:9: (1 - 1) divide by zero error");
  EXPECT_EQ(Err("!1"), "t.alloy:1:6: 1 should be bool, got number");
  EXPECT_EQ(Err("-\"a\""), "t.alloy:1:6: \"a\" should be number, got string");
}

TEST(EvalTest, IndexErrors) {
  EXPECT_EQ(Err("[1, 2][5]"), "t.alloy:1:12: 5 index 5 is out of range of array with length 2");
  EXPECT_EQ(Err("[1, 2][-1]"), "t.alloy:1:12: -1 index -1 is out of range of array with length 2");
  // A float index beyond int64 saturates (the C++ cast would be undefined behaviour).
  EXPECT_EQ(Err("[1, 2][1e30]"),
            "t.alloy:1:12: 1e30 index 9223372036854775807 is out of range of array with length 2");
  EXPECT_EQ(Err("[1][\"a\"]"), "t.alloy:1:9: \"a\" should be number, got string");
  EXPECT_EQ(Err("{a = 1}[0]"), "t.alloy:1:13: 0 should be string, got number");
  EXPECT_EQ(Err("\"str\"[0]"), "t.alloy:1:5: \"str\" expected object or array, got string");
  EXPECT_EQ(Err("{a = 1}.b"), "t.alloy:1:13: field \"b\" does not exist");
  EXPECT_EQ(Err("\"s\".b"), "t.alloy:1:5: \"s\" cannot access field \"b\" on value of type string");
}

TEST(EvalTest, ErrorSpanCoversTheNode) {
  Result r = Eval("1 + \"abc\"");
  EXPECT_EQ(r.span.begin.col, 9);
  EXPECT_EQ(r.span.end.col, 14);
  EXPECT_EQ(r.span.file, "t.alloy");
}

TEST(EvalTest, Calls) {
  EXPECT_EQ(V("string.to_upper(\"a\")"), Value::String("A"));
  EXPECT_EQ(Err("\"f\"(1)"), "t.alloy:1:5: \"f\" should be function, got string");
  EXPECT_EQ(Err("string.to_upper(\"a\", \"b\")"),
            "t.alloy:1:5: string.to_upper expected 1 args, got 2");
  EXPECT_EQ(Err("string.join([\"a\", true], \",\")"),
            "t.alloy:1:23: true should be string, got bool");
  EXPECT_EQ(Err("string.join(\"a\", \",\")"), "t.alloy:1:17: \"a\" should be array, got string");
  EXPECT_EQ(Err("encoding.from_json(\"{\")"),
            "t.alloy:1:5: encoding.from_json unexpected end of JSON input");
  EXPECT_EQ(Err("string.nope(1)"), "t.alloy:1:12: field \"nope\" does not exist");
  EXPECT_EQ(Err("nope(1)"), "t.alloy:1:5: identifier \"nope\" does not exist");
}

TEST(EvalTest, ScopeVariablesShadowTheStdlib) {
  Scope scope;
  Object inner;
  inner["receiver"] = Value::MakeCapsule({"loki.LogsReceiver", "loki.write.default"});
  Object write;
  write["default"] = Value::MakeObject(inner);
  Object loki;
  loki["write"] = Value::MakeObject(write);
  scope.Set("loki", Value::MakeObject(loki));
  scope.Set("string", Value::String("shadowed"));
  Result r = Eval("[loki.write.default.receiver]", scope);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.value.as_array()[0].as_capsule().id, "loki.write.default");
  EXPECT_EQ(Eval("string", scope).value, Value::String("shadowed"));
  EXPECT_EQ(Eval("loki.write.default.receiver.x", scope).error,
            "t.alloy:1:5: loki.write.default.receiver expected object or array or a capsule "
            "convertible to an object, got capsule");
  EXPECT_EQ(Eval("loki.write.default.receiver + 1", scope).error,
            "t.alloy:1:35: 1 should be capsule, got number");
}

TEST(EvalTest, Blocks) {
  Diags d;
  std::optional<File> f =
      ParseFile("t.alloy",
                "loki.write \"default\" {\n  endpoint {\n    url = \"http://\" + \"x\"\n  }\n"
                "  endpoint { url = \"b\" }\n  max_streams = 2\n}\n",
                &d);
  ASSERT_TRUE(f);
  Block b;
  ASSERT_TRUE(EvalBlock("t.alloy", *f->body[0].block, Scope(), &b, &d));
  EXPECT_EQ(b.name, "loki.write");
  EXPECT_EQ(b.label, "default");
  EXPECT_EQ(b.span.begin.col, 1);
  EXPECT_EQ(b.span.end.col, 21);
  ASSERT_EQ(b.body.blocks.size(), 2u);
  EXPECT_EQ(b.body.blocks[0].body.attrs[0].value, Value::String("http://x"));
  EXPECT_EQ(b.body.blocks[0].body.attrs[0].name_span.begin.line, 3);
  EXPECT_EQ(b.body.blocks[0].body.attrs[0].value_span.begin.col, 11);
  EXPECT_EQ(b.body.blocks[1].body.attrs[0].value, Value::String("b"));
  ASSERT_EQ(b.body.attrs.size(), 1u);
  EXPECT_EQ(b.body.attrs[0].value, Value::Int(2));
}

TEST(EvalTest, BlockStopsAtTheFirstError) {
  Diags d;
  std::optional<File> f = ParseFile("t.alloy", "b {\n  x = 1 + true\n  y = 1 + false\n}\n", &d);
  ASSERT_TRUE(f);
  Block b;
  EXPECT_FALSE(EvalBlock("t.alloy", *f->body[0].block, Scope(), &b, &d));
  ASSERT_EQ(d.list().size(), 1u);
  EXPECT_EQ(d.list()[0].span.begin.line, 2);
}

}  // namespace
}  // namespace sluice::config
