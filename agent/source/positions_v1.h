// sluice's first positions format (version 1), read so that a node upgraded from it resumes
// where it was; sluice writes Alloy's format now (positions.h).
//
//   version: 1
//   positions:
//     - path: "/var/log/pods/ns_pod_uid/app/0.log"
//       device: 2049
//       inode: 1234567
//       fingerprint: "9f3a0c1d2e4b5a69"
//       fingerprint_len: 1024
//       offset: 17623
//   count: 1
//
// Strings are Go-quoted (\xHH is a raw byte). `count`, written last, makes a truncated file an
// error. Plain function, no state; any thread.
#pragma once

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/source/positions.h"

namespace sluice {

// Records with identity (has_identity) and labels "{}" (version 1 keyed by path alone).
// InvalidArgument naming the line for anything that is not a whole version 1 document.
absl::StatusOr<std::vector<PositionRecord>> ParseSluiceV1Positions(std::string_view text);

}  // namespace sluice
