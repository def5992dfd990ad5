#include "agent/metadata/kube_event.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "agent/go/json.h"
#include "agent/go/strconv.h"
#include "agent/metadata/kube_json.h"

namespace sluice::metadata {
namespace {

// metav1.Time (RFC 3339, seconds) and metav1.MicroTime (6 fractional digits) both parse as
// RFC 3339 with an optional fraction; null or absent is unset.
absl::Time Timestamp(kube_json::element e, std::string_view key) {
  std::string_view v;
  if (e[key].get_string().get(v) != simdjson::SUCCESS || v.empty()) return absl::InfinitePast();
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(v), &t, &err)) return absl::InfinitePast();
  return t;
}

void DecodeEvent(kube_json::element e, KubeEvent* out) {
  using kube_json::Str;
  kube_json::element meta;
  if (e["metadata"].get(meta) == simdjson::SUCCESS) {
    out->ns = Str(meta, "namespace");
    out->name = Str(meta, "name");
    out->uid = Str(meta, "uid");
    out->resource_version = Str(meta, "resourceVersion");
  }
  kube_json::element obj;
  if (e["involvedObject"].get(obj) == simdjson::SUCCESS) {
    out->object_kind = Str(obj, "kind");
    out->object_namespace = Str(obj, "namespace");
    out->object_name = Str(obj, "name");
    out->object_api_version = Str(obj, "apiVersion");
    out->object_resource_version = Str(obj, "resourceVersion");
  }
  kube_json::element src;
  if (e["source"].get(src) == simdjson::SUCCESS) {
    out->source_component = Str(src, "component");
    out->source_host = Str(src, "host");
  }
  out->action = Str(e, "action");
  out->reason = Str(e, "reason");
  out->type = Str(e, "type");
  out->message = Str(e, "message");
  out->reporting_controller = Str(e, "reportingComponent");
  out->reporting_instance = Str(e, "reportingInstance");
  out->count = kube_json::Int(e, "count");
  out->first_timestamp = Timestamp(e, "firstTimestamp");
  out->last_timestamp = Timestamp(e, "lastTimestamp");
  out->event_time = Timestamp(e, "eventTime");
}

}  // namespace

absl::Status ParseKubeList(std::string_view json, std::vector<KubeEvent>* out,
                           std::string* resource_version) {
  return kube_json::ParseList(json, "EventList", DecodeEvent, out, resource_version);
}

absl::Status ParseKubeWatchEvent(std::string_view json, KubeWatchEvent<KubeEvent>* out) {
  return kube_json::ParseWatchEvent(json, DecodeEvent, out);
}

absl::Time EventTimestamp(const KubeEvent& e) {
  if (e.last_timestamp != absl::InfinitePast()) return e.last_timestamp;
  return e.event_time;
}

int64_t EventMicros(absl::Time t) {
  // Go's zero time (January 1, year 1 UTC) in Unix microseconds.
  constexpr int64_t kGoZeroMicros = -62135596800LL * 1000000;
  if (t == absl::InfinitePast()) return kGoZeroMicros;
  return absl::ToUnixMicros(t);
}

absl::StatusOr<std::string> RenderEventLine(const KubeEvent& e, EventLogFormat format) {
  if (e.object_name.empty()) return absl::InvalidArgumentError("no involved object for event");
  std::string count = std::to_string(e.count);
  // In Alloy's order; `always` fields are written even when empty.
  struct Field {
    const char* key;
    const std::string* value;
    bool always;
  };
  const Field fields[] = {
      {"name", &e.object_name, true},
      {"kind", &e.object_kind, false},
      {"action", &e.action, false},
      {"objectAPIversion", &e.object_api_version, false},
      {"objectRV", &e.object_resource_version, false},
      {"eventRV", &e.resource_version, false},
      {"reportinginstance", &e.reporting_instance, false},
      {"reportingcontroller", &e.reporting_controller, false},
      {"sourcecomponent", &e.source_component, false},
      {"sourcehost", &e.source_host, false},
      {"reason", &e.reason, false},
      {"type", &e.type, false},
      {"count", &count, false},
      {"msg", &e.message, true},
  };
  auto present = [&](const Field& f) {
    if (f.value == &count) return e.count != 0;
    return f.always || !f.value->empty();
  };
  std::string out;
  if (format == EventLogFormat::kLogfmt) {
    for (const Field& f : fields) {
      if (!present(f)) continue;
      absl::StrAppend(&out, f.key, "=");
      if (f.value == &e.message) {
        AppendGoQuoted(e.message, &out);
      } else {
        out += *f.value;
      }
      out += ' ';
    }
    return out;
  }
  // encoding/json of a map: keys in byte order.
  std::vector<const Field*> sorted;
  for (const Field& f : fields)
    if (present(f)) sorted.push_back(&f);
  std::sort(sorted.begin(), sorted.end(), [](const Field* a, const Field* b) {
    return std::string_view(a->key) < std::string_view(b->key);
  });
  out += '{';
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (i > 0) out += ',';
    AppendGoJsonString(sorted[i]->key, &out, GoJson::kEncodingJson);
    out += ':';
    if (sorted[i]->value == &count) {
      out += count;
    } else {
      AppendGoJsonString(*sorted[i]->value, &out, GoJson::kEncodingJson);
    }
  }
  out += '}';
  return out;
}

}  // namespace sluice::metadata
