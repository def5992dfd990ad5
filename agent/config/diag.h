// Positions and diagnostics of the Alloy configuration language.
//
// Every error about a configuration names `<file>:<line>:<col>` and, when rendered with the
// sources at hand, shows the source line with a caret under the span, as `alloy run` prints it.
// Plain value types; any thread.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace sluice::config {

// 1-based line and column (column counts bytes, as Alloy's scanner does); 0 = unknown.
struct Pos {
  int line = 0;
  int col = 0;
  bool valid() const { return line > 0; }
  bool operator==(const Pos&) const = default;
};

// A range of source text: [begin, end), end on the same or a later line.
struct Span {
  std::string file;
  Pos begin;
  Pos end;
  bool valid() const { return begin.valid(); }
};

struct Diagnostic {
  Span span;
  std::string message;
};

// Collects errors; a stage or component decoder adds to it and goes on, so that one run reports
// every error of a file rather than the first.
class Diags {
 public:
  void Add(Span span, std::string message);
  // Appends without collapsing: Alloy's parser keeps a scanner error and a parser error at the
  // same position as two diagnostics (it drops only a second parser error on one line).
  void Append(Span span, std::string message);
  bool ok() const { return list_.empty(); }
  const std::vector<Diagnostic>& list() const { return list_; }
  void Clear() {
    list_.clear();
    positions_.clear();
  }

 private:
  std::vector<Diagnostic> list_;
  // Positions already reported through Add (file, line, column), so that Add stays O(log n).
  std::set<std::tuple<std::string, int, int>> positions_;
};

// `<file>:<line>:<col>: <message>` (the first line of a rendered diagnostic).
std::string FormatHeadline(const Diagnostic& d);

// The whole rendering: "Error: <headline>\n" followed, when `sources` has the file, by the
// source line(s) of the span numbered as Alloy prints them and a line of carets under the span.
// `sources` maps file name to its full text.
std::string Render(const Diagnostic& d, const std::map<std::string, std::string>& sources);

// Every diagnostic of `diags` rendered, separated by a blank line (Alloy's diag.Fprint).
std::string RenderAll(const Diags& diags, const std::map<std::string, std::string>& sources);

}  // namespace sluice::config
