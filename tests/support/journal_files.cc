#include "tests/support/journal_files.h"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace sluice::testing {

bool HaveJournalRemote() { return access(kJournalRemote, X_OK) == 0; }

std::string ExportEntry(uint64_t realtime_usec, uint64_t monotonic_usec,
                        const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out =
      absl::StrCat("__REALTIME_TIMESTAMP=", realtime_usec,
                   "\n__MONOTONIC_TIMESTAMP=", monotonic_usec, "\n_BOOT_ID=", kTestBootId, "\n");
  for (const auto& [k, v] : fields) absl::StrAppend(&out, k, "=", v, "\n");
  out += "\n";
  return out;
}

absl::Status WriteJournalFile(const std::string& staging_dir, const std::string& path,
                              const std::string& export_text) {
  mkdir(staging_dir.c_str(), 0755);
  std::string base = path.substr(path.rfind('/') + 1);
  std::string input = absl::StrCat(staging_dir, "/", base, ".export");
  std::string staged = absl::StrCat(staging_dir, "/", base);
  FILE* f = fopen(input.c_str(), "w");
  if (f == nullptr) return absl::InternalError(absl::StrCat("create ", input));
  fwrite(export_text.data(), 1, export_text.size(), f);
  fclose(f);
  unlink(staged.c_str());
  std::string cmd =
      absl::StrCat(kJournalRemote, " --output='", staged, "' - < '", input, "' > /dev/null 2>&1");
  int rc = std::system(cmd.c_str());
  unlink(input.c_str());
  if (rc != 0) return absl::InternalError(absl::StrCat(cmd, " exited ", rc));
  if (rename(staged.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("rename ", staged, " to ", path));
  }
  return absl::OkStatus();
}

}  // namespace sluice::testing
