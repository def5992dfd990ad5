// Go's text/template, the executing half: pipelines, truth, printing of values, and the
// functions Alloy registers (Go's builtins, Alloy's own, part of sprig). See template.h.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/common/digest.h"
#include "agent/common/utf8.h"
#include "agent/go/regexp.h"
#include "agent/go/strconv.h"
#include "agent/go/template_internal.h"

namespace sluice {
namespace {

// ---------------------------------------------------------------------------------------------
// Values during execution

struct TVal {
  enum class Kind { kInvalid, kNil, kString, kBool, kInt, kFloat, kData };
  Kind kind = Kind::kInvalid;
  std::string s;
  int64_t i = 0;
  double f = 0;
  bool b = false;

  static TVal Str(std::string v) {
    TVal t;
    t.kind = Kind::kString;
    t.s = std::move(v);
    return t;
  }
  static TVal Bool(bool v) {
    TVal t;
    t.kind = Kind::kBool;
    t.b = v;
    return t;
  }
  static TVal Int(int64_t v) {
    TVal t;
    t.kind = Kind::kInt;
    t.i = v;
    return t;
  }
};

// ---------------------------------------------------------------------------------------------
// String functions with Go's semantics

// Trims runes for which `pred` holds from the left and/or right of `s`.
template <typename Pred>
std::string_view TrimFunc(std::string_view s, bool left, bool right, Pred pred) {
  if (left) {
    while (!s.empty()) {
      size_t w;
      uint32_t r = DecodeUtf8Rune(s, 0, &w);
      if (!pred(r)) break;
      s.remove_prefix(w);
    }
  }
  if (right) {
    while (!s.empty()) {
      // Find the start of the last rune.
      size_t start = s.size() - 1;
      while (start > 0 && s.size() - start < 4 &&
             (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) {
        --start;
      }
      size_t w;
      uint32_t r = DecodeUtf8Rune(s, start, &w);
      if (start + w != s.size()) {
        // Not a complete sequence: the last byte alone is an invalid rune.
        start = s.size() - 1;
        r = 0xFFFD;
      }
      if (!pred(r)) break;
      s.remove_suffix(s.size() - start);
    }
  }
  return s;
}

std::string_view TrimCutset(std::string_view s, std::string_view cutset, bool left, bool right) {
  if (s.empty() || cutset.empty()) return s;
  std::vector<uint32_t> set;
  for (size_t i = 0; i < cutset.size();) {
    size_t w;
    set.push_back(DecodeUtf8Rune(cutset, i, &w));
    i += w;
  }
  return TrimFunc(s, left, right,
                  [&](uint32_t r) { return std::find(set.begin(), set.end(), r) != set.end(); });
}

// strings.Replace(s, old, new, n).
std::string GoReplace(std::string_view s, std::string_view old, std::string_view repl, int64_t n) {
  if (old == repl || n == 0) return std::string(s);
  std::string out;
  size_t start = 0;
  int64_t done = 0;
  if (old.empty()) {
    // Inserts `repl` before each rune and at the end.
    size_t i = 0;
    while ((n < 0 || done < n)) {
      out.append(repl);
      ++done;
      if (i >= s.size()) {
        start = s.size();
        break;
      }
      size_t w;
      DecodeUtf8Rune(s, i, &w);
      out.append(s.substr(i, w));
      i += w;
      start = i;
    }
    out.append(s.substr(start));
    return out;
  }
  while (n < 0 || done < n) {
    size_t p = s.find(old, start);
    if (p == std::string_view::npos) break;
    out.append(s.substr(start, p - start));
    out.append(repl);
    start = p + old.size();
    ++done;
  }
  out.append(s.substr(start));
  return out;
}

void AppendFloat(double f, std::string* out) {
  char buf[64];
  const double a = std::fabs(f);
  const bool exp = a != 0 && (a < 1e-4 || a >= 1e21);
  auto r = std::to_chars(buf, buf + sizeof buf, f,
                         exp ? std::chars_format::scientific : std::chars_format::fixed);
  out->append(buf, r.ptr);
}

// fmt's %v of a value.
void AppendValue(const TVal& v, const TemplateData& data, std::string* out, bool no_value) {
  switch (v.kind) {
    case TVal::Kind::kInvalid:
      out->append(no_value ? "<no value>" : "<nil>");
      return;
    case TVal::Kind::kNil:
      out->append("<nil>");
      return;
    case TVal::Kind::kString:
      out->append(v.s);
      return;
    case TVal::Kind::kBool:
      out->append(v.b ? "true" : "false");
      return;
    case TVal::Kind::kInt:
      absl::StrAppend(out, v.i);
      return;
    case TVal::Kind::kFloat:
      AppendFloat(v.f, out);
      return;
    case TVal::Kind::kData: {
      std::vector<std::pair<std::string, std::string>> kv;
      data.ForEach([&kv](std::string_view k, std::string_view val) {
        kv.emplace_back(std::string(k), std::string(val));
      });
      std::sort(kv.begin(), kv.end());
      out->append("map[");
      for (size_t i = 0; i < kv.size(); ++i) {
        if (i > 0) out->push_back(' ');
        absl::StrAppend(out, kv[i].first, ":", kv[i].second);
      }
      out->push_back(']');
      return;
    }
  }
}

bool Truth(const TVal& v) {
  switch (v.kind) {
    case TVal::Kind::kInvalid:
    case TVal::Kind::kNil:
      return false;
    case TVal::Kind::kString:
      return !v.s.empty();
    case TVal::Kind::kBool:
      return v.b;
    case TVal::Kind::kInt:
      return v.i != 0;
    case TVal::Kind::kFloat:
      return v.f != 0;
    case TVal::Kind::kData:
      return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Executor

class Executor {
 public:
  explicit Executor(const TemplateData& data) : data_(data) {}

  bool Run(const std::vector<TemplateNode>& list, std::string* out) {
    for (const TemplateNode& n : list) {
      switch (n.kind) {
        case TemplateNode::Kind::kText:
          out->append(n.text);
          break;
        case TemplateNode::Kind::kAction: {
          TVal v;
          if (!Pipeline(n.pipe, &v)) return false;
          AppendValue(v, data_, out, /*no_value=*/true);
          break;
        }
        case TemplateNode::Kind::kIf: {
          TVal v;
          if (!Pipeline(n.pipe, &v)) return false;
          if (!Run(Truth(v) ? n.then_list : n.else_list, out)) return false;
          break;
        }
      }
    }
    return true;
  }

 private:
  bool Pipeline(const TPipeline& p, TVal* out) {
    TVal val;
    bool has_final = false;
    for (const TCommand& c : p.cmds) {
      TVal next;
      if (!Command(c, has_final ? &val : nullptr, &next)) return false;
      val = std::move(next);
      has_final = true;
    }
    *out = std::move(val);
    return true;
  }

  bool Command(const TCommand& c, const TVal* final, TVal* out) {
    const TArg& first = c.args[0];
    if (first.kind == TArg::Kind::kFunc) return Call(*first.fn, c.args, 1, final, out);
    // Not a function: no arguments allowed.
    if (c.args.size() > 1 || final != nullptr) return false;
    if (first.kind == TArg::Kind::kNil) return false;  // "nil is not a command"
    return Operand(first, out);
  }

  bool Operand(const TArg& a, TVal* out) {
    switch (a.kind) {
      case TArg::Kind::kDot:
        out->kind = TVal::Kind::kData;
        return true;
      case TArg::Kind::kField: {
        std::string v;
        if (data_.Lookup(a.fields[0], &v)) {
          *out = TVal::Str(std::move(v));
        } else {
          *out = TVal();
        }
        // A field of a string (or of a missing value) cannot be evaluated.
        return a.fields.size() == 1;
      }
      case TArg::Kind::kString:
        *out = TVal::Str(a.str);
        return true;
      case TArg::Kind::kInt:
        *out = TVal::Int(a.i);
        return true;
      case TArg::Kind::kFloat:
        out->kind = TVal::Kind::kFloat;
        out->f = a.f;
        return true;
      case TArg::Kind::kBool:
        *out = TVal::Bool(a.b);
        return true;
      case TArg::Kind::kNil:
        out->kind = TVal::Kind::kNil;
        return true;
      case TArg::Kind::kPipe:
        return Pipeline(*a.pipe, out);
      case TArg::Kind::kFunc: {
        // A function named as an argument is called without arguments.
        TCommand none;
        none.args.push_back(a);
        return Call(*a.fn, none.args, 1, nullptr, out);
      }
    }
    return false;
  }

  // Checks and converts one argument against a parameter kind.
  static bool Coerce(char kind, TVal* v) {
    if (kind == 'A') {
      if (v->kind == TVal::Kind::kInvalid) v->kind = TVal::Kind::kNil;
      return true;
    }
    if (kind == 'S') return v->kind == TVal::Kind::kString;
    if (kind == 'I') return v->kind == TVal::Kind::kInt;
    return false;
  }

  bool Call(const FnDef& fn, const std::vector<TArg>& args, size_t from, const TVal* final,
            TVal* out) {
    const size_t nargs = args.size() - from + (final != nullptr ? 1 : 0);
    std::string_view params = fn.params;
    const bool variadic = !params.empty() && params.back() == '*';
    if (variadic) params.remove_suffix(1);
    const size_t fixed = variadic ? params.size() - 1 : params.size();
    if (variadic ? nargs < fixed : nargs != fixed) return false;  // wrong number of args

    // and/or short-circuit: arguments are evaluated only as far as needed.
    if (fn.fn == Fn::kAnd || fn.fn == Fn::kOr) {
      for (size_t k = 0; k < nargs; ++k) {
        TVal v;
        if (k < args.size() - from) {
          if (!Operand(args[from + k], &v)) return false;
        } else {
          v = *final;
        }
        const bool t = Truth(v);
        *out = std::move(v);
        if ((fn.fn == Fn::kAnd && !t) || (fn.fn == Fn::kOr && t)) return true;
      }
      return true;
    }

    std::vector<TVal> vals(nargs);
    for (size_t k = 0; k < nargs; ++k) {
      if (k < args.size() - from) {
        if (!Operand(args[from + k], &vals[k])) return false;
      } else {
        vals[k] = *final;
      }
      const char kind = k < params.size() ? params[k] : params.back();
      if (!Coerce(kind, &vals[k])) return false;
    }
    return Apply(fn.fn, vals, out);
  }

  static int BasicKind(const TVal& v) {
    switch (v.kind) {
      case TVal::Kind::kBool:
        return 1;
      case TVal::Kind::kInt:
        return 2;
      case TVal::Kind::kFloat:
        return 3;
      case TVal::Kind::kString:
        return 4;
      default:
        return 0;
    }
  }

  // eq of two values; false with *ok=false on incomparable kinds.
  static bool Equal(const TVal& a, const TVal& b, bool* ok) {
    int ka = BasicKind(a), kb = BasicKind(b);
    if (ka != kb) {
      if (ka != 0 && kb != 0) *ok = false;
      return ka == 0 && kb == 0;
    }
    switch (ka) {
      case 1:
        return a.b == b.b;
      case 2:
        return a.i == b.i;
      case 3:
        return a.f == b.f;
      case 4:
        return a.s == b.s;
      default:
        return true;  // both nil/missing
    }
  }

  // lt of two values; *ok=false on incomparable kinds.
  static bool Less(const TVal& a, const TVal& b, bool* ok) {
    int ka = BasicKind(a), kb = BasicKind(b);
    if (ka != kb || ka == 0 || ka == 1) {
      *ok = false;
      return false;
    }
    if (ka == 2) return a.i < b.i;
    if (ka == 3) return a.f < b.f;
    return a.s < b.s;
  }

  static bool Empty(const TVal& v) {
    switch (v.kind) {
      case TVal::Kind::kInvalid:
      case TVal::Kind::kNil:
        return true;
      case TVal::Kind::kString:
        return v.s.empty();
      case TVal::Kind::kBool:
        return !v.b;
      case TVal::Kind::kInt:
        return v.i == 0;
      case TVal::Kind::kFloat:
        return v.f == 0;
      case TVal::Kind::kData:
        return false;
    }
    return true;
  }

  bool Apply(Fn fn, std::vector<TVal>& v, TVal* out) {
    switch (fn) {
      case Fn::kAnd:
      case Fn::kOr:
        return false;  // handled in Call
      case Fn::kNot:
        *out = TVal::Bool(!Truth(v[0]));
        return true;
      case Fn::kEq: {
        if (v.size() < 2) return false;
        for (size_t k = 1; k < v.size(); ++k) {
          bool ok = true;
          bool eq = Equal(v[0], v[k], &ok);
          if (!ok) return false;
          if (eq) {
            *out = TVal::Bool(true);
            return true;
          }
        }
        *out = TVal::Bool(false);
        return true;
      }
      case Fn::kNe: {
        bool ok = true;
        bool eq = Equal(v[0], v[1], &ok);
        if (!ok) return false;
        *out = TVal::Bool(!eq);
        return true;
      }
      case Fn::kLt:
      case Fn::kLe:
      case Fn::kGt:
      case Fn::kGe: {
        bool ok = true;
        bool res;
        if (fn == Fn::kLt) {
          res = Less(v[0], v[1], &ok);
        } else if (fn == Fn::kGe) {
          res = !Less(v[0], v[1], &ok);
        } else if (fn == Fn::kGt) {
          res = Less(v[1], v[0], &ok);
        } else {
          res = !Less(v[1], v[0], &ok);
        }
        if (!ok) return false;
        *out = TVal::Bool(res);
        return true;
      }
      case Fn::kLen:
        if (v[0].kind != TVal::Kind::kString) return false;
        *out = TVal::Int(static_cast<int64_t>(v[0].s.size()));
        return true;
      case Fn::kPrint: {
        std::string s;
        for (size_t k = 0; k < v.size(); ++k) {
          // fmt.Sprint adds a space between operands when neither is a string.
          if (k > 0 && v[k - 1].kind != TVal::Kind::kString && v[k].kind != TVal::Kind::kString) {
            s.push_back(' ');
          }
          AppendValue(v[k], data_, &s, /*no_value=*/false);
        }
        *out = TVal::Str(std::move(s));
        return true;
      }
      case Fn::kToLower:
      case Fn::kLower:
        *out = TVal::Str(GoToLower(v[0].s));
        return true;
      case Fn::kToUpper:
      case Fn::kUpper:
        *out = TVal::Str(GoToUpper(v[0].s));
        return true;
      case Fn::kReplace:
        *out = TVal::Str(GoReplace(v[0].s, v[1].s, v[2].s, v[3].i));
        return true;
      case Fn::kSprigReplace:
        *out = TVal::Str(GoReplace(v[2].s, v[0].s, v[1].s, -1));
        return true;
      case Fn::kTrim:
        *out = TVal::Str(std::string(TrimCutset(v[0].s, v[1].s, true, true)));
        return true;
      case Fn::kTrimAll:
        *out = TVal::Str(std::string(TrimCutset(v[1].s, v[0].s, true, true)));
        return true;
      case Fn::kTrimLeft:
        *out = TVal::Str(std::string(TrimCutset(v[0].s, v[1].s, true, false)));
        return true;
      case Fn::kTrimRight:
        *out = TVal::Str(std::string(TrimCutset(v[0].s, v[1].s, false, true)));
        return true;
      case Fn::kTrimPrefix:
      case Fn::kSprigTrimPrefix: {
        const std::string& s = fn == Fn::kTrimPrefix ? v[0].s : v[1].s;
        const std::string& p = fn == Fn::kTrimPrefix ? v[1].s : v[0].s;
        *out = TVal::Str(s.compare(0, p.size(), p) == 0 ? s.substr(p.size()) : s);
        return true;
      }
      case Fn::kTrimSuffix:
      case Fn::kSprigTrimSuffix: {
        const std::string& s = fn == Fn::kTrimSuffix ? v[0].s : v[1].s;
        const std::string& x = fn == Fn::kTrimSuffix ? v[1].s : v[0].s;
        bool has = s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
        *out = TVal::Str(has ? s.substr(0, s.size() - x.size()) : s);
        return true;
      }
      case Fn::kTrimSpace:
      case Fn::kSprigTrim:
        *out = TVal::Str(std::string(TrimFunc(v[0].s, true, true, IsGoSpace)));
        return true;
      case Fn::kHash:
        *out = TVal::Str(Sha3_256Hex(v[0].s + v[1].s));
        return true;
      case Fn::kSha2Hash:
        *out = TVal::Str(Sha256Hex(v[0].s + v[1].s));
        return true;
      case Fn::kSha256sum:
        *out = TVal::Str(Sha256Hex(v[0].s));
        return true;
      case Fn::kRegexReplaceAll:
      case Fn::kRegexReplaceAllLiteral: {
        // regexp.MustCompile panics on a bad pattern; text/template turns that into an error.
        std::string err;
        std::unique_ptr<RE2> re = CompileGoRegexp(v[0].s, &err);
        if (re == nullptr) return false;
        std::string s;
        GoReplaceAll(*re, v[1].s, v[2].s, fn == Fn::kRegexReplaceAllLiteral, &s);
        *out = TVal::Str(std::move(s));
        return true;
      }
      case Fn::kContains:
        *out = TVal::Bool(v[1].s.find(v[0].s) != std::string::npos);
        return true;
      case Fn::kHasPrefix:
        *out = TVal::Bool(v[1].s.compare(0, v[0].s.size(), v[0].s) == 0);
        return true;
      case Fn::kHasSuffix:
        *out =
            TVal::Bool(v[1].s.size() >= v[0].s.size() &&
                       v[1].s.compare(v[1].s.size() - v[0].s.size(), v[0].s.size(), v[0].s) == 0);
        return true;
      case Fn::kRepeat: {
        // strings.Repeat panics on a negative count; a huge result is refused to stay bounded.
        if (v[0].i < 0) return false;
        if (v[0].i > 0 && v[1].s.size() > (1u << 20) / static_cast<uint64_t>(v[0].i)) return false;
        std::string s;
        for (int64_t k = 0; k < v[0].i; ++k) s.append(v[1].s);
        *out = TVal::Str(std::move(s));
        return true;
      }
      case Fn::kSubstr: {
        const std::string& s = v[2].s;
        int64_t start = v[0].i, end = v[1].i;
        const int64_t len = static_cast<int64_t>(s.size());
        if (start < 0) {
          if (end < 0 || end > len) return false;
          *out = TVal::Str(s.substr(0, static_cast<size_t>(end)));
          return true;
        }
        if (end < 0 || end > len) {
          if (start > len) return false;
          *out = TVal::Str(s.substr(static_cast<size_t>(start)));
          return true;
        }
        if (start > end) return false;
        *out = TVal::Str(s.substr(static_cast<size_t>(start), static_cast<size_t>(end - start)));
        return true;
      }
      case Fn::kTrunc: {
        const std::string& s = v[1].s;
        const int64_t c = v[0].i, len = static_cast<int64_t>(s.size());
        if (c < 0 && len + c > 0) {
          *out = TVal::Str(s.substr(static_cast<size_t>(len + c)));
        } else if (c >= 0 && len > c) {
          *out = TVal::Str(s.substr(0, static_cast<size_t>(c)));
        } else {
          *out = TVal::Str(s);
        }
        return true;
      }
      case Fn::kDefault:
        if (v.size() < 2 || Empty(v[1])) {
          *out = std::move(v[0]);
        } else {
          *out = std::move(v[1]);
        }
        return true;
      case Fn::kEmpty:
        *out = TVal::Bool(Empty(v[0]));
        return true;
      case Fn::kQuote:
      case Fn::kSquote: {
        std::string s;
        bool first = true;
        for (const TVal& a : v) {
          if (a.kind == TVal::Kind::kNil) continue;
          if (!first) s.push_back(' ');
          first = false;
          std::string text;
          AppendValue(a, data_, &text, /*no_value=*/false);
          if (fn == Fn::kQuote) {
            AppendGoQuoted(text, &s);
          } else {
            absl::StrAppend(&s, "'", text, "'");
          }
        }
        *out = TVal::Str(std::move(s));
        return true;
      }
    }
    return false;
  }

  const TemplateData& data_;
};

}  // namespace

bool ExecuteTemplate(const std::vector<TemplateNode>& list, const TemplateData& data,
                     std::string* out) {
  Executor ex(data);
  return ex.Run(list, out);
}

}  // namespace sluice
