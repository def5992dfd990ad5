#include "agent/config/diag.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/common/strings.h"

namespace sluice::config {

void Diags::Add(Span span, std::string message) {
  // Alloy collapses several errors at one position into the first.
  for (const Diagnostic& d : list_) {
    if (d.span.file == span.file && d.span.begin == span.begin && span.begin.valid()) return;
  }
  list_.push_back(Diagnostic{std::move(span), std::move(message)});
}

std::string FormatHeadline(const Diagnostic& d) {
  if (!d.span.valid()) {
    if (d.span.file.empty()) return d.message;
    return absl::StrCat(d.span.file, ": ", d.message);
  }
  return absl::StrCat(d.span.file, ":", d.span.begin.line, ":", d.span.begin.col, ": ", d.message);
}

std::string Render(const Diagnostic& d, const std::map<std::string, std::string>& sources) {
  std::string out = absl::StrCat("Error: ", FormatHeadline(d), "\n");
  auto it = sources.find(d.span.file);
  if (it == sources.end() || !d.span.valid()) return out;
  std::vector<std::string_view> lines;
  for (absl::string_view l : absl::StrSplit(Av(it->second), '\n')) lines.push_back(Sv(l));
  int first = d.span.begin.line;
  int last = std::max(first, d.span.end.valid() ? d.span.end.line : first);
  if (first > static_cast<int>(lines.size())) return out;
  last = std::min(last, static_cast<int>(lines.size()));
  // Alloy prints the lines of the span with their numbers, then carets under the part of the
  // last line the span covers.
  size_t width = std::to_string(last).size();
  out.push_back('\n');
  for (int n = first; n <= last; ++n) {
    std::string num = std::to_string(n);
    absl::StrAppend(&out, std::string(width - num.size(), ' '), num, " | ", Av(lines[n - 1]), "\n");
  }
  int begin_col = (last == first) ? d.span.begin.col : 1;
  int end_col = (d.span.end.valid() && d.span.end.line == last) ? d.span.end.col : begin_col + 1;
  if (end_col <= begin_col) end_col = begin_col + 1;
  std::string_view src = lines[last - 1];
  std::string pad;
  // Tabs stay tabs so that the carets line up in a terminal.
  for (int c = 1; c < begin_col && c - 1 < static_cast<int>(src.size()); ++c) {
    pad.push_back(src[c - 1] == '\t' ? '\t' : ' ');
  }
  absl::StrAppend(&out, std::string(width, ' '), " | ", pad,
                  std::string(static_cast<size_t>(end_col - begin_col), '^'), "\n");
  return out;
}

}  // namespace sluice::config
