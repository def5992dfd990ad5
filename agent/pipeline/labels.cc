#include "agent/pipeline/labels.h"

#include <algorithm>
#include <cstddef>

#include "absl/hash/hash.h"
#include "agent/common/json_quote.h"
#include "agent/go/strconv.h"

namespace sluice {

LabelSet& LabelSet::operator=(const LabelSet& other) {
  if (this == &other) return *this;
  const size_t n = other.labels_.size();
  while (labels_.size() > n) {
    spare_.push_back(std::move(labels_.back()));
    labels_.pop_back();
  }
  const size_t have = labels_.size();
  labels_.reserve(n);  // a fresh copy takes what it needs, not the growth by doubling
  for (size_t i = 0; i < have; ++i) {
    labels_[i].first.assign(other.labels_[i].first);
    labels_[i].second.assign(other.labels_[i].second);
  }
  for (size_t i = have; i < n; ++i) {
    InsertAt(i, other.labels_[i].first, other.labels_[i].second);
  }
  return *this;
}

LabelSet::Label& LabelSet::InsertAt(size_t index, std::string_view name, std::string_view value) {
  // The new label is filled before it goes in: `name` or `value` may be views of labels that the
  // insertion moves.
  Label label;
  if (!spare_.empty()) {
    label = std::move(spare_.back());
    spare_.pop_back();
  }
  label.first.assign(name);
  label.second.assign(value);
  // Inserted by moves: the strings' buffers travel with them.
  return *labels_.insert(labels_.begin() + static_cast<std::ptrdiff_t>(index), std::move(label));
}

void LabelSet::Set(std::string_view name, std::string_view value) {
  auto it = std::lower_bound(labels_.begin(), labels_.end(), name,
                             [](const Label& l, std::string_view n) { return l.first < n; });
  if (it != labels_.end() && it->first == name) {
    it->second.assign(value);
  } else {
    InsertAt(static_cast<size_t>(it - labels_.begin()), name, value);
  }
}

void LabelSet::Remove(std::string_view name) {
  auto it = std::lower_bound(labels_.begin(), labels_.end(), name,
                             [](const Label& l, std::string_view n) { return l.first < n; });
  if (it == labels_.end() || it->first != name) return;
  // Its strings are kept; erase then moves the later labels down, buffers and all.
  spare_.push_back(std::move(*it));
  labels_.erase(it);
}

// Up to this many labels Get scans; beyond, it searches.
constexpr size_t kLinearGetMax = 16;

const std::string* LabelSet::Get(std::string_view name) const {
  // An entry's set has a dozen labels or so: a scan that compares lengths first touches the
  // bytes of at most one or two names, where the binary search compared whole strings three or
  // four times (memcmp was 4% of the DaemonSet pipeline, most of it here, once per key of the
  // extracted map per line).
  if (labels_.size() <= kLinearGetMax) {
    for (const Label& l : labels_) {
      if (l.first.size() == name.size() &&
          std::char_traits<char>::compare(l.first.data(), name.data(), name.size()) == 0) {
        return &l.second;
      }
    }
    return nullptr;
  }
  auto it = std::lower_bound(labels_.begin(), labels_.end(), name,
                             [](const Label& l, std::string_view n) { return l.first < n; });
  if (it != labels_.end() && it->first == name) return &it->second;
  return nullptr;
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
  for (const auto& [name, value] : labels_) {
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
  for (const auto& [name, value] : labels_) {
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

void LabelSet::Compact() {
  labels_.shrink_to_fit();
  std::vector<Label>().swap(spare_);
}

size_t HashTargets(const std::vector<LabelSet>& targets) {
  size_t h = targets.size();
  for (const LabelSet& t : targets) {
    h = absl::HashOf(h, absl::Hash<std::vector<LabelSet::Label>>{}(t.labels()));
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
