#include "agent/pipeline/labels.h"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/container/flat_hash_map.h"
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

// A record's name field with this bit set holds an index into the name table instead of a
// length, and the record has no name bytes.
constexpr uint32_t kCoded = 0x80000000u;

// Internal names ("__meta_kubernetes_pod_label_app", "__path__", ...), stored once for the
// process. A node's discovery targets hold the same few dozen such names in every target, in
// each component's export (discovery.kubelet, discovery.relabel, local.file_match, the tailer's
// targets): kept inline they were most of those sets' bytes. Append-only and bounded
// (kMaxNames names, kMaxBytes bytes); past either bound a new name stays inline, which keeps
// the encoding canonical: a name is coded in every set or in none. Slots are written once,
// under the mutex, before their index is handed out; a set holding an index reached its reader
// through whatever handed the set over, so readers take no lock.
class NameTable {
 public:
  // A node sees a few hundred such names (Kubernetes' meta labels, its pods' label and
  // annotation keys); the bounds hold the table under ~1.5 MiB whatever a cluster's keys are.
  static constexpr uint32_t kMaxNames = 1u << 14;
  static constexpr size_t kMaxBytes = 1u << 20;
  static constexpr size_t kChunk = 16u << 10;

  static NameTable& Get() {
    static NameTable* table = new NameTable();  // never destroyed: sets may outlive statics
    return *table;
  }

  // The index of `name`, interning it if there is room.
  bool Intern(std::string_view name, uint32_t* index) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(name);
    if (it != index_.end()) {
      *index = it->second;
      return true;
    }
    if (count_ >= kMaxNames || bytes_ + name.size() > kMaxBytes || name.size() > kChunk) {
      return false;
    }
    if (chunks_.empty() || chunk_used_ + name.size() > kChunk) {
      chunks_.push_back(std::make_unique<char[]>(kChunk));
      chunk_used_ = 0;
    }
    char* at = chunks_.back().get() + chunk_used_;
    memcpy(at, name.data(), name.size());
    chunk_used_ += name.size();
    bytes_ += name.size();
    std::string_view stored(at, name.size());
    uint32_t i = count_++;
    slots_[i] = stored;
    index_.emplace(stored, i);
    *index = i;
    return true;
  }

  std::string_view Name(uint32_t i) const { return slots_[i]; }

 private:
  NameTable() : slots_(new std::string_view[kMaxNames]) {}

  std::mutex mu_;
  absl::flat_hash_map<std::string_view, uint32_t> index_;
  std::vector<std::unique_ptr<char[]>> chunks_;
  size_t chunk_used_ = 0;
  size_t bytes_ = 0;
  uint32_t count_ = 0;
  // Only the pages of used slots are touched.
  std::unique_ptr<std::string_view[]> slots_;
};

// The name field of a new record of `name`: an index into the table for an internal name that
// is (or can be) interned, else the name's length (its bytes then follow the header).
inline uint32_t NameField(std::string_view name, bool* coded) {
  uint32_t code = 0;
  *coded =
      name.size() > 2 && name[0] == '_' && name[1] == '_' && NameTable::Get().Intern(name, &code);
  return *coded ? (code | kCoded) : static_cast<uint32_t>(name.size());
}

// Bytes of a record's name (0 when coded).
inline size_t NameBytes(uint32_t n) { return (n & kCoded) != 0 ? 0 : n; }

inline std::string_view NameAt(const char* p) {
  uint32_t n = Load32(p);
  if ((n & kCoded) != 0) return NameTable::Get().Name(n & ~kCoded);
  return std::string_view(p + 8, n);
}

// The bytes of the record at p.
inline size_t RecordBytes(const char* p) { return 8 + NameBytes(Load32(p)) + Load32(p + 4); }

// Whether the view points into `buf` (a label set's bytes, which an insertion moves and taking a
// shared set's own copy may free).
inline bool Inside(std::string_view v, std::string_view buf) {
  return !v.empty() && v.data() >= buf.data() && v.data() < buf.data() + buf.size();
}

}  // namespace

LabelSet::Label LabelSet::Range::iterator::operator*() const {
  uint32_t n = Load32(p_);
  uint32_t v = Load32(p_ + 4);
  return Label(NameAt(p_), std::string_view(p_ + kHeader + NameBytes(n), v));
}

LabelSet::Range::iterator& LabelSet::Range::iterator::operator++() {
  p_ += RecordBytes(p_);
  return *this;
}

LabelSet::Label LabelSet::Range::operator[](size_t i) const {
  iterator it = begin();
  while (i-- > 0) ++it;
  return *it;
}

LabelSet& LabelSet::operator=(const LabelSet& other) {
  // The same token: the same labels already (an extracted map seeded again with the labels of
  // the previous line's stream, say).
  if (this == &other || (token_ != 0 && token_ == other.token_)) return *this;
  if (other.shared_) {
    shared_ = other.shared_;  // buf_ keeps its capacity for a change to come
  } else {
    shared_.reset();
    buf_.assign(other.buf_);
  }
  count_ = other.count_;
  token_ = other.token_;
  return *this;
}

LabelSet& LabelSet::operator=(LabelSet&& other) noexcept {
  if (this == &other) return *this;
  buf_ = std::move(other.buf_);
  shared_ = std::move(other.shared_);
  count_ = other.count_;
  token_ = other.token_;
  other.buf_.clear();
  other.shared_.reset();
  other.count_ = 0;
  other.token_ = 0;
  return *this;
}

void LabelSet::Stamp() {
  // Relaxed: a token only has to be unique; it orders nothing.
  static std::atomic<uint64_t> next{1};
  if (token_ == 0) token_ = next.fetch_add(1, std::memory_order_relaxed);
  // Moved, not copied: a stamped set holds its bytes once (a file's stream sets, a memo's
  // results), and the sets it is copied into keep their own buffers for changes.
  if (!shared_) {
    shared_ = std::make_shared<const std::string>(std::move(buf_));
    buf_.clear();
  }
}

void LabelSet::Unshare() {
  if (!shared_) return;
  buf_.assign(*shared_);
  shared_.reset();
}

size_t LabelSet::Find(std::string_view name, bool* found) const {
  // Called several times per line (the stages' label changes, the extracted map's lookups): the
  // first bytes decide most steps without a call to memcmp.
  const std::string_view bytes = bytes_view();
  const char* base = bytes.data();
  const size_t size = bytes.size();
  const int first = name.empty() ? -1 : static_cast<unsigned char>(name[0]);
  size_t off = 0;
  while (off < size) {
    const uint32_t n = Load32(base + off);
    const std::string_view record_name = (n & kCoded) != 0 ? NameTable::Get().Name(n & ~kCoded)
                                                           : std::string_view(base + off + 8, n);
    const int record_first = record_name.empty() ? -1 : static_cast<unsigned char>(record_name[0]);
    if (record_first < first) {
      off += RecordBytes(base + off);
      continue;
    }
    if (record_first > first) break;
    // Names are sorted: one comparison says found, go on, or where it would go.
    const int c = record_name.compare(name);
    if (c == 0) {
      *found = true;
      return off;
    }
    if (c > 0) break;
    off += RecordBytes(base + off);
  }
  *found = false;
  return off;
}

void LabelSet::Set(std::string_view name, std::string_view value) {
  // `name` or `value` may view this set's own bytes, which the change below moves.
  std::string name_copy, value_copy;
  if (Inside(name, bytes_view())) name = name_copy.assign(name);
  if (Inside(value, bytes_view())) value = value_copy.assign(value);
  bool found;
  size_t off = Find(name, &found);
  if (found) {
    const char* base = bytes_view().data();
    uint32_t n = Load32(base + off);
    uint32_t old = Load32(base + off + 4);
    const size_t at = off + kHeader + NameBytes(n);
    if (std::string_view(base + at, old) == value) return;  // unchanged: keeps its token
    Unshare();
    token_ = 0;
    buf_.replace(at, old, value.data(), value.size());
    Store32(buf_.data() + off + 4, static_cast<uint32_t>(value.size()));
    return;
  }
  // Internal names only are coded: the labels entries carry per line (app, level, stream) stay
  // inline and cost no lookup.
  bool coded;
  const uint32_t name_field = NameField(name, &coded);
  const size_t name_bytes = coded ? 0 : name.size();
  Unshare();
  token_ = 0;
  buf_.insert(off, kHeader + name_bytes + value.size(), '\0');
  char* p = buf_.data() + off;
  Store32(p, name_field);
  Store32(p + 4, static_cast<uint32_t>(value.size()));
  if (name_bytes != 0) memcpy(p + kHeader, name.data(), name_bytes);
  if (!value.empty()) memcpy(p + kHeader + name_bytes, value.data(), value.size());
  ++count_;
}

void LabelSet::Append(std::string_view name, std::string_view value) {
  assert(count_ == 0 || labels()[count_ - 1].first < name);
  if (Inside(value, bytes_view())) {
    Set(name, value);  // appending could move the bytes it views
    return;
  }
  Unshare();
  token_ = 0;
  bool coded;
  char header[kHeader];
  Store32(header, NameField(name, &coded));
  Store32(header + 4, static_cast<uint32_t>(value.size()));
  buf_.append(header, kHeader);
  if (!coded) buf_.append(name.data(), name.size());
  buf_.append(value.data(), value.size());
  ++count_;
}

void LabelSet::Remove(std::string_view name) {
  bool found;
  size_t off = Find(name, &found);
  if (!found) return;
  Unshare();
  token_ = 0;
  buf_.erase(off, RecordBytes(buf_.data() + off));
  --count_;
}

LabelValue LabelSet::Get(std::string_view name) const {
  bool found;
  size_t off = Find(name, &found);
  if (!found) return std::nullopt;
  const char* base = bytes_view().data();
  uint32_t n = Load32(base + off);
  uint32_t v = Load32(base + off + 4);
  return std::string_view(base + off + kHeader + NameBytes(n), v);
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

void LabelSet::Compact() { buf_.shrink_to_fit(); }  // shared bytes are exact already

uint64_t LabelSet::Fingerprint() const {
  return std::hash<std::string_view>{}(bytes_view()) ^ (static_cast<uint64_t>(count_) << 56);
}

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
