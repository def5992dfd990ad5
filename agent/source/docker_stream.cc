#include "agent/source/docker_stream.h"

#include <algorithm>

#include "agent/common/timestamp.h"

namespace sluice {
namespace {

// "<RFC 3339 timestamp> <text>": the timestamp and the text, or false.
bool SplitTimestamp(std::string_view line, int64_t* ts, std::string_view* text) {
  size_t sp = line.find(' ');
  if (sp == std::string_view::npos || sp == 0) return false;
  if (!ParseRfc3339Nano(line.substr(0, sp), ts)) return false;
  *text = line.substr(sp + 1);
  return true;
}

}  // namespace

DockerLogStream::DockerLogStream(bool tty, size_t max_frame, size_t max_line)
    : tty_(tty),
      max_frame_(std::max<size_t>(max_frame, 1)),
      max_line_(std::max<size_t>(max_line, 1)) {}

void DockerLogStream::Append(Side& side, std::string_view bytes) {
  const bool counted = side.line.active() && side.line.truncated();  // once per line
  if (!side.line.Append(bytes, max_line_) && !counted) ++counters_.truncated_lines;
}

void DockerLogStream::Emit(Side& side, bool is_stderr, const LineFn& fn) {
  std::string_view line = side.line.active() ? side.line.joined() : std::string_view();
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // as bufio.ScanLines
  DockerLogLine out;
  out.is_stderr = is_stderr;
  if (!SplitTimestamp(line, &out.timestamp_ns, &out.text)) {
    ++counters_.parse_errors;
  } else if (out.text.empty()) {
    ++counters_.empty;
  } else {
    ++counters_.lines;
    fn(out);
  }
  side.line.End();
}

void DockerLogStream::Payload(Side& side, bool is_stderr, std::string_view payload,
                              bool message_start, const LineFn& fn) {
  if (message_start && side.continuing) {
    // A continuation of a line Docker cut: its own timestamp goes, the first one stays.
    int64_t ts = 0;
    std::string_view text;
    if (SplitTimestamp(payload, &ts, &text)) payload = text;
  }
  while (!payload.empty()) {
    size_t nl = payload.find('\n');
    if (nl == std::string_view::npos) {
      Append(side, payload);
      side.continuing = true;
      return;
    }
    Append(side, payload.substr(0, nl));
    Emit(side, is_stderr, fn);
    side.continuing = false;
    payload.remove_prefix(nl + 1);
  }
}

void DockerLogStream::Feed(std::string_view data, const LineFn& fn) {
  if (tty_) {
    // Raw text: no messages, so no continuation to strip.
    Payload(out_, false, data, /*message_start=*/false, fn);
    return;
  }
  while (!data.empty()) {
    if (frame_left_ == 0 && !frame_started_) {
      size_t take = std::min(data.size(), sizeof(header_) - header_have_);
      std::copy_n(data.data(), take, header_ + header_have_);
      header_have_ += take;
      data.remove_prefix(take);
      if (header_have_ < sizeof(header_)) return;
      header_have_ = 0;
      uint64_t len = (uint64_t{header_[4]} << 24) | (uint64_t{header_[5]} << 16) |
                     (uint64_t{header_[6]} << 8) | uint64_t{header_[7]};
      const unsigned char type = header_[0];
      frame_stderr_ = type == 2;
      if (type > 2) ++counters_.bad_stream_ids;  // systemerr (3) or garbage: skipped
      frame_keep_ = type > 2 ? 0 : std::min<uint64_t>(len, max_frame_);
      frame_truncated_ = len > max_frame_ && type <= 2;
      if (frame_truncated_) ++counters_.truncated_frames;
      frame_left_ = len;
      frame_started_ = len > 0;
      frame_buf_.clear();
      continue;
    }
    size_t take = static_cast<size_t>(std::min<uint64_t>(frame_left_, data.size()));
    uint64_t consumed = 0;
    // The kept part of the frame is gathered whole: a message's timestamp may be split.
    uint64_t keep_now = std::min<uint64_t>(frame_keep_, take);
    frame_buf_.append(data.data(), static_cast<size_t>(keep_now));
    frame_keep_ -= keep_now;
    consumed = take;
    frame_left_ -= consumed;
    data.remove_prefix(take);
    if (frame_left_ == 0) {
      frame_started_ = false;
      if (!frame_buf_.empty()) {
        Side& side = frame_stderr_ ? err_ : out_;
        Payload(side, frame_stderr_, frame_buf_, /*message_start=*/true, fn);
        // A truncated frame ends its line: the skipped rest held its end.
        if (frame_truncated_ && side.continuing) {
          Emit(side, frame_stderr_, fn);
          side.continuing = false;
        }
      }
      frame_buf_.clear();
    }
  }
}

void DockerLogStream::Finish(const LineFn& fn) {
  if (out_.line.active() && !out_.line.joined().empty()) Emit(out_, false, fn);
  if (err_.line.active() && !err_.line.joined().empty()) Emit(err_, true, fn);
  out_.continuing = err_.continuing = false;
}

}  // namespace sluice
