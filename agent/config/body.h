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

// Same names, labels and values, in the same order (spans and source text aside): whether a
// component re-evaluated would get anything new.
inline bool SameValues(const Block& a, const Block& b) {
  if (a.name != b.name || a.label != b.label || a.body.attrs.size() != b.body.attrs.size() ||
      a.body.blocks.size() != b.body.blocks.size()) {
    return false;
  }
  for (size_t i = 0; i < a.body.attrs.size(); ++i) {
    if (a.body.attrs[i].name != b.body.attrs[i].name ||
        !(a.body.attrs[i].value == b.body.attrs[i].value)) {
      return false;
    }
  }
  for (size_t i = 0; i < a.body.blocks.size(); ++i) {
    if (!SameValues(a.body.blocks[i], b.body.blocks[i])) return false;
  }
  return true;
}

}  // namespace sluice::config
