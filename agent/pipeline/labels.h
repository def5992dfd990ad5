// Label sets as Loki sees them.
//
// A LabelSet is a small sorted vector of (name, value). Loki identifies a stream by the text
// `{a="x", b="y"}`: names sorted, joined by ", ", values quoted the way Go's strconv.Quote does,
// and labels whose name starts with "__" removed (they are internal, as in Prometheus and Alloy).
// Rendering happens once per file and stream, never per line. Plain value types: any thread.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

class LabelSet {
 public:
  using Label = std::pair<std::string, std::string>;

  LabelSet() = default;
  LabelSet(const LabelSet& other) : labels_(other.labels_) {}
  LabelSet(LabelSet&&) noexcept = default;
  // Assigns into the labels' existing strings: an entry's label set, copied for every line and
  // changed by the stages, allocates nothing once its buffers have grown.
  LabelSet& operator=(const LabelSet& other);
  LabelSet& operator=(LabelSet&&) noexcept = default;
  // Sets `name` to `value`, replacing an existing value. Keeps names sorted.
  void Set(std::string_view name, std::string_view value);
  void Remove(std::string_view name);
  // Gives back the capacity a set grew beyond its labels and the spare strings of removed ones:
  // for sets kept long in numbers (a node's discovery targets, one per container, are built by
  // copying a pod's set and adding labels, which doubles the vector's capacity), not for the
  // per-line sets that reuse theirs.
  void Compact();
  size_t capacity() const { return labels_.capacity(); }
  // Value of `name` or nullptr.
  const std::string* Get(std::string_view name) const;
  const std::vector<Label>& labels() const { return labels_; }
  bool empty() const { return labels_.empty(); }
  size_t size() const { return labels_.size(); }
  bool operator==(const LabelSet& other) const { return labels_ == other.labels_; }

  // `{a="x", b="y"}` as Loki's push API expects; "__"-prefixed labels skipped.
  std::string RenderLoki() const;
  // The same into `out` (replacing its content; its buffer is reused: no allocation per call
  // once it has grown).
  void RenderLokiTo(std::string* out) const;
  // `{"a":"x","b":"y"}` (JSON object; "__"-prefixed labels skipped).
  std::string RenderJson() const;

 private:
  // Takes a label out of spare_ (or a new one) for `name`, placed at `index`.
  Label& InsertAt(size_t index, std::string_view name, std::string_view value);

  std::vector<Label> labels_;
  // Labels removed, their strings' buffers kept for the next insertion (not copied, not compared).
  std::vector<Label> spare_;
};

// A 64-bit hash of a list of label sets (discovery targets), for telling whether a component's
// targets changed without keeping a second copy of them (a collision, 2^-64 per comparison,
// would delay a change until the next one).
size_t HashTargets(const std::vector<LabelSet>& targets);

// Prometheus/Loki label name syntax: [a-zA-Z_][a-zA-Z0-9_]*.
bool IsValidLabelName(std::string_view name);

}  // namespace sluice
