// JSON for the standard library (encoding.from_json, encoding.to_json, json_path), with the
// results and error texts of Go's encoding/json that Alloy users see. Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/config/value.h"

namespace sluice::config {

// Parses a JSON document as Go's json.Unmarshal into `any`: objects, arrays, strings, bools,
// null, and every number a float. Errors: "unexpected end of JSON input", "invalid character
// 'x' looking for beginning of value", ... Nesting is bounded (kMaxJsonDepth).
inline constexpr int kMaxJsonDepth = 1000;
absl::StatusOr<Value> ParseGoJson(std::string_view text);

// Appends `v` as Go's json.Marshal writes it (sorted keys, HTML-safe escapes, integers without
// a decimal point). Functions and capsules are refused.
absl::Status AppendGoJson(const Value& v, std::string* out);

// Evaluates a JSONPath expression over a JSON document: the matches, in document order.
// Supported: optional leading `$`, `.name`, `..name` (descendants), `.*`, `[n]` (negative from
// the end), `[*]`, `['name']`, `["name"]` and comma lists inside brackets. Filters and slices
// are refused with an error.
absl::StatusOr<Value> JsonPath(std::string_view json, std::string_view path);

// Go's strconv.FormatFloat(d, 'f', -1, 64) and (d, 'g', -1, 64).
std::string FormatFloatShortestF(double d);
std::string FormatFloatShortestG(double d);

}  // namespace sluice::config
