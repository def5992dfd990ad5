#include "agent/config/lexer.h"

#include <locale.h>
#include <wctype.h>

#include <algorithm>

#include "absl/strings/str_format.h"
#include "agent/common/utf8.h"

namespace sluice::config {
namespace {

constexpr int32_t kEofCh = -1;
constexpr int32_t kBom = 0xFEFF;

bool UnicodeIsLetter(int32_t ch) {
  locale_t loc = Utf8CLocale();
  return loc != static_cast<locale_t>(0) && iswalpha_l(static_cast<wint_t>(ch), loc) &&
         !iswdigit_l(static_cast<wint_t>(ch), loc);
}

bool UnicodeIsDigit(int32_t ch) {
  locale_t loc = Utf8CLocale();
  // glibc classes the decimal digits of other scripts as alnum but not alpha.
  return loc != static_cast<locale_t>(0) && iswalnum_l(static_cast<wint_t>(ch), loc) &&
         !iswalpha_l(static_cast<wint_t>(ch), loc);
}

bool UnicodeIsPrint(int32_t ch) {
  if (ch < 0x80) return ch >= 0x20 && ch < 0x7F;
  locale_t loc = Utf8CLocale();
  // Go's IsPrint excludes every space but U+0020.
  return loc != static_cast<locale_t>(0) && iswgraph_l(static_cast<wint_t>(ch), loc);
}

int32_t Lower(int32_t ch) { return ('a' - 'A') | ch; }
bool IsDecimal(int32_t ch) { return ch >= '0' && ch <= '9'; }

int DigitVal(int32_t ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (Lower(ch) >= 'a' && Lower(ch) <= 'f') return Lower(ch) - 'a' + 10;
  return 16;
}

// Decodes the code point at s[i] as Go's utf8.DecodeRune: an invalid sequence is U+FFFD of
// width 1.
int32_t DecodeRune(std::string_view s, size_t i, int* width) {
  size_t w;
  int32_t r = static_cast<int32_t>(DecodeUtf8Rune(s, i, &w));
  *width = static_cast<int>(w);
  return r;
}

}  // namespace

bool IsIdentStart(int32_t ch) {
  return (Lower(ch) >= 'a' && Lower(ch) <= 'z') || ch == '_' || (ch >= 0x80 && UnicodeIsLetter(ch));
}

bool IsIdentPart(int32_t ch) {
  return IsIdentStart(ch) || IsDecimal(ch) || (ch >= 0x80 && UnicodeIsDigit(ch));
}

std::string GoCharDesc(int32_t ch) {
  std::string out = absl::StrFormat("U+%04X", static_cast<uint32_t>(ch));
  if (UnicodeIsPrint(ch)) {
    out += " '";
    AppendUtf8Rune(static_cast<uint32_t>(ch), &out);
    out += "'";
  }
  return out;
}

LineIndex::LineIndex(std::string_view text) {
  starts_.push_back(0);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') starts_.push_back(static_cast<int>(i + 1));
  }
}

Loc LineIndex::At(int offset) const {
  if (offset < 0) return Loc{};
  auto it = std::upper_bound(starts_.begin(), starts_.end(), offset);
  int line = static_cast<int>(it - starts_.begin());
  return Loc{offset, line, offset - starts_[line - 1] + 1};
}

Lexer::Lexer(std::string_view input, ErrorFn on_error, bool include_comments)
    : in_(input), on_error_(std::move(on_error)), include_comments_(include_comments) {
  ch_ = ' ';  // anything but '\n' before the first character
  Next();
  if (ch_ == kBom) Next();  // a byte order mark is allowed as the very first character
}

uint8_t Lexer::Peek() const {
  if (read_offset_ < static_cast<int>(in_.size())) return static_cast<uint8_t>(in_[read_offset_]);
  return 0;
}

void Lexer::Next() {
  if (read_offset_ >= static_cast<int>(in_.size())) {
    offset_ = static_cast<int>(in_.size());
    ch_ = kEofCh;
    return;
  }
  offset_ = read_offset_;
  int width = 1;
  int32_t r = static_cast<unsigned char>(in_[read_offset_]);
  if (r == 0) {
    Error(offset_, "illegal character NUL");
  } else if (r >= 0x80) {
    bool invalid = Utf8SequenceLength(in_, read_offset_) == 0;
    r = DecodeRune(in_, read_offset_, &width);
    if (invalid) {
      Error(offset_, "illegal UTF-8 encoding");
    } else if (r == kBom && offset_ > 0) {
      Error(offset_, "illegal byte order mark");
    }
  }
  read_offset_ += width;
  ch_ = r;
}

void Lexer::Error(int offset, std::string message) {
  ++errors_;
  if (on_error_) on_error_(offset, std::move(message));
}

void Lexer::SkipWhitespace() {
  while (ch_ == ' ' || ch_ == '\t' || ch_ == '\r' || (ch_ == '\n' && !insert_term_)) Next();
}

ScannedToken Lexer::Scan() {
  ScannedToken t;
  for (;;) {
    SkipWhitespace();
    t.offset = offset_;
    t.lit.clear();
    bool insert_term = false;
    int32_t ch = ch_;

    if (IsIdentStart(ch)) {
      t.lit = ScanIdentifier();
      t.tok = Token::kIdent;
      if (t.lit == "true" || t.lit == "false") t.tok = Token::kBool;
      if (t.lit == "null") t.tok = Token::kNull;
      insert_term = true;
    } else if (IsDecimal(ch) || (ch == '.' && IsDecimal(Peek()))) {
      insert_term = true;
      t.tok = ScanNumber(&t.lit);
    } else {
      Next();  // make progress; ch is the first character, ch_ the second
      switch (ch) {
        case kEofCh:
          if (insert_term_) {
            insert_term_ = false;
            t.tok = Token::kTerminator;
            t.lit = "\n";
            return t;
          }
          t.tok = Token::kEof;
          break;
        case '\n':
          // Only reached when a terminator is due: otherwise newlines are whitespace.
          insert_term_ = false;
          t.tok = Token::kTerminator;
          t.lit = "\n";
          return t;
        case '\'':
          Error(t.offset, "illegal single-quoted string; use double quotes");
          insert_term = true;
          t.tok = Token::kIllegal;
          t.lit = ScanString('\'', true, false);
          break;
        case '"':
          insert_term = true;
          t.tok = Token::kString;
          t.lit = ScanString('"', true, false);
          break;
        case '`':
          insert_term = true;
          t.tok = Token::kString;
          t.lit = ScanString('`', false, true);
          break;
        case '|':
          if (ch_ != '|') {
            Error(offset_, "missing second | in ||");
          } else {
            Next();
          }
          t.tok = Token::kOr;
          break;
        case '&':
          if (ch_ != '&') {
            Error(offset_, "missing second & in &&");
          } else {
            Next();
          }
          t.tok = Token::kAnd;
          break;
        case '!':
          t.tok = Switch2(Token::kNot, Token::kNeq, '=');
          break;
        case '=':
          t.tok = Switch2(Token::kAssign, Token::kEq, '=');
          break;
        case '<':
          t.tok = Switch2(Token::kLt, Token::kLte, '=');
          break;
        case '>':
          t.tok = Switch2(Token::kGt, Token::kGte, '=');
          break;
        case '+':
          t.tok = Token::kAdd;
          break;
        case '-':
          t.tok = Token::kSub;
          break;
        case '*':
          t.tok = Token::kMul;
          break;
        case '/':
          if (ch_ == '/' || ch_ == '*') {
            // A comment. When a terminator is due and the comment runs to the end of the line,
            // the terminator comes first and the comment is scanned on the next call.
            if (insert_term_ && FindLineEnd()) {
              ch_ = '/';
              offset_ = t.offset;
              read_offset_ = t.offset + 1;
              insert_term_ = false;
              t.tok = Token::kTerminator;
              t.lit = "\n";
              return t;
            }
            std::string comment = ScanComment();
            if (!include_comments_) {
              insert_term_ = false;
              continue;  // scan again
            }
            t.tok = Token::kComment;
            t.lit = std::move(comment);
          } else {
            t.tok = Token::kDiv;
          }
          break;
        case '%':
          t.tok = Token::kMod;
          break;
        case '^':
          t.tok = Token::kPow;
          break;
        case '{':
          t.tok = Token::kLCurly;
          break;
        case '}':
          insert_term = true;
          t.tok = Token::kRCurly;
          break;
        case '(':
          t.tok = Token::kLParen;
          break;
        case ')':
          insert_term = true;
          t.tok = Token::kRParen;
          break;
        case '[':
          t.tok = Token::kLBrack;
          break;
        case ']':
          insert_term = true;
          t.tok = Token::kRBrack;
          break;
        case ',':
          t.tok = Token::kComma;
          break;
        case '.':
          t.tok = Token::kDot;
          break;
        default:
          // Next() already reported a misplaced byte order mark.
          if (ch != kBom) Error(t.offset, "illegal character " + GoCharDesc(ch));
          insert_term = insert_term_;  // keep the previous state
          t.tok = Token::kIllegal;
          t.lit.clear();
          AppendUtf8Rune(static_cast<uint32_t>(ch), &t.lit);
          break;
      }
    }
    insert_term_ = insert_term;
    return t;
  }
}

std::string Lexer::ScanIdentifier() {
  int off = offset_;
  while (IsIdentPart(ch_)) Next();
  return std::string(in_.substr(off, offset_ - off));
}

int Lexer::Digits() {
  int count = 0;
  while (IsDecimal(ch_)) {
    Next();
    ++count;
  }
  return count;
}

Token Lexer::ScanNumber(std::string* lit) {
  Token tok = Token::kNumber;
  int off = offset_;
  if (ch_ != '.') Digits();
  if (ch_ == '.') {
    tok = Token::kFloat;
    Next();
    Digits();
  }
  if (Lower(ch_) == 'e') {
    tok = Token::kFloat;
    Next();
    if (ch_ == '+' || ch_ == '-') Next();
    if (Digits() == 0) Error(off, "exponent has no digits");
  }
  *lit = std::string(in_.substr(off, offset_ - off));
  return tok;
}

std::string Lexer::ScanString(int32_t until, bool escape, bool multiline) {
  int off = offset_ - 1;  // the opening quote was consumed already
  for (;;) {
    int32_t ch = ch_;
    if ((!multiline && ch == '\n') || ch == kEofCh) {
      Error(off, "string literal not terminated");
      break;
    }
    Next();
    if (ch == until) break;
    if (escape && ch == '\\') ScanEscape();
  }
  return std::string(in_.substr(off, offset_ - off));
}

void Lexer::ScanEscape() {
  int off = offset_;
  int n = 0;
  uint32_t base = 0;
  uint32_t max = 0;
  switch (ch_) {
    case 'a':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
    case 'v':
    case '\\':
    case '"':
      Next();
      return;
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
      n = 3;
      base = 8;
      max = 255;
      break;
    case 'x':
      Next();
      n = 2;
      base = 16;
      max = 255;
      break;
    case 'u':
      Next();
      n = 4;
      base = 16;
      max = 0x10FFFF;
      break;
    case 'U':
      Next();
      n = 8;
      base = 16;
      max = 0x10FFFF;
      break;
    default:
      Error(off, ch_ == kEofCh ? "escape sequence not terminated" : "unknown escape sequence");
      return;
  }
  uint32_t x = 0;
  for (; n > 0; --n) {
    uint32_t d = static_cast<uint32_t>(DigitVal(ch_));
    if (d >= base) {
      Error(off, ch_ == kEofCh ? "escape sequence not terminated"
                               : "illegal character " + GoCharDesc(ch_) + " in escape sequence");
      return;
    }
    x = x * base + d;
    Next();
  }
  if (x > max || (x >= 0xD800 && x < 0xE000)) {
    Error(off, "escape sequence is invalid Unicode code point");
  }
}

std::string Lexer::ScanComment() {
  int off = offset_ - 1;  // the '/' was consumed already
  int num_cr = 0;
  bool block = false;
  if (ch_ == '/') {
    // A line comment; the newline is not part of it.
    Next();
    while (ch_ != '\n' && ch_ != kEofCh) {
      if (ch_ == '\r') ++num_cr;
      Next();
    }
  } else {
    block = true;
    Next();
    bool closed = false;
    while (ch_ != kEofCh) {
      int32_t ch = ch_;
      if (ch == '\r') ++num_cr;
      Next();
      if (ch == '*' && ch_ == '/') {
        Next();
        closed = true;
        break;
      }
    }
    if (!closed) Error(off, "block comment not terminated");
  }
  std::string lit(in_.substr(off, offset_ - off));
  // A comment line ending in "\r\n" loses its final '\r'; other carriage returns are dropped
  // too, except one right before the closing "*/" of a block comment.
  if (num_cr > 0 && !lit.empty() && lit.back() == '\r') {
    lit.pop_back();
    --num_cr;
  }
  if (num_cr > 0) {
    std::string c;
    c.reserve(lit.size());
    for (size_t j = 0; j < lit.size(); ++j) {
      char ch = lit[j];
      if (ch != '\r' ||
          (block && c.size() > 2 && c.back() == '*' && j + 1 < lit.size() && lit[j + 1] == '/')) {
        c.push_back(ch);
      }
    }
    lit = std::move(c);
  }
  return lit;
}

bool Lexer::FindLineEnd() {
  // The first '/' has been consumed; the scanner state is put back before returning.
  const int start = offset_ - 1;
  auto restore = [&](bool result) {
    ch_ = '/';
    offset_ = start;
    read_offset_ = start + 1;
    Next();
    return result;
  };
  while (ch_ == '/' || ch_ == '*') {
    if (ch_ == '/') return restore(true);  // a line comment always ends its line
    Next();
    while (ch_ != kEofCh) {
      int32_t ch = ch_;
      if (ch == '\n') return restore(true);
      Next();
      if (ch == '*' && ch_ == '/') {
        Next();
        break;
      }
    }
    SkipWhitespace();  // insert_term_ is set, so newlines stop it
    if (ch_ == kEofCh || ch_ == '\n') return restore(true);
    if (ch_ != '/') return restore(false);
    Next();
  }
  return restore(false);
}

Token Lexer::Switch2(Token a, Token b, int32_t next) {
  if (ch_ == next) {
    Next();
    return b;
  }
  return a;
}

}  // namespace sluice::config
