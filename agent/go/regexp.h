// Go's regexp package on top of RE2: compilation with Go's error messages and the match-iteration
// and replacement rules of regexp.FindAllStringSubmatchIndex and Regexp.ReplaceAllString, which
// loki.process stages (regex, replace, json/logfmt/structured_metadata `regex`, templates) rely
// on. Go's regexp and RE2 share their syntax; the differences handled here are the `(?<name>)`
// group form (Go 1.22+; this RE2 only knows `(?P<name>)`) and the wording of errors.
//
// Pure functions over immutable RE2 objects: any thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "re2/re2.h"

namespace sluice {

// Compiles `pattern` as Go's regexp.Compile would (UTF-8, leftmost-first, `.` not matching \n).
// On failure returns nullptr and sets *error to Go's text, e.g.
// "error parsing regexp: missing closing ): `(a`".
std::unique_ptr<RE2> CompileGoRegexp(std::string_view pattern, std::string* error);

// A submatch as offsets into the searched text; begin < 0 when the group did not participate.
struct GoSubmatch {
  int begin = -1;
  int end = -1;
};

// Calls `fn` for each successive non-overlapping match of `re` in `text`, with the whole match in
// groups[0] and each capturing group after it (`n` = 1 + NumberOfCapturingGroups()). An empty
// match right after the previous match is skipped, as Go's allMatches does. Returns the number
// of matches.
int ForEachGoMatch(const RE2& re, std::string_view text,
                   absl::FunctionRef<void(const GoSubmatch* groups, int n)> fn);

// Go's Regexp.FindStringSubmatchIndex: the first match's groups into `groups` (sized by the
// caller to 1 + NumberOfCapturingGroups()). False when there is no match.
bool FindGoSubmatch(const RE2& re, std::string_view text, GoSubmatch* groups, int n);

// Go's Regexp.ReplaceAllString (`literal` false: `$1`, `${1}`, `$name`, `${name}`, `$$` are
// expanded as Regexp.Expand does) or ReplaceAllLiteralString (`literal` true). Appends to *out.
void GoReplaceAll(const RE2& re, std::string_view src, std::string_view repl, bool literal,
                  std::string* out);

}  // namespace sluice
