// Go's JSON encoders, the writing half: github.com/json-iterator/go (ConfigDefault) and
// encoding/json. JSON text as Alloy writes it: loki.process stages marshal with json-iterator's
// default configuration (stage.pack's line, stage.json's re-marshalled objects), the config
// language's encoding.to_json with Go's encoding/json. Both escape HTML characters; they differ
// only in \b and \f (encoding/json writes them short since Go 1.22). Pure functions.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

enum class GoJson { kJsonIterator, kEncodingJson };

// Appends `s` as a JSON string literal the way json-iterator (EscapeHTML) writes it: `"` and `\`
// backslash-escaped; \n \r \t as such (and \b \f for kEncodingJson); other bytes below 0x20
// and `<`, `>`, `&` as \u00XX (lower-case hex); each invalid UTF-8 byte as \ufffd; U+2028 and
// U+2029 as \u2028, \u2029.
void AppendGoJsonString(std::string_view s, std::string* out,
                        GoJson flavor = GoJson::kJsonIterator);

// Appends a float64 as encoding/json and json-iterator write it: shortest round-trip digits,
// fixed notation unless |v| < 1e-6 or |v| >= 1e21 (then exponent form, "1e-07" cleaned to
// "1e-7"). NaN and infinities cannot occur in parsed JSON; they are written as null.
void AppendGoJsonNumber(double v, std::string* out);

}  // namespace sluice
