// The running graph without the configuration language: a real TailManager in target mode feeds
// the LogsRouter, ProcessNodes with test stages, and WriteNodes whose endpoints are fake sinks.
// Checks what reaches each endpoint and when a file's position may be committed.
#include "agent/runtime/logs_router.h"
#include "agent/source/kube_tailer.h"
#include "agent/source/positions.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>

#include "agent/pipeline/push_encoder.h"
#include "agent/process/stage.h"
#include "agent/runtime/process_node.h"
#include "agent/runtime/write_node.h"
#include "agent/sink/asio_http_client.h"
#include "agent/sink/loki_sink.h"
#include "tests/support/fake_kube.h"
#include "tests/support/fake_loki.h"
#include "tests/support/temp_dir.h"

namespace sluice {
namespace {

using ::sluice::testing::AppendFile;
using ::sluice::testing::FakeLoki;
using ::sluice::testing::TempDir;
using ::sluice::testing::WriteFile;

struct Received {
  std::string tenant;
  std::string labels;
  std::string line;
  std::string metadata;  // "k=v;" pairs
};

// Records what it is given; can be told to hold every delivery until released.
class FakeSink final : public Sink {
 public:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<Received> got;
    bool hold = false;
    bool cancelled = false;
  };
  FakeSink(std::shared_ptr<State> st, MetricsRegistry* metrics)
      : st_(std::move(st)), metrics_(metrics) {}
  // As LokiSink: the endpoint's series, here with host "fake".
  std::pair<Counter*, Counter*> DropCounters(const std::string& tenant,
                                             std::string_view reason) override {
    MetricLabels l = {{"host", "fake"}, {"reason", std::string(reason)}, {"tenant", tenant}};
    return {metrics_->GetCounter("loki_write_dropped_entries_total", "", l),
            metrics_->GetCounter("loki_write_dropped_bytes_total", "", l)};
  }
  BatchOutcome Deliver(const Batch& batch) override {
    std::unique_lock<std::mutex> lock(st_->mu);
    st_->cv.wait(lock, [&] { return !st_->hold || st_->cancelled; });
    if (st_->cancelled) return BatchOutcome::kAborted;
    for (size_t i = 0; i < batch.num_streams; ++i) {
      for (const BatchEntry& e : batch.streams[i].entries) {
        std::string meta;
        ForEachMetadataPair(batch.Metadata(e), [&](std::string_view k, std::string_view v) {
          meta += std::string(k) + "=" + std::string(v) + ";";
        });
        st_->got.push_back(Received{batch.tenant, batch.streams[i].info->loki_labels,
                                    std::string(batch.Line(e)), meta});
      }
    }
    return BatchOutcome::kDelivered;
  }
  void Cancel() override {
    std::lock_guard<std::mutex> lock(st_->mu);
    st_->cancelled = true;
    st_->cv.notify_all();
  }

 private:
  std::shared_ptr<State> st_;
  MetricsRegistry* metrics_;
};

// Holds every entry whose line starts with "hold" until Flush(); passes the others on, setting
// __tenant_id__ from a "tenant=" prefix and adding structured metadata.
class TestStage final : public Stage {
 public:
  void Process(ProcessEntry&& e, EmitFn emit) override {
    if (e.line.rfind("hold", 0) == 0) {
      held_.push_back(std::move(e));
      return;
    }
    if (e.line.rfind("tenant=", 0) == 0) {
      e.labels.Set("__tenant_id__", e.line.substr(7, e.line.find(' ') - 7));
    }
    if (e.line.rfind("app=", 0) == 0) e.labels.Set("app", e.line.substr(4, e.line.find(' ') - 4));
    if (e.line.rfind("drop", 0) == 0) return;
    e.structured_metadata.emplace_back("seen", "yes");
    emit(std::move(e));
  }
  void Flush(EmitFn emit) override {
    for (ProcessEntry& e : held_) emit(std::move(e));
    held_.clear();
  }
  void ForEachHeld(absl::FunctionRef<void(const ProcessEntry&)> fn) const override {
    for (const ProcessEntry& e : held_) fn(e);
  }

 private:
  std::vector<ProcessEntry> held_;
};

class LogsRouterTest : public ::testing::Test {
 protected:
  LogsRouterTest() : router_(&io_, RealClock::Get()) {}
  ~LogsRouterTest() override {
    for (auto& st : sinks_) {
      std::lock_guard<std::mutex> lock(st->mu);
      st->hold = false;
      st->cv.notify_all();
    }
    for (auto& w : writes_) w->Drain(absl::Now() + absl::Seconds(5));
  }

  WriteNode* AddWrite(std::vector<std::string> tenants, LabelSet external = {},
                      int64_t max_streams = 0) {
    WriteNodeSettings ws;
    ws.component_id = "loki.write.test" + std::to_string(writes_.size());
    ws.external_labels = std::move(external);
    ws.max_streams = max_streams;
    for (const std::string& tenant : tenants) {
      auto st = std::make_shared<FakeSink::State>();
      sinks_.push_back(st);
      WriteEndpointSettings es;
      es.tenant = tenant;
      es.batch_wait = absl::Milliseconds(5);
      MetricsRegistry* m = &metrics_;
      es.make_sink = [st, m]() -> std::unique_ptr<Sink> {
        return std::make_unique<FakeSink>(st, m);
      };
      ws.endpoints.push_back(std::move(es));
    }
    writes_.push_back(
        std::make_unique<WriteNode>(std::move(ws), &router_, &io_, RealClock::Get(), &metrics_));
    router_.AddNode(writes_.back().get());
    return writes_.back().get();
  }

  void StartTail(const std::string& path, uint32_t route, LogFormat format = LogFormat::kPlain) {
    TailOptions t;
    t.event_coalesce = absl::ZeroDuration();
    t.rescan_interval = absl::Seconds(1);
    tail_ = std::make_unique<TailManager>(&io_, t, RealClock::Get(), &metrics_, &router_);
    router_.AddSource(tail_.get());
    LabelSet labels;
    labels.Set("app", "x");
    tail_->SetTargets({FileTarget{path, labels, format, route}});
    for (auto& w : writes_) w->Start();
    ASSERT_TRUE(tail_->Start().ok());
  }

  // Runs the loop until `cond` holds (real inotify, real send threads) or 10 s pass.
  template <typename Cond>
  bool RunUntil(Cond cond) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!cond() && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_for(std::chrono::milliseconds(20));
    }
    return cond();
  }
  size_t Count(size_t sink) {
    std::lock_guard<std::mutex> lock(sinks_[sink]->mu);
    return sinks_[sink]->got.size();
  }
  std::vector<Received> Got(size_t sink) {
    std::lock_guard<std::mutex> lock(sinks_[sink]->mu);
    return sinks_[sink]->got;
  }
  void Hold(size_t sink, bool hold) {
    std::lock_guard<std::mutex> lock(sinks_[sink]->mu);
    sinks_[sink]->hold = hold;
    sinks_[sink]->cv.notify_all();
  }

  boost::asio::io_context io_;
  MetricsRegistry metrics_;
  LogsRouter router_;
  std::vector<std::shared_ptr<FakeSink::State>> sinks_;
  std::vector<std::unique_ptr<WriteNode>> writes_;
  std::vector<std::unique_ptr<ProcessNode>> processes_;
  std::unique_ptr<TailManager> tail_;
  TempDir dir_;
};

TEST_F(LogsRouterTest, EveryEndpointGetsEveryEntryAndPositionsWaitForTheSlowest) {
  AddWrite({"", "archive"}, [] {
    LabelSet l;
    l.Set("cluster", "c1");
    l.Set("app", "overridden-by-entry");
    return l;
  }());
  uint32_t route = router_.AddRoute({writes_[0].get()});
  std::string path = dir_.Join("a.log");
  WriteFile(path, "one\ntwo\n");
  Hold(1, true);  // the second endpoint is slow
  StartTail(path, route);
  ASSERT_TRUE(RunUntil([&] { return Count(0) == 2; }));
  EXPECT_EQ(tail_->CommittedOffset(path), 0) << "the slow endpoint has not acknowledged";
  std::vector<Received> a = Got(0);
  EXPECT_EQ(a[0].line, "one");
  EXPECT_EQ(a[0].tenant, "");
  EXPECT_EQ(a[0].labels, "{app=\"x\", cluster=\"c1\", filename=\"" + path + "\"}");
  Hold(1, false);
  ASSERT_TRUE(RunUntil([&] { return Count(1) == 2 && tail_->CommittedOffset(path) == 8; }));
  EXPECT_EQ(Got(1)[1].tenant, "archive");
  AppendFile(path, "three\n");
  ASSERT_TRUE(RunUntil([&] { return tail_->CommittedOffset(path) == 14; }));
  EXPECT_EQ(Count(0), 3u);
  EXPECT_EQ(Count(1), 3u);
}

TEST_F(LogsRouterTest, HeldEntriesHoldTheirFilesPositionUntilReleased) {
  WriteNode* w = AddWrite({""});
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<TestStage>());
  processes_.push_back(std::make_unique<ProcessNode>(std::move(stages), &router_));
  ProcessNode* p = processes_.back().get();
  p->SetForward({w});
  router_.AddNode(p);
  uint32_t route = router_.AddRoute({p});
  std::string path = dir_.Join("b.log");
  WriteFile(path, "a\nhold me\nb\ndrop me\ntenant=t9 c\n");
  StartTail(path, route);
  ASSERT_TRUE(RunUntil([&] { return Count(0) == 3; }));
  // Everything after "hold me" was sent and acknowledged, but the position stays before it.
  ASSERT_TRUE(RunUntil([&] { return tail_->CommittedOffset(path) == 2; }));
  std::vector<Received> got = Got(0);
  EXPECT_EQ(got[0].line, "a");
  EXPECT_EQ(got[0].metadata, "seen=yes;");
  EXPECT_EQ(got[2].line, "tenant=t9 c");
  EXPECT_EQ(got[2].tenant, "t9");
  EXPECT_EQ(got[2].labels.find("__tenant_id__"), std::string::npos);
  router_.FlushAll();
  ASSERT_TRUE(RunUntil([&] { return Count(0) == 4; }));
  ASSERT_TRUE(RunUntil([&] { return tail_->CommittedOffset(path) == 32; }));
  EXPECT_EQ(Got(0)[3].line, "hold me");
}

TEST_F(LogsRouterTest, MaxStreamsDropsNewStreamsOfABatchAndCountsThem) {
  AddWrite({""}, {}, /*max_streams=*/1);
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<TestStage>());
  processes_.push_back(std::make_unique<ProcessNode>(std::move(stages), &router_));
  ProcessNode* p = processes_.back().get();
  p->SetForward({writes_[0].get()});
  router_.AddNode(p);
  uint32_t route = router_.AddRoute({p});
  std::string path = dir_.Join("c.log");
  // The second line gets another label: a second stream in the batch the first one opened. A
  // second tenant's line goes to that tenant's batch, which has its own limit.
  WriteFile(path, "x\napp=other y\nz\ntenant=t2 w\n");
  StartTail(path, route);
  ASSERT_TRUE(RunUntil([&] { return tail_->CommittedOffset(path) == 28; }));
  EXPECT_EQ(Count(0), 3u);
  // Counted by the endpoint's sink, per host and tenant, as Alloy's client counts them.
  MetricLabels l = {{"host", "fake"}, {"reason", "stream_limited"}, {"tenant", ""}};
  EXPECT_EQ(metrics_.CounterValue("loki_write_dropped_entries_total", l), 1u);
  EXPECT_EQ(metrics_.CounterValue("loki_write_dropped_bytes_total", l), 11u)
      << "the line \"app=other y\"";
}

TEST_F(LogsRouterTest, ARouteToNothingStillCommits) {
  uint32_t route = router_.AddRoute({});
  std::string path = dir_.Join("d.log");
  WriteFile(path, "nobody listens\n");
  StartTail(path, route);
  ASSERT_TRUE(RunUntil([&] { return tail_->CommittedOffset(path) == 15; }));
}

// Drops the lines that start with "drop", counted as loki.process's stages count them.
class DroppingStage final : public Stage {
 public:
  explicit DroppingStage(StageContext ctx) : ctx_(std::move(ctx)) {}
  void Process(ProcessEntry&& e, EmitFn emit) override {
    if (e.line.rfind("drop", 0) == 0) {
      CountDroppedLine(ctx_, "dropped_by_test");
      return;
    }
    emit(std::move(e));
  }

 private:
  StageContext ctx_;
};

// Whether `text` has a sample of `name` (a line `name{...} v` or `name v`), not just its HELP.
bool HasSample(const std::string& text, const std::string& name) {
  for (const std::string& prefix : {"\n" + name + "{", "\n" + name + " "}) {
    if (text.find(prefix) != std::string::npos) return true;
  }
  return false;
}

double SampleValue(const std::string& text, const std::string& series) {
  size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::strtod(text.c_str() + at + series.size() + 2, nullptr);
}

// The names the chart's dashboard and alerts may query (tests/charts/exported_metrics.txt) are
// all exported by a pipeline that ships lines: file source, loki.process, loki.write to a
// Loki-protocol receiver. Names only the runtime sets are listed here and left out.
TEST_F(LogsRouterTest, EveryNameTheDashboardQueriesIsExported) {
  const std::set<std::string> kRuntimeOwned = {
      "alloy_config_last_load_successful",    // ConfigLoadMetrics, from the runtime's loads
      "sluice_kubelet_refresh_errors_total",  // discovery.kubelet (PodDiscovery)
  };
  FakeLoki loki;
  ASSERT_TRUE(loki.Start().ok());
  WriteNodeSettings ws;
  ws.component_id = "loki.write.default";
  WriteEndpointSettings es;
  es.batch_wait = absl::Milliseconds(5);
  LokiSinkConfig cfg;
  cfg.url = loki.push_url();
  cfg.component_id = ws.component_id;
  MetricsRegistry* m = &metrics_;
  es.make_sink = [cfg, m]() -> std::unique_ptr<Sink> {
    return std::make_unique<LokiSink>(cfg, NewHttpClient(HttpClientOptions{}),
                                      std::make_unique<RealSleeper>(), m, 1);
  };
  ws.endpoints.push_back(std::move(es));
  writes_.push_back(
      std::make_unique<WriteNode>(std::move(ws), &router_, &io_, RealClock::Get(), &metrics_));
  router_.AddNode(writes_.back().get());
  StageContext ctx;
  ctx.clock = RealClock::Get();
  ctx.metrics = &metrics_;
  ctx.component_id = "loki.process.default";
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<DroppingStage>(ctx));
  processes_.push_back(std::make_unique<ProcessNode>(std::move(stages), &router_));
  ProcessNode* p = processes_.back().get();
  p->SetForward({writes_[0].get()});
  router_.AddNode(p);
  uint32_t route = router_.AddRoute({p});
  std::string path = dir_.Join("app.log");
  WriteFile(path, "one\ndrop me\ntwo\n");
  StartTail(path, route);
  ASSERT_TRUE(RunUntil([&] { return loki.AllLines().size() == 2; }));
  ASSERT_TRUE(RunUntil([&] { return tail_->CommittedOffset(path) == 16; }));

  std::ifstream names(SLUICE_SOURCE_DIR "/tests/charts/exported_metrics.txt");
  ASSERT_TRUE(names.good());
  std::string text = metrics_.RenderPrometheus();
  int checked = 0;
  for (std::string name; std::getline(names, name);) {
    if (name.empty() || name[0] == '#' || kRuntimeOwned.contains(name)) continue;
    ++checked;
    EXPECT_TRUE(HasSample(text, name)) << name << " is not exported:\n" << text;
  }
  EXPECT_GE(checked, 15);

  // The values move as lines are shipped.
  const std::string sent =
      "loki_write_sent_entries_total{component_id=\"loki.write.default\",component_path=\"/\","
      "host=\"127.0.0.1:" +
      std::to_string(loki.port()) + "\",tenant=\"\"}";
  const std::string lines = "loki_source_file_read_lines_total{path=\"" + path + "\"}";
  const std::string read = "loki_source_file_read_bytes_total{path=\"" + path + "\"}";
  EXPECT_EQ(SampleValue(text, sent), 2);
  EXPECT_EQ(SampleValue(text, lines), 3);
  EXPECT_EQ(SampleValue(text, read), 16);
  EXPECT_EQ(SampleValue(text, "sluice_unacked_bytes"), 0);
  EXPECT_EQ(SampleValue(text,
                        "loki_process_dropped_lines_total{component_id=\"loki.process.default\","
                        "component_path=\"/\",reason=\"dropped_by_test\"}"),
            1);
  AppendFile(path, "three\nfour\n");
  ASSERT_TRUE(RunUntil([&] { return loki.AllLines().size() == 4; }));
  ASSERT_TRUE(RunUntil([&] { return tail_->CommittedOffset(path) == 27; }));
  text = metrics_.RenderPrometheus();
  EXPECT_EQ(SampleValue(text, sent), 4);
  EXPECT_EQ(SampleValue(text, lines), 5);
  EXPECT_EQ(SampleValue(text, read), 27);
  EXPECT_EQ(SampleValue(text, "loki_source_file_files_active_total"), 1);
  const std::string duration_count =
      "loki_write_request_duration_seconds_count{component_id=\"loki.write.default\","
      "component_path=\"/\",host=\"127.0.0.1:" +
      std::to_string(loki.port()) + "\",status_code=\"204\",tenant=\"\"}";
  EXPECT_GE(SampleValue(text, duration_count), 2) << text;
  for (auto& w : writes_) w->Drain(absl::Now() + absl::Seconds(5));
  writes_.clear();
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// A restart whose targets come late (a discovery that has not answered yet) must keep the
// positions it read: saved again as they were, and used when the target comes.
TEST_F(LogsRouterTest, PositionsNoTargetClaimedYetSurviveASave) {
  AddWrite({""});
  uint32_t route = router_.AddRoute({writes_[0].get()});
  std::string path = dir_.Join("late.log");
  WriteFile(path, "first line\n");
  TailOptions t;
  t.event_coalesce = absl::ZeroDuration();
  t.positions_path = dir_.Join("positions.yml");
  // The first run stays registered with the router (its outcomes may still arrive) until the
  // test ends; it only stops reading.
  TailManager first(&io_, t, RealClock::Get(), &metrics_, &router_);
  router_.AddSource(&first);
  first.SetTargets({FileTarget{path, LabelSet(), LogFormat::kPlain, route}});
  for (auto& w : writes_) w->Start();
  ASSERT_TRUE(first.Start().ok());
  ASSERT_TRUE(RunUntil([&] { return first.CommittedOffset(path) == 11; }));
  ASSERT_TRUE(first.SavePositions().ok());
  first.StopReading();
  // Restarted with no target yet: a save keeps the entry.
  TailOptions t2 = t;
  t2.file_id_base = uint64_t{1} << LogsRouter::kSourceShift;
  TailManager second(&io_, t2, RealClock::Get(), &metrics_, &router_);
  router_.AddSource(&second);
  ASSERT_TRUE(second.Start().ok());
  ASSERT_TRUE(second.SavePositions().ok());
  absl::StatusOr<std::vector<PositionRecord>> saved = ReadPositionsFile(t.positions_path);
  ASSERT_TRUE(saved.ok());
  ASSERT_EQ(saved->size(), 1u);
  EXPECT_EQ((*saved)[0].path, path);
  EXPECT_EQ((*saved)[0].offset, 11);
  // The target comes: reading resumes there, the first line is not sent again.
  AppendFile(path, "second line\n");
  second.SetTargets({FileTarget{path, LabelSet(), LogFormat::kPlain, route}});
  ASSERT_TRUE(RunUntil([&] { return second.CommittedOffset(path) == 23; }));
  std::vector<Received> got = Got(0);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].line, "second line");
  second.StopReading();
}

}  // namespace
}  // namespace sluice

// ---- An AckedSource of its own: KubeLogTailer (loki.source.kubernetes) -----------------------

namespace sluice {
namespace {

// Its place advances only once the endpoint acknowledged: nothing saved while the sink holds the
// batch, the last line's microsecond once it lets go, and that place is what the file keeps.
TEST_F(LogsRouterTest, KubeTailerCommitsItsPlaceOnlyOnAcknowledgement) {
  testing::FakeKube kube;
  ASSERT_TRUE(kube.Start().ok());
  const int64_t t0 = int64_t{1714557600} * 1000000000;
  for (int i = 0; i < 5; ++i)
    kube.AppendPodLog("ns", "p", "c", "line " + std::to_string(i), t0 + i * 1000);
  AddWrite({""});
  sinks_[0]->hold = true;
  KubeTailerOptions o;
  o.component_id = "loki.source.kubernetes.t";
  o.apiserver.base_url = kube.base_url();
  o.positions_path = dir_.Join("positions.yml");
  o.route = router_.AddRoute({writes_[0].get()});
  KubeLogTailer tailer(&io_, o, RealClock::Get(), &metrics_, &router_);
  router_.AddSource(&tailer);
  LabelSet target;
  target.Set("__pod_namespace__", "ns");
  target.Set("__pod_name__", "p");
  target.Set("__pod_container_name__", "c");
  target.Set("__pod_uid__", "u");
  absl::StatusOr<KubeLogTarget> kt = PrepareKubeLogTarget(target, o.component_id);
  ASSERT_TRUE(kt.ok());
  for (auto& w : writes_) w->Start();
  ASSERT_TRUE(tailer.Start().ok());
  tailer.SetTargets({*kt});
  ASSERT_TRUE(
      RunUntil([&] { return router_.inflight_bytes() > 0 && kube.active_log_streams() == 1; }));
  // Handed down, held by the sink (so no acknowledgement can come): no place yet.
  EXPECT_EQ(tailer.SavedPlace(*kt), 0);
  {
    std::lock_guard<std::mutex> lock(sinks_[0]->mu);
    sinks_[0]->hold = false;
    sinks_[0]->cv.notify_all();
  }
  ASSERT_TRUE(RunUntil([&] { return tailer.SavedPlace(*kt) == (t0 + 4000) / 1000; }));
  EXPECT_EQ(Got(0).size(), 5u);
  tailer.StopReading();
  ASSERT_TRUE(tailer.SavePositions().ok());
  absl::StatusOr<std::vector<PositionRecord>> saved = ReadPositionsFile(o.positions_path);
  ASSERT_TRUE(saved.ok()) << saved.status();
  ASSERT_EQ(saved->size(), 1u);
  EXPECT_EQ((*saved)[0].path, "cursor-ns/p:c:u");
  EXPECT_EQ((*saved)[0].offset, (t0 + 4000) / 1000);
}

// Records what reaches it, in order: "e:<line>" for entries, "m:<file>@<offset>" for marks.
class RecordingNode final : public LogsNode {
 public:
  void Push(ProcessEntry& entry) override { seen.push_back("e:" + std::string(entry.line)); }
  void PushMark(uint64_t file_id, uint64_t generation, int64_t offset) override {
    (void)generation;
    seen.push_back("m:" + std::to_string(file_id) + "@" + std::to_string(offset));
  }
  std::vector<std::string> seen;
};

TEST_F(LogsRouterTest, AFilesMarkFollowsItsRunOfEntriesNotEachLine) {
  RecordingNode node;
  uint32_t route = router_.AddRoute({&node});
  LabelSet labels;
  labels.Set("app", "x");
  router_.OnEntry(route, 1, 0, labels, 1, "a", 0, 2, nullptr, false);
  router_.OnEntry(route, 1, 0, labels, 2, "b", 2, 4, nullptr, false);
  router_.OnEntry(route, 1, 0, labels, 3, "c", 4, 6, nullptr, false);
  EXPECT_EQ(node.seen, (std::vector<std::string>{"e:a", "e:b", "e:c"}))
      << "no mark per line: one for the run";
  // Another file: file 1's run is over.
  router_.OnEntry(route, 2, 0, labels, 4, "d", 0, 2, nullptr, false);
  EXPECT_EQ(node.seen, (std::vector<std::string>{"e:a", "e:b", "e:c", "m:1@6", "e:d"}));
  router_.EndOfChunk();
  EXPECT_EQ(node.seen.back(), "m:2@2");
  router_.EndOfChunk();  // nothing held: nothing more
  EXPECT_EQ(node.seen.size(), 6u);
  // A new generation of the same file is a new run; sealing (a pause, shutdown) passes on the
  // held mark, and so does an explicit mark.
  router_.OnEntry(route, 2, 0, labels, 5, "e", 2, 4, nullptr, false);
  router_.OnEntry(route, 2, 1, labels, 6, "f", 0, 2, nullptr, false);
  EXPECT_EQ(node.seen[7], "m:2@4");
  router_.SealAll();
  EXPECT_EQ(node.seen.back(), "m:2@2");
  router_.OnEntry(route, 3, 0, labels, 7, "g", 0, 5, nullptr, false);
  router_.OnMark(route, 3, 0, 9);
  EXPECT_EQ(node.seen,
            (std::vector<std::string>{"e:a", "e:b", "e:c", "m:1@6", "e:d", "m:2@2", "e:e", "m:2@4",
                                      "e:f", "m:2@2", "e:g", "m:3@5", "m:3@9"}));
}

// The router lends the source's line to the graph (no copy per entry) and keeps no view of it
// once the push returns.
TEST_F(LogsRouterTest, TheLineIsLentToTheGraphNotCopied) {
  struct Node final : public LogsNode {
    void Push(ProcessEntry& entry) override {
      borrowed = entry.line.borrowed();
      padded = entry.line.padded();
      data = entry.line.data();
      line = std::string(entry.line);
    }
    void PushMark(uint64_t, uint64_t, int64_t) override {}
    bool borrowed = false;
    bool padded = false;
    const char* data = nullptr;
    std::string line;
  } node;
  uint32_t route = router_.AddRoute({&node});
  std::string read_buffer = "2024-01-01T00:00:00Z stdout F the line";
  std::string_view content = std::string_view(read_buffer).substr(30);
  router_.OnEntry(route, 1, 0, LabelSet(), 1, content, 0, 38, nullptr, false);
  EXPECT_TRUE(node.borrowed);
  EXPECT_FALSE(node.padded);
  read_buffer.append(kEntryLinePadding, ' ');
  content = std::string_view(read_buffer).substr(30, 8);
  router_.OnEntry(route, 1, 0, LabelSet(), 1, content, 38, 76, nullptr, true);
  EXPECT_TRUE(node.padded) << "the source's word that the bytes after the line are readable";
  EXPECT_EQ(node.data, read_buffer.data() + 30);
  EXPECT_EQ(node.line, "the line");
}

}  // namespace
}  // namespace sluice
