#include "agent/source/line_splitter.h"

#include "agent/common/utf8.h"

namespace sluice {

LineSplitter::LineSplitter(size_t raw_limit, size_t max_line_size, LineCut* cut,
                           MetricsRegistry* metrics)
    : raw_limit_(raw_limit),
      max_line_size_(max_line_size),
      cut_(cut),
      invalid_utf8_(metrics->GetCounter("sluice_lines_invalid_utf8_total",
                                        "Lines whose invalid UTF-8 was replaced with U+FFFD.")) {}

std::string_view LineSplitter::Repair(std::string_view line) {
  if (IsValidUtf8(line)) return line;
  // Loki refuses invalid UTF-8; replacing it keeps the line (and the rest of its batch).
  utf8_buf_.clear();
  AppendSanitizedUtf8(line, &utf8_buf_);
  line = utf8_buf_;
  invalid_utf8_->Inc();
  if (line.size() > max_line_size_) {
    // Replacement characters are 3 bytes for 1: cut again, on a character boundary, so that
    // Loki never sees a line over its limit.
    size_t cut = max_line_size_;
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
    line = line.substr(0, cut);
    cut_->Count();
  }
  return line;
}

}  // namespace sluice
