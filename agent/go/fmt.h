// Go's fmt package, the part Alloy's string.format exposes: fmt.Sprintf over the values of the
// configuration language. Pure function; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/config/value.h"

namespace sluice {

// Go's fmt.Sprintf for Alloy values (string.format): verbs %v %s %q %d %f %e %g %x %X %o %b %t
// %c %U %%, flags "+- #0", width and precision, Go's %!verb(type=value) for mismatches.
// `overflow` (optional) is set when the result would exceed config::kMaxStringResult (it is cut
// short).
std::string GoSprintf(std::string_view format, const std::vector<config::Value>& args,
                      bool* overflow = nullptr);

}  // namespace sluice
