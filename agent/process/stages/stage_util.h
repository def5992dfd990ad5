// Helpers shared by the loki.process stages (agent/process/stages/<kind>.cc): extracted-map
// access with Alloy's `source` rules, label checks, per-stream state keyed by label set, metric
// registration, argument decoding shared by several stages and per-stage diagnostics
// bookkeeping. Used on the thread that builds or runs a pipeline.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "agent/common/metrics.h"
#include "agent/common/strings.h"
#include "agent/common/utf8.h"
#include "agent/config/decode.h"
#include "agent/pipeline/labels.h"
#include "agent/process/stage.h"
#include "re2/re2.h"

namespace sluice::stage_util {

// The label-name check Alloy applies in its stages: prometheus/common's default (UTF-8)
// validation scheme, i.e. any non-empty valid UTF-8 string.
inline bool ValidLabelName(std::string_view name) { return !name.empty() && IsValidUtf8(name); }
// model.LabelValue.IsValid: valid UTF-8.
inline bool ValidLabelValue(std::string_view value) { return IsValidUtf8(value); }

// What a stage that changes labels as a fixed function of them (static_labels, label_drop) made
// of the last few label sets it saw: an entry with one of them gets the result by one comparison
// (LabelSet::Matches: of content tokens when the set has one, else of bytes) and one copy instead
// of a search and an insert or erase in the middle of the set. The lines of a file come in runs
// over a few label sets (its streams, a `level` label), so most entries are one of the last few.
// Owned by its stage; the stage's thread.
class LabelMemo {
 public:
  // Replaces *labels by what the stage made of the same set before; false when not remembered.
  bool Apply(LabelSet* labels) {
    for (size_t k = 0; k < kSize; ++k) {
      const size_t i = (last_ + k) % kSize;
      Entry& e = entries_[i];
      if (!e.used || !labels->Matches(e.in)) continue;
      *labels = e.out;
      last_ = i;
      return true;
    }
    return false;
  }
  // The slot that the next Remember fills: the caller copies the input into *in first.
  LabelSet* NextInput() {
    entries_[next_].used = false;  // matched again only once Remember has set its output
    return &entries_[next_].in;
  }
  // Remembers *out for the input set by NextInput(). Stamps *out (LabelSet::Stamp) first: the
  // entries given this result carry its token, by which the next memo or loki.write's route
  // cache knows them without comparing their bytes.
  void Remember(LabelSet* out) {
    out->Stamp();
    Entry& e = entries_[next_];
    e.out = *out;
    e.used = true;
    last_ = next_;
    next_ = (next_ + 1) % kSize;
  }

 private:
  // A few streams and levels of a file: matched by token (LabelSet::Matches), a slot costs one
  // comparison.
  static constexpr size_t kSize = 8;
  struct Entry {
    LabelSet in, out;
    bool used = false;
  };
  Entry entries_[kSize];
  size_t last_ = 0, next_ = 0;
};

// Hash of a label set for per-stream state: hashes the pairs, so that lookups with an entry's
// labels allocate nothing.
struct LabelSetHash {
  size_t operator()(const LabelSet& l) const { return absl::HashOf(l); }
};

inline const ExtractedValue* FindExtracted(const ProcessEntry& e, std::string_view key) {
  auto it = e.extracted.find(key);
  return it == e.extracted.end() ? nullptr : &it->second;
}

// Sets extracted[key] to a string, reusing the slot's buffer when the key already exists.
inline void SetExtractedString(ProcessEntry* e, const std::string& key, std::string_view value) {
  ExtractedValue& v = e->extracted[key];
  v.kind = ExtractedValue::Kind::kString;
  v.str.assign(value.data(), value.size());
}

// The input of a parsing stage: the line when `source` is empty, else extracted[source] as a
// string (rendered into *scratch when not a string). False when the source is absent or cannot be
// a string (null), in which case Alloy leaves the entry alone. *out may view a value of the map.
inline bool ResolveSource(const ProcessEntry& e, const std::string& source, std::string* scratch,
                          std::string_view* out) {
  if (source.empty()) {
    *out = e.line.view();
    return true;
  }
  const ExtractedValue* v = FindExtracted(e, source);
  if (v == nullptr) return false;
  if (v->kind == ExtractedValue::Kind::kString) {
    *out = v->str;
    return true;
  }
  if (!v->ToString(scratch)) return false;
  *out = *scratch;
  return true;
}

// As ResolveSource, but a value of the map is copied into *scratch: for stages that write the
// map while they still read their input (a write may move the value under the view).
inline bool ResolveSourceCopy(const ProcessEntry& e, const std::string& source,
                              std::string* scratch, std::string_view* out) {
  if (!ResolveSource(e, source, scratch, out)) return false;
  if (!source.empty() && out->data() != scratch->data()) {
    scratch->assign(out->data(), out->size());
    *out = *scratch;
  }
  return true;
}

// A counter of the component (`component_id` label added), or nullptr without a registry.
inline Counter* ComponentCounter(const StageContext& ctx, std::string_view name,
                                 std::string_view help, MetricLabels extra = {}) {
  if (ctx.metrics == nullptr) return nullptr;
  MetricLabels labels{{"component_id", SplitComponentId(ctx.component_id).first}};
  for (auto& l : extra) labels.push_back(std::move(l));
  return ctx.metrics->GetCounter(name, help, labels);
}

inline void Inc(Counter* c, uint64_t n = 1) {
  if (c != nullptr) c->Inc(n);
}

// Errors added by one stage's decoding: counts the diagnostics at construction so that errors
// from other stages of the same file do not fail this one.
class StageErrors {
 public:
  explicit StageErrors(config::Decoder& d) : d_(d), before_(d.diags()->list().size()) {}
  // Adds `msg` at the block's header.
  void Block(std::string msg) { d_.Error(d_.block().span, std::move(msg)); }
  // Adds `msg` at attribute `name`'s value (or the block when absent).
  void At(std::string_view name, std::string msg) { d_.ErrorAt(name, std::move(msg)); }
  // True while no error was added since construction.
  bool clean() const { return d_.diags()->list().size() == before_; }
  // Runs Finish() and says whether this stage decoded without errors.
  bool Finish() {
    d_.Finish();
    return d_.diags()->list().size() == before_;
  }

 private:
  config::Decoder& d_;
  size_t before_;
};

// Reads a regex attribute the way several stages do (json, logfmt): "" means none; a bad
// pattern is reported with Go's message. Returns false on error.
bool OptionalRegex(config::Decoder& d, StageErrors& errs, std::string_view name,
                   std::unique_ptr<RE2>* out);

// `values` of labels / structured_metadata: label name -> source name ("" or null: the same).
// False when `values` cannot be read or holds an invalid label name (reported at `values`).
bool DecodeLabelMap(config::Decoder& d, StageErrors& errs,
                    std::vector<std::pair<std::string, std::string>>* out, bool required);

// `values` of label_drop / label_keep: the required list of names; an empty one is reported at
// `values` with `empty_message`.
bool DecodeNameList(config::Decoder& d, StageErrors& errs, std::string_view empty_message,
                    std::vector<std::string>* names);

}  // namespace sluice::stage_util
