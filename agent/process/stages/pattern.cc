// stage.pattern: Loki's pattern parser (`<ip> - - <_> "<method> <path> <_>"`) over the line or
// an extracted value, as Alloy's pattern stage: each named capture becomes an extracted value
// (and a label with labels_from_groups). Matching follows Loki's pkg/logql/log/pattern: a
// leading literal must start the input; each capture runs to the first occurrence of the
// literal after it; a literal not found ends the match with the capture taking the rest; `<_>`
// captures nothing. A pattern needs a named capture and no two captures in a row.
//
// Owned by its pipeline and run on that pipeline's thread, the tail thread (see stage.h).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/process/stage.h"
#include "agent/process/stages/registry.h"
#include "agent/process/stages/stage_util.h"

namespace sluice {
namespace {

using stage_util::StageErrors;

struct Node {
  bool capture = false;
  std::string text;  // the capture's name ("_": unnamed) or the literal bytes
};

// `<` letter-or-underscore (alnum or underscore)* `>` is a capture; every other byte is literal.
std::vector<Node> ParsePattern(std::string_view p) {
  std::vector<Node> out;
  size_t i = 0;
  while (i < p.size()) {
    if (p[i] == '<' && i + 1 < p.size() &&
        (absl::ascii_isalpha(static_cast<unsigned char>(p[i + 1])) || p[i + 1] == '_')) {
      size_t j = i + 1;
      while (j < p.size() &&
             (absl::ascii_isalnum(static_cast<unsigned char>(p[j])) || p[j] == '_')) {
        ++j;
      }
      if (j < p.size() && p[j] == '>') {
        out.push_back({true, std::string(p.substr(i + 1, j - i - 1))});
        i = j + 1;
        continue;
      }
    }
    if (out.empty() || out.back().capture) out.push_back({false, ""});
    out.back().text.push_back(p[i]);
    ++i;
  }
  return out;
}

class PatternStage final : public Stage {
 public:
  PatternStage(std::vector<Node> nodes, std::optional<std::string> source, bool labels)
      : nodes_(std::move(nodes)), source_(std::move(source)), labels_(labels) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    std::string value;
    std::string_view in = e.line;
    if (source_) {
      const ExtractedValue* v = stage_util::FindExtracted(e, *source_);
      if (v == nullptr || !v->ToString(&value)) {
        emit(std::move(e));
        return;
      }
      in = value;
    }
    Match(in);
    for (const auto& [name, text] : found_) {
      e.extracted[name] = ExtractedValue::String(std::string(text));
      if (labels_ && stage_util::ValidLabelValue(text)) e.labels.Set(name, text);
    }
    emit(std::move(e));
  }

 private:
  void Match(std::string_view in) {
    found_.clear();
    if (in.empty() || nodes_.empty()) return;
    size_t k = 0;
    if (!nodes_[0].capture) {
      if (in.substr(0, nodes_[0].text.size()) != nodes_[0].text) return;
      in.remove_prefix(nodes_[0].text.size());
      k = 1;
    }
    if (k == nodes_.size()) return;
    while (k < nodes_.size()) {
      const Node& capt = nodes_[k];
      const bool named = capt.text != "_";
      if (k + 1 == nodes_.size()) {
        if (named) found_.emplace_back(capt.text, in);
        return;
      }
      const std::string& lit = nodes_[k + 1].text;
      k += 2;
      size_t at = in.find(lit);
      if (at == std::string_view::npos) {
        if (named) found_.emplace_back(capt.text, in);
        return;
      }
      if (named) found_.emplace_back(capt.text, in.substr(0, at));
      in.remove_prefix(at + lit.size());
    }
  }

  const std::vector<Node> nodes_;
  const std::optional<std::string> source_;
  const bool labels_;
  std::vector<std::pair<std::string, std::string_view>> found_;  // reused
};

}  // namespace

std::unique_ptr<Stage> NewPatternStage(config::Decoder& d, const StageContext& ctx) {
  (void)ctx;
  StageErrors errs(d);
  std::string pattern, s;
  std::optional<std::string> source;
  bool labels = false;
  d.String("pattern", &pattern, config::Required::kYes);
  if (d.String("source", &s)) {
    source = s;
    if (s.empty()) errs.At("source", "empty source");
  }
  d.Bool("labels_from_groups", &labels);
  std::vector<Node> nodes = ParsePattern(pattern);
  if (d.Get("pattern") != nullptr) {
    if (pattern.empty()) {
      errs.At("pattern", "pattern is required");
    } else {
      std::vector<std::string> names;
      for (const Node& n : nodes) {
        if (n.capture && n.text != "_") names.push_back(n.text);
      }
      std::string error;
      if (names.empty()) error = "at least one capture is required";
      // Loki checks the pairs at even positions only.
      for (size_t i = 0; error.empty() && i + 1 < nodes.size(); i += 2) {
        if (nodes[i].capture && nodes[i + 1].capture) {
          error = "found consecutive capture: invalid expression";
        }
      }
      for (size_t i = 0; error.empty() && i < names.size(); ++i) {
        for (size_t j = 0; j < i; ++j) {
          if (names[i] == names[j]) {
            error = absl::StrCat("duplicate capture name (", names[i], "): invalid expression");
          }
        }
      }
      if (!error.empty()) errs.At("pattern", absl::StrCat("failed to parse pattern: ", error));
    }
  }
  if (!errs.Finish()) return nullptr;
  return std::make_unique<PatternStage>(std::move(nodes), std::move(source), labels);
}

}  // namespace sluice
