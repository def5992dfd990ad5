#include "agent/config/parser.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/common/strings.h"
#include "agent/config/lexer.h"
#include "agent/go/strconv.h"

namespace sluice::config {
namespace {

// Recursive descent over the token stream, one token of lookahead, as Alloy's parser: every
// Parse* method leaves the parser on the first token after what it parsed.
class Parser {
 public:
  Parser(std::string name, std::string_view text, Diags* diags)
      : name_(std::move(name)),
        diags_(diags),
        index_(text),
        lexer_(
            text, [this](int offset, std::string msg) { ScanError(offset, std::move(msg)); },
            true) {
    Next();
  }

  File ParseFile() {
    File f;
    f.name = name_;
    f.body = ParseBody(Token::kEof);
    f.comments = std::move(comments_);
    return f;
  }

  std::unique_ptr<Expr> ParseWholeExpression() {
    std::unique_ptr<Expr> e = ParseExpression();
    Expect(Token::kTerminator);
    return e;
  }

  int errors() const { return errors_; }

 private:
  struct BlockName {
    std::vector<std::string> fragments;
    std::string label;
    Loc start;
    Loc label_pos;
    bool ValidAttribute() const { return fragments.size() == 1 && label.empty(); }
  };

  Loc At(int offset) const { return index_.At(offset); }

  void ScanError(int offset, std::string msg) {
    if (++errors_ > kMaxParseErrors) return Abort();
    diags_->Append(MakeSpan(name_, At(offset), Loc{}), std::move(msg));
  }

  void AddDiag(Loc start, Loc end_inclusive, std::string msg) {
    if (++errors_ > kMaxParseErrors) return Abort();
    diags_->Append(MakeSpan(name_, start, end_inclusive), std::move(msg));
  }

  // An error at the current token; a second error on the same line is dropped.
  void AddError(std::string msg) {
    Loc pos = At(offset_);
    if (last_error_line_ == pos.line) return;
    last_error_line_ = pos.line;
    AddDiag(pos, Loc{}, std::move(msg));
  }

  void Next0() {
    if (aborted_) {
      tok_ = Token::kEof;
      lit_.clear();
      return;
    }
    ScannedToken t = lexer_.Scan();
    tok_ = t.tok;
    offset_ = t.offset;
    lit_ = std::move(t.lit);
  }

  void Next() {
    Next0();
    while (tok_ == Token::kComment) ConsumeCommentGroup();
  }

  void ConsumeCommentGroup() {
    CommentGroup group;
    int endline = At(offset_).line;
    while (tok_ == Token::kComment && At(offset_).line <= endline + 1) {
      Comment c;
      c.pos = At(offset_);
      c.end = At(offset_ + static_cast<int>(lit_.size()) - 1);
      c.text = lit_;
      endline = c.pos.line;
      if (lit_.size() > 1 && lit_[1] == '*') {
        endline += static_cast<int>(std::count(lit_.begin(), lit_.end(), '\n'));
      }
      group.push_back(std::move(c));
      Next0();
    }
    comments_.push_back(std::move(group));
  }

  // Stops everything after a nesting error: the parser sees the end of the input from now on.
  void Abort() {
    aborted_ = true;
    tok_ = Token::kEof;
    lit_.clear();
  }

  bool Enter() {
    if (aborted_) return false;
    if (++depth_ > kMaxNesting) {
      AddDiag(At(offset_), Loc{},
              absl::StrCat("nesting too deep: more than ", kMaxNesting, " levels"));
      Abort();
      return false;
    }
    return true;
  }
  void Leave() { --depth_; }

  // Checks the height of a freshly built node (left-nested chains such as a+b+c+... grow the
  // tree without recursing in the parser).
  std::unique_ptr<Expr> Check(std::unique_ptr<Expr> e) {
    int d = 0;
    if (e->left) d = std::max(d, e->left->depth);
    if (e->right) d = std::max(d, e->right->depth);
    for (const auto& x : e->elems) d = std::max(d, x->depth);
    for (const auto& f : e->fields) {
      if (f.value) d = std::max(d, f.value->depth);
    }
    e->depth = d + 1;
    if (e->depth > kMaxNesting && !aborted_) {
      AddDiag(At(offset_), Loc{},
              absl::StrCat("nesting too deep: more than ", kMaxNesting, " levels"));
      Abort();
    }
    return e;
  }

  void Advance(Token to) {
    while (tok_ != Token::kEof) {
      if (tok_ == to) return;
      Next();
    }
  }

  static bool IsStatementEnd(Token t) {
    return t == Token::kTerminator || t == Token::kRParen || t == Token::kRCurly ||
           t == Token::kRBrack || t == Token::kComma;
  }

  void AdvanceToStatementEnd() {
    while (tok_ != Token::kEof) {
      if (IsStatementEnd(tok_)) return;
      Next();
    }
  }

  // Consumes the current token, reporting an error when it is not `t`. Returns its position.
  Loc Expect(Token t, Token* got = nullptr, std::string* lit = nullptr) {
    Loc pos = At(offset_);
    if (got) *got = tok_;
    if (lit) *lit = lit_;
    if (tok_ != t) {
      AddError(absl::StrCat("expected ", Av(TokenName(t)), ", got ", Av(TokenName(tok_))));
    }
    Next();
    return pos;
  }

  StmtList ParseBody(Token until) {
    StmtList body;
    while (tok_ != until && tok_ != Token::kEof) {
      std::optional<Stmt> stmt = ParseStatement();
      if (stmt) body.push_back(std::move(*stmt));
      if (tok_ == until) break;
      if (tok_ != Token::kTerminator) {
        AddError(absl::StrCat("expected ", Av(TokenName(Token::kTerminator)), ", got ",
                              Av(TokenName(tok_))));
        ConsumeStatement();
      }
      Next();
    }
    return body;
  }

  // Skips the rest of a statement: up to a terminator outside any (), [], {} it opened.
  void ConsumeStatement() {
    int curly = 0, brack = 0, paren = 0;
    while (tok_ != Token::kEof) {
      switch (tok_) {
        case Token::kLCurly:
          ++curly;
          break;
        case Token::kRCurly:
          --curly;
          break;
        case Token::kLBrack:
          ++brack;
          break;
        case Token::kRBrack:
          --brack;
          break;
        case Token::kLParen:
          ++paren;
          break;
        case Token::kRParen:
          --paren;
          break;
        default:
          break;
      }
      if (tok_ == Token::kTerminator && curly <= 0 && brack <= 0 && paren <= 0) return;
      Next();
    }
  }

  std::optional<Stmt> ParseStatement() {
    std::optional<BlockName> bn = ParseBlockName();
    if (!bn) {
      Advance(Token::kIdent);
      return std::nullopt;
    }
    switch (tok_) {
      case Token::kAssign: {
        Next();
        if (bn->fragments.size() != 1) {
          std::string joined = absl::StrJoin(bn->fragments, ".");
          AddDiag(bn->start, bn->start.Add(static_cast<int>(joined.size()) - 1),
                  "attribute names may only consist of a single identifier with no \".\"");
        } else if (bn->label_pos.valid()) {
          AddDiag(bn->label_pos, bn->label_pos.Add(static_cast<int>(bn->label.size()) + 1),
                  "attribute names may not have labels");
        }
        Stmt s;
        s.attr = std::make_unique<AttributeStmt>();
        s.attr->name = bn->fragments[0];
        s.attr->name_pos = bn->start;
        s.attr->value = ParseExpression();
        return s;
      }
      case Token::kLCurly: {
        Stmt s;
        s.block = std::make_unique<BlockStmt>();
        BlockStmt& b = *s.block;
        b.name = std::move(bn->fragments);
        b.name_pos = bn->start;
        b.label = std::move(bn->label);
        b.label_pos = bn->label_pos;
        b.lcurly = Expect(Token::kLCurly);
        if (Enter()) {
          b.body = ParseBody(Token::kRCurly);
          Leave();
        }
        b.rcurly = Expect(Token::kRCurly);
        return s;
      }
      default:
        if (bn->ValidAttribute()) {
          AddError(absl::StrCat("expected attribute assignment or block body, got ",
                                Av(TokenName(tok_))));
        } else {
          AddError(absl::StrCat("expected block body, got ", Av(TokenName(tok_))));
        }
        Advance(Token::kIdent);
        return std::nullopt;
    }
  }

  std::optional<BlockName> ParseBlockName() {
    if (tok_ != Token::kIdent) {
      AddError(absl::StrCat("expected identifier, got ", Av(TokenName(tok_))));
      return std::nullopt;
    }
    BlockName bn;
    bn.fragments.push_back(lit_);
    bn.start = At(offset_);
    Next();
    while (tok_ == Token::kDot) {
      Next();
      if (tok_ != Token::kIdent) {
        // Keep going with a malformed name to find more errors.
        AddError(absl::StrCat("expected identifier, got ", Av(TokenName(tok_))));
      }
      bn.fragments.push_back(lit_);
      Next();
    }
    if (tok_ != Token::kAssign && tok_ != Token::kLCurly) {
      if (tok_ == Token::kString) {
        if (lit_[0] != '"') {
          AddError(absl::StrCat("expected block label to be a double quoted string, but got ",
                                GoQuote(lit_)));
        }
        // A non-empty label (written without escapes) must be an identifier itself.
        if (lit_.size() > 2) {
          bn.label = lit_.substr(1, lit_.size() - 2);
          if (!IsValidIdentifier(bn.label)) {
            AddError(absl::StrCat("expected block label to be a valid identifier, but got ",
                                  GoQuote(bn.label)));
          }
        }
        bn.label_pos = At(offset_);
      } else {
        AddError(absl::StrCat("expected block label, got ", Av(TokenName(tok_))));
      }
      Next();
    }
    return bn;
  }

  std::unique_ptr<Expr> NullLiteral() {
    auto e = std::make_unique<Expr>();
    e->kind = ExprKind::kLiteral;
    e->tok = Token::kNull;
    e->text = "null";
    e->pos = At(offset_);
    return e;
  }

  std::unique_ptr<Expr> ParseExpression() {
    if (!Enter()) return NullLiteral();
    std::unique_ptr<Expr> e = ParseBinOp(1);
    Leave();
    return e;
  }

  std::unique_ptr<Expr> ParseBinOp(int in_prec) {
    std::unique_ptr<Expr> lhs = ParsePowExpr();
    for (;;) {
      Token tok = tok_;
      int prec = BinaryPrecedence(tok);
      if (prec < in_prec || prec == 0) return lhs;
      Loc pos = At(offset_);
      Next();
      std::unique_ptr<Expr> rhs = ParseBinOp(prec + 1);
      auto e = std::make_unique<Expr>();
      e->kind = ExprKind::kBinary;
      e->tok = tok;
      e->pos = pos;
      e->left = std::move(lhs);
      e->right = std::move(rhs);
      lhs = Check(std::move(e));
    }
  }

  std::unique_ptr<Expr> ParsePowExpr() {
    std::unique_ptr<Expr> lhs = ParseUnaryExpr();
    if (tok_ != Token::kPow) return lhs;
    Loc pos = At(offset_);
    Next();
    auto e = std::make_unique<Expr>();
    e->kind = ExprKind::kBinary;
    e->tok = Token::kPow;
    e->pos = pos;
    e->left = std::move(lhs);
    if (Enter()) {
      e->right = ParsePowExpr();
      Leave();
    } else {
      e->right = NullLiteral();
    }
    return Check(std::move(e));
  }

  std::unique_ptr<Expr> ParseUnaryExpr() {
    if (tok_ == Token::kNot || tok_ == Token::kSub) {
      auto e = std::make_unique<Expr>();
      e->kind = ExprKind::kUnary;
      e->tok = tok_;
      e->pos = At(offset_);
      Next();
      if (Enter()) {
        e->left = ParseUnaryExpr();
        Leave();
      } else {
        e->left = NullLiteral();
      }
      return Check(std::move(e));
    }

    std::unique_ptr<Expr> primary = ParsePrimaryExpr();
    for (;;) {
      switch (tok_) {
        case Token::kDot: {
          Next();
          std::string name;
          Loc name_pos = Expect(Token::kIdent, nullptr, &name);
          auto e = std::make_unique<Expr>();
          e->kind = ExprKind::kAccess;
          e->left = std::move(primary);
          e->text = std::move(name);
          e->pos = name_pos;
          e->end = At(name_pos.offset + std::max<int>(1, static_cast<int>(e->text.size())) - 1);
          primary = Check(std::move(e));
          break;
        }
        case Token::kLBrack: {
          auto e = std::make_unique<Expr>();
          e->kind = ExprKind::kIndex;
          e->left = std::move(primary);
          e->pos = Expect(Token::kLBrack);
          e->right = ParseExpression();
          e->end = Expect(Token::kRBrack);
          primary = Check(std::move(e));
          break;
        }
        case Token::kLParen: {
          auto e = std::make_unique<Expr>();
          e->kind = ExprKind::kCall;
          e->left = std::move(primary);
          e->pos = Expect(Token::kLParen);
          if (tok_ != Token::kRParen) e->elems = ParseExpressionList(Token::kRParen);
          e->end = Expect(Token::kRParen);
          primary = Check(std::move(e));
          break;
        }
        case Token::kString:
        case Token::kLCurly: {
          // Someone assigning a block to an attribute: parse it as a block to say so.
          if (tok_ == Token::kString) Next();
          Token got;
          Expect(Token::kLCurly, &got);
          if (got != Token::kLCurly) {
            ConsumeStatement();
            return primary;
          }
          if (Enter()) {
            ParseBody(Token::kRCurly);
            Leave();
          }
          Loc end = Expect(Token::kRCurly, &got);
          if (got != Token::kRCurly) {
            ConsumeStatement();
            return primary;
          }
          AddDiag(StartLoc(*primary), end, "cannot use a block as an expression");
          break;
        }
        default:
          return primary;
      }
    }
  }

  std::unique_ptr<Expr> ParsePrimaryExpr() {
    switch (tok_) {
      case Token::kIdent:
      case Token::kString:
      case Token::kNumber:
      case Token::kFloat:
      case Token::kBool:
      case Token::kNull: {
        auto e = std::make_unique<Expr>();
        e->kind = tok_ == Token::kIdent ? ExprKind::kIdent : ExprKind::kLiteral;
        e->tok = tok_;
        e->text = lit_;
        e->pos = At(offset_);
        e->end = At(offset_ + std::max<int>(1, static_cast<int>(lit_.size())) - 1);
        Next();
        return e;
      }
      case Token::kLParen: {
        auto e = std::make_unique<Expr>();
        e->kind = ExprKind::kParen;
        e->pos = Expect(Token::kLParen);
        e->left = ParseExpression();
        e->end = Expect(Token::kRParen);
        return Check(std::move(e));
      }
      case Token::kLBrack: {
        auto e = std::make_unique<Expr>();
        e->kind = ExprKind::kArray;
        e->pos = Expect(Token::kLBrack);
        if (tok_ != Token::kRBrack) e->elems = ParseExpressionList(Token::kRBrack);
        e->end = Expect(Token::kRBrack);
        return Check(std::move(e));
      }
      case Token::kLCurly: {
        auto e = std::make_unique<Expr>();
        e->kind = ExprKind::kObject;
        e->pos = Expect(Token::kLCurly);
        e->fields = ParseFieldList(Token::kRCurly);
        e->end = Expect(Token::kRCurly);
        return Check(std::move(e));
      }
      default:
        break;
    }
    AddError(absl::StrCat("expected expression, got ", Av(TokenName(tok_))));
    std::unique_ptr<Expr> e = NullLiteral();
    AdvanceToStatementEnd();
    return e;
  }

  std::vector<std::unique_ptr<Expr>> ParseExpressionList(Token until) {
    std::vector<std::unique_ptr<Expr>> exprs;
    while (tok_ != until && tok_ != Token::kEof) {
      exprs.push_back(ParseExpression());
      if (tok_ == until) break;
      if (tok_ != Token::kComma) AddError("missing ',' in expression list");
      Next();
    }
    return exprs;
  }

  std::vector<ObjectField> ParseFieldList(Token until) {
    std::vector<ObjectField> fields;
    while (tok_ != until && tok_ != Token::kEof) {
      fields.push_back(ParseField());
      if (tok_ == until) break;
      if (tok_ != Token::kComma) AddError("missing ',' in field list");
      Next();
    }
    return fields;
  }

  ObjectField ParseField() {
    ObjectField field;
    if (tok_ == Token::kString || tok_ == Token::kIdent) {
      field.name = lit_;
      field.name_pos = At(offset_);
      if (tok_ == Token::kString && lit_.size() > 2) {
        // A quoted key: the text between the quotes, as written.
        field.name = lit_.substr(1, lit_.size() - 2);
        field.quoted = true;
      }
      Next();
    } else {
      AddError(
          absl::StrCat("expected field name (string or identifier), got ", Av(TokenName(tok_))));
      Advance(Token::kAssign);
    }
    Expect(Token::kAssign);
    field.value = ParseExpression();
    return field;
  }

  // The lexer reports errors from its constructor on: what it reports to is declared first.
  std::string name_;
  Diags* diags_;
  int errors_ = 0;
  LineIndex index_;
  Lexer lexer_;
  std::vector<CommentGroup> comments_;
  Token tok_ = Token::kEof;
  int offset_ = 0;
  std::string lit_;
  int last_error_line_ = 0;
  int depth_ = 0;
  bool aborted_ = false;
};

}  // namespace

std::optional<File> ParseFile(std::string name, std::string_view text, Diags* diags) {
  Parser p(std::move(name), text, diags);
  File f = p.ParseFile();
  if (p.errors() > 0) return std::nullopt;
  return f;
}

std::unique_ptr<Expr> ParseExpression(std::string_view text, Diags* diags) {
  Parser p("", text, diags);
  std::unique_ptr<Expr> e = p.ParseWholeExpression();
  if (p.errors() > 0) return nullptr;
  return e;
}

bool IsValidIdentifier(std::string_view s) {
  int errors = 0;
  Lexer lexer(
      s, [&errors](int, std::string) { ++errors; }, false);
  ScannedToken t = lexer.Scan();
  return t.tok == Token::kIdent && t.lit == s;
}

}  // namespace sluice::config
