// Tests of Go's regexp semantics on RE2 (agent/go/regexp.h).
#include "agent/go/regexp.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sluice {
namespace {

std::string CompileError(const std::string& pattern) {
  std::string err;
  std::unique_ptr<RE2> re = CompileGoRegexp(pattern, &err);
  return re == nullptr ? err : "<ok>";
}

TEST(GoRegexpTest, CompilesGoSyntaxIncludingAngleNamedGroups) {
  std::string err;
  std::unique_ptr<RE2> re = CompileGoRegexp(R"((?<year>\d{4})-(?P<month>\d\d))", &err);
  ASSERT_NE(re, nullptr) << err;
  EXPECT_EQ(re->NamedCapturingGroups().at("year"), 1);
  EXPECT_EQ(re->NamedCapturingGroups().at("month"), 2);
  // Inside a class or an escape, "(?<" is literal text.
  re = CompileGoRegexp(R"([(?<]x\(?<)", &err);
  ASSERT_NE(re, nullptr) << err;
  EXPECT_TRUE(RE2::FullMatch("<x<", *re));
}

TEST(GoRegexpTest, ErrorsUseGoWording) {
  EXPECT_EQ(CompileError("(a"), "error parsing regexp: missing closing ): `(a`");
  EXPECT_EQ(CompileError("a**"), "error parsing regexp: invalid nested repetition operator: `**`");
  EXPECT_EQ(CompileError("[a"), "error parsing regexp: missing closing ]: `[a`");
  EXPECT_EQ(CompileError("(?P<ts[0-9]+).*").rfind("error parsing regexp: invalid named capture", 0),
            0u);
  EXPECT_EQ(CompileError("x\\"),
            "error parsing regexp: trailing backslash at end of expression: ``");
}

std::vector<std::pair<int, int>> AllMatches(const std::string& pattern, const std::string& text) {
  std::string err;
  std::unique_ptr<RE2> re = CompileGoRegexp(pattern, &err);
  std::vector<std::pair<int, int>> out;
  ForEachGoMatch(*re, text,
                 [&](const GoSubmatch* g, int) { out.emplace_back(g[0].begin, g[0].end); });
  return out;
}

TEST(GoRegexpTest, AllMatchesSkipsEmptyMatchAfterMatch) {
  // Go: regexp.MustCompile("a*").FindAllStringIndex("baaac", -1) == [[0 0] [1 4] [5 5]].
  EXPECT_EQ(AllMatches("a*", "baaac"), (std::vector<std::pair<int, int>>{{0, 0}, {1, 4}, {5, 5}}));
  EXPECT_EQ(AllMatches("x", "abc"), (std::vector<std::pair<int, int>>{}));
  EXPECT_EQ(AllMatches("^a", "aaa"), (std::vector<std::pair<int, int>>{{0, 1}}));
}

std::string ReplaceAll(const std::string& pattern, const std::string& src, const std::string& repl,
                       bool literal = false) {
  std::string err;
  std::unique_ptr<RE2> re = CompileGoRegexp(pattern, &err);
  std::string out;
  GoReplaceAll(*re, src, repl, literal, &out);
  return out;
}

TEST(GoRegexpTest, ReplaceAllExpandsLikeGo) {
  EXPECT_EQ(ReplaceAll("a(x*)b", "-ab-axxb-", "${1}W"), "-W-xxW-");
  EXPECT_EQ(ReplaceAll("a(x*)b", "-ab-axxb-", "$1W"), "---");  // "$1W" names group "1W"
  EXPECT_EQ(ReplaceAll("(?P<n>x+)", "axxb", "[$n]"), "a[xx]b");
  EXPECT_EQ(ReplaceAll("x", "axb", "$$"), "a$b");
  EXPECT_EQ(ReplaceAll("a(x*)b", "-axb-", "$1", /*literal=*/true), "-$1-");
  // Go: regexp.MustCompile("a*").ReplaceAllString("baaac", "X") == "XbXcX".
  EXPECT_EQ(ReplaceAll("a*", "baaac", "X"), "XbXcX");
}

}  // namespace
}  // namespace sluice
