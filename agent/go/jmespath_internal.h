// Internals of the JMESPath implementation (jmespath.h) shared by its three files: the tokens
// the lexer (jmespath_lexer.cc) produces, the syntax tree the parser (jmespath_parser.cc) builds
// and the interpreter (jmespath.cc) walks. Not for use outside agent/go/jmespath*.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/go/jmespath.h"

namespace sluice::jmespath {

// go-jmespath's token types, in its order (TokName relies on it).
enum class Tok {
  kUnknown,
  kStar,
  kDot,
  kFilter,
  kFlatten,
  kLparen,
  kRparen,
  kLbracket,
  kRbracket,
  kLbrace,
  kRbrace,
  kOr,
  kPipe,
  kNumber,
  kUnquotedIdentifier,
  kQuotedIdentifier,
  kComma,
  kColon,
  kPlus,
  kMinus,
  kMultiply,
  kDivide,
  kModulo,
  kDiv,
  kLT,
  kLTE,
  kGT,
  kGTE,
  kEQ,
  kNE,
  kJSONLiteral,
  kStringLiteral,
  kCurrent,
  kRoot,
  kExpref,
  kAnd,
  kNot,
  kVarref,
  kAssign,
  kEOF,
};

struct Token {
  Tok type;
  std::string value;
  size_t pos;
};

// A go-jmespath syntax error: "SyntaxError: <msg>".
absl::Status SyntaxError(std::string_view msg);

// go-jmespath's lexer: the tokens of `expr`, ending with kEOF.
absl::StatusOr<std::vector<Token>> Tokenize(std::string_view expr);

enum class NodeType {
  kField,
  kSubexpression,
  kIndexExpression,
  kIndex,
  kSlice,
  kProjection,
  kValueProjection,
  kFilterProjection,
  kFlatten,
  kIdentity,
  kCurrent,
  kRoot,
  kLiteral,
  kMultiSelectList,
  kMultiSelectHash,
  kOr,
  kAnd,
  kNot,
  kComparator,
  kPipe,
  kArithmetic,
  kUnary,
};

struct Node {
  NodeType type = NodeType::kIdentity;
  std::string name;  // field name, hash key
  int64_t index = 0;
  std::optional<int64_t> slice[3];
  Value literal;
  Tok op = Tok::kUnknown;
  std::vector<Node> children;
};

// go-jmespath's parser (a Pratt parser over the binding powers of its tokens).
absl::StatusOr<Node> ParseTokens(std::vector<Token> tokens);

}  // namespace sluice::jmespath
