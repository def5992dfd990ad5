// Parser for docker's json-file log driver lines:
//
//   {"log":"hello world\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}
//
// dockerd splits container output at 16 KiB; a piece whose "log" does not end in '\n' is partial
// and the tailer joins it with the following ones. Uses simdjson's DOM API, which validates the
// whole line (including UTF-8) and measured within a few percent of the on-demand API on
// 100-300 byte lines while also rejecting trailing garbage and malformed unused fields.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "agent/source/cri_parser.h"

namespace sluice {

// One parsed docker line. `content` borrows from the DockerParser that produced it.
struct DockerLine {
  int64_t timestamp_ns = 0;
  LogStream stream = LogStream::kNone;
  bool partial = false;      // docker json-file splits lines at 16 KiB: "log" not ending in '\n'
  std::string_view content;  // "log" unescaped, WITHOUT its trailing '\n'; valid until the next
                             // Parse() call on the same parser
};

// Reusable docker json-file line parser. Owns the simdjson parser and a padded copy buffer
// (simdjson reads up to 64 bytes past the end of its input), both of which grow to the largest
// line seen and are then reused, so steady-state parsing allocates nothing. Not thread-safe: one
// instance per tailer thread, owned by that thread.
class DockerParser {
 public:
  DockerParser();
  ~DockerParser();
  DockerParser(const DockerParser&) = delete;
  DockerParser& operator=(const DockerParser&) = delete;

  // Parses one line (without its trailing '\n'). Requires an object with string fields "log",
  // "stream" ("stdout" or "stderr") and "time" (RFC 3339); other fields such as "attrs" are
  // ignored, and of duplicated fields the last wins. Returns false for malformed JSON (including
  // invalid UTF-8 and lone \u surrogate escapes), missing or mistyped fields, an unknown stream or
  // a bad time; *out is then untouched.
  bool Parse(std::string_view line, DockerLine* out);

  // Bytes of buffer currently held (for tests and memory accounting).
  size_t buffer_capacity() const;

 private:
  // Keeps simdjson.h (30k lines) out of every file that includes this header.
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice
