#include "agent/process/extracted_map.h"

#include <stdexcept>

#include "agent/common/strings.h"

namespace sluice {

ExtractedMap::Map::iterator ExtractedMap::Present(std::string_view key) const {
  auto it = map_.find(Av(key));
  if (it != map_.end() && it->second.entry == entry_) {
    return it->second.live ? it : map_.end();
  }
  // Not written by this entry: present only as a seeded label.
  LabelValue label = SeedValue(key);
  if (!label.has_value()) return map_.end();
  if (it == map_.end()) it = map_.try_emplace(std::string(key)).first;
  Slot& s = it->second;
  s.entry = entry_;
  s.live = true;
  s.value.kind = ExtractedValue::Kind::kString;
  s.value.str.assign(label->data(), label->size());
  s.value.num = 0;
  s.value.boolean = false;
  return it;
}

ExtractedMap::iterator ExtractedMap::find(std::string_view key) const {
  return iterator(Present(key), map_.end(), entry_);
}

bool ExtractedMap::contains(std::string_view key) const {
  auto it = map_.find(Av(key));
  if (it != map_.end() && it->second.entry == entry_) return it->second.live;
  return SeedValue(key).has_value();
}

ExtractedValue& ExtractedMap::operator[](std::string_view key) {
  auto it = Present(key);
  if (it != map_.end()) return it->second.value;
  return Overwrite(key);  // a fresh value, keeping the string's buffer of an earlier entry
}

ExtractedValue& ExtractedMap::Overwrite(std::string_view key) {
  auto it = map_.find(Av(key));
  if (it == map_.end()) it = map_.try_emplace(std::string(key)).first;
  Slot& s = it->second;
  s.entry = entry_;
  s.live = true;
  s.value.kind = ExtractedValue::Kind::kString;
  s.value.str.clear();
  s.value.num = 0;
  s.value.boolean = false;
  return s.value;
}

ExtractedValue& ExtractedMap::at(std::string_view key) const {
  auto it = Present(key);
  if (it == map_.end()) throw std::out_of_range("extracted map: no such key");
  return it->second.value;
}

size_t ExtractedMap::erase(std::string_view key) {
  if (!contains(key)) return 0;
  auto it = map_.find(Av(key));
  if (it == map_.end()) it = map_.try_emplace(std::string(key)).first;
  // Marked erased by this entry, which hides a seeded label of the same name.
  it->second.entry = entry_;
  it->second.live = false;
  return 1;
}

void ExtractedMap::SetLabels(const LabelSet& labels) {
  for (const auto& [name, value] : labels.labels()) {
    ExtractedValue& v = (*this)[name];
    v.kind = ExtractedValue::Kind::kString;
    v.str.assign(value.data(), value.size());
  }
}

void ExtractedMap::MaterializeSeed() const {
  for (const LabelSet* set : {&extra_, &seed_}) {
    for (const auto& [name, value] : set->labels()) {
      (void)value;
      Present(name);
    }
  }
}

ExtractedMap::iterator ExtractedMap::begin() const {
  MaterializeSeed();
  return iterator(map_.begin(), map_.end(), entry_);
}

size_t ExtractedMap::size() const {
  size_t n = 0;
  for (auto it = begin(); it != end(); ++it) ++n;
  return n;
}

}  // namespace sluice
