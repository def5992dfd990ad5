// PartialJoin: one line being joined from its pieces — CRI `P` pieces up to the `F` one, docker
// json-file lines up to the one that ends in a newline — with an optional byte limit on the
// joined line.
//
// The one joiner of the tailer's LineDecoder (per file and stream, limited to max_line_size, a
// cut counted once per line) and of stage.cri (per label set across files, limited by
// max_partial_line_size when truncating, each cut piece counted, the latest piece's entry kept
// as Alloy's stage does). What differs between the two (the key, the entry kept, how a cut is
// counted) stays with them; the bytes, the limit and where the latest piece starts are here.
//
// Not thread-safe; owned by the state of one stream (a file's DecodeState, a stage's held line),
// on the tail thread.
#pragma once

#include <algorithm>
#include <cstddef>
#include <limits>
#include <string>
#include <string_view>

namespace sluice {

class PartialJoin {
 public:
  static constexpr size_t kNoLimit = std::numeric_limits<size_t>::max();

  // True between the first piece and the end of the line.
  bool active() const { return active_; }

  // Adds a piece, starting a line when none is pending. The joined line keeps at most `limit`
  // bytes: returns false when this piece was cut (or dropped whole) for it.
  bool Append(std::string_view piece, size_t limit = kNoLimit) {
    if (!active_) {
      active_ = true;
      truncated_ = false;
      buf_.clear();
    }
    piece_at_ = buf_.size();
    const size_t room = limit - std::min(limit, buf_.size());
    const bool whole = piece.size() <= room;
    if (!whole) {
      piece = piece.substr(0, room);
      truncated_ = true;
    }
    buf_.append(piece.data(), piece.size());
    return whole;
  }

  // The bytes joined so far; valid until the next Append or TakeInto.
  std::string_view joined() const { return buf_; }
  // Where the latest piece starts in joined() (stage.cri's extracted `content` of a joined line).
  size_t piece_at() const { return piece_at_; }
  // True once a piece of the current line was cut.
  bool truncated() const { return truncated_; }

  // The line is over; joined() stays readable until the next Append.
  void End() { active_ = false; }
  // The line is over and its bytes go to *out; *out's old buffer is kept for the next line.
  void TakeInto(std::string* out) {
    active_ = false;
    out->swap(buf_);
    buf_.clear();
  }
  // Drops a pending line (the file starts over).
  void Reset() {
    active_ = false;
    truncated_ = false;
    piece_at_ = 0;
    buf_.clear();
  }

 private:
  std::string buf_;
  size_t piece_at_ = 0;
  bool active_ = false;
  bool truncated_ = false;
};

}  // namespace sluice
