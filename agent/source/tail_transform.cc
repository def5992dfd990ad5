// TailManager: from a file's bytes to its entries — lines split as they are, or through the
// file's FileTransform (decompression, another encoding, a byte order mark), decoded (CRI,
// docker) and handed to the output with their stream's label set. See tail_manager.h and
// file_transform.h.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/common/utf8.h"
#include "agent/source/tail_manager.h"

namespace sluice {

void TailManager::ApplyBom(File* f, std::string_view head) {
  Bom bom = DetectBom(head);
  if (bom.length == 0) return;
  if (f->transform == nullptr) f->transform = std::make_unique<FileTransform>();
  FileTransform& x = *f->transform;
  x.text_start = static_cast<int64_t>(bom.length);
  if (bom.encoding.empty()) {
    // A UTF-8 mark: the text is UTF-8 whatever the configuration says.
    if (bom.length == 3) x.transcode.reset();
    return;
  }
  if (x.transcode != nullptr && x.transcode->name() == bom.encoding) return;
  absl::StatusOr<std::unique_ptr<Transcoder>> tc = Transcoder::Create(bom.encoding);
  if (tc.ok()) {
    x.transcode = *std::move(tc);
    x.carry.Clear();
  }
}

uint64_t TailManager::SplitChunk(File* f, const char* data, size_t n, int64_t base) {
  if (!f->bom_checked && base == 0 && n > 0) {
    // The first bytes of the file: a byte order mark there is not text.
    f->bom_checked = true;
    ApplyBom(f, std::string_view(data, std::min<size_t>(n, 4)));
    if (f->transform != nullptr && f->transform->text_start > 0) {
      size_t skip = std::min<size_t>(n, static_cast<size_t>(f->transform->text_start));
      data += skip;
      n -= skip;
      base += static_cast<int64_t>(skip);
      f->consumed_offset = base;
    }
  }
  auto on_line = [this, f](std::string_view line, int64_t line_start, int64_t line_end) {
    ProcessLine(f, line, line_start, line_end);
    f->consumed_offset = line_end;
  };
  FileTransform* x = f->transform.get();
  uint64_t lines;
  if (x == nullptr || x->transcode == nullptr) {
    const void* last_newline = memrchr(data, '\n', n);
    if (last_newline != nullptr) {
      const char* end = static_cast<const char*>(last_newline) + 1;
      if (IsValidUtf8(std::string_view(data, static_cast<size_t>(end - data)))) {
        valid_begin_ = data;
        valid_end_ = end;
      }
    }
    lines = splitter_.Split(&f->carry, data, n, base, on_line);
    valid_begin_ = valid_end_ = nullptr;
  } else {
    uint64_t cut = 0, invalid = 0;
    lines = x->transcode->Split(&x->carry, data, n, base, x->text_start, opt_.max_line_size + 1024,
                                &cut, &invalid, on_line);
    if (cut > 0) lines_truncated_->Inc(cut);
    if (invalid > 0) invalid_encoding_->Inc(invalid);
  }
  output_->EndOfChunk();
  return lines;
}

void TailManager::FlushLines(File* f) {
  chunk_time_ns_ = clock_->NowUnixNanos();
  auto on_line = [this, f](std::string_view raw, int64_t line_start, int64_t line_end) {
    ProcessLine(f, raw, line_start, line_end);
  };
  if (f->transform != nullptr && f->transform->transcode != nullptr) {
    uint64_t invalid = 0;
    f->transform->transcode->Flush(&f->transform->carry, f->read_offset, &invalid, on_line);
    if (invalid > 0) invalid_encoding_->Inc(invalid);
  } else {
    splitter_.Flush(&f->carry, f->read_offset, on_line);
  }
  decoder_.Flush(&f->decode, f->read_offset, [this, f](const DecodedLine& d) { Emit(f, d); });
  f->consumed_offset = f->read_offset;
  output_->EndOfChunk();
  output_->OnMark(f->route, f->id, f->generation, f->read_offset);
}

TailManager::ReadResult TailManager::ReadCompressed(File* f) {
  FileTransform& x = *f->transform;
  if (x.inflate == nullptr) {
    absl::StatusOr<std::unique_ptr<Decompressor>> d = Decompressor::Create(opt_.compression);
    if (!d.ok()) {
      read_errors_->Inc();
      LogWarn("tail", "cannot decompress file",
              {{"path", f->path}, {"error", d.status().ToString()}});
      return ReadResult::kError;
    }
    x.inflate = *std::move(d);
    // A restart resumes at the stored position: everything before it is inflated again and
    // dropped (a compressed stream cannot be entered in the middle).
    x.inflate->SkipTo(f->read_offset);
    ++inflating_;
  }
  size_t n = 0;
  int64_t base = 0;
  Decompressor::State state = x.inflate->Read(f->fd, read_buf_.data(), opt_.read_chunk, &n, &base);
  if (n > 0) {
    f->read_offset = base + static_cast<int64_t>(n);
    f->last_data_mono = clock_->MonotonicNanos();
    chunk_time_ns_ = clock_->NowUnixNanos();
    if (f->m_read_bytes != nullptr) {
      f->m_read_bytes->Set(static_cast<double>(f->read_offset));
      if (f->m_file_bytes->value() < static_cast<double>(f->read_offset)) {
        f->m_file_bytes->Set(static_cast<double>(f->read_offset));
      }
    }
    uint64_t lines = SplitChunk(f, read_buf_.data(), n, base);
    if (f->m_read_lines != nullptr) f->m_read_lines->Inc(lines);
    return ReadResult::kMore;
  }
  switch (state) {
    case Decompressor::State::kData:
      return ReadResult::kMore;
    case Decompressor::State::kWaiting: {
      // The compressed stream is not complete yet (the file is still being written): wait for
      // its next write. A file now shorter than what was read was rewritten: start over.
      struct stat st;
      if (fstat(f->fd, &st) == 0 && st.st_size < x.inflate->raw_offset()) {
        x.inflate.reset();
        --inflating_;
        RestartFromZero(f, "compressed file truncated, reading from the start", st.st_size);
        return ReadResult::kMore;
      }
      if (!inflate_wait_.empty()) {
        // Others wait for a decompressor: this one may wait long (or forever, for a stream
        // that was cut short). It is inflated again up to its offset when its turn comes.
        ReleaseInflate(f);
      }
      return ReadResult::kEof;
    }
    case Decompressor::State::kError:
      // Corrupt: what was read before the damage was shipped; the rest cannot be read.
      read_errors_->Inc();
      LogWarn("tail", "cannot decompress the rest of the file",
              {{"path", f->path},
               {"error", x.inflate->error()},
               {"offset", std::to_string(f->read_offset)}});
      FinishCompressed(f);
      return ReadResult::kEof;
    case Decompressor::State::kEnd:
      FinishCompressed(f);
      return ReadResult::kEof;
  }
  return ReadResult::kEof;
}

void TailManager::FinishCompressed(File* f) {
  // Alloy reads a compressed file once, to its end, then stops its tailer and keeps its
  // position; so does sluice: its last line (no newline) goes out now.
  FlushLines(f);
  f->transform->finished = true;
  ReleaseInflate(f);
  DropWriteWatch(f);
  if (f->fd >= 0) {
    ::close(f->fd);
    f->fd = -1;
    budget_.Closed();
    UpdateFilesActive();
  }
  LogDebug("tail", "read compressed file to its end",
           {{"path", f->path}, {"bytes", std::to_string(f->read_offset)}});
}

void TailManager::ReleaseInflate(File* f) {
  if (f->transform == nullptr || f->transform->inflate == nullptr) return;
  f->transform->inflate.reset();
  --inflating_;
  while (!inflate_wait_.empty()) {
    File* next = files_.Find(inflate_wait_.front());
    inflate_wait_.pop_front();
    if (next != nullptr && !next->closed) {
      MarkReady(next);
      break;
    }
  }
}

void TailManager::ArmDelayTimer() {
  if (delay_armed_ || stopping_ || delayed_.empty()) return;
  int64_t now = clock_->MonotonicNanos();
  int64_t first = std::numeric_limits<int64_t>::max();
  for (uint64_t id : delayed_) {
    if (const File* f = files_.Find(id); f != nullptr && f->transform != nullptr) {
      first = std::min(first, f->transform->not_before_mono);
    }
  }
  if (first == std::numeric_limits<int64_t>::max()) {
    delayed_.clear();
    return;
  }
  delay_armed_ = true;
  // Between 10 and 250 ms at a time: the delay is measured on the TailManager's clock (a test's
  // may jump), the timer on the system's; a clock that does not move must not make this a spin.
  delay_timer_.expires_after(
      std::chrono::nanoseconds(std::clamp<int64_t>(first - now, 10'000'000, 250'000'000)));
  delay_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: `this` may be gone
    delay_armed_ = false;
    std::vector<uint64_t> due;
    due.swap(delayed_);
    for (uint64_t id : due) {
      if (File* f = files_.Find(id)) MarkReady(f);  // not yet due: back to delayed_ in ReadPass
    }
  });
}

void TailManager::ProcessLine(File* f, std::string_view raw, int64_t line_start, int64_t line_end) {
  decoder_.Decode(&f->decode, raw, line_start, line_end, chunk_time_ns_,
                  [this, f](const DecodedLine& d) { Emit(f, d); });
}

void TailManager::Emit(File* f, const DecodedLine& d) {
  const LogStream stream = d.stream;
  // A line inside the chunk's validated part, ending at its newline (not cut short, which may
  // split a character), is valid as it is.
  const bool checked = d.line.data() >= valid_begin_ &&
                       d.line.data() + d.line.size() < valid_end_ &&
                       d.line.data()[d.line.size()] == '\n';
  const std::string_view line = checked ? d.line : splitter_.Repair(d.line);
  const int8_t s = static_cast<int8_t>(stream);
  if (f->out_stream != s && f->out_stream > 0 && stream != LogStream::kNone) {
    // stdout <-> stderr. A file's lines switch streams often (a third of the lines of a busy
    // pod's file): the set of the other stream is kept, so that a switch back is a swap, and
    // each set keeps its token for the stages' memos and loki.write's route cache.
    std::swap(f->out_labels, f->other_labels);
    std::swap(f->out_stream, f->other_stream);
    if (f->out_stream != s) {
      f->out_labels = f->other_labels;
      f->out_labels.Set("stream", LogStreamName(stream));
      f->out_labels.Stamp();
      f->out_stream = s;
    }
  } else if (f->out_stream != s) {
    const bool first = f->out_stream < 0;
    f->out_labels = f->labels;
    if (stream == LogStream::kStdout) f->out_labels.Set("stream", "stdout");
    if (stream == LogStream::kStderr) f->out_labels.Set("stream", "stderr");
    if (first) f->out_labels.Compact();
    // One token for every line of the stream (LabelSet::Stamp): the stages' memos and
    // loki.write's route cache know the set by it.
    f->out_labels.Stamp();
    f->out_stream = s;
    f->other_stream = -1;
  }
  if (d.cri != nullptr && line.data() != d.line.data()) {
    // The line was repaired (invalid UTF-8) into the splitter's buffer: the content is the
    // repaired line, or of a joined line its last piece's bytes at the end of it (exact when the
    // invalid bytes were in an earlier piece).
    CriPieceFields fields = *d.cri;
    const size_t piece = d.line.size() - static_cast<size_t>(d.cri->content.data() - d.line.data());
    fields.content =
        piece >= d.line.size() ? line : line.substr(line.size() - std::min(piece, line.size()));
    output_->OnEntry(f->route, f->id, f->generation, f->out_labels, d.timestamp_ns, line, d.start,
                     d.mark, &fields, /*padded=*/false);
    return;
  }
  // A line of the read buffer's chunk (not a joined, carried or repaired one) has the buffer's
  // spare bytes after it.
  const bool padded = line.data() >= read_buf_.data() &&
                      line.data() + line.size() <= read_buf_.data() + opt_.read_chunk;
  output_->OnEntry(f->route, f->id, f->generation, f->out_labels, d.timestamp_ns, line, d.start,
                   d.mark, d.cri, padded);
}

}  // namespace sluice
