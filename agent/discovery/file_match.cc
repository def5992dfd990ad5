#include "agent/discovery/file_match.h"

#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"

namespace sluice {
namespace {

constexpr std::string_view kPathLabel = "__path__";
constexpr std::string_view kExcludeLabel = "__path_exclude__";

// The working directory for making relative matches absolute (Go's filepath.Abs), read once per
// expansion. "" when it cannot be read: relative paths then stay relative.
std::string WorkingDir() {
  std::string buf(256, '\0');
  while (true) {
    if (getcwd(buf.data(), buf.size()) != nullptr) {
      buf.resize(std::char_traits<char>::length(buf.data()));
      return buf;
    }
    if (errno != ERANGE || buf.size() >= 65536) return "";
    buf.resize(buf.size() * 2);
  }
}

std::string AbsPath(const std::string& path, const std::string& cwd) {
  if (!path.empty() && path[0] == '/') return glob::CleanPath(path);
  if (cwd.empty()) return glob::CleanPath(path);
  return glob::CleanPath(absl::StrCat(cwd, "/", path));
}

}  // namespace

bool DecodeFileMatchArgs(const config::Block& block, config::Diags* diags, FileMatchArgs* out) {
  config::Decoder d(block, diags);
  FileMatchArgs args;
  d.Targets("path_targets", &args.path_targets, config::Required::kYes);
  if (d.Duration("sync_period", &args.sync_period) && args.sync_period <= absl::ZeroDuration()) {
    d.ErrorAt("sync_period", "sync_period must be greater than 0");
  }
  d.Duration("ignore_older_than", &args.ignore_older_than);
  bool ok = d.Finish();
  if (ok) *out = std::move(args);
  return ok;
}

std::vector<LabelSet> ExpandFileTargets(const std::vector<LabelSet>& path_targets,
                                        const Clock& clock, absl::Duration ignore_older_than,
                                        const glob::GlobOptions& options, FileMatchStats* stats) {
  std::vector<LabelSet> out;
  // Each directory listed once for all the targets (one pattern per container, one pods dir).
  glob::DirCache dirs;
  glob::GlobOptions glob_options = options;
  if (glob_options.dir_cache == nullptr) glob_options.dir_cache = &dirs;
  const std::string cwd = WorkingDir();
  const bool check_age = ignore_older_than != absl::ZeroDuration();
  const int64_t oldest_ns = clock.NowUnixNanos() - absl::ToInt64Nanoseconds(ignore_older_than);
  for (const LabelSet& target : path_targets) {
    LabelValue pattern = target.Get(kPathLabel);
    if (!pattern || pattern->empty()) continue;
    absl::StatusOr<glob::GlobResult> matches = glob::Glob(*pattern, glob_options);
    if (!matches.ok()) {
      if (stats != nullptr) ++stats->bad_patterns;
      continue;
    }
    if (matches->truncated && stats != nullptr) ++stats->truncated_globs;
    LabelValue exclude = target.Get(kExcludeLabel);
    // The target's labels once, without empty values; only __path__ changes per file.
    LabelSet base;
    for (const auto& [name, value] : target.labels()) {
      if (!value.empty()) base.Set(name, value);
    }
    for (const glob::GlobMatch& m : matches->matches) {
      if (exclude.has_value() && !exclude->empty()) {
        absl::StatusOr<bool> excluded = glob::Match(*exclude, m.path);
        if (excluded.ok() && *excluded) continue;  // a bad exclude pattern excludes nothing
      }
      if (check_age && m.mtime_ns < oldest_ns) continue;
      LabelSet t = base;
      t.Set(kPathLabel, AbsPath(m.path, cwd));
      t.Compact();
      out.push_back(std::move(t));
    }
  }
  return out;
}

}  // namespace sluice
