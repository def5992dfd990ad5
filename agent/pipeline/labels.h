// Label sets as Loki sees them.
//
// A LabelSet is a small sorted list of (name, value) in one buffer. Loki identifies a stream by the
// text
// `{a="x", b="y"}`: names sorted, joined by ", ", values quoted the way Go's strconv.Quote does,
// and labels whose name starts with "__" removed (they are internal, as in Prometheus and Alloy).
// Rendering happens once per file and stream, never per line. Plain value types: any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

// A label's value if the set has it: a std::optional<std::string_view> that refuses to be
// compared with nullptr (optional would accept it, and build a string_view from a null pointer),
// so that code written against the former `const std::string*` does not compile.
class LabelValue : public std::optional<std::string_view> {
 public:
  using std::optional<std::string_view>::optional;
  bool operator==(std::nullptr_t) const = delete;
  bool operator!=(std::nullptr_t) const = delete;
};

class LabelSet {
 public:
  // A label as views into its set: valid until the set is changed or destroyed.
  using Label = std::pair<std::string_view, std::string_view>;

  // The labels in name order, as Labels.
  class Range {
   public:
    class iterator {
     public:
      using value_type = Label;
      using difference_type = std::ptrdiff_t;
      using iterator_category = std::forward_iterator_tag;
      using pointer = void;
      using reference = Label;
      iterator() = default;
      explicit iterator(const char* p) : p_(p) {}
      Label operator*() const;
      iterator& operator++();
      iterator operator++(int) {
        iterator old = *this;
        ++*this;
        return old;
      }
      bool operator==(const iterator& o) const { return p_ == o.p_; }
      bool operator!=(const iterator& o) const { return p_ != o.p_; }

     private:
      const char* p_ = nullptr;
    };
    using value_type = Label;
    using const_iterator = iterator;
    using size_type = size_t;
    Range(const char* begin, const char* end, size_t n) : begin_(begin), end_(end), n_(n) {}
    iterator begin() const { return iterator(begin_); }
    iterator end() const { return iterator(end_); }
    size_t size() const { return n_; }
    bool empty() const { return n_ == 0; }
    // The i-th label (a walk from the first: for the few labels of a set).
    Label operator[](size_t i) const;
    Label front() const { return *begin(); }

   private:
    const char* begin_;
    const char* end_;
    size_t n_;
  };

  LabelSet() = default;
  // A stamped set's bytes are shared, not copied (see Stamp).
  LabelSet(const LabelSet& other)
      : buf_(other.shared_ ? std::string() : other.buf_),
        shared_(other.shared_),
        count_(other.count_),
        token_(other.token_) {}
  // A moved-from set is empty (and has no token).
  LabelSet(LabelSet&& other) noexcept
      : buf_(std::move(other.buf_)),
        shared_(std::move(other.shared_)),
        count_(other.count_),
        token_(other.token_) {
    other.buf_.clear();
    other.shared_.reset();
    other.count_ = 0;
    other.token_ = 0;
  }
  // Assigns into the existing buffer: an entry's label set, copied for every line and changed by
  // the stages, is one copy of a few hundred bytes and allocates nothing once it has grown.
  LabelSet& operator=(const LabelSet& other);
  LabelSet& operator=(LabelSet&& other) noexcept;
  // Sets `name` to `value`, replacing an existing value. Keeps names sorted.
  void Set(std::string_view name, std::string_view value);
  // Adds `name`, which must sort after every name of the set (checked in debug builds): no
  // search, no bytes moved (sets filled in name order per line, such as stage.cri's fields).
  void Append(std::string_view name, std::string_view value);
  void Remove(std::string_view name);
  // Removes every label, keeping the buffer (for a set refilled per entry).
  void Clear() {
    buf_.clear();
    shared_.reset();
    count_ = 0;
    token_ = 0;
  }
  // Content tokens. Stamp() gives the set a token no other set has been given (unless it has
  // one already); copies carry it, and every change (Set, Append, Remove, Clear) drops it. So
  // two sets with the same nonzero token have the same labels, and the per-line label caches
  // (the stages' memos, loki.write's routes) recognise a set they saw by comparing one integer
  // instead of a few hundred bytes. Sets with different tokens, or none, may still be equal:
  // operator== then compares the bytes. Stamping also shares the set's bytes: its buffer moves
  // into an immutable shared string that its copies refer to (a copy is a reference count); a
  // change to any of them first takes its own copy back. Any thread (the counter is atomic).
  void Stamp();
  uint64_t token() const { return token_; }
  // Whether this set is `seen`, a set a per-line cache remembered: by token when this set has
  // one (a different token counts as a different set, even with equal bytes: the cache then
  // misses once and remembers the set again, which is cheaper than comparing the bytes of every
  // set it holds on every miss), else by bytes.
  bool Matches(const LabelSet& seen) const {
    if (token_ != 0) return token_ == seen.token_;
    return count_ == seen.count_ && bytes_view() == seen.bytes_view();
  }
  // Gives back the capacity a set grew beyond its labels: for sets kept long in numbers (a
  // node's discovery targets, one per container), not for the per-line sets that reuse theirs.
  void Compact();
  // Bytes held and bytes allocated.
  size_t bytes() const { return bytes_view().size(); }
  // What this set holds of its own (a set sharing stamped bytes holds nothing but its buffer's
  // spare capacity).
  size_t capacity() const { return buf_.capacity(); }
  // Value of `name`, or nullopt. A view into the set (valid until it changes).
  LabelValue Get(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name).has_value(); }
  Range labels() const {
    const std::string_view b = bytes_view();
    return Range(b.data(), b.data() + b.size(), count_);
  }
  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  bool operator==(const LabelSet& other) const {
    if (token_ != 0 && token_ == other.token_) return true;
    return count_ == other.count_ && bytes_view() == other.bytes_view();
  }
  // Hash of the labels (equal sets hash alike): one pass over their bytes.
  template <typename H>
  friend H AbslHashValue(H h, const LabelSet& l) {
    return H::combine(std::move(h), l.bytes_view(), l.count_);
  }

  // A second 64-bit hash, by a function unrelated to AbslHashValue's (libstdc++'s murmur-based
  // std::hash): with it, two sets with equal hashes and fingerprints are taken as equal (a false
  // match needs both 64-bit hashes to collide).
  uint64_t Fingerprint() const;

  // `{a="x", b="y"}` as Loki's push API expects; "__"-prefixed labels skipped.
  std::string RenderLoki() const;
  // The same into `out` (replacing its content; its buffer is reused: no allocation per call
  // once it has grown).
  void RenderLokiTo(std::string* out) const;
  // `{"a":"x","b":"y"}` (JSON object; "__"-prefixed labels skipped).
  std::string RenderJson() const;

 private:
  // The labels, sorted by name, one record each: name length and value length (4 bytes each,
  // native order), then the name's and the value's bytes. One buffer instead of a string per name
  // and value: a copy is one memcpy, equality one memcmp, a hash one pass; changing a label moves
  // the bytes after it within the buffer. An internal name ("__" prefix) is stored once for the
  // process and the record holds its index (high bit of the name field set) and no name bytes:
  // discovery targets are mostly such names (labels.cc, NameTable).
  static constexpr size_t kHeader = 8;
  // Offset of the record of `name`, or of the first record with a greater name (where it would
  // go); *found says which.
  size_t Find(std::string_view name, bool* found) const;
  // The records: the shared bytes of a stamped set, else buf_.
  std::string_view bytes_view() const { return shared_ ? std::string_view(*shared_) : buf_; }
  // Before a change: the shared bytes become this set's own again (into buf_'s capacity).
  void Unshare();

  std::string buf_;  // unused (empty, capacity kept) while shared_ is set
  // A stamped set's records, immutable, shared by its copies: a copy of a file's stream set or
  // of a stage's remembered result (once per line, several times) is a reference count, not a
  // copy of ~300 bytes. The count is atomic: sets cross threads (discovery to the tail thread).
  std::shared_ptr<const std::string> shared_;
  uint32_t count_ = 0;
  uint64_t token_ = 0;  // see Stamp(); 0: none
};

// A 64-bit hash of a list of label sets (discovery targets), for telling whether a component's
// targets changed without keeping a second copy of them (a collision, 2^-64 per comparison,
// would delay a change until the next one).
size_t HashTargets(const std::vector<LabelSet>& targets);

// Prometheus/Loki label name syntax: [a-zA-Z_][a-zA-Z0-9_]*.
bool IsValidLabelName(std::string_view name);

}  // namespace sluice
