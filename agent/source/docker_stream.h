// DockerLogStream: the body of the Docker Engine's GET /containers/{id}/logs?timestamps=1, turned
// into log lines.
//
// A container without a TTY answers with a multiplexed stream: frames of an 8-byte header (the
// stream: 1 stdout, 2 stderr; three zero bytes; the payload's length, 4 bytes big-endian) and
// the payload. Each payload is one log message that starts with its RFC 3339 timestamp and a
// space; Docker cuts a line longer than 16 KiB into several messages, every one with its own
// timestamp and only the last ending in "\n". A container with a TTY answers with the raw text:
// lines, each with its timestamp, "\r\n" or "\n" ended; everything is stdout.
//
// As Alloy's docker tailer: a message continued over several frames is joined (the timestamps of
// the continuations dropped; the first one is the line's), the text is split at "\n" with a
// trailing "\r" removed, the timestamp parsed off each line (a line without one is a parse
// error, counted and skipped), and a line with no text after its timestamp is skipped.
//
// Bounded: a frame longer than `max_frame` keeps its first `max_frame` bytes and the rest is
// skipped (counted as a truncated frame); a line longer than `max_line` is cut there (counted as a
// truncated line); a header split across reads is kept (8 bytes at most). Never fails: any input
// gives lines and counts.
//
// Plain object, no threads: owned and used by one tailer's reading thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "agent/source/partial_join.h"

namespace sluice {

struct DockerLogLine {
  bool is_stderr = false;
  int64_t timestamp_ns = 0;  // from the line's Docker timestamp
  std::string_view text;     // without the timestamp, its space and the newline
};

struct DockerStreamCounters {
  uint64_t lines = 0;         // handed to the callback
  uint64_t parse_errors = 0;  // lines without a timestamp
  uint64_t empty = 0;         // lines with nothing after the timestamp (skipped, as Alloy)
  uint64_t truncated_frames = 0;
  uint64_t truncated_lines = 0;
  uint64_t bad_stream_ids = 0;  // frames of a stream other than 1 or 2 (stdin 0 is read as stdout)
};

class DockerLogStream {
 public:
  using LineFn = std::function<void(const DockerLogLine&)>;
  static constexpr size_t kDefaultMaxFrame = 1 << 20;
  static constexpr size_t kDefaultMaxLine = 16384 * 64;  // Alloy's scanner capacity

  DockerLogStream(bool tty, size_t max_frame = kDefaultMaxFrame, size_t max_line = kDefaultMaxLine);

  // Feeds the next bytes of the body; complete lines go to `fn` (their text valid during the call).
  void Feed(std::string_view data, const LineFn& fn);
  // The body ended: a line not ended by "\n" is handed on as it is.
  void Finish(const LineFn& fn);

  const DockerStreamCounters& counters() const { return counters_; }

 private:
  struct Side {
    PartialJoin line;         // the current line's bytes (timestamp included), cut at max_line
    bool continuing = false;  // the last message did not end with "\n": the next continues it
  };
  void Payload(Side& side, bool is_stderr, std::string_view payload, bool message_start,
               const LineFn& fn);
  void Append(Side& side, std::string_view bytes);
  void Emit(Side& side, bool is_stderr, const LineFn& fn);

  const bool tty_;
  const size_t max_frame_;
  const size_t max_line_;
  // Framing state (non-TTY).
  unsigned char header_[8];
  size_t header_have_ = 0;
  uint64_t frame_left_ = 0;  // payload bytes still to come for the current frame
  uint64_t frame_keep_ = 0;  // of those, how many are kept (the rest of a long frame is skipped)
  bool frame_stderr_ = false;
  bool frame_started_ = false;    // inside a frame's payload
  std::string frame_buf_;         // the kept payload of the current frame
  bool frame_truncated_ = false;  // the current frame is longer than max_frame
  Side out_, err_;
  DockerStreamCounters counters_;
};

}  // namespace sluice
