// Tests of the Go-compatibility helpers behind the loki.process stages: regexp, JSON text,
// logfmt decoding and digests.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "agent/common/digest.h"
#include "agent/common/go_json.h"
#include "agent/common/go_regexp.h"
#include "agent/process/logfmt.h"

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

std::string Json(std::string_view s) {
  std::string out;
  AppendGoJsonString(s, &out);
  return out;
}

TEST(GoJsonTest, EscapesLikeJsonIterator) {
  EXPECT_EQ(Json("plain"), R"("plain")");
  EXPECT_EQ(Json("q\"b\\"), R"("q\"b\\")");
  EXPECT_EQ(Json("\n\r\t\x01\x1f"), R"("\n\r\t\u0001\u001f")");
  EXPECT_EQ(Json("<a&b>"), R"("\u003ca\u0026b\u003e")");
  EXPECT_EQ(Json("\x7f"), "\"\x7f\"");
  EXPECT_EQ(Json("caf\xC3\xA9"), "\"caf\xC3\xA9\"");
  EXPECT_EQ(Json("bad\xFF"), R"("bad\ufffd")");
  EXPECT_EQ(Json("\xE2\x80\xA8\xE2\x80\xA9"), R"("\u2028\u2029")");
  // json-iterator has no short form for \b and \f; encoding/json (Go 1.22+) has.
  EXPECT_EQ(Json("\b\f"), R"("\u0008\u000c")");
  std::string go;
  AppendGoJsonString("\b\f<", &go, GoJson::kEncodingJson);
  EXPECT_EQ(go, R"("\b\f\u003c")");
}

std::string Num(double d) {
  std::string out;
  AppendGoJsonNumber(d, &out);
  return out;
}

TEST(GoJsonTest, NumbersLikeGo) {
  EXPECT_EQ(Num(125), "125");
  EXPECT_EQ(Num(1.5), "1.5");
  EXPECT_EQ(Num(-0.25), "-0.25");
  EXPECT_EQ(Num(1e20), "100000000000000000000");
  EXPECT_EQ(Num(1e21), "1e+21");
  EXPECT_EQ(Num(0.000001), "0.000001");
  EXPECT_EQ(Num(1e-7), "1e-7");
  EXPECT_EQ(Num(1.2345e-10), "1.2345e-10");
  EXPECT_EQ(Num(0), "0");
}

using Pairs = std::vector<std::pair<std::string, std::string>>;

Pairs Logfmt(std::string_view in, bool* ok = nullptr) {
  Pairs out;
  std::string scratch;
  bool r = DecodeLogfmt(in, &scratch, [&](std::string_view k, std::string_view v) {
    out.emplace_back(std::string(k), std::string(v));
  });
  if (ok != nullptr) *ok = r;
  return out;
}

TEST(LogfmtDecoderTest, BareQuotedAndEmptyValues) {
  bool ok;
  EXPECT_EQ(Logfmt(R"(a=1 b="two words" c= d e=)", &ok),
            (Pairs{{"a", "1"}, {"b", "two words"}, {"c", ""}, {"d", ""}, {"e", ""}}));
  EXPECT_TRUE(ok);
}

TEST(LogfmtDecoderTest, EscapesInQuotedValues) {
  EXPECT_EQ(Logfmt(R"(m="say \"hi\"\n\u00e9\/")"), (Pairs{{"m", "say \"hi\"\n\xC3\xA9/"}}));
  // Without a backslash the quoted bytes are taken as they are.
  EXPECT_EQ(Logfmt("m=\"tab\there\""), (Pairs{{"m", "tab\there"}}));
}

TEST(LogfmtDecoderTest, RecordsAreLines) {
  EXPECT_EQ(Logfmt("a=1\r\n\n  b=2\n"), (Pairs{{"a", "1"}, {"b", "2"}}));
}

TEST(LogfmtDecoderTest, SyntaxErrorStopsAfterEarlierPairs) {
  bool ok;
  EXPECT_EQ(Logfmt(R"(a=1 b="x"" c=3)", &ok), (Pairs{{"a", "1"}, {"b", "x"}}));
  EXPECT_FALSE(ok);
  EXPECT_EQ(Logfmt(R"({"invalid":"logfmt"})", &ok), Pairs{});
  EXPECT_FALSE(ok);
  EXPECT_EQ(Logfmt("a=1 =x", &ok), (Pairs{{"a", "1"}}));
  EXPECT_FALSE(ok);
  EXPECT_EQ(Logfmt("a=b=c", &ok), Pairs{});
  EXPECT_FALSE(ok);
  EXPECT_EQ(Logfmt(R"(a="unterminated)", &ok), Pairs{});
  EXPECT_FALSE(ok);
  EXPECT_EQ(Logfmt(R"(a="bad\q")", &ok), Pairs{});
  EXPECT_FALSE(ok);
  EXPECT_EQ(Logfmt("k\xFF=1", &ok), Pairs{});
  EXPECT_FALSE(ok);
}

TEST(LogfmtDecoderTest, RecordOf64KiBIsTooLong) {
  bool ok;
  std::string big = "a=1\nb=" + std::string(65536 - 2, 'x');
  EXPECT_EQ(Logfmt(big, &ok), (Pairs{{"a", "1"}}));
  EXPECT_FALSE(ok);
  std::string fits = "b=" + std::string(65535 - 2, 'x');
  EXPECT_EQ(Logfmt(fits, &ok).size(), 1u);
  EXPECT_TRUE(ok);
}

TEST(DigestTest, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(std::string(1000, 'a')),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
  EXPECT_EQ(Sha3_256Hex(""), "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");
  EXPECT_EQ(Sha3_256Hex("abc"), "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532");
  EXPECT_EQ(Sha3_256Hex(std::string(200, '\xa3')),
            "79f38adec5c20307a98ef76e8324afbfd46cfd81b22e3973c65fa1bd9de31787");
}

}  // namespace
}  // namespace sluice
