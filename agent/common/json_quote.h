// JSON string literals for the text sluice writes itself (loki.echo's lines, label sets as
// JSON). Not Go's encoding: json-iterator's and encoding/json's escaping are in agent/go/json.h.
// Pure function; any thread.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

// Appends `s` as a JSON string literal (with quotes): \" \\ \n \r \t as such, other bytes below
// 0x20 as \u00XX; invalid UTF-8 must be sanitised before.
void AppendJsonQuoted(std::string_view s, std::string* out);

}  // namespace sluice
