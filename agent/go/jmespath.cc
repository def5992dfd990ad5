#include "agent/go/jmespath.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
#include "agent/common/utf8.h"
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
// Lexer

enum class Tok {
  kUnknown,
  kStar,
  kDot,
  kFilter,
  kFlatten,
  kLparen,
  kRparen,
  kLbracket,
  kRbracket,
  kLbrace,
  kRbrace,
  kOr,
  kPipe,
  kNumber,
  kUnquotedIdentifier,
  kQuotedIdentifier,
  kComma,
  kColon,
  kPlus,
  kMinus,
  kMultiply,
  kDivide,
  kModulo,
  kDiv,
  kLT,
  kLTE,
  kGT,
  kGTE,
  kEQ,
  kNE,
  kJSONLiteral,
  kStringLiteral,
  kCurrent,
  kRoot,
  kExpref,
  kAnd,
  kNot,
  kVarref,
  kAssign,
  kEOF,
};

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

struct Token {
  Tok type;
  std::string value;
  size_t pos;
};

absl::Status SyntaxError(std::string_view msg) {
  return absl::InvalidArgumentError(absl::StrCat("SyntaxError: ", Av(msg)));
}

// strconv.QuoteRuneToASCII.
std::string QuoteRune(uint32_t r) {
  char buf[16];
  if (r == '\'') return "'\\''";
  if (r == '\\') return "'\\\\'";
  if (r >= 0x20 && r < 0x7F) return std::string{'\'', static_cast<char>(r), '\''};
  switch (r) {
    case '\a':
      return "'\\a'";
    case '\b':
      return "'\\b'";
    case '\f':
      return "'\\f'";
    case '\v':
      return "'\\v'";
  }
  if (r < 0x80) {
    std::snprintf(buf, sizeof buf, "'\\x%02x'", r);
  } else if (r < 0x10000) {
    std::snprintf(buf, sizeof buf, "'\\u%04x'", r);
  } else {
    std::snprintf(buf, sizeof buf, "'\\U%08x'", r);
  }
  return buf;
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes the body of a JSON string (without quotes), as encoding/json would: errors for bad
// escapes and raw control characters; lone surrogates become U+FFFD.
absl::Status UnquoteJson(std::string_view s, std::string* out) {
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (static_cast<unsigned char>(c) < 0x20) {
      return absl::InvalidArgumentError("invalid character in string literal");
    }
    if (c == '"') {
      return absl::InvalidArgumentError("invalid character after top-level value");
    }
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    if (++i >= s.size()) return absl::InvalidArgumentError("unexpected end of JSON input");
    switch (s[i]) {
      case '"':
      case '\\':
      case '/':
        out->push_back(s[i]);
        break;
      case 'b':
        out->push_back('\b');
        break;
      case 'f':
        out->push_back('\f');
        break;
      case 'n':
        out->push_back('\n');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'u': {
        auto hex4 = [&](size_t at, uint32_t* v) {
          if (at + 4 > s.size()) return false;
          uint32_t r = 0;
          for (size_t k = 0; k < 4; ++k) {
            int h = HexVal(s[at + k]);
            if (h < 0) return false;
            r = r * 16 + static_cast<uint32_t>(h);
          }
          *v = r;
          return true;
        };
        uint32_t r;
        if (!hex4(i + 1, &r)) {
          return absl::InvalidArgumentError(
              "invalid character in \\u hexadecimal character escape");
        }
        i += 4;
        if (r >= 0xD800 && r < 0xDC00) {
          uint32_t lo;
          if (i + 2 < s.size() && s[i + 1] == '\\' && s[i + 2] == 'u' && hex4(i + 3, &lo) &&
              lo >= 0xDC00 && lo < 0xE000) {
            r = 0x10000 + ((r - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
          } else {
            r = 0xFFFD;
          }
        } else if (r >= 0xDC00 && r < 0xE000) {
          r = 0xFFFD;
        }
        AppendUtf8Rune(r, out);
        break;
      }
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("invalid character ", Av(QuoteRune(static_cast<unsigned char>(s[i]))),
                         " in string escape code"));
    }
  }
  return absl::OkStatus();
}

class Lexer {
 public:
  explicit Lexer(std::string_view expr) : e_(expr) {}

  absl::StatusOr<std::vector<Token>> Tokenize() {
    std::vector<Token> tokens;
    while (pos_ < e_.size()) {
      const size_t start = pos_;
      size_t w;
      uint32_t r = DecodeUtf8Rune(e_, pos_, &w);
      pos_ += w;
      if ((r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || r == '_') {
        tokens.push_back({Tok::kUnquotedIdentifier, std::string(Identifier(start)), start});
        continue;
      }
      Tok basic = Tok::kUnknown;
      switch (r) {
        case '.':
          basic = Tok::kDot;
          break;
        case '*':
          basic = Tok::kStar;
          break;
        case ',':
          basic = Tok::kComma;
          break;
        case ':':
          basic = Tok::kColon;
          break;
        case '{':
          basic = Tok::kLbrace;
          break;
        case '}':
          basic = Tok::kRbrace;
          break;
        case ']':
          basic = Tok::kRbracket;
          break;
        case '(':
          basic = Tok::kLparen;
          break;
        case ')':
          basic = Tok::kRparen;
          break;
        case '@':
          basic = Tok::kCurrent;
          break;
        case '+':
          basic = Tok::kPlus;
          break;
        case '%':
          basic = Tok::kModulo;
          break;
        case 0x2212:
          basic = Tok::kMinus;
          break;
        case 0xD7:
          basic = Tok::kMultiply;
          break;
        case 0xF7:
          basic = Tok::kDivide;
          break;
        default:
          break;
      }
      if (basic != Tok::kUnknown) {
        tokens.push_back({basic, std::string(e_.substr(start, w)), start});
        continue;
      }
      if (r == '-') {
        if (pos_ < e_.size() && e_[pos_] >= '0' && e_[pos_] <= '9') {
          tokens.push_back({Tok::kNumber, std::string(Number(start)), start});
        } else {
          tokens.push_back({Tok::kMinus, "-", start});
        }
      } else if (r >= '0' && r <= '9') {
        tokens.push_back({Tok::kNumber, std::string(Number(start)), start});
      } else if (r == '/') {
        tokens.push_back(MatchOrElse(start, '/', Tok::kDiv, Tok::kDivide));
      } else if (r == '[') {
        if (pos_ < e_.size() && e_[pos_] == '?') {
          ++pos_;
          tokens.push_back({Tok::kFilter, "[?", start});
        } else if (pos_ < e_.size() && e_[pos_] == ']') {
          ++pos_;
          tokens.push_back({Tok::kFlatten, "[]", start});
        } else {
          tokens.push_back({Tok::kLbracket, "[", start});
        }
      } else if (r == '"') {
        std::string_view raw;
        if (!Until('"', &raw)) return SyntaxError("Unclosed delimiter: \"");
        std::string decoded;
        absl::Status st = UnquoteJson(raw, &decoded);
        if (!st.ok()) return st;
        tokens.push_back({Tok::kQuotedIdentifier, std::move(decoded), start});
      } else if (r == '\'') {
        std::string value;
        if (!RawString(&value)) return SyntaxError("Unclosed delimiter: '");
        tokens.push_back({Tok::kStringLiteral, std::move(value), start});
      } else if (r == '`') {
        std::string_view raw;
        if (!Until('`', &raw)) return SyntaxError("Unclosed delimiter: `");
        std::string value;
        for (size_t i = 0; i < raw.size(); ++i) {
          if (raw[i] == '\\' && i + 1 < raw.size() && raw[i + 1] == '`') ++i;
          value.push_back(raw[i]);
        }
        tokens.push_back({Tok::kJSONLiteral, std::move(value), start});
      } else if (r == '|') {
        tokens.push_back(MatchOrElse(start, '|', Tok::kOr, Tok::kPipe));
      } else if (r == '<') {
        tokens.push_back(MatchOrElse(start, '=', Tok::kLTE, Tok::kLT));
      } else if (r == '>') {
        tokens.push_back(MatchOrElse(start, '=', Tok::kGTE, Tok::kGT));
      } else if (r == '!') {
        tokens.push_back(MatchOrElse(start, '=', Tok::kNE, Tok::kNot));
      } else if (r == '$') {
        std::string_view id = Identifier(start);
        tokens.push_back({id == "$" ? Tok::kRoot : Tok::kVarref, std::string(id), start});
      } else if (r == '=') {
        tokens.push_back(MatchOrElse(start, '=', Tok::kEQ, Tok::kAssign));
      } else if (r == '&') {
        tokens.push_back(MatchOrElse(start, '&', Tok::kAnd, Tok::kExpref));
      } else if (r == ' ' || r == '\t' || r == '\n' || r == '\r') {
        // whitespace
      } else {
        return SyntaxError(absl::StrCat("Unknown char: ", Av(QuoteRune(r))));
      }
    }
    tokens.push_back({Tok::kEOF, "", e_.size()});
    return tokens;
  }

 private:
  std::string_view Identifier(size_t start) {
    while (pos_ < e_.size()) {
      char c = e_[pos_];
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') {
        ++pos_;
      } else {
        break;
      }
    }
    return e_.substr(start, pos_ - start);
  }

  std::string_view Number(size_t start) {
    while (pos_ < e_.size() && e_[pos_] >= '0' && e_[pos_] <= '9') ++pos_;
    return e_.substr(start, pos_ - start);
  }

  Token MatchOrElse(size_t start, char second, Tok matched, Tok single) {
    if (pos_ < e_.size() && e_[pos_] == second) {
      ++pos_;
      return {matched, std::string(e_.substr(start, 2)), start};
    }
    return {single, std::string(e_.substr(start, 1)), start};
  }

  // Consumes up to the closing `end` (a backslash escapes the next byte); `raw` excludes it.
  bool Until(char end, std::string_view* raw) {
    const size_t start = pos_;
    while (pos_ < e_.size()) {
      if (e_[pos_] == '\\' && pos_ + 1 < e_.size()) {
        pos_ += 2;
        continue;
      }
      if (e_[pos_] == end) {
        *raw = e_.substr(start, pos_ - start);
        ++pos_;
        return true;
      }
      ++pos_;
    }
    return false;
  }

  // 'raw string': only \' and \\ are escapes; any other backslash stays.
  bool RawString(std::string* out) {
    while (pos_ < e_.size()) {
      char c = e_[pos_];
      if (c == '\\' && pos_ + 1 < e_.size() && (e_[pos_ + 1] == '\'' || e_[pos_ + 1] == '\\')) {
        out->push_back(e_[pos_ + 1]);
        pos_ += 2;
        continue;
      }
      if (c == '\'') {
        ++pos_;
        return true;
      }
      out->push_back(c);
      ++pos_;
    }
    return false;
  }

  std::string_view e_;
  size_t pos_ = 0;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// AST and parser

enum class NodeType {
  kField,
  kSubexpression,
  kIndexExpression,
  kIndex,
  kSlice,
  kProjection,
  kValueProjection,
  kFilterProjection,
  kFlatten,
  kIdentity,
  kCurrent,
  kRoot,
  kLiteral,
  kMultiSelectList,
  kMultiSelectHash,
  kOr,
  kAnd,
  kNot,
  kComparator,
  kPipe,
  kArithmetic,
  kUnary,
};

struct Node {
  NodeType type = NodeType::kIdentity;
  std::string name;  // field name, hash key
  int64_t index = 0;
  std::optional<int64_t> slice[3];
  Value literal;
  Tok op = Tok::kUnknown;
  std::vector<Node> children;
};

namespace {

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

// ---------------------------------------------------------------------------------------------
// Interpreter

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
  Lexer lexer(text);
  absl::StatusOr<std::vector<Token>> tokens = lexer.Tokenize();
  if (!tokens.ok()) return tokens.status();
  Parser parser(std::move(*tokens));
  absl::StatusOr<Node> root = parser.ParseAll();
  if (!root.ok()) return root.status();
  Expression e;
  e.text_ = std::string(text);
  e.root_ = std::make_shared<const Node>(std::move(*root));
  return e;
}

bool Expression::Search(const Value& root, Value* result) const {
  Interpreter in(root);
  Value out;
  if (!in.Exec(*root_, root, &out)) return false;
  *result = std::move(out);
  return true;
}

}  // namespace sluice::jmespath
