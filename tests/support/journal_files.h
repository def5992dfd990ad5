// Journal files made offline for tests: systemd-journal-remote (Debian's systemd-journal-remote
// package) turns the journal export format into a journal file, no journald needed. Test-only;
// any thread.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace sluice::testing {

inline constexpr char kJournalRemote[] = "/lib/systemd/systemd-journal-remote";
// One boot id for every entry the tests write: entries then order by their monotonic time.
inline constexpr char kTestBootId[] = "0123456789abcdef0123456789abcdef";

bool HaveJournalRemote();

// One entry in the export format (text fields only; a field without a value is written empty).
std::string ExportEntry(uint64_t realtime_usec, uint64_t monotonic_usec,
                        const std::vector<std::pair<std::string, std::string>>& fields);

// Writes `export_text` as the journal file `path` (which must end in ".journal"): made under
// `staging_dir` (same file system, not the watched directory) and renamed into place, so a
// reader never sees it half-written.
absl::Status WriteJournalFile(const std::string& staging_dir, const std::string& path,
                              const std::string& export_text);

}  // namespace sluice::testing
