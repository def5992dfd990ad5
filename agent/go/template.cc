// Go's text/template, the parsing half (text/template/parse): lexing actions, pipelines and
// if/else if/else, with Go's error texts; the executor is template_exec.cc. See template.h.
#include "agent/go/template.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
#include "agent/common/utf8.h"
#include "agent/go/strconv.h"
#include "agent/go/template_internal.h"

namespace sluice {

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

namespace {

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
  return ExecuteTemplate(root_->then_list, data, out);
}

}  // namespace sluice
