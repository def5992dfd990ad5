#include "agent/config/eval.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/common/strings.h"
#include "agent/config/format.h"
#include "agent/config/lexer.h"
#include "agent/config/stdlib.h"
#include "agent/go/strconv.h"

namespace sluice::config {
namespace {

// Alloy's name of a value's type in operator and indexing errors: a capsule is "capsule".
std::string_view AlloyType(const Value& v) { return Value::KindName(v.kind()); }

// A failed evaluation: either a message about the value of `node` (printed as "<node text><path>
// <message>" over the node's span, as Alloy's vm does for value errors) or a message with a
// span of its own (unknown identifiers and fields).
struct Failure {
  const Expr* node = nullptr;
  std::string path;
  std::string message;
  bool has_span = false;
  Loc begin;
  Loc end;
};

// Go's integer power by repeated multiplication (wrapping), computed by squaring.
int64_t IntPow(int64_t n, int64_t m) {
  if (m == 0 || n == 1) return 1;
  if (n == 0 && m > 0) return 0;
  if (m < 2) return n;
  uint64_t result = 1;
  uint64_t base = static_cast<uint64_t>(n);
  uint64_t e = static_cast<uint64_t>(m);
  while (e > 0) {
    if (e & 1) result *= base;
    base *= base;
    e >>= 1;
  }
  return static_cast<int64_t>(result);
}

bool ValuesEqual(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kNumber:
      if (a.is_int() && b.is_int()) return a.as_int() == b.as_int();
      return a.as_double() == b.as_double();
    case Value::Kind::kArray: {
      const Array& x = a.as_array();
      const Array& y = b.as_array();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!ValuesEqual(x[i], y[i])) return false;
      }
      return true;
    }
    case Value::Kind::kObject: {
      const Object& x = a.as_object();
      const Object& y = b.as_object();
      if (x.size() != y.size()) return false;
      for (const auto& [k, v] : x) {
        auto it = y.find(k);
        if (it == y.end() || !ValuesEqual(v, it->second)) return false;
      }
      return true;
    }
    default:
      return a == b;
  }
}

std::string AllowedTypes(Token op) {
  switch (op) {
    case Token::kOr:
    case Token::kAnd:
      return "[bool]";
    case Token::kAdd:
      return "[number string capsule]";
    case Token::kLt:
    case Token::kGt:
    case Token::kLte:
    case Token::kGte:
      return "[number string]";
    default:
      return "[number]";
  }
}

bool AcceptableBinop(const Value& v, Token op) {
  switch (op) {
    case Token::kOr:
    case Token::kAnd:
      return v.kind() == Value::Kind::kBool;
    case Token::kAdd:
      return v.kind() == Value::Kind::kNumber || v.kind() == Value::Kind::kString ||
             v.kind() == Value::Kind::kCapsule;
    case Token::kLt:
    case Token::kGt:
    case Token::kLte:
    case Token::kGte:
      return v.kind() == Value::Kind::kNumber || v.kind() == Value::Kind::kString;
    default:
      return v.kind() == Value::Kind::kNumber;
  }
}

template <typename T>
bool Compare(Token op, const T& a, const T& b) {
  switch (op) {
    case Token::kLt:
      return a < b;
    case Token::kGt:
      return a > b;
    case Token::kLte:
      return a <= b;
    default:
      return a >= b;
  }
}

class Evaluator {
 public:
  Evaluator(const std::string& file, const Scope& scope) : file_(file), scope_(scope) {}

  bool Eval(const Expr& e, Value* out) {
    if (++depth_ > kMaxEvalDepth) {
      --depth_;
      return FailAt(e, "expression nested too deeply");
    }
    bool ok = EvalInner(e, out);
    --depth_;
    return ok;
  }

  bool EvalBody(const BlockStmt& b, Block* out) {
    out->name = b.FullName();
    out->label = b.label;
    out->span = BlockHeaderSpan(file_, b);
    if (++depth_ > kMaxEvalDepth) {
      --depth_;
      failure_.has_span = true;
      failure_.begin = b.name_pos;
      failure_.message = "blocks nested too deeply";
      return false;
    }
    bool ok = true;
    for (const Stmt& s : b.body) {
      if (s.attr) {
        Attr a;
        a.name = s.attr->name;
        a.name_span = MakeSpan(file_, s.attr->name_pos,
                               s.attr->name_pos.Add(static_cast<int>(a.name.size()) - 1));
        a.value_span = ExprSpan(file_, *s.attr->value);
        a.value_text = FormatExpr(*s.attr->value);
        if (!Eval(*s.attr->value, &a.value)) {
          ok = false;
          break;
        }
        out->body.attrs.push_back(std::move(a));
      } else {
        Block child;
        if (!EvalBody(*s.block, &child)) {
          ok = false;
          break;
        }
        out->body.blocks.push_back(std::move(child));
      }
    }
    --depth_;
    return ok;
  }

  void Report(Diags* diags) const {
    const Failure& f = failure_;
    if (f.has_span) {
      diags->Add(MakeSpan(file_, f.begin, f.end), f.message);
      return;
    }
    if (f.node == nullptr) {
      diags->Add(Span{file_, {}, {}}, f.message);
      return;
    }
    diags->Add(ExprSpan(file_, *f.node), absl::StrCat(FormatExpr(*f.node), f.path, " ", f.message));
  }

 private:
  bool FailAt(const Expr& node, std::string message, std::string path = "") {
    failure_ = Failure{};
    failure_.node = &node;
    failure_.path = std::move(path);
    failure_.message = std::move(message);
    return false;
  }

  bool FailSpan(Loc begin, Loc end, std::string message) {
    failure_ = Failure{};
    failure_.has_span = true;
    failure_.begin = begin;
    failure_.end = end;
    failure_.message = std::move(message);
    return false;
  }

  bool EvalLiteral(const Expr& e, Value* out) {
    switch (e.tok) {
      case Token::kNull:
        *out = Value::Null();
        return true;
      case Token::kBool:
        *out = Value::Bool(e.text == "true");
        return true;
      case Token::kString: {
        std::string s;
        if (!GoUnquote(e.text, &s)) return FailAt(e, "invalid syntax");
        *out = Value::String(std::move(s));
        return true;
      }
      case Token::kNumber: {
        // Go's strconv.ParseInt(lit, 0, 64): a leading 0 means octal.
        const std::string& t = e.text;
        int base = (t.size() > 1 && t[0] == '0') ? 8 : 10;
        errno = 0;
        char* end = nullptr;
        unsigned long long u = std::strtoull(t.c_str(), &end, base);
        bool parsed = end != nullptr && *end == '\0' && errno == 0;
        if (parsed && u <= static_cast<unsigned long long>(INT64_MAX)) {
          *out = Value::Int(static_cast<int64_t>(u));
          return true;
        }
        if (parsed) {
          // Beyond int64 Alloy keeps an unsigned integer; sluice has only int64 and double.
          *out = Value::Float(static_cast<double>(u));
          return true;
        }
        [[fallthrough]];
      }
      case Token::kFloat: {
        errno = 0;
        char* end = nullptr;
        double d = std::strtod(e.text.c_str(), &end);
        if (end == nullptr || *end != '\0') {
          return FailAt(
              e, absl::StrCat("strconv.ParseFloat: parsing ", GoQuote(e.text), ": invalid syntax"));
        }
        if (errno == ERANGE && std::isinf(d)) {
          return FailAt(e, absl::StrCat("strconv.ParseFloat: parsing ", GoQuote(e.text),
                                        ": value out of range"));
        }
        *out = Value::Float(d);
        return true;
      }
      default:
        return FailAt(e, "invalid literal");
    }
  }

  bool EvalInner(const Expr& e, Value* out) {
    switch (e.kind) {
      case ExprKind::kLiteral:
        return EvalLiteral(e, out);
      case ExprKind::kIdent: {
        const Value* v = scope_.Lookup(e.text);
        if (v == nullptr) {
          return FailSpan(e.pos, EndLoc(e),
                          absl::StrCat("identifier ", GoQuote(e.text), " does not exist"));
        }
        *out = *v;
        return true;
      }
      case ExprKind::kArray: {
        Array items;
        items.reserve(e.elems.size());
        for (const auto& el : e.elems) {
          Value v;
          if (!Eval(*el, &v)) return false;
          items.push_back(std::move(v));
        }
        *out = Value::MakeArray(std::move(items));
        return true;
      }
      case ExprKind::kObject: {
        Object obj;
        for (const ObjectField& f : e.fields) {
          Value v;
          if (!Eval(*f.value, &v)) return false;
          obj[f.name] = std::move(v);
        }
        *out = Value::MakeObject(std::move(obj));
        return true;
      }
      case ExprKind::kParen:
        return Eval(*e.left, out);
      case ExprKind::kAccess: {
        Value base;
        if (!Eval(*e.left, &base)) return false;
        if (base.kind() == Value::Kind::kObject) {
          auto it = base.as_object().find(e.text);
          if (it == base.as_object().end()) {
            return FailSpan(e.pos, EndLoc(e),
                            absl::StrCat("field ", GoQuote(e.text), " does not exist"));
          }
          *out = it->second;
          return true;
        }
        if (base.kind() == Value::Kind::kCapsule) {
          return FailAt(*e.left, absl::StrCat("expected object or array or a capsule convertible "
                                              "to an object, got ",
                                              Av(AlloyType(base))));
        }
        return FailAt(*e.left, absl::StrCat("cannot access field ", GoQuote(e.text),
                                            " on value of type ", Av(AlloyType(base))));
      }
      case ExprKind::kIndex:
        return EvalIndex(e, out);
      case ExprKind::kUnary: {
        Value v;
        if (!Eval(*e.left, &v)) return false;
        if (e.tok == Token::kNot) {
          if (v.kind() != Value::Kind::kBool) {
            return FailAt(*e.left, absl::StrCat("should be bool, got ", Av(AlloyType(v))));
          }
          *out = Value::Bool(!v.as_bool());
          return true;
        }
        if (v.kind() != Value::Kind::kNumber) {
          return FailAt(*e.left, absl::StrCat("should be number, got ", Av(AlloyType(v))));
        }
        *out = v.is_int()
                   ? Value::Int(static_cast<int64_t>(0ULL - static_cast<uint64_t>(v.as_int())))
                   : Value::Float(-v.as_double());
        return true;
      }
      case ExprKind::kBinary:
        return EvalBinary(e, out);
      case ExprKind::kCall:
        return EvalCall(e, out);
    }
    return FailAt(e, "unsupported expression");
  }

  bool EvalIndex(const Expr& e, Value* out) {
    Value base;
    if (!Eval(*e.left, &base)) return false;
    Value idx;
    if (!Eval(*e.right, &idx)) return false;
    switch (base.kind()) {
      case Value::Kind::kArray: {
        if (idx.kind() != Value::Kind::kNumber) {
          return FailAt(*e.right, absl::StrCat("should be number, got ", Av(AlloyType(idx))));
        }
        // A float index truncates (saturated: Value::Float keeps that view), as Go converts it.
        int64_t i = idx.as_int();
        const Array& arr = base.as_array();
        if (i < 0 || i >= static_cast<int64_t>(arr.size())) {
          return FailAt(
              *e.right,
              absl::StrCat("index ", i, " is out of range of array with length ", arr.size()));
        }
        *out = arr[static_cast<size_t>(i)];
        return true;
      }
      case Value::Kind::kObject: {
        if (idx.kind() != Value::Kind::kString) {
          return FailAt(*e.right, absl::StrCat("should be string, got ", Av(AlloyType(idx))));
        }
        auto it = base.as_object().find(idx.as_string());
        // A missing key read with [] is null, not an error.
        *out = it == base.as_object().end() ? Value::Null() : it->second;
        return true;
      }
      case Value::Kind::kCapsule:
        return FailAt(*e.left, absl::StrCat("expected object or array or a capsule convertible to "
                                            "an object, got ",
                                            Av(AlloyType(base))));
      default:
        return FailAt(*e.left, absl::StrCat("expected object or array, got ", Av(AlloyType(base))));
    }
  }

  bool EvalBinary(const Expr& e, Value* out) {
    Value lhs, rhs;
    if (!Eval(*e.left, &lhs)) return false;
    if (!Eval(*e.right, &rhs)) return false;
    const Token op = e.tok;
    if (op == Token::kEq || op == Token::kNeq) {
      bool eq = ValuesEqual(lhs, rhs);
      *out = Value::Bool(op == Token::kEq ? eq : !eq);
      return true;
    }
    std::string op_name(TokenName(op));
    if (!AcceptableBinop(lhs, op)) {
      return FailAt(*e.left, absl::StrCat("should be one of ", AllowedTypes(op), " for binop ",
                                          op_name, ", got ", Av(AlloyType(lhs))));
    }
    if (!AcceptableBinop(rhs, op)) {
      return FailAt(*e.right, absl::StrCat("should be one of ", AllowedTypes(op), " for binop ",
                                           op_name, ", got ", Av(AlloyType(rhs))));
    }
    if (lhs.kind() != rhs.kind()) {
      return FailAt(*e.right,
                    absl::StrCat("should be ", Av(AlloyType(lhs)), ", got ", Av(AlloyType(rhs))));
    }
    switch (op) {
      case Token::kOr:
        *out = Value::Bool(lhs.as_bool() || rhs.as_bool());
        return true;
      case Token::kAnd:
        *out = Value::Bool(lhs.as_bool() && rhs.as_bool());
        return true;
      default:
        break;
    }
    if (lhs.kind() == Value::Kind::kString) {
      if (op == Token::kAdd) {
        *out = Value::String(lhs.as_string() + rhs.as_string());
      } else {
        *out = Value::Bool(Compare(op, lhs.as_string(), rhs.as_string()));
      }
      return true;
    }
    if (lhs.kind() == Value::Kind::kCapsule) {
      return FailAt(*e.left, absl::StrCat("could not perform binop ", op_name,
                                          " for unknown types lhs capsule rhs capsule"));
    }
    // Numbers: integer arithmetic when both are integers (wrapping as Go does), else float.
    const bool ints = lhs.is_int() && rhs.is_int();
    if ((op == Token::kDiv || op == Token::kMod) &&
        (rhs.is_int() ? rhs.as_int() == 0 : rhs.as_double() == 0)) {
      return FailAt(*e.right, "divide by zero error");
    }
    if (ints) {
      const uint64_t a = static_cast<uint64_t>(lhs.as_int());
      const uint64_t b = static_cast<uint64_t>(rhs.as_int());
      const int64_t x = lhs.as_int();
      const int64_t y = rhs.as_int();
      switch (op) {
        case Token::kAdd:
          *out = Value::Int(static_cast<int64_t>(a + b));
          return true;
        case Token::kSub:
          *out = Value::Int(static_cast<int64_t>(a - b));
          return true;
        case Token::kMul:
          *out = Value::Int(static_cast<int64_t>(a * b));
          return true;
        case Token::kDiv:
          *out = Value::Int(y == -1 ? static_cast<int64_t>(0ULL - a) : x / y);
          return true;
        case Token::kMod:
          *out = Value::Int(y == -1 ? 0 : x % y);
          return true;
        case Token::kPow:
          *out = Value::Int(IntPow(x, y));
          return true;
        default:
          *out = Value::Bool(Compare(op, x, y));
          return true;
      }
    }
    const double x = lhs.as_double();
    const double y = rhs.as_double();
    switch (op) {
      case Token::kAdd:
        *out = Value::Float(x + y);
        return true;
      case Token::kSub:
        *out = Value::Float(x - y);
        return true;
      case Token::kMul:
        *out = Value::Float(x * y);
        return true;
      case Token::kDiv:
        *out = Value::Float(x / y);
        return true;
      case Token::kMod:
        *out = Value::Float(std::fmod(x, y));
        return true;
      case Token::kPow:
        *out = Value::Float(std::pow(x, y));
        return true;
      default:
        *out = Value::Bool(Compare(op, x, y));
        return true;
    }
  }

  // The expression a function's complaint is about: the argument, or an element or field of it
  // written inline; what cannot be followed stays in the path ("[1]", ".name").
  const Expr* Locate(const Expr& arg, std::string_view path, std::string* rest) {
    const Expr* node = &arg;
    while (!path.empty()) {
      if (path[0] == '[') {
        size_t close = path.find(']');
        int64_t i = 0;
        if (close == std::string_view::npos || node->kind != ExprKind::kArray ||
            !absl::SimpleAtoi(Av(path.substr(1, close - 1)), &i) || i < 0 ||
            i >= static_cast<int64_t>(node->elems.size())) {
          break;
        }
        node = node->elems[static_cast<size_t>(i)].get();
        path.remove_prefix(close + 1);
      } else if (path[0] == '.') {
        size_t next = path.find_first_of(".[", 1);
        std::string_view key =
            path.substr(1, next == std::string_view::npos ? path.npos : next - 1);
        if (node->kind != ExprKind::kObject) break;
        const Expr* found = nullptr;
        for (const ObjectField& f : node->fields) {
          if (f.name == key) found = f.value.get();
        }
        if (found == nullptr) break;
        node = found;
        path.remove_prefix(next == std::string_view::npos ? path.size() : next);
      } else {
        break;
      }
    }
    *rest = std::string(path);
    return node;
  }

  bool EvalCall(const Expr& e, Value* out) {
    Value fn;
    if (!Eval(*e.left, &fn)) return false;
    if (fn.kind() != Value::Kind::kFunction) {
      return FailAt(*e.left, absl::StrCat("should be function, got ", Av(AlloyType(fn))));
    }
    std::vector<Value> args;
    args.reserve(e.elems.size());
    for (const auto& a : e.elems) {
      Value v;
      if (!Eval(*a, &v)) return false;
      args.push_back(std::move(v));
    }
    absl::StatusOr<Value> result = fn.as_function()(args);
    if (result.ok()) {
      *out = *std::move(result);
      return true;
    }
    const absl::Status& st = result.status();
    std::string message(Sv(st.message()));
    absl::optional<absl::Cord> arg = st.GetPayload(Av(kArgPayload));
    int64_t index = -1;
    if (arg && absl::SimpleAtoi(std::string(*arg), &index) && index >= 0 &&
        index < static_cast<int64_t>(e.elems.size())) {
      absl::optional<absl::Cord> path = st.GetPayload(Av(kPathPayload));
      std::string rest;
      const Expr* node =
          Locate(*e.elems[static_cast<size_t>(index)], path ? std::string(*path) : "", &rest);
      return FailAt(*node, std::move(message), std::move(rest));
    }
    return FailAt(*e.left, std::move(message));
  }

  const std::string& file_;
  const Scope& scope_;
  int depth_ = 0;
  Failure failure_;
};

}  // namespace

const Value* Scope::Lookup(std::string_view name) const {
  auto it = vars_.find(name);
  if (it != vars_.end()) return &it->second;
  return StdlibLookup(name);
}

bool EvalExpr(const std::string& file, const Expr& expr, const Scope& scope, Value* out,
              Diags* diags) {
  Evaluator ev(file, scope);
  if (ev.Eval(expr, out)) return true;
  ev.Report(diags);
  return false;
}

bool EvalBlock(const std::string& file, const BlockStmt& block, const Scope& scope, Block* out,
               Diags* diags) {
  Evaluator ev(file, scope);
  if (ev.EvalBody(block, out)) return true;
  ev.Report(diags);
  return false;
}

Span BlockHeaderSpan(const std::string& file, const BlockStmt& block) {
  Loc end;
  if (block.label_pos.valid()) {
    end = block.label_pos.Add(static_cast<int>(block.label.size()) + 1);
  } else {
    end = block.name_pos.Add(static_cast<int>(block.FullName().size()) - 1);
  }
  return MakeSpan(file, block.name_pos, end);
}

}  // namespace sluice::config
