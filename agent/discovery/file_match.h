// local.file_match: expands discovery targets whose `__path__` is a glob into one target per
// existing file, as Alloy's component does on every sync.
//
// For each input target, in order: the files its `__path__` matches (glob.h: doublestar syntax,
// symlinks followed), minus those matching `__path_exclude__` (matched against the path as the
// glob produced it, so relative patterns exclude with relative patterns), minus directories and
// paths that cannot be stat'ed, minus files whose mtime is before now - `ignore_older_than` (when
// that is not 0). Each output target is the input's labels with `__path__` set to the file's
// absolute, cleaned path; `__path_exclude__` stays, labels with empty values are dropped (Alloy's
// target builder treats them as deleted). Targets are not deduplicated: two inputs matching the
// same file give two outputs, as in Alloy. A malformed pattern gives no targets for that input.
//
// Runs on whichever thread calls it (the discovery component's); blocks on the file system.
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "agent/common/clock.h"
#include "agent/config/decode.h"
#include "agent/discovery/glob.h"
#include "agent/pipeline/labels.h"

namespace sluice {

// The arguments of a local.file_match block, with Alloy's defaults.
struct FileMatchArgs {
  // Required; shared with the component that exported them (never null once decoded).
  config::SharedTargets path_targets = std::make_shared<const config::TargetList>();
  absl::Duration sync_period = absl::Seconds(10);           // how often to glob again
  absl::Duration ignore_older_than = absl::ZeroDuration();  // 0: keep every file
};

// Decodes `block` (the component's body) into *out: `path_targets` (required,
// list(map(string))), `sync_period`, `ignore_older_than`; unknown attributes and blocks are
// errors. A zero sync_period is refused (Alloy would panic creating its ticker). Errors go to
// `diags` with spans; returns diags->ok().
bool DecodeFileMatchArgs(const config::Block& block, config::Diags* diags, FileMatchArgs* out);

struct FileMatchStats {
  size_t bad_patterns = 0;     // inputs whose __path__ is malformed
  size_t truncated_globs = 0;  // inputs whose glob hit GlobOptions::max_matches
};

// One target per matching file, as described above. `clock` gives "now" for ignore_older_than.
std::vector<LabelSet> ExpandFileTargets(const std::vector<LabelSet>& path_targets,
                                        const Clock& clock, absl::Duration ignore_older_than,
                                        const glob::GlobOptions& options = {},
                                        FileMatchStats* stats = nullptr);

}  // namespace sluice
