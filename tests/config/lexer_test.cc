// Scanner of the Alloy language: tokens, inserted terminators, comments and lexical errors with
// Alloy's messages and offsets.
#include "agent/config/lexer.h"

#include <string>
#include <vector>

#include "agent/config/parser.h"
#include "gtest/gtest.h"

namespace sluice::config {
namespace {

struct Scan {
  std::vector<Token> toks;
  std::vector<std::string> lits;
  std::vector<std::pair<int, std::string>> errors;
};

Scan ScanAll(std::string_view in, bool comments = true) {
  Scan s;
  Lexer lx(
      in, [&s](int off, std::string msg) { s.errors.emplace_back(off, std::move(msg)); }, comments);
  for (int i = 0; i < 1000; ++i) {
    ScannedToken t = lx.Scan();
    s.toks.push_back(t.tok);
    s.lits.push_back(t.lit);
    if (t.tok == Token::kEof) break;
  }
  return s;
}

TEST(LexerTest, TerminatorAfterValuesOnly) {
  Scan s = ScanAll("a = 1\nb = [\n2,\n]\n");
  std::vector<Token> want = {Token::kIdent, Token::kAssign, Token::kNumber,     Token::kTerminator,
                             Token::kIdent, Token::kAssign, Token::kLBrack,     Token::kNumber,
                             Token::kComma, Token::kRBrack, Token::kTerminator, Token::kEof};
  EXPECT_EQ(s.toks, want);
  EXPECT_TRUE(s.errors.empty());
}

TEST(LexerTest, TerminatorAtEndOfInput) {
  Scan s = ScanAll("a = true");
  std::vector<Token> want = {Token::kIdent, Token::kAssign, Token::kBool, Token::kTerminator,
                             Token::kEof};
  EXPECT_EQ(s.toks, want);
}

TEST(LexerTest, KeywordsAndOperators) {
  Scan s = ScanAll("null true false || && ! != == = < <= > >= + - * / % ^ { } ( ) [ ] , .", false);
  std::vector<Token> want = {Token::kNull,   Token::kBool,   Token::kBool,   Token::kOr,
                             Token::kAnd,    Token::kNot,    Token::kNeq,    Token::kEq,
                             Token::kAssign, Token::kLt,     Token::kLte,    Token::kGt,
                             Token::kGte,    Token::kAdd,    Token::kSub,    Token::kMul,
                             Token::kDiv,    Token::kMod,    Token::kPow,    Token::kLCurly,
                             Token::kRCurly, Token::kLParen, Token::kRParen, Token::kLBrack,
                             Token::kRBrack, Token::kComma,  Token::kDot,    Token::kEof};
  EXPECT_EQ(s.toks, want);
}

TEST(LexerTest, Numbers) {
  Scan s = ScanAll("1 1.5 1e3 .5 2E-4 1.", false);
  std::vector<Token> want = {Token::kNumber, Token::kFloat, Token::kFloat,      Token::kFloat,
                             Token::kFloat,  Token::kFloat, Token::kTerminator, Token::kEof};
  EXPECT_EQ(s.toks, want);
  EXPECT_EQ(s.lits[2], "1e3");
  EXPECT_EQ(s.lits[3], ".5");
  Scan bad = ScanAll("1e+");
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(bad.errors[0], std::make_pair(0, std::string("exponent has no digits")));
}

TEST(LexerTest, CommentsAreTokensAndTerminateLines) {
  Scan s = ScanAll("a = 1 // note\n/* block */ b");
  std::vector<Token> want = {Token::kIdent,      Token::kAssign,     Token::kNumber,
                             Token::kTerminator, Token::kComment,    Token::kComment,
                             Token::kIdent,      Token::kTerminator, Token::kEof};
  EXPECT_EQ(s.toks, want);
  EXPECT_EQ(s.lits[4], "// note");
  EXPECT_EQ(s.lits[5], "/* block */");
  Scan skipped = ScanAll("a // x\nb", false);
  std::vector<Token> want2 = {Token::kIdent, Token::kTerminator, Token::kIdent, Token::kTerminator,
                              Token::kEof};
  EXPECT_EQ(skipped.toks, want2);
}

TEST(LexerTest, BlockCommentBetweenTokensKeepsTheLine) {
  Scan s = ScanAll("a /* x */ = 1", false);
  std::vector<Token> want = {Token::kIdent, Token::kAssign, Token::kNumber, Token::kTerminator,
                             Token::kEof};
  EXPECT_EQ(s.toks, want);
}

TEST(LexerTest, HashIsIllegal) {
  Scan s = ScanAll("# comment");
  ASSERT_FALSE(s.errors.empty());
  EXPECT_EQ(s.errors[0], std::make_pair(0, std::string("illegal character U+0023 '#'")));
  EXPECT_EQ(s.toks[0], Token::kIllegal);
}

TEST(LexerTest, IllegalCharacterDescriptions) {
  EXPECT_EQ(ScanAll("\a").errors[0].second, "illegal character U+0007");
  EXPECT_EQ(ScanAll("\xE2\x80\xA6").errors[0].second, "illegal character U+2026 '\xE2\x80\xA6'");
  EXPECT_EQ(ScanAll(std::string_view("a\0", 2)).errors.at(0).second, "illegal character NUL");
  EXPECT_EQ(ScanAll("\xFF").errors[0].second, "illegal UTF-8 encoding");
  EXPECT_EQ(ScanAll("a | b").errors[0].second, "missing second | in ||");
  EXPECT_EQ(ScanAll("a & b").errors[0].second, "missing second & in &&");
}

TEST(LexerTest, ByteOrderMarkOnlyFirst) {
  EXPECT_TRUE(ScanAll("\xEF\xBB\xBF"
                      "a")
                  .errors.empty());
  Scan s = ScanAll("a \xEF\xBB\xBF");
  ASSERT_FALSE(s.errors.empty());
  EXPECT_EQ(s.errors[0].second, "illegal byte order mark");
}

TEST(LexerTest, UnicodeIdentifiers) {
  Scan s = ScanAll("héllo_1 = 1", false);
  EXPECT_EQ(s.toks[0], Token::kIdent);
  EXPECT_EQ(s.lits[0], "héllo_1");
  EXPECT_TRUE(s.errors.empty());
}

TEST(LexerTest, StringEscapes) {
  EXPECT_TRUE(ScanAll(R"("\a\b\f\n\r\t\v\\\" \101 \x41 \u00e9 \U0001F600")").errors.empty());
  Scan bad = ScanAll(R"("a\qb")");
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(bad.errors[0], std::make_pair(3, std::string("unknown escape sequence")));
  EXPECT_EQ(ScanAll(R"("\'")").errors[0].second, "unknown escape sequence");
  EXPECT_EQ(ScanAll(R"("\x4g")").errors[0].second,
            "illegal character U+0067 'g' in escape sequence");
  EXPECT_EQ(ScanAll(R"("\ud800")").errors[0].second,
            "escape sequence is invalid Unicode code point");
  EXPECT_EQ(ScanAll(R"("\400")").errors[0].second, "escape sequence is invalid Unicode code point");
}

TEST(LexerTest, UnterminatedStrings) {
  Scan s = ScanAll("a = \"abc\nb");
  ASSERT_FALSE(s.errors.empty());
  EXPECT_EQ(s.errors[0], std::make_pair(4, std::string("string literal not terminated")));
  EXPECT_EQ(ScanAll("`abc").errors[0].second, "string literal not terminated");
  EXPECT_EQ(ScanAll("/* x").errors[0].second, "block comment not terminated");
}

TEST(LexerTest, SingleQuotes) {
  Scan s = ScanAll("'abc'");
  EXPECT_EQ(s.errors[0],
            std::make_pair(0, std::string("illegal single-quoted string; use double quotes")));
  EXPECT_EQ(s.toks[0], Token::kIllegal);
}

TEST(LexerTest, RawStringsSpanLines) {
  Scan s = ScanAll("`a\nb\\n`");
  EXPECT_TRUE(s.errors.empty());
  EXPECT_EQ(s.toks[0], Token::kString);
  EXPECT_EQ(s.lits[0], "`a\nb\\n`");
}

TEST(LexerTest, LineIndex) {
  LineIndex idx("ab\ncd\n");
  Loc l = idx.At(4);
  EXPECT_EQ(l.line, 2);
  EXPECT_EQ(l.col, 2);
  EXPECT_EQ(idx.At(6).line, 3);
}

TEST(LexerTest, ValidIdentifiers) {
  EXPECT_TRUE(IsValidIdentifier("default"));
  EXPECT_TRUE(IsValidIdentifier("_a1"));
  EXPECT_FALSE(IsValidIdentifier("my-label"));
  EXPECT_FALSE(IsValidIdentifier("1abc"));
  EXPECT_FALSE(IsValidIdentifier("with space"));
  EXPECT_FALSE(IsValidIdentifier(""));
  EXPECT_FALSE(IsValidIdentifier("true"));
}

}  // namespace
}  // namespace sluice::config
