// Small string helpers shared across the agent.
//
// Debian 12's abseil is built with ABSL_OPTION_USE_STD_STRING_VIEW=0: absl::string_view is its own
// class and does not convert from std::string_view. The agent uses std::string_view throughout;
// Av() converts where an absl API (StrCat, Status messages) needs one.
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace sluice {

inline absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view Sv(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace sluice
