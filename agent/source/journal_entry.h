// Journal entries as loki.source.journal turns them into log entries, the way Alloy's tailer
// (internal/component/loki/source/journal/tailer.go) does:
//
// - every field FOO of the entry becomes the label `__journal_foo` (the name lower-cased); a
//   PRIORITY field also gives `__journal_priority_keyword` (emerg .. debug); a field given twice
//   keeps its last value, and a field with an empty value is no label (Prometheus' label builder
//   deletes a label set to "");
// - `job` = the component id comes first, then the component's labels (a `job` among them wins:
//   see JournalBaseLabels), then the fields;
// - the line is the MESSAGE field, or with format_as_json every field as a JSON object (keys
//   sorted, json-iterator's escaping); an entry without a (non-empty) MESSAGE is not sent
//   (counted as no_message);
// - relabel_rules run over all of that; the labels starting with "__" are then dropped, and an
//   entry whose rules dropped it or left no labels is not sent (counted as empty_labels);
// - the timestamp is the entry's realtime (the time journald received it).
//
// Pure functions and immutable options: any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/pipeline/labels.h"
#include "agent/process/stage.h"
#include "agent/relabel/relabel.h"

namespace sluice {

struct JournalField {
  std::string name;   // "MESSAGE", "_SYSTEMD_UNIT"
  std::string value;  // bytes as journald stored them (not necessarily UTF-8)
};

// The `matches` argument as Alloy splits it (strings.Fields: runs of white space), each checked
// as sd_journal_add_match checks it: FIELD=value with FIELD 1-64 characters of A-Z, 0-9 and _,
// not starting with a digit. InvalidArgument names the first bad match.
absl::StatusOr<std::vector<std::string>> ParseJournalMatches(std::string_view matches);

// The keyword of a syslog priority ("3" -> "error"); anything else is returned as it is.
std::string_view JournalPriorityKeyword(std::string_view priority);

// Adds the `__journal_*` labels of `fields` to *labels (see above).
void AddJournalLabels(const std::vector<JournalField>& fields, LabelSet* labels);

// Every field as one JSON object, as Alloy marshals its map[string]string (keys sorted by bytes,
// the last of duplicate fields wins, json-iterator's string escaping).
std::string JournalFieldsJson(const std::vector<JournalField>& fields);

struct JournalEntryOptions {
  LabelSet base;                         // the component's `labels` plus job = <component id>
  std::shared_ptr<const RuleSet> rules;  // relabel_rules; null or empty for none
  bool format_as_json = false;
};

// The job label and the component's `labels`, with which every entry's labels start.
LabelSet JournalBaseLabels(const std::map<std::string, std::string>& labels,
                           const std::string& component_id);

enum class JournalVerdict {
  kSend,         // *out holds the entry
  kNoMessage,    // Alloy's parsing error "no_message"
  kEmptyLabels,  // Alloy's parsing error "empty_labels" (dropped by the rules, or no labels)
};

// Builds the log entry of one journal entry into *out (labels, line, timestamp).
JournalVerdict MakeJournalEntry(const JournalEntryOptions& options,
                                const std::vector<JournalField>& fields, uint64_t realtime_usec,
                                ProcessEntry* out);

}  // namespace sluice
