// Evaluator of the Alloy configuration language: syntax tree to Values (value.h) and evaluated
// blocks (body.h).
//
// Follows Alloy's syntax/vm: identifiers are looked up in the scope's variables first, then in
// the standard library (stdlib.h); operators and indexing follow Alloy's rules and messages
// ("\"a\" should be number, got string", "index 3 is out of range of array with length 2"). An
// error stops the evaluation of the block (Alloy reports the first error of a component) and is
// added to `diags` with the span of the offending expression. Expressions nested deeper than
// kMaxEvalDepth are refused. A Scope is built and read on the loading thread; the evaluation
// functions are pure.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "agent/config/ast.h"
#include "agent/config/body.h"
#include "agent/config/diag.h"
#include "agent/config/value.h"

namespace sluice::config {

inline constexpr int kMaxEvalDepth = 256;

// Variables visible to expressions (component exports as nested objects: `loki` ->
// {write -> {default -> {receiver = ...}}}), looked up before the standard library.
class Scope {
 public:
  void Set(std::string name, Value v) { vars_[std::move(name)] = std::move(v); }
  // The variable, else the stdlib identifier, else nullptr.
  const Value* Lookup(std::string_view name) const;
  const std::map<std::string, Value, std::less<>>& vars() const { return vars_; }

 private:
  std::map<std::string, Value, std::less<>> vars_;
};

// Evaluates one expression of file `file`. false (and one diagnostic) on error.
bool EvalExpr(const std::string& file, const Expr& expr, const Scope& scope, Value* out,
              Diags* diags);

// Evaluates a block's body: attributes to Values, nested blocks recursively, in source order.
// `out` gets the block's name, label and header span. false (and one diagnostic) on error.
bool EvalBlock(const std::string& file, const BlockStmt& block, const Scope& scope, Block* out,
               Diags* diags);

// Span of a block's header as Alloy reports it: from the name to the label's closing quote
// (or the end of the name).
Span BlockHeaderSpan(const std::string& file, const BlockStmt& block);

}  // namespace sluice::config
