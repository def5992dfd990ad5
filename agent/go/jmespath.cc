// JMESPath values and the interpreter (go-jmespath's interpreter.go); the lexer and the parser
// are jmespath_lexer.cc and jmespath_parser.cc. See jmespath.h.
#include "agent/go/jmespath.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "agent/common/utf8.h"
#include "agent/go/jmespath_internal.h"
#include "agent/go/json.h"

namespace sluice::jmespath {

// ---------------------------------------------------------------------------------------------
// Value

Value Value::Dom(simdjson::dom::element e) {
  Value v;
  v.dom_ = true;
  v.elem_ = e;
  switch (e.type()) {
    case simdjson::dom::element_type::ARRAY:
      v.kind_ = Kind::kArray;
      break;
    case simdjson::dom::element_type::OBJECT:
      v.kind_ = Kind::kObject;
      break;
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE:
      v.kind_ = Kind::kNumber;
      break;
    case simdjson::dom::element_type::STRING:
      v.kind_ = Kind::kString;
      break;
    case simdjson::dom::element_type::BOOL:
      v.kind_ = Kind::kBool;
      break;
    case simdjson::dom::element_type::NULL_VALUE:
      v.kind_ = Kind::kNull;
      v.dom_ = false;
      break;
  }
  return v;
}

Value Value::Bool(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.b_ = b;
  return v;
}

Value Value::Number(double d) {
  Value v;
  v.kind_ = Kind::kNumber;
  v.n_ = d;
  return v;
}

Value Value::String(std::string s) {
  Value v;
  v.kind_ = Kind::kString;
  v.s_ = std::move(s);
  return v;
}

Value Value::Array(std::vector<Value> elems) {
  Value v;
  v.kind_ = Kind::kArray;
  v.arr_ = std::make_shared<const std::vector<Value>>(std::move(elems));
  return v;
}

Value Value::Object(Members members) {
  Value v;
  v.kind_ = Kind::kObject;
  v.obj_ = std::make_shared<const Members>(std::move(members));
  return v;
}

bool Value::boolean() const {
  if (!dom_) return b_;
  bool b = false;
  if (elem_.get_bool().get(b) != simdjson::SUCCESS) return false;
  return b;
}

double Value::number() const {
  if (!dom_) return n_;
  double d = 0;
  if (elem_.get_double().get(d) != simdjson::SUCCESS) return 0;
  return d;
}

std::string_view Value::str() const {
  if (!dom_) return s_;
  std::string_view s;
  if (elem_.get_string().get(s) != simdjson::SUCCESS) return {};
  return s;
}

size_t Value::ArraySize() const {
  if (kind_ != Kind::kArray) return 0;
  if (!dom_) return arr_->size();
  simdjson::dom::array a;
  if (elem_.get_array().get(a) != simdjson::SUCCESS) return 0;
  size_t n = 0;
  for (simdjson::dom::element e : a) {
    (void)e;
    ++n;
  }
  return n;
}

std::vector<Value> Value::Elements() const {
  std::vector<Value> out;
  if (kind_ != Kind::kArray) return out;
  if (!dom_) return *arr_;
  simdjson::dom::array a;
  if (elem_.get_array().get(a) != simdjson::SUCCESS) return out;
  for (simdjson::dom::element e : a) out.push_back(Dom(e));
  return out;
}

Value Value::At(size_t i) const {
  if (kind_ != Kind::kArray) return Value();
  if (!dom_) return i < arr_->size() ? (*arr_)[i] : Value();
  simdjson::dom::array a;
  if (elem_.get_array().get(a) != simdjson::SUCCESS) return Value();
  size_t n = 0;
  for (simdjson::dom::element e : a) {
    if (n++ == i) return Dom(e);
  }
  return Value();
}

Value Value::Field(std::string_view key) const {
  if (kind_ != Kind::kObject) return Value();
  Value found;
  if (!dom_) {
    for (const auto& [k, v] : *obj_) {
      if (k == key) found = v;
    }
    return found;
  }
  simdjson::dom::object o;
  if (elem_.get_object().get(o) != simdjson::SUCCESS) return Value();
  for (simdjson::dom::key_value_pair kv : o) {
    if (kv.key == key) found = Dom(kv.value);
  }
  return found;
}

std::vector<std::pair<std::string_view, Value>> Value::SortedMembers() const {
  std::vector<std::pair<std::string_view, Value>> m;
  if (kind_ != Kind::kObject) return m;
  if (!dom_) {
    for (const auto& [k, v] : *obj_) m.emplace_back(k, v);
  } else {
    simdjson::dom::object o;
    if (elem_.get_object().get(o) != simdjson::SUCCESS) return m;
    for (simdjson::dom::key_value_pair kv : o) m.emplace_back(kv.key, Dom(kv.value));
  }
  std::stable_sort(m.begin(), m.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  // Of equal keys keep the last, which a Go map decode would have kept.
  std::vector<std::pair<std::string_view, Value>> out;
  out.reserve(m.size());
  for (size_t i = 0; i < m.size(); ++i) {
    if (i + 1 < m.size() && m[i + 1].first == m[i].first) continue;
    out.push_back(std::move(m[i]));
  }
  return out;
}

std::vector<Value> Value::ObjectValues() const {
  std::vector<Value> out;
  for (auto& [k, v] : SortedMembers()) out.push_back(std::move(v));
  return out;
}

bool Value::IsFalse() const {
  switch (kind_) {
    case Kind::kNull:
      return true;
    case Kind::kBool:
      return !boolean();
    case Kind::kNumber:
      return false;
    case Kind::kString:
      return str().empty();
    case Kind::kArray:
      return ArraySize() == 0;
    case Kind::kObject:
      if (!dom_) return obj_->empty();
      {
        simdjson::dom::object o;
        if (elem_.get_object().get(o) != simdjson::SUCCESS) return true;
        return o.begin() == o.end();
      }
  }
  return true;
}

bool Value::Equals(const Value& other) const {
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::kNull:
      return true;
    case Kind::kBool:
      return boolean() == other.boolean();
    case Kind::kNumber:
      return number() == other.number();
    case Kind::kString:
      return str() == other.str();
    case Kind::kArray: {
      std::vector<Value> a = Elements(), b = other.Elements();
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i) {
        if (!a[i].Equals(b[i])) return false;
      }
      return true;
    }
    case Kind::kObject: {
      auto a = SortedMembers(), b = other.SortedMembers();
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i) {
        if (a[i].first != b[i].first || !a[i].second.Equals(b[i].second)) return false;
      }
      return true;
    }
  }
  return false;
}

void Value::AppendJson(std::string* out) const {
  switch (kind_) {
    case Kind::kNull:
      out->append("null");
      return;
    case Kind::kBool:
      out->append(boolean() ? "true" : "false");
      return;
    case Kind::kNumber:
      AppendGoJsonNumber(number(), out);
      return;
    case Kind::kString:
      AppendGoJsonString(str(), out);
      return;
    case Kind::kArray: {
      out->push_back('[');
      bool first = true;
      for (const Value& e : Elements()) {
        if (!first) out->push_back(',');
        first = false;
        e.AppendJson(out);
      }
      out->push_back(']');
      return;
    }
    case Kind::kObject: {
      out->push_back('{');
      bool first = true;
      for (const auto& [k, v] : SortedMembers()) {
        if (!first) out->push_back(',');
        first = false;
        AppendGoJsonString(k, out);
        out->push_back(':');
        v.AppendJson(out);
      }
      out->push_back('}');
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Interpreter

namespace {

struct SliceBounds {
  int64_t start, stop, step;
};

int64_t CapSlice(int64_t length, int64_t actual, int64_t step) {
  if (actual < 0) {
    actual += length;
    if (actual < 0) actual = step < 0 ? -1 : 0;
  } else if (actual >= length) {
    actual = step < 0 ? length - 1 : length;
  }
  return actual;
}

bool ComputeSlice(int64_t length, const std::optional<int64_t> (&parts)[3], SliceBounds* b) {
  int64_t step = 1;
  if (parts[2].has_value()) {
    if (*parts[2] == 0) return false;
    step = *parts[2];
  }
  const bool neg = step < 0;
  b->start = parts[0].has_value() ? CapSlice(length, *parts[0], step) : (neg ? length - 1 : 0);
  b->stop = parts[1].has_value() ? CapSlice(length, *parts[1], step) : (neg ? -1 : length);
  b->step = step;
  return true;
}

template <typename T>
std::vector<T> ApplySlice(const std::vector<T>& in, const SliceBounds& b) {
  std::vector<T> out;
  if (b.step > 0) {
    for (int64_t i = b.start; i < b.stop; i += b.step) out.push_back(in[static_cast<size_t>(i)]);
  } else {
    for (int64_t i = b.start; i > b.stop; i += b.step) out.push_back(in[static_cast<size_t>(i)]);
  }
  return out;
}

class Interpreter {
 public:
  explicit Interpreter(const Value& root) : root_(root) {}

  // False on a runtime error (slice step 0).
  bool Exec(const Node& n, const Value& v, Value* out) {
    switch (n.type) {
      case NodeType::kField:
        *out = v.Field(n.name);
        return true;
      case NodeType::kSubexpression:
      case NodeType::kIndexExpression: {
        Value left;
        if (!Exec(n.children[0], v, &left)) return false;
        if (left.is_null()) {
          *out = Value();
          return true;
        }
        return Exec(n.children[1], left, out);
      }
      case NodeType::kIndex: {
        if (v.kind() != Value::Kind::kArray) {
          *out = Value();
          return true;
        }
        int64_t idx = n.index;
        const int64_t size = static_cast<int64_t>(v.ArraySize());
        if (idx < 0) idx += size;
        *out = idx >= 0 && idx < size ? v.At(static_cast<size_t>(idx)) : Value();
        return true;
      }
      case NodeType::kSlice: {
        if (v.kind() == Value::Kind::kArray) {
          std::vector<Value> elems = v.Elements();
          SliceBounds b;
          if (!ComputeSlice(static_cast<int64_t>(elems.size()), n.slice, &b)) return false;
          *out = Value::Array(ApplySlice(elems, b));
          return true;
        }
        if (v.kind() == Value::Kind::kString) {
          std::string_view s = v.str();
          std::vector<uint32_t> runes;
          for (size_t i = 0; i < s.size();) {
            size_t w;
            runes.push_back(DecodeUtf8Rune(s, i, &w));
            i += w;
          }
          SliceBounds b;
          if (!ComputeSlice(static_cast<int64_t>(runes.size()), n.slice, &b)) {
            // Go's interpreter swallows the error for strings and yields null.
            *out = Value();
            return true;
          }
          std::string r;
          for (uint32_t c : ApplySlice(runes, b)) AppendUtf8Rune(c, &r);
          *out = Value::String(std::move(r));
          return true;
        }
        *out = Value();
        return true;
      }
      case NodeType::kProjection: {
        const Node& first = n.children[0];
        const bool allow_string = first.type == NodeType::kIndexExpression &&
                                  first.children.size() > 1 &&
                                  first.children[1].type == NodeType::kSlice;
        Value left;
        if (!Exec(first, v, &left)) return false;
        if (left.kind() == Value::Kind::kArray) return Project(n.children[1], left.Elements(), out);
        if (allow_string && left.kind() == Value::Kind::kString) {
          return Exec(n.children[1], left, out);
        }
        *out = Value();
        return true;
      }
      case NodeType::kValueProjection: {
        Value left;
        if (!Exec(n.children[0], v, &left)) left = Value();
        if (left.kind() != Value::Kind::kObject) {
          *out = Value();
          return true;
        }
        return Project(n.children[1], left.ObjectValues(), out);
      }
      case NodeType::kFilterProjection: {
        Value left;
        if (!Exec(n.children[0], v, &left)) left = Value();
        if (left.kind() != Value::Kind::kArray) {
          *out = Value();
          return true;
        }
        std::vector<Value> collected;
        for (const Value& e : left.Elements()) {
          Value cond;
          if (!Exec(n.children[2], e, &cond)) return false;
          if (cond.IsFalse()) continue;
          Value cur;
          if (!Exec(n.children[1], e, &cur)) return false;
          if (!cur.is_null()) collected.push_back(std::move(cur));
        }
        *out = Value::Array(std::move(collected));
        return true;
      }
      case NodeType::kFlatten: {
        Value left;
        if (!Exec(n.children[0], v, &left)) left = Value();
        if (left.kind() != Value::Kind::kArray) {
          *out = Value();
          return true;
        }
        std::vector<Value> flat;
        for (Value& e : left.Elements()) {
          if (e.kind() == Value::Kind::kArray) {
            for (Value& inner : e.Elements()) flat.push_back(std::move(inner));
          } else {
            flat.push_back(std::move(e));
          }
        }
        *out = Value::Array(std::move(flat));
        return true;
      }
      case NodeType::kIdentity:
      case NodeType::kCurrent:
        *out = v;
        return true;
      case NodeType::kRoot:
        *out = root_;
        return true;
      case NodeType::kLiteral:
        *out = n.literal;
        return true;
      case NodeType::kMultiSelectList: {
        std::vector<Value> collected;
        for (const Node& c : n.children) {
          Value cur;
          if (!Exec(c, v, &cur)) return false;
          collected.push_back(std::move(cur));
        }
        *out = Value::Array(std::move(collected));
        return true;
      }
      case NodeType::kMultiSelectHash: {
        Value::Members m;
        for (const Node& kv : n.children) {
          Value cur;
          if (!Exec(kv.children[0], v, &cur)) return false;
          m.emplace_back(kv.name, std::move(cur));
        }
        *out = Value::Object(std::move(m));
        return true;
      }
      case NodeType::kOr: {
        if (!Exec(n.children[0], v, out)) return false;
        if (out->IsFalse()) return Exec(n.children[1], v, out);
        return true;
      }
      case NodeType::kAnd: {
        if (!Exec(n.children[0], v, out)) return false;
        if (out->IsFalse()) return true;
        return Exec(n.children[1], v, out);
      }
      case NodeType::kNot: {
        Value m;
        if (!Exec(n.children[0], v, &m)) return false;
        *out = Value::Bool(m.IsFalse());
        return true;
      }
      case NodeType::kComparator: {
        Value l, r;
        if (!Exec(n.children[0], v, &l) || !Exec(n.children[1], v, &r)) return false;
        if (n.op == Tok::kEQ || n.op == Tok::kNE) {
          bool eq = l.Equals(r);
          *out = Value::Bool(n.op == Tok::kEQ ? eq : !eq);
          return true;
        }
        if (l.kind() != Value::Kind::kNumber || r.kind() != Value::Kind::kNumber) {
          *out = Value();
          return true;
        }
        double a = l.number(), b = r.number();
        bool res = n.op == Tok::kGT    ? a > b
                   : n.op == Tok::kGTE ? a >= b
                   : n.op == Tok::kLT  ? a < b
                                       : a <= b;
        *out = Value::Bool(res);
        return true;
      }
      case NodeType::kPipe: {
        Value left;
        if (!Exec(n.children[0], v, &left)) return false;
        return Exec(n.children[1], left, out);
      }
      case NodeType::kArithmetic: {
        Value l, r;
        if (!Exec(n.children[0], v, &l) || !Exec(n.children[1], v, &r)) return false;
        if (l.kind() != Value::Kind::kNumber || r.kind() != Value::Kind::kNumber) {
          *out = Value();
          return true;
        }
        double a = l.number(), b = r.number(), res = 0;
        switch (n.op) {
          case Tok::kPlus:
            res = a + b;
            break;
          case Tok::kMinus:
            res = a - b;
            break;
          case Tok::kStar:
          case Tok::kMultiply:
            res = a * b;
            break;
          case Tok::kDivide:
            res = a / b;
            break;
          case Tok::kModulo:
            res = std::fmod(a, b);
            break;
          case Tok::kDiv:
            res = std::floor(a / b);
            break;
          default:
            break;
        }
        *out = Value::Number(res);
        return true;
      }
      case NodeType::kUnary: {
        Value e;
        if (!Exec(n.children[0], v, &e)) return false;
        if (e.kind() != Value::Kind::kNumber) {
          *out = Value();
          return true;
        }
        *out = Value::Number(n.op == Tok::kMinus ? -e.number() : e.number());
        return true;
      }
    }
    *out = Value();
    return true;
  }

 private:
  bool Project(const Node& rhs, const std::vector<Value>& elems, Value* out) {
    std::vector<Value> collected;
    for (const Value& e : elems) {
      Value cur;
      if (!Exec(rhs, e, &cur)) return false;
      if (!cur.is_null()) collected.push_back(std::move(cur));
    }
    *out = Value::Array(std::move(collected));
    return true;
  }

  const Value& root_;
};

}  // namespace

absl::StatusOr<Expression> Expression::Compile(std::string_view text) {
  absl::StatusOr<std::vector<Token>> tokens = Tokenize(text);
  if (!tokens.ok()) return tokens.status();
  absl::StatusOr<Node> root = ParseTokens(std::move(*tokens));
  if (!root.ok()) return root.status();
  Expression e;
  e.text_ = std::string(text);
  e.root_ = std::make_shared<const Node>(std::move(*root));
  return e;
}

const std::string* Expression::field() const {
  if (root_ == nullptr || root_->type != NodeType::kField || !root_->children.empty()) {
    return nullptr;
  }
  return &root_->name;
}

bool Expression::Search(const Value& root, Value* result) const {
  Interpreter in(root);
  Value out;
  if (!in.Exec(*root_, root, &out)) return false;
  *result = std::move(out);
  return true;
}

}  // namespace sluice::jmespath
