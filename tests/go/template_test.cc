#include "agent/go/template.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace sluice {
namespace {

class MapData final : public TemplateData {
 public:
  explicit MapData(std::map<std::string, std::string> m) : m_(std::move(m)) {}
  bool Lookup(std::string_view name, std::string* out) const override {
    auto it = m_.find(std::string(name));
    if (it == m_.end()) return false;
    *out = it->second;
    return true;
  }
  void ForEach(absl::FunctionRef<void(std::string_view, std::string_view)> fn) const override {
    for (const auto& [k, v] : m_) fn(k, v);
  }

 private:
  std::map<std::string, std::string> m_;
};

// Runs `text` on {Value: value, other: "x"}; "<parse: msg>" or "<exec error>" on failure.
std::string Exec(const std::string& text, const std::string& value = "v") {
  absl::StatusOr<GoTemplate> t = GoTemplate::Parse(text);
  if (!t.ok()) return "<parse: " + std::string(t.status().message()) + ">";
  MapData data({{"Value", value}, {"other", "x"}});
  std::string out;
  if (!t->Execute(data, &out)) return "<exec error>";
  return out;
}

TEST(GoTemplateTest, PlainTextIsConstant) {
  absl::StatusOr<GoTemplate> t = GoTemplate::Parse("*****");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->is_constant());
  EXPECT_EQ(Exec("*****"), "*****");
  EXPECT_EQ(Exec(""), "");
}

TEST(GoTemplateTest, FieldsAndDot) {
  EXPECT_EQ(Exec("[{{ .Value }}]", "abc"), "[abc]");
  EXPECT_EQ(Exec("{{.other}}-{{.Value}}"), "x-v");
  EXPECT_EQ(Exec("{{ .missing }}"), "<no value>");
  EXPECT_EQ(Exec("{{ . }}", "a"), "map[Value:a other:x]");
  EXPECT_EQ(Exec("{{ .Value.x }}"), "<exec error>");
}

TEST(GoTemplateTest, PipelinesAndCalls) {
  EXPECT_EQ(Exec("{{ .Value | ToUpper }}", "frank"), "FRANK");
  EXPECT_EQ(Exec("{{ ToLower .Value }}", "FrAnK"), "frank");
  EXPECT_EQ(Exec("{{ .Value | ToUpper | ToLower }}", "Ab"), "ab");
  EXPECT_EQ(Exec("{{ Replace .Value \"200\" \"HttpStatusOk\" -1 }}", "200"), "HttpStatusOk");
  EXPECT_EQ(Exec("{{ Replace .Value \"a\" \"b\" 1 }}", "aaa"), "baa");
  EXPECT_EQ(Exec("{{ ToUpper (ToLower .Value) }}", "Ab"), "AB");
}

TEST(GoTemplateTest, IfElse) {
  const std::string t =
      "{{ if eq .Value \"200\" }}{{ Replace .Value \"200\" \"HttpStatusOk\" -1 }}{{ else }}{{ "
      ".Value | ToUpper }}{{ end }}";
  EXPECT_EQ(Exec(t, "200"), "HttpStatusOk");
  EXPECT_EQ(Exec(t, "get"), "GET");
  EXPECT_EQ(Exec("{{if .Value}}yes{{end}}", ""), "");
  EXPECT_EQ(Exec("{{if .Value}}yes{{end}}", "x"), "yes");
  EXPECT_EQ(Exec("{{if eq .Value \"a\"}}A{{else if eq .Value \"b\"}}B{{else}}C{{end}}", "b"), "B");
  EXPECT_EQ(Exec("{{if eq .Value \"a\"}}A{{else if eq .Value \"b\"}}B{{else}}C{{end}}", "z"), "C");
  EXPECT_EQ(Exec("{{if and .Value (ne .Value \"x\")}}1{{else}}0{{end}}", "x"), "0");
  EXPECT_EQ(Exec("{{if or .missing .Value}}1{{end}}", "y"), "1");
  EXPECT_EQ(Exec("{{if not .Value}}empty{{end}}", ""), "empty");
  EXPECT_EQ(Exec("{{ eq .Value \"a\" \"b\" }}", "b"), "true");
  EXPECT_EQ(Exec("{{ eq .Value 1 }}", "b"), "<exec error>");
}

TEST(GoTemplateTest, TrimMarkersAndComments) {
  EXPECT_EQ(Exec("a  {{- .Value -}}  b"), "avb");
  EXPECT_EQ(Exec("a {{/* note */}} b"), "a  b");
  EXPECT_EQ(Exec("a {{- /* note */ -}} b"), "ab");
  EXPECT_EQ(Exec("{{-3}}"), "-3");
}

TEST(GoTemplateTest, HashFunctions) {
  // Hash is SHA3-256 of salt+value, Sha2Hash SHA-256 of salt+value.
  EXPECT_EQ(Exec("{{ .Value | Hash \"\" }}", "abc"),
            "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532");
  EXPECT_EQ(Exec("{{ Sha2Hash \"a\" \"bc\" }}"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Exec("*IP4*{{ .Value | Hash \"salt\" }}*").substr(0, 5), "*IP4*");
}

TEST(GoTemplateTest, StringFunctions) {
  EXPECT_EQ(Exec("{{ Trim .Value \"xy\" }}", "xyabcyx"), "abc");
  EXPECT_EQ(Exec("{{ TrimLeft .Value \"x\" }}", "xxax"), "ax");
  EXPECT_EQ(Exec("{{ TrimRight .Value \"x\" }}", "xxax"), "xxa");
  EXPECT_EQ(Exec("{{ TrimPrefix .Value \"ab\" }}", "abc"), "c");
  EXPECT_EQ(Exec("{{ TrimSuffix .Value \"bc\" }}", "abc"), "a");
  EXPECT_EQ(Exec("{{ TrimSpace .Value }}", " \t a \n"), "a");
  EXPECT_EQ(Exec("{{ regexReplaceAll \"(\\\\d+)\" .Value \"<$1>\" }}", "a12b3"), "a<12>b<3>");
  EXPECT_EQ(Exec("{{ regexReplaceAllLiteral \"\\\\d\" .Value \"$1\" }}", "a1"), "a$1");
  EXPECT_EQ(Exec("{{ regexReplaceAll \"(\" .Value \"x\" }}", "a"), "<exec error>");
  EXPECT_EQ(Exec("{{ .Value | upper }}", "ab"), "AB");
  EXPECT_EQ(Exec("{{ .Value | replace \"a\" \"b\" }}", "aa"), "bb");
  EXPECT_EQ(Exec("{{ .Value | trimPrefix \"a\" }}", "ab"), "b");
  EXPECT_EQ(Exec("{{ .missing | default \"d\" }}"), "d");
  EXPECT_EQ(Exec("{{ .Value | default \"d\" }}", "set"), "set");
  EXPECT_EQ(Exec("{{ .Value | quote }}", "a\"b"), "\"a\\\"b\"");
  EXPECT_EQ(Exec("{{ .Value | trunc 2 }}", "abcd"), "ab");
  EXPECT_EQ(Exec("{{ .Value | sha256sum }}", "abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Exec("{{ len .Value }}", "abc"), "3");
  EXPECT_EQ(Exec("{{ print .Value 1 2 }}", "a"), "a1 2");
}

TEST(GoTemplateTest, UnicodeCaseMapping) {
  EXPECT_EQ(Exec("{{ ToUpper .Value }}",
                 "stra\xC3\x9F"
                 "e \xC3\xA9t\xC3\xA9"),
            "STRA\xC3\x9F"
            "E \xC3\x89T\xC3\x89");
  EXPECT_EQ(Exec("{{ ToLower .Value }}", "\xD0\x9F\xD0\xA0\xD0\x98"), "\xD0\xBF\xD1\x80\xD0\xB8");
  // Invalid UTF-8 becomes U+FFFD on the non-ASCII path, as strings.Map does.
  EXPECT_EQ(Exec("{{ ToUpper .Value }}", "a\xFF"), "A\xEF\xBF\xBD");
}

TEST(GoTemplateTest, ExecutionErrors) {
  EXPECT_EQ(Exec("{{ ToUpper .missing }}"), "<exec error>");
  EXPECT_EQ(Exec("{{ ToUpper }}"), "<exec error>");
  EXPECT_EQ(Exec("{{ ToUpper .Value .Value }}"), "<exec error>");
  EXPECT_EQ(Exec("{{ Replace .Value \"a\" \"b\" \"x\" }}"), "<exec error>");
  EXPECT_EQ(Exec("{{ \"a\" | .Value }}"), "<exec error>");
  EXPECT_EQ(Exec("{{ nil }}"), "<exec error>");
}

TEST(GoTemplateTest, ParseErrorsLikeGo) {
  EXPECT_EQ(Exec("{{ foo .Value }}"),
            "<parse: template: pipeline_template:1: function \"foo\" not defined (or not "
            "supported by sluice)>");
  EXPECT_EQ(Exec("{{ .Value "), "<parse: template: pipeline_template:1: unclosed action>");
  EXPECT_EQ(Exec("{{ if .Value }}x"), "<parse: template: pipeline_template:1: unexpected EOF>");
  EXPECT_EQ(Exec("x\n{{ end }}"), "<parse: template: pipeline_template:2: unexpected {{end}}>");
  EXPECT_EQ(Exec("{{ else }}"), "<parse: template: pipeline_template:1: unexpected {{else}}>");
  EXPECT_EQ(Exec("{{ if }}{{ end }}"),
            "<parse: template: pipeline_template:1: missing value for if>");
  EXPECT_EQ(Exec("{{ }}"), "<parse: template: pipeline_template:1: missing value for command>");
  EXPECT_EQ(Exec("{{ \"abc }}"),
            "<parse: template: pipeline_template:1: unterminated quoted string>");
  EXPECT_EQ(Exec("{{ range .Value }}{{ end }}"),
            "<parse: template: pipeline_template:1: {{range}} is not supported by sluice>");
  EXPECT_EQ(Exec("{{ $x := 1 }}"),
            "<parse: template: pipeline_template:1: variables are not supported by sluice>");
  EXPECT_EQ(Exec("{{ # }}"),
            "<parse: template: pipeline_template:1: unrecognized character in action: U+0023 '#'>");
}

}  // namespace
}  // namespace sluice
