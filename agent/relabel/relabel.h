// Relabel rules: the `rule` blocks of discovery.relabel and loki.relabel, and the rule sets that
// flow between components as a value (their `rules` export, loki.source.*'s `relabel_rules`).
//
// The semantics are Prometheus' (model/relabel), which Alloy keeps for compatibility:
//   - the values of `source_labels` (missing = "") are joined with `separator`;
//   - `regex` is anchored as `^(?s:<regex>)$` and compiled once (RE2; Go's syntax is RE2's);
//   - replace: when the joined value matches, `target_label` and `replacement` are expanded with
//     `$1`, `${1}`, `$name`, `${name}` (Go's Regexp.Expand rules) and the result written; an empty
//     result deletes the label, an invalid resulting name leaves the labels as they were;
//   - keep/drop, keepequal/dropequal, hashmod, labelmap, labeldrop, labelkeep, lowercase,
//     uppercase as in Prometheus. A label whose value is empty counts as absent.
//
//   config::Decoder d(block, diags);
//   std::vector<RelabelRule> rules = DecodeRules(d);   // every `rule` block of `block`
//   ...
//   if (!Relabel(rules, &labels)) { /* dropped */ }
//
// A compiled rule is immutable and shares its regex, so copies are cheap and one rule set can be
// applied from any number of threads at once. Decoding runs on the config thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/config/decode.h"
#include "agent/config/value.h"
#include "agent/pipeline/labels.h"

namespace sluice {

enum class RelabelAction {
  kReplace,
  kKeep,
  kDrop,
  kKeepEqual,
  kDropEqual,
  kHashMod,
  kLabelMap,
  kLabelDrop,
  kLabelKeep,
  kLowercase,
  kUppercase,
};

// "replace", "keep", ... (the spelling Alloy accepts; lower case only, as Alloy's decoder).
std::string_view RelabelActionName(RelabelAction action);
// The action named `name`, or Alloy's `unrecognized action type "<name>"`.
absl::StatusOr<RelabelAction> ParseRelabelAction(std::string_view name);

namespace relabel_internal {
struct Compiled;  // the regex and the parsed templates; defined in relabel.cc
}  // namespace relabel_internal

// One rule. Fill the fields (the defaults are Alloy's), then CompileRule(); DecodeRules() does
// both. Relabel() applies only compiled rules.
struct RelabelRule {
  std::vector<std::string> source_labels = {};
  // Whether `source_labels` was written at all (even as `[]`): labeldrop/labelkeep refuse it.
  bool source_labels_set = false;
  std::string separator = ";";
  std::string regex = "(.*)";  // as written, without the anchors added at compilation
  uint64_t modulus = 0;
  std::string target_label = "";
  std::string replacement = "$1";
  RelabelAction action = RelabelAction::kReplace;

  // Set by CompileRule(); shared between copies.
  std::shared_ptr<const relabel_internal::Compiled> compiled = nullptr;
};

// Checks `rule` as Alloy's Config.Validate does and compiles its regex and templates. Errors carry
// Alloy's messages: `error parsing regexp: missing closing ): `^(?s:(a)$``,
// `relabel configuration for hashmod requires non-zero modulus`,
// `relabel configuration for replace action requires 'target_label' value`,
// `"1x" is invalid 'target_label' for replace action`, `'replacement' can not be set for
// lowercase action`, `"-x" is invalid 'replacement' for labelmap action`,
// `labeldrop action requires only 'regex', and no other fields`,
// `keepequal action requires only 'source_labels' and 'target_label', and no other fields`.
absl::Status CompileRule(RelabelRule* rule);

// Which names a replace rule may write. Alloy's own engine (discovery.relabel) accepts any
// non-empty valid UTF-8 name, the default of prometheus/common that Alloy leaves in place;
// loki.relabel and the `relabel_rules` of loki.source.* convert the rules to Prometheus' engine
// set to legacy names ([a-zA-Z_][a-zA-Z0-9_]*). Validation at decode time is always Alloy's.
enum class LabelNameScheme { kUtf8, kLegacy };

// Applies `rules` in order to `*labels`. Returns false as soon as a rule drops the set (then
// `*labels` is left partly relabelled and should be discarded). Labels with an empty value are
// removed first: Alloy's label builders treat them as deleted.
bool Relabel(const std::vector<RelabelRule>& rules, LabelSet* labels,
             LabelNameScheme scheme = LabelNameScheme::kUtf8);

// Reads every `rule` block of the block `d` decodes (marking them known; the caller still calls
// d.Finish()). Each rule gets a Decoder and Finish() of its own, so unknown attributes inside a
// rule are reported. Errors go to d.diags() with the span of the attribute (type, action, regex)
// or of the rule block (validation); a rule with an error is left out of the result.
std::vector<RelabelRule> DecodeRules(config::Decoder& d);

// --- Rule sets as values ------------------------------------------------------------------------
//
// Alloy passes a rule set between components as a capsule (Go type relabel.Rules): the `rules`
// export of discovery.relabel and loki.relabel, consumed by loki.source.*'s `relabel_rules`. Here
// the capsule is {type "relabel.Rules", id "<owner>#<n>"}, with n unique per call, and a
// process-wide registry maps the id to the rule set. The registry holds weak references: the
// exporting component keeps its shared_ptr for as long as it exports the value, a consumer keeps
// the shared_ptr RulesFromValue() gave it. A new export is a new id, so a changed rule set is a
// changed value for whoever compares exports. The registry is thread-safe.

using RuleSet = std::vector<RelabelRule>;
inline constexpr std::string_view kRulesCapsuleType = "relabel.Rules";

// Registers `rules` (kept alive by the caller) and returns the capsule naming it. `owner` is the
// exporting component's id ("discovery.relabel.default"), for messages.
config::Value RulesToValue(std::shared_ptr<const RuleSet> rules, std::string_view owner);
// The rule set a value names. Errors: `expected capsule("relabel.Rules"), got <type>`, or a
// capsule whose rule set is gone (its exporter no longer exists).
absl::StatusOr<std::shared_ptr<const RuleSet>> RulesFromValue(const config::Value& value);

// Reads attribute `name` (e.g. "relabel_rules") as a rule set; false when absent or wrong (wrong
// adds a diagnostic at the value). Absent leaves *out untouched.
bool DecodeRulesAttr(config::Decoder& d, std::string_view name,
                     std::shared_ptr<const RuleSet>* out);

}  // namespace sluice
