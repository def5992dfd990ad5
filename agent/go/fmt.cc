// Go's fmt.Sprintf over Alloy values, for string.format; see fmt.h.
#include "agent/go/fmt.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
#include "agent/common/utf8.h"
#include "agent/config/json_value.h"
#include "agent/config/stdlib.h"
#include "agent/go/strconv.h"

namespace sluice {
namespace {

using config::Value;

struct Spec {
  bool plus = false;
  bool minus = false;
  bool sharp = false;
  bool space = false;
  bool zero = false;
  int width = -1;
  int prec = -1;
};

size_t RuneCount(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

// Go's %T of the value an Alloy value decodes to as `any`.
std::string GoTypeName(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNull:
      return "<nil>";
    case Value::Kind::kNumber:
      return v.is_int() ? "int" : "float64";
    case Value::Kind::kString:
      return "string";
    case Value::Kind::kBool:
      return "bool";
    case Value::Kind::kArray:
      return "[]interface {}";
    case Value::Kind::kObject:
      return "map[string]interface {}";
    case Value::Kind::kFunction:
      return "func";
    case Value::Kind::kCapsule:
      return std::string(v.as_capsule().type);
  }
  return "?";
}

class Printer {
 public:
  std::string out;
  bool overflow = false;  // the result would pass kMaxStringResult; the caller fails

  void Pad(const std::string& s, const Spec& sp, bool numeric) {
    if (out.size() + s.size() + static_cast<size_t>(std::max(sp.width, 0)) >
        config::kMaxStringResult) {
      overflow = true;
      return;
    }
    size_t n = RuneCount(s);
    if (sp.width < 0 || n >= static_cast<size_t>(sp.width)) {
      out += s;
      return;
    }
    size_t pad = static_cast<size_t>(sp.width) - n;
    if (sp.minus) {
      out += s;
      out.append(pad, ' ');
    } else if (sp.zero) {
      // Zeros go after a sign.
      size_t sign = numeric && !s.empty() && (s[0] == '-' || s[0] == '+' || s[0] == ' ') ? 1 : 0;
      out += s.substr(0, sign);
      out.append(pad, '0');
      out += s.substr(sign);
    } else {
      out.append(pad, ' ');
      out += s;
    }
  }

  void BadVerb(char32_t verb, const Value& v) {
    out += "%!";
    AppendUtf8Rune(verb, &out);
    out += "(";
    if (v.is_null()) {
      out += "<nil>";
    } else {
      out += GoTypeName(v);
      out += "=";
      Spec plain;
      Print(v, 'v', plain);
    }
    out += ")";
  }

  void Integer(int64_t x, char32_t verb, const Spec& sp) {
    std::string digits;
    uint64_t u = x < 0 ? 0ULL - static_cast<uint64_t>(x) : static_cast<uint64_t>(x);
    int base = 10;
    const char* alphabet = "0123456789abcdefx";
    switch (verb) {
      case 'b':
        base = 2;
        break;
      case 'o':
      case 'O':
        base = 8;
        break;
      case 'x':
        base = 16;
        break;
      case 'X':
        base = 16;
        alphabet = "0123456789ABCDEFX";
        break;
      case 'c': {
        std::string s;
        AppendUtf8Rune(static_cast<uint32_t>(x), &s);
        Pad(s, sp, false);
        return;
      }
      case 'q': {
        std::string s;
        AppendUtf8Rune(static_cast<uint32_t>(x), &s);
        std::string q;
        AppendGoQuoted(s, &q);
        if (s == "'") {
          q = "'\\''";
        } else {
          q = "'" + q.substr(1, q.size() - 2) + "'";
          if (s == "\"") q = "'\"'";
        }
        Pad(q, sp, false);
        return;
      }
      case 'U': {
        char buf[32];
        std::snprintf(buf, sizeof buf, "U+%04llX", static_cast<unsigned long long>(x));
        std::string s = buf;
        if (sp.sharp) {
          s += " '";
          AppendUtf8Rune(static_cast<uint32_t>(x), &s);
          s += "'";
        }
        Pad(s, sp, false);
        return;
      }
      default:
        break;
    }
    do {
      digits.insert(digits.begin(), alphabet[u % base]);
      u /= base;
    } while (u > 0);
    if (sp.prec >= 0 && static_cast<int>(digits.size()) < sp.prec) {
      digits.insert(0, static_cast<size_t>(sp.prec) - digits.size(), '0');
    }
    if (sp.prec == 0 && x == 0) digits.clear();
    // Literals as string_views: GCC 12 at -O3 misreports std::string temporaries here.
    std::string_view prefix;
    if (sp.sharp) {
      if (base == 16) prefix = verb == 'X' ? "0X" : "0x";
      if (base == 8 && (digits.empty() || digits[0] != '0')) prefix = "0";
      if (base == 2) prefix = "0b";
    }
    if (verb == 'O') prefix = "0o";
    std::string_view sign = x < 0 ? "-" : sp.plus ? "+" : sp.space ? " " : "";
    Spec pad = sp;
    if (sp.prec >= 0) pad.zero = false;  // a precision turns zero padding off
    Pad(absl::StrCat(Av(sign), Av(prefix), digits), pad, true);
  }

  void Float(double d, char32_t verb, const Spec& sp) {
    std::string s;
    if (std::isnan(d)) {
      s = "NaN";
    } else if (std::isinf(d)) {
      s = d > 0 ? "+Inf" : "-Inf";
      if (d > 0 && !sp.plus) s = sp.space ? " Inf" : "+Inf";
    } else if ((verb == 'v' || verb == 'g' || verb == 'G') && sp.prec < 0) {
      s = config::FormatFloatShortestG(d);
      if (verb == 'G') {
        for (char& c : s) {
          if (c == 'e') c = 'E';
        }
      }
      if (d >= 0 && sp.plus) s = "+" + s;
      if (d >= 0 && !sp.plus && sp.space) s = " " + s;
    } else {
      char cverb = static_cast<char>(verb == 'v' ? 'g' : verb);
      if (cverb == 'F') cverb = 'f';
      std::string f = "%";
      if (sp.plus) f += "+";
      if (sp.space) f += " ";
      if (sp.sharp) f += "#";
      f += ".*";
      f += cverb;
      char buf[512];
      int prec = sp.prec >= 0 ? sp.prec : 6;
      if (prec > 300) prec = 300;
      std::snprintf(buf, sizeof buf, f.c_str(), prec, d);
      s = buf;
    }
    Spec pad = sp;
    if (std::isnan(d) || std::isinf(d)) pad.zero = false;
    Pad(s, pad, true);
  }

  void String(const std::string& str, char32_t verb, const Spec& sp) {
    switch (verb) {
      case 'v':
      case 's': {
        std::string s = str;
        if (sp.prec >= 0) {
          size_t n = 0, i = 0;
          for (; i < s.size(); ++i) {
            if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
              if (n == static_cast<size_t>(sp.prec)) break;
              ++n;
            }
          }
          s.resize(i);
        }
        Pad(s, sp, false);
        return;
      }
      case 'q': {
        std::string q;
        if (sp.sharp && str.find('`') == std::string::npos && str.find('\n') == std::string::npos) {
          q = "`" + str + "`";
        } else {
          AppendGoQuoted(str, &q);
        }
        Pad(q, sp, false);
        return;
      }
      case 'x':
      case 'X': {
        const char* hex = verb == 'x' ? "0123456789abcdef" : "0123456789ABCDEF";
        std::string s;
        for (size_t i = 0; i < str.size(); ++i) {
          if (sp.space && i > 0) s += ' ';
          if (sp.sharp && (sp.space || i == 0)) s += verb == 'x' ? "0x" : "0X";
          unsigned char c = static_cast<unsigned char>(str[i]);
          s += hex[c >> 4];
          s += hex[c & 15];
        }
        Pad(s, sp, false);
        return;
      }
      default:
        BadVerb(verb, Value::String(str));
    }
  }

  void Print(const Value& v, char32_t verb, const Spec& sp) {
    switch (v.kind()) {
      case Value::Kind::kNull:
        if (verb == 'v') {
          Pad("<nil>", sp, false);
        } else {
          BadVerb(verb, v);
        }
        return;
      case Value::Kind::kBool:
        if (verb == 'v' || verb == 't') {
          Pad(v.as_bool() ? "true" : "false", sp, false);
        } else {
          BadVerb(verb, v);
        }
        return;
      case Value::Kind::kNumber:
        if (v.is_int()) {
          switch (verb) {
            case 'v':
            case 'd':
            case 'b':
            case 'o':
            case 'O':
            case 'x':
            case 'X':
            case 'c':
            case 'q':
            case 'U':
              Integer(v.as_int(), verb == 'v' ? 'd' : verb, sp);
              return;
            default:
              BadVerb(verb, v);
              return;
          }
        }
        switch (verb) {
          case 'v':
          case 'e':
          case 'E':
          case 'f':
          case 'F':
          case 'g':
          case 'G':
            Float(v.as_double(), verb, sp);
            return;
          default:
            BadVerb(verb, v);
            return;
        }
      case Value::Kind::kString:
        String(v.as_string(), verb, sp);
        return;
      case Value::Kind::kArray: {
        out += "[";
        bool first = true;
        for (const Value& e : v.as_array()) {
          if (!first) out += " ";
          first = false;
          Print(e, verb, sp);
        }
        out += "]";
        return;
      }
      case Value::Kind::kObject: {
        out += "map[";
        bool first = true;
        for (const auto& [k, e] : v.as_object()) {
          if (!first) out += " ";
          first = false;
          String(k, verb, sp);
          out += ":";
          Print(e, verb, sp);
        }
        out += "]";
        return;
      }
      case Value::Kind::kFunction:
      case Value::Kind::kCapsule:
        if (verb == 'v' || verb == 's') {
          Pad(v.ToString(), sp, false);
        } else {
          BadVerb(verb, v);
        }
        return;
    }
  }
};

}  // namespace

std::string GoSprintf(std::string_view format, const std::vector<Value>& args, bool* overflow) {
  Printer p;
  size_t arg = 0;
  size_t i = 0;
  const size_t n = format.size();
  while (i < n) {
    size_t pct = format.find('%', i);
    if (pct == std::string_view::npos) {
      p.out.append(format.substr(i));
      break;
    }
    p.out.append(format.substr(i, pct - i));
    i = pct + 1;
    if (i >= n) {
      p.out += "%!(NOVERB)";
      break;
    }
    Spec sp;
    for (; i < n; ++i) {
      char c = format[i];
      if (c == '+') {
        sp.plus = true;
      } else if (c == '-') {
        sp.minus = true;
        sp.zero = false;
      } else if (c == '#') {
        sp.sharp = true;
      } else if (c == ' ') {
        sp.space = true;
      } else if (c == '0') {
        sp.zero = !sp.minus;
      } else {
        break;
      }
    }
    auto read_num = [&](int* out) {
      if (i < n && format[i] == '*') {
        ++i;
        if (arg < args.size() && args[arg].kind() == Value::Kind::kNumber && args[arg].is_int()) {
          int64_t w = args[arg++].as_int();
          if (w > 1000000 || w < -1000000) {
            p.out += "%!(BADWIDTH)";
            return;
          }
          *out = static_cast<int>(w);
        } else {
          if (arg < args.size()) ++arg;
          p.out += "%!(BADWIDTH)";
        }
        return;
      }
      int v = -1;
      while (i < n && format[i] >= '0' && format[i] <= '9') {
        v = (v < 0 ? 0 : v) * 10 + (format[i] - '0');
        if (v > 1000000) v = 1000000;  // Go refuses absurd widths; stay bounded
        ++i;
      }
      *out = v;
    };
    read_num(&sp.width);
    if (sp.width < 0 && sp.width != -1) {
      sp.minus = true;
      sp.width = -sp.width;
    }
    if (i < n && format[i] == '.') {
      ++i;
      read_num(&sp.prec);
      if (sp.prec < 0) sp.prec = 0;
    }
    if (i >= n) {
      p.out += "%!(NOVERB)";
      break;
    }
    // The verb is one code point.
    unsigned char c0 = static_cast<unsigned char>(format[i]);
    size_t len = c0 < 0x80 ? 1 : c0 >= 0xF0 ? 4 : c0 >= 0xE0 ? 3 : 2;
    if (i + len > n) len = n - i;
    char32_t verb = c0;
    if (len > 1) {
      verb = c0 & (0xFF >> (len + 1));
      for (size_t k = 1; k < len; ++k) verb = (verb << 6) | (format[i + k] & 0x3F);
    }
    i += len;
    if (verb == '%') {
      p.out += "%";
      continue;
    }
    if (arg >= args.size()) {
      p.out += "%!";
      AppendUtf8Rune(verb, &p.out);
      p.out += "(MISSING)";
      continue;
    }
    p.Print(args[arg++], verb, sp);
  }
  if (arg < args.size()) {
    p.out += "%!(EXTRA ";
    for (size_t k = arg; k < args.size(); ++k) {
      if (k > arg) p.out += ", ";
      if (args[k].is_null()) {
        p.out += "<nil>";
        continue;
      }
      p.out += GoTypeName(args[k]);
      p.out += "=";
      Spec plain;
      p.Print(args[k], 'v', plain);
    }
    p.out += ")";
  }
  if (overflow != nullptr) *overflow = p.overflow || p.out.size() > config::kMaxStringResult;
  return p.out;
}

}  // namespace sluice
