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

#include "absl/functional/function_ref.h"
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

// The members of a JSON object, split at its top level without parsing their values: member(key,
// value) for each (key as written between its quotes; value its JSON text), except that the
// elements of an array-valued "items" go one by one to item(element). Checks the object's own
// syntax (quotes, colons, commas, nesting, nothing after it) and that the text is UTF-8; the
// values' own syntax is for the caller's parser. Stops at the first error a callback returns.
absl::Status SplitList(std::string_view json, std::string_view what,
                       absl::FunctionRef<absl::Status(std::string_view, std::string_view)> member,
                       absl::FunctionRef<absl::Status(std::string_view)> item);

// Parses the JSON text `json` with `parser` (whose buffers are reused from one call to the next).
absl::Status ParseSpan(std::string_view json, std::string_view what, simdjson::dom::parser* parser,
                       element* out);

// A v1 list of `kind` ("PodList", ...): its items decoded into `out`, its resourceVersion into
// `resource_version` (may be null). An empty list may leave `items` out.
//
// The list is split at its top level and each item parsed on its own with one parser: a DOM of
// the whole list costs about ten times its size (a node's pod list at 1000 containers: 7 MiB at
// once on the discovery thread), an item's DOM only that of the largest item.
template <class T, class Decode>
absl::Status ParseList(std::string_view json, std::string_view kind, Decode decode,
                       std::vector<T>* out, std::string* resource_version) {
  out->clear();
  if (json.size() > kMaxKubeListBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat(Av(kind), " of ", json.size(), " bytes is larger than ", kMaxKubeListBytes));
  }
  simdjson::dom::parser parser;
  if (resource_version != nullptr) resource_version->clear();
  absl::Status st = SplitList(
      json, kind,
      [&](std::string_view key, std::string_view value) -> absl::Status {
        element e;
        if (absl::Status st = ParseSpan(value, kind, &parser, &e); !st.ok()) return st;
        std::string_view got;
        if (key == "kind" && e.get_string().get(got) == simdjson::SUCCESS && got != kind) {
          return absl::InvalidArgumentError(
              absl::StrCat("expected a ", Av(kind), ", got ", Av(got)));
        }
        if (key == "metadata" && resource_version != nullptr) {
          *resource_version = Str(e, "resourceVersion");
        }
        if (key == "items" && !e.is_null()) {
          return absl::InvalidArgumentError(
              absl::StrCat("cannot parse ", Av(kind),
                           " items: ", simdjson::error_message(simdjson::INCORRECT_TYPE)));
        }
        return absl::OkStatus();
      },
      [&](std::string_view text) -> absl::Status {
        element e;
        if (absl::Status st = ParseSpan(text, kind, &parser, &e); !st.ok()) return st;
        T obj;
        decode(e, &obj);
        out->push_back(std::move(obj));
        return absl::OkStatus();
      });
  if (!st.ok()) out->clear();
  return st;
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
