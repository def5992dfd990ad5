// LineSplitter: cuts the bytes read from a file into lines. A line may span reads: its first
// bytes wait in the file's LineCarry until its newline arrives. A line longer than the limit is
// cut there and the rest of it, up to its newline, skipped. Also the last repair before a line
// leaves the tailer: invalid UTF-8 replaced (Loki refuses it), cut again to max_line_size.
//
// LineCut counts truncated lines once per line, however many of the limits (the raw length here,
// the content length in LineDecoder, the length after UTF-8 repair) the line ran into.
//
// Owned by a TailManager and run on the tail thread; one per TailManager (its buffers are
// scratch shared by its files), the per-file state is the file's LineCarry.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "agent/common/metrics.h"

namespace sluice {

// One count of sluice_lines_truncated_total per line.
class LineCut {
 public:
  explicit LineCut(Counter* truncated) : truncated_(truncated) {}
  // A new line starts; `counted`: its cut was already counted (when it began, in an earlier
  // read).
  void Begin(bool counted) { counted_ = counted; }
  // The current line was cut (counted once).
  void Count() {
    if (counted_) return;
    counted_ = true;
    truncated_->Inc();
  }

 private:
  Counter* truncated_;
  bool counted_ = false;
};

// A file's line in progress.
struct LineCarry {
  std::string bytes;      // an incomplete line (at most the raw limit)
  int64_t start = 0;      // file offset where it starts
  bool skipping = false;  // discarding the rest of an overlong line, up to its newline
  void Clear() {
    bytes.clear();
    skipping = false;
  }
};

class LineSplitter {
 public:
  // `raw_limit`: bytes kept of one line (its content's limit plus room for a CRI or docker
  // prefix).
  LineSplitter(size_t raw_limit, size_t max_line_size, LineCut* cut, MetricsRegistry* metrics);

  // Splits `n` bytes read at file offset `base`, calling on_line(raw, line_start, line_end) for
  // each complete line, without its newline ([line_start, line_end): its file bytes, newline
  // included). What follows the last newline goes to `carry`. Returns the number of lines.
  template <typename OnLine>
  uint64_t Split(LineCarry* carry, const char* data, size_t n, int64_t base, OnLine&& on_line);

  // The carried incomplete line as a last line ending at `end` (a file that will never complete
  // it), if there is one.
  template <typename OnLine>
  void Flush(LineCarry* carry, int64_t end, OnLine&& on_line);

  // `line` with invalid UTF-8 replaced by U+FFFD (counted), cut again to max_line_size on a
  // character boundary; a view of `line` itself when it is valid, else of a scratch buffer valid
  // until the next call.
  std::string_view Repair(std::string_view line);

 private:
  size_t raw_limit_;
  size_t max_line_size_;
  LineCut* cut_;
  Counter* invalid_utf8_;
  std::string line_buf_;  // a line assembled from carry + new bytes
  std::string utf8_buf_;  // a line with invalid UTF-8 replaced
};

template <typename OnLine>
uint64_t LineSplitter::Split(LineCarry* c, const char* data, size_t n, int64_t base,
                             OnLine&& on_line) {
  size_t pos = 0;
  uint64_t lines = 0;
  while (pos < n) {
    const char* nl = static_cast<const char*>(memchr(data + pos, '\n', n - pos));
    if (nl == nullptr) break;
    size_t end = static_cast<size_t>(nl - data);
    int64_t line_end = base + static_cast<int64_t>(end) + 1;
    ++lines;
    if (!c->bytes.empty() || c->skipping) {
      int64_t line_start = c->start;
      cut_->Begin(c->skipping);  // counted when the cut began
      if (!c->skipping) {
        size_t room = raw_limit_ - std::min(raw_limit_, c->bytes.size());
        size_t take = std::min(room, end - pos);
        if (take < end - pos) cut_->Count();
        c->bytes.append(data + pos, take);
      }
      line_buf_.swap(c->bytes);
      c->bytes.clear();
      c->skipping = false;
      on_line(std::string_view(line_buf_), line_start, line_end);
    } else {
      std::string_view line(data + pos, end - pos);
      cut_->Begin(false);
      if (line.size() > raw_limit_) {
        cut_->Count();
        line = line.substr(0, raw_limit_);
      }
      on_line(line, base + static_cast<int64_t>(pos), line_end);
    }
    pos = end + 1;
  }
  if (pos < n && !c->skipping) {
    // An incomplete line: keep it (bounded) until its newline arrives.
    if (c->bytes.empty()) c->start = base + static_cast<int64_t>(pos);
    size_t room = raw_limit_ - std::min(raw_limit_, c->bytes.size());
    size_t take = std::min(room, n - pos);
    c->bytes.append(data + pos, take);
    if (take < n - pos) {
      // Past the limit with no newline in sight: keep the first part, drop the rest up to the
      // newline (counted once, when the line is cut).
      cut_->Begin(false);
      cut_->Count();
      c->skipping = true;
    }
  }
  return lines;
}

template <typename OnLine>
void LineSplitter::Flush(LineCarry* c, int64_t end, OnLine&& on_line) {
  if (c->bytes.empty()) return;
  cut_->Begin(c->skipping);  // an overlong last line: its first part still goes out
  c->skipping = false;
  line_buf_.swap(c->bytes);
  c->bytes.clear();
  on_line(std::string_view(line_buf_), c->start, end);
}

}  // namespace sluice
