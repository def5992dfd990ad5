#include "agent/sink/file_secret.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"

namespace sluice {

absl::StatusOr<std::string_view> FileSecret::Get() {
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("unable to read file ", path_, ": ", std::strerror(errno)));
  }
  buffer_.clear();
  char chunk[4096];
  int err = 0;
  bool too_large = false;
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    if (n == 0) break;
    if (buffer_.size() + static_cast<size_t>(n) > kMaxSecretFileBytes) {
      too_large = true;
      break;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
  }
  ::close(fd);
  if (err != 0) {
    return absl::UnavailableError(
        absl::StrCat("unable to read file ", path_, ": ", std::strerror(err)));
  }
  if (too_large) {
    return absl::UnavailableError(absl::StrCat("unable to read file ", path_, ": larger than ",
                                               kMaxSecretFileBytes, " bytes"));
  }
  return Sv(absl::StripAsciiWhitespace(buffer_));
}

std::optional<FileStamp> StatFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  FileStamp s;
  s.dev = st.st_dev;
  s.ino = st.st_ino;
  s.size = st.st_size;
  s.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  s.ctime_ns = int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec;
  return s;
}

}  // namespace sluice
