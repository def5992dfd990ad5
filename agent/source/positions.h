// Positions file: per tailed file, how far Loki has acknowledged it, so a restart resumes there.
//
// The file is Alloy's (and Promtail's) own format, so a node can go from Alloy to sluice and back
// without a file sent twice or skipped. Alloy reads it with gopkg.in/yaml.v2 into
// `struct { Positions map[Entry]string }`, not strictly, so a top-level key it does not know is
// ignored; sluice keeps what Alloy has no field for under such a key:
//
//   positions:
//     ? path: /var/log/pods/ns_pod_uid/app/0.log
//       labels: '{container="app", namespace="ns", pod="pod"}'
//     : "17623"
//   sluice:
//     version: 2
//     files:
//     - path: /var/log/pods/ns_pod_uid/app/0.log
//       labels: '{container="app", namespace="ns", pod="pod"}'
//       offset: 17623
//       device: 2049
//       inode: 1234567
//       fingerprint: 9f3a0c1d2e4b5a69
//       fingerprint_len: 1024
//     count: 1
//
// - `positions` is Alloy's map: the key is the file's path and its target's labels without "__"
//   names, rendered as Prometheus' LabelSet.String() (`{}` for none); the value is the byte offset
//   as a string. Promtail's older map (`/path: "17623"`) is read too, as Alloy's `{}` key.
// - `sluice` holds, per file, what tells a file apart from a later one under the same name or on
//   a reused inode (device, inode, and a fingerprint of its first bytes) — what lets sluice finish
//   a rotated file after a restart. `count` makes a file cut short an error. When Alloy writes the
//   file it drops this key; sluice then matches by path and labels alone.
// - Both are written and read with libyaml, the C library gopkg.in/yaml.v2 was ported from, so
//   the text is what Alloy writes and reads (quoting, folding of long strings, escapes, `!!binary`
//   for bytes that are not UTF-8), without a YAML reader of our own.
// - sluice's first format (a `positions:` list with `version: 1`) is still read (positions_v1.h).
//
// Plain functions, no state; safe from any thread (PositionsRenderer: one caller's cache). One
// writer per positions path at a time (the positions writer owns the file): the temporary file name
// is fixed, so a crash leaves at most one stale temporary that the next write reuses.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/source/fingerprint.h"

namespace sluice {

struct PositionRecord {
  std::string path;
  // Alloy's key: the target's labels without "__" names as `{a="x", b="y"}`; "{}" for none.
  std::string labels = "{}";
  int64_t offset = 0;  // bytes acknowledged by Loki (or dropped and counted)
  // `id` is known (sluice wrote this record, or it came from its version 1 file). Without it the
  // file is matched by path and labels only, after checking its size is at least `offset`.
  bool has_identity = false;
  FileIdentity id;
  // A source whose place is a time (loki.source.docker keeps Alloy's "cursor-<container id>" with
  // the last entry's Unix seconds in `offset`): the exact timestamp of the last acknowledged
  // entry and how many entries with that very timestamp were acknowledged, so that a restart
  // skips exactly those. Kept in the `sluice` section only (`timestamp_ns`, `timestamp_count`);
  // dropped, like the identity, where the map was edited since.
  bool has_timestamp = false;
  int64_t timestamp_ns = 0;
  uint64_t timestamp_count = 0;

  friend bool operator==(const PositionRecord&, const PositionRecord&) = default;
};

// A place that is not a byte offset: Alloy's loki.source.journal keeps its journal cursor in the
// same map, under path "cursor-<component id>" and labels "", the cursor string as the value.
// ParsePositions leaves these out (they are no file's); the Document functions below keep them,
// and RenderPositions writes them back in Alloy's map (not in the `sluice` section).
struct PositionCursor {
  std::string path;    // "cursor-loki.source.journal.default"
  std::string labels;  // "" as Alloy's journal tailer writes it
  std::string value;   // the cursor

  friend bool operator==(const PositionCursor&, const PositionCursor&) = default;
};

// Alloy's key for a component's journal cursor (positions.CursorKey): "cursor-<id>".
std::string PositionsCursorKey(std::string_view component_id);

struct PositionsDocument {
  std::vector<PositionRecord> files;    // as ParsePositions returns them
  std::vector<PositionCursor> cursors;  // the map's entries whose value is no offset, in order
};

// The positions document for `records` (and `cursors`, after them in the map). The map holds one
// entry per (path, labels): the first record's with that key; the `sluice` section every record
// that has an identity, in order.
std::string RenderPositions(const std::vector<PositionRecord>& records,
                            const std::vector<PositionCursor>& cursors = {});

// RenderPositions for a caller that renders the same files again and again (a tailer writing
// its positions after every acknowledgement). What libyaml writes for a record's path and labels
// (quoting, escapes, folding) depends on the strings and the indentation only, never on the
// numbers beside them, so each (path, labels) is rendered by libyaml once and its text kept; the
// numbers, which change at every write, are written as libyaml writes them (plain decimal, the
// map's offset double-quoted). A pair whose text cannot be cut out of libyaml's output in the
// expected shape, an empty list, or cursors send the whole document through RenderPositions.
// The result is byte-for-byte RenderPositions' (positions_test compares them).
//
// Owned by one caller and used on its thread. Keeps the text of the pairs of its last document
// only (the cache is pruned at every call).
class PositionsRenderer {
 public:
  std::string Render(const std::vector<PositionRecord>& records);
  size_t cached() const { return cache_.size(); }
  // Documents that went through RenderPositions whole (tests).
  uint64_t whole_renders() const { return whole_renders_; }

 private:
  struct Key {
    uint64_t a, b;
    friend bool operator==(const Key&, const Key&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.a);
    }
  };
  struct Entry {
    // libyaml's text of `path: P\n    labels: L\n`, the same after a sequence's "  - " and a
    // complex key's "  ? "; empty: the pair goes through RenderPositions.
    std::string text;
    uint32_t path_len = 0, labels_len = 0;  // checked beside the two hashes
    uint64_t generation = 0;
  };
  const Entry& Lookup(const PositionRecord& r);

  absl::node_hash_map<Key, Entry> cache_;  // nodes: Render keeps pointers across inserts
  uint64_t generation_ = 0;
  uint64_t whole_renders_ = 0;
};

// Parses a positions document of any of the forms above. An empty document (empty file, only
// comments) is no records, as for Alloy. Entries whose value is not a non-negative integer (a
// journal cursor) are skipped. A corrupt, truncated, NUL-filled or otherwise invalid document is
// an InvalidArgument whose message names the line and column. The result: the `sluice` section's
// records in order (the map's offset wins, identity dropped, where the map was edited since),
// then the map's entries that section does not cover, in document order.
absl::StatusOr<std::vector<PositionRecord>> ParsePositions(std::string_view text);
// ParsePositions, plus the entries whose value is not an offset (cursors). A key given twice
// keeps its last value, at its first place.
absl::StatusOr<PositionsDocument> ParsePositionsDocument(std::string_view text);

// A positions file holds one short entry per tailed file; a document this large is not one.
inline constexpr int64_t kMaxPositionsFileBytes = 256 << 20;

// Atomic write of `data`: written to a spare file in the same directory (`.<name>.tmp`), which
// then exchanges names with `path` (renameat2 RENAME_EXCHANGE; a plain rename when `path` does
// not exist, is not a regular file, or the file system cannot exchange). The spare then holds
// the previous document and is rewritten by the next write: two inodes alternate. With `sync`,
// the spare is fsynced before the exchange and the directory after it (survives a power loss);
// without, its write-back is started first and the write survives the process (kill -9, OOM)
// at once, the machine once written back. Mode 0600; creates missing parent directories (0750).
// Never leaves a half-written file at `path`; on error the spare is removed and `path` keeps
// its previous content.
absl::Status WritePositionsData(const std::string& path, std::string_view data, bool sync);

// RenderPositions + WritePositionsData with sync.
absl::Status WritePositionsFile(const std::string& path,
                                const std::vector<PositionRecord>& records);

// NotFound when `path` does not exist; other errors (permission denied, corrupt content) as a
// Status whose message names the path.
absl::StatusOr<std::vector<PositionRecord>> ReadPositionsFile(const std::string& path);
// ReadPositionsFile with the cursors.
absl::StatusOr<PositionsDocument> ReadPositionsDocument(const std::string& path);

}  // namespace sluice
