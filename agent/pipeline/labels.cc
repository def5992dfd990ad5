#include "agent/pipeline/labels.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "absl/hash/hash.h"
#include "agent/common/json_quote.h"
#include "agent/go/strconv.h"

namespace sluice {

namespace {

inline uint32_t Load32(const char* p) {
  uint32_t v;
  memcpy(&v, p, sizeof(v));
  return v;
}

inline void Store32(char* p, uint32_t v) { memcpy(p, &v, sizeof(v)); }

// Whether the view points into `buf` (a label set's own bytes, which an insertion moves).
inline bool Inside(std::string_view v, const std::string& buf) {
  return !v.empty() && v.data() >= buf.data() && v.data() < buf.data() + buf.size();
}

}  // namespace

LabelSet::Label LabelSet::Range::iterator::operator*() const {
  uint32_t n = Load32(p_);
  uint32_t v = Load32(p_ + 4);
  return Label(std::string_view(p_ + kHeader, n), std::string_view(p_ + kHeader + n, v));
}

LabelSet::Range::iterator& LabelSet::Range::iterator::operator++() {
  p_ += kHeader + Load32(p_) + Load32(p_ + 4);
  return *this;
}

LabelSet::Label LabelSet::Range::operator[](size_t i) const {
  iterator it = begin();
  while (i-- > 0) ++it;
  return *it;
}

LabelSet& LabelSet::operator=(const LabelSet& other) {
  if (this == &other) return *this;
  buf_.assign(other.buf_);
  count_ = other.count_;
  return *this;
}

size_t LabelSet::Find(std::string_view name, bool* found) const {
  const char* base = buf_.data();
  size_t off = 0;
  while (off < buf_.size()) {
    uint32_t n = Load32(base + off);
    uint32_t v = Load32(base + off + 4);
    // Names are sorted: one comparison says found, go on, or where it would go.
    const int c = std::string_view(base + off + kHeader, n).compare(name);
    if (c == 0) {
      *found = true;
      return off;
    }
    if (c > 0) break;
    off += kHeader + n + v;
  }
  *found = false;
  return off;
}

void LabelSet::Set(std::string_view name, std::string_view value) {
  // `name` or `value` may view this set's own bytes, which the change below moves.
  std::string name_copy, value_copy;
  if (Inside(name, buf_)) name = name_copy.assign(name);
  if (Inside(value, buf_)) value = value_copy.assign(value);
  bool found;
  size_t off = Find(name, &found);
  if (found) {
    uint32_t n = Load32(buf_.data() + off);
    uint32_t old = Load32(buf_.data() + off + 4);
    buf_.replace(off + kHeader + n, old, value.data(), value.size());
    Store32(buf_.data() + off + 4, static_cast<uint32_t>(value.size()));
    return;
  }
  buf_.insert(off, kHeader + name.size() + value.size(), '\0');
  char* p = buf_.data() + off;
  Store32(p, static_cast<uint32_t>(name.size()));
  Store32(p + 4, static_cast<uint32_t>(value.size()));
  if (!name.empty()) memcpy(p + kHeader, name.data(), name.size());
  if (!value.empty()) memcpy(p + kHeader + name.size(), value.data(), value.size());
  ++count_;
}

void LabelSet::Remove(std::string_view name) {
  bool found;
  size_t off = Find(name, &found);
  if (!found) return;
  uint32_t n = Load32(buf_.data() + off);
  uint32_t v = Load32(buf_.data() + off + 4);
  buf_.erase(off, kHeader + n + v);
  --count_;
}

LabelValue LabelSet::Get(std::string_view name) const {
  bool found;
  size_t off = Find(name, &found);
  if (!found) return std::nullopt;
  uint32_t n = Load32(buf_.data() + off);
  uint32_t v = Load32(buf_.data() + off + 4);
  return std::string_view(buf_.data() + off + kHeader + n, v);
}

std::string LabelSet::RenderLoki() const {
  std::string out;
  RenderLokiTo(&out);
  return out;
}

void LabelSet::RenderLokiTo(std::string* out_ptr) const {
  std::string& out = *out_ptr;
  out.assign("{");
  bool first = true;
  for (const auto& [name, value] : labels()) {
    if (name.size() >= 2 && name[0] == '_' && name[1] == '_') continue;
    if (!first) out += ", ";
    first = false;
    out += name;
    out += '=';
    AppendGoQuoted(value, &out);
  }
  out += '}';
}

std::string LabelSet::RenderJson() const {
  std::string out = "{";
  bool first = true;
  for (const auto& [name, value] : labels()) {
    if (name.size() >= 2 && name[0] == '_' && name[1] == '_') continue;
    if (!first) out += ',';
    first = false;
    AppendJsonQuoted(name, &out);
    out += ':';
    AppendJsonQuoted(value, &out);
  }
  out += '}';
  return out;
}

void LabelSet::Compact() { buf_.shrink_to_fit(); }

size_t HashTargets(const std::vector<LabelSet>& targets) {
  size_t h = targets.size();
  for (const LabelSet& t : targets) {
    h = absl::HashOf(h, t);
  }
  return h;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

}  // namespace sluice
