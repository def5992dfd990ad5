// JMESPath for stage.json's `expressions`, following jmespath-community/go-jmespath (the library
// Alloy uses): its lexer, its binding powers and its interpreter's rules for nulls, projections
// and slices.
//
// Supported: identifiers and "quoted identifiers", sub-expressions (a.b.c), indexes ([0], [-1]),
// slices ([1:3], [::-1], also on strings), list projections ([*]), object projections (*, a.*),
// flatten ([]), filters ([?a == `1`]), pipes (|), @ and $, multi-select lists ([a, b]) and hashes
// ({x: a}), literals (`json` and 'raw'), ||, &&, !, comparisons (== != < <= > >=), arithmetic
// (+ - * / % //) and parentheses. Not supported (Compile fails naming the expression): function
// calls, expression references (&) and let/variables.
//
// Evaluation works on a simdjson DOM and borrows from it where it can (field and index lookups
// allocate nothing); values built by the expression (projections, multi-selects) are owned.
// Expressions are immutable after Compile and may be shared; a Value borrows from the DOM it was
// evaluated on and must not outlive that parse. One thread at a time per DOM.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "simdjson.h"

namespace sluice::jmespath {

class Value {
 public:
  enum class Kind : uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };
  using Members = std::vector<std::pair<std::string, Value>>;

  Value() = default;  // null
  static Value Dom(simdjson::dom::element e);
  static Value Bool(bool b);
  static Value Number(double d);
  static Value String(std::string s);
  static Value Array(std::vector<Value> elems);
  static Value Object(Members members);  // later duplicates of a key win, as in a Go map

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool boolean() const;
  double number() const;
  std::string_view str() const;

  // Arrays: element count and elements (copies of DOM handles or owned values).
  size_t ArraySize() const;
  std::vector<Value> Elements() const;
  Value At(size_t i) const;
  // Objects: value of `key` (the last one when the key repeats; null when absent) and the
  // values in document order.
  Value Field(std::string_view key) const;
  std::vector<Value> ObjectValues() const;
  // Objects: members with unique keys, sorted by key (later duplicates win).
  std::vector<std::pair<std::string_view, Value>> SortedMembers() const;

  // JMESPath's notion of false: null, false, "", [] and {}.
  bool IsFalse() const;
  // Deep equality (reflect.DeepEqual on the decoded values).
  bool Equals(const Value& other) const;
  // Appends the value as json-iterator marshals it (object keys sorted, see agent/go/json.h).
  void AppendJson(std::string* out) const;

 private:
  Kind kind_ = Kind::kNull;
  bool dom_ = false;
  simdjson::dom::element elem_;
  bool b_ = false;
  double n_ = 0;
  std::string s_;
  std::shared_ptr<const std::vector<Value>> arr_;
  std::shared_ptr<const Members> obj_;
};

struct Node;

class Expression {
 public:
  // Parses `text`. Errors read like go-jmespath's ("SyntaxError: Unknown char: '#'") or name what
  // sluice does not implement.
  static absl::StatusOr<Expression> Compile(std::string_view text);

  // Evaluates against `root`. A runtime error (a slice step of 0) returns false and leaves
  // *result untouched; Alloy then skips the expression.
  bool Search(const Value& root, Value* result) const;

  const std::string& text() const { return text_; }
  // The field name when the expression is just one (`level`, `"x-id"`), else null: callers
  // look such a field up themselves (Value::Field's rules) without the interpreter.
  const std::string* field() const;

 private:
  std::string text_;
  std::shared_ptr<const Node> root_;
};

}  // namespace sluice::jmespath
