// A LabelSet from a list of (name, value) pairs, for tests: Labels({{"app", "api"}}).
#pragma once

#include <initializer_list>
#include <string_view>
#include <utility>

#include "agent/pipeline/labels.h"

namespace sluice::testing {

inline LabelSet Labels(std::initializer_list<std::pair<std::string_view, std::string_view>> kv) {
  LabelSet out;
  for (const auto& [k, v] : kv) out.Set(k, v);
  return out;
}

}  // namespace sluice::testing
