// CRI log line parser; see cri_parser.h. Stateless and thread-safe.
#include "agent/source/cri_parser.h"

#include <cstring>

#include "agent/common/timestamp.h"

namespace sluice {

std::string_view LogStreamName(LogStream stream) {
  switch (stream) {
    case LogStream::kStdout:
      return "stdout";
    case LogStream::kStderr:
      return "stderr";
    case LogStream::kNone:
      break;
  }
  return "";
}

bool ParseCriLine(std::string_view line, CriLine* out) {
  // The timestamp runs to the first space. memchr is vectorised and stops after ~31 bytes on a
  // well-formed line; on garbage it costs one pass over the line, never more.
  const void* space = std::memchr(line.data(), ' ', line.size());
  if (space == nullptr) return false;
  const size_t time_len = static_cast<size_t>(static_cast<const char*>(space) - line.data());
  int64_t timestamp_ns;
  if (!ParseRfc3339Nano(line.substr(0, time_len), &timestamp_ns)) return false;

  // "stdout F" or "stderr P": stream, one space, one-character tag.
  std::string_view rest = line.substr(time_len + 1);
  if (rest.size() < 8 || rest[6] != ' ') return false;
  LogStream stream;
  if (std::memcmp(rest.data(), "stdout", 6) == 0) {
    stream = LogStream::kStdout;
  } else if (std::memcmp(rest.data(), "stderr", 6) == 0) {
    stream = LogStream::kStderr;
  } else {
    return false;
  }
  bool partial;
  if (rest[7] == 'F') {
    partial = false;
  } else if (rest[7] == 'P') {
    partial = true;
  } else {
    return false;
  }

  // Then either the end of the line (empty message) or a space and the message. An empty message
  // is still a view at the end of the line, so the content always lies inside the input.
  std::string_view content = rest.substr(8);
  if (!content.empty()) {
    if (content[0] != ' ') return false;  // "FF", "F:x", "Fx": a tag longer than one character.
    content.remove_prefix(1);
  }
  out->timestamp_ns = timestamp_ns;
  out->stream = stream;
  out->partial = partial;
  out->content = content;
  out->time = line.substr(0, time_len);
  return true;
}

}  // namespace sluice
