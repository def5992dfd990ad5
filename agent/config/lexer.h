// Scanner of the Alloy configuration language: bytes to tokens (token.h).
//
// Behaves as Alloy's syntax/scanner: a terminator token is inserted at a newline (or the end of
// the input) that follows an identifier, literal, `)`, `]` or `}`; other newlines are
// whitespace. Errors (illegal characters, bad escapes, unterminated strings and comments) go to
// the error callback with their byte offset and the scanner goes on. Used by one parser on one
// thread; holds a view of the input, which must outlive it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config/ast.h"
#include "agent/config/token.h"

namespace sluice::config {

// Maps byte offsets of one text to lines and columns.
class LineIndex {
 public:
  explicit LineIndex(std::string_view text);
  Loc At(int offset) const;

 private:
  std::vector<int> starts_;  // offset of each line's first byte
};

struct ScannedToken {
  Token tok = Token::kEof;
  int offset = 0;
  // The token's text: identifiers, literals (strings with their quotes), comments, the illegal
  // character; "\n" for a terminator; empty for operators.
  std::string lit;
};

class Lexer {
 public:
  using ErrorFn = std::function<void(int offset, std::string message)>;

  // `include_comments`: return comments as kComment tokens (the parser keeps them for the
  // formatter) rather than skipping them.
  Lexer(std::string_view input, ErrorFn on_error, bool include_comments = true);

  ScannedToken Scan();
  int error_count() const { return errors_; }

 private:
  void Next();
  uint8_t Peek() const;
  void Error(int offset, std::string message);
  void SkipWhitespace();
  std::string ScanIdentifier();
  Token ScanNumber(std::string* lit);
  int Digits();
  std::string ScanString(int32_t until, bool escape, bool multiline);
  void ScanEscape();
  std::string ScanComment();
  bool FindLineEnd();
  Token Switch2(Token a, Token b, int32_t next);

  std::string_view in_;
  ErrorFn on_error_;
  bool include_comments_;
  int32_t ch_ = -1;  // current character (a code point), -1 at the end
  int offset_ = 0;   // byte offset of ch_
  int read_offset_ = 0;
  bool insert_term_ = false;
  int errors_ = 0;
};

// Unicode letter or '_' (identifier start), and letter or digit (identifier continuation), as
// Alloy's scanner decides them.
bool IsIdentStart(int32_t ch);
bool IsIdentPart(int32_t ch);

// Go's %#U of a code point: "U+0023 '#'" (without the quoted character when not printable).
std::string GoCharDesc(int32_t ch);

}  // namespace sluice::config
