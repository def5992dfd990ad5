// Internal to agent/metadata: reading Kubernetes JSON with simdjson (one DOM parse per list or
// watch event, never per log line), and the list and watch-event envelopes written once for every
// object type. An object type brings a decoder `void(simdjson::dom::element, T*)`.
//
// Pure functions; any thread.
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
#include "agent/metadata/kube_object.h"

namespace sluice::metadata::kube_json {

using simdjson::dom::element;

// e[key] as a string, "" when absent or not a string.
std::string Str(element e, std::string_view key);
// e[key] as a bool, false when absent or not a bool.
bool Bool(element e, std::string_view key);
// e[key] as an integer, 0 when absent or not an integer.
int64_t Int(element e, std::string_view key);
// e[key], an object of strings, as pairs sorted by key (non-string values skipped).
StringPairs StringMap(element e, std::string_view key);
// metadata.<key> of an object, "" without one.
std::string MetaStr(element obj, std::string_view key);
// name, labels and annotations of obj.metadata.
ObjectMeta Meta(element obj);

absl::Status JsonError(simdjson::error_code code, std::string_view what);
// Parses `json` into `*doc` (which lives as long as `parser`).
absl::Status ParseDoc(std::string_view json, std::string_view what, simdjson::dom::parser* parser,
                      simdjson::padded_string* padded, element* doc);

// A v1 list of `kind` ("PodList", ...): its items decoded into `out`, its resourceVersion into
// `resource_version` (may be null). An empty list may leave `items` out.
template <class T, class Decode>
absl::Status ParseList(std::string_view json, std::string_view kind, Decode decode,
                       std::vector<T>* out, std::string* resource_version) {
  out->clear();
  if (json.size() > kMaxKubeListBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat(Av(kind), " of ", json.size(), " bytes is larger than ", kMaxKubeListBytes));
  }
  simdjson::dom::parser parser;
  simdjson::padded_string padded;
  element doc;
  if (absl::Status st = ParseDoc(json, kind, &parser, &padded, &doc); !st.ok()) return st;
  std::string_view got;
  if (doc["kind"].get_string().get(got) == simdjson::SUCCESS && got != kind) {
    return absl::InvalidArgumentError(absl::StrCat("expected a ", Av(kind), ", got ", Av(got)));
  }
  if (resource_version != nullptr) *resource_version = MetaStr(doc, "resourceVersion");
  simdjson::dom::array items;
  auto err = doc["items"].get_array().get(items);
  if (err == simdjson::NO_SUCH_FIELD) return absl::OkStatus();
  if (err) return JsonError(err, absl::StrCat(Av(kind), " items"));
  for (element item : items) {
    T obj;
    decode(item, &obj);
    out->push_back(std::move(obj));
  }
  return absl::OkStatus();
}

// One watch-stream line: ERROR events carry a Status (code, message), BOOKMARK events only a
// resourceVersion; the others an object for `decode`.
template <class T, class Decode>
absl::Status ParseWatchEvent(std::string_view json, Decode decode, KubeWatchEvent<T>* out) {
  *out = KubeWatchEvent<T>();
  simdjson::dom::parser parser;
  simdjson::padded_string padded;
  element doc;
  if (absl::Status st = ParseDoc(json, "watch event", &parser, &padded, &doc); !st.ok()) return st;
  out->type = Str(doc, "type");
  element obj;
  if (auto err = doc["object"].get(obj); err) return JsonError(err, "watch event object");
  if (out->type == "ERROR") {
    out->code = Int(obj, "code");
    out->message = Str(obj, "message");
    return absl::OkStatus();
  }
  out->resource_version = MetaStr(obj, "resourceVersion");
  if (out->type != "BOOKMARK") decode(obj, &out->object);
  return absl::OkStatus();
}

}  // namespace sluice::metadata::kube_json
