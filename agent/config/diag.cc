#include "agent/config/diag.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/common/quote.h"
#include "agent/common/strings.h"

namespace sluice::config {

void Diags::Add(Span span, std::string message) {
  // Alloy collapses several errors at one position into the first.
  for (const Diagnostic& d : list_) {
    if (d.span.file == span.file && d.span.begin == span.begin && span.begin.valid()) return;
  }
  list_.push_back(Diagnostic{std::move(span), std::move(message)});
}

void Diags::Append(Span span, std::string message) {
  list_.push_back(Diagnostic{std::move(span), std::move(message)});
}

std::string FormatHeadline(const Diagnostic& d) {
  // Alloy's token.Position.String(): "file:line:col", "file" without a position, "-" with
  // neither.
  std::string pos = d.span.file;
  if (d.span.valid()) {
    if (!pos.empty()) pos += ":";
    absl::StrAppend(&pos, d.span.begin.line);
    if (d.span.begin.col != 0) absl::StrAppend(&pos, ":", d.span.begin.col);
  }
  if (pos.empty()) pos = "-";
  return absl::StrCat(pos, ": ", d.message);
}

namespace {

// Code points of a line with their byte offsets (invalid bytes as U+FFFD, one byte each, as a
// Go range loop yields them).
struct RuneAt {
  size_t offset;
  std::string_view bytes;
  bool invalid;
};

std::vector<RuneAt> LineRunes(std::string_view s) {
  std::vector<RuneAt> out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : Utf8SequenceLength(s, i);
    if (n == 0) {
      out.push_back({i, s.substr(i, 1), true});
      ++i;
    } else {
      out.push_back({i, s.substr(i, n), false});
      i += n;
    }
  }
  return out;
}

bool InRange(int line, int col, Pos start, Pos end) {
  if (line < start.line || line > end.line) return false;
  if (line == start.line) return col >= start.col;
  if (line == end.line) return col <= end.col;
  return true;
}

constexpr int kTabWidth = 4;

}  // namespace

std::string Render(const Diagnostic& d, const std::map<std::string, std::string>& sources) {
  std::string out = absl::StrCat("Error: ", FormatHeadline(d), "\n");
  auto it = sources.find(d.span.file);
  if (it == sources.end() || !d.span.valid()) return out;
  std::vector<std::string_view> lines;
  for (absl::string_view l : absl::StrSplit(Av(it->second), '\n')) lines.push_back(Sv(l));

  // Alloy's end position is inclusive (the last character); a Span's end is one past it.
  Pos start = d.span.begin;
  Pos end = start;
  if (d.span.end.valid()) {
    end = Pos{d.span.end.line, d.span.end.col - 1};
    if (end.col < 1) {
      if (end.line > start.line && end.line - 2 < static_cast<int>(lines.size())) {
        end.line -= 1;
        end.col = static_cast<int>(lines[static_cast<size_t>(end.line - 1)].size()) + 1;
      } else {
        end.col = start.col;
      }
    }
    if (end.line < start.line || (end.line == start.line && end.col < start.col)) end = start;
  }

  out.push_back('\n');
  const int n = static_cast<int>(lines.size());
  const int first = std::max(start.line - 1, 1);
  const int last = std::min(end.line + 1, n);
  const bool multiline = end.line > start.line;
  const size_t width = std::to_string(last).size();
  for (int num = first; num <= last; ++num) {
    std::string_view line = lines[static_cast<size_t>(num - 1)];
    std::string label = std::to_string(num);
    out.append(width > label.size() ? width - label.size() : 0, ' ');
    out += label;
    out += " | ";
    if (multiline) out += InRange(num, 0, start, end) ? "| " : "  ";
    std::vector<RuneAt> runes = LineRunes(line);
    for (const RuneAt& r : runes) {
      if (r.bytes == "\r") continue;
      if (r.bytes == "\t" || r.bytes == "\v") {
        out.append(kTabWidth, ' ');
      } else if (r.invalid) {
        out += "\xEF\xBF\xBD";
      } else {
        out += r.bytes;
      }
    }
    out.push_back('\n');
    if (num == start.line || (multiline && num == end.line)) {
      out.append(width, ' ');
      if (multiline && num == start.line) {
        out += " |  _";
      } else if (multiline && num == end.line) {
        out += " | |_";
      } else {
        out += " | ";
      }
      const char blank = multiline ? '_' : ' ';
      for (const RuneAt& r : runes) {
        int col = static_cast<int>(r.offset) + 1;
        if (num == end.line && col > end.col) break;
        if (r.bytes == "\t" || r.bytes == "\v") {
          out.append(kTabWidth, blank);
        } else if (InRange(num, col, start, end)) {
          out.push_back('^');
        } else {
          out.push_back(blank);
        }
      }
      out.push_back('\n');
    }
  }
  return out;
}

std::string RenderAll(const Diags& diags, const std::map<std::string, std::string>& sources) {
  std::string out;
  for (size_t i = 0; i < diags.list().size(); ++i) {
    if (i > 0) out.push_back('\n');
    out += Render(diags.list()[i], sources);
  }
  return out;
}

}  // namespace sluice::config
