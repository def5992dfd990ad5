#include "agent/source/line_decoder.h"

#include <algorithm>

namespace sluice {

void DecodeState::Reset() {
  for (Partial& p : partial) p.join.Reset();
}

LineDecoder::LineDecoder(size_t max_line_size, LineCut* cut, MetricsRegistry* metrics)
    : max_line_size_(max_line_size),
      cut_(cut),
      malformed_cri_(metrics->GetCounter("sluice_lines_malformed_total",
                                         "Lines that did not parse; shipped as they are.",
                                         {{"format", "cri"}})),
      malformed_docker_(metrics->GetCounter("sluice_lines_malformed_total",
                                            "Lines that did not parse; shipped as they are.",
                                            {{"format", "docker"}})) {}

void LineDecoder::Decode(DecodeState* s, std::string_view raw, int64_t line_start, int64_t line_end,
                         int64_t read_time_ns, EmitFn emit) {
  if (s->format == LogFormat::kAuto) {
    // Decided once per file from its first line: kubelet writes one format per file.
    CriLine probe;
    DockerLine dprobe;
    if (ParseCriLine(raw, &probe)) {
      s->format = LogFormat::kCri;
    } else if (!raw.empty() && raw.front() == '{' && docker_.Parse(raw, &dprobe)) {
      s->format = LogFormat::kDocker;
    } else {
      s->format = LogFormat::kPlain;
    }
  }
  switch (s->format) {
    case LogFormat::kCri: {
      CriLine cri;
      if (ParseCriLine(raw, &cri)) {
        HandlePiece(s, cri.stream, cri.partial, cri.timestamp_ns, cri.content, cri.time, line_start,
                    line_end, emit);
        return;
      }
      malformed_cri_->Inc();
      break;
    }
    case LogFormat::kDocker: {
      DockerLine d;
      if (docker_.Parse(raw, &d)) {
        HandlePiece(s, d.stream, d.partial, d.timestamp_ns, d.content, {}, line_start, line_end,
                    emit);
        return;
      }
      malformed_docker_->Inc();
      break;
    }
    default:
      break;
  }
  // Plain line, or a malformed one shipped as it is: timestamp = read time, kept strictly
  // increasing per file so that Loki never takes two equal lines for one duplicate.
  if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
  int64_t ts = std::max(read_time_ns, s->last_ts + 1);
  s->last_ts = ts;
  if (raw.size() > max_line_size_) raw = raw.substr(0, max_line_size_);
  emit(DecodedLine{LogStream::kNone, ts, raw, line_start, SafeMark(*s, line_end), nullptr});
}

int64_t LineDecoder::SafeMark(const DecodeState& s, int64_t line_end) {
  int64_t mark = line_end;
  for (const DecodeState::Partial& p : s.partial) {
    if (p.join.active()) mark = std::min(mark, p.start_offset);
  }
  return mark;
}

void LineDecoder::HandlePiece(DecodeState* s, LogStream stream, bool partial, int64_t ts,
                              std::string_view content, std::string_view time, int64_t line_start,
                              int64_t line_end, EmitFn emit) {
  DecodeState::Partial& p = s->partial[static_cast<int>(stream)];
  const bool is_cri = s->format == LogFormat::kCri;
  if (!content.empty() && content.back() == '\r' && !partial) content.remove_suffix(1);
  if (!partial && !p.join.active()) {
    if (content.size() > max_line_size_) {
      cut_->Count();
      content = content.substr(0, max_line_size_);
    }
    const CriPieceFields fields{time, content, false};
    emit(DecodedLine{stream, ts, content, line_start, SafeMark(*s, line_end),
                     is_cri ? &fields : nullptr});
    return;
  }
  if (!p.join.active()) {
    p.start_offset = line_start;
    p.timestamp_ns = ts;
  }
  if (is_cri) {
    // A joined CRI line is its latest piece's entry, as in Alloy's stage.cri: its timestamp, and
    // (for the extracted map) its timestamp text and content. (Docker pieces, which Alloy's
    // stage.docker does not join, keep the first piece's timestamp.)
    p.timestamp_ns = ts;
    p.time.assign(time.data(), time.size());
  }
  const bool counted = p.join.active() && p.join.truncated();  // a line's cut counts once
  if (!p.join.Append(content, max_line_size_) && !counted) cut_->Count();
  if (partial) return;
  p.join.End();
  std::string_view joined = p.join.joined();
  if (!joined.empty() && joined.back() == '\r') joined.remove_suffix(1);
  const CriPieceFields fields{time, joined.substr(std::min(p.join.piece_at(), joined.size())),
                              false};
  emit(DecodedLine{stream, p.timestamp_ns, joined, p.start_offset, SafeMark(*s, line_end),
                   is_cri ? &fields : nullptr});
}

void LineDecoder::Flush(DecodeState* s, int64_t end, EmitFn emit) {
  const bool is_cri = s->format == LogFormat::kCri;
  for (int i = 0; i < 3; ++i) {
    DecodeState::Partial& p = s->partial[i];
    if (!p.join.active()) continue;
    p.join.End();
    std::string_view joined = p.join.joined();
    const CriPieceFields fields{p.time, joined.substr(std::min(p.join.piece_at(), joined.size())),
                                true};
    emit(DecodedLine{static_cast<LogStream>(i), p.timestamp_ns, joined, p.start_offset, end,
                     is_cri ? &fields : nullptr});
  }
}

}  // namespace sluice
