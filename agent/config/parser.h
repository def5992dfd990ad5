// Parser of the Alloy configuration language: text to syntax tree (ast.h).
//
// Follows Alloy's syntax/parser: statements end at newlines (the scanner inserts a terminator
// after a line that ends in a value), a block body may sit on one line, errors carry Alloy's
// wording and the parser goes on after an error so that one run reports as many as it can (two
// parse errors on one line are reported once). Nesting deeper than kMaxNesting (blocks, arrays,
// objects, parentheses, calls and operators together) is refused with an error rather than
// overflowing the stack. Pure functions; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "agent/config/ast.h"
#include "agent/config/diag.h"

namespace sluice::config {

inline constexpr int kMaxNesting = 200;
// A file past this many syntax errors is not parsed further (Alloy has no limit; every error
// prints its source line, so a large binary file would otherwise print gigabytes).
inline constexpr int kMaxParseErrors = 1000;

// Parses a whole file. `name` is the file name errors carry (as given on the command line).
// Returns the tree, or nullopt when `diags` received errors (every syntax error found).
std::optional<File> ParseFile(std::string name, std::string_view text, Diags* diags);

// Parses a single expression (tests, tools). nullopt on errors.
std::unique_ptr<Expr> ParseExpression(std::string_view text, Diags* diags);

// True when `s` is one identifier token (Alloy's scanner.IsValidIdentifier): block labels must
// be one.
bool IsValidIdentifier(std::string_view s);

}  // namespace sluice::config
