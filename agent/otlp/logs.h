// OTLP logs as the OpenTelemetry collector's pdata holds them (resource, scope, record), and
// their conversion to Loki entries as otelcol.exporter.loki does it (the contrib translator
// pkg/translator/loki, LogToLokiEntry): labels from the default resource attributes and the
// loki.* hints, the line as json (default), logfmt or raw, the record's time. The model is what
// an OTLP receiver fills; the converter is a pure function, any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/process/stage.h"

namespace sluice::otlp {

// pcommon.Value: empty, string, bool, int, double, bytes, array or map (insertion order kept,
// as pcommon.Map; JSON output sorts keys as Go's encoding/json does for a map).
struct AnyValue;
using KeyValues = std::vector<std::pair<std::string, AnyValue>>;
struct Bytes {
  std::string data;
};
struct AnyValue {
  std::variant<std::monostate, std::string, bool, int64_t, double, Bytes,
               std::shared_ptr<std::vector<AnyValue>>, std::shared_ptr<KeyValues>>
      v;

  AnyValue() = default;
  AnyValue(std::string s) : v(std::move(s)) {}    // NOLINT: a string value is the usual one
  AnyValue(const char* s) : v(std::string(s)) {}  // NOLINT
  static AnyValue Bool(bool b);
  static AnyValue Int(int64_t i);
  static AnyValue Double(double d);
  static AnyValue FromBytes(std::string b);
  static AnyValue Array(std::vector<AnyValue> a);
  static AnyValue Map(KeyValues kv);

  bool empty() const { return v.index() == 0; }
  // pcommon.Value.AsString: strings as is, numbers and bools as Go prints them, bytes as
  // base64, arrays and maps as JSON.
  std::string AsString() const;
  // Go encoding/json of Value.AsRaw().
  void AppendJson(std::string* out) const;
};

const AnyValue* Find(const KeyValues& kv, std::string_view key);

struct LogRecord {
  int64_t time_unix_nano = 0;
  int64_t observed_time_unix_nano = 0;
  int severity_number = 0;  // 0: unspecified; 1..24 TRACE..FATAL4
  std::string severity_text;
  AnyValue body;
  KeyValues attributes;
  std::string trace_id;  // 16 bytes or empty
  std::string span_id;   // 8 bytes or empty
  uint32_t flags = 0;
};

struct Scope {
  std::string name;
  std::string version;
  KeyValues attributes;
};

struct ScopeLogs {
  Scope scope;
  std::vector<LogRecord> records;
};

struct ResourceLogs {
  KeyValues resource;
  std::vector<ScopeLogs> scopes;
};

using Logs = std::vector<ResourceLogs>;

// The severity number's name ("INFO", "WARN2"), "" for 0 or out of range.
std::string SeverityName(int number);

// Prometheus' label name normalisation as the translator applies it: every rune that is not a
// letter or digit becomes '_'; a leading digit gets "key_".
std::string NormalizeLabel(std::string_view name);

// One record as otelcol.exporter.loki turns it into an entry; `now_ns` when the record has no
// time. InvalidArgument for an unknown loki.format (`invalid format x. Expected one of: json,
// logfmt, raw`) or a body JSON cannot hold.
absl::StatusOr<ProcessEntry> LogToLokiEntry(const LogRecord& record, const KeyValues& resource,
                                            const Scope& scope, int64_t now_ns);

// Where an OTLP pipeline hands logs (an otelcol.Consumer capsule: a component's `input`).
// Tail thread.
class LogsConsumer {
 public:
  virtual ~LogsConsumer() = default;
  virtual void ConsumeLogs(const Logs& logs) = 0;
};

}  // namespace sluice::otlp
