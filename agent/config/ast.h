// Syntax tree of the Alloy configuration language, as the parser (parser.h) builds it.
//
// Mirrors the node kinds of Alloy's syntax/ast: a file is a body of statements; a statement is
// an attribute (`name = expr`) or a block (`a.b "label" { body }`); expressions are literals,
// identifiers, arrays, objects, field accesses, indexing, calls, unary, binary and parenthesised
// expressions. Every node keeps the positions of its tokens (byte offset, line, column) so that
// errors can point into the source and the formatter can keep blank lines and comments where
// they were. Nodes own their children (unique_ptr): a File can be moved without invalidating
// pointers to its nodes. Built once by the parser, then read-only; any thread may read it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config/diag.h"
#include "agent/config/token.h"

namespace sluice::config {

// A position in a source file: byte offset from the start (0-based), line and column (1-based,
// column counted in bytes as Alloy does). line == 0: no position.
struct Loc {
  int32_t offset = -1;
  int32_t line = 0;
  int32_t col = 0;
  bool valid() const { return line > 0; }
  // The position n bytes further on the same line (Alloy's Pos.Add for single-line tokens).
  Loc Add(int n) const { return Loc{offset + n, line, col + n}; }
};

enum class ExprKind {
  kLiteral,  // tok: STRING, NUMBER, FLOAT, BOOL, NULL; text: the literal as written
  kIdent,    // text: the name
  kArray,    // elems; pos: '[', end: ']'
  kObject,   // fields; pos: '{', end: '}'
  kAccess,   // left.text; pos: position of the field name
  kIndex,    // left[right]; pos: '[', end: ']'
  kCall,     // left(elems...); pos: '(', end: ')'
  kUnary,    // tok left; pos: the operator
  kBinary,   // left tok right; pos: the operator
  kParen,    // (left); pos: '(', end: ')'
};

struct Expr;

struct ObjectField {
  std::string name;  // without quotes when quoted
  Loc name_pos;
  bool quoted = false;
  std::unique_ptr<Expr> value;
};

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  Token tok = Token::kIllegal;
  std::string text;
  Loc pos;
  // Literals, identifiers and accesses: the last byte of the text (a raw string may span
  // lines); arrays, objects, indexing, calls and parentheses: the closing bracket.
  Loc end;
  std::unique_ptr<Expr> left;
  std::unique_ptr<Expr> right;
  std::vector<std::unique_ptr<Expr>> elems;
  std::vector<ObjectField> fields;
  int depth = 1;  // height of the subtree (the parser refuses more than kMaxNesting)
};

// First and last byte of an expression (Alloy's ast.StartPos / ast.EndPos: the end is the
// position of the final character, inclusive).
Loc StartLoc(const Expr& e);
Loc EndLoc(const Expr& e);

struct Stmt;
using StmtList = std::vector<Stmt>;

struct AttributeStmt {
  std::string name;
  Loc name_pos;
  std::unique_ptr<Expr> value;
};

struct BlockStmt {
  std::vector<std::string> name;  // fragments of a dotted name: {"loki", "write"}
  Loc name_pos;
  std::string label;  // without quotes; "" when absent
  Loc label_pos;      // the opening quote; invalid when absent
  StmtList body;
  Loc lcurly;
  Loc rcurly;

  std::string FullName() const;  // "loki.write"
  // "loki.write.default", or the full name when there is no label (Alloy's BlockComponentID).
  std::string Id() const;
};

// Exactly one of attr and block is set.
struct Stmt {
  std::unique_ptr<AttributeStmt> attr;
  std::unique_ptr<BlockStmt> block;
};

Loc StartLoc(const Stmt& s);
Loc EndLoc(const Stmt& s);

struct Comment {
  Loc pos;
  Loc end;           // the last byte
  std::string text;  // "// ..." or "/* ... */" as written (no trailing newline)
};
// Adjacent comments (no blank line and no other token between them).
using CommentGroup = std::vector<Comment>;

struct File {
  std::string name;
  StmtList body;
  std::vector<CommentGroup> comments;
};

// A span in `file` covering [begin, end] inclusive positions as Alloy's nodes report them
// (the Span's end is exclusive, one column past `end`).
Span MakeSpan(const std::string& file, Loc begin, Loc end_inclusive);
// The span of a whole expression.
Span ExprSpan(const std::string& file, const Expr& e);

}  // namespace sluice::config
