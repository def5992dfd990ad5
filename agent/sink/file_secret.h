// Credentials kept in files (password_file, bearer_token_file, credentials_file), and change
// detection for TLS files.
//
// FileSecret reads its file at every Get(), as Prometheus' HTTP client (and so Alloy) reads
// credentials files at every request: a rotated token is used from the next request on, whatever
// way it was replaced (in place, renamed over, a Kubernetes secret's symlink swap) and however
// soon after the previous change. A Get() per push request costs one small read per batch, not
// per line. The content is whitespace-trimmed, as Prometheus trims it, and never logged.
//
// Used from the sender thread only; owned by the LokiSink.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sluice {

// Larger credentials files are refused: a token is a few KB, and a wrong path (a log file) must
// not make every request read megabytes.
inline constexpr size_t kMaxSecretFileBytes = 1 << 20;

class FileSecret {
 public:
  explicit FileSecret(std::string path) : path_(std::move(path)) {}

  // The trimmed content, valid until the next call. Unavailable (the request then fails and is
  // retried like a transport error) when the file cannot be read or is too large; the message
  // names the path, never the content.
  absl::StatusOr<std::string_view> Get();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string buffer_;
};

// What identifies a version of a file: a different stamp means the file was replaced or
// rewritten. std::nullopt from StatFile when it does not exist or cannot be stat'ed.
struct FileStamp {
  uint64_t dev = 0;
  uint64_t ino = 0;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};
std::optional<FileStamp> StatFile(const std::string& path);

}  // namespace sluice
