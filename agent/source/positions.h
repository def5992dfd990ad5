// Positions file: per tailed file, how far Loki has acknowledged it, so a restart resumes there.
//
// The file is a small YAML document in the spirit of Alloy's positions.yml:
//
//   # sluice positions: offsets acknowledged by Loki. Written atomically; safe to delete ...
//   version: 1
//   positions:
//     - path: "/var/log/pods/ns_pod_uid/app/0.log"
//       device: 2049
//       inode: 1234567
//       fingerprint: "9f3a0c1d2e4b5a69"
//       fingerprint_len: 1024
//       offset: 17623
//       labels: "{container=\"app\", namespace=\"ns\"}"
//   count: 1
//
// `count` is written last and must equal the number of entries: together with atomic writes it
// makes a truncated file (lost tail, zero-filled blocks after a crash) an error rather than a
// silently shorter list or a cut-off offset. The parser is our own and reads exactly this shape
// (no YAML library): double-quoted strings with escapes \" \\ \n \t \r \xHH, decimal integers
// with range checks, '#' comments, unknown keys ignored (forward compatibility).
//
// Strings are written as YAML double-quoted scalars: valid UTF-8 is written as is, control bytes
// as \xHH. Linux paths may hold bytes that are not UTF-8; those are written as \xHH too and read
// back as that raw byte. (A generic YAML reader would decode such an escape as U+00HH instead;
// Kubernetes log paths are ASCII, so this only matters for hand-configured odd paths.)
//
// Plain functions, no state; safe from any thread. One writer per positions path at a time (the
// positions flusher owns the file): the temporary file name is fixed, so a crash leaves at most one
// stale temporary that the next write reuses.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/source/fingerprint.h"

namespace sluice {

struct PositionRecord {
  std::string path;
  FileIdentity id;
  int64_t offset = 0;  // bytes acknowledged by Loki (or dropped and counted)
  std::string labels;  // optional, informational (rendered label set), may be empty

  friend bool operator==(const PositionRecord&, const PositionRecord&) = default;
};

// The positions document for `records`, in their order.
std::string RenderPositions(const std::vector<PositionRecord>& records);

// Parses a positions document. A corrupt, truncated, NUL-filled or otherwise invalid document is
// an InvalidArgument (or FailedPrecondition for an unsupported version) whose message names the
// line. Records keep the order of each path's first appearance; for a duplicate path the last
// entry's values win.
absl::StatusOr<std::vector<PositionRecord>> ParsePositions(std::string_view text);

// Atomic write: a temporary file in the same directory, write, fsync, rename over `path`, fsync
// the directory. Mode 0600; creates missing parent directories (0750). Never leaves a half-written
// file at `path`; on error the temporary is removed and `path` keeps its previous content.
absl::Status WritePositionsFile(const std::string& path,
                                const std::vector<PositionRecord>& records);

// NotFound when `path` does not exist; other errors (permission denied, corrupt content) as a
// Status whose message names the path.
absl::StatusOr<std::vector<PositionRecord>> ReadPositionsFile(const std::string& path);

// Offsets by path from a Promtail positions file (`positions:` then `  <path>: "<offset>"`
// lines) or an Alloy one (`? path: <path>` / `labels: ...` / `: "<offset>"`): what
// loki.source.file's legacy_positions_file imports. Paths may be quoted; a path listed twice
// keeps its last offset. InvalidArgument naming the line for anything else.
absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> ParseLegacyPositions(
    std::string_view text);

}  // namespace sluice
