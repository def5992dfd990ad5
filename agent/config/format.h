// Canonical formatting of Alloy configuration text, as `alloy fmt` prints it.
//
// Follows Alloy's syntax/printer: one tab per indentation level, `=` of consecutive one-line
// attributes (and object fields) aligned, blocks separated by a blank line, at most one blank
// line kept between statements, comments kept where they were, commas added where a list
// continues on the next line. Formatting needs no knowledge of components: parse with
// ParseFile (parser.h) and print. Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

#include "agent/config/ast.h"
#include "agent/config/diag.h"

namespace sluice::config {

// The formatted file, ending with one newline (what `alloy fmt` writes).
std::string Format(const File& file);

// One expression as the printer writes it (no trailing newline); used in error messages
// ("1 + \"a\"" style node text).
std::string FormatExpr(const Expr& expr);

// Parses `text` (named `name` in errors) and formats it. false with `diags` filled on a syntax
// error; `out` is untouched then.
bool FormatSource(std::string name, std::string_view text, std::string* out, Diags* diags);

}  // namespace sluice::config
