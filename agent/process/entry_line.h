// EntryLine: the line of a ProcessEntry, either borrowed (a view of bytes the source owns for
// the duration of one synchronous push) or owned.
//
// The file source reads lines into its read buffer and pushes each, synchronously, down the
// graph (source -> loki.process stages -> loki.write's batcher, all on the tail thread). Copying
// every line into the entry first was one memcpy and one cache-line walk per line for nothing:
// most pipelines never change the line (stage.json, stage.labels... only read it), and the
// batcher copies it into its arena anyway. So a source may lend the line (Borrow); a stage that
// changes it gets its own copy first (the mutators below do that); and anything that keeps an
// entry past the push (a stage that holds lines, a listener's queue) stores it by copy or move,
// both of which take an owned copy of a borrowed line. A reference to an entry is never kept.
//
// Not thread-safe; owned by its ProcessEntry, used on the thread that runs the entry's pipeline.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace sluice {

// Bytes a padded line guarantees readable after its end: what simdjson reads past a document
// (SIMDJSON_PADDING), so that stage.json parses a line in place instead of copying it.
inline constexpr size_t kEntryLinePadding = 64;

class EntryLine {
 public:
  EntryLine() = default;
  EntryLine(std::string s) : own_(std::move(s)) {}  // NOLINT: a line is a string
  EntryLine(std::string_view s) : own_(s) {}        // NOLINT
  EntryLine(const char* s) : own_(s) {}             // NOLINT

  // Copies and moves own their bytes: an entry stored anywhere outlives the push that lent it.
  EntryLine(const EntryLine& o) : own_(o.view()) {}
  EntryLine(EntryLine&& o) noexcept {
    if (o.borrowed_) {
      own_.assign(o.view_);
    } else {
      own_ = std::move(o.own_);
    }
    o.Clear();
  }
  EntryLine& operator=(const EntryLine& o) {
    if (this != &o) assign(o.view());
    return *this;
  }
  EntryLine& operator=(EntryLine&& o) noexcept {
    if (this == &o) return *this;
    if (o.borrowed_) {
      own_.assign(o.view_);  // keeps this line's buffer
    } else {
      own_.swap(o.own_);  // o keeps a buffer to reuse
    }
    borrowed_ = false;
    o.Clear();
    return *this;
  }
  EntryLine& operator=(std::string s) {
    own_ = std::move(s);
    borrowed_ = false;
    return *this;
  }
  EntryLine& operator=(std::string_view s) {
    assign(s);
    return *this;
  }
  EntryLine& operator=(const char* s) {
    assign(std::string_view(s));
    return *this;
  }

  // Lends `bytes`, which must stay valid and unchanged until the entry is done with (the end of
  // the synchronous push): no copy. `padded`: at least kEntryLinePadding readable bytes follow
  // them (of any value).
  void Borrow(std::string_view bytes, bool padded = false) {
    view_ = bytes;
    borrowed_ = true;
    padded_ = padded;
  }
  bool borrowed() const { return borrowed_; }
  // True when kEntryLinePadding readable bytes follow the line: a lent line the source said so
  // of, or an owned one with that much spare capacity.
  bool padded() const {
    return borrowed_ ? padded_ : own_.capacity() - own_.size() >= kEntryLinePadding;
  }

  // ---- reading ----
  std::string_view view() const { return borrowed_ ? view_ : std::string_view(own_); }
  operator std::string_view() const { return view(); }  // NOLINT: reads like a string
  const char* data() const { return view().data(); }
  size_t size() const { return view().size(); }
  bool empty() const { return view().empty(); }
  char operator[](size_t i) const { return view()[i]; }
  char front() const { return view().front(); }
  char back() const { return view().back(); }
  std::string_view substr(size_t pos, size_t n = std::string_view::npos) const {
    return view().substr(pos, n);
  }
  template <typename T>
  size_t find(const T& s, size_t pos = 0) const {
    return view().find(s, pos);
  }
  template <typename T>
  size_t rfind(const T& s, size_t pos = std::string_view::npos) const {
    return view().rfind(s, pos);
  }
  bool starts_with(std::string_view s) const { return view().starts_with(s); }
  bool ends_with(std::string_view s) const { return view().ends_with(s); }

  // ---- changing: a borrowed line is copied into the entry's own buffer first ----
  // The owned string, for edits in place.
  std::string& Own() {
    if (borrowed_) {
      own_.assign(view_.data(), view_.size());
      borrowed_ = false;
    }
    return own_;
  }
  void assign(std::string_view s) {
    // `s` may be a part of this line (its own buffer or the lent bytes): std::string::assign
    // copes with its own buffer, and the lent bytes are not touched by writing own_.
    own_.assign(s.data(), s.size());
    borrowed_ = false;
  }
  void assign(const char* p, size_t n) { assign(std::string_view(p, n)); }
  void clear() {
    own_.clear();
    borrowed_ = false;
  }
  // Drops the first n bytes (n <= size()); a borrowed line stays borrowed.
  void remove_prefix(size_t n) {
    if (borrowed_) {
      view_.remove_prefix(n);
    } else {
      own_.erase(0, n);
    }
  }
  // Keeps the first n bytes when longer; a borrowed line stays borrowed.
  void Truncate(size_t n) {
    if (n >= size()) return;
    if (borrowed_) {
      view_ = view_.substr(0, n);  // still padded: the cut bytes are readable
    } else {
      own_.resize(n);
    }
  }
  void append(std::string_view s) {
    if (borrowed_) {
      // One copy of both: reserve first, since `s` may be the lent bytes themselves.
      std::string_view old = view_;
      own_.reserve(old.size() + s.size());
      own_.assign(old.data(), old.size());
      borrowed_ = false;
    }
    own_.append(s.data(), s.size());
  }
  void push_back(char c) { Own().push_back(c); }
  EntryLine& operator+=(std::string_view s) {
    append(s);
    return *this;
  }
  // Makes *buf's bytes the line; *buf gets a buffer to reuse, of unspecified content (the old
  // line when it was owned). For stages that build the new line in a scratch string.
  void TakeFrom(std::string* buf) {
    own_.swap(*buf);
    borrowed_ = false;
  }

  friend bool operator==(const EntryLine& a, const EntryLine& b) { return a.view() == b.view(); }
  friend bool operator==(const EntryLine& a, std::string_view b) { return a.view() == b; }
  friend bool operator==(const EntryLine& a, const char* b) { return a.view() == b; }
  friend bool operator==(const EntryLine& a, const std::string& b) { return a.view() == b; }
  friend std::ostream& operator<<(std::ostream& os, const EntryLine& l) { return os << l.view(); }

 private:
  void Clear() {
    own_.clear();
    view_ = {};
    borrowed_ = false;
  }

  std::string own_;
  std::string_view view_;  // the lent bytes while borrowed_
  bool borrowed_ = false;
  bool padded_ = false;  // of the lent bytes
};

}  // namespace sluice
