#include "agent/process/pipeline.h"

#include <algorithm>
#include <deque>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "agent/common/clock.h"
#include "agent/common/metrics.h"
#include "agent/process/stages/registry.h"
#include "gtest/gtest.h"
#include "tests/support/block_builder.h"

namespace sluice {
namespace {

using testing::Arr;
using testing::BlockBuilder;
using testing::Bool;
using testing::Int;
using testing::Num;
using testing::Obj;
using testing::Str;

std::string ToStr(const ExtractedValue& v) {
  std::string s = "<unset>";
  if (!v.ToString(&s)) return "<null>";
  return s;
}

TEST(ExtractedValueTest, ToStringAsGoGetString) {
  EXPECT_EQ(ToStr(ExtractedValue::String("abc")), "abc");
  EXPECT_EQ(ToStr(ExtractedValue::Bool(true)), "true");
  EXPECT_EQ(ToStr(ExtractedValue::Bool(false)), "false");
  EXPECT_EQ(ToStr(ExtractedValue::Null()), "<null>");
  // strconv.FormatFloat(v, 'f', -1, 64): shortest digits, never an exponent.
  EXPECT_EQ(ToStr(ExtractedValue::Number(50)), "50");
  EXPECT_EQ(ToStr(ExtractedValue::Number(1.5)), "1.5");
  EXPECT_EQ(ToStr(ExtractedValue::Number(0.1)), "0.1");
  EXPECT_EQ(ToStr(ExtractedValue::Number(-2.25)), "-2.25");
  EXPECT_EQ(ToStr(ExtractedValue::Number(1562708916414)), "1562708916414");
  EXPECT_EQ(ToStr(ExtractedValue::Number(1e21)), "1000000000000000000000");
  EXPECT_EQ(ToStr(ExtractedValue::Number(0.000001)), "0.000001");
  EXPECT_EQ(ToStr(ExtractedValue::Number(1e-7)), "0.0000001");
  EXPECT_EQ(ToStr(ExtractedValue::Number(-0.0)), "-0");
  EXPECT_EQ(ToStr(ExtractedValue::Number(std::numeric_limits<double>::quiet_NaN())), "NaN");
  EXPECT_EQ(ToStr(ExtractedValue::Number(std::numeric_limits<double>::infinity())), "+Inf");
  EXPECT_EQ(ToStr(ExtractedValue::Number(-std::numeric_limits<double>::infinity())), "-Inf");
}

// ---- test stages -----------------------------------------------------------------------------

// Appends its tag to every line.
class TagStage : public Stage {
 public:
  explicit TagStage(std::string tag) : tag_(std::move(tag)) {}
  void Process(ProcessEntry&& e, EmitFn emit) override {
    e.line += tag_;
    emit(std::move(e));
  }

 private:
  std::string tag_;
};

// Emits every entry twice.
class TwiceStage : public Stage {
 public:
  void Process(ProcessEntry&& e, EmitFn emit) override {
    ProcessEntry copy = e;
    copy.line += "#1";
    e.line += "#2";
    emit(std::move(copy));
    emit(std::move(e));
  }
};

// Drops lines containing "drop".
class DropWordStage : public Stage {
 public:
  void Process(ProcessEntry&& e, EmitFn emit) override {
    if (e.line.find("drop") == std::string::npos) emit(std::move(e));
  }
};

// Holds every entry until Tick() at or after `deadline`, or Flush(); optionally backlogged
// while it holds anything. Records the calls it gets.
class HoldStage : public Stage {
 public:
  HoldStage(int64_t deadline, bool backlog, std::vector<std::string>* calls, std::string name)
      : deadline_(deadline), backlog_(backlog), calls_(calls), name_(std::move(name)) {}
  void Process(ProcessEntry&& e, EmitFn) override { held_.push_back(std::move(e)); }
  void Tick(int64_t now, EmitFn emit) override {
    calls_->push_back(name_ + ".tick");
    if (now < deadline_) return;
    Release(emit);
  }
  void Flush(EmitFn emit) override {
    calls_->push_back(name_ + ".flush");
    Release(emit);
  }
  int64_t NextDeadline() const override { return held_.empty() ? INT64_MAX : deadline_; }
  void ForEachHeld(absl::FunctionRef<void(const ProcessEntry&)> fn) const override {
    for (const auto& e : held_) fn(e);
  }
  bool Backlogged() const override { return backlog_ && !held_.empty(); }
  bool Timed() const override { return true; }

 private:
  void Release(EmitFn emit) {
    while (!held_.empty()) {
      ProcessEntry e = std::move(held_.front());
      held_.pop_front();
      emit(std::move(e));
    }
  }
  int64_t deadline_;
  bool backlog_;
  std::vector<std::string>* calls_;
  std::string name_;
  std::deque<ProcessEntry> held_;
};

template <typename... S>
std::unique_ptr<ProcessPipeline> Pipe(std::unique_ptr<S>... stages) {
  std::vector<std::unique_ptr<Stage>> v;
  (v.push_back(std::move(stages)), ...);
  return std::make_unique<ProcessPipeline>(std::move(v));
}

ProcessEntry Entry(std::string line) {
  ProcessEntry e;
  e.line = std::move(line);
  return e;
}

std::vector<std::string> Lines(ProcessPipeline& p, ProcessEntry e) {
  std::vector<std::string> out;
  p.Process(std::move(e), [&](ProcessEntry&& o) { out.emplace_back(o.line); });
  return out;
}

// ---- ProcessPipeline -----------------------------------------------------------------------

TEST(ProcessPipelineTest, RunsStagesInOrder) {
  auto p = Pipe(std::make_unique<TagStage>("a"), std::make_unique<TagStage>("b"),
                std::make_unique<TagStage>("c"));
  EXPECT_EQ(Lines(*p, Entry("x")), (std::vector<std::string>{"xabc"}));
}

TEST(ProcessPipelineTest, EmptyPipelinePassesEntriesThrough) {
  auto p = Pipe();
  EXPECT_TRUE(p->empty());
  EXPECT_EQ(Lines(*p, Entry("x")), (std::vector<std::string>{"x"}));
  EXPECT_EQ(p->NextDeadline(), INT64_MAX);
  EXPECT_FALSE(p->Backlogged());
}

TEST(ProcessPipelineTest, EveryEmittedEntryRunsThroughTheLaterStages) {
  auto p = Pipe(std::make_unique<TwiceStage>(), std::make_unique<TagStage>("!"),
                std::make_unique<TwiceStage>());
  EXPECT_EQ(Lines(*p, Entry("x")),
            (std::vector<std::string>{"x#1!#1", "x#1!#2", "x#2!#1", "x#2!#2"}));
}

TEST(ProcessPipelineTest, DroppedEntriesStop) {
  auto p = Pipe(std::make_unique<DropWordStage>(), std::make_unique<TagStage>("!"));
  EXPECT_TRUE(Lines(*p, Entry("drop me")).empty());
  EXPECT_EQ(Lines(*p, Entry("keep")), (std::vector<std::string>{"keep!"}));
}

// What a stage sees: the extracted map as "k=v" strings, sorted.
class RecordExtractedStage final : public Stage {
 public:
  explicit RecordExtractedStage(std::vector<std::string>* seen) : seen_(seen) {}
  void Process(ProcessEntry&& e, EmitFn emit) override {
    seen_->clear();
    for (const auto& [k, v] : e.extracted) {
      std::string s;
      if (!v.ToString(&s)) s = "<null>";
      seen_->push_back(k + "=" + s);
    }
    std::sort(seen_->begin(), seen_->end());
    emit(std::move(e));
  }

 private:
  std::vector<std::string>* seen_;
};

TEST(ProcessPipelineTest, EachEntryStartsItsExtractedMapWithItsLabelsOnly) {
  std::vector<std::string> seen;
  auto p = Pipe(std::make_unique<RecordExtractedStage>(&seen));
  ProcessEntry e = Entry("x");
  e.labels.Set("filename", "/var/log/a.log");
  e.labels.Set("app", "api");
  // What an earlier loki.process (or the previous line) left: Alloy's loki.process starts every
  // entry with a new map of its labels.
  e.extracted["app"] = ExtractedValue::Number(3);
  e.extracted["other"] = ExtractedValue::Bool(true);
  std::vector<ProcessEntry> out;
  p->Process(std::move(e), [&](ProcessEntry&& o) { out.push_back(std::move(o)); });
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(seen, (std::vector<std::string>{"app=api", "filename=/var/log/a.log"}));
  EXPECT_EQ(out[0].extracted.at("app").kind, ExtractedValue::Kind::kString);
  EXPECT_FALSE(out[0].extracted.contains("other"));

  // The next entry through the same map: nothing of the first one's is left.
  ProcessEntry next = std::move(out[0]);
  next.labels = LabelSet();
  next.labels.Set("job", "j");
  next.extracted["level"] = ExtractedValue::String("info");
  out.clear();
  p->Process(std::move(next), [&](ProcessEntry&& o) { out.push_back(std::move(o)); });
  EXPECT_EQ(seen, (std::vector<std::string>{"job=j"}));
}

TEST(ProcessPipelineTest, NestedStagesSetTheLabelsOverTheEntrysMap) {
  // A stage.match's stages: Alloy seeds its nested pipeline over the map the entry has.
  std::vector<std::string> seen;
  std::vector<std::unique_ptr<Stage>> v;
  v.push_back(std::make_unique<RecordExtractedStage>(&seen));
  ProcessPipeline nested(std::move(v), /*nested=*/true);
  ProcessEntry e = Entry("x");
  e.labels.Set("app", "api");
  e.extracted["app"] = ExtractedValue::Number(3);  // replaced by the label
  e.extracted["other"] = ExtractedValue::Bool(true);
  nested.Process(std::move(e), [](ProcessEntry&&) {});
  EXPECT_EQ(seen, (std::vector<std::string>{"app=api", "other=true"}));
}

TEST(ProcessPipelineTest, TimedWhenAnyStageIsIncludingNestedOnes) {
  // Only a pipeline with a timed stage is asked for deadlines and backlogs after each entry.
  std::vector<std::string> calls;
  EXPECT_FALSE(Pipe(std::make_unique<TagStage>("a"), std::make_unique<TwiceStage>())->Timed());
  auto timed = Pipe(std::make_unique<TagStage>("a"),
                    std::make_unique<HoldStage>(100, false, &calls, "hold"));
  EXPECT_TRUE(timed->Timed());
  EXPECT_TRUE(Lines(*timed, Entry("x")).empty());
  EXPECT_EQ(timed->NextDeadline(), 100);
}

TEST(ProcessPipelineTest, TickReleasesRunThroughTheLaterStagesOnly) {
  std::vector<std::string> calls;
  auto p =
      Pipe(std::make_unique<TagStage>("a"), std::make_unique<HoldStage>(100, false, &calls, "hold"),
           std::make_unique<TagStage>("b"));
  EXPECT_TRUE(Lines(*p, Entry("x")).empty());
  EXPECT_EQ(p->NextDeadline(), 100);
  int held = 0;
  p->ForEachHeld([&](const ProcessEntry& e) {
    ++held;
    EXPECT_EQ(e.line, "xa");
  });
  EXPECT_EQ(held, 1);
  std::vector<std::string> out;
  p->Tick(99, [&](ProcessEntry&& e) { out.emplace_back(e.line); });
  EXPECT_TRUE(out.empty());
  p->Tick(100, [&](ProcessEntry&& e) { out.emplace_back(e.line); });
  EXPECT_EQ(out, (std::vector<std::string>{"xab"}));
  EXPECT_EQ(p->NextDeadline(), INT64_MAX);
}

TEST(ProcessPipelineTest, FlushGoesFromFirstToLastSoLaterBuffersFlushToo) {
  std::vector<std::string> calls;
  auto p = Pipe(std::make_unique<HoldStage>(INT64_MAX, false, &calls, "first"),
                std::make_unique<HoldStage>(INT64_MAX, false, &calls, "second"));
  Lines(*p, Entry("x"));
  std::vector<std::string> out;
  p->Flush([&](ProcessEntry&& e) { out.emplace_back(e.line); });
  EXPECT_EQ(out, (std::vector<std::string>{"x"}));
  EXPECT_EQ(calls, (std::vector<std::string>{"first.flush", "second.flush"}));
}

TEST(ProcessPipelineTest, NextDeadlineIsTheEarliest) {
  std::vector<std::string> calls;
  auto p =
      Pipe(std::make_unique<HoldStage>(300, false, &calls, "a"), std::make_unique<TwiceStage>());
  auto q =
      Pipe(std::make_unique<TwiceStage>(), std::make_unique<HoldStage>(200, false, &calls, "b"),
           std::make_unique<HoldStage>(100, false, &calls, "c"));
  Lines(*p, Entry("x"));
  Lines(*q, Entry("x"));
  EXPECT_EQ(p->NextDeadline(), 300);
  EXPECT_EQ(q->NextDeadline(), 200);  // "c" holds nothing: everything stays in "b"
}

TEST(ProcessPipelineTest, BackloggedStageStopsTheTicksBeforeIt) {
  std::vector<std::string> calls;
  auto p = Pipe(std::make_unique<HoldStage>(10, false, &calls, "early"),
                std::make_unique<HoldStage>(50, true, &calls, "limit"));
  // Put one entry into each stage: the first goes to "early"... and stays there; feed "limit"
  // through a tick of "early".
  Lines(*p, Entry("a"));
  std::vector<std::string> out;
  p->Tick(10, [&](ProcessEntry&& e) { out.emplace_back(e.line); });
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(p->Backlogged());
  Lines(*p, Entry("b"));  // held by "early"
  calls.clear();
  // "limit" is backlogged: "early" is neither ticked nor counted in the deadline.
  EXPECT_EQ(p->NextDeadline(), 50);
  p->Tick(20, [&](ProcessEntry&& e) { out.emplace_back(e.line); });
  EXPECT_EQ(calls, (std::vector<std::string>{"limit.tick"}));
  EXPECT_TRUE(out.empty());
  // Once "limit" releases, "early" is ticked in the same round (last stage first).
  calls.clear();
  p->Tick(50, [&](ProcessEntry&& e) { out.emplace_back(e.line); });
  EXPECT_EQ(calls, (std::vector<std::string>{"limit.tick", "early.tick"}));
  EXPECT_EQ(out, (std::vector<std::string>{"a"}));
  // "b" went on into "limit", which holds it again.
  EXPECT_TRUE(p->Backlogged());
  int held = 0;
  p->ForEachHeld([&](const ProcessEntry&) { ++held; });
  EXPECT_EQ(held, 1);
}

// ---- BuildStages ---------------------------------------------------------------------------

class BuildStagesTest : public ::testing::Test {
 protected:
  std::vector<std::unique_ptr<Stage>> Build(const std::vector<config::Block>& blocks) {
    std::vector<const config::Block*> ptrs;
    for (const auto& b : blocks) ptrs.push_back(&b);
    return BuildStages(ptrs, &diags_, ctx_);
  }
  FakeClock clock_;
  MetricsRegistry metrics_;
  StageContext ctx_{&clock_, &metrics_, "loki.process.default"};
  config::Diags diags_;
};

TEST_F(BuildStagesTest, BuildsControlStagesInOrder) {
  std::vector<config::Block> blocks = {
      BlockBuilder("stage.drop").Attr("expression", Str("^drop")).Build(),
      BlockBuilder("stage.limit").Attr("rate", Num(10)).Attr("burst", Int(10)).Build(),
      BlockBuilder("stage.multiline").Attr("firstline", Str("^S")).Build(),
  };
  std::vector<std::unique_ptr<Stage>> stages = Build(blocks);
  EXPECT_TRUE(diags_.ok());
  ASSERT_EQ(stages.size(), 3u);
  ProcessPipeline p(std::move(stages));
  EXPECT_TRUE(Lines(p, Entry("drop this")).empty());
  EXPECT_EQ(metrics_.CounterValue("loki_process_dropped_lines_total",
                                  {{"component_id", "loki.process.default"},
                                   {"component_path", "/"},
                                   {"reason", "drop_stage"}}),
            1u);
  EXPECT_TRUE(Lines(p, Entry("S1")).empty());  // held by multiline
  EXPECT_EQ(Lines(p, Entry("S2")), (std::vector<std::string>{"S1"}));
}

// A source lends its line (the file source's read buffer) for the push. Stages that only read
// it pass it on lent, down to the output: no copy of the line per entry. A stage that changes it
// takes its own copy and never writes the lent bytes; a stage that holds lines keeps its own
// copy, so the source may reuse its buffer as soon as the push returns.
TEST_F(BuildStagesTest, ALentLineIsCopiedOnlyByStagesThatChangeOrKeepIt) {
  auto run = [&](ProcessPipeline& p, std::string* buf, std::vector<ProcessEntry>* out) {
    ProcessEntry e;
    e.line.Borrow(*buf);
    p.Process(std::move(e), [&](ProcessEntry&& o) { out->push_back(std::move(o)); });
  };
  // The DaemonSet pipeline's stages after the file source (which does stage.cri's work).
  std::vector<config::Block> daemonset = {
      BlockBuilder("stage.json").Attr("expressions", Obj({{"level", Str("")}})).Build(),
      BlockBuilder("stage.labels").Attr("values", Obj({{"level", Str("")}})).Build(),
      BlockBuilder("stage.static_labels").Attr("values", Obj({{"cluster", Str("c")}})).Build(),
      BlockBuilder("stage.label_drop").Attr("values", Arr({Str("filename")})).Build(),
  };
  ProcessPipeline p(Build(daemonset));
  ASSERT_TRUE(diags_.ok());
  std::string buf = R"({"level":"warn","msg":"disk almost full"})";
  ProcessEntry seen;
  {
    ProcessEntry e;
    e.line.Borrow(buf);
    p.Process(std::move(e), [&](ProcessEntry&& o) {
      // Still the source's bytes when the output gets the entry.
      EXPECT_TRUE(o.line.borrowed());
      EXPECT_EQ(o.line.data(), buf.data());
      seen = std::move(o);
    });
  }
  EXPECT_EQ(seen.labels.Get("level").value(), "warn");
  EXPECT_EQ(seen.line, buf);

  // A stage that changes the line: its own copy, the lent bytes untouched.
  const std::string access = "11.11.11.11 - frank [25/Jan/2000:14:00:01 -0500]";
  std::string lent = access;
  ProcessPipeline replace(Build({BlockBuilder("stage.replace")
                                     .Attr("expression", Str(R"(11.11.11.11 - (\S+) .*)"))
                                     .Attr("replace", Str("****"))
                                     .Build()}));
  std::vector<ProcessEntry> out;
  run(replace, &lent, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].line, "11.11.11.11 - **** [25/Jan/2000:14:00:01 -0500]");
  EXPECT_EQ(lent, access);

  // Stages that hold lines (multiline, a CRI partial line, limit without drop) keep copies: the
  // source overwrites its buffer after each push.
  ProcessPipeline multiline(
      Build({BlockBuilder("stage.multiline").Attr("firstline", Str("^S")).Build()}));
  ProcessPipeline cri(Build({BlockBuilder("stage.cri").Build()}));
  ProcessPipeline limit(Build({BlockBuilder("stage.limit")
                                   .Attr("rate", Num(1))
                                   .Attr("burst", Int(1))
                                   .Attr("drop", Bool(false))
                                   .Build()}));
  ASSERT_TRUE(diags_.ok());
  out.clear();
  std::string reused;
  for (const char* l : {"S1 start", "  at one", "  at two"}) {
    reused.assign(l);
    run(multiline, &reused, &out);
    reused.assign(reused.size(), '#');
  }
  multiline.Flush([&](ProcessEntry&& o) { out.push_back(std::move(o)); });
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].line, "S1 start\n  at one\n  at two");

  out.clear();
  for (const char* l : {"2024-01-01T00:00:00Z stdout P first half, ",
                        "2024-01-01T00:00:01Z stdout F second half"}) {
    reused.assign(l);
    run(cri, &reused, &out);
    reused.assign(reused.size(), '#');
  }
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].line, "first half, second half");

  out.clear();
  for (const char* l : {"l0", "l1", "l2"}) {
    reused.assign(l);
    run(limit, &reused, &out);
    reused.assign(reused.size(), '#');
  }
  limit.Flush([&](ProcessEntry&& o) { out.push_back(std::move(o)); });
  std::vector<std::string> lines;
  for (const ProcessEntry& e : out) lines.emplace_back(e.line);
  EXPECT_EQ(lines, (std::vector<std::string>{"l0", "l1", "l2"}));
}

TEST_F(BuildStagesTest, TimedStagesAreTheOnesWithDeadlinesOrBacklogs) {
  auto timed = [&](config::Block b) {
    std::vector<std::unique_ptr<Stage>> stages = Build({b});
    EXPECT_TRUE(diags_.ok()) << b.name;
    ProcessPipeline p(std::move(stages));
    return p.Timed();
  };
  const config::Block multiline =
      BlockBuilder("stage.multiline").Attr("firstline", Str("^S")).Build();
  const config::Block statics =
      BlockBuilder("stage.static_labels").Attr("values", Obj({{"x", Str("y")}})).Build();
  EXPECT_TRUE(timed(multiline));
  EXPECT_TRUE(
      timed(BlockBuilder("stage.limit").Attr("rate", Num(1)).Attr("burst", Int(1)).Build()));
  EXPECT_FALSE(timed(BlockBuilder("stage.cri").Build()));
  EXPECT_FALSE(timed(statics));
  // A stage.match is timed when its own stages are.
  EXPECT_TRUE(timed(
      BlockBuilder("stage.match").Attr("selector", Str("{a=\"b\"}")).Child(multiline).Build()));
  EXPECT_FALSE(
      timed(BlockBuilder("stage.match").Attr("selector", Str("{a=\"b\"}")).Child(statics).Build()));
}

// What a file source asks before it leaves stage.cri's values out of the extracted map: the
// DaemonSet pipeline's stages name the keys they read, and none is content/flags/time; a stage
// that reads one by name, or one that cannot say (a template), keeps them.
TEST_F(BuildStagesTest, StagesSayWhichExtractedKeysTheyRead) {
  const config::Block cri = BlockBuilder("stage.cri").Build();
  const config::Block json = BlockBuilder("stage.json")
                                 .Attr("expressions", Obj({{"level", Str("")}, {"msg", Str("")}}))
                                 .Build();
  const config::Block labels =
      BlockBuilder("stage.labels").Attr("values", Obj({{"level", Str("")}})).Build();
  const config::Block statics =
      BlockBuilder("stage.static_labels").Attr("values", Obj({{"cluster", Str("c")}})).Build();
  const config::Block drop =
      BlockBuilder("stage.label_drop").Attr("values", Arr({Str("filename")})).Build();
  auto reads = [&](std::vector<config::Block> blocks) {
    std::vector<std::unique_ptr<Stage>> stages = Build(blocks);
    EXPECT_TRUE(diags_.ok());
    ProcessPipeline p(std::move(stages));
    return p.MayReadExtracted(1, {"content", "flags", "time"});
  };
  EXPECT_FALSE(reads({cri, json, labels, statics, drop}));
  EXPECT_FALSE(reads({cri}));
  // ...but the first stage's own reads do not count: it is the one left out.
  EXPECT_FALSE(reads(
      {BlockBuilder("stage.labels").Attr("values", Obj({{"t", Str("time")}})).Build(), json}));
  EXPECT_TRUE(
      reads({cri, json,
             BlockBuilder("stage.labels").Attr("values", Obj({{"f", Str("flags")}})).Build()}));
  EXPECT_TRUE(reads({cri, BlockBuilder("stage.json")
                              .Attr("expressions", Obj({{"level", Str("")}}))
                              .Attr("source", Str("content"))
                              .Build()}));
  EXPECT_TRUE(reads({cri, json,
                     BlockBuilder("stage.template")
                         .Attr("source", Str("x"))
                         .Attr("template", Str("{{ .time }}"))
                         .Build()}));
  EXPECT_TRUE(reads(
      {cri, BlockBuilder("stage.labels").Attr("values", Obj({{"content", Str("")}})).Build()}));
}

TEST_F(BuildStagesTest, UnsupportedAlloyStageIsAnErrorAtItsBlock) {
  for (std::string kind : {"split_json", "windowsevent"}) {
    diags_.Clear();
    config::Block b = BlockBuilder("stage." + kind).Build();
    EXPECT_TRUE(Build({b}).empty());
    ASSERT_EQ(diags_.list().size(), 1u) << kind;
    EXPECT_EQ(diags_.list()[0].message, "stage \"" + kind + "\" is not supported by sluice");
    EXPECT_EQ(diags_.list()[0].span.begin, b.span.begin);
    EXPECT_FALSE(IsSupportedStageKind(kind));
    EXPECT_TRUE(IsAlloyStageKind(kind));
  }
}

TEST_F(BuildStagesTest, EveryImplementedKindIsKnown) {
  for (std::string kind : {"cri",        "docker",         "template",
                           "sampling",   "luhn",           "structured_metadata_drop",
                           "json",       "logfmt",         "regex",
                           "replace",    "pack",           "decolorize",
                           "truncate",   "labels",         "static_labels",
                           "label_drop", "label_keep",     "structured_metadata",
                           "output",     "tenant",         "timestamp",
                           "drop",       "match",          "multiline",
                           "limit",      "pattern",        "metrics",
                           "geoip",      "eventlogmessage"}) {
    EXPECT_TRUE(IsSupportedStageKind(kind)) << kind;
  }
  EXPECT_FALSE(IsAlloyStageKind("nonsense"));
}

TEST_F(BuildStagesTest, UnknownKindIsAnUnrecognizedBlock) {
  config::Block b = BlockBuilder("stage.nonsense").Build();
  EXPECT_TRUE(Build({b}).empty());
  ASSERT_EQ(diags_.list().size(), 1u);
  EXPECT_EQ(diags_.list()[0].message, "unrecognized block name \"stage.nonsense\"");
}

TEST_F(BuildStagesTest, EveryBadBlockIsReportedAndNothingIsBuilt) {
  std::vector<config::Block> blocks = {
      BlockBuilder("stage.drop").Build(),
      BlockBuilder("stage.limit").Attr("rate", Num(1)).Attr("burst", Int(1)).Build(),
      BlockBuilder("stage.template").Build(),
  };
  EXPECT_TRUE(Build(blocks).empty());
  ASSERT_EQ(diags_.list().size(), 2u);
  EXPECT_EQ(diags_.list()[0].span.begin, blocks[0].span.begin);
  EXPECT_EQ(diags_.list()[1].span.begin, blocks[2].span.begin);
}

TEST_F(BuildStagesTest, EarlierDiagnosticsDoNotFailLaterBlocks) {
  diags_.Add(config::Span{}, "an error of another component");
  std::vector<config::Block> blocks = {BlockBuilder("stage.drop").Attr("source", Str("x")).Build()};
  EXPECT_EQ(Build(blocks).size(), 1u);
}

TEST(CountDroppedLineTest, UsesAlloysMetricAndLabels) {
  MetricsRegistry metrics;
  FakeClock clock;
  StageContext ctx{&clock, &metrics, "loki.process.default"};
  CountDroppedLine(ctx, "drop_stage");
  CountDroppedLine(ctx, "drop_stage");
  CountDroppedLine(ctx, "other");
  EXPECT_EQ(metrics.CounterValue("loki_process_dropped_lines_total",
                                 {{"component_id", "loki.process.default"},
                                  {"component_path", "/"},
                                  {"reason", "drop_stage"}}),
            2u);
  EXPECT_NE(metrics.RenderPrometheus().find(
                "loki_process_dropped_lines_total{component_id=\"loki.process.default\","
                "component_path=\"/\",reason=\"other\"} 1"),
            std::string::npos)
      << metrics.RenderPrometheus();
  // Without a registry nothing happens; without a component id only the reason is a label.
  CountDroppedLine(StageContext{&clock, nullptr, ""}, "x");
  StageContext bare{&clock, &metrics, ""};
  CountDroppedLine(bare, "x");
  EXPECT_EQ(metrics.CounterValue("loki_process_dropped_lines_total", {{"reason", "x"}}), 1u);
}

}  // namespace
}  // namespace sluice
