// KubeEvent: parsing of the API server's Event JSON, Alloy's timestamp choice and line rendering
// (internal/component/loki/source/kubernetes_events/event_controller.go).
#include "agent/metadata/kube_event.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/fake_kube.h"

namespace sluice::metadata {
namespace {

KubeEvent Parse(const testing::FakeEvent& fe) {
  std::vector<KubeEvent> events;
  std::string rv;
  absl::Status st = ParseKubeList(testing::EventListJson({fe}, "42"), &events, &rv);
  EXPECT_TRUE(st.ok()) << st;
  EXPECT_EQ(rv, "42");
  EXPECT_EQ(events.size(), 1u);
  return events.empty() ? KubeEvent() : events[0];
}

testing::FakeEvent Full() {
  testing::FakeEvent e;
  e.ns = "shop";
  e.name = "web-1.17c";
  e.involved_kind = "Pod";
  e.involved_name = "web-1";
  e.involved_api_version = "v1";
  e.involved_resource_version = "555";
  e.reason = "BackOff";
  e.message = "Back-off restarting failed container \"app\"";
  e.type = "Warning";
  e.source_component = "kubelet";
  e.source_host = "node-a";
  e.action = "Restarting";
  e.reporting_component = "kubelet";
  e.reporting_instance = "node-a";
  e.count = 7;
  e.first_timestamp = "2024-05-01T10:00:00Z";
  e.last_timestamp = "2024-05-01T10:05:00Z";
  e.resource_version = "1234";
  return e;
}

TEST(KubeEventTest, ParsesTheFieldsAlloyReads) {
  KubeEvent e = Parse(Full());
  EXPECT_EQ(e.ns, "shop");
  EXPECT_EQ(e.name, "web-1.17c");
  EXPECT_EQ(e.resource_version, "1234");
  EXPECT_EQ(e.object_kind, "Pod");
  EXPECT_EQ(e.object_namespace, "shop");
  EXPECT_EQ(e.object_name, "web-1");
  EXPECT_EQ(e.object_resource_version, "555");
  EXPECT_EQ(e.reporting_controller, "kubelet");
  EXPECT_EQ(e.reporting_instance, "node-a");
  EXPECT_EQ(e.count, 7);
  EXPECT_EQ(e.event_time, absl::InfinitePast());  // null
  EXPECT_EQ(e.last_timestamp, absl::FromUnixSeconds(1714557900));
}

TEST(KubeEventTest, TimestampIsLastTimestampElseEventTime) {
  testing::FakeEvent fe = Full();
  EXPECT_EQ(EventTimestamp(Parse(fe)), absl::FromUnixSeconds(1714557900));
  fe.last_timestamp = "";
  fe.first_timestamp = "";
  fe.event_time = "2024-05-01T10:06:00.123456Z";
  EXPECT_EQ(EventMicros(EventTimestamp(Parse(fe))), 1714557960123456);
  // firstTimestamp alone is not used (Alloy): Go's zero time, never newer than a position.
  fe.event_time = "";
  fe.first_timestamp = "2024-05-01T10:00:00Z";
  EXPECT_EQ(EventTimestamp(Parse(fe)), absl::InfinitePast());
  EXPECT_LT(EventMicros(EventTimestamp(Parse(fe))), 0);
}

TEST(KubeEventTest, LogfmtLineAsAlloy) {
  absl::StatusOr<std::string> line = RenderEventLine(Parse(Full()), EventLogFormat::kLogfmt);
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(*line,
            "name=web-1 kind=Pod action=Restarting objectAPIversion=v1 objectRV=555 eventRV=1234 "
            "reportinginstance=node-a reportingcontroller=kubelet sourcecomponent=kubelet "
            "sourcehost=node-a reason=BackOff type=Warning count=7 "
            "msg=\"Back-off restarting failed container \\\"app\\\"\" ");
}

TEST(KubeEventTest, LogfmtLeavesOutEmptyFieldsButNameAndMsg) {
  KubeEvent e;
  e.object_name = "n";
  absl::StatusOr<std::string> line = RenderEventLine(e, EventLogFormat::kLogfmt);
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(*line, "name=n msg=\"\" ");
  e.message = "tab\there é";
  EXPECT_EQ(*RenderEventLine(e, EventLogFormat::kLogfmt), "name=n msg=\"tab\\there é\" ");
}

TEST(KubeEventTest, JsonLineHasSortedKeysAndNumericCount) {
  absl::StatusOr<std::string> line = RenderEventLine(Parse(Full()), EventLogFormat::kJson);
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(*line,
            "{\"action\":\"Restarting\",\"count\":7,\"eventRV\":\"1234\",\"kind\":\"Pod\","
            "\"msg\":\"Back-off restarting failed container \\\"app\\\"\",\"name\":\"web-1\","
            "\"objectAPIversion\":\"v1\",\"objectRV\":\"555\",\"reason\":\"BackOff\","
            "\"reportingcontroller\":\"kubelet\",\"reportinginstance\":\"node-a\","
            "\"sourcecomponent\":\"kubelet\",\"sourcehost\":\"node-a\",\"type\":\"Warning\"}");
  KubeEvent e;
  e.object_name = "a<b>&";
  EXPECT_EQ(*RenderEventLine(e, EventLogFormat::kJson),
            "{\"msg\":\"\",\"name\":\"a\\u003cb\\u003e\\u0026\"}");
}

TEST(KubeEventTest, NoInvolvedObjectIsAnError) {
  KubeEvent e;
  absl::StatusOr<std::string> line = RenderEventLine(e, EventLogFormat::kLogfmt);
  ASSERT_FALSE(line.ok());
  EXPECT_EQ(line.status().message(), "no involved object for event");
}

TEST(KubeEventTest, WatchEventsAndErrors) {
  KubeWatchEvent<KubeEvent> ev;
  ASSERT_TRUE(
      ParseKubeWatchEvent(
          absl::StrCat("{\"type\":\"MODIFIED\",\"object\":", testing::EventJson(Full()), "}"), &ev)
          .ok());
  EXPECT_EQ(ev.type, "MODIFIED");
  EXPECT_EQ(ev.resource_version, "1234");
  EXPECT_EQ(ev.object.object_name, "web-1");
  ASSERT_TRUE(ParseKubeWatchEvent(absl::StrCat("{\"type\":\"ERROR\",\"object\":",
                                               testing::StatusJson(410, "too old"), "}"),
                                  &ev)
                  .ok());
  EXPECT_EQ(ev.code, 410);
  EXPECT_FALSE(ParseKubeWatchEvent("{not json", &ev).ok());
}

}  // namespace
}  // namespace sluice::metadata
