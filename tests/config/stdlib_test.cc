// Standard library: names (current and deprecated), behaviour as Go's functions behave, and the
// errors users see.
#include "agent/config/stdlib.h"

#include <stdlib.h>

#include <string>

#include "agent/config/eval.h"
#include "agent/config/json_value.h"
#include "agent/config/parser.h"
#include "gtest/gtest.h"

namespace sluice::config {
namespace {

struct Result {
  bool ok = false;
  Value value;
  std::string error;
};

Result Eval(std::string_view expr) {
  Result r;
  Diags d;
  std::optional<File> f = ParseFile("t.alloy", "x = " + std::string(expr) + "\n", &d);
  if (!f) {
    r.error = "parse: " + FormatHeadline(d.list()[0]);
    return r;
  }
  r.ok = EvalExpr("t.alloy", *f->body[0].attr->value, Scope(), &r.value, &d);
  if (!r.ok) r.error = d.list()[0].message;
  return r;
}

std::string S(std::string_view expr) {
  Result r = Eval(expr);
  EXPECT_TRUE(r.ok) << expr << ": " << r.error;
  if (!r.ok || r.value.kind() != Value::Kind::kString) return "<" + r.value.ToString() + ">";
  return r.value.as_string();
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

TEST(StdlibTest, SysEnv) {
  setenv("SLUICE_STDLIB_TEST", "value", 1);
  unsetenv("SLUICE_STDLIB_UNSET");
  EXPECT_EQ(S("sys.env(\"SLUICE_STDLIB_TEST\")"), "value");
  EXPECT_EQ(S("sys.env(\"SLUICE_STDLIB_UNSET\")"), "");
  EXPECT_EQ(S("env(\"SLUICE_STDLIB_TEST\")"), "value");  // deprecated alias
}

TEST(StdlibTest, Coalesce) {
  EXPECT_EQ(S("coalesce(\"\", null, \"x\", \"y\")"), "x");
  EXPECT_EQ(V("coalesce(0, false, [], {}, 5)"), Value::Int(5));
  EXPECT_EQ(V("coalesce(\"\", [])"), Value::MakeArray({}));  // all empty: the last
  EXPECT_TRUE(V("coalesce()").is_null());
}

TEST(StdlibTest, Constants) {
  EXPECT_EQ(S("constants.os"), "linux");
  EXPECT_FALSE(S("constants.arch").empty());
  EXPECT_EQ(S("constants.version").substr(0, 1), "v");
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  EXPECT_EQ(S("constants.hostname"), host);
}

TEST(StdlibTest, StringFunctions) {
  EXPECT_EQ(S("string.join([\"a\", \"b\", 1], \"-\")"), "a-b-1");
  EXPECT_EQ(S("string.replace(\"aXbX\", \"X\", \"_\")"), "a_b_");
  EXPECT_EQ(S("string.replace(\"ab\", \"\", \"-\")"), "-a-b-");
  EXPECT_EQ(V("string.split(\"a,b,,c\", \",\")"),
            Value::MakeArray(
                {Value::String("a"), Value::String("b"), Value::String(""), Value::String("c")}));
  EXPECT_EQ(V("string.split(\"\", \",\")"), Value::MakeArray({Value::String("")}));
  EXPECT_EQ(S("string.to_lower(\"AbC\\u00c9\")"), "abc\xC3\xA9");
  EXPECT_EQ(S("string.to_upper(\"abc\\u00e9\")"), "ABC\xC3\x89");
  EXPECT_EQ(S("string.trim(\"xxhixyx\", \"xy\")"), "hi");
  EXPECT_EQ(S("string.trim_prefix(\"prefix-body\", \"prefix-\")"), "body");
  EXPECT_EQ(S("string.trim_prefix(\"body\", \"prefix-\")"), "body");
  EXPECT_EQ(S("string.trim_suffix(\"body.log\", \".log\")"), "body");
  EXPECT_EQ(S("string.trim_space(\" \\t x y \\n\")"), "x y");
  EXPECT_EQ(S("string.to_upper(12)"), "12");  // numbers convert to strings
  EXPECT_EQ(S("string.to_upper(1.5)"), "1.5");
  EXPECT_EQ(S("string.to_upper(null)"), "");  // null is the zero value
  // Deprecated top-level aliases.
  EXPECT_EQ(S("join(split(\"a b\", \" \"), \"+\")"), "a+b");
  EXPECT_EQ(S("replace(to_lower(\"AB\"), \"a\", \"c\")"), "cb");
  EXPECT_EQ(S("trim_space(trim_suffix(trim_prefix(trim(\"_x_\", \"_\"), \"\"), \"\"))"), "x");
  EXPECT_EQ(S("format(\"%s\", to_upper(\"a\"))"), "A");
}

TEST(StdlibTest, StringFunctionErrors) {
  EXPECT_EQ(Err("string.to_upper(true)"), "true should be string, got bool");
  EXPECT_EQ(Err("string.join([\"a\", [1]], \",\")"), "[1] should be string, got array");
  EXPECT_EQ(Err("string.replace(\"a\", \"b\")"), "string.replace expected 3 args, got 2");
  EXPECT_EQ(Err("string.format()"), "string.format expected at least 1 args, got 0");
}

TEST(StdlibTest, Format) {
  EXPECT_EQ(S("string.format(\"%s:%d\", \"host\", 3100)"), "host:3100");
  EXPECT_EQ(S("string.format(\"%v %v %v %v\", 1, 1.5, true, null)"), "1 1.5 true <nil>");
  EXPECT_EQ(S("string.format(\"%q\", \"a\\\"b\")"), "\"a\\\"b\"");
  EXPECT_EQ(S("string.format(\"%.2f|%5d|%-4s|%05d|%x|%X|%o|%b\", 3.14159, 42, \"ab\", -42, 255, "
              "255, 8, 5)"),
            "3.14|   42|ab  |-0042|ff|FF|10|101");
  EXPECT_EQ(S("string.format(\"%e %g %G\", 1234.5678, 0.000012345, 1e21)"),
            "1.234568e+03 1.2345e-05 1E+21");
  EXPECT_EQ(S("string.format(\"100%%\")"), "100%");
  EXPECT_EQ(S("string.format(\"%d\", \"x\")"), "%!d(string=x)");
  EXPECT_EQ(S("string.format(\"%s\", 5)"), "%!s(int=5)");
  EXPECT_EQ(S("string.format(\"%d\", 1.5)"), "%!d(float64=1.5)");
  EXPECT_EQ(S("string.format(\"%d %d\", 1)"), "1 %!d(MISSING)");
  EXPECT_EQ(S("string.format(\"%d\", 1, \"a\")"), "1%!(EXTRA string=a)");
  EXPECT_EQ(S("string.format(\"%v\", [1, \"a\"])"), "[1 a]");
  EXPECT_EQ(S("string.format(\"%v\", {b = 1, a = 2})"), "map[a:2 b:1]");
  EXPECT_EQ(S("string.format(\"%t %v\", false, 1000000.0)"), "false 1e+06");
  EXPECT_EQ(S("string.format(\"%c%U\", 65, 65)"), "AU+0041");
  EXPECT_EQ(S("string.format(\"%*d|%.1s\", 4, 7, \"xyz\")"), "   7|x");
}

TEST(StdlibTest, ResultsAreBounded) {
  EXPECT_EQ(Err("string.format(\"%1000000d%1000000d%1000000d%1000000d%1000000d%1000000d%1000000d"
                "%1000000d%1000000d%1000000d%1000000d%1000000d%1000000d%1000000d%1000000d%1000000d"
                "%1000000d\", 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)"),
            "string.format result too large");
  std::string big(2000, 'a');
  EXPECT_EQ(Err("string.replace(\"" + big + "\", \"\", \"" + std::string(10000, 'b') + "\")"),
            "string.replace result too large");
}

TEST(StdlibTest, ArrayConcat) {
  EXPECT_EQ(V("array.concat([1], [], [2, 3])"),
            Value::MakeArray({Value::Int(1), Value::Int(2), Value::Int(3)}));
  EXPECT_EQ(V("array.concat()"), Value::MakeArray({}));
  EXPECT_EQ(V("concat([1])"), Value::MakeArray({Value::Int(1)}));
  EXPECT_EQ(Err("array.concat([1], \"x\")"), "\"x\" should be array, got string");
}

TEST(StdlibTest, FromJson) {
  Value v =
      V("encoding.from_json(\"{\\\"a\\\": [1, 2.5, true, null, \\\"s\\\"], \\\"b\\\": {}}\")");
  const Array& a = v.as_object().at("a").as_array();
  EXPECT_FALSE(a[0].is_int());  // Go decodes every JSON number as a float64
  EXPECT_EQ(a[0].as_double(), 1.0);
  EXPECT_EQ(a[1].as_double(), 2.5);
  EXPECT_EQ(a[2], Value::Bool(true));
  EXPECT_TRUE(a[3].is_null());
  EXPECT_EQ(a[4], Value::String("s"));
  EXPECT_EQ(V("json_decode(\"[]\")"), Value::MakeArray({}));
  EXPECT_EQ(V("encoding.from_json(\"\\\"\\\\u00e9\\\\ud83d\\\\ude00\\\"\")"),
            Value::String("\xC3\xA9\xF0\x9F\x98\x80"));
}

TEST(StdlibTest, GoJsonErrors) {
  auto err = [](std::string_view s) { return std::string(ParseGoJson(s).status().message()); };
  EXPECT_EQ(err(""), "unexpected end of JSON input");
  EXPECT_EQ(err("{\"a\": 1"), "unexpected end of JSON input");
  EXPECT_EQ(err("x"), "invalid character 'x' looking for beginning of value");
  EXPECT_EQ(err("{1: 2}"), "invalid character '1' looking for beginning of object key string");
  EXPECT_EQ(err("{\"a\" 2}"), "invalid character '2' after object key");
  EXPECT_EQ(err("{\"a\": 2 \"b\"}"), "invalid character '\"' after object key:value pair");
  EXPECT_EQ(err("[1 2]"), "invalid character '2' after array element");
  EXPECT_EQ(err("01"), "invalid character '1' after top-level value");
  EXPECT_EQ(err("tru"), "unexpected end of JSON input");
  EXPECT_EQ(err("trUe"), "invalid character 'U' in literal true (expecting 'u')");
  EXPECT_EQ(err("\"a\nb\""), "invalid character '\\n' in string literal");
  EXPECT_EQ(err("-x"), "invalid character 'x' in numeric literal");
  EXPECT_EQ(err("1.x"), "invalid character 'x' after decimal point in numeric literal");
  EXPECT_EQ(err(std::string(kMaxJsonDepth + 10, '[')), "exceeded max depth");
}

TEST(StdlibTest, ToJson) {
  EXPECT_EQ(S("encoding.to_json({b = [1, 1.5, \"<&>\", null], a = true})"),
            "{\"a\":true,\"b\":[1,1.5,\"\\u003c\\u0026\\u003e\",null]}");
  EXPECT_EQ(S("encoding.to_json({a = \"x\\by\", b = 0.0000001, c = 1e21})"),
            "{\"a\":\"x\\by\",\"b\":1e-7,\"c\":1e+21}");
  EXPECT_EQ(Err("encoding.to_json([1])"), "encoding.to_json jsonEncode only supports map");
}

TEST(StdlibTest, Base64AndUrl) {
  EXPECT_EQ(S("encoding.from_base64(\"aGVsbG8=\")"), "hello");
  EXPECT_EQ(S("base64_decode(\"aGk=\")"), "hi");
  EXPECT_EQ(Err("encoding.from_base64(\"a!==\")"),
            "encoding.from_base64 illegal base64 data at input byte 1");
  EXPECT_EQ(S("encoding.to_base64(\"hi?\")"), "aGk/");
  EXPECT_EQ(S("encoding.to_URLbase64(\"hi?\")"), "aGk_");
  EXPECT_EQ(S("encoding.from_URLbase64(\"aGk_\")"), "hi?");
  EXPECT_EQ(S("encoding.url_encode(\"a b&c=d/é\")"), "a+b%26c%3Dd%2F%C3%A9");
  EXPECT_EQ(S("encoding.url_decode(\"a+b%26c\")"), "a b&c");
}

TEST(StdlibTest, PathJoin) {
  EXPECT_EQ(S("file.path_join(\"/var/log\", \"pods\", \"*.log\")"), "/var/log/pods/*.log");
  EXPECT_EQ(S("file.path_join(\"a/\", \"\", \"../b\", \"./c\")"), "b/c");
  EXPECT_EQ(S("file.path_join()"), "");
}

TEST(StdlibTest, Nonsensitive) {
  EXPECT_EQ(S("convert.nonsensitive(\"secret\")"), "secret");
  EXPECT_EQ(S("nonsensitive(\"secret\")"), "secret");
}

TEST(StdlibTest, JsonPath) {
  const std::string doc = R"("{\"a\": {\"b\": [1, 2, {\"c\": \"x\"}]}, \"c\": \"top\"}")";
  EXPECT_EQ(V("json_path(" + doc + ", \"$.a.b[0]\")"), Value::MakeArray({Value::Float(1)}));
  EXPECT_EQ(V("json_path(" + doc + ", \".c\")"), Value::MakeArray({Value::String("top")}));
  EXPECT_EQ(V("json_path(" + doc + ", \"$..c\")"),
            Value::MakeArray({Value::String("top"), Value::String("x")}));  // shallowest first
  EXPECT_EQ(V("json_path(" + doc + ", \"$.a.b[-1]['c']\")"),
            Value::MakeArray({Value::String("x")}));
  EXPECT_EQ(V("json_path(" + doc + ", \"$.missing\")"), Value::MakeArray({}));
  EXPECT_EQ(V("json_path(" + doc + ", \"$.a.b[*]\")").as_array().size(), 3u);
}

TEST(StdlibTest, UnknownNames) {
  EXPECT_EQ(StdlibLookup("nope"), nullptr);
  EXPECT_NE(StdlibLookup("string"), nullptr);
  EXPECT_NE(StdlibLookup("trim_space"), nullptr);
}

}  // namespace
}  // namespace sluice::config
