// JournalReader: one open sd-journal handle (libsystemd, loaded on first use), positioned as
// Alloy's sdjournal wrapper positions it, read one entry at a time.
//
// Positioning at open (Alloy's seekToStart): with no cursor, at now - max_age (or the oldest
// entry when max_age is 0); with a cursor, just after the cursor's entry (sd_journal_seek_cursor,
// then the first Next steps past the entry itself), unless that entry is older than
// now - max_age (then at now - max_age), or the cursor names an entry that is gone (then at the
// first entry after it, which is unread).
//
// Not thread-safe (sd-journal is not): created, used and destroyed by one thread, the journal
// component's reader thread, which owns it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/source/journal_entry.h"

struct sd_journal;

namespace sluice {

struct JournalReaderOptions {
  std::string path;                  // a directory of journal files; "" = the local journal
  std::vector<std::string> matches;  // FIELD=value, ANDed
  std::string cursor;                // resume after this entry; "" = none
  absl::Duration max_age = absl::Hours(7);
  absl::Time now;  // for max_age
};

struct JournalRecord {
  std::vector<JournalField> fields;
  std::string cursor;
  uint64_t realtime_usec = 0;
};

class JournalReader {
 public:
  static absl::StatusOr<std::unique_ptr<JournalReader>> Open(const JournalReaderOptions& options);
  ~JournalReader();
  JournalReader(const JournalReader&) = delete;
  JournalReader& operator=(const JournalReader&) = delete;

  // The next entry into *out: true, false at the end of the journal (for now), or an error.
  // Each field is at most sd-journal's data threshold (64 KiB; longer values are cut there, as
  // in Alloy). A realtime that cannot be read is 0 (the caller uses the current time).
  absl::StatusOr<bool> Next(JournalRecord* out);
  // Waits up to `timeout` for the journal to change (new entries, files added or removed).
  absl::Status Wait(absl::Duration timeout);

 private:
  explicit JournalReader(sd_journal* j) : j_(j) {}
  absl::Status SeekToStart(const std::string& cursor, absl::Duration max_age, absl::Time now);
  absl::Status SeekRealtime(absl::Time t);

  sd_journal* j_;
};

}  // namespace sluice
