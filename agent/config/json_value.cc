#include "agent/config/json_value.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
#include "agent/common/utf8.h"
#include "agent/go/json.h"
#include "agent/go/strconv.h"

namespace sluice::config {
namespace {

// Go's encoding/json quoteChar: the byte as a single-quoted Go character.
std::string QuoteChar(unsigned char c) {
  if (c == '\'') return "'\\''";
  if (c == '"') return "'\"'";
  std::string s;
  std::string one;
  if (c < 0x80) {
    one.push_back(static_cast<char>(c));
  } else {
    // string(byte) in Go is the code point U+00XX.
    one.push_back(static_cast<char>(0xC0 | (c >> 6)));
    one.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
  AppendGoQuoted(one, &s);
  return "'" + s.substr(1, s.size() - 2) + "'";
}

class JsonParser {
 public:
  explicit JsonParser(std::string_view s) : s_(s) {}

  absl::StatusOr<Value> ParseDocument() {
    Value v;
    if (!ParseValue(&v, 0)) return absl::InvalidArgumentError(error_);
    SkipWs();
    if (i_ < s_.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid character ", QuoteChar(s_[i_]), " after top-level value"));
    }
    return v;
  }

 private:
  bool Fail(std::string_view context) {
    if (i_ >= s_.size()) {
      error_ = "unexpected end of JSON input";
    } else {
      error_ = absl::StrCat("invalid character ", QuoteChar(s_[i_]), " ", Av(context));
    }
    return false;
  }

  void SkipWs() {
    while (i_ < s_.size() &&
           (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r' || s_[i_] == '\n')) {
      ++i_;
    }
  }

  bool ParseValue(Value* out, int depth) {
    SkipWs();
    if (i_ >= s_.size()) return Fail("");
    if (depth > kMaxJsonDepth) {
      error_ = "exceeded max depth";
      return false;
    }
    char c = s_[i_];
    switch (c) {
      case '{':
        return ParseObject(out, depth);
      case '[':
        return ParseArray(out, depth);
      case '"': {
        std::string str;
        if (!ParseString(&str)) return false;
        *out = Value::String(std::move(str));
        return true;
      }
      case 't':
        return ParseLiteral("true", Value::Bool(true), out);
      case 'f':
        return ParseLiteral("false", Value::Bool(false), out);
      case 'n':
        return ParseLiteral("null", Value::Null(), out);
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber(out);
        return Fail("looking for beginning of value");
    }
  }

  bool ParseLiteral(std::string_view word, Value v, Value* out) {
    for (size_t k = 0; k < word.size(); ++k, ++i_) {
      if (i_ >= s_.size() || s_[i_] != word[k]) {
        if (k == 0) return Fail("looking for beginning of value");
        return Fail(absl::StrCat("in literal ", Av(word), " (expecting ",
                                 QuoteChar(static_cast<unsigned char>(word[k])), ")"));
      }
    }
    *out = std::move(v);
    return true;
  }

  bool IsDigit(size_t i) const { return i < s_.size() && s_[i] >= '0' && s_[i] <= '9'; }

  bool ParseNumber(Value* out) {
    size_t start = i_;
    if (s_[i_] == '-') {
      ++i_;
      if (!IsDigit(i_)) return Fail("in numeric literal");
    }
    if (s_[i_] == '0') {
      ++i_;
    } else {
      while (IsDigit(i_)) ++i_;
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (!IsDigit(i_)) return Fail("after decimal point in numeric literal");
      while (IsDigit(i_)) ++i_;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (!IsDigit(i_)) return Fail("in exponent of numeric literal");
      while (IsDigit(i_)) ++i_;
    }
    std::string text(s_.substr(start, i_ - start));
    double d = std::strtod(text.c_str(), nullptr);
    if (std::isinf(d)) {
      error_ =
          absl::StrCat("json: cannot unmarshal number ", text, " into Go value of type float64");
      return false;
    }
    *out = Value::Float(d);
    return true;
  }

  int Hex(size_t i) const {
    if (i >= s_.size()) return -1;
    char c = s_[i];
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool ParseHex4(uint32_t* out) {
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      int h = Hex(i_);
      if (h < 0) return Fail("in \\u hexadecimal character escape");
      v = v * 16 + static_cast<uint32_t>(h);
      ++i_;
    }
    *out = v;
    return true;
  }

  bool ParseString(std::string* out) {
    ++i_;  // opening quote
    for (;;) {
      if (i_ >= s_.size()) return Fail("");
      unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c < 0x20) return Fail("in string literal");
      if (c == '\\') {
        ++i_;
        if (i_ >= s_.size()) return Fail("");
        char e = s_[i_];
        switch (e) {
          case '"':
          case '\\':
          case '/':
            out->push_back(e);
            ++i_;
            continue;
          case 'b':
            out->push_back('\b');
            ++i_;
            continue;
          case 'f':
            out->push_back('\f');
            ++i_;
            continue;
          case 'n':
            out->push_back('\n');
            ++i_;
            continue;
          case 'r':
            out->push_back('\r');
            ++i_;
            continue;
          case 't':
            out->push_back('\t');
            ++i_;
            continue;
          case 'u': {
            ++i_;
            uint32_t r = 0;
            if (!ParseHex4(&r)) return false;
            if (r >= 0xD800 && r < 0xDC00 && i_ + 1 < s_.size() && s_[i_] == '\\' &&
                s_[i_ + 1] == 'u') {
              size_t save = i_;
              i_ += 2;
              uint32_t lo = 0;
              if (!ParseHex4(&lo)) return false;
              if (lo >= 0xDC00 && lo < 0xE000) {
                r = 0x10000 + ((r - 0xD800) << 10) + (lo - 0xDC00);
              } else {
                i_ = save;
                r = 0xFFFD;
              }
            } else if (r >= 0xD800 && r < 0xE000) {
              r = 0xFFFD;
            }
            AppendUtf8Rune(r, out);
            continue;
          }
          default:
            return Fail("in string escape code");
        }
      }
      if (c >= 0x80) {
        size_t n = Utf8SequenceLength(s_, i_);
        if (n == 0) {
          out->append("\xEF\xBF\xBD");  // Go replaces invalid UTF-8 with U+FFFD
          ++i_;
        } else {
          out->append(s_.substr(i_, n));
          i_ += n;
        }
        continue;
      }
      out->push_back(static_cast<char>(c));
      ++i_;
    }
  }

  bool ParseArray(Value* out, int depth) {
    ++i_;
    Array arr;
    SkipWs();
    if (i_ < s_.size() && s_[i_] == ']') {
      ++i_;
      *out = Value::MakeArray(std::move(arr));
      return true;
    }
    for (;;) {
      Value v;
      if (!ParseValue(&v, depth + 1)) return false;
      arr.push_back(std::move(v));
      SkipWs();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < s_.size() && s_[i_] == ']') {
        ++i_;
        *out = Value::MakeArray(std::move(arr));
        return true;
      }
      return Fail("after array element");
    }
  }

  bool ParseObject(Value* out, int depth) {
    ++i_;
    Object obj;
    SkipWs();
    if (i_ < s_.size() && s_[i_] == '}') {
      ++i_;
      *out = Value::MakeObject(std::move(obj));
      return true;
    }
    for (;;) {
      SkipWs();
      if (i_ >= s_.size() || s_[i_] != '"')
        return Fail("looking for beginning of object key string");
      std::string key;
      if (!ParseString(&key)) return false;
      SkipWs();
      if (i_ >= s_.size() || s_[i_] != ':') return Fail("after object key");
      ++i_;
      Value v;
      if (!ParseValue(&v, depth + 1)) return false;
      obj[key] = std::move(v);
      SkipWs();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < s_.size() && s_[i_] == '}') {
        ++i_;
        *out = Value::MakeObject(std::move(obj));
        return true;
      }
      return Fail("after object key:value pair");
    }
  }

  std::string_view s_;
  size_t i_ = 0;
  std::string error_;
};

absl::Status AppendJson(const Value& v, std::string* out, int depth) {
  if (depth > kMaxJsonDepth) return absl::InvalidArgumentError("json: exceeded max depth");
  switch (v.kind()) {
    case Value::Kind::kNull:
      out->append("null");
      return absl::OkStatus();
    case Value::Kind::kBool:
      out->append(v.as_bool() ? "true" : "false");
      return absl::OkStatus();
    case Value::Kind::kNumber:
      if (v.is_int()) {
        out->append(std::to_string(v.as_int()));
      } else {
        if (std::isnan(v.as_double()) || std::isinf(v.as_double())) {
          return absl::InvalidArgumentError(
              absl::StrCat("json: unsupported value: ", FormatFloatShortestG(v.as_double())));
        }
        AppendGoJsonNumber(v.as_double(), out);
      }
      return absl::OkStatus();
    case Value::Kind::kString:
      AppendGoJsonString(v.as_string(), out, GoJson::kEncodingJson);
      return absl::OkStatus();
    case Value::Kind::kArray: {
      out->push_back('[');
      bool first = true;
      for (const Value& e : v.as_array()) {
        if (!first) out->push_back(',');
        first = false;
        absl::Status st = AppendJson(e, out, depth + 1);
        if (!st.ok()) return st;
      }
      out->push_back(']');
      return absl::OkStatus();
    }
    case Value::Kind::kObject: {
      out->push_back('{');
      bool first = true;
      for (const auto& [k, e] : v.as_object()) {
        if (!first) out->push_back(',');
        first = false;
        AppendGoJsonString(k, out, GoJson::kEncodingJson);
        out->push_back(':');
        absl::Status st = AppendJson(e, out, depth + 1);
        if (!st.ok()) return st;
      }
      out->push_back('}');
      return absl::OkStatus();
    }
    case Value::Kind::kFunction:
      return absl::InvalidArgumentError("json: unsupported type: function");
    case Value::Kind::kCapsule:
      return absl::InvalidArgumentError(
          absl::StrCat("json: unsupported type: ", Av(v.as_capsule().type)));
  }
  return absl::OkStatus();
}

// One step of a JSONPath: a child by name, by index, every child, or (descendant) the same at
// any depth below.
struct PathStep {
  bool descendant = false;
  bool wildcard = false;
  std::vector<std::string> names;
  std::vector<int64_t> indexes;
};

absl::Status PathError(std::string_view path) {
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported json_path expression \"", Av(path), "\""));
}

absl::StatusOr<std::vector<PathStep>> ParsePath(std::string_view path) {
  std::vector<PathStep> steps;
  size_t i = 0;
  if (i < path.size() && path[i] == '$') ++i;
  auto is_name = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || static_cast<unsigned char>(c) >= 0x80;
  };
  if (i == 0 && i < path.size() && is_name(path[i])) {
    // A bare first name ("key.sub") reads as ".key.sub".
    PathStep st;
    size_t j = i;
    while (j < path.size() && is_name(path[j])) ++j;
    st.names.emplace_back(path.substr(i, j - i));
    steps.push_back(std::move(st));
    i = j;
  }
  while (i < path.size()) {
    PathStep st;
    if (path[i] == '.') {
      ++i;
      if (i < path.size() && path[i] == '.') {
        st.descendant = true;
        ++i;
      }
      if (i < path.size() && path[i] == '*') {
        st.wildcard = true;
        ++i;
      } else if (i < path.size() && path[i] == '[') {
        if (!st.descendant) return PathError(path);
        // "..[...]": handled below with the bracket.
      } else {
        size_t j = i;
        while (j < path.size() && is_name(path[j])) ++j;
        if (j == i) return PathError(path);
        st.names.emplace_back(path.substr(i, j - i));
        i = j;
      }
      if (!(i < path.size() && path[i] == '[' && st.names.empty() && !st.wildcard)) {
        steps.push_back(std::move(st));
        continue;
      }
    }
    if (i < path.size() && path[i] == '[') {
      ++i;
      for (;;) {
        while (i < path.size() && path[i] == ' ') ++i;
        if (i >= path.size()) return PathError(path);
        char c = path[i];
        if (c == '*') {
          st.wildcard = true;
          ++i;
        } else if (c == '\'' || c == '"') {
          size_t j = path.find(c, i + 1);
          if (j == std::string_view::npos) return PathError(path);
          st.names.emplace_back(path.substr(i + 1, j - i - 1));
          i = j + 1;
        } else {
          size_t j = i;
          if (j < path.size() && path[j] == '-') ++j;
          while (j < path.size() && path[j] >= '0' && path[j] <= '9') ++j;
          int64_t n;
          if (!absl::SimpleAtoi(Av(path.substr(i, j - i)), &n)) return PathError(path);
          st.indexes.push_back(n);
          i = j;
        }
        while (i < path.size() && path[i] == ' ') ++i;
        if (i < path.size() && path[i] == ',') {
          ++i;
          continue;
        }
        if (i < path.size() && path[i] == ']') {
          ++i;
          break;
        }
        return PathError(path);
      }
      steps.push_back(std::move(st));
      continue;
    }
    return PathError(path);
  }
  return steps;
}

void Children(const Value& v, const PathStep& st, Array* out) {
  if (st.wildcard) {
    if (v.kind() == Value::Kind::kArray) {
      for (const Value& e : v.as_array()) out->push_back(e);
    } else if (v.kind() == Value::Kind::kObject) {
      for (const auto& [k, e] : v.as_object()) out->push_back(e);
    }
    return;
  }
  if (v.kind() == Value::Kind::kObject) {
    for (const std::string& n : st.names) {
      auto it = v.as_object().find(n);
      if (it != v.as_object().end()) out->push_back(it->second);
    }
  }
  if (v.kind() == Value::Kind::kArray) {
    const Array& arr = v.as_array();
    for (int64_t n : st.indexes) {
      int64_t k = n < 0 ? static_cast<int64_t>(arr.size()) + n : n;
      if (k >= 0 && k < static_cast<int64_t>(arr.size()))
        out->push_back(arr[static_cast<size_t>(k)]);
    }
  }
}

void Descend(const Value& v, const PathStep& st, Array* out, int depth) {
  if (depth > kMaxJsonDepth) return;
  Children(v, st, out);
  if (v.kind() == Value::Kind::kArray) {
    for (const Value& e : v.as_array()) Descend(e, st, out, depth + 1);
  } else if (v.kind() == Value::Kind::kObject) {
    for (const auto& [k, e] : v.as_object()) Descend(e, st, out, depth + 1);
  }
}

}  // namespace

absl::StatusOr<Value> ParseGoJson(std::string_view text) {
  return JsonParser(text).ParseDocument();
}

absl::Status AppendGoJson(const Value& v, std::string* out) { return AppendJson(v, out, 0); }

absl::StatusOr<Value> JsonPath(std::string_view json, std::string_view path) {
  absl::StatusOr<std::vector<PathStep>> steps = ParsePath(path);
  if (!steps.ok()) return steps.status();
  absl::StatusOr<Value> doc = ParseGoJson(json);
  if (!doc.ok()) return doc.status();
  Array cur{*doc};
  for (const PathStep& st : *steps) {
    Array next;
    for (const Value& v : cur) {
      if (st.descendant) {
        Descend(v, st, &next, 0);
      } else {
        Children(v, st, &next);
      }
    }
    cur = std::move(next);
  }
  return Value::MakeArray(std::move(cur));
}

}  // namespace sluice::config
