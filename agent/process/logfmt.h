// A logfmt decoder with the rules of github.com/go-logfmt/logfmt v0.6 (what stage.logfmt uses):
// records are lines (a trailing '\r' dropped, a line of 64 KiB or more is an error, as Go's
// bufio.Scanner refuses it); within a record, pairs are `key`, `key=`, `key=value` or
// `key="quoted value"` separated by bytes <= ' '. Quoted values with backslash escapes are
// unquoted like JSON strings (\" \\ \/ \' \b \f \n \r \t \uXXXX). A syntax error ends decoding;
// the pairs before it have been delivered.
//
// Pure function; the callback's views are valid only during the call.
#pragma once

#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"

namespace sluice {

// Calls `fn(key, value)` for each pair of `input` in order. Returns false when decoding stopped
// at a syntax error. `scratch` holds unescaped values (reused between calls to save allocations).
bool DecodeLogfmt(std::string_view input, std::string* scratch,
                  absl::FunctionRef<void(std::string_view key, std::string_view value)> fn);

}  // namespace sluice
