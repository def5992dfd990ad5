// Parser of the Alloy language: statement structure, precedence, positions, Alloy's error
// messages, and the nesting limit.
#include "agent/config/parser.h"

#include <string>

#include "agent/config/format.h"
#include "gtest/gtest.h"

namespace sluice::config {
namespace {

std::string Errors(std::string_view text) {
  Diags d;
  ParseFile("t.alloy", text, &d);
  std::string out;
  for (const Diagnostic& x : d.list()) out += FormatHeadline(x) + "\n";
  return out;
}

File MustParse(std::string_view text) {
  Diags d;
  std::optional<File> f = ParseFile("t.alloy", text, &d);
  EXPECT_TRUE(d.ok()) << Errors(text);
  return f ? std::move(*f) : File{};
}

// The tree of an expression with every binary operation parenthesised.
std::string Tree(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kBinary:
      return "(" + Tree(*e.left) + " " + std::string(TokenName(e.tok)) + " " + Tree(*e.right) + ")";
    case ExprKind::kUnary:
      return std::string(TokenName(e.tok)) + Tree(*e.left);
    default:
      return FormatExpr(e);
  }
}

std::string ParseTree(std::string_view expr) {
  Diags d;
  std::unique_ptr<Expr> e = ParseExpression(expr, &d);
  EXPECT_TRUE(d.ok());
  return e ? Tree(*e) : "";
}

TEST(ParserTest, BlocksAndAttributes) {
  File f = MustParse(
      "loki.write \"default\" {\n  endpoint { url = \"x\" }\n  external_labels = {}\n}\n"
      "logging {}\n");
  ASSERT_EQ(f.body.size(), 2u);
  const BlockStmt& b = *f.body[0].block;
  EXPECT_EQ(b.FullName(), "loki.write");
  EXPECT_EQ(b.label, "default");
  EXPECT_EQ(b.Id(), "loki.write.default");
  EXPECT_EQ(b.name_pos.line, 1);
  EXPECT_EQ(b.label_pos.col, 12);
  ASSERT_EQ(b.body.size(), 2u);
  ASSERT_TRUE(b.body[0].block);
  EXPECT_EQ(b.body[0].block->FullName(), "endpoint");
  ASSERT_EQ(b.body[0].block->body.size(), 1u);
  EXPECT_EQ(b.body[0].block->body[0].attr->name, "url");
  EXPECT_EQ(b.body[1].attr->name, "external_labels");
  EXPECT_EQ(f.body[1].block->Id(), "logging");
  EXPECT_EQ(f.body[1].block->rcurly.col, 10);
}

TEST(ParserTest, Precedence) {
  EXPECT_EQ(ParseTree("1 + 2 * 3"), "(1 + (2 * 3))");
  EXPECT_EQ(ParseTree("1 - 2 - 3"), "((1 - 2) - 3)");
  EXPECT_EQ(ParseTree("2 ^ 3 ^ 2"), "(2 ^ (3 ^ 2))");
  EXPECT_EQ(ParseTree("a || b && c == d + e * f ^ g"), "(a || (b && (c == (d + (e * (f ^ g))))))");
  EXPECT_EQ(ParseTree("-1 * !x"), "(-1 * !x)");
  EXPECT_EQ(ParseTree("1 % 2 / 3"), "((1 % 2) / 3)");
  EXPECT_EQ(ParseTree("a < b != c >= d"), "(((a < b) != c) >= d)");
  EXPECT_EQ(ParseTree("(1 + 2) * 3"), "((1 + 2) * 3)");
}

TEST(ParserTest, PostfixOperators) {
  Diags d;
  std::unique_ptr<Expr> e = ParseExpression("a.b[0](1, 2).c", &d);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, ExprKind::kAccess);
  EXPECT_EQ(e->left->kind, ExprKind::kCall);
  EXPECT_EQ(e->left->elems.size(), 2u);
  EXPECT_EQ(e->left->left->kind, ExprKind::kIndex);
  EXPECT_EQ(FormatExpr(*e), "a.b[0](1, 2).c");
}

TEST(ParserTest, ArraysAndObjectsWithTrailingCommas) {
  File f = MustParse("a = [\n  1,\n  2,\n]\nb = { x = 1, \"quoted key\" = 2, }\nc = []\nd = {}\n");
  const Expr& a = *f.body[0].attr->value;
  EXPECT_EQ(a.elems.size(), 2u);
  const Expr& b = *f.body[1].attr->value;
  ASSERT_EQ(b.fields.size(), 2u);
  EXPECT_EQ(b.fields[1].name, "quoted key");
  EXPECT_TRUE(b.fields[1].quoted);
}

TEST(ParserTest, MultiLineListWithoutTrailingCommaIsAnError) {
  EXPECT_EQ(Errors("a = [\n  1,\n  2\n]\n"), "t.alloy:3:4: missing ',' in expression list\n");
  EXPECT_EQ(Errors("a = {\n  x = 1\n}\n"), "t.alloy:2:8: missing ',' in field list\n");
}

TEST(ParserTest, Positions) {
  File f = MustParse("a = 1\n\tb = \"xy\"\nc = `x\ny`\n");
  const Expr& b = *f.body[1].attr->value;
  EXPECT_EQ(b.pos.line, 2);
  EXPECT_EQ(b.pos.col, 6);
  EXPECT_EQ(EndLoc(b).col, 9);
  const Expr& c = *f.body[2].attr->value;
  EXPECT_EQ(EndLoc(c).line, 4);
  EXPECT_EQ(EndLoc(c).col, 2);
  Span s = ExprSpan("t.alloy", b);
  EXPECT_EQ(s.begin.col, 6);
  EXPECT_EQ(s.end.col, 10);  // exclusive
}

TEST(ParserTest, Comments) {
  File f = MustParse("// one\n// two\n\n/* three */\na = 1 // four\n");
  ASSERT_EQ(f.comments.size(), 3u);
  EXPECT_EQ(f.comments[0].size(), 2u);
  EXPECT_EQ(f.comments[1][0].text, "/* three */");
  EXPECT_EQ(f.comments[2][0].text, "// four");
}

TEST(ParserTest, ErrorMessages) {
  EXPECT_EQ(Errors("a.b = 1\n"),
            "t.alloy:1:1: attribute names may only consist of a single identifier with no \".\"\n");
  EXPECT_EQ(Errors("a \"x\" = 1\n"), "t.alloy:1:3: attribute names may not have labels\n");
  EXPECT_EQ(Errors("blk \"my label\" {}\n"),
            "t.alloy:1:5: expected block label to be a valid identifier, but got \"my label\"\n");
  EXPECT_EQ(Errors("blk `raw` {}\n"),
            "t.alloy:1:5: expected block label to be a double quoted string, but got \"`raw`\"\n");
  EXPECT_EQ(Errors("blk bad {}\n"), "t.alloy:1:5: expected block label, got IDENT\n");
  // A name then the end of the line: Alloy first asks for a label, then (next line) a body.
  EXPECT_EQ(Errors("a\n"),
            "t.alloy:1:2: expected block label, got TERMINATOR\n"
            "t.alloy:2:1: expected attribute assignment or block body, got EOF\n");
  EXPECT_EQ(Errors("a.b {} c.d = 1\n"), "t.alloy:1:8: expected TERMINATOR, got IDENT\n");
  EXPECT_EQ(Errors("a.b \"l\" 1\n"), "t.alloy:1:9: expected block body, got NUMBER\n");
  // No terminator follows `=`: the newline is skipped.
  EXPECT_EQ(Errors("a = \n"), "t.alloy:2:1: expected expression, got EOF\n");
  EXPECT_EQ(Errors("a = 1 + + 2\n"), "t.alloy:1:9: expected expression, got +\n");
  EXPECT_EQ(Errors("a = x.true\n"), "t.alloy:1:7: expected IDENT, got BOOL\n");
  EXPECT_EQ(Errors("blk {\n"), "t.alloy:2:1: expected }, got EOF\n");
  EXPECT_EQ(Errors("a = 1 b = 2\n"), "t.alloy:1:7: expected TERMINATOR, got IDENT\n");
  EXPECT_EQ(Errors("a = foo \"x\" { }\n"), "t.alloy:1:5: cannot use a block as an expression\n");
  EXPECT_EQ(Errors("a = {1 = 2}\n"),
            "t.alloy:1:6: expected field name (string or identifier), got NUMBER\n");
  EXPECT_EQ(Errors("= 1\n"), "t.alloy:1:1: expected identifier, got =\n");
}

TEST(ParserTest, OneParserErrorPerLine) {
  // Both `+` would be errors; Alloy reports the first of a line only.
  EXPECT_EQ(Errors("a = [+, +]\nb = [+]\n"),
            "t.alloy:1:6: expected expression, got +\nt.alloy:2:6: expected expression, got +\n");
}

TEST(ParserTest, ScannerAndParserErrorAtOnePosition) {
  EXPECT_EQ(
      Errors("# x\n"),
      "t.alloy:1:1: illegal character U+0023 '#'\nt.alloy:1:1: expected identifier, got ILLEGAL\n");
}

TEST(ParserTest, NestingLimit) {
  std::string deep = "a = " + std::string(kMaxNesting + 5, '[') + std::string(kMaxNesting + 5, ']');
  EXPECT_NE(Errors(deep).find("nesting too deep"), std::string::npos);
  std::string fine = "a = " + std::string(50, '[') + std::string(50, ']');
  EXPECT_EQ(Errors(fine), "");
  // A long left-nested chain builds a deep tree without deep recursion.
  std::string chain = "a = 1";
  for (int i = 0; i < 1000; ++i) chain += " + 1";
  EXPECT_NE(Errors(chain).find("nesting too deep"), std::string::npos);
  std::string blocks;
  for (int i = 0; i < kMaxNesting + 5; ++i) blocks += "b {\n";
  EXPECT_NE(Errors(blocks).find("nesting too deep"), std::string::npos);
  std::string unary = "a = " + std::string(10000, '-') + "1";
  EXPECT_NE(Errors(unary).find("nesting too deep"), std::string::npos);
}

TEST(ParserTest, ErrorAtTheVeryFirstByte) {
  // The scanner reads the first character before the parser asks for a token.
  EXPECT_EQ(Errors("\x9d = 1\n"),
            "t.alloy:1:1: illegal UTF-8 encoding\n"
            "t.alloy:1:1: illegal character U+FFFD '\xEF\xBF\xBD'\n"
            "t.alloy:1:1: expected identifier, got ILLEGAL\n");
  Diags d;
  EXPECT_FALSE(ParseFile("t.alloy", "\x9d", &d));
}

TEST(ParserTest, ErrorCountIsBounded) {
  Diags d;
  EXPECT_FALSE(ParseFile("t.alloy", std::string(100000, '#'), &d));
  EXPECT_LE(d.list().size(), static_cast<size_t>(kMaxParseErrors) + 1);
  EXPECT_GE(d.list().size(), static_cast<size_t>(kMaxParseErrors));
}

TEST(ParserTest, EmptyAndCommentOnlyFiles) {
  EXPECT_TRUE(MustParse("").body.empty());
  EXPECT_TRUE(MustParse("// only\n").body.empty());
}

}  // namespace
}  // namespace sluice::config
