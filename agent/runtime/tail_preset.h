// The `sluice tail` preset: its command-line settings written as the Alloy configuration that
// `sluice run` would run for them, so that the laptop command and the DaemonSet run one pipeline
// (the same sources, nodes, batching, acknowledgements and positions):
//
//   local.file_match "tail"    every *.log under each DIR (or the FILE given), re-globbed as
//                              directories change
//   discovery.relabel "tail"   --label k=v, then namespace, pod and container from the pod log
//                              path (/var/log/pods/<ns>_<pod>_<uid>/<container>/<n>.log) or
//                              kubelet's /var/log/containers/<pod>_<ns>_<container>-<id>.log
//   loki.source.file "tail"    reads them; positions in <storage.path>/tail/positions.yml
//   loki.write "tail"          --url and the push settings, or loki.echo "tail" without --url
//
// The one setting Alloy has no syntax for is --format auto (CRI, docker json-file or plain,
// decided per file): it reaches the source through RuntimeOptions::source_format.
// `sluice tail --print-config` prints the text. Pure functions.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace sluice {

struct TailPreset {
  // Absolute paths: directories (their *.log files, at any depth) or single files.
  std::vector<std::string> roots;
  std::string url;  // empty: loki.echo
  std::string tenant;
  std::vector<std::pair<std::string, std::string>> labels;  // --label, valid names
  uint64_t batch_size = 1024 * 1024;
  absl::Duration batch_wait = absl::Seconds(1);
  int max_retries = 0;  // 0: retry until Loki takes the batch (dskit's backoff)
  absl::Duration min_backoff = absl::Milliseconds(500);
  absl::Duration max_backoff = absl::Minutes(5);
  absl::Duration remote_timeout = absl::Seconds(10);
  bool tail_from_end = false;
  std::string on_positions_error = "restart_from_beginning";
  absl::Duration sync_period = absl::Seconds(10);  // local.file_match's re-glob safety net
};

// Component ids of the preset's graph.
inline constexpr char kTailSourceId[] = "loki.source.file.tail";

// The Alloy configuration for `preset`. `root_is_file(path)` says whether a root is a regular
// file (tailed as is) rather than a directory (possibly not there yet).
std::string TailPresetConfig(const TailPreset& preset, bool (*root_is_file)(const std::string&));

// Go duration syntax in the largest whole unit ("1500ms", "5m", "0s").
std::string GoDurationText(absl::Duration d);
// A byte size as Alloy's units.Base2Bytes reads it ("1MiB", "256KiB", "1000B").
std::string Base2BytesText(uint64_t bytes);
// `path` with doublestar's meta characters (*?[]{}\) escaped.
std::string GlobEscape(std::string_view path);

}  // namespace sluice
