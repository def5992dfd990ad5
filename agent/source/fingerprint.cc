#include "agent/source/fingerprint.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "agent/common/status_macros.h"

namespace sluice {
namespace {

constexpr uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;

// Reads up to `len` bytes from offset 0 into `buf`; returns how many were read (less than `len`
// only at end of file). pread may return short counts on any file, so loop.
absl::StatusOr<size_t> ReadPrefix(int fd, char* buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = pread(fd, buf + got, len - got, static_cast<off_t>(got));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      return absl::ErrnoToStatus(err, absl::StrCat("pread for fingerprint: ", strerror(err)));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return got;
}

}  // namespace

uint64_t FingerprintBytes(std::string_view first_bytes) {
  uint64_t h = kFnvOffsetBasis;
  for (char c : first_bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= kFnvPrime;
  }
  return h;
}

absl::Status ComputeFingerprint(int fd, FileIdentity* id) {
  char buf[kFingerprintMaxBytes];
  ASSIGN_OR_RETURN(size_t got, ReadPrefix(fd, buf, sizeof(buf)));
  id->fingerprint = FingerprintBytes(std::string_view(buf, got));
  id->fingerprint_len = static_cast<uint32_t>(got);
  return absl::OkStatus();
}

absl::StatusOr<FileIdentity> IdentifyFile(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    return absl::ErrnoToStatus(err, absl::StrCat("fstat: ", strerror(err)));
  }
  FileIdentity id;
  id.device = static_cast<uint64_t>(st.st_dev);
  id.inode = static_cast<uint64_t>(st.st_ino);
  RETURN_IF_ERROR(ComputeFingerprint(fd, &id));
  return id;
}

absl::StatusOr<bool> FingerprintMatches(int fd, const FileIdentity& id) {
  if (id.fingerprint_len > kFingerprintMaxBytes) {
    return absl::InvalidArgumentError(absl::StrCat("fingerprint_len ", id.fingerprint_len,
                                                   " above maximum ", kFingerprintMaxBytes));
  }
  char buf[kFingerprintMaxBytes];
  ASSIGN_OR_RETURN(size_t got, ReadPrefix(fd, buf, id.fingerprint_len));
  if (got < id.fingerprint_len) return false;  // Shorter than before: truncated or replaced.
  return FingerprintBytes(std::string_view(buf, got)) == id.fingerprint;
}

}  // namespace sluice
