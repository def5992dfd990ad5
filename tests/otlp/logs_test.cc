// OTLP log records to Loki entries as otelcol.exporter.loki converts them (the contrib
// translator's rules and the cases of Alloy's and the translator's own tests), and the
// component: its `input` consumer converts, counts and forwards.
#include "agent/otlp/logs.h"

#include <gtest/gtest.h>

#include "agent/components/builders.h"
#include "agent/config/module.h"

namespace sluice::otlp {
namespace {

TEST(OtlpLogsTest, AttributeHintSeverityAndJsonLine) {
  // Alloy's otelcol.exporter.loki test.
  LogRecord r;
  r.body = "AUTH log message";
  r.severity_number = 9;
  r.severity_text = "Info";
  r.time_unix_nano = 1'700'000'000'000'000'000;
  r.attributes = {{"attr_1", AnyValue::Int(12345)},
                  {"attr.2", "fake_token"},
                  {"loki.attribute.labels", "attr_1"}};
  absl::StatusOr<ProcessEntry> e = LogToLokiEntry(r, {}, {}, 1);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->labels.RenderLoki(), "{attr_1=\"12345\", exporter=\"OTLP\", level=\"INFO\"}");
  EXPECT_EQ(e->line,
            "{\"body\":\"AUTH log message\",\"severity\":\"Info\",\"attributes\":{\"attr.2\":"
            "\"fake_token\"}}");
  EXPECT_EQ(e->timestamp_ns, 1'700'000'000'000'000'000);
}

LogRecord ContribRecord() {
  LogRecord r;
  r.body = "Example log";
  r.severity_text = "error";
  r.trace_id = std::string("\x01\x02\x03\x04", 4) + std::string(12, '\0');
  r.span_id = std::string("\x05\x06\x07\x08", 4) + std::string(4, '\0');
  r.attributes = {{"attr1", "1"}, {"attr2", "2"}};
  r.observed_time_unix_nano = 42;
  return r;
}

TEST(OtlpLogsTest, JsonLineWithTraceResourceAndScope) {
  Scope scope{"example-logger-name", "v1", {}};
  absl::StatusOr<ProcessEntry> e =
      LogToLokiEntry(ContribRecord(), {{"host.name", "something"}}, scope, 1);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->line,
            "{\"body\":\"Example log\",\"traceid\":\"01020304000000000000000000000000\","
            "\"spanid\":\"0506070800000000\",\"severity\":\"error\",\"attributes\":{\"attr1\":"
            "\"1\",\"attr2\":\"2\"},\"resources\":{\"host.name\":\"something\"},"
            "\"instrumentation_scope\":{\"name\":\"example-logger-name\",\"version\":\"v1\"}}");
  EXPECT_EQ(e->labels.RenderLoki(), "{exporter=\"OTLP\"}");
  EXPECT_EQ(e->timestamp_ns, 42) << "the observed time when the record has none";
}

TEST(OtlpLogsTest, LogfmtAndRawFormats) {
  Scope scope{"example-logger-name", "v1", {}};
  LogRecord r = ContribRecord();
  r.attributes.emplace_back("loki.format", "logfmt");
  absl::StatusOr<ProcessEntry> e = LogToLokiEntry(r, {{"host.name", "something"}}, scope, 1);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->line,
            "Example= log= traceID=01020304000000000000000000000000 spanID=0506070800000000 "
            "severity=error attribute_attr1=1 attribute_attr2=2 resource_host.name=something "
            "instrumentation_scope_name=example-logger-name instrumentation_scope_version=v1");
  r.body = "msg=\"hello world\" user=bob";
  e = LogToLokiEntry(r, {}, {}, 1);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->line.substr(0, 37), "msg=\"hello world\" user=bob traceID=01");
  r.body = AnyValue::Map({{"a", AnyValue::Map({{"b", AnyValue::Int(1)}})}, {"c", "x y"}});
  e = LogToLokiEntry(r, {}, {}, 1);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->line.substr(0, 18), "a_b=1 c=\"x y\" trac");

  r.attributes.back().second = "raw";
  e = LogToLokiEntry(r, {}, {}, 1);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->line, "{\"a\":{\"b\":1},\"c\":\"x y\"}");
  r.attributes.back().second = "xml";
  EXPECT_EQ(LogToLokiEntry(r, {}, {}, 1).status().message(),
            "invalid format xml. Expected one of: json, logfmt, raw");
}

TEST(OtlpLogsTest, DefaultLabelsResourceHintsDottedPathsAndNormalisation) {
  KeyValues resource = {{"service.name", "checkout"},
                        {"service.namespace", "shop"},
                        {"service.instance.id", "pod-1"},
                        {"k8s", AnyValue::Map({{"pod.name", "pod-1"}})},
                        {"2region", "eu"},
                        {"loki.resource.labels", "k8s.pod.name, 2region"}};
  LogRecord r;
  r.body = "x";
  r.severity_number = 13;
  r.attributes = {{"level", "custom"}};
  absl::StatusOr<ProcessEntry> e = LogToLokiEntry(r, resource, {}, 7);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(
      e->labels.RenderLoki(),
      "{exporter=\"OTLP\", instance=\"pod-1\", job=\"shop/checkout\", k8s_pod_name=\"pod-1\", "
      "key_2region=\"eu\", level=\"custom\"}");
  // Attributes named like a label and the hints leave the line; the rest stays (the default
  // labels' sources too: they are not named like their label).
  EXPECT_EQ(e->line,
            "{\"body\":\"x\",\"resources\":{\"k8s\":{\"pod.name\":\"pod-1\"},"
            "\"service.instance.id\":\"pod-1\",\"service.name\":\"checkout\","
            "\"service.namespace\":\"shop\"}}");
  EXPECT_EQ(e->timestamp_ns, 7);
  EXPECT_EQ(SeverityName(13), "WARN");
  EXPECT_EQ(SeverityName(24), "FATAL4");
  EXPECT_EQ(NormalizeLabel("host.name"), "host_name");
}

TEST(OtlpLogsTest, ValuesAsGoPrintsThem) {
  EXPECT_EQ(AnyValue::Double(1.5).AsString(), "1.5");
  EXPECT_EQ(AnyValue::Double(1e21).AsString(), "1e+21");
  EXPECT_EQ(AnyValue::Bool(true).AsString(), "true");
  EXPECT_EQ(AnyValue::FromBytes("hi").AsString(), "aGk=");
  EXPECT_EQ(AnyValue::Array({AnyValue::Int(1), "a<b", AnyValue()}).AsString(),
            "[1,\"a\\u003cb\",null]");
}

class Collect final : public LogsNode {
 public:
  void Push(ProcessEntry& e) override { got.push_back(e); }
  void PushMark(uint64_t, uint64_t, int64_t) override {}
  std::vector<ProcessEntry> got;
};

TEST(OtelcolExporterLokiTest, InputConvertsCountsAndForwards) {
  config::Registry registry;
  registry.components = {"otelcol.exporter.loki", "loki.write"};
  config::Diags diags;
  std::optional<config::Module> m =
      config::Module::Parse("c.alloy",
                            "otelcol.exporter.loki \"d\" {\n  forward_to = [loki.write.a.receiver, "
                            "loki.write.b.receiver]\n}\nloki.write \"a\" {}\nloki.write \"b\" {}\n",
                            registry, &diags);
  ASSERT_TRUE(m.has_value());
  for (const char* id : {"loki.write.a", "loki.write.b"}) {
    config::Object o;
    o["receiver"] = config::Value::MakeCapsule({"loki.LogsReceiver", id});
    m->SetExports(id, config::Value::MakeObject(std::move(o)));
  }
  Collect a, b;
  FakeClock clock;
  MetricsRegistry metrics;
  ComponentEnv env;
  env.clock = &clock;
  env.metrics = &metrics;
  env.module = &*m;
  env.receivers["loki.write.a"] = &a;
  env.receivers["loki.write.b"] = &b;
  const config::Component* c = m->Find("otelcol.exporter.loki.d");
  config::Block args;
  ASSERT_TRUE(m->Evaluate(*c, &args, &diags));
  std::unique_ptr<Component> comp = BuildOtelcolExporterLoki(*c, args, env, &diags);
  ASSERT_NE(comp, nullptr);
  EXPECT_EQ(m->Exports("otelcol.exporter.loki.d")->as_object().at("input").as_capsule().type,
            "otelcol.Consumer");
  ASSERT_EQ(env.otlp_consumers.count("otelcol.exporter.loki.d"), 1u);
  Logs logs(1);
  logs[0].resource = {{"service.name", "api"}};
  logs[0].scopes.resize(1);
  LogRecord ok;
  ok.body = "fine";
  LogRecord bad;
  bad.attributes = {{"loki.format", "xml"}};
  logs[0].scopes[0].records = {ok, bad};
  env.otlp_consumers["otelcol.exporter.loki.d"]->ConsumeLogs(logs);
  ASSERT_EQ(a.got.size(), 1u);
  ASSERT_EQ(b.got.size(), 1u);
  EXPECT_EQ(b.got[0].labels.RenderLoki(), "{exporter=\"OTLP\", job=\"api\"}");
  EXPECT_EQ(a.got[0].timestamp_ns, clock.NowUnixNanos());
  MetricLabels l = ComponentLabels("otelcol.exporter.loki.d");
  EXPECT_EQ(metrics.CounterValue("otelcol_exporter_loki_entries_total", l), 2u);
  EXPECT_EQ(metrics.CounterValue("otelcol_exporter_loki_entries_processed", l), 1u);
  EXPECT_EQ(metrics.CounterValue("otelcol_exporter_loki_entries_failed", l), 1u);
}

}  // namespace
}  // namespace sluice::otlp
