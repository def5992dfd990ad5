// The standard library of the Alloy configuration language (Alloy's syntax/internal/stdlib):
// sys.env, coalesce, json_path, constants.*, string.*, array.concat, encoding.*, file.path_join,
// convert.nonsensitive and the deprecated top-level aliases (env, concat, format, join, ...).
//
// Functions follow Alloy's argument conversions (a number passed where a string is expected is
// converted; null becomes the zero value) and error texts. An error about one argument carries
// payloads naming the argument (kArgPayload: its index) and, for an element inside it, the path
// (kPathPayload: "[1]"), so that the evaluator can point at the right expression. Built once,
// immutable, any thread.
#pragma once

#include <cstddef>
#include <string_view>

#include "agent/config/value.h"

namespace sluice::config {

inline constexpr std::string_view kArgPayload = "sluice.config/arg";
inline constexpr std::string_view kPathPayload = "sluice.config/path";

// Longest string a function may build (string.format, string.replace): a configuration has
// no use for more, and a hostile one must not exhaust memory.
inline constexpr size_t kMaxStringResult = 16 << 20;

// The stdlib identifier `name` ("string", "sys", "coalesce", "env", ...), or nullptr.
const Value* StdlibLookup(std::string_view name);

}  // namespace sluice::config
