#include "agent/go/template.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/common/digest.h"
#include "agent/common/strings.h"
#include "agent/common/utf8.h"
#include "agent/go/regexp.h"
#include "agent/go/strconv.h"

namespace sluice {

// ---------------------------------------------------------------------------------------------
// Functions

enum class Fn {
  kAnd,
  kOr,
  kNot,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kLen,
  kPrint,
  kToLower,
  kToUpper,
  kReplace,
  kTrim,
  kTrimLeft,
  kTrimRight,
  kTrimPrefix,
  kTrimSuffix,
  kTrimSpace,
  kHash,
  kSha2Hash,
  kRegexReplaceAll,
  kRegexReplaceAllLiteral,
  kLower,
  kUpper,
  kSprigTrim,
  kTrimAll,
  kSprigTrimPrefix,
  kSprigTrimSuffix,
  kSprigReplace,
  kContains,
  kHasPrefix,
  kHasSuffix,
  kRepeat,
  kSubstr,
  kTrunc,
  kDefault,
  kEmpty,
  kQuote,
  kSquote,
  kSha256sum,
};

// Parameter kinds: 'S' string, 'I' int, 'A' any; a trailing '*' makes the last one variadic.
struct FnDef {
  std::string_view name;
  Fn fn;
  std::string_view params;
};

constexpr FnDef kFunctions[] = {
    {"and", Fn::kAnd, "AA*"},
    {"or", Fn::kOr, "AA*"},
    {"not", Fn::kNot, "A"},
    {"eq", Fn::kEq, "AA*"},
    {"ne", Fn::kNe, "AA"},
    {"lt", Fn::kLt, "AA"},
    {"le", Fn::kLe, "AA"},
    {"gt", Fn::kGt, "AA"},
    {"ge", Fn::kGe, "AA"},
    {"len", Fn::kLen, "A"},
    {"print", Fn::kPrint, "A*"},
    {"ToLower", Fn::kToLower, "S"},
    {"ToUpper", Fn::kToUpper, "S"},
    {"Replace", Fn::kReplace, "SSSI"},
    {"Trim", Fn::kTrim, "SS"},
    {"TrimLeft", Fn::kTrimLeft, "SS"},
    {"TrimRight", Fn::kTrimRight, "SS"},
    {"TrimPrefix", Fn::kTrimPrefix, "SS"},
    {"TrimSuffix", Fn::kTrimSuffix, "SS"},
    {"TrimSpace", Fn::kTrimSpace, "S"},
    {"Hash", Fn::kHash, "SS"},
    {"Sha2Hash", Fn::kSha2Hash, "SS"},
    {"regexReplaceAll", Fn::kRegexReplaceAll, "SSS"},
    {"regexReplaceAllLiteral", Fn::kRegexReplaceAllLiteral, "SSS"},
    {"lower", Fn::kLower, "S"},
    {"upper", Fn::kUpper, "S"},
    {"trim", Fn::kSprigTrim, "S"},
    {"trimAll", Fn::kTrimAll, "SS"},
    {"trimPrefix", Fn::kSprigTrimPrefix, "SS"},
    {"trimSuffix", Fn::kSprigTrimSuffix, "SS"},
    {"replace", Fn::kSprigReplace, "SSS"},
    {"contains", Fn::kContains, "SS"},
    {"hasPrefix", Fn::kHasPrefix, "SS"},
    {"hasSuffix", Fn::kHasSuffix, "SS"},
    {"repeat", Fn::kRepeat, "IS"},
    {"substr", Fn::kSubstr, "IIS"},
    {"trunc", Fn::kTrunc, "IS"},
    {"default", Fn::kDefault, "AA*"},
    {"empty", Fn::kEmpty, "A"},
    {"quote", Fn::kQuote, "A*"},
    {"squote", Fn::kSquote, "A*"},
    {"sha256sum", Fn::kSha256sum, "S"},
};

const FnDef* FindFunction(std::string_view name) {
  for (const FnDef& f : kFunctions) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// AST

struct TPipeline;

struct TArg {
  enum class Kind { kDot, kField, kFunc, kString, kInt, kFloat, kBool, kNil, kPipe };
  Kind kind = Kind::kDot;
  std::vector<std::string> fields;  // kField: .a.b -> {"a", "b"}
  std::string str;                  // kString
  int64_t i = 0;
  double f = 0;
  bool b = false;
  const FnDef* fn = nullptr;
  std::shared_ptr<TPipeline> pipe;
};

struct TCommand {
  std::vector<TArg> args;
};

struct TPipeline {
  std::vector<TCommand> cmds;
};

struct TemplateNode {
  enum class Kind { kText, kAction, kIf };
  Kind kind = Kind::kText;
  std::string text;
  TPipeline pipe;
  std::vector<TemplateNode> then_list;
  std::vector<TemplateNode> else_list;
};

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
// Parser

absl::Status ParseError(int line, std::string_view msg) {
  return absl::InvalidArgumentError(
      absl::StrCat("template: pipeline_template:", line, ": ", Av(msg)));
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

struct Tok {
  enum class Kind { kField, kDot, kIdent, kString, kNumber, kChar, kPipe, kLparen, kRparen };
  Kind kind;
  std::string text;     // field name (without '.'), identifier, unquoted string, number text
  bool joined = false;  // a field directly following the previous token (.a.b)
};

class TemplateParser {
 public:
  explicit TemplateParser(std::string_view text) : t_(text) {}

  absl::StatusOr<std::vector<TemplateNode>> Parse(bool* constant) {
    std::vector<TemplateNode> root;
    // Stack of open `if`s: the list receiving nodes, plus whether it was opened by `else if`
    // (which closes with its parent's {{end}}).
    struct Open {
      TemplateNode* node;
      bool in_else;
      bool chained;  // opened by {{else if}}
    };
    std::vector<Open> stack;
    auto current = [&]() -> std::vector<TemplateNode>* {
      if (stack.empty()) return &root;
      return stack.back().in_else ? &stack.back().node->else_list : &stack.back().node->then_list;
    };
    size_t pos = 0;
    bool trim_next = false;
    while (pos <= t_.size()) {
      size_t open = t_.find("{{", pos);
      std::string_view text = t_.substr(pos, open == std::string_view::npos ? t_.npos : open - pos);
      const bool trim_left = open != std::string_view::npos && open + 3 < t_.size() &&
                             t_[open + 2] == '-' && IsSpace(t_[open + 3]);
      if (trim_next) {
        while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
      }
      if (trim_left) {
        while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
      }
      if (!text.empty()) {
        TemplateNode n;
        n.kind = TemplateNode::Kind::kText;
        n.text = std::string(text);
        current()->push_back(std::move(n));
      }
      if (open == std::string_view::npos) break;
      *constant = false;
      line_ = 1 + static_cast<int>(std::count(t_.begin(), t_.begin() + open, '\n'));
      pos_ = open + 2 + (trim_left ? 2 : 0);
      // Comments.
      size_t c = pos_;
      while (trim_left && c < t_.size() && IsSpace(t_[c])) ++c;
      if (t_.substr(c, 2) == "/*") {
        size_t end = t_.find("*/", c + 2);
        if (end == std::string_view::npos) return ParseError(line_, "unclosed comment");
        size_t after = end + 2;
        if (t_.substr(after, 2) == "}}") {
          trim_next = false;
          pos = after + 2;
        } else if (t_.substr(after, 4) == " -}}") {
          trim_next = true;
          pos = after + 4;
        } else {
          return ParseError(line_, "comment ends before closing delimiter");
        }
        continue;
      }
      std::vector<Tok> toks;
      absl::Status st = LexAction(&toks, &trim_next);
      if (!st.ok()) return st;
      pos = pos_;

      if (!toks.empty() && toks[0].kind == Tok::Kind::kIdent) {
        const std::string& kw = toks[0].text;
        if (kw == "if") {
          TemplateNode n;
          n.kind = TemplateNode::Kind::kIf;
          absl::StatusOr<TPipeline> p = PipelineOf(toks, 1, "if");
          if (!p.ok()) return p.status();
          n.pipe = std::move(*p);
          current()->push_back(std::move(n));
          stack.push_back({&current()->back(), false, false});
          continue;
        }
        if (kw == "else") {
          if (stack.empty() || stack.back().in_else) {
            return ParseError(line_, "unexpected {{else}}");
          }
          stack.back().in_else = true;
          if (toks.size() > 1 && toks[1].kind == Tok::Kind::kIdent && toks[1].text == "if") {
            TemplateNode n;
            n.kind = TemplateNode::Kind::kIf;
            absl::StatusOr<TPipeline> p = PipelineOf(toks, 2, "if");
            if (!p.ok()) return p.status();
            n.pipe = std::move(*p);
            current()->push_back(std::move(n));
            stack.push_back({&current()->back(), false, true});
          } else if (toks.size() > 1) {
            return ParseError(line_, "unexpected tokens in {{else}}");
          }
          continue;
        }
        if (kw == "end") {
          if (toks.size() > 1) return ParseError(line_, "unexpected tokens in {{end}}");
          if (stack.empty()) return ParseError(line_, "unexpected {{end}}");
          // An {{end}} closes an `if` and every `else if` chained to it.
          while (stack.back().chained) stack.pop_back();
          stack.pop_back();
          continue;
        }
        if (kw == "range" || kw == "with" || kw == "define" || kw == "template" || kw == "block" ||
            kw == "break" || kw == "continue") {
          return ParseError(line_, absl::StrCat("{{", kw, "}} is not supported by sluice"));
        }
      }
      TemplateNode n;
      n.kind = TemplateNode::Kind::kAction;
      absl::StatusOr<TPipeline> p = PipelineOf(toks, 0, "command");
      if (!p.ok()) return p.status();
      n.pipe = std::move(*p);
      current()->push_back(std::move(n));
    }
    if (!stack.empty()) {
      line_ = 1 + static_cast<int>(std::count(t_.begin(), t_.end(), '\n'));
      return ParseError(line_, "unexpected EOF");
    }
    return root;
  }

 private:
  // Lexes from pos_ up to and including the closing delimiter.
  absl::Status LexAction(std::vector<Tok>* toks, bool* trim_right) {
    bool prev_adjacent = false;  // the previous token ended right here (for .a.b chains)
    while (true) {
      if (pos_ >= t_.size()) return ParseError(line_, "unclosed action");
      char c = t_[pos_];
      if (IsSpace(c)) {
        size_t p = pos_;
        while (p < t_.size() && IsSpace(t_[p])) ++p;
        if (t_.substr(p, 3) == "-}}") {
          *trim_right = true;
          pos_ = p + 3;
          return absl::OkStatus();
        }
        pos_ = p;
        prev_adjacent = false;
        continue;
      }
      if (t_.substr(pos_, 2) == "}}") {
        *trim_right = false;
        pos_ += 2;
        return absl::OkStatus();
      }
      if (c == '|') {
        toks->push_back({Tok::Kind::kPipe, "|"});
        ++pos_;
        prev_adjacent = false;
        continue;
      }
      if (c == '(' || c == ')') {
        toks->push_back({c == '(' ? Tok::Kind::kLparen : Tok::Kind::kRparen, std::string(1, c)});
        ++pos_;
        prev_adjacent = c == ')';
        continue;
      }
      if (c == '"') {
        size_t p = pos_ + 1;
        while (p < t_.size() && t_[p] != '"' && t_[p] != '\n') {
          if (t_[p] == '\\') ++p;
          ++p;
        }
        if (p >= t_.size() || t_[p] != '"') return ParseError(line_, "unterminated quoted string");
        std::string s;
        if (!GoUnquote(t_.substr(pos_, p - pos_ + 1), &s)) {
          return ParseError(line_, "invalid syntax");
        }
        toks->push_back({Tok::Kind::kString, std::move(s)});
        pos_ = p + 1;
        prev_adjacent = false;
        continue;
      }
      if (c == '`') {
        size_t p = t_.find('`', pos_ + 1);
        if (p == std::string_view::npos) return ParseError(line_, "unterminated raw quoted string");
        toks->push_back({Tok::Kind::kString, std::string(t_.substr(pos_ + 1, p - pos_ - 1))});
        pos_ = p + 1;
        prev_adjacent = false;
        continue;
      }
      if (c == '\'') {
        size_t p = pos_ + 1;
        while (p < t_.size() && t_[p] != '\'' && t_[p] != '\n') {
          if (t_[p] == '\\') ++p;
          ++p;
        }
        if (p >= t_.size() || t_[p] != '\'') {
          return ParseError(line_, "unterminated character constant");
        }
        std::string s;
        if (!GoUnquote(t_.substr(pos_, p - pos_ + 1), &s) || s.empty()) {
          return ParseError(line_, "malformed character constant");
        }
        size_t w;
        uint32_t r = DecodeUtf8Rune(s, 0, &w);
        if (w != s.size()) return ParseError(line_, "malformed character constant");
        toks->push_back({Tok::Kind::kChar, std::to_string(r)});
        pos_ = p + 1;
        prev_adjacent = false;
        continue;
      }
      if (c == '.') {
        size_t p = pos_ + 1;
        if (p < t_.size() && t_[p] >= '0' && t_[p] <= '9') {
          return ParseError(line_, "numbers starting with '.' are not supported by sluice");
        }
        while (p < t_.size() && IsAlnum(t_[p])) ++p;
        if (p == pos_ + 1) {
          toks->push_back({Tok::Kind::kDot, "."});
        } else {
          Tok t{Tok::Kind::kField, std::string(t_.substr(pos_ + 1, p - pos_ - 1))};
          t.joined = prev_adjacent;
          toks->push_back(std::move(t));
        }
        pos_ = p;
        prev_adjacent = true;
        continue;
      }
      if ((c >= '0' && c <= '9') || ((c == '-' || c == '+') && pos_ + 1 < t_.size() &&
                                     t_[pos_ + 1] >= '0' && t_[pos_ + 1] <= '9')) {
        size_t p = pos_ + 1;
        while (p < t_.size() &&
               (IsAlnum(t_[p]) || t_[p] == '.' ||
                ((t_[p] == '+' || t_[p] == '-') && (t_[p - 1] == 'e' || t_[p - 1] == 'E')))) {
          ++p;
        }
        toks->push_back({Tok::Kind::kNumber, std::string(t_.substr(pos_, p - pos_))});
        pos_ = p;
        prev_adjacent = false;
        continue;
      }
      if (IsAlnum(c)) {
        size_t p = pos_;
        while (p < t_.size() && IsAlnum(t_[p])) ++p;
        toks->push_back({Tok::Kind::kIdent, std::string(t_.substr(pos_, p - pos_))});
        pos_ = p;
        prev_adjacent = false;
        continue;
      }
      if (c == '$') return ParseError(line_, "variables are not supported by sluice");
      if (c == ':' || c == '=') {
        return ParseError(line_, "variable declarations are not supported by sluice");
      }
      size_t w;
      uint32_t r = DecodeUtf8Rune(t_, pos_, &w);
      char buf[32];
      std::snprintf(buf, sizeof buf, "U+%04X", r);
      std::string shown = absl::StrCat(buf, " '", Av(t_.substr(pos_, w)), "'");
      return ParseError(line_, absl::StrCat("unrecognized character in action: ", shown));
    }
  }

  absl::StatusOr<TPipeline> PipelineOf(const std::vector<Tok>& toks, size_t from,
                                       std::string_view context) {
    size_t i = from;
    absl::StatusOr<TPipeline> p = ParsePipeline(toks, &i, context);
    if (!p.ok()) return p;
    if (i != toks.size()) return ParseError(line_, "unexpected \")\" in operand");
    return p;
  }

  absl::StatusOr<TPipeline> ParsePipeline(const std::vector<Tok>& toks, size_t* i,
                                          std::string_view context) {
    TPipeline pipe;
    for (;;) {
      TCommand cmd;
      while (*i < toks.size() && toks[*i].kind != Tok::Kind::kPipe &&
             toks[*i].kind != Tok::Kind::kRparen) {
        absl::StatusOr<TArg> a = ParseOperand(toks, i, cmd.args);
        if (!a.ok()) return a.status();
        if (a->kind == TArg::Kind::kField && !cmd.args.empty() && toks[*i - 1].joined) {
          // `.a.b` arrives as two field tokens; fold into one chain.
          TArg& last = cmd.args.back();
          if (last.kind == TArg::Kind::kField) {
            last.fields.push_back(a->fields[0]);
            continue;
          }
          return ParseError(line_, "field chains on this operand are not supported by sluice");
        }
        cmd.args.push_back(std::move(*a));
      }
      if (cmd.args.empty()) {
        return ParseError(line_, pipe.cmds.empty() ? absl::StrCat("missing value for ", Av(context))
                                                   : "missing value for command");
      }
      pipe.cmds.push_back(std::move(cmd));
      if (*i < toks.size() && toks[*i].kind == Tok::Kind::kPipe) {
        ++*i;
        continue;
      }
      return pipe;
    }
  }

  absl::StatusOr<TArg> ParseOperand(const std::vector<Tok>& toks, size_t* i,
                                    const std::vector<TArg>& so_far) {
    (void)so_far;
    const Tok& t = toks[*i];
    ++*i;
    TArg a;
    switch (t.kind) {
      case Tok::Kind::kDot:
        a.kind = TArg::Kind::kDot;
        return a;
      case Tok::Kind::kField:
        a.kind = TArg::Kind::kField;
        a.fields.push_back(t.text);
        return a;
      case Tok::Kind::kString:
        a.kind = TArg::Kind::kString;
        a.str = t.text;
        return a;
      case Tok::Kind::kChar:
        a.kind = TArg::Kind::kInt;
        a.i = std::stoll(t.text);
        return a;
      case Tok::Kind::kNumber: {
        std::string_view s = t.text;
        bool neg = false;
        if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
          neg = s[0] == '-';
          s.remove_prefix(1);
        }
        uint64_t u;
        if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') &&
            absl::SimpleHexAtoi(Av(s.substr(2)), &u) && u <= INT64_MAX) {
          a.kind = TArg::Kind::kInt;
          a.i = neg ? -static_cast<int64_t>(u) : static_cast<int64_t>(u);
          return a;
        }
        int64_t v;
        if (absl::SimpleAtoi(Av(t.text), &v)) {
          a.kind = TArg::Kind::kInt;
          a.i = v;
          return a;
        }
        double d;
        if (absl::SimpleAtod(Av(t.text), &d)) {
          a.kind = TArg::Kind::kFloat;
          a.f = d;
          return a;
        }
        return ParseError(line_, absl::StrCat("bad number syntax: \"", t.text, "\""));
      }
      case Tok::Kind::kIdent: {
        if (t.text == "true" || t.text == "false") {
          a.kind = TArg::Kind::kBool;
          a.b = t.text == "true";
          return a;
        }
        if (t.text == "nil") {
          a.kind = TArg::Kind::kNil;
          return a;
        }
        if (t.text == "if" || t.text == "else" || t.text == "end" || t.text == "range" ||
            t.text == "with") {
          return ParseError(line_, absl::StrCat("unexpected <", t.text, "> in command"));
        }
        const FnDef* fn = FindFunction(t.text);
        if (fn == nullptr) {
          return ParseError(line_, absl::StrCat("function \"", t.text,
                                                "\" not defined (or not supported by sluice)"));
        }
        a.kind = TArg::Kind::kFunc;
        a.fn = fn;
        return a;
      }
      case Tok::Kind::kLparen: {
        absl::StatusOr<TPipeline> p = ParsePipeline(toks, i, "command");
        if (!p.ok()) return p.status();
        if (*i >= toks.size() || toks[*i].kind != Tok::Kind::kRparen) {
          return ParseError(line_, "unclosed left paren");
        }
        ++*i;
        a.kind = TArg::Kind::kPipe;
        a.pipe = std::make_shared<TPipeline>(std::move(*p));
        return a;
      }
      case Tok::Kind::kRparen:
        return ParseError(line_, "unexpected right paren");
      case Tok::Kind::kPipe:
        return ParseError(line_, "missing value for command");
    }
    return ParseError(line_, "unexpected token");
  }

  std::string_view t_;
  size_t pos_ = 0;
  int line_ = 1;
};

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

absl::StatusOr<GoTemplate> GoTemplate::Parse(std::string_view text) {
  TemplateParser parser(text);
  bool constant = true;
  absl::StatusOr<std::vector<TemplateNode>> list = parser.Parse(&constant);
  if (!list.ok()) return list.status();
  GoTemplate t;
  auto root = std::make_shared<TemplateNode>();
  root->kind = TemplateNode::Kind::kIf;  // used only as a holder of then_list
  root->then_list = std::move(*list);
  t.root_ = std::move(root);
  t.constant_ = constant;
  if (constant) t.text_ = std::string(text);
  return t;
}

bool GoTemplate::Execute(const TemplateData& data, std::string* out) const {
  if (constant_) {
    out->append(text_);
    return true;
  }
  Executor ex(data);
  return ex.Run(root_->then_list, out);
}

}  // namespace sluice
