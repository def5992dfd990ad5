// WriteNode (loki.write as a graph node) with fake sinks: its real send threads deliver to sinks
// that record every entry with its batch's tenant and stream. Checks that entries of alternating
// label sets land in their own streams (external labels under the entry's own), that
// __tenant_id__ picks the tenant's batcher, that max_streams refuses further streams of an open
// batch and counts every entry of them, and that idle streams are released. Waits on the sinks'
// condition, never on time; the clock is a FakeClock.
#include "agent/runtime/write_node.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "agent/common/clock.h"
#include "agent/common/metrics.h"
#include "agent/runtime/logs_router.h"

namespace sluice {
namespace {

struct Received {
  std::string tenant;
  std::string labels;
  std::string line;
};

// Records what it is given. Encode() turns a batch into "labels\x1fline\x1e" records, as a real
// sink turns it into its payload; Deliver() reads either form back.
class FakeSink final : public Sink {
 public:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<Received> got;
    size_t encoded = 0;
    size_t batches = 0;
    std::vector<std::pair<std::string, FileMark>> marks;  // by the batch's tenant
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
  void Encode(Batch* batch) override {
    std::string payload;
    for (size_t i = 0; i < batch->num_streams; ++i) {
      for (const BatchEntry& e : batch->streams[i].entries) {
        payload += batch->streams[i].info->loki_labels;
        payload += '\x1f';
        payload += batch->Line(e);
        payload += '\x1e';
      }
    }
    batch->payload = std::move(payload);
    batch->encoded = true;
    std::lock_guard<std::mutex> lock(st_->mu);
    ++st_->encoded;
  }
  BatchOutcome Deliver(const Batch& batch) override {
    std::vector<Received> got;
    if (batch.encoded) {
      std::string_view p = batch.payload;
      while (!p.empty()) {
        size_t us = p.find('\x1f');
        size_t rs = p.find('\x1e');
        got.push_back(Received{batch.tenant, std::string(p.substr(0, us)),
                               std::string(p.substr(us + 1, rs - us - 1))});
        p.remove_prefix(rs + 1);
      }
    } else {
      for (size_t i = 0; i < batch.num_streams; ++i) {
        for (const BatchEntry& e : batch.streams[i].entries) {
          got.push_back(Received{batch.tenant, batch.streams[i].info->loki_labels,
                                 std::string(batch.Line(e))});
        }
      }
    }
    std::lock_guard<std::mutex> lock(st_->mu);
    for (Received& r : got) st_->got.push_back(std::move(r));
    for (const FileMark& m : batch.marks) st_->marks.emplace_back(batch.tenant, m);
    ++st_->batches;
    st_->cv.notify_all();
    return BatchOutcome::kDelivered;
  }
  void Cancel() override {}

 private:
  std::shared_ptr<State> st_;
  MetricsRegistry* metrics_;
};

class WriteNodeTest : public ::testing::Test {
 protected:
  WriteNodeTest() : router_(&io_, &clock_) {}
  ~WriteNodeTest() override {
    for (auto& w : writes_) w->Drain(absl::Now() + absl::Seconds(10));
    io_.poll();  // the outcomes: batches back to their batchers
    router_.Stop();
  }

  WriteNode* AddWrite(std::vector<std::string> tenants, LabelSet external = {},
                      int64_t max_streams = 0, size_t batch_size = 1024 * 1024) {
    WriteNodeSettings ws;
    ws.component_id = "loki.write.test";
    ws.external_labels = std::move(external);
    ws.max_streams = max_streams;
    for (const std::string& tenant : tenants) {
      auto st = std::make_shared<FakeSink::State>();
      sinks_.push_back(st);
      WriteEndpointSettings es;
      es.tenant = tenant;
      es.batch_size = batch_size;
      es.batch_wait = absl::Hours(1);  // batches are sealed by size or Flush() only
      MetricsRegistry* m = &metrics_;
      es.make_sink = [st, m]() -> std::unique_ptr<Sink> {
        return std::make_unique<FakeSink>(st, m);
      };
      ws.endpoints.push_back(std::move(es));
    }
    writes_.push_back(
        std::make_unique<WriteNode>(std::move(ws), &router_, &io_, &clock_, &metrics_));
    writes_.back()->Start();
    return writes_.back().get();
  }

  // Waits until sink `i` has received `n` entries (the send threads are real); false after 20 s.
  bool WaitFor(size_t i, size_t n) {
    std::unique_lock<std::mutex> lock(sinks_[i]->mu);
    return sinks_[i]->cv.wait_for(lock, std::chrono::seconds(20),
                                  [&] { return sinks_[i]->got.size() >= n; });
  }
  std::vector<Received> Got(size_t i) {
    std::lock_guard<std::mutex> lock(sinks_[i]->mu);
    return sinks_[i]->got;
  }
  size_t Encoded(size_t i) {
    std::lock_guard<std::mutex> lock(sinks_[i]->mu);
    return sinks_[i]->encoded;
  }

  static void Push(WriteNode* w, const LabelSet& labels, std::string line) {
    ProcessEntry e;
    e.labels = labels;
    e.line = std::move(line);
    w->Push(e);
  }

  boost::asio::io_context io_;
  FakeClock clock_;
  MetricsRegistry metrics_{MetricsRegistry::Options{.process_metrics = false}};
  LogsRouter router_;
  std::vector<std::shared_ptr<FakeSink::State>> sinks_;
  std::vector<std::unique_ptr<WriteNode>> writes_;
};

LabelSet Labels(std::vector<std::pair<std::string, std::string>> kv) {
  LabelSet l;
  for (const auto& [k, v] : kv) l.Set(k, v);
  return l;
}

// The label set index a line "s<k>-<n>" was pushed with.
size_t SetOf(const std::string& line) { return static_cast<size_t>(line[1] - '0'); }

TEST_F(WriteNodeTest, AlternatingLabelSetsLandInTheirOwnStreams) {
  // Small batches: many seals, some encoded on this thread when the encoder is behind.
  WriteNode* w = AddWrite({""}, Labels({{"cluster", "c1"}, {"app", "ext"}}), 0,
                          /*batch_size=*/256);
  // More sets than the routes WriteNode remembers by their bytes (four): some come back after
  // they were replaced.
  const std::vector<LabelSet> sets = {
      Labels({{"app", "a"}}),
      Labels({{"app", "b"}, {"pod", "p"}}),
      Labels({{"job", "j"}}),
      Labels({{"app", "a"}, {"__path__", "/x"}}),  // "__" labels are not sent: stream of set 0
      Labels({{"app", "a"}, {"level", "info"}}),
      Labels({{"app", "a"}, {"level", "warn"}}),
  };
  const std::vector<std::string> want = {
      "{app=\"a\", cluster=\"c1\"}",
      "{app=\"b\", cluster=\"c1\", pod=\"p\"}",
      "{app=\"ext\", cluster=\"c1\", job=\"j\"}",
      "{app=\"a\", cluster=\"c1\"}",
      "{app=\"a\", cluster=\"c1\", level=\"info\"}",
      "{app=\"a\", cluster=\"c1\", level=\"warn\"}",
  };
  constexpr size_t kN = 400;
  size_t bytes = 0;
  for (size_t n = 0; n < kN; ++n) {
    size_t k = n % sets.size();
    // Runs of one, two and three entries of a set, as well as single alternation.
    if (n >= kN / 2) k = (n / 3) % sets.size();
    std::string line = "s" + std::to_string(k) + "-" + std::to_string(n);
    bytes += line.size();
    Push(w, sets[k], line);
  }
  EXPECT_EQ(router_.inflight_bytes(), bytes);
  w->Flush();
  ASSERT_TRUE(WaitFor(0, kN));
  std::vector<Received> got = Got(0);
  ASSERT_EQ(got.size(), kN);
  std::vector<int> last(sets.size(), -1);
  for (const Received& r : got) {
    size_t k = SetOf(r.line);
    EXPECT_EQ(r.labels, want[k]) << r.line;
    EXPECT_EQ(r.tenant, "");
    // In push order within a label set.
    int n = std::stoi(r.line.substr(3));
    EXPECT_GT(n, last[k]) << r.line;
    last[k] = n;
  }
  EXPECT_GT(Encoded(0), 0u);
}

// Routes are cached by the label set's hash and checked by comparing the sets' bytes: sets whose
// names and values run together the same way, or that extend one another, stay apart.
TEST_F(WriteNodeTest, LabelSetsThatFlattenAlikeStayApart) {
  WriteNode* w = AddWrite({""});
  const std::vector<LabelSet> sets = {
      Labels({{"a", "bc"}}),
      Labels({{"ab", "c"}}),
      Labels({{"a", "bc"}, {"d", ""}}),
      Labels({{"a", ""}, {"bcd", ""}}),
      Labels({{"a", "b"}}),
  };
  const std::vector<std::string> want = {
      "{a=\"bc\"}", "{ab=\"c\"}", "{a=\"bc\", d=\"\"}", "{a=\"\", bcd=\"\"}", "{a=\"b\"}",
  };
  for (size_t n = 0; n < 50; ++n) {
    Push(w, sets[n % sets.size()], "s" + std::to_string(n % sets.size()) + "-" + std::to_string(n));
  }
  w->Flush();
  ASSERT_TRUE(WaitFor(0, 50));
  for (const Received& r : Got(0)) EXPECT_EQ(r.labels, want[SetOf(r.line)]) << r.line;
  EXPECT_EQ(w->streams(), sets.size());
}

TEST_F(WriteNodeTest, TheTenantLabelChoosesTheTenantsBatcher) {
  // Two endpoints: default tenant "" and "archive".
  WriteNode* w = AddWrite({"", "archive"});
  LabelSet plain = Labels({{"app", "a"}});
  LabelSet t1 = Labels({{"app", "a"}, {"__tenant_id__", "t1"}});
  LabelSet t2 = Labels({{"app", "b"}, {"__tenant_id__", "t2"}});
  for (int i = 0; i < 30; ++i) {
    Push(w, i % 3 == 0 ? plain : i % 3 == 1 ? t1 : t2, "l" + std::to_string(i));
  }
  w->Flush();
  for (size_t sink = 0; sink < 2; ++sink) {
    ASSERT_TRUE(WaitFor(sink, 30));
    std::vector<Received> got = Got(sink);
    ASSERT_EQ(got.size(), 30u);
    int per[3] = {0, 0, 0};
    for (const Received& r : got) {
      int i = std::stoi(r.line.substr(1));
      ++per[i % 3];
      if (i % 3 == 0) {
        EXPECT_EQ(r.tenant, sink == 0 ? "" : "archive") << r.line;
        EXPECT_EQ(r.labels, "{app=\"a\"}");
      } else if (i % 3 == 1) {
        EXPECT_EQ(r.tenant, "t1") << r.line;
        EXPECT_EQ(r.labels, "{app=\"a\"}") << "__tenant_id__ is not sent";
      } else {
        EXPECT_EQ(r.tenant, "t2") << r.line;
        EXPECT_EQ(r.labels, "{app=\"b\"}");
      }
    }
    EXPECT_EQ(per[0], 10);
    EXPECT_EQ(per[1], 10);
    EXPECT_EQ(per[2], 10);
  }
}

// max_streams is per batch, as in Alloy's client (batch.add refuses a stream beyond the limit):
// while a batch is open, entries of further streams are dropped and counted; the next batch takes
// them; each tenant's batch has its own limit.
TEST_F(WriteNodeTest, MaxStreamsLimitsTheStreamsOfEachBatch) {
  WriteNode* w = AddWrite({""}, {}, /*max_streams=*/2);
  const std::vector<LabelSet> sets = {Labels({{"s", "0"}}), Labels({{"s", "1"}}),
                                      Labels({{"s", "2"}}), Labels({{"s", "3"}})};
  // Sets 0 and 1 come first and get the open batch's two streams; 2 and 3 are refused, every
  // time, in runs and alternating with the others.
  size_t kept = 0, refused = 0, refused_bytes = 0;
  size_t inflight = 0;
  for (size_t n = 0; n < 200; ++n) {
    size_t k = n < 100 ? n % 4 : (n / 5) % 4;
    std::string line = "s" + std::to_string(k) + "-" + std::to_string(n);
    Push(w, sets[k], line);
    if (k < 2) {
      ++kept;
      inflight += line.size();
    } else {
      ++refused;
      refused_bytes += line.size();
    }
  }
  MetricLabels l = {{"host", "fake"}, {"reason", "stream_limited"}, {"tenant", ""}};
  EXPECT_EQ(metrics_.CounterValue("loki_write_dropped_entries_total", l), refused);
  EXPECT_EQ(metrics_.CounterValue("loki_write_dropped_bytes_total", l), refused_bytes);
  EXPECT_EQ(router_.inflight_bytes(), inflight) << "refused entries are not in flight";
  // Another tenant's batch is another batch: its own two streams.
  Push(w, Labels({{"s", "2"}, {"__tenant_id__", "t9"}}), "t9-s2");
  Push(w, Labels({{"s", "3"}, {"__tenant_id__", "t9"}}), "t9-s3");
  Push(w, Labels({{"s", "0"}, {"__tenant_id__", "t9"}}), "t9-s0");
  MetricLabels l9 = {{"host", "fake"}, {"reason", "stream_limited"}, {"tenant", "t9"}};
  EXPECT_EQ(metrics_.CounterValue("loki_write_dropped_entries_total", l9), 1u);
  w->Flush();
  ASSERT_TRUE(WaitFor(0, kept + 2));
  std::vector<Received> got = Got(0);
  ASSERT_EQ(got.size(), kept + 2);
  for (const Received& r : got) {
    if (r.tenant == "t9") {
      EXPECT_TRUE(r.line == "t9-s2" || r.line == "t9-s3") << r.line;
      continue;
    }
    size_t k = SetOf(r.line);
    ASSERT_LT(k, 2u) << r.line;
    EXPECT_EQ(r.labels, "{s=\"" + std::to_string(k) + "\"}") << r.line;
  }
  // The batch is sealed: the next one takes the streams refused before, first come first.
  Push(w, sets[3], "s3-next");
  Push(w, sets[2], "s2-next");
  Push(w, sets[0], "s0-next");
  EXPECT_EQ(metrics_.CounterValue("loki_write_dropped_entries_total", l), refused + 1);
  w->Flush();
  ASSERT_TRUE(WaitFor(0, kept + 4));
  got = Got(0);
  EXPECT_EQ(got[kept + 2].labels, "{s=\"3\"}");
  EXPECT_EQ(got[kept + 3].labels, "{s=\"2\"}");
}

// An entry that does not fit the open batch starts the next one, which takes it whatever its
// stream (Alloy adds it to the new batch unconditionally).
TEST_F(WriteNodeTest, MaxStreamsAdmitsTheEntryThatStartsTheNextBatch) {
  WriteNode* w = AddWrite({""}, {}, /*max_streams=*/1, /*batch_size=*/10);
  Push(w, Labels({{"s", "a"}}), "aaaaaa");
  Push(w, Labels({{"s", "b"}}), "bbbbbbbbb");  // 6 + 9 > 10: a new batch
  Push(w, Labels({{"s", "a"}}), "a");          // that batch holds b: refused
  MetricLabels l = {{"host", "fake"}, {"reason", "stream_limited"}, {"tenant", ""}};
  EXPECT_EQ(metrics_.CounterValue("loki_write_dropped_entries_total", l), 1u);
  w->Flush();
  ASSERT_TRUE(WaitFor(0, 2));
  std::vector<Received> got = Got(0);
  EXPECT_EQ(got[0].line, "aaaaaa");
  EXPECT_EQ(got[1].line, "bbbbbbbbb");
}

// Streams unused for kStreamIdle are released (pod churn does not grow them without bound); a
// released stream's id goes to the next new stream, and no cached route still points at it.
TEST_F(WriteNodeTest, IdleStreamsAreReleasedAndComeBackWithTheirLabels) {
  WriteNode* w = AddWrite({""});
  const int64_t idle = absl::ToInt64Nanoseconds(WriteNode::kStreamIdle);
  w->Tick(clock_.MonotonicNanos());  // the first sweep is one period away
  Push(w, Labels({{"app", "a"}}), "a1");
  Push(w, Labels({{"app", "b"}}), "b1");
  EXPECT_EQ(w->streams(), 2u);
  clock_.Advance(idle);
  Push(w, Labels({{"app", "a"}}), "a2");
  w->Tick(clock_.MonotonicNanos());  // both had entries in this period
  EXPECT_EQ(w->streams(), 2u);
  clock_.Advance(idle);
  Push(w, Labels({{"app", "a"}}), "a3");
  w->Tick(clock_.MonotonicNanos());  // b had none since the last sweep
  EXPECT_EQ(w->streams(), 1u);
  Push(w, Labels({{"app", "c"}}), "c1");  // takes b's id
  Push(w, Labels({{"app", "b"}}), "b2");  // b again: a stream of its own, not c's
  Push(w, Labels({{"app", "a"}}), "a4");
  EXPECT_EQ(w->streams(), 3u);
  w->Flush();
  ASSERT_TRUE(WaitFor(0, 7));
  for (const Received& r : Got(0)) {
    EXPECT_EQ(r.labels, "{app=\"" + r.line.substr(0, 1) + "\"}") << r.line;
  }
}

TEST_F(WriteNodeTest, ARefusedLabelSetIsStillRefusedAfterTheRouteCacheTurnsOver) {
  WriteNode* w = AddWrite({""}, {}, /*max_streams=*/1);
  LabelSet kept = Labels({{"app", "kept"}});
  LabelSet refused = Labels({{"app", "refused"}});
  Push(w, kept, "k0");
  Push(w, refused, "r0");
  // More label sets than the route cache holds (it is cleared when full): all refused.
  constexpr int kOthers = 9000;
  for (int i = 0; i < kOthers; ++i) Push(w, Labels({{"app", "o" + std::to_string(i)}}), "o");
  Push(w, refused, "r1");
  Push(w, kept, "k1");
  Push(w, refused, "r2");
  MetricLabels l = {{"host", "fake"}, {"reason", "stream_limited"}, {"tenant", ""}};
  EXPECT_EQ(metrics_.CounterValue("loki_write_dropped_entries_total", l),
            static_cast<uint64_t>(kOthers + 3));
  w->Flush();
  ASSERT_TRUE(WaitFor(0, 2));
  std::vector<Received> got = Got(0);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].line, "k0");
  EXPECT_EQ(got[1].line, "k1");
  EXPECT_EQ(got[1].labels, "{app=\"kept\"}");
}

TEST_F(WriteNodeTest, MarksGoToEveryTenantBatcherAndIntoItsBatch) {
  WriteNode* w = AddWrite({""});
  Push(w, Labels({{"app", "a"}}), "x");
  Push(w, Labels({{"app", "a"}, {"__tenant_id__", "t1"}}), "y");
  w->PushMark(1, 1, 10);
  // Both batchers have an open batch; NextDeadline is batch_wait after the first entry.
  EXPECT_EQ(w->NextDeadline(), absl::ToInt64Nanoseconds(absl::Hours(1)));
  clock_.Advance(absl::ToInt64Nanoseconds(absl::Hours(1)));
  w->Tick(clock_.MonotonicNanos());  // seals by age
  ASSERT_TRUE(WaitFor(0, 2));
  EXPECT_EQ(w->NextDeadline(), INT64_MAX);
  std::vector<Received> got = Got(0);
  EXPECT_EQ(got.size(), 2u);
  // Each tenant's batch carries the mark: the file commits once both are acknowledged.
  std::vector<std::pair<std::string, FileMark>> marks;
  {
    std::lock_guard<std::mutex> lock(sinks_[0]->mu);
    marks = sinks_[0]->marks;
  }
  ASSERT_EQ(marks.size(), 2u);
  std::sort(marks.begin(), marks.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  EXPECT_EQ(marks[0].first, "");
  EXPECT_EQ(marks[1].first, "t1");
  for (const auto& [tenant, m] : marks) {
    EXPECT_EQ(m.file_id, 1u) << tenant;
    EXPECT_EQ(m.generation, 1u) << tenant;
    EXPECT_EQ(m.offset, 10) << tenant;
  }
}

}  // namespace
}  // namespace sluice
