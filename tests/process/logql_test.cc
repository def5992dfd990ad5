#include "agent/process/logql.h"

#include <string>

#include "gtest/gtest.h"
#include "tests/support/labels.h"

namespace sluice {
namespace {

using ::sluice::testing::Labels;

LogqlSelector MustParse(std::string_view s) {
  absl::StatusOr<LogqlSelector> sel = LogqlSelector::Parse(s);
  EXPECT_TRUE(sel.ok()) << s << ": " << sel.status();
  if (!sel.ok()) return LogqlSelector();
  absl::Status st = sel->CompileFilters();
  EXPECT_TRUE(st.ok()) << st;
  return *std::move(sel);
}

std::string ParseError(std::string_view s) {
  absl::StatusOr<LogqlSelector> sel = LogqlSelector::Parse(s);
  EXPECT_FALSE(sel.ok()) << s;
  return sel.ok() ? "" : std::string(sel.status().message());
}

TEST(LogqlTest, ParsesEveryMatcherType) {
  LogqlSelector sel = MustParse(R"({ a = "1", b != "2", c =~ "3.*", d !~ "4" })");
  ASSERT_EQ(sel.matchers().size(), 4u);
  EXPECT_EQ(sel.matchers()[0].type, LogqlMatchType::kEqual);
  EXPECT_EQ(sel.matchers()[0].name, "a");
  EXPECT_EQ(sel.matchers()[0].value, "1");
  EXPECT_EQ(sel.matchers()[1].type, LogqlMatchType::kNotEqual);
  EXPECT_EQ(sel.matchers()[2].type, LogqlMatchType::kRegexp);
  EXPECT_EQ(sel.matchers()[3].type, LogqlMatchType::kNotRegexp);
  EXPECT_TRUE(sel.filters().empty());
}

TEST(LogqlTest, ParsesChainedLineFilters) {
  LogqlSelector sel = MustParse(R"({foo="bar"} |= "baz" |~ "blip" != "flip" !~ "flap")");
  ASSERT_EQ(sel.filters().size(), 4u);
  EXPECT_EQ(sel.filters()[0].type, LogqlMatchType::kEqual);
  EXPECT_EQ(sel.filters()[0].match, "baz");
  EXPECT_EQ(sel.filters()[1].type, LogqlMatchType::kRegexp);
  EXPECT_EQ(sel.filters()[2].type, LogqlMatchType::kNotEqual);
  EXPECT_EQ(sel.filters()[3].type, LogqlMatchType::kNotRegexp);
  EXPECT_TRUE(sel.MatchesLine("baz blip"));
  EXPECT_FALSE(sel.MatchesLine("baz blip flip"));
  EXPECT_FALSE(sel.MatchesLine("baz blip flap"));
  EXPECT_FALSE(sel.MatchesLine("blip"));
}

TEST(LogqlTest, StringsAreGoQuoted) {
  LogqlSelector sel = MustParse(R"({foo="ba\"r\t\u00e9\x41"})");
  EXPECT_EQ(sel.matchers()[0].value,
            "ba\"r\t\xc3\xa9"
            "A");
}

TEST(LogqlTest, CommentsAreSkipped) {
  LogqlSelector sel = MustParse("{foo=\"bar\"} /* c */ |= \"x\" // trailing");
  EXPECT_EQ(sel.filters().size(), 1u);
}

TEST(LogqlTest, EqualityMatchersAndMissingLabels) {
  EXPECT_TRUE(MustParse(R"({foo="bar"})").MatchesLabels(Labels({{"foo", "bar"}})));
  EXPECT_FALSE(MustParse(R"({foo="bar"})").MatchesLabels(Labels({{"foo", "baz"}})));
  // A missing label is the empty string.
  EXPECT_TRUE(MustParse(R"({foo=""})").MatchesLabels(Labels({})));
  EXPECT_FALSE(MustParse(R"({foo=""})").MatchesLabels(Labels({{"foo", "bar"}})));
  EXPECT_TRUE(MustParse(R"({foo="bar",bar!="test"})").MatchesLabels(Labels({{"foo", "bar"}})));
  EXPECT_FALSE(MustParse(R"({foo="bar",bar!="test"})")
                   .MatchesLabels(Labels({{"foo", "bar"}, {"bar", "test"}})));
}

TEST(LogqlTest, LabelRegexesAreAnchored) {
  LogqlSelector sel = MustParse(R"({bar=~"te.*"})");
  EXPECT_TRUE(sel.MatchesLabels(Labels({{"bar", "test"}})));
  EXPECT_FALSE(sel.MatchesLabels(Labels({{"bar", "attest"}})));
  EXPECT_FALSE(MustParse(R"({bar=~"es"})").MatchesLabels(Labels({{"bar", "test"}})));
  EXPECT_TRUE(MustParse(R"({bar!~"te.*"})").MatchesLabels(Labels({{"bar", "best"}})));
  EXPECT_FALSE(MustParse(R"({bar!~"te.*"})").MatchesLabels(Labels({{"bar", "test"}})));
  // "." matches a newline, as in Prometheus.
  EXPECT_TRUE(MustParse(R"({bar=~"a.b"})").MatchesLabels(Labels({{"bar", "a\nb"}})));
  // Alternatives are anchored as a whole.
  EXPECT_FALSE(MustParse(R"({bar=~"a|b"})").MatchesLabels(Labels({{"bar", "ab"}})));
}

TEST(LogqlTest, LineFiltersAreUnanchored) {
  EXPECT_TRUE(MustParse(R"({a="b"} |= "foo")").MatchesLine("xfoox"));
  EXPECT_TRUE(MustParse(R"({a="b"} |~ "fo+")").MatchesLine("xfooox"));
  EXPECT_FALSE(MustParse(R"({a="b"} |~ "^fo+$")").MatchesLine("xfoo"));
  EXPECT_TRUE(MustParse(R"({a="b"} != "bar")").MatchesLine("foo"));
  EXPECT_FALSE(MustParse(R"({a="b"} !~ "o")").MatchesLine("foo"));
}

TEST(LogqlTest, MatchesNeedsLabelsAndLine) {
  LogqlSelector sel = MustParse(R"({app="x"} |= "err")");
  EXPECT_TRUE(sel.Matches(Labels({{"app", "x"}}), "an err"));
  EXPECT_FALSE(sel.Matches(Labels({{"app", "y"}}), "an err"));
  EXPECT_FALSE(sel.Matches(Labels({{"app", "x"}}), "fine"));
}

TEST(LogqlTest, SyntaxErrorsAsAlloy) {
  EXPECT_EQ(ParseError(R"({foo="bar)"), "parse error at line 1, col 6: literal not terminated");
  EXPECT_EQ(ParseError(R"({foo="bar")"),
            "parse error at line 1, col 11: syntax error: unexpected $end, expecting } or ,");
  EXPECT_EQ(ParseError(R"({foo="bar"} |~)"),
            "parse error at line 1, col 15: syntax error: unexpected $end, expecting STRING");
  EXPECT_EQ(ParseError(R"({foo="bar"} "foo")"),
            "parse error at line 1, col 13: syntax error: unexpected STRING, expecting != or !~ "
            "or |~ or |=");
  EXPECT_EQ(ParseError(R"({foo="bar"} foo)"),
            "parse error at line 1, col 13: syntax error: unexpected IDENTIFIER, expecting != or "
            "!~ or |~ or |=");
}

TEST(LogqlTest, MoreSyntaxErrors) {
  EXPECT_EQ(ParseError(""),
            "parse error at line 1, col 1: syntax error: unexpected $end, expecting {");
  EXPECT_EQ(ParseError("foo"),
            "parse error at line 1, col 1: syntax error: unexpected IDENTIFIER, expecting {");
  EXPECT_EQ(ParseError("{}"),
            "parse error at line 1, col 2: syntax error: unexpected }, expecting IDENTIFIER");
  EXPECT_EQ(ParseError("{"),
            "parse error at line 1, col 2: syntax error: unexpected $end, expecting IDENTIFIER");
  EXPECT_EQ(ParseError(R"({foo "bar"})"),
            "parse error at line 1, col 6: syntax error: unexpected STRING, expecting = or != or "
            "=~ or !~");
  EXPECT_EQ(ParseError("{foo=bar}"),
            "parse error at line 1, col 6: syntax error: unexpected IDENTIFIER, expecting STRING");
  // Label filters and parsers are not part of the grammar.
  EXPECT_EQ(ParseError(R"({foo="bar"} |= "foo" | status >= 200)"),
            "parse error at line 1, col 22: syntax error: unexpected IDENTIFIER, expecting != or "
            "!~ or |~ or |=");
  EXPECT_EQ(ParseError(R"({foo="\q"})"), "parse error at line 1, col 6: invalid char escape");
  EXPECT_EQ(ParseError("{foo=\"a\nb\"}"), "parse error at line 1, col 6: literal not terminated");
  EXPECT_EQ(ParseError("{\n  foo=\"bar\"\n"),
            "parse error at line 3, col 1: syntax error: unexpected $end, expecting } or ,");
}

TEST(LogqlTest, LabelRegexErrorsAreParseErrors) {
  EXPECT_NE(ParseError(R"({foo=~"["})").find("error parsing regexp"), std::string::npos);
}

TEST(LogqlTest, LineFilterRegexErrorsComeFromCompileFilters) {
  absl::StatusOr<LogqlSelector> sel = LogqlSelector::Parse(R"({foo="bar"} !~ "[]")");
  ASSERT_TRUE(sel.ok());
  absl::Status st = sel->CompileFilters();
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(std::string(st.message()).rfind("error parsing regexp: ", 0), 0u) << st;
}

}  // namespace
}  // namespace sluice
