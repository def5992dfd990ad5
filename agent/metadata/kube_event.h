// core/v1 Events as loki.source.kubernetes_events reads and ships them: the fields Alloy's event
// handler uses, the list and watch envelopes (so KubeList/KubeWatch serve Events as they serve
// pods), Alloy's choice of timestamp and its rendering of an event as a log line.
//
// Facts from Alloy's internal/component/loki/source/kubernetes_events/event_controller.go:
//  - timestamp: lastTimestamp when set, else eventTime (series events), else Go's zero time
//    (which is never newer than the saved position, so such an event is never shipped);
//  - logfmt line: `name=<v> kind=<v> action=<v> objectAPIversion=<v> objectRV=<v> eventRV=<v>
//    reportinginstance=<v> reportingcontroller=<v> sourcecomponent=<v> sourcehost=<v> reason=<v>
//    type=<v> count=<n> msg=<Go-quoted message> ` — every field but name and msg only when not
//    empty (count when not 0), values unquoted, each followed by one space (so the line ends with
//    a space);
//  - json line: the same fields as one object with sorted keys (Go marshals a map), count a number;
//  - labels: namespace (of the involved object), job, instance (the component id);
//  - an event without an involved object name is an error (logged, not shipped).
//
// Plain values and pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/metadata/kube_object.h"

namespace sluice::metadata {

struct KubeEvent {
  std::string ns;  // metadata.namespace
  std::string name;
  std::string uid;
  std::string resource_version;
  // involvedObject
  std::string object_kind;
  std::string object_namespace;
  std::string object_name;
  std::string object_api_version;
  std::string object_resource_version;
  std::string action;
  std::string reason;
  std::string type;
  std::string message;
  std::string reporting_controller;  // JSON "reportingComponent"
  std::string reporting_instance;
  std::string source_component;
  std::string source_host;
  int64_t count = 0;
  // Unset timestamps are InfinitePast.
  absl::Time first_timestamp = absl::InfinitePast();
  absl::Time last_timestamp = absl::InfinitePast();
  absl::Time event_time = absl::InfinitePast();  // MicroTime
};

// A v1 EventList (resource_version may be null).
absl::Status ParseKubeList(std::string_view json, std::vector<KubeEvent>* out,
                           std::string* resource_version);
absl::Status ParseKubeWatchEvent(std::string_view json, KubeWatchEvent<KubeEvent>* out);
inline std::string KubeKey(const KubeEvent& e) { return e.ns + "/" + e.name; }

// Alloy's eventTimestamp: lastTimestamp, else eventTime; InfinitePast when neither is set.
absl::Time EventTimestamp(const KubeEvent& e);

enum class EventLogFormat { kLogfmt, kJson };

// The log line of `e` in Alloy's format; InvalidArgument ("no involved object for event") when
// the event has no involved object name.
absl::StatusOr<std::string> RenderEventLine(const KubeEvent& e, EventLogFormat format);

// A timestamp as Alloy saves it in the positions file: Unix microseconds (Go's UnixMicro; the
// zero time of an event without timestamps is far below any saved value).
int64_t EventMicros(absl::Time t);

}  // namespace sluice::metadata
