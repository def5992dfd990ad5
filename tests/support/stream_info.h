// Test helper: a StreamInfo for a rendered Loki label string (the JSON form derived from nothing:
// tests that need it set it themselves). Test-only; any thread.
#pragma once

#include <memory>
#include <string>

#include "agent/pipeline/batch.h"

namespace sluice::testing {

inline std::shared_ptr<StreamInfo> StreamInfoFor(const std::string& loki_labels) {
  auto info = std::make_shared<StreamInfo>();
  info->loki_labels = loki_labels;
  return info;
}

}  // namespace sluice::testing
