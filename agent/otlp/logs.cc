#include "agent/otlp/logs.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/common/strings.h"
#include "agent/go/json.h"
#include "agent/go/strconv.h"

namespace sluice::otlp {

AnyValue AnyValue::Bool(bool b) {
  AnyValue a;
  a.v = b;
  return a;
}
AnyValue AnyValue::Int(int64_t i) {
  AnyValue a;
  a.v = i;
  return a;
}
AnyValue AnyValue::Double(double d) {
  AnyValue a;
  a.v = d;
  return a;
}
AnyValue AnyValue::FromBytes(std::string b) {
  AnyValue a;
  a.v = Bytes{std::move(b)};
  return a;
}
AnyValue AnyValue::Array(std::vector<AnyValue> arr) {
  AnyValue a;
  a.v = std::make_shared<std::vector<AnyValue>>(std::move(arr));
  return a;
}
AnyValue AnyValue::Map(KeyValues kv) {
  AnyValue a;
  a.v = std::make_shared<KeyValues>(std::move(kv));
  return a;
}

const AnyValue* Find(const KeyValues& kv, std::string_view key) {
  for (const auto& [k, v] : kv) {
    if (k == key) return &v;
  }
  return nullptr;
}

void AnyValue::AppendJson(std::string* out) const {
  switch (v.index()) {
    case 0:
      out->append("null");
      return;
    case 1:
      AppendGoJsonString(std::get<1>(v), out, GoJson::kEncodingJson);
      return;
    case 2:
      out->append(std::get<2>(v) ? "true" : "false");
      return;
    case 3:
      absl::StrAppend(out, std::get<3>(v));
      return;
    case 4:
      AppendGoJsonNumber(std::get<4>(v), out);
      return;
    case 5:
      AppendGoJsonString(absl::Base64Escape(std::get<5>(v).data), out, GoJson::kEncodingJson);
      return;
    case 6: {
      out->push_back('[');
      bool first = true;
      for (const AnyValue& e : *std::get<6>(v)) {
        if (!first) out->push_back(',');
        first = false;
        e.AppendJson(out);
      }
      out->push_back(']');
      return;
    }
    case 7: {
      // Go's encoding/json writes a map with its keys sorted (a later duplicate wins, as AsRaw).
      std::map<std::string, const AnyValue*> sorted;
      for (const auto& [k, e] : *std::get<7>(v)) sorted[k] = &e;
      out->push_back('{');
      bool first = true;
      for (const auto& [k, e] : sorted) {
        if (!first) out->push_back(',');
        first = false;
        AppendGoJsonString(k, out, GoJson::kEncodingJson);
        out->push_back(':');
        e->AppendJson(out);
      }
      out->push_back('}');
      return;
    }
  }
}

std::string AnyValue::AsString() const {
  switch (v.index()) {
    case 0:
      return "";
    case 1:
      return std::get<1>(v);
    case 2:
      return std::get<2>(v) ? "true" : "false";
    case 3:
      return absl::StrCat(std::get<3>(v));
    case 4: {
      std::string out;
      AppendGoJsonNumber(std::get<4>(v), &out);
      return out;
    }
    case 5:
      return absl::Base64Escape(std::get<5>(v).data);
    default: {
      std::string out;
      AppendJson(&out);
      return out;
    }
  }
}

std::string SeverityName(int n) {
  static constexpr const char* kBase[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};
  if (n < 1 || n > 24) return "";
  int group = (n - 1) / 4, step = (n - 1) % 4;
  return step == 0 ? kBase[group] : absl::StrCat(kBase[group], step + 1);
}

std::string NormalizeLabel(std::string_view name) {
  // Runes: ASCII letters and digits are kept; any other byte sequence of one rune becomes one
  // '_' (multi-byte UTF-8 letters count as letters: kept).
  std::string out;
  for (size_t i = 0; i < name.size();) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x80) {
      out.push_back(absl::ascii_isalnum(c) ? static_cast<char>(c) : '_');
      ++i;
      continue;
    }
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    out.append(name.substr(i, len));
    i += len;
  }
  if (!out.empty() && absl::ascii_isdigit(static_cast<unsigned char>(out[0]))) {
    out = "key_" + out;
  }
  return out;
}

namespace {

constexpr char kAttributeHint[] = "loki.attribute.labels";
constexpr char kResourceHint[] = "loki.resource.labels";
constexpr char kTenantHint[] = "loki.tenant";
constexpr char kFormatHint[] = "loki.format";

void Erase(KeyValues& kv, std::string_view key) {
  kv.erase(std::remove_if(kv.begin(), kv.end(), [&](const auto& p) { return p.first == key; }),
           kv.end());
}

void Upsert(KeyValues& kv, const std::string& key, AnyValue v) {
  for (auto& [k, e] : kv) {
    if (k == key) {
      e = std::move(v);
      return;
    }
  }
  kv.emplace_back(key, std::move(v));
}

// The names a hint lists.
std::vector<std::string> HintNames(const AnyValue& hint) {
  std::vector<std::string> out;
  if (hint.v.index() == 1) {
    for (absl::string_view part : absl::StrSplit(std::get<1>(hint.v), ',')) {
      std::string name(absl::StripAsciiWhitespace(part));
      if (!name.empty()) out.push_back(std::move(name));
    }
  } else if (hint.v.index() == 6) {
    for (const AnyValue& e : *std::get<6>(hint.v)) out.push_back(e.AsString());
  } else if (!hint.empty()) {
    out.push_back(hint.AsString());
  }
  return out;
}

// An attribute by exact name, else by a dotted path into nested maps ("host.name").
const AnyValue* Lookup(const KeyValues& kv, std::string_view name) {
  if (const AnyValue* v = Find(kv, name)) return v;
  for (size_t dot = name.find('.'); dot != std::string_view::npos; dot = name.find('.', dot + 1)) {
    const AnyValue* head = Find(kv, name.substr(0, dot));
    if (head != nullptr && head->v.index() == 7) {
      if (const AnyValue* v = Lookup(*std::get<7>(head->v), name.substr(dot + 1))) return v;
    }
  }
  return nullptr;
}

std::string Hex(const std::string& bytes) {
  std::string out;
  static constexpr char kHex[] = "0123456789abcdef";
  bool zero = true;
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
    zero = zero && c == 0;
  }
  return zero ? "" : out;
}

// go-logfmt's value encoding: quoted (Go escapes) when it holds a space, '=', '"', a control
// character or invalid UTF-8; the empty value is written as nothing after '='.
void AppendLogfmtPair(std::string* out, std::string_view k, std::string_view v) {
  if (!out->empty()) out->push_back(' ');
  out->append(k);
  out->push_back('=');
  bool quote = false;
  for (unsigned char c : v) {
    if (c <= ' ' || c == '=' || c == '"' || c == 0x7f || c >= 0x80) {
      quote = true;
      break;
    }
  }
  if (quote) {
    AppendGoJsonString(v, out, GoJson::kEncodingJson);
  } else {
    out->append(v);
  }
}

// Flattens a value into logfmt pairs under `prefix` (maps: prefix_key, arrays: prefix_i).
void Flatten(std::vector<std::pair<std::string, std::string>>* kvs, const std::string& prefix,
             const AnyValue& v) {
  if (v.v.index() == 7) {
    for (const auto& [k, e] : *std::get<7>(v.v)) {
      Flatten(kvs, prefix.empty() ? k : absl::StrCat(prefix, "_", k), e);
    }
  } else if (v.v.index() == 6) {
    const auto& arr = *std::get<6>(v.v);
    for (size_t i = 0; i < arr.size(); ++i) {
      Flatten(kvs, absl::StrCat(prefix, "_", i), arr[i]);
    }
  } else {
    kvs->emplace_back(prefix, v.AsString());
  }
}

// go-logfmt's decoder over a string body: keys (no space, '=', '"'), optional =value (bare or
// quoted). false on what it refuses.
bool ParseLogfmt(std::string_view s, std::vector<std::pair<std::string, std::string>>* out) {
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    if (i >= s.size()) break;
    size_t k = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '=' && s[i] != '"') ++i;
    if (i == k || (i < s.size() && s[i] == '"')) return false;
    std::string key(s.substr(k, i - k));
    std::string value;
    if (i < s.size() && s[i] == '=') {
      ++i;
      if (i < s.size() && s[i] == '"') {
        std::string_view rest = s.substr(i);
        size_t end = 1;
        while (end < rest.size() && rest[end] != '"') end += rest[end] == '\\' ? 2 : 1;
        if (end >= rest.size()) return false;
        std::string unq;
        if (!GoUnquote(rest.substr(0, end + 1), &unq)) return false;
        value = std::move(unq);
        i += end + 1;
      } else {
        size_t v = i;
        while (i < s.size() && s[i] != ' ') {
          if (s[i] == '"' || s[i] == '=') return false;
          ++i;
        }
        value = std::string(s.substr(v, i - v));
      }
    }
    out->emplace_back(std::move(key), std::move(value));
  }
  return true;
}

std::string LogfmtLine(const LogRecord& r, const KeyValues& attrs, const KeyValues& resource,
                       const Scope& scope) {
  std::vector<std::pair<std::string, std::string>> kvs;
  switch (r.body.v.index()) {
    case 0:
      break;
    case 1:
      if (!ParseLogfmt(std::get<1>(r.body.v), &kvs)) {
        kvs.clear();
        kvs.emplace_back("msg", std::get<1>(r.body.v));
      }
      break;
    case 6:
      Flatten(&kvs, "body", r.body);
      break;
    case 7:
      Flatten(&kvs, "", r.body);
      break;
    default:
      kvs.emplace_back("msg", r.body.AsString());
  }
  auto set = [&kvs](const std::string& k, std::string v) {
    for (auto& [key, value] : kvs) {
      if (key == k) {
        value = std::move(v);
        return;
      }
    }
    kvs.emplace_back(k, std::move(v));
  };
  if (std::string t = Hex(r.trace_id); !t.empty()) set("traceID", t);
  if (std::string s = Hex(r.span_id); !s.empty()) set("spanID", s);
  if (!r.severity_text.empty()) set("severity", r.severity_text);
  if (r.flags != 0) set("flags", absl::StrCat(r.flags));
  for (const auto& [k, v] : attrs) Flatten(&kvs, "attribute_" + k, v);
  for (const auto& [k, v] : resource) Flatten(&kvs, "resource_" + k, v);
  if (!scope.name.empty()) {
    kvs.emplace_back("instrumentation_scope_name", scope.name);
    if (!scope.version.empty()) kvs.emplace_back("instrumentation_scope_version", scope.version);
  }
  std::string out;
  for (const auto& [k, v] : kvs) AppendLogfmtPair(&out, k, v);
  return out;
}

std::string JsonLine(const LogRecord& r, const KeyValues& attrs, const KeyValues& resource,
                     const Scope& scope) {
  std::string out = "{";
  auto field = [&out](std::string_view name) {
    if (out.size() > 1) out.push_back(',');
    absl::StrAppend(&out, "\"", Av(name), "\":");
  };
  if (!r.body.empty()) {
    field("body");
    r.body.AppendJson(&out);
  }
  if (std::string t = Hex(r.trace_id); !t.empty()) {
    field("traceid");
    absl::StrAppend(&out, "\"", t, "\"");
  }
  if (std::string s = Hex(r.span_id); !s.empty()) {
    field("spanid");
    absl::StrAppend(&out, "\"", s, "\"");
  }
  if (!r.severity_text.empty()) {
    field("severity");
    AppendGoJsonString(r.severity_text, &out, GoJson::kEncodingJson);
  }
  if (r.flags != 0) {
    field("flags");
    absl::StrAppend(&out, r.flags);
  }
  if (!attrs.empty()) {
    field("attributes");
    AnyValue::Map(attrs).AppendJson(&out);
  }
  if (!resource.empty()) {
    field("resources");
    AnyValue::Map(resource).AppendJson(&out);
  }
  if (!scope.name.empty()) {
    field("instrumentation_scope");
    out.append("{\"name\":");
    AppendGoJsonString(scope.name, &out, GoJson::kEncodingJson);
    if (!scope.version.empty()) {
      out.append(",\"version\":");
      AppendGoJsonString(scope.version, &out, GoJson::kEncodingJson);
    }
    out.push_back('}');
  }
  out.push_back('}');
  return out;
}

bool HasNonFinite(const AnyValue& v) {
  if (v.v.index() == 4) return !std::isfinite(std::get<4>(v.v));
  if (v.v.index() == 6) {
    for (const AnyValue& e : *std::get<6>(v.v)) {
      if (HasNonFinite(e)) return true;
    }
  }
  if (v.v.index() == 7) {
    for (const auto& [k, e] : *std::get<7>(v.v)) {
      if (HasNonFinite(e)) return true;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<ProcessEntry> LogToLokiEntry(const LogRecord& record, const KeyValues& resource_in,
                                            const Scope& scope, int64_t now_ns) {
  KeyValues attrs = record.attributes;
  KeyValues resource = resource_in;
  if (record.severity_number != 0) {
    if (Find(attrs, "level") == nullptr)
      Upsert(attrs, "level", SeverityName(record.severity_number));
    const AnyValue* hint = Find(attrs, kAttributeHint);
    if (hint == nullptr) {
      Upsert(attrs, kAttributeHint, "level");
    } else if (hint->v.index() == 6) {
      std::vector<AnyValue> names = *std::get<6>(hint->v);
      names.emplace_back("level");
      Upsert(attrs, kAttributeHint, AnyValue::Array(std::move(names)));
    } else {
      Upsert(attrs, kAttributeHint, absl::StrCat(hint->AsString(), ",level"));
    }
  }
  std::string format = "json";
  if (const AnyValue* f = Find(resource, kFormatHint)) {
    format = f->AsString();
  } else if (const AnyValue* f = Find(attrs, kFormatHint)) {
    format = f->AsString();
  }
  if (format != "json" && format != "logfmt" && format != "raw") {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid format ", format, ". Expected one of: json, logfmt, raw"));
  }

  // Labels, later ones winning: defaults, resource hints (on the resource, then on the
  // record), attribute hints (on the record).
  std::vector<std::pair<std::string, std::string>> labels;
  auto put = [&labels](const std::string& k, std::string v) {
    for (auto& [name, value] : labels) {
      if (name == k) {
        value = std::move(v);
        return;
      }
    }
    labels.emplace_back(k, std::move(v));
  };
  put("exporter", "OTLP");
  if (const AnyValue* name = Find(resource, "service.name")) {
    const AnyValue* ns = Find(resource, "service.namespace");
    put("job",
        ns != nullptr ? absl::StrCat(ns->AsString(), "/", name->AsString()) : name->AsString());
  }
  if (const AnyValue* inst = Find(resource, "service.instance.id"))
    put("instance", inst->AsString());
  auto hinted = [&](const KeyValues& hints_in, const KeyValues& values, const char* hint) {
    const AnyValue* h = Find(hints_in, hint);
    if (h == nullptr) return;
    for (const std::string& name : HintNames(*h)) {
      if (const AnyValue* v = Lookup(values, name)) put(name, v->AsString());
    }
  };
  hinted(resource, resource, kResourceHint);
  hinted(attrs, resource, kResourceHint);
  hinted(attrs, attrs, kAttributeHint);

  // What became a label leaves the line, with the hints.
  for (const auto& [name, value] : labels) {
    Erase(attrs, name);
    Erase(resource, name);
  }
  for (const char* h : {kAttributeHint, kResourceHint, kTenantHint, kFormatHint}) {
    Erase(attrs, h);
    Erase(resource, h);
  }

  ProcessEntry e;
  for (const auto& [name, value] : labels) e.labels.Set(NormalizeLabel(name), value);
  e.timestamp_ns = record.time_unix_nano != 0            ? record.time_unix_nano
                   : record.observed_time_unix_nano != 0 ? record.observed_time_unix_nano
                                                         : now_ns;
  if (format == "raw") {
    e.line = record.body.AsString();
  } else if (format == "logfmt") {
    e.line = LogfmtLine(record, attrs, resource, scope);
  } else {
    if (HasNonFinite(record.body)) {
      return absl::InvalidArgumentError("json: unsupported value: NaN or infinity in the body");
    }
    e.line = JsonLine(record, attrs, resource, scope);
  }
  return e;
}

}  // namespace sluice::otlp
