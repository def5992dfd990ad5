// Parser for the CRI log format that containerd and CRI-O write under /var/log/pods:
//
//   <RFC3339Nano time> <stdout|stderr> <P|F> <message>
//   2024-01-02T03:04:05.123456789Z stdout F hello world
//
// The runtime splits long lines into pieces tagged P (partial) and ends the logical line with an
// F (full) piece; joining them is the tailer's job. Called by the tailer thread on every line:
// stateless, allocation-free, no system calls, and the result points into the caller's buffer.
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice {

// Which output stream of the container a line came from.
enum class LogStream : uint8_t { kNone = 0, kStdout = 1, kStderr = 2 };

// "stdout" / "stderr" / "" for kNone. Static strings.
std::string_view LogStreamName(LogStream stream);

// One parsed CRI line. `content` borrows from the line passed to ParseCriLine.
struct CriLine {
  int64_t timestamp_ns = 0;
  LogStream stream = LogStream::kNone;
  bool partial = false;      // tag "P"; "F" = full (final piece). Other tags: malformed.
  std::string_view content;  // the message, points into the input (a suffix of it, even if empty)
  std::string_view time;     // the timestamp's text, points into the input
};

// Parses one CRI log line given WITHOUT its trailing '\n' (a trailing '\r' stays part of the
// content; the caller decides). Exactly one space separates the fields; everything after the
// space following the tag is the message, spaces and all, and it may be empty ("... stdout F"
// with or without the trailing space). The tag must be exactly "P" or "F": the kubelet's
// ':'-separated multi-tag form has never been written by any runtime, so it is treated as
// malformed rather than guessed at. Returns false for a malformed line, leaving *out untouched.
bool ParseCriLine(std::string_view line, CriLine* out);

}  // namespace sluice
