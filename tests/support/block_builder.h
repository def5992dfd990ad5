// BlockBuilder: config::Block values built by hand for unit tests of stages and components
// (what the evaluator produces from config text). Every attribute and block gets a synthetic
// span in "test.alloy" on its own line, so that tests can check positions of errors.
// Test thread only.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "agent/config/body.h"
#include "agent/config/value.h"

namespace sluice::testing {

inline config::Value Str(std::string s) { return config::Value::String(std::move(s)); }
inline config::Value Int(int64_t v) { return config::Value::Int(v); }
inline config::Value Num(double v) { return config::Value::Float(v); }
inline config::Value Bool(bool v) { return config::Value::Bool(v); }
inline config::Value Arr(std::vector<config::Value> v) {
  return config::Value::MakeArray(std::move(v));
}
inline config::Value Obj(std::vector<std::pair<std::string, config::Value>> kv) {
  config::Object o;
  for (auto& [k, v] : kv) o[k] = std::move(v);
  return config::Value::MakeObject(std::move(o));
}
inline config::Value Receiver(std::string id) {
  return config::Value::MakeCapsule({"loki.LogsReceiver", std::move(id)});
}

class BlockBuilder {
 public:
  explicit BlockBuilder(std::string name, std::string label = "") {
    block_.name = std::move(name);
    block_.label = std::move(label);
    block_.span = NextSpan(static_cast<int>(block_.name.size()));
  }
  BlockBuilder& Attr(std::string name, config::Value value) {
    config::Attr a;
    a.name_span = NextSpan(static_cast<int>(name.size()));
    a.value_span = a.name_span;
    a.value_span.begin.col = static_cast<int>(name.size()) + 4;
    a.value_span.end.col = a.value_span.begin.col + 1;
    a.name = std::move(name);
    a.value = std::move(value);
    block_.body.attrs.push_back(std::move(a));
    return *this;
  }
  BlockBuilder& Child(config::Block b) {
    block_.body.blocks.push_back(std::move(b));
    return *this;
  }
  config::Block Build() const { return block_; }

 private:
  static config::Span NextSpan(int width) {
    static int line = 0;
    ++line;
    return config::Span{"test.alloy", {line, 1}, {line, 1 + width}};
  }
  config::Block block_;
};

}  // namespace sluice::testing
