#include "agent/pipeline/labels.h"

#include <algorithm>

#include "agent/common/json_quote.h"
#include "agent/go/strconv.h"

namespace sluice {

void LabelSet::Set(std::string_view name, std::string_view value) {
  auto it = std::lower_bound(labels_.begin(), labels_.end(), name,
                             [](const Label& l, std::string_view n) { return l.first < n; });
  if (it != labels_.end() && it->first == name) {
    it->second = std::string(value);
  } else {
    labels_.insert(it, Label(std::string(name), std::string(value)));
  }
}

void LabelSet::Remove(std::string_view name) {
  auto it = std::lower_bound(labels_.begin(), labels_.end(), name,
                             [](const Label& l, std::string_view n) { return l.first < n; });
  if (it != labels_.end() && it->first == name) labels_.erase(it);
}

const std::string* LabelSet::Get(std::string_view name) const {
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
