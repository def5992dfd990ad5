// JSON text as Alloy's loki.process stages write it: they marshal with json-iterator's default
// configuration, which escapes HTML characters. Used by stage.pack (the packed line) and
// stage.json (objects and arrays re-marshalled into extracted values). Pure functions.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

// Appends `s` as a JSON string literal the way json-iterator (EscapeHTML) writes it: `"` and `\`
// backslash-escaped; \n \r \t as such; other bytes below 0x20 and `<`, `>`, `&` as \u00XX
// (lower-case hex); each invalid UTF-8 byte as \ufffd; U+2028 and U+2029 as \u2028, \u2029.
void AppendGoJsonString(std::string_view s, std::string* out);

// Appends a float64 as encoding/json and json-iterator write it: shortest round-trip digits,
// fixed notation unless |v| < 1e-6 or |v| >= 1e21 (then exponent form, "1e-07" cleaned to
// "1e-7"). NaN and infinities cannot occur in parsed JSON; they are written as null.
void AppendGoJsonNumber(double v, std::string* out);

}  // namespace sluice
