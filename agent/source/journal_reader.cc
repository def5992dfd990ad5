#include "agent/source/journal_reader.h"

#include <dlfcn.h>
#include <systemd/sd-journal.h>

#include <cerrno>
#include <cstdlib>
#include <mutex>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "agent/common/status_macros.h"
#include "agent/common/strings.h"

namespace sluice {
namespace {

// libsystemd, loaded with dlopen when the first journal is opened: linking it would map it and
// the libraries it needs (libgcrypt, libgpg-error, liblz4, libzstd, liblzma, libcap: ~0.8 MiB of
// RSS) in every agent, journal or not. The header's declarations give the types.
// clang-format off
#define SLUICE_SD_JOURNAL_FUNCTIONS(X)                                                     \
  X(open) X(open_directory) X(add_match) X(close) X(seek_realtime_usec) X(seek_cursor)     \
  X(next) X(get_realtime_usec) X(test_cursor) X(previous) X(get_cursor) X(restart_data)    \
  X(enumerate_data) X(wait)
// clang-format on

struct SdJournalApi {
#define SLUICE_SD_MEMBER(name) decltype(&sd_journal_##name) name = nullptr;
  SLUICE_SD_JOURNAL_FUNCTIONS(SLUICE_SD_MEMBER)
#undef SLUICE_SD_MEMBER
};

absl::StatusOr<const SdJournalApi*> LoadSdJournal() {
  static std::once_flag once;
  static absl::StatusOr<const SdJournalApi*>* result = nullptr;
  std::call_once(once, [] {
    void* so = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
    if (so == nullptr) {
      const char* why = dlerror();
      result = new absl::StatusOr<const SdJournalApi*>(absl::UnavailableError(
          absl::StrCat("loki.source.journal needs libsystemd (install libsystemd0): ",
                       why != nullptr ? why : "dlopen failed")));
      return;
    }
    static SdJournalApi api;
    bool ok = true;
#define SLUICE_SD_LOAD(name)                                                       \
  api.name = reinterpret_cast<decltype(api.name)>(dlsym(so, "sd_journal_" #name)); \
  ok = ok && api.name != nullptr;
    SLUICE_SD_JOURNAL_FUNCTIONS(SLUICE_SD_LOAD)
#undef SLUICE_SD_LOAD
    result = ok ? new absl::StatusOr<const SdJournalApi*>(&api)
                : new absl::StatusOr<const SdJournalApi*>(
                      absl::UnavailableError("libsystemd.so.0 lacks an sd_journal function"));
  });
  return *result;
}

// Only called once LoadSdJournal succeeded (Open checks it; a reader exists only after).
const SdJournalApi& Sd() { return **LoadSdJournal(); }

absl::Status Errno(int ret, std::string_view call) {
  int err = -ret;
  // ErrnoToStatus appends ": <strerror>" itself.
  return absl::ErrnoToStatus(err, absl::StrCat(Av(call), " failed"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<JournalReader>> JournalReader::Open(
    const JournalReaderOptions& options) {
  RETURN_IF_ERROR(LoadSdJournal().status());
  sd_journal* j = nullptr;
  int ret = options.path.empty() ? Sd().open(&j, SD_JOURNAL_LOCAL_ONLY)
                                 : Sd().open_directory(&j, options.path.c_str(), 0);
  if (ret < 0) {
    return Errno(ret, options.path.empty() ? "sd_journal_open" : "sd_journal_open_directory");
  }
  std::unique_ptr<JournalReader> r(new JournalReader(j));
  // Matches before positioning, so that seeks land on matching entries only.
  for (const std::string& m : options.matches) {
    if (int rc = Sd().add_match(j, m.data(), m.size()); rc < 0) {
      return Errno(rc, "sd_journal_add_match");
    }
  }
  RETURN_IF_ERROR(r->SeekToStart(options.cursor, options.max_age, options.now));
  return r;
}

JournalReader::~JournalReader() { Sd().close(j_); }

absl::Status JournalReader::SeekRealtime(absl::Time t) {
  int64_t usec = absl::ToUnixMicros(t);
  if (int rc = Sd().seek_realtime_usec(j_, usec < 0 ? 0 : static_cast<uint64_t>(usec)); rc < 0) {
    return Errno(rc, "sd_journal_seek_realtime_usec");
  }
  return absl::OkStatus();
}

absl::Status JournalReader::SeekToStart(const std::string& cursor, absl::Duration max_age,
                                        absl::Time now) {
  const bool has_cutoff = max_age > absl::ZeroDuration();
  const absl::Time cutoff = now - max_age;
  if (cursor.empty()) {
    return has_cutoff ? SeekRealtime(cutoff) : absl::OkStatus();  // else: the oldest entry
  }
  if (int rc = Sd().seek_cursor(j_, cursor.c_str()); rc < 0) {
    return Errno(rc, "sd_journal_seek_cursor");
  }
  int rc = Sd().next(j_);
  if (rc < 0) return has_cutoff ? SeekRealtime(cutoff) : absl::OkStatus();
  if (rc == 0) return absl::OkStatus();  // at or past the newest entry: nothing newer yet
  if (has_cutoff) {
    uint64_t usec = 0;
    if (Sd().get_realtime_usec(j_, &usec) < 0 ||
        absl::FromUnixMicros(static_cast<int64_t>(usec)) < cutoff) {
      return SeekRealtime(cutoff);
    }
  }
  // On the cursor's own entry, the first Next steps past it; on a later one (the cursor's entry
  // was rotated away), step back so that this unread entry is read.
  if (Sd().test_cursor(j_, cursor.c_str()) <= 0) {
    if (int p = Sd().previous(j_); p < 0) return Errno(p, "sd_journal_previous");
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> JournalReader::Next(JournalRecord* out) {
  int rc = Sd().next(j_);
  if (rc < 0) return Errno(rc, "sd_journal_next");
  if (rc == 0) return false;
  char* c = nullptr;
  if (int g = Sd().get_cursor(j_, &c); g < 0) return Errno(g, "sd_journal_get_cursor");
  out->cursor.assign(c);
  free(c);
  uint64_t usec = 0;
  out->realtime_usec = Sd().get_realtime_usec(j_, &usec) < 0 ? 0 : usec;
  out->fields.clear();
  Sd().restart_data(j_);
  const void* data = nullptr;
  size_t length = 0;
  while (true) {
    int e = Sd().enumerate_data(j_, &data, &length);
    if (e < 0) return Errno(e, "sd_journal_enumerate_data");
    if (e == 0) break;
    std::string_view kv(static_cast<const char*>(data), length);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) {
      return absl::DataLossError("sd_journal_enumerate_data: a field without '='");
    }
    out->fields.push_back(
        JournalField{std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1))});
  }
  return true;
}

absl::Status JournalReader::Wait(absl::Duration timeout) {
  int rc = Sd().wait(j_, static_cast<uint64_t>(absl::ToInt64Microseconds(timeout)));
  if (rc < 0) return Errno(rc, "sd_journal_wait");
  return absl::OkStatus();
}

}  // namespace sluice
