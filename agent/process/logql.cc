#include "agent/process/logql.h"

#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
#include "agent/go/regexp.h"
#include "agent/go/strconv.h"

namespace sluice {

namespace {

// Tokens of Alloy's selector grammar. Anything the scanner returns that is not a string or one
// of the punctuation tokens is an IDENTIFIER (numbers, stray characters, raw strings included),
// as in Alloy's lexer.
enum class Tok {
  kEof,
  kIdentifier,
  kString,
  kEq,          // =
  kNeq,         // !=
  kRe,          // =~
  kNre,         // !~
  kOpenBrace,   // {
  kCloseBrace,  // }
  kComma,       // ,
  kDot,         // .
  kPipeMatch,   // |~
  kPipeExact,   // |=
};

std::string_view TokName(Tok t) {
  switch (t) {
    case Tok::kEof:
      return "$end";
    case Tok::kIdentifier:
      return "IDENTIFIER";
    case Tok::kString:
      return "STRING";
    case Tok::kEq:
      return "=";
    case Tok::kNeq:
      return "!=";
    case Tok::kRe:
      return "=~";
    case Tok::kNre:
      return "!~";
    case Tok::kOpenBrace:
      return "{";
    case Tok::kCloseBrace:
      return "}";
    case Tok::kComma:
      return ",";
    case Tok::kDot:
      return ".";
    case Tok::kPipeMatch:
      return "|~";
    case Tok::kPipeExact:
      return "|=";
  }
  return "?";
}

struct Token {
  Tok tok = Tok::kEof;
  std::string text;  // identifier text, or the unquoted string
  int line = 1;
  int col = 1;
};

bool IsLetter(unsigned char c) {
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}
bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
bool IsHex(unsigned char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
int HexVal(unsigned char c) {
  if (IsDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// A scanner in the manner of Go's text/scanner (Go tokens, comments skipped): positions are
// 1-based lines and columns counted in characters, a token's position is where it starts.
class Lexer {
 public:
  explicit Lexer(std::string_view in) : in_(in) {}

  // Scans the next token; returns false with `*error` set on a scanner or unquoting error (the
  // first error is what Alloy reports).
  bool Next(Token* t, std::string* error) {
    SkipSpaceAndComments(error);
    if (!error->empty()) return false;
    t->line = line_;
    t->col = col_;
    t->text.clear();
    if (pos_ >= in_.size()) {
      t->tok = Tok::kEof;
      return true;
    }
    const unsigned char c = static_cast<unsigned char>(in_[pos_]);
    if (IsLetter(c)) {
      size_t start = pos_;
      while (pos_ < in_.size() && (IsLetter(static_cast<unsigned char>(in_[pos_])) ||
                                   IsDigit(static_cast<unsigned char>(in_[pos_])))) {
        Advance();
      }
      t->tok = Tok::kIdentifier;
      t->text = std::string(in_.substr(start, pos_ - start));
      return true;
    }
    if (IsDigit(c) ||
        (c == '.' && pos_ + 1 < in_.size() && IsDigit(static_cast<unsigned char>(in_[pos_ + 1])))) {
      // A number: the grammar has no use for one, it reaches the parser as an IDENTIFIER.
      size_t start = pos_;
      while (pos_ < in_.size()) {
        const unsigned char d = static_cast<unsigned char>(in_[pos_]);
        if (IsDigit(d) || IsLetter(d) || d == '.') {
          const bool exp = d == 'e' || d == 'E' || d == 'p' || d == 'P';
          Advance();
          if (exp && pos_ < in_.size() && (in_[pos_] == '+' || in_[pos_] == '-')) Advance();
          continue;
        }
        break;
      }
      t->tok = Tok::kIdentifier;
      t->text = std::string(in_.substr(start, pos_ - start));
      return true;
    }
    if (c == '"') return ScanString(t, error);
    if (c == '`' || c == '\'') {
      // Raw strings and character literals are scanned whole and are IDENTIFIERs to the parser.
      const char quote = static_cast<char>(c);
      size_t start = pos_;
      Advance();
      while (true) {
        if (pos_ >= in_.size() || (quote == '\'' && in_[pos_] == '\n')) {
          *error = Err(t->line, t->col, "literal not terminated");
          return false;
        }
        const char d = in_[pos_];
        Advance();
        if (d == '\\' && quote == '\'' && pos_ < in_.size()) {
          Advance();
          continue;
        }
        if (d == quote) break;
      }
      t->tok = Tok::kIdentifier;
      t->text = std::string(in_.substr(start, pos_ - start));
      return true;
    }
    // Punctuation: two-character tokens first, then one-character ones; anything else is an
    // IDENTIFIER made of that one character.
    Advance();
    const char next = pos_ < in_.size() ? in_[pos_] : '\0';
    auto two = [&](Tok tok) {
      Advance();
      t->tok = tok;
      return true;
    };
    if (c == '!' && next == '=') return two(Tok::kNeq);
    if (c == '=' && next == '~') return two(Tok::kRe);
    if (c == '!' && next == '~') return two(Tok::kNre);
    if (c == '|' && next == '=') return two(Tok::kPipeExact);
    if (c == '|' && next == '~') return two(Tok::kPipeMatch);
    switch (c) {
      case '=':
        t->tok = Tok::kEq;
        return true;
      case '{':
        t->tok = Tok::kOpenBrace;
        return true;
      case '}':
        t->tok = Tok::kCloseBrace;
        return true;
      case ',':
        t->tok = Tok::kComma;
        return true;
      case '.':
        t->tok = Tok::kDot;
        return true;
      default:
        t->tok = Tok::kIdentifier;
        t->text = std::string(1, static_cast<char>(c));
        return true;
    }
  }

  static std::string Err(int line, int col, std::string_view msg) {
    return absl::StrCat("parse error at line ", line, ", col ", col, ": ", Av(msg));
  }

 private:
  void Advance() {
    const unsigned char c = static_cast<unsigned char>(in_[pos_++]);
    if (c == '\n') {
      ++line_;
      col_ = 1;
    } else if ((c & 0xC0) != 0x80) {
      ++col_;  // columns count characters: UTF-8 continuation bytes add nothing
    }
  }

  void SkipSpaceAndComments(std::string* error) {
    while (pos_ < in_.size()) {
      const char c = in_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        Advance();
        continue;
      }
      if (c == '/' && pos_ + 1 < in_.size() && in_[pos_ + 1] == '/') {
        while (pos_ < in_.size() && in_[pos_] != '\n') Advance();
        continue;
      }
      if (c == '/' && pos_ + 1 < in_.size() && in_[pos_ + 1] == '*') {
        const int line = line_, col = col_;
        Advance();
        Advance();
        while (true) {
          if (pos_ >= in_.size()) {
            *error = Err(line, col, "comment not terminated");
            return;
          }
          if (in_[pos_] == '*' && pos_ + 1 < in_.size() && in_[pos_ + 1] == '/') {
            Advance();
            Advance();
            break;
          }
          Advance();
        }
        continue;
      }
      return;
    }
  }

  // Scans a double-quoted string as Go's scanner does (escapes checked, no newline), then
  // unquotes it as strconv.Unquote.
  bool ScanString(Token* t, std::string* error) {
    const size_t start = pos_;
    Advance();
    std::string scan_error;
    auto digits = [&](int base, int n) {
      while (n > 0 && pos_ < in_.size()) {
        const unsigned char d = static_cast<unsigned char>(in_[pos_]);
        const int v = IsHex(d) ? HexVal(d) : 99;
        if (v >= base) break;
        Advance();
        --n;
      }
      if (n > 0 && scan_error.empty()) scan_error = "invalid char escape";
    };
    while (true) {
      if (pos_ >= in_.size() || in_[pos_] == '\n') {
        *error = Err(t->line, t->col, "literal not terminated");
        return false;
      }
      const char d = in_[pos_];
      Advance();
      if (d == '"') break;
      if (d != '\\') continue;
      if (pos_ >= in_.size()) continue;  // reported as not terminated above
      const char e = in_[pos_];
      switch (e) {
        case 'a':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
        case 'v':
        case '\\':
        case '"':
          Advance();
          break;
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7':
          digits(8, 3);
          break;
        case 'x':
          Advance();
          digits(16, 2);
          break;
        case 'u':
          Advance();
          digits(16, 4);
          break;
        case 'U':
          Advance();
          digits(16, 8);
          break;
        default:
          if (scan_error.empty()) scan_error = "invalid char escape";
          break;
      }
    }
    if (!scan_error.empty()) {
      *error = Err(t->line, t->col, scan_error);
      return false;
    }
    if (!GoUnquote(in_.substr(start, pos_ - start), &t->text)) {
      *error = Err(t->line, t->col, "invalid syntax");
      return false;
    }
    t->tok = Tok::kString;
    return true;
  }

  std::string_view in_;
  size_t pos_ = 0;
  int line_ = 1;
  int col_ = 1;
};

// Go's regexp.Compile, as Loki's selector parser compiles these (error text included).
std::shared_ptr<const RE2> Compile(std::string_view pattern, std::string* error) {
  return CompileGoRegexp(pattern, error);
}

}  // namespace

bool LogqlLabelMatcher::Matches(std::string_view v) const {
  switch (type) {
    case LogqlMatchType::kEqual:
      return v == value;
    case LogqlMatchType::kNotEqual:
      return v != value;
    case LogqlMatchType::kRegexp:
      return RE2::FullMatch(v, *re);
    case LogqlMatchType::kNotRegexp:
      return !RE2::FullMatch(v, *re);
  }
  return false;
}

bool LogqlLineFilter::Matches(std::string_view line) const {
  switch (type) {
    case LogqlMatchType::kEqual:
      return line.find(match) != std::string_view::npos;
    case LogqlMatchType::kNotEqual:
      return line.find(match) == std::string_view::npos;
    case LogqlMatchType::kRegexp:
      return RE2::PartialMatch(line, *re);
    case LogqlMatchType::kNotRegexp:
      return !RE2::PartialMatch(line, *re);
  }
  return false;
}

absl::StatusOr<LogqlSelector> LogqlSelector::Parse(std::string_view input) {
  Lexer lex(input);
  Token t;
  std::string error;
  LogqlSelector sel;
  // Messages name the unexpected token and, like Alloy's generated parser, the tokens the
  // grammar accepts there.
  auto unexpected = [&](std::string_view expecting) {
    std::string msg = absl::StrCat("syntax error: unexpected ", Av(TokName(t.tok)));
    if (!expecting.empty()) absl::StrAppend(&msg, ", expecting ", Av(expecting));
    return absl::InvalidArgumentError(Lexer::Err(t.line, t.col, msg));
  };
  auto next = [&]() -> bool { return lex.Next(&t, &error); };

  if (!next()) return absl::InvalidArgumentError(error);
  if (t.tok != Tok::kOpenBrace) return unexpected("{");
  if (!next()) return absl::InvalidArgumentError(error);
  if (t.tok != Tok::kIdentifier) return unexpected("IDENTIFIER");
  while (true) {
    LogqlLabelMatcher m;
    m.name = t.text;
    const int line = t.line, col = t.col;
    if (!next()) return absl::InvalidArgumentError(error);
    switch (t.tok) {
      case Tok::kEq:
        m.type = LogqlMatchType::kEqual;
        break;
      case Tok::kNeq:
        m.type = LogqlMatchType::kNotEqual;
        break;
      case Tok::kRe:
        m.type = LogqlMatchType::kRegexp;
        break;
      case Tok::kNre:
        m.type = LogqlMatchType::kNotRegexp;
        break;
      default:
        return unexpected("= or != or =~ or !~");
    }
    if (!next()) return absl::InvalidArgumentError(error);
    if (t.tok != Tok::kString) return unexpected("STRING");
    m.value = t.text;
    if (m.type == LogqlMatchType::kRegexp || m.type == LogqlMatchType::kNotRegexp) {
      // Prometheus anchors label regexes and lets "." match a newline.
      std::string re_error;
      m.re = Compile(absl::StrCat("(?s:", m.value, ")"), &re_error);
      if (m.re == nullptr) return absl::InvalidArgumentError(Lexer::Err(line, col, re_error));
    }
    sel.matchers_.push_back(std::move(m));
    if (!next()) return absl::InvalidArgumentError(error);
    if (t.tok == Tok::kCloseBrace) break;
    if (t.tok != Tok::kComma) return unexpected("} or ,");
    if (!next()) return absl::InvalidArgumentError(error);
    if (t.tok != Tok::kIdentifier) return unexpected("IDENTIFIER");
  }
  while (true) {
    if (!next()) return absl::InvalidArgumentError(error);
    if (t.tok == Tok::kEof) break;
    LogqlLineFilter f;
    switch (t.tok) {
      case Tok::kPipeExact:
        f.type = LogqlMatchType::kEqual;
        break;
      case Tok::kNeq:
        f.type = LogqlMatchType::kNotEqual;
        break;
      case Tok::kPipeMatch:
        f.type = LogqlMatchType::kRegexp;
        break;
      case Tok::kNre:
        f.type = LogqlMatchType::kNotRegexp;
        break;
      default:
        return unexpected("!= or !~ or |~ or |=");
    }
    if (!next()) return absl::InvalidArgumentError(error);
    if (t.tok != Tok::kString) return unexpected("STRING");
    f.match = t.text;
    sel.filters_.push_back(std::move(f));
  }
  return sel;
}

absl::Status LogqlSelector::CompileFilters() {
  for (LogqlLineFilter& f : filters_) {
    if (f.type != LogqlMatchType::kRegexp && f.type != LogqlMatchType::kNotRegexp) continue;
    if (f.re != nullptr) continue;
    std::string error;
    f.re = Compile(f.match, &error);
    if (f.re == nullptr) return absl::InvalidArgumentError(error);
  }
  return absl::OkStatus();
}

bool LogqlSelector::MatchesLabels(const LabelSet& labels) const {
  for (const LogqlLabelMatcher& m : matchers_) {
    LabelValue v = labels.Get(m.name);
    if (!m.Matches(!v ? std::string_view() : std::string_view(*v))) return false;
  }
  return true;
}

bool LogqlSelector::MatchesLine(std::string_view line) const {
  for (const LogqlLineFilter& f : filters_) {
    if (!f.Matches(line)) return false;
  }
  return true;
}

}  // namespace sluice
