// Doublestar globs, as local.file_match reads `__path__` and `__path_exclude__` (Alloy uses
// github.com/bmatcuk/doublestar/v4: FilepathGlob to list, PathMatch to exclude).
//
// Syntax, with '/' as the only separator:
//   *        any run of characters other than '/'
//   ?        one character (code point) other than '/'
//   [abc] [a-z] [^a-z] [!a-z]   one character from (or not from) a class; `\` escapes inside
//   {a,b,c}  alternatives, which may nest and may contain '/' ("{nginx,apache/old}/*.log")
//   **       as a whole path segment: zero or more directories ("/var/log/**/*.log" matches
//            /var/log/x.log and /var/log/a/b/x.log); elsewhere ("a**b") it is a plain `*`
//   \c       the character c itself
// Dot files are not special. A malformed pattern (unclosed `[` or `{`, empty class, stray `}`,
// trailing `\`) is an error: `syntax error in pattern`.
//
//   absl::StatusOr<GlobResult> r = Glob("/var/log/pods/*/*/*.log");
//
// Glob walks the file system the way doublestar does: symbolic links are followed (to files and to
// directories, also under `**`), unreadable directories are skipped silently, and the path is
// cleaned first (Go's filepath.Clean). Unlike doublestar it is bounded: a directory already on the
// current `**` descent (a symlink cycle) is not entered again, `**` goes at most
// `max_depth` directories deep, and the walk stops after `max_matches` results.
//
// Pure functions; any thread. Glob blocks on file system calls.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"

namespace sluice::glob {

// doublestar's ValidatePattern: balanced `{}`, closed non-empty `[]`, no trailing `\`.
bool ValidPattern(std::string_view pattern);

// doublestar.Match: whether all of `path` matches `pattern`. Errors only for a malformed pattern.
absl::StatusOr<bool> Match(std::string_view pattern, std::string_view path);

// Directory listings read once and shared by the Glob calls of one expansion: a node's targets
// are one pattern per container over the same pods directory, and each would otherwise list it
// again (1000 containers: a million names read and matched per sync). Owned by the caller, one
// thread, kept for one expansion only (a listing is not refreshed).
class DirCache {
 public:
  // The sorted names in `dir` ("." and ".." left out; none when it cannot be read).
  const std::vector<std::string>& List(const std::string& dir);

 private:
  // Node-based: a walk iterates one listing while its recursion adds others.
  absl::node_hash_map<std::string, std::vector<std::string>> listings_;
};

struct GlobOptions {
  DirCache* dir_cache = nullptr;  // listings shared across calls; null: each call lists its own
  size_t max_matches = 100'000;   // results kept; the walk stops there (GlobResult::truncated)
  int max_depth = 64;             // directories one `**` may descend
  size_t max_alternatives =
      1024;  // patterns `{}` may expand to; beyond that the pattern is refused
};

struct GlobMatch {
  std::string path;      // relative when the pattern was, cleaned, '/'-separated
  int64_t mtime_ns = 0;  // of the file itself (symlinks followed)
};

struct GlobResult {
  std::vector<GlobMatch> matches;
  bool truncated = false;  // max_matches reached: some matches are missing
};

// Every existing non-directory path matching `pattern` (local.file_match skips directories;
// fifos, sockets and devices are kept, as Alloy only checks IsDir). Order: the walk's, which is
// per directory by name (as doublestar's); when `{}` yields several patterns, the union sorted by
// path. No duplicates. An empty pattern matches nothing.
absl::StatusOr<GlobResult> Glob(std::string_view pattern, const GlobOptions& options = {});

// The directory below which every match lies: the cleaned pattern up to the last '/' before the
// first meta character (`*?[{`), unescaped — doublestar's SplitPattern base. "." for a relative
// pattern without such a directory, "/" for "/*.log". What to watch with inotify.
std::string StaticPrefix(std::string_view pattern);

// How many path segments below StaticPrefix() a match can have at most (1: direct children), or
// nullopt when unbounded (a `**` segment) or the pattern is malformed. A watcher need not look
// deeper than this.
std::optional<int> MaxMatchDepth(std::string_view pattern);

// Go's path.Clean: collapses "//", removes "." and resolves ".." lexically; "" becomes ".".
std::string CleanPath(std::string_view path);

}  // namespace sluice::glob
