// go-jmespath's parser (parser.go): binding powers, projections, filters, multi-selects and
// literals, with its error texts. See jmespath_internal.h.
#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
#include "agent/go/jmespath_internal.h"

namespace sluice::jmespath {
namespace {

// go-jmespath's token names (its stringer output), used in syntax errors.
std::string_view TokName(Tok t) {
  static constexpr std::string_view kNames[] = {
      "TOKUnknown",
      "TOKStar",
      "TOKDot",
      "TOKFilter",
      "TOKFlatten",
      "TOKLparen",
      "TOKRparen",
      "TOKLbracket",
      "TOKRbracket",
      "TOKLbrace",
      "TOKRbrace",
      "TOKOr",
      "TOKPipe",
      "TOKNumber",
      "TOKUnquotedIdentifier",
      "TOKQuotedIdentifier",
      "TOKComma",
      "TOKColon",
      "TOKPlus",
      "TOKMinus",
      "TOKMultiply",
      "TOKDivide",
      "TOKModulo",
      "TOKDiv",
      "TOKLT",
      "TOKLTE",
      "TOKGT",
      "TOKGTE",
      "TOKEQ",
      "TOKNE",
      "TOKJSONLiteral",
      "TOKStringLiteral",
      "TOKCurrent",
      "TOKRoot",
      "TOKExpref",
      "TOKAnd",
      "TOKNot",
      "TOKVarref",
      "TOKAssign",
      "TOKEOF",
  };
  return kNames[static_cast<int>(t)];
}

int BindingPower(Tok t) {
  switch (t) {
    case Tok::kAssign:
    case Tok::kPipe:
      return 1;
    case Tok::kOr:
      return 2;
    case Tok::kAnd:
      return 3;
    case Tok::kEQ:
    case Tok::kLT:
    case Tok::kLTE:
    case Tok::kGT:
    case Tok::kGTE:
    case Tok::kNE:
      return 5;
    case Tok::kMinus:
    case Tok::kPlus:
      return 6;
    case Tok::kDiv:
    case Tok::kDivide:
    case Tok::kModulo:
    case Tok::kMultiply:
      return 7;
    case Tok::kFlatten:
      return 9;
    case Tok::kStar:
      return 20;
    case Tok::kFilter:
      return 21;
    case Tok::kDot:
      return 40;
    case Tok::kNot:
      return 45;
    case Tok::kLbrace:
      return 50;
    case Tok::kLbracket:
      return 55;
    case Tok::kLparen:
      return 60;
    default:
      return 0;
  }
}

Node Leaf(NodeType t) {
  Node n;
  n.type = t;
  return n;
}

Node Binary(NodeType t, Node a, Node b) {
  Node n;
  n.type = t;
  n.children.push_back(std::move(a));
  n.children.push_back(std::move(b));
  return n;
}

// Converts a parsed JSON literal into an owned Value (it must outlive the parser).
Value OwnedFromDom(simdjson::dom::element e) {
  switch (e.type()) {
    case simdjson::dom::element_type::ARRAY: {
      std::vector<Value> elems;
      simdjson::dom::array arr = e.get_array().value_unsafe();
      for (simdjson::dom::element c : arr) elems.push_back(OwnedFromDom(c));
      return Value::Array(std::move(elems));
    }
    case simdjson::dom::element_type::OBJECT: {
      Value::Members m;
      simdjson::dom::object obj = e.get_object().value_unsafe();
      for (simdjson::dom::key_value_pair kv : obj) {
        m.emplace_back(std::string(kv.key), OwnedFromDom(kv.value));
      }
      return Value::Object(std::move(m));
    }
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE:
      return Value::Number(e.get_double().value_unsafe());
    case simdjson::dom::element_type::STRING:
      return Value::String(std::string(e.get_string().value_unsafe()));
    case simdjson::dom::element_type::BOOL:
      return Value::Bool(e.get_bool().value_unsafe());
    case simdjson::dom::element_type::NULL_VALUE:
      return Value();
  }
  return Value();
}

class Parser {
 public:
  static constexpr int kMaxDepth = 64;
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  absl::StatusOr<Node> ParseAll() {
    absl::StatusOr<Node> n = Expression(0);
    if (!n.ok()) return n;
    if (Current() != Tok::kEOF) {
      return SyntaxError(
          absl::StrCat("Unexpected token at the end of the expression: ", Av(TokName(Current()))));
    }
    return n;
  }

 private:
  Tok Current() const { return t_[i_].type; }
  Tok Lookahead(size_t k) const { return t_[std::min(i_ + k, t_.size() - 1)].type; }
  void Advance() {
    if (i_ + 1 < t_.size()) ++i_;
  }
  absl::Status Match(Tok t) {
    if (Current() == t) {
      Advance();
      return absl::OkStatus();
    }
    return SyntaxError(
        absl::StrCat("Expected ", Av(TokName(t)), ", received: ", Av(TokName(Current()))));
  }
  static absl::Status Unsupported(std::string_view what) {
    return absl::UnimplementedError(
        absl::StrCat(Av(what), " are not supported by sluice's JMESPath"));
  }

  absl::StatusOr<Node> Expression(int bp) {
    // Every nested construct goes through here: bounding the depth bounds the parser's stack
    // (and the evaluator's, which walks the same tree). Found by fuzzing ("[[[[...").
    if (depth_ >= kMaxDepth) return SyntaxError("expression nested too deeply");
    ++depth_;
    absl::StatusOr<Node> out = ExpressionInner(bp);
    --depth_;
    return out;
  }

  absl::StatusOr<Node> ExpressionInner(int bp) {
    const Token& left_tok = t_[i_];
    Advance();
    absl::StatusOr<Node> left = Nud(left_tok);
    if (!left.ok()) return left;
    while (bp < BindingPower(Current())) {
      Tok tok = Current();
      Advance();
      left = Led(tok, std::move(*left));
      if (!left.ok()) return left;
    }
    return left;
  }

  absl::StatusOr<Node> IndexOrSlice() {
    if (Current() == Tok::kColon || Lookahead(1) == Tok::kColon) return SliceExpression();
    Node n = Leaf(NodeType::kIndex);
    if (!absl::SimpleAtoi(Av(t_[i_].value), &n.index)) {
      return SyntaxError(absl::StrCat("invalid index ", Av(t_[i_].value)));
    }
    Advance();
    absl::Status st = Match(Tok::kRbracket);
    if (!st.ok()) return st;
    return n;
  }

  absl::StatusOr<Node> SliceExpression() {
    Node n = Leaf(NodeType::kSlice);
    int part = 0;
    while (Current() != Tok::kRbracket && part < 3) {
      if (Current() == Tok::kColon) {
        ++part;
        if (part == 3) return SyntaxError("Too many colons in slice expression");
        Advance();
      } else if (Current() == Tok::kNumber) {
        int64_t v;
        if (!absl::SimpleAtoi(Av(t_[i_].value), &v)) {
          return SyntaxError(absl::StrCat("invalid number ", Av(t_[i_].value)));
        }
        n.slice[part] = v;
        Advance();
      } else {
        return SyntaxError(
            absl::StrCat("Expected tColon or tNumber, received: ", Av(TokName(Current()))));
      }
    }
    absl::Status st = Match(Tok::kRbracket);
    if (!st.ok()) return st;
    return n;
  }

  absl::StatusOr<Node> ProjectIfSlice(Node left, Node right) {
    const bool is_slice = right.type == NodeType::kSlice;
    Node index_expr = Binary(NodeType::kIndexExpression, std::move(left), std::move(right));
    if (!is_slice) return index_expr;
    absl::StatusOr<Node> rhs = ProjectionRHS(BindingPower(Tok::kStar));
    if (!rhs.ok()) return rhs;
    return Binary(NodeType::kProjection, std::move(index_expr), std::move(*rhs));
  }

  absl::StatusOr<Node> Led(Tok tok, Node left) {
    switch (tok) {
      case Tok::kDot: {
        if (Current() != Tok::kStar) {
          absl::StatusOr<Node> right = DotRHS(BindingPower(Tok::kDot));
          if (!right.ok()) return right;
          return Binary(NodeType::kSubexpression, std::move(left), std::move(*right));
        }
        Advance();
        absl::StatusOr<Node> right = ProjectionRHS(BindingPower(Tok::kDot));
        if (!right.ok()) return right;
        return Binary(NodeType::kValueProjection, std::move(left), std::move(*right));
      }
      case Tok::kPipe:
      case Tok::kOr:
      case Tok::kAnd: {
        absl::StatusOr<Node> right = Expression(BindingPower(tok));
        if (!right.ok()) return right;
        NodeType t = tok == Tok::kPipe ? NodeType::kPipe
                     : tok == Tok::kOr ? NodeType::kOr
                                       : NodeType::kAnd;
        return Binary(t, std::move(left), std::move(*right));
      }
      case Tok::kLparen:
        if (left.type != NodeType::kField) return SyntaxError("Invalid node as function name.");
        return absl::UnimplementedError(absl::StrCat("function calls (", left.name,
                                                     "()) are not supported by sluice's JMESPath"));
      case Tok::kFilter:
        return Filter(std::move(left));
      case Tok::kFlatten: {
        Node flat;
        flat.type = NodeType::kFlatten;
        flat.children.push_back(std::move(left));
        absl::StatusOr<Node> right = ProjectionRHS(BindingPower(Tok::kFlatten));
        if (!right.ok()) return right;
        return Binary(NodeType::kProjection, std::move(flat), std::move(*right));
      }
      case Tok::kPlus:
      case Tok::kMinus:
      case Tok::kStar:
      case Tok::kMultiply:
      case Tok::kDivide:
      case Tok::kModulo:
      case Tok::kDiv: {
        absl::StatusOr<Node> right = Expression(BindingPower(tok));
        if (!right.ok()) return right;
        Node n = Binary(NodeType::kArithmetic, std::move(left), std::move(*right));
        n.op = tok;
        return n;
      }
      case Tok::kAssign:
        return Unsupported("variable bindings (let)");
      case Tok::kEQ:
      case Tok::kNE:
      case Tok::kGT:
      case Tok::kGTE:
      case Tok::kLT:
      case Tok::kLTE: {
        absl::StatusOr<Node> right = Expression(BindingPower(tok));
        if (!right.ok()) return right;
        Node n = Binary(NodeType::kComparator, std::move(left), std::move(*right));
        n.op = tok;
        return n;
      }
      case Tok::kLbracket: {
        if (Current() == Tok::kNumber || Current() == Tok::kColon) {
          absl::StatusOr<Node> right = IndexOrSlice();
          if (!right.ok()) return right;
          return ProjectIfSlice(std::move(left), std::move(*right));
        }
        absl::Status st = Match(Tok::kStar);
        if (!st.ok()) return st;
        st = Match(Tok::kRbracket);
        if (!st.ok()) return st;
        absl::StatusOr<Node> right = ProjectionRHS(BindingPower(Tok::kStar));
        if (!right.ok()) return right;
        return Binary(NodeType::kProjection, std::move(left), std::move(*right));
      }
      default:
        return SyntaxError(absl::StrCat("Unexpected token: ", Av(TokName(tok))));
    }
  }

  absl::StatusOr<Node> Nud(const Token& tok) {
    switch (tok.type) {
      case Tok::kVarref:
        return Unsupported("variables ($name)");
      case Tok::kJSONLiteral: {
        simdjson::dom::parser parser;
        simdjson::padded_string padded(tok.value);
        simdjson::dom::element e;
        if (parser.parse(padded).get(e) != simdjson::SUCCESS) {
          return SyntaxError(absl::StrCat("invalid JSON literal `", tok.value, "`"));
        }
        Node n = Leaf(NodeType::kLiteral);
        n.literal = OwnedFromDom(e);
        return n;
      }
      case Tok::kStringLiteral: {
        Node n = Leaf(NodeType::kLiteral);
        n.literal = Value::String(tok.value);
        return n;
      }
      case Tok::kUnquotedIdentifier:
        if (tok.value == "let" && Current() == Tok::kVarref) {
          return Unsupported("let expressions");
        }
        [[fallthrough]];
      case Tok::kQuotedIdentifier: {
        if (tok.type == Tok::kQuotedIdentifier && Current() == Tok::kLparen) {
          return SyntaxError("Can't have quoted identifier as function name.");
        }
        Node n = Leaf(NodeType::kField);
        n.name = tok.value;
        return n;
      }
      case Tok::kPlus:
      case Tok::kMinus: {
        absl::StatusOr<Node> e = Expression(BindingPower(tok.type));
        if (!e.ok()) return e;
        Node n = Leaf(NodeType::kUnary);
        n.op = tok.type;
        n.children.push_back(std::move(*e));
        return n;
      }
      case Tok::kStar: {
        Node right = Leaf(NodeType::kIdentity);
        if (Current() != Tok::kRbracket) {
          absl::StatusOr<Node> r = ProjectionRHS(BindingPower(Tok::kStar));
          if (!r.ok()) return r;
          right = std::move(*r);
        }
        return Binary(NodeType::kValueProjection, Leaf(NodeType::kIdentity), std::move(right));
      }
      case Tok::kFilter:
        return Filter(Leaf(NodeType::kIdentity));
      case Tok::kLbrace:
        return MultiSelectHash();
      case Tok::kFlatten: {
        Node flat;
        flat.type = NodeType::kFlatten;
        flat.children.push_back(Leaf(NodeType::kIdentity));
        absl::StatusOr<Node> right = ProjectionRHS(BindingPower(Tok::kFlatten));
        if (!right.ok()) return right;
        return Binary(NodeType::kProjection, std::move(flat), std::move(*right));
      }
      case Tok::kLbracket: {
        if (Current() == Tok::kNumber || Current() == Tok::kColon) {
          absl::StatusOr<Node> right = IndexOrSlice();
          if (!right.ok()) return right;
          return ProjectIfSlice(Leaf(NodeType::kIdentity), std::move(*right));
        }
        if (Current() == Tok::kStar && Lookahead(1) == Tok::kRbracket) {
          Advance();
          Advance();
          absl::StatusOr<Node> right = ProjectionRHS(BindingPower(Tok::kStar));
          if (!right.ok()) return right;
          return Binary(NodeType::kProjection, Leaf(NodeType::kIdentity), std::move(*right));
        }
        return MultiSelectList();
      }
      case Tok::kCurrent:
        return Leaf(NodeType::kCurrent);
      case Tok::kRoot:
        return Leaf(NodeType::kRoot);
      case Tok::kExpref:
        return Unsupported("expression references (&)");
      case Tok::kNot: {
        absl::StatusOr<Node> e = Expression(BindingPower(Tok::kNot));
        if (!e.ok()) return e;
        Node n = Leaf(NodeType::kNot);
        n.children.push_back(std::move(*e));
        return n;
      }
      case Tok::kLparen: {
        absl::StatusOr<Node> e = Expression(0);
        if (!e.ok()) return e;
        absl::Status st = Match(Tok::kRparen);
        if (!st.ok()) return st;
        return e;
      }
      case Tok::kEOF:
        return SyntaxError("Incomplete expression");
      default:
        return SyntaxError(absl::StrCat("Invalid token: ", Av(TokName(tok.type))));
    }
  }

  absl::StatusOr<Node> MultiSelectList() {
    Node n = Leaf(NodeType::kMultiSelectList);
    for (;;) {
      absl::StatusOr<Node> e = Expression(0);
      if (!e.ok()) return e;
      n.children.push_back(std::move(*e));
      if (Current() == Tok::kRbracket) break;
      absl::Status st = Match(Tok::kComma);
      if (!st.ok()) return st;
    }
    absl::Status st = Match(Tok::kRbracket);
    if (!st.ok()) return st;
    return n;
  }

  absl::StatusOr<Node> MultiSelectHash() {
    Node n = Leaf(NodeType::kMultiSelectHash);
    for (;;) {
      const Token& key = t_[i_];
      if (Current() != Tok::kUnquotedIdentifier && Current() != Tok::kQuotedIdentifier) {
        return SyntaxError("Expected tQuotedIdentifier or tUnquotedIdentifier");
      }
      std::string name = key.value;
      Advance();
      absl::Status st = Match(Tok::kColon);
      if (!st.ok()) return st;
      absl::StatusOr<Node> e = Expression(0);
      if (!e.ok()) return e;
      Node kv;
      kv.type = NodeType::kIdentity;  // unused; the key rides in `name`
      kv.name = std::move(name);
      kv.children.push_back(std::move(*e));
      n.children.push_back(std::move(kv));
      if (Current() == Tok::kComma) {
        Advance();
      } else if (Current() == Tok::kRbrace) {
        Advance();
        break;
      } else {
        return SyntaxError(absl::StrCat("Expected TOKRbrace, received: ", Av(TokName(Current()))));
      }
    }
    return n;
  }

  absl::StatusOr<Node> Filter(Node left) {
    absl::StatusOr<Node> cond = Expression(0);
    if (!cond.ok()) return cond;
    absl::Status st = Match(Tok::kRbracket);
    if (!st.ok()) return st;
    Node right = Leaf(NodeType::kIdentity);
    if (Current() != Tok::kFlatten) {
      absl::StatusOr<Node> r = ProjectionRHS(BindingPower(Tok::kFilter));
      if (!r.ok()) return r;
      right = std::move(*r);
    }
    Node n;
    n.type = NodeType::kFilterProjection;
    n.children.push_back(std::move(left));
    n.children.push_back(std::move(right));
    n.children.push_back(std::move(*cond));
    return n;
  }

  absl::StatusOr<Node> DotRHS(int bp) {
    Tok la = Current();
    if (la == Tok::kQuotedIdentifier || la == Tok::kUnquotedIdentifier || la == Tok::kStar) {
      return Expression(bp);
    }
    if (la == Tok::kLbracket) {
      Advance();
      return MultiSelectList();
    }
    if (la == Tok::kLbrace) {
      Advance();
      return MultiSelectHash();
    }
    return SyntaxError("Expected identifier, lbracket, or lbrace");
  }

  absl::StatusOr<Node> ProjectionRHS(int bp) {
    Tok cur = Current();
    if (BindingPower(cur) < 10) return Leaf(NodeType::kIdentity);
    if (cur == Tok::kLbracket || cur == Tok::kFilter) return Expression(bp);
    if (cur == Tok::kDot) {
      Advance();
      return DotRHS(bp);
    }
    return SyntaxError("Error");
  }

  std::vector<Token> t_;
  size_t i_ = 0;
  int depth_ = 0;
};

}  // namespace

absl::StatusOr<Node> ParseTokens(std::vector<Token> tokens) {
  Parser parser(std::move(tokens));
  return parser.ParseAll();
}

}  // namespace sluice::jmespath
