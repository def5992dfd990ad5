#include "agent/config/ast.h"

#include "absl/strings/str_join.h"

namespace sluice::config {

Loc StartLoc(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kAccess:
    case ExprKind::kIndex:
    case ExprKind::kCall:
    case ExprKind::kBinary:
      return e.left ? StartLoc(*e.left) : e.pos;
    default:
      return e.pos;
  }
}

Loc EndLoc(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kLiteral:
    case ExprKind::kIdent:
    case ExprKind::kAccess:
      return e.end.valid() ? e.end : e.pos.Add(static_cast<int>(e.text.size()) - 1);
    case ExprKind::kArray:
    case ExprKind::kObject:
    case ExprKind::kIndex:
    case ExprKind::kCall:
    case ExprKind::kParen:
      return e.end;
    case ExprKind::kUnary:
    case ExprKind::kBinary: {
      const Expr* last = e.kind == ExprKind::kUnary ? e.left.get() : e.right.get();
      return last ? EndLoc(*last) : e.pos;
    }
  }
  return e.pos;
}

std::string BlockStmt::FullName() const { return absl::StrJoin(name, "."); }

std::string BlockStmt::Id() const {
  if (label.empty()) return FullName();
  return FullName() + "." + label;
}

Loc StartLoc(const Stmt& s) { return s.attr ? s.attr->name_pos : s.block->name_pos; }

Loc EndLoc(const Stmt& s) {
  if (s.attr) return s.attr->value ? EndLoc(*s.attr->value) : s.attr->name_pos;
  return s.block->rcurly;
}

Span MakeSpan(const std::string& file, Loc begin, Loc end_inclusive) {
  Span span;
  span.file = file;
  if (!begin.valid()) return span;
  span.begin = Pos{begin.line, begin.col};
  if (end_inclusive.valid()) span.end = Pos{end_inclusive.line, end_inclusive.col + 1};
  return span;
}

Span ExprSpan(const std::string& file, const Expr& e) {
  return MakeSpan(file, StartLoc(e), EndLoc(e));
}

}  // namespace sluice::config
