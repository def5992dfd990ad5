#include "agent/config/stdlib.h"

#include <locale.h>
#include <unistd.h>
#include <wctype.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/common/strings.h"
#include "agent/common/utf8.h"
#include "agent/config/json_value.h"
#include "agent/go/fmt.h"
#include "agent/go/strconv.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.0.0"
#endif

namespace sluice::config {
namespace {

using Args = std::vector<Value>;

// An error about argument `index` (and, with `path`, about an element inside it).
absl::Status ArgError(size_t index, std::string message, std::string path = "") {
  absl::Status st = absl::InvalidArgumentError(message);
  st.SetPayload(Av(kArgPayload), absl::Cord(std::to_string(index)));
  if (!path.empty()) st.SetPayload(Av(kPathPayload), absl::Cord(path));
  return st;
}

absl::Status TypeErr(size_t index, Value::Kind expected, const Value& got, std::string path = "") {
  return ArgError(index,
                  absl::StrCat("should be ", Av(Value::KindName(expected)), ", got ",
                               Av(Value::KindName(got.kind()))),
                  std::move(path));
}

absl::Status CountError(size_t want, size_t got, bool variadic) {
  if (variadic)
    return absl::InvalidArgumentError(absl::StrCat("expected at least ", want, " args, got ", got));
  return absl::InvalidArgumentError(absl::StrCat("expected ", want, " args, got ", got));
}

}  // namespace

// Go's strconv.FormatFloat(d, 'f', -1, 64): the shortest digits that read back, no exponent.
std::string FormatFloatShortestF(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  char buf[64];
  int prec = 1;
  for (; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  // buf holds d.ddddde[+-]XX; rebuild as a plain decimal.
  std::string s(buf);
  bool neg = s[0] == '-';
  if (neg) s.erase(0, 1);
  size_t e = s.find('e');
  int exp = std::atoi(s.c_str() + e + 1);
  std::string digits;
  for (size_t i = 0; i < e; ++i) {
    if (s[i] != '.') digits.push_back(s[i]);
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out = neg ? "-" : "";
  int point = exp + 1;  // digits before the decimal point
  if (point <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-point), '0');
    out += digits;
  } else if (point >= static_cast<int>(digits.size())) {
    out += digits;
    out.append(static_cast<size_t>(point) - digits.size(), '0');
  } else {
    out += digits.substr(0, static_cast<size_t>(point));
    out += ".";
    out += digits.substr(static_cast<size_t>(point));
  }
  if (digits == "0") return neg ? "-0" : "0";
  return out;
}

// Go's strconv.FormatFloat(d, 'g', -1, 64) (what %v prints for a float64).
std::string FormatFloatShortestG(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  if (d == 0) return std::signbit(d) ? "-0" : "0";
  char buf[64];
  int prec = 1;
  for (; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  std::string s(buf);
  size_t e = s.find('e');
  int exp = std::atoi(s.c_str() + e + 1);
  if (exp < -4 || exp >= 6) {  // shortest %g switches to an exponent at 1e+06
    // Go writes at least two exponent digits: 1e+06, 1.5e-07.
    std::string mant = s.substr(0, e);
    if (mant.find('.') != std::string::npos) {
      while (mant.back() == '0') mant.pop_back();
      if (mant.back() == '.') mant.pop_back();
    }
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    return mant + eb;
  }
  return FormatFloatShortestF(d);
}

namespace {

// Alloy's conversion of an argument to a Go string: numbers print as their text, null is "".
bool ToGoString(const Value& v, std::string* out) {
  switch (v.kind()) {
    case Value::Kind::kNull:
      out->clear();
      return true;
    case Value::Kind::kString:
      *out = v.as_string();
      return true;
    case Value::Kind::kNumber:
      *out = v.is_int() ? std::to_string(v.as_int()) : FormatFloatShortestF(v.as_double());
      return true;
    default:
      return false;
  }
}

absl::Status StringArg(const Args& args, size_t i, std::string* out) {
  if (!ToGoString(args[i], out)) return TypeErr(i, Value::Kind::kString, args[i]);
  return absl::OkStatus();
}

absl::Status StringListArg(const Args& args, size_t i, std::vector<std::string>* out) {
  out->clear();
  if (args[i].is_null()) return absl::OkStatus();
  if (args[i].kind() != Value::Kind::kArray) return TypeErr(i, Value::Kind::kArray, args[i]);
  const Array& arr = args[i].as_array();
  for (size_t k = 0; k < arr.size(); ++k) {
    std::string s;
    if (!ToGoString(arr[k], &s)) {
      return TypeErr(i, Value::Kind::kString, arr[k], absl::StrCat("[", k, "]"));
    }
    out->push_back(std::move(s));
  }
  return absl::OkStatus();
}

// A function of a fixed number of string arguments returning a string.
template <size_t N, typename F>
Value StringFn(F f) {
  return Value::MakeFunction([f](const Args& args) -> absl::StatusOr<Value> {
    if (args.size() != N) return CountError(N, args.size(), false);
    std::array<std::string, N> s;
    for (size_t i = 0; i < N; ++i) {
      absl::Status st = StringArg(args, i, &s[i]);
      if (!st.ok()) return st;
    }
    return f(s);
  });
}

// Decodes UTF-8 into code points (invalid bytes as U+FFFD, as Go's range over a string).
std::vector<std::pair<int32_t, std::string_view>> Runes(std::string_view s) {
  std::vector<std::pair<int32_t, std::string_view>> out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : Utf8SequenceLength(s, i);
    if (n == 0) {
      out.emplace_back(0xFFFD, s.substr(i, 1));
      ++i;
      continue;
    }
    int32_t r = n == 1 ? c : (c & (0xFF >> (n + 1)));
    for (size_t k = 1; k < n; ++k) r = (r << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.emplace_back(r, s.substr(i, n));
    i += n;
  }
  return out;
}

std::string TrimFunc(std::string_view s, const std::function<bool(int32_t)>& cut) {
  auto runes = Runes(s);
  size_t b = 0, e = runes.size();
  while (b < e && cut(runes[b].first)) ++b;
  while (e > b && cut(runes[e - 1].first)) --e;
  if (b == e) return "";
  const char* start = runes[b].second.data();
  const char* end = runes[e - 1].second.data() + runes[e - 1].second.size();
  return std::string(start, end);
}

std::vector<std::string> GoSplit(const std::string& s, const std::string& sep) {
  std::vector<std::string> out;
  if (sep.empty()) {
    // Go splits into UTF-8 sequences.
    for (auto [r, bytes] : Runes(s)) {
      (void)r;
      out.emplace_back(bytes);
    }
    return out;
  }
  size_t start = 0;
  for (;;) {
    size_t at = s.find(sep, start);
    if (at == std::string::npos) break;
    out.push_back(s.substr(start, at - start));
    start = at + sep.size();
  }
  out.push_back(s.substr(start));
  return out;
}

std::string GoReplaceAll(const std::string& s, const std::string& old_s, const std::string& new_s) {
  if (old_s.empty()) {
    // Go inserts the replacement before every rune and at the end.
    std::string out;
    for (auto [r, bytes] : Runes(s)) {
      (void)r;
      out += new_s;
      out.append(bytes);
    }
    out += new_s;
    return out;
  }
  std::string out;
  size_t start = 0;
  for (;;) {
    size_t at = s.find(old_s, start);
    if (at == std::string::npos) break;
    out.append(s, start, at - start);
    out += new_s;
    start = at + old_s.size();
  }
  out.append(s, start, std::string::npos);
  return out;
}

// Go's filepath.Clean for slash-separated paths.
std::string CleanPath(const std::string& p) {
  if (p.empty()) return ".";
  bool rooted = p[0] == '/';
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    std::string part = p.substr(i, j - i);
    i = j + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!rooted) {
        parts.push_back("..");
      }
      continue;
    }
    parts.push_back(part);
  }
  std::string out = (rooted ? "/" : "") + absl::StrJoin(parts, "/");
  return out.empty() ? "." : out;
}

bool IsZero(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNull:
      return true;
    case Value::Kind::kString:
      return v.as_string().empty();
    case Value::Kind::kNumber:
      return v.is_int() ? v.as_int() == 0 : v.as_double() == 0;
    case Value::Kind::kBool:
      return !v.as_bool();
    case Value::Kind::kArray:
      return v.as_array().empty();
    case Value::Kind::kObject:
      return v.as_object().empty();
    default:
      return false;
  }
}

absl::StatusOr<Value> Coalesce(const Args& args) {
  if (args.empty()) return Value::Null();
  for (const Value& v : args) {
    if (!IsZero(v)) return v;
  }
  return args.back();
}

absl::StatusOr<Value> Concat(const Args& args) {
  Array out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].kind() != Value::Kind::kArray) return TypeErr(i, Value::Kind::kArray, args[i]);
  }
  if (args.size() == 1) return args[0];
  for (const Value& a : args) {
    for (const Value& e : a.as_array()) out.push_back(e);
  }
  return Value::MakeArray(std::move(out));
}

absl::StatusOr<Value> Format(const Args& args) {
  if (args.empty()) return CountError(1, 0, true);
  std::string fmt;
  absl::Status st = StringArg(args, 0, &fmt);
  if (!st.ok()) return st;
  std::vector<Value> rest(args.begin() + 1, args.end());
  bool overflow = false;
  std::string out = GoSprintf(fmt, rest, &overflow);
  if (overflow) return absl::InvalidArgumentError("result too large");
  return Value::String(std::move(out));
}

absl::StatusOr<Value> Join(const Args& args) {
  if (args.size() != 2) return CountError(2, args.size(), false);
  std::vector<std::string> list;
  absl::Status st = StringListArg(args, 0, &list);
  if (!st.ok()) return st;
  std::string sep;
  st = StringArg(args, 1, &sep);
  if (!st.ok()) return st;
  size_t total = list.size() * sep.size();
  for (const std::string& e : list) total += e.size();
  if (total > kMaxStringResult) return absl::InvalidArgumentError("result too large");
  return Value::String(absl::StrJoin(list, sep));
}

absl::StatusOr<Value> Split(const Args& args) {
  if (args.size() != 2) return CountError(2, args.size(), false);
  std::string s, sep;
  absl::Status st = StringArg(args, 0, &s);
  if (st.ok()) st = StringArg(args, 1, &sep);
  if (!st.ok()) return st;
  Array out;
  for (std::string& part : GoSplit(s, sep)) out.push_back(Value::String(std::move(part)));
  return Value::MakeArray(std::move(out));
}

absl::StatusOr<Value> PathJoin(const Args& args) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string s;
    absl::Status st = StringArg(args, i, &s);
    if (!st.ok()) return st;
    if (!s.empty()) parts.push_back(std::move(s));
  }
  if (parts.empty()) return Value::String("");
  return Value::String(CleanPath(absl::StrJoin(parts, "/")));
}

absl::StatusOr<Value> FromJson(const Args& args) {
  if (args.size() != 1) return CountError(1, args.size(), false);
  std::string s;
  absl::Status st = StringArg(args, 0, &s);
  if (!st.ok()) return st;
  return ParseGoJson(s);
}

absl::StatusOr<Value> ToJson(const Args& args) {
  if (args.size() != 1) return CountError(1, args.size(), false);
  if (args[0].kind() != Value::Kind::kObject) {
    return absl::InvalidArgumentError("jsonEncode only supports map");
  }
  std::string out;
  absl::Status st = AppendGoJson(args[0], &out);
  if (!st.ok()) return st;
  return Value::String(std::move(out));
}

// Go's base64 errors name the offset of the first bad byte.
absl::StatusOr<Value> Base64Decode(const Args& args, bool url) {
  if (args.size() != 1) return CountError(1, args.size(), false);
  std::string s;
  absl::Status st = StringArg(args, 0, &s);
  if (!st.ok()) return st;
  const std::string_view alphabet =
      url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
          : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t i = 0;
  size_t n = 0;  // significant characters seen
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\r' || c == '\n') continue;
    if (c == '=') break;
    size_t v = alphabet.find(c);
    if (v == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("illegal base64 data at input byte ", i));
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    ++n;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // Padding: the quantum must be completed by '=' exactly.
  size_t rem = n % 4;
  if (rem == 1) {
    return absl::InvalidArgumentError(absl::StrCat("illegal base64 data at input byte ", i));
  }
  size_t pad = 0;
  size_t j = i;
  for (; j < s.size(); ++j) {
    if (s[j] == '\r' || s[j] == '\n') continue;
    if (s[j] != '=') {
      return absl::InvalidArgumentError(absl::StrCat("illegal base64 data at input byte ", j));
    }
    ++pad;
  }
  if ((rem == 0 && pad != 0) || (rem != 0 && pad != 4 - rem)) {
    return absl::InvalidArgumentError(
        absl::StrCat("illegal base64 data at input byte ", rem == 0 ? i : s.size()));
  }
  return Value::String(std::move(out));
}

absl::StatusOr<Value> Base64Encode(const Args& args, bool url) {
  if (args.size() != 1) return CountError(1, args.size(), false);
  std::string s;
  absl::Status st = StringArg(args, 0, &s);
  if (!st.ok()) return st;
  std::string out;
  if (url) {
    absl::WebSafeBase64Escape(s, &out);
    while (out.size() % 4 != 0) out.push_back('=');  // Go's URLEncoding keeps the padding
  } else {
    absl::Base64Escape(s, &out);
  }
  return Value::String(std::move(out));
}

bool ShouldEscapeQuery(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return false;
  return !(c == '-' || c == '_' || c == '.' || c == '~');
}

absl::StatusOr<Value> UrlEncode(const Args& args) {
  if (args.size() != 1) return CountError(1, args.size(), false);
  std::string s;
  absl::Status st = StringArg(args, 0, &s);
  if (!st.ok()) return st;
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (c == ' ') {
      out.push_back('+');
    } else if (ShouldEscapeQuery(c)) {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return Value::String(std::move(out));
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::StatusOr<Value> UrlDecode(const Args& args) {
  if (args.size() != 1) return CountError(1, args.size(), false);
  std::string s;
  absl::Status st = StringArg(args, 0, &s);
  if (!st.ok()) return st;
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%') {
      if (i + 2 >= s.size() + 0 || HexVal(s[i + 1]) < 0 || HexVal(s[i + 2]) < 0) {
        std::string bad = s.substr(i, 3);
        return absl::InvalidArgumentError(absl::StrCat("invalid URL escape ", GoQuote(bad)));
      }
      out.push_back(static_cast<char>(HexVal(s[i + 1]) * 16 + HexVal(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return Value::String(std::move(out));
}

absl::StatusOr<Value> JsonPathFn(const Args& args) {
  if (args.size() != 2) return CountError(2, args.size(), false);
  std::string doc, path;
  absl::Status st = StringArg(args, 0, &doc);
  if (st.ok()) st = StringArg(args, 1, &path);
  if (!st.ok()) return st;
  return JsonPath(doc, path);
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

std::string GoArch() {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__i386__)
  return "386";
#elif defined(__arm__)
  return "arm";
#else
  return "unknown";
#endif
}

Value Namespace(std::initializer_list<std::pair<const char*, Value>> members) {
  Object o;
  for (const auto& [k, v] : members) o[k] = v;
  return Value::MakeObject(std::move(o));
}

std::map<std::string, Value, std::less<>> BuildStdlib() {
  Value env = StringFn<1>([](const auto& s) -> absl::StatusOr<Value> {
    const char* v = std::getenv(s[0].c_str());
    return Value::String(v ? v : "");
  });
  // A secret's text, or a string as is (Alloy converts a string to the secret it takes).
  Value nonsensitive = Value::MakeFunction([](const Args& a) -> absl::StatusOr<Value> {
    if (a.size() != 1) {
      return absl::InvalidArgumentError(absl::StrCat("expected 1 argument, got ", a.size()));
    }
    if (a[0].is_secret()) return Value::String(a[0].as_capsule().id);
    if (a[0].kind() == Value::Kind::kString) return a[0];
    return absl::InvalidArgumentError(
        absl::StrCat("expected secret or string, got ", Av(a[0].TypeName())));
  });
  Value concat = Value::MakeFunction(Concat);
  Value json_decode = Value::MakeFunction(FromJson);
  Value base64_decode = Value::MakeFunction([](const Args& a) { return Base64Decode(a, false); });
  Value format = Value::MakeFunction(Format);
  Value join = Value::MakeFunction(Join);
  Value replace = StringFn<3>([](const auto& s) -> absl::StatusOr<Value> {
    // Bound the result before building it: every rune (or match) may gain the replacement.
    size_t matches = s[1].empty() ? s[0].size() + 1 : 0;
    for (size_t at = s[1].empty() ? std::string::npos : s[0].find(s[1]); at != std::string::npos;
         at = s[0].find(s[1], at + s[1].size())) {
      ++matches;
    }
    if (s[0].size() + matches * s[2].size() > kMaxStringResult) {
      return absl::InvalidArgumentError("result too large");
    }
    return Value::String(GoReplaceAll(s[0], s[1], s[2]));
  });
  Value split = Value::MakeFunction(Split);
  Value to_lower = StringFn<1>(
      [](const auto& s) -> absl::StatusOr<Value> { return Value::String(GoToLower(s[0])); });
  Value to_upper = StringFn<1>(
      [](const auto& s) -> absl::StatusOr<Value> { return Value::String(GoToUpper(s[0])); });
  Value trim = StringFn<2>([](const auto& s) -> absl::StatusOr<Value> {
    std::vector<int32_t> cut;
    for (auto [r, b] : Runes(s[1])) {
      (void)b;
      cut.push_back(r);
    }
    return Value::String(TrimFunc(
        s[0], [&cut](int32_t r) { return std::find(cut.begin(), cut.end(), r) != cut.end(); }));
  });
  Value trim_prefix = StringFn<2>([](const auto& s) -> absl::StatusOr<Value> {
    std::string_view v = s[0];
    if (v.substr(0, s[1].size()) == s[1]) v.remove_prefix(s[1].size());
    return Value::String(std::string(v));
  });
  Value trim_suffix = StringFn<2>([](const auto& s) -> absl::StatusOr<Value> {
    std::string_view v = s[0];
    if (v.size() >= s[1].size() && v.substr(v.size() - s[1].size()) == s[1]) {
      v.remove_suffix(s[1].size());
    }
    return Value::String(std::string(v));
  });
  Value trim_space = StringFn<1>([](const auto& s) -> absl::StatusOr<Value> {
    return Value::String(TrimFunc(s[0], IsGoSpace));
  });

  std::map<std::string, Value, std::less<>> lib;
  lib["constants"] = Namespace({{"hostname", Value::String(HostName())},
                                {"os", Value::String("linux")},
                                {"arch", Value::String(GoArch())},
                                {"version", Value::String(std::string("v") + SLUICE_VERSION)}});
  lib["coalesce"] = Value::MakeFunction(Coalesce);
  lib["json_path"] = Value::MakeFunction(JsonPathFn);
  lib["sys"] = Namespace({{"env", env}});
  lib["convert"] = Namespace({{"nonsensitive", nonsensitive}});
  lib["array"] = Namespace({{"concat", concat}});
  lib["encoding"] = Namespace({
      {"from_json", json_decode},
      {"from_base64", base64_decode},
      {"from_URLbase64", Value::MakeFunction([](const Args& a) { return Base64Decode(a, true); })},
      {"to_json", Value::MakeFunction(ToJson)},
      {"to_base64", Value::MakeFunction([](const Args& a) { return Base64Encode(a, false); })},
      {"to_URLbase64", Value::MakeFunction([](const Args& a) { return Base64Encode(a, true); })},
      {"url_encode", Value::MakeFunction(UrlEncode)},
      {"url_decode", Value::MakeFunction(UrlDecode)},
  });
  lib["string"] = Namespace({{"format", format},
                             {"join", join},
                             {"replace", replace},
                             {"split", split},
                             {"to_lower", to_lower},
                             {"to_upper", to_upper},
                             {"trim", trim},
                             {"trim_prefix", trim_prefix},
                             {"trim_suffix", trim_suffix},
                             {"trim_space", trim_space}});
  lib["file"] = Namespace({{"path_join", Value::MakeFunction(PathJoin)}});
  // Deprecated names Alloy still accepts.
  lib["env"] = env;
  lib["nonsensitive"] = nonsensitive;
  lib["concat"] = concat;
  lib["json_decode"] = json_decode;
  lib["base64_decode"] = base64_decode;
  lib["format"] = format;
  lib["join"] = join;
  lib["replace"] = replace;
  lib["split"] = split;
  lib["to_lower"] = to_lower;
  lib["to_upper"] = to_upper;
  lib["trim"] = trim;
  lib["trim_prefix"] = trim_prefix;
  lib["trim_suffix"] = trim_suffix;
  lib["trim_space"] = trim_space;
  return lib;
}

}  // namespace

const Value* StdlibLookup(std::string_view name) {
  static const auto* lib = new std::map<std::string, Value, std::less<>>(BuildStdlib());
  auto it = lib->find(name);
  return it == lib->end() ? nullptr : &it->second;
}

}  // namespace sluice::config
