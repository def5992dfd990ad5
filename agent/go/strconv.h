// Go's strconv package, the quoting half: strconv.Quote and strconv.Unquote, as Loki's label
// parser, Alloy's error messages, logfmt values and text/template's `quote` expect them.
// Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

// Appends `s` quoted as Go's strconv.Quote would (what Loki's label parser reads back): valid
// UTF-8 kept, \a \b \f \n \r \t \v \" \\ as such, other control and invalid bytes as \xHH.
void AppendGoQuoted(std::string_view s, std::string* out);

// Go's strconv.Quote(s) as a string (AppendGoQuoted into an empty one), for error messages.
std::string GoQuote(std::string_view s);

// Go's strconv.Unquote: `quoted` is a "double-quoted" literal (Go escapes \a \b \f \n \r \t
// \v \\ \" \NNN \xHH \uHHHH \UHHHHHHHH; no raw newline or quote inside), a `raw` one
// (carriage returns dropped) or a 'c' character literal (\' instead of \"). \x and octal escapes
// are raw bytes, \u/\U code points written as UTF-8 (surrogates and > U+10FFFF refused).
// Returns false on any syntax error; *out then holds a prefix.
bool GoUnquote(std::string_view quoted, std::string* out);

// Go's url.QueryEscape: RFC 3986 unreserved bytes kept, space as '+', the rest %XX (upper
// case). For query parameter values and form bodies.
std::string GoQueryEscape(std::string_view s);

}  // namespace sluice
