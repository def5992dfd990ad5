// The evaluated content of a block: what a component or stage decodes its arguments from.
//
// The parser produces an AST (ast.h); the evaluator turns a block's AST into a Block whose
// attribute values are Values, keeping every name's and value's span for errors. Attributes and
// blocks each keep source order (stages in loki.process depend on it). Plain value types; any
// thread.
#pragma once

#include <string>
#include <vector>

#include "agent/config/diag.h"
#include "agent/config/value.h"

namespace sluice::config {

struct Attr {
  std::string name;
  Span name_span;
  Span value_span;
  Value value;
  // The value's expression as written (formatted), for Alloy's type errors
  // ("<expr> should be string, got number"); empty for hand-built blocks.
  std::string value_text;
};

struct Block;

struct Body {
  std::vector<Attr> attrs;
  std::vector<Block> blocks;
};

struct Block {
  std::string name;   // dotted: "stage.json", "endpoint", "loki.write"
  std::string label;  // "" when the block has none
  Span span;          // the name (and label) in the block's header
  Body body;
};

}  // namespace sluice::config
