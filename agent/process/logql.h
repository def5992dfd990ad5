// The LogQL subset of stage.match's `selector`: a stream selector followed by line filters.
//
//   {app="api", env!="dev", pod=~"web-.*", ns!~"kube-.*"} |= "error" != "debug" |~ "5\\d\\d"
//
// Alloy parses it with a small grammar inherited from Loki's client (not full LogQL): label
// matchers = != =~ !~ with double-quoted Go strings, and chained line filters |= (contains),
// != (does not contain), |~ (regex finds a match), !~ (regex finds none). Label filters and
// parsers (`| json`, `| level="x"`) are syntax errors. Label regexes are anchored (Prometheus
// matchers: the whole value must match, "." matches newlines); line regexes are not. A missing
// label matches as the empty string. Errors read as Alloy's: "parse error at line 1, col 11:
// syntax error: unexpected $end, expecting } or ,".
//
// Immutable after Parse; safe to share between threads (RE2 is thread-safe).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/pipeline/labels.h"
#include "re2/re2.h"

namespace sluice {

enum class LogqlMatchType { kEqual, kNotEqual, kRegexp, kNotRegexp };

struct LogqlLabelMatcher {
  LogqlMatchType type = LogqlMatchType::kEqual;
  std::string name;
  std::string value;
  std::shared_ptr<const RE2> re;  // kRegexp / kNotRegexp: the value, anchored

  bool Matches(std::string_view label_value) const;
};

struct LogqlLineFilter {
  LogqlMatchType type = LogqlMatchType::kEqual;  // |= is kEqual, |~ kRegexp, != and !~ negated
  std::string match;
  std::shared_ptr<const RE2> re;  // set by CompileFilters() for the regex types

  bool Matches(std::string_view line) const;
};

class LogqlSelector {
 public:
  // Parses the selector and its line filters (syntax only; label regexes are compiled here, line
  // filter regexes by CompileFilters(), as Alloy reports them at a later step and with another
  // message).
  static absl::StatusOr<LogqlSelector> Parse(std::string_view input);

  // Compiles the line filters' regexes; the error is the regex's ("error parsing regexp: ...").
  absl::Status CompileFilters();

  bool MatchesLabels(const LabelSet& labels) const;
  // All line filters hold (true when there are none).
  bool MatchesLine(std::string_view line) const;
  bool Matches(const LabelSet& labels, std::string_view line) const {
    return MatchesLabels(labels) && MatchesLine(line);
  }

  const std::vector<LogqlLabelMatcher>& matchers() const { return matchers_; }
  const std::vector<LogqlLineFilter>& filters() const { return filters_; }

 private:
  std::vector<LogqlLabelMatcher> matchers_;
  std::vector<LogqlLineFilter> filters_;
};

}  // namespace sluice
