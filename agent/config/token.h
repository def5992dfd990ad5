// Lexical tokens of the Alloy configuration language and their names as Alloy's parser prints
// them in errors ("expected =, got IDENT"). Plain values; any thread.
#pragma once

#include <string_view>

namespace sluice::config {

enum class Token {
  kIllegal,
  kEof,
  kComment,
  kIdent,
  kNumber,
  kFloat,
  kString,
  kBool,
  kNull,
  kOr,          // ||
  kAnd,         // &&
  kNot,         // !
  kAssign,      // =
  kEq,          // ==
  kNeq,         // !=
  kLt,          // <
  kLte,         // <=
  kGt,          // >
  kGte,         // >=
  kAdd,         // +
  kSub,         // -
  kMul,         // *
  kDiv,         // /
  kMod,         // %
  kPow,         // ^
  kLCurly,      // {
  kRCurly,      // }
  kLParen,      // (
  kRParen,      // )
  kLBrack,      // [
  kRBrack,      // ]
  kComma,       // ,
  kDot,         // .
  kTerminator,  // end of a statement: a newline (or the end of the input) after a value
};

// "IDENT", "STRING", "EOF", "TERMINATOR", or the operator's text ("{", "==").
std::string_view TokenName(Token t);

// Binary operator precedence as in Alloy: || 1, && 2, comparisons 3, + - 4, * / % 5, ^ 6; 0 for
// anything that is not a binary operator.
int BinaryPrecedence(Token t);

}  // namespace sluice::config
