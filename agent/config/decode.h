// Decoder: reads a Block's attributes and sub-blocks into C++ arguments, with Alloy's messages.
//
// Every getter marks its attribute or block as known; Finish() then reports every attribute and
// block nobody asked for (`unrecognized attribute name "x"`, `unrecognized block name "x"`), so
// that nothing in a config is silently ignored. Type errors name the value's span:
// `expected string, got number`. A getter returns false when the attribute is absent or wrong
// (wrong adds a diagnostic); `out` is left untouched then, so callers set defaults first.
//
//   Decoder d(block, diags);
//   d.String("url", &cfg.url, Required::kYes);
//   d.Duration("batch_wait", &cfg.batch_wait);
//   for (const Block* b : d.Blocks("endpoint")) { ... }
//   d.Finish();
//
// Used on the thread that loads the configuration; holds pointers into `block`.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "agent/config/body.h"
#include "agent/config/diag.h"
#include "agent/pipeline/labels.h"

namespace sluice::config {

enum class Required { kNo, kYes };

class Decoder {
 public:
  Decoder(const Block& block, Diags* diags);

  // The attribute, or nullptr when absent (marks it known; a missing required one is reported).
  const Attr* Get(std::string_view name, Required required = Required::kNo);

  bool String(std::string_view name, std::string* out, Required required = Required::kNo);
  // An attribute of Alloy's secret type: a string or a secret.
  bool Secret(std::string_view name, std::string* out, Required required = Required::kNo);
  bool Bool(std::string_view name, bool* out, Required required = Required::kNo);
  bool Int(std::string_view name, int64_t* out, Required required = Required::kNo);
  bool Float(std::string_view name, double* out, Required required = Required::kNo);
  // Go duration string ("10s", "1m30s", "500ms"); a negative one is an error.
  bool Duration(std::string_view name, absl::Duration* out, Required required = Required::kNo);
  // Byte size as Alloy reads one (a units.Base2Bytes string: "1MiB", "512KB" = 512 KiB; see
  // ParseBase2Bytes) or a whole number of bytes.
  bool Bytes(std::string_view name, uint64_t* out, Required required = Required::kNo);
  bool StringList(std::string_view name, std::vector<std::string>* out,
                  Required required = Required::kNo);
  // An object whose values are all strings (labels, headers, expressions; null values are
  // allowed by json/regex stage expressions and come out as "").
  bool StringMap(std::string_view name, std::map<std::string, std::string>* out,
                 Required required = Required::kNo);
  // list(loki.LogsReceiver) and similar: an array of capsules of `capsule_type`.
  bool Capsules(std::string_view name, std::string_view capsule_type, std::vector<Capsule>* out,
                Required required = Required::kNo);
  // list(map(string)): discovery targets. The shared form takes an exporter's target list
  // without a copy (see Value::MakeTargets); the vector form copies it, for a component that
  // changes its targets.
  bool Targets(std::string_view name, SharedTargets* out, Required required = Required::kNo);
  bool Targets(std::string_view name, std::vector<LabelSet>* out,
               Required required = Required::kNo);

  // Sub-blocks named exactly `name`, in source order (marks them known).
  std::vector<const Block*> Blocks(std::string_view name);
  // At most one block `name` (a second is `block "name" may only be specified once`).
  const Block* OptionalBlock(std::string_view name);
  // Sub-blocks whose name starts with `prefix` ("stage."), in source order, marks them known.
  std::vector<const Block*> BlocksWithPrefix(std::string_view prefix);

  // Adds `message` at `span`.
  void Error(const Span& span, std::string message);
  // Adds `message` at the span of attribute `name`'s value (or the block's when absent).
  void ErrorAt(std::string_view name, std::string message);
  // Reports every attribute and block not asked for. Returns diags()->ok().
  bool Finish();

  const Block& block() const { return *block_; }
  Diags* diags() const { return diags_; }

 private:
  const Attr* TypedAttr(std::string_view name, Value::Kind kind, Required required);
  void TypeError(const Attr& attr, std::string_view expected);

  const Block* block_;
  Diags* diags_;
  std::vector<bool> attr_used_;
  std::vector<bool> block_used_;
};

// Helpers for values met outside a Decoder (nested objects, array elements).
std::string TypeMismatch(std::string_view expected, const Value& got);

}  // namespace sluice::config
