#include "agent/source/journal_entry.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
#include "agent/go/json.h"

namespace sluice {
namespace {

constexpr std::string_view kLabelPrefix = "__journal_";

bool IsGoSpace(char c) {
  // strings.Fields splits on unicode.IsSpace; journal matches are ASCII.
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// sd-journal's journal_field_valid(allow_protected = true).
bool ValidFieldName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  if (name[0] >= '0' && name[0] <= '9') return false;
  for (char c : name) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseJournalMatches(std::string_view matches) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < matches.size()) {
    while (i < matches.size() && IsGoSpace(matches[i])) ++i;
    size_t start = i;
    while (i < matches.size() && !IsGoSpace(matches[i])) ++i;
    if (start == i) break;
    std::string_view m = matches.substr(start, i - start);
    size_t eq = m.find('=');
    if (eq == std::string_view::npos || !ValidFieldName(m.substr(0, eq))) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid journal match \"", Av(m),
                       "\": want FIELD=value, FIELD being 1 to 64 of A-Z, 0-9 and _ (not "
                       "starting with a digit)"));
    }
    out.emplace_back(m);
  }
  return out;
}

std::string_view JournalPriorityKeyword(std::string_view priority) {
  static constexpr std::string_view kKeywords[] = {"emerg",   "alert",  "crit", "error",
                                                   "warning", "notice", "info", "debug"};
  if (priority.size() == 1 && priority[0] >= '0' && priority[0] <= '7') {
    return kKeywords[priority[0] - '0'];
  }
  return priority;
}

namespace {
// Prometheus' labels.Builder.Set: an empty value deletes the label.
void SetOrDelete(LabelSet* labels, std::string_view name, std::string_view value) {
  if (value.empty()) {
    labels->Remove(name);
  } else {
    labels->Set(name, value);
  }
}
}  // namespace

void AddJournalLabels(const std::vector<JournalField>& fields, LabelSet* labels) {
  std::string name;
  for (const JournalField& f : fields) {
    if (f.name == "PRIORITY") {
      SetOrDelete(labels, "__journal_priority_keyword", JournalPriorityKeyword(f.value));
    }
    name.assign(kLabelPrefix);
    name.append(f.name);
    absl::AsciiStrToLower(&name);
    SetOrDelete(labels, name, f.value);
  }
}

std::string JournalFieldsJson(const std::vector<JournalField>& fields) {
  // Sorted by name, the last of equal names first after a stable sort of the reversed order:
  // Go's map keeps the last value assigned.
  std::vector<const JournalField*> order;
  order.reserve(fields.size());
  for (auto it = fields.rbegin(); it != fields.rend(); ++it) order.push_back(&*it);
  std::stable_sort(order.begin(), order.end(),
                   [](const JournalField* a, const JournalField* b) { return a->name < b->name; });
  std::string out = "{";
  const std::string* prev = nullptr;
  for (const JournalField* f : order) {
    if (prev != nullptr && *prev == f->name) continue;  // an earlier duplicate
    if (prev != nullptr) out.push_back(',');
    prev = &f->name;
    AppendGoJsonString(f->name, &out);
    out.push_back(':');
    AppendGoJsonString(f->value, &out);
  }
  out.push_back('}');
  return out;
}

LabelSet JournalBaseLabels(const std::map<std::string, std::string>& labels,
                           const std::string& component_id) {
  // job first, then `labels` over it: a `job` in `labels` wins, as in every Alloy release before
  // the tailer rewrite of a76fc4089a (which set job last) and in Promtail; the k8s-monitoring
  // chart's node-logs feature relies on it (job = "integrations/kubernetes/journal").
  LabelSet base;
  SetOrDelete(&base, "job", component_id);
  for (const auto& [k, v] : labels) SetOrDelete(&base, k, v);
  return base;
}

JournalVerdict MakeJournalEntry(const JournalEntryOptions& options,
                                const std::vector<JournalField>& fields, uint64_t realtime_usec,
                                ProcessEntry* out) {
  LabelSet labels = options.base;
  AddJournalLabels(fields, &labels);
  out->line.clear();
  if (options.format_as_json) {
    out->line = JournalFieldsJson(fields);
  } else {
    for (const JournalField& f : fields) {
      if (f.name == "MESSAGE") out->line = f.value;  // the last one, as Alloy's visit
    }
  }
  if (out->line.empty()) return JournalVerdict::kNoMessage;
  if (options.rules != nullptr && !options.rules->empty() && !Relabel(*options.rules, &labels)) {
    return JournalVerdict::kEmptyLabels;
  }
  LabelSet public_labels;
  for (const auto& [k, v] : labels.labels()) {
    if (!k.starts_with("__") && !v.empty()) public_labels.Set(k, v);
  }
  if (public_labels.empty()) return JournalVerdict::kEmptyLabels;
  out->labels = std::move(public_labels);
  out->timestamp_ns = static_cast<int64_t>(realtime_usec) * 1000;
  out->extracted.clear();
  out->structured_metadata.clear();
  return JournalVerdict::kSend;
}

}  // namespace sluice
