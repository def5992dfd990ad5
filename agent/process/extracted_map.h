// The extracted map of one log entry in a loki.process: the values stages share with each other
// (Alloy's `map[string]interface{}`), which Alloy starts for every entry with the entry's labels.
//
// Used on the tail thread (or whichever thread runs the pipeline that holds the entry); not
// thread-safe. Owned by its ProcessEntry.
//
// Why not a plain hash map: seeding a map with every label for every line, and then removing what
// the previous line's stages left, was about a sixth of the DaemonSet pipeline's CPU (hash lookups
// and string copies of ten labels per line, and a label-set lookup per key to prune). Here
// `Reset(labels)` costs one copy of the label set's buffer: the labels are the *seed*, looked up
// in that copy when a stage asks for a key the entry has not set, and copied into the map only
// then (or when the map is iterated). Slots of earlier entries stay in the hash map with their
// string buffers (so a line's `level` reuses the previous line's allocation) and count as absent
// until written again: each slot carries the number of the entry that last wrote it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "agent/pipeline/labels.h"

namespace sluice {

// A value in the extracted map. Alloy's map holds Go values: json gives strings, float64
// numbers, bools and null (objects and arrays are re-marshalled to JSON strings); regex, logfmt
// and the others give strings.
struct ExtractedValue {
  enum class Kind { kString, kNumber, kBool, kNull };
  Kind kind = Kind::kString;
  std::string str;  // kString
  double num = 0;   // kNumber
  bool boolean = false;

  static ExtractedValue String(std::string s) { return {Kind::kString, std::move(s), 0, false}; }
  static ExtractedValue Number(double d) { return {Kind::kNumber, {}, d, false}; }
  static ExtractedValue Bool(bool b) { return {Kind::kBool, {}, 0, b}; }
  static ExtractedValue Null() { return {Kind::kNull, {}, 0, false}; }
  // Alloy's getString: strings as is, numbers as strconv.FormatFloat(v, 'f', -1, 64), bools as
  // "true"/"false". Returns false for null (callers skip the value, as Alloy does).
  bool ToString(std::string* out) const;
};

class ExtractedMap {
  struct Slot {
    ExtractedValue value;
    uint64_t entry = 0;  // the entry (ExtractedMap::entry_) that last set or erased it
    bool live = false;   // set (true) or erased (false) by that entry
  };
  using Map = absl::flat_hash_map<std::string, Slot>;

 public:
  // What iteration and find() give: the key and its value, as a map's pair would.
  struct Ref {
    const std::string& first;
    ExtractedValue& second;
  };

  // Visits the entry's present keys (labels copied in first), in no particular order.
  class iterator {
   public:
    Ref operator*() const { return Ref{it_->first, it_->second.value}; }
    struct Arrow {
      Ref ref;
      const Ref* operator->() const { return &ref; }
    };
    Arrow operator->() const { return Arrow{**this}; }
    iterator& operator++() {
      ++it_;
      Skip();
      return *this;
    }
    bool operator==(const iterator& o) const { return it_ == o.it_; }
    bool operator!=(const iterator& o) const { return it_ != o.it_; }

   private:
    friend class ExtractedMap;
    iterator(Map::iterator it, Map::iterator end, uint64_t entry)
        : it_(it), end_(end), entry_(entry) {
      Skip();
    }
    void Skip() {
      while (it_ != end_ && !(it_->second.live && it_->second.entry == entry_)) ++it_;
    }
    Map::iterator it_, end_;
    uint64_t entry_;
  };

  ExtractedMap() = default;
  ExtractedMap(const ExtractedMap&) = default;
  ExtractedMap& operator=(const ExtractedMap&) = default;
  ExtractedMap(ExtractedMap&& o) noexcept
      : map_(std::move(o.map_)),
        seed_(std::move(o.seed_)),
        extra_(std::move(o.extra_)),
        entry_(o.entry_) {
    o.map_.clear();
    o.seed_ = LabelSet();
    o.extra_ = LabelSet();
  }
  ExtractedMap& operator=(ExtractedMap&& o) noexcept {
    if (this != &o) {
      map_ = std::move(o.map_);
      seed_ = std::move(o.seed_);
      extra_ = std::move(o.extra_);
      entry_ = o.entry_;
      o.map_.clear();
      o.seed_ = LabelSet();
      o.extra_ = LabelSet();
    }
    return *this;
  }

  // Starts a new entry whose map is `labels` (Alloy's seeding before the first stage): every
  // earlier key is gone. One copy of the set's buffer. `start`, if given and not empty: values the
  // entry starts with on top of its labels (what stage.cri extracted, when the tailer parsed the
  // CRI line in its place); taken over by swapping buffers, *start is left empty.
  void Reset(const LabelSet& labels, LabelSet* start = nullptr) {
    ++entry_;
    seed_ = labels;
    extra_.Clear();
    if (start != nullptr && !start->empty()) std::swap(extra_, *start);
  }
  // Sets every label as a string value, keeping the other keys: Alloy seeds a stage.match's
  // nested stages again over the map the entry already has.
  void SetLabels(const LabelSet& labels);
  // Empties the map (no seed).
  void clear() {
    ++entry_;
    seed_.Clear();
    extra_.Clear();
  }

  // The value of `key`, or end(). A seeded label is copied into the map here, so that a stage
  // may change it through the result. Logically const (the map's content does not change).
  iterator find(std::string_view key) const;
  bool contains(std::string_view key) const;
  // The value of `key`, created (empty string) if absent.
  ExtractedValue& operator[](std::string_view key);
  // A fresh value (empty string) for `key`, which the caller sets whole: operator[] without
  // looking for a seeded label of that name first (two label-set searches per line for
  // stage.json's `level` and `msg`).
  ExtractedValue& Overwrite(std::string_view key);
  // Throws std::out_of_range if absent (tests only).
  ExtractedValue& at(std::string_view key) const;
  // Removes `key` (a seeded label too); returns how many keys were removed (0 or 1).
  size_t erase(std::string_view key);

  iterator begin() const;
  iterator end() const { return iterator(map_.end(), map_.end(), entry_); }
  size_t size() const;
  bool empty() const { return size() == 0; }

 private:
  // The slot of `key` if it holds a value of this entry (copying a seeded label in), else end.
  Map::iterator Present(std::string_view key) const;
  // The seeded value of `key`: Reset's `start` values first, then the labels.
  LabelValue SeedValue(std::string_view key) const {
    if (!extra_.empty()) {
      LabelValue v = extra_.Get(key);
      if (v.has_value()) return v;
    }
    return seed_.Get(key);
  }
  // Copies in every seeded value not yet in the map.
  void MaterializeSeed() const;

  // Mutable: lookups copy seeded labels in, which changes no observable content.
  mutable Map map_;
  LabelSet seed_;
  LabelSet extra_;
  uint64_t entry_ = 1;
};

}  // namespace sluice
