// ProcessNode (loki.process as a graph node) on its own: test stages and recording receivers, no
// files and no send threads. Checks the order of its stages, EntryFrom's view, the extracted map
// it seeds from the labels, how a held entry holds its file's mark back until Tick/Flush
// releases it, and that fan-out hands each receiver its own copy.
#include "agent/runtime/process_node.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

#include "agent/common/clock.h"
#include "agent/process/stage.h"
#include "agent/runtime/logs_router.h"

namespace sluice {
namespace {

struct Mark {
  uint64_t file_id;
  uint64_t generation;
  int64_t offset;
  bool operator==(const Mark&) const = default;
};

// Records what reaches it, in order: entries as "E:<line>", marks as "M:<file>:<offset>".
// With `mutate`, scribbles over the entry it was given (a receiver may move from it).
class RecordingNode final : public LogsNode {
 public:
  explicit RecordingNode(bool mutate = false) : mutate_(mutate) {}
  void Push(ProcessEntry& entry) override {
    entries.push_back(entry);
    events.push_back("E:" + std::string(entry.line));
    if (mutate_) {
      entry.line = "scribbled";
      entry.labels.Set("scribbled", "yes");
      entry.structured_metadata.emplace_back("scribbled", "yes");
      entry.extracted.clear();
    }
  }
  void PushMark(uint64_t file_id, uint64_t generation, int64_t offset) override {
    marks.push_back(Mark{file_id, generation, offset});
    events.push_back("M:" + std::to_string(file_id) + ":" + std::to_string(offset));
  }
  std::vector<ProcessEntry> entries;
  std::vector<Mark> marks;
  std::vector<std::string> events;

 private:
  bool mutate_;
};

// Appends its tag to the line and records the extracted map it saw (as "k=v," sorted).
class AppendStage final : public Stage {
 public:
  explicit AppendStage(std::string tag, std::vector<std::string>* seen = nullptr)
      : tag_(std::move(tag)), seen_(seen) {}
  void Process(ProcessEntry&& e, EmitFn emit) override {
    if (seen_ != nullptr) {
      std::vector<std::string> kv;
      for (const auto& [k, v] : e.extracted) kv.push_back(k + "=" + v.str);
      std::sort(kv.begin(), kv.end());
      std::string s;
      for (const std::string& one : kv) s += one + ",";
      seen_->push_back(s);
    }
    e.line += tag_;
    emit(std::move(e));
  }

 private:
  std::string tag_;
  std::vector<std::string>* seen_;
};

// Drops lines starting with "drop"; emits lines starting with "twice" two times.
class FilterStage final : public Stage {
 public:
  void Process(ProcessEntry&& e, EmitFn emit) override {
    if (e.line.rfind("drop", 0) == 0) return;
    if (e.line.rfind("twice", 0) == 0) {
      ProcessEntry copy = e;
      copy.line += "#1";
      emit(std::move(copy));
      e.line += "#2";
    }
    emit(std::move(e));
  }
};

// Holds lines starting with "hold" for `wait_ns` after they came (by the entry's timestamp, read
// as monotonic time), releasing them on Tick once due, or all at Flush.
class HoldStage final : public Stage {
 public:
  explicit HoldStage(int64_t wait_ns) : wait_ns_(wait_ns) {}
  void Process(ProcessEntry&& e, EmitFn emit) override {
    if (e.line.rfind("hold", 0) == 0) {
      held_.push_back(std::move(e));
      return;
    }
    emit(std::move(e));
  }
  void Tick(int64_t now, EmitFn emit) override {
    std::vector<ProcessEntry> keep;
    for (ProcessEntry& e : held_) {
      if (now >= e.timestamp_ns + wait_ns_) {
        emit(std::move(e));
      } else {
        keep.push_back(std::move(e));
      }
    }
    held_ = std::move(keep);
  }
  void Flush(EmitFn emit) override {
    for (ProcessEntry& e : held_) emit(std::move(e));
    held_.clear();
  }
  int64_t NextDeadline() const override {
    int64_t next = INT64_MAX;
    for (const ProcessEntry& e : held_) next = std::min(next, e.timestamp_ns + wait_ns_);
    return next;
  }
  bool Timed() const override { return true; }
  void ForEachHeld(absl::FunctionRef<void(const ProcessEntry&)> fn) const override {
    for (const ProcessEntry& e : held_) fn(e);
  }
  size_t held() const { return held_.size(); }

 private:
  int64_t wait_ns_;
  std::vector<ProcessEntry> held_;
};

ProcessEntry Entry(std::string line, uint64_t file_id = 0, int64_t start = 0, int64_t end = 0,
                   int64_t ts = 0) {
  ProcessEntry e;
  e.line = std::move(line);
  e.labels.Set("app", "web");
  e.timestamp_ns = ts;
  e.source = SourcePos{file_id, 1, start, end};
  return e;
}

class ProcessNodeTest : public ::testing::Test {
 protected:
  ProcessNodeTest() : router_(&io_, &clock_) {}
  ~ProcessNodeTest() override { router_.Stop(); }

  ProcessNode* Make(std::vector<std::unique_ptr<Stage>> stages,
                    std::vector<LogsNode*> forward = {}) {
    node_ = std::make_unique<ProcessNode>(std::move(stages), &router_);
    node_->SetForward(forward.empty() ? std::vector<LogsNode*>{&out_} : forward);
    return node_.get();
  }
  void Push(LogsNode* n, ProcessEntry e) { n->Push(e); }
  static std::vector<std::string> Lines(const RecordingNode& r) {
    std::vector<std::string> out;
    for (const ProcessEntry& e : r.entries) out.emplace_back(e.line);
    return out;
  }

  boost::asio::io_context io_;
  FakeClock clock_;
  LogsRouter router_;
  RecordingNode out_;
  std::unique_ptr<ProcessNode> node_;
};

using Strings = std::vector<std::string>;

TEST_F(ProcessNodeTest, StagesRunInOrderAndTheResultIsForwarded) {
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<AppendStage>("-a"));
  stages.push_back(std::make_unique<FilterStage>());
  stages.push_back(std::make_unique<AppendStage>("-c"));
  ProcessNode* p = Make(std::move(stages));
  ASSERT_EQ(p->num_stages(), 3u);
  Push(p, Entry("x"));
  Push(p, Entry("drop me"));
  Push(p, Entry("twice"));
  EXPECT_EQ(Lines(out_), (Strings{"x-a-c", "twice-a#1-c", "twice-a#2-c"}));
  ASSERT_TRUE(out_.entries[0].labels.Get("app").has_value());
  EXPECT_EQ(*out_.entries[0].labels.Get("app"), "web");
}

TEST_F(ProcessNodeTest, NoStagesForwardsAsIs) {
  ProcessNode* p = Make({});
  Push(p, Entry("plain"));
  ASSERT_EQ(out_.entries.size(), 1u);
  EXPECT_EQ(out_.entries[0].line, "plain");
  EXPECT_TRUE(out_.entries[0].extracted.empty()) << "nothing reads the map: not seeded";
}

TEST_F(ProcessNodeTest, EntryFromStartsAtALaterStage) {
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<AppendStage>("-a"));
  stages.push_back(std::make_unique<AppendStage>("-b"));
  stages.push_back(std::make_unique<AppendStage>("-c"));
  ProcessNode* p = Make(std::move(stages));
  EXPECT_EQ(p->EntryFrom(0), p);
  LogsNode* from1 = p->EntryFrom(1);
  LogsNode* from3 = p->EntryFrom(3);
  ASSERT_NE(from1, p);
  Push(from1, Entry("one"));
  Push(p, Entry("zero"));
  Push(from3, Entry("none"));
  EXPECT_EQ(Lines(out_), (Strings{"one-b-c", "zero-a-b-c", "none"}));
  // The view passes marks to the node (and so to its receivers).
  from1->PushMark(7, 2, 40);
  ASSERT_EQ(out_.marks.size(), 1u);
  EXPECT_EQ(out_.marks[0], (Mark{7, 2, 40}));
}

TEST_F(ProcessNodeTest, ExtractedMapStartsWithTheEntrysLabels) {
  std::vector<std::string> seen_first, seen_second;
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<AppendStage>("", &seen_first));
  stages.push_back(std::make_unique<AppendStage>("", &seen_second));
  ProcessNode* p = Make(std::move(stages));
  ProcessEntry e = Entry("x");
  e.labels.Set("namespace", "prod");
  e.labels.Set("__tenant_id__", "t1");
  Push(p, e);
  ASSERT_EQ(seen_first.size(), 1u);
  EXPECT_EQ(seen_first[0], "__tenant_id__=t1,app=web,namespace=prod,");
  // Through a view that skips the first stage, the map is seeded too.
  ProcessEntry f = Entry("y");
  f.labels.Set("pod", "p-1");
  Push(p->EntryFrom(1), f);
  ASSERT_EQ(seen_second.size(), 2u);
  EXPECT_EQ(seen_second[1], "app=web,pod=p-1,");
  ASSERT_EQ(seen_first.size(), 1u) << "the view skipped the first stage";
  ASSERT_EQ(out_.entries.size(), 2u);
  ASSERT_TRUE(out_.entries[1].extracted.contains("pod"));
  EXPECT_EQ(out_.entries[1].extracted.at("pod").kind, ExtractedValue::Kind::kString);
}

TEST_F(ProcessNodeTest, AHeldEntryHoldsItsFilesMarkBackUntilTick) {
  auto hold = std::make_unique<HoldStage>(/*wait_ns=*/1000);
  HoldStage* h = hold.get();
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::move(hold));
  stages.push_back(std::make_unique<AppendStage>("!"));
  ProcessNode* p = Make(std::move(stages));
  // File 1: "a\n" [0,2), "hold\n" [2,7), "b\n" [7,9).
  Push(p, Entry("a", 1, 0, 2, 100));
  p->PushMark(1, 1, 2);
  Push(p, Entry("hold", 1, 2, 7, 100));
  p->PushMark(1, 1, 7);
  Push(p, Entry("b", 1, 7, 9, 100));
  p->PushMark(1, 1, 9);
  // Another file's marks pass whole.
  p->PushMark(2, 5, 30);
  EXPECT_EQ(h->held(), 1u);
  EXPECT_EQ(p->NextDeadline(), 1100);
  EXPECT_EQ(out_.events, (Strings{"E:a!", "M:1:2", "M:1:2", "E:b!", "M:1:2", "M:2:30"}));
  out_.events.clear();

  // Not due: nothing released, the mark stays capped.
  p->Tick(1099);
  EXPECT_EQ(h->held(), 1u);
  EXPECT_EQ(out_.events, (Strings{"M:1:2"}));
  out_.events.clear();

  // Due: the entry goes on, then the file's mark as far as it was pushed.
  p->Tick(1100);
  EXPECT_EQ(h->held(), 0u);
  EXPECT_EQ(p->NextDeadline(), INT64_MAX);
  EXPECT_EQ(out_.events, (Strings{"E:hold!", "M:1:9"}));
  ASSERT_FALSE(out_.marks.empty());
  EXPECT_EQ(out_.marks.back(), (Mark{1, 1, 9}));
  out_.events.clear();

  // Released once: later ticks pass no mark again.
  p->Tick(5000);
  EXPECT_TRUE(out_.events.empty());
}

TEST_F(ProcessNodeTest, FlushReleasesHeldEntriesAndTheirMarks) {
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<HoldStage>(/*wait_ns=*/1'000'000'000));
  ProcessNode* p = Make(std::move(stages));
  Push(p, Entry("hold one", 3, 10, 19, 0));
  Push(p, Entry("hold two", 4, 0, 9, 0));
  Push(p, Entry("c", 3, 19, 21, 0));
  p->PushMark(3, 2, 21);
  p->PushMark(4, 1, 9);
  ASSERT_EQ(out_.marks.size(), 2u);
  EXPECT_EQ(out_.marks[0], (Mark{3, 2, 10}));
  EXPECT_EQ(out_.marks[1], (Mark{4, 1, 0}));
  out_.marks.clear();
  out_.events.clear();
  p->Flush();
  EXPECT_EQ(Lines(out_), (Strings{"c", "hold one", "hold two"}));
  // Both files' marks, whole, after the entries (order between files is free).
  ASSERT_EQ(out_.events.size(), 4u);
  EXPECT_EQ(out_.events[0], "E:hold one");
  EXPECT_EQ(out_.events[1], "E:hold two");
  ASSERT_EQ(out_.marks.size(), 2u);
  std::sort(out_.marks.begin(), out_.marks.end(),
            [](const Mark& a, const Mark& b) { return a.file_id < b.file_id; });
  EXPECT_EQ(out_.marks[0], (Mark{3, 2, 21}));
  EXPECT_EQ(out_.marks[1], (Mark{4, 1, 9}));
  out_.marks.clear();
  p->Tick(INT64_MAX - 1);
  EXPECT_TRUE(out_.marks.empty()) << "nothing deferred any more";
}

TEST_F(ProcessNodeTest, AReleasedFileIsCappedAgainByItsNextHeldEntry) {
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<HoldStage>(/*wait_ns=*/10));
  ProcessNode* p = Make(std::move(stages));
  Push(p, Entry("hold", 1, 0, 5, 0));
  p->PushMark(1, 1, 5);
  p->Tick(10);  // releases the entry and the mark
  ASSERT_EQ(out_.marks.size(), 2u);
  EXPECT_EQ(out_.marks[0], (Mark{1, 1, 0}));
  EXPECT_EQ(out_.marks[1], (Mark{1, 1, 5}));
  // A new held entry of the file, then a mark: capped again at its start.
  Push(p, Entry("hold again", 1, 5, 16, 20));
  p->PushMark(1, 1, 16);
  EXPECT_EQ(out_.marks.back(), (Mark{1, 1, 5}));
  p->Flush();
  EXPECT_EQ(out_.marks.back(), (Mark{1, 1, 16}));
  EXPECT_EQ(Lines(out_), (Strings{"hold", "hold again"}));
}

TEST_F(ProcessNodeTest, FanOutGivesEachReceiverItsOwnCopy) {
  RecordingNode first(/*mutate=*/true), second(/*mutate=*/true), third(/*mutate=*/true);
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<AppendStage>("-p"));
  ProcessNode* p = Make(std::move(stages), {&first, &second, &third});
  for (int i = 0; i < 3; ++i) {
    ProcessEntry e = Entry("line" + std::to_string(i));
    e.structured_metadata.emplace_back("k", "v");
    Push(p, e);
  }
  for (RecordingNode* r : {&first, &second, &third}) {
    ASSERT_EQ(r->entries.size(), 3u);
    for (int i = 0; i < 3; ++i) {
      const ProcessEntry& got = r->entries[static_cast<size_t>(i)];
      EXPECT_EQ(got.line, "line" + std::to_string(i) + "-p");
      EXPECT_FALSE(got.labels.Get("scribbled").has_value());
      ASSERT_EQ(got.structured_metadata.size(), 1u);
      EXPECT_EQ(got.structured_metadata[0].first, "k");
      EXPECT_TRUE(got.extracted.contains("app"));
    }
  }
  p->PushMark(9, 1, 100);
  for (RecordingNode* r : {&first, &second, &third}) {
    ASSERT_EQ(r->marks.size(), 1u);
    EXPECT_EQ(r->marks[0], (Mark{9, 1, 100}));
  }
}

TEST_F(ProcessNodeTest, BackloggedWhileAStageIs) {
  class Blocked final : public Stage {
   public:
    void Process(ProcessEntry&& e, EmitFn emit) override { emit(std::move(e)); }
    bool Backlogged() const override { return blocked; }
    bool Timed() const override { return true; }
    bool blocked = false;
  };
  auto b = std::make_unique<Blocked>();
  Blocked* raw = b.get();
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<AppendStage>(""));
  stages.push_back(std::move(b));
  ProcessNode* p = Make(std::move(stages));
  EXPECT_FALSE(p->Backlogged());
  raw->blocked = true;
  EXPECT_TRUE(p->Backlogged());
}

}  // namespace
}  // namespace sluice
