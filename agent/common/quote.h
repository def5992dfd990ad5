// Quoting of strings for the text formats sluice writes: Go's strconv.Quote dialect (Loki label
// values, logfmt values, positions file paths) and JSON string literals. Pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice {

// Length (2..4) of the well-formed UTF-8 sequence starting at s[i] (a lead byte >= 0x80), or 0:
// no overlongs, no surrogates, nothing past U+10FFFF (the Unicode table of well-formed
// sequences).
size_t Utf8SequenceLength(std::string_view s, size_t i);

// Appends `s` quoted as Go's strconv.Quote would (what Loki's label parser reads back): valid
// UTF-8 kept, \a \b \f \n \r \t \v \" \\ as such, other control and invalid bytes as \xHH.
void AppendGoQuoted(std::string_view s, std::string* out);

// Go's strconv.Unquote: `quoted` is a "double-quoted" literal (Go escapes \a \b \f \n \r \t
// \v \\ \" \NNN \xHH \uHHHH \UHHHHHHHH; no raw newline or quote inside), a `raw` one
// (carriage returns dropped) or a 'c' character literal (\' instead of \"). \x and octal escapes
// are raw bytes, \u/\U code points written as UTF-8 (surrogates and > U+10FFFF refused).
// Returns false on any syntax error; *out then holds a prefix.
bool GoUnquote(std::string_view quoted, std::string* out);

// Appends `s` as a JSON string literal (with quotes); invalid UTF-8 must be sanitised before.
void AppendJsonQuoted(std::string_view s, std::string* out);

}  // namespace sluice
