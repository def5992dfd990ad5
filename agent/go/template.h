// A subset of Go's text/template for stage.replace's `replace` argument, with the functions
// Alloy registers (its extra functions and a part of sprig).
//
// Syntax: text; actions `{{ pipeline }}`; trim markers `{{- ` and ` -}}`; comments
// `{{/* ... */}}`; `{{if pipeline}} ... {{else if pipeline}} ... {{else}} ... {{end}}`.
// Pipelines: commands joined by `|`, the result of one passed as the last argument of the next.
// Operands: `.` (the data), `.Name` (a field of the data; a missing one is "<no value>"),
// "strings" (Go escapes), `raw strings`, integers, floats, 'c' characters, true, false, nil and
// parenthesised pipelines.
// Functions: Go's and, or, not, eq, ne, lt, le, gt, ge, len, print; Alloy's ToLower, ToUpper,
// Replace, Trim, TrimLeft, TrimRight, TrimPrefix, TrimSuffix, TrimSpace, Hash (SHA3-256 of
// salt+input), Sha2Hash (SHA-256 of salt+input), regexReplaceAll, regexReplaceAllLiteral; sprig's
// lower, upper, trim, trimAll, trimPrefix, trimSuffix, replace, contains, hasPrefix, hasSuffix,
// repeat, substr, trunc, default, empty, quote, squote, sha256sum.
// Not supported (a parse error says so): variables ($x), range, with, define, template, block,
// break, continue, and every other function. Case mapping covers ASCII, Latin-1, Latin
// Extended-A, Greek and Cyrillic (Go maps all of Unicode).
//
// Immutable after Parse; Execute may run concurrently on different data.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"

namespace sluice {

// The data a template reads: a map of string fields (Alloy passes map[string]string).
class TemplateData {
 public:
  virtual ~TemplateData() = default;
  // Sets *out to field `name`'s value; false when there is no such field.
  virtual bool Lookup(std::string_view name, std::string* out) const = 0;
  // Every field, in any order (for printing `{{ . }}`).
  virtual void ForEach(absl::FunctionRef<void(std::string_view, std::string_view)> fn) const = 0;
};

struct TemplateNode;

class GoTemplate {
 public:
  // Errors read as Go's: `template: pipeline_template:1: function "foo" not defined`.
  static absl::StatusOr<GoTemplate> Parse(std::string_view text);

  // Appends the output to *out. Returns false on an execution error (a function given the wrong
  // arguments, a missing field passed where a string is needed...); *out is then unspecified.
  bool Execute(const TemplateData& data, std::string* out) const;

  // True when the template is plain text (no actions): Execute just appends it.
  bool is_constant() const { return constant_; }

 private:
  std::shared_ptr<const TemplateNode> root_;
  bool constant_ = true;
  std::string text_;  // the whole text when constant_
};

}  // namespace sluice
