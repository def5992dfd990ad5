#include "agent/config/diag.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/common/strings.h"
#include "agent/common/utf8.h"

namespace sluice::config {

void Diags::Add(Span span, std::string message) {
  // Alloy collapses several errors at one position into the first.
  if (span.begin.valid() &&
      !positions_.emplace(span.file, span.begin.line, span.begin.col).second) {
    return;
  }
  list_.push_back(Diagnostic{std::move(span), std::move(message)});
}

void Diags::Append(Span span, std::string message) {
  if (span.begin.valid()) positions_.emplace(span.file, span.begin.line, span.begin.col);
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

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  for (absl::string_view l : absl::StrSplit(Av(text), '\n')) lines.push_back(Sv(l));
  return lines;
}

// `lines`: the diagnostic's file split at newlines, or nullptr when its text is unknown.
std::string RenderLines(const Diagnostic& d, const std::vector<std::string_view>* lines_ptr) {
  std::string out = absl::StrCat("Error: ", FormatHeadline(d), "\n");
  if (lines_ptr == nullptr || !d.span.valid()) return out;
  const std::vector<std::string_view>& lines = *lines_ptr;

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
  if (first > n) return out;
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

}  // namespace

std::string Render(const Diagnostic& d, const std::map<std::string, std::string>& sources) {
  auto it = sources.find(d.span.file);
  if (it == sources.end()) return RenderLines(d, nullptr);
  std::vector<std::string_view> lines = SplitLines(it->second);
  return RenderLines(d, &lines);
}

std::string RenderAll(const Diags& diags, const std::map<std::string, std::string>& sources) {
  // Each file is split once: a file with thousands of errors renders in linear time.
  std::map<std::string, std::vector<std::string_view>> split;
  std::string out;
  for (size_t i = 0; i < diags.list().size(); ++i) {
    const Diagnostic& d = diags.list()[i];
    if (i > 0) out.push_back('\n');
    const std::vector<std::string_view>* lines = nullptr;
    auto src = sources.find(d.span.file);
    if (src != sources.end()) {
      auto [it, fresh] = split.try_emplace(d.span.file);
      if (fresh) it->second = SplitLines(src->second);
      lines = &it->second;
    }
    out += RenderLines(d, lines);
  }
  return out;
}

}  // namespace sluice::config
