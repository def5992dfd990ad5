// Tests of stage.limit (agent/process/stages/limit.cc), built by name as loki.process builds it,
// case by case after Alloy's own tests (stages/*_test.go).
#include <memory>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/process/stages/stage_fixture.h"
#include "tests/support/block_builder.h"

namespace sluice {
namespace {

using testing::BlockBuilder;
using testing::Bool;
using testing::Entry;
using testing::Int;
using testing::Labels;
using testing::Num;
using testing::StageTest;
using testing::Str;

class LimitStageTest : public StageTest {
 protected:
  static BlockBuilder Limit(double rate, int64_t burst, bool drop) {
    return std::move(BlockBuilder("stage.limit")
                         .Attr("rate", Num(rate))
                         .Attr("burst", Int(burst))
                         .Attr("drop", Bool(drop)));
  }
  int Passed(Stage& s, int n, LabelSet labels = {}) {
    int passed = 0;
    for (int i = 0; i < n; ++i) passed += static_cast<int>(Run(s, Entry("x", labels)).size());
    return passed;
  }
};

TEST_F(LimitStageTest, DropDiscardsWhatExceedsTheRate) {
  auto s = Build(Limit(1, 1, true).Build());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Passed(*s, 10), 1);
  EXPECT_EQ(Dropped("ratelimit_drop_stage"), 9u);
  clock_.Advance(1'000'000'000);
  EXPECT_EQ(Passed(*s, 10), 1);
  EXPECT_FALSE(s->Backlogged());
}

TEST_F(LimitStageTest, BurstIsTheBucketSize) {
  auto s = Build(Limit(10, 3, true).Build());
  EXPECT_EQ(Passed(*s, 5), 3);
  clock_.Advance(100'000'000);  // one token at 10/s
  EXPECT_EQ(Passed(*s, 5), 1);
  clock_.Advance(10'000'000'000);  // refills up to the burst only
  EXPECT_EQ(Passed(*s, 5), 3);
}

TEST_F(LimitStageTest, WithoutDropEntriesWaitForTokens) {
  auto s = Build(Limit(1, 1, false).Build());
  ASSERT_NE(s, nullptr);
  std::vector<std::string> out;
  for (int i = 0; i < 5; ++i) {
    s->Process(Entry("l" + std::to_string(i)), [&](ProcessEntry&& e) { out.push_back(e.line); });
  }
  EXPECT_EQ(out, (std::vector<std::string>{"l0"}));
  EXPECT_TRUE(s->Backlogged());
  int held = 0;
  s->ForEachHeld([&](const ProcessEntry&) { ++held; });
  EXPECT_EQ(held, 4);
  EXPECT_EQ(s->NextDeadline(), 1'000'000'000);
  clock_.Advance(1'000'000'000);
  std::vector<ProcessEntry> t = TickAt(*s, clock_.MonotonicNanos());
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].line, "l1");
  EXPECT_EQ(s->NextDeadline(), 2'000'000'000);
  // Order is kept: a new entry queues behind the held ones even when a token is there.
  clock_.Advance(1'000'000'000);
  EXPECT_TRUE(Run(*s, Entry("l5")).empty());
  EXPECT_EQ(Lines(TickAt(*s, clock_.MonotonicNanos())), (std::vector<std::string>{"l2"}));
  EXPECT_EQ(Dropped("ratelimit_drop_stage"), 0u);
}

TEST_F(LimitStageTest, FlushReleasesEverythingHeld) {
  auto s = Build(Limit(0.1, 1, false).Build());
  Passed(*s, 4);
  EXPECT_TRUE(s->Backlogged());
  EXPECT_EQ(FlushAll(*s).size(), 3u);
  EXPECT_FALSE(s->Backlogged());
  EXPECT_EQ(s->NextDeadline(), INT64_MAX);
}

TEST_F(LimitStageTest, HeldQueueIsBounded) {
  auto s = Build(Limit(0.001, 1, false).Build());
  Passed(*s, 1 + 4096 + 10);
  int held = 0;
  s->ForEachHeld([&](const ProcessEntry&) { ++held; });
  EXPECT_EQ(held, 4096);
  EXPECT_EQ(Dropped("ratelimit_drop_stage"), 10u);
}

TEST_F(LimitStageTest, ByLabelName) {
  auto s = Build(Limit(1, 1, true).Attr("by_label_name", Str("app")).Build());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Passed(*s, 5, Labels({{"app", "loki"}})), 1);
  EXPECT_EQ(Passed(*s, 5, Labels({{"app", "poki"}})), 1);
  EXPECT_EQ(Passed(*s, 5, Labels({})), 5);  // no label: not limited
  EXPECT_EQ(Dropped("ratelimit_drop_stage"), 8u);
  auto by_label = [&](std::string v) {
    return metrics_.CounterValue("loki_process_dropped_lines_by_label_total",
                                 {{"component_id", "loki.process.test"},
                                  {"component_path", "/"},
                                  {"label_name", "app"},
                                  {"label_value", v}});
  };
  EXPECT_EQ(by_label("loki"), 4u);
  EXPECT_EQ(by_label("poki"), 4u);
}

TEST_F(LimitStageTest, ByLabelKeepsBucketsAcrossGenerations) {
  // max_distinct_labels is raised to 10000 at least; fill a generation and check that a value
  // still in use keeps its (empty) bucket.
  auto s = Build(Limit(1, 1, true).Attr("by_label_name", Str("app")).Build());
  EXPECT_EQ(Passed(*s, 2, Labels({{"app", "hot"}})), 1);
  for (int i = 0; i < 10000; ++i) Passed(*s, 1, Labels({{"app", "v" + std::to_string(i)}}));
  EXPECT_EQ(Passed(*s, 1, Labels({{"app", "hot"}})), 0);
}

TEST_F(LimitStageTest, RateAndBurstMustBePositive) {
  EXPECT_EQ(Build(Limit(0, 1, true).Build()), nullptr);
  EXPECT_EQ(OnlyError(), "limit stage failed to parse rate or burst");
  diags_.Clear();
  EXPECT_EQ(Build(Limit(1, 0, true).Build()), nullptr);
  EXPECT_EQ(OnlyError(), "limit stage failed to parse rate or burst");
}

TEST_F(LimitStageTest, ByLabelNeedsDrop) {
  EXPECT_EQ(Build(Limit(1, 1, false).Attr("by_label_name", Str("app")).Build()), nullptr);
  EXPECT_EQ(OnlyError(), "when ratelimiting by label, drop must be true");
}

TEST_F(LimitStageTest, RateAndBurstAreRequired) {
  EXPECT_EQ(Build(BlockBuilder("stage.limit").Attr("rate", Num(1)).Build()), nullptr);
  EXPECT_EQ(OnlyError(), "missing required attribute \"burst\"");
}

TEST_F(LimitStageTest, BurstMustBeAnInteger) {
  EXPECT_EQ(Build(BlockBuilder("stage.limit").Attr("rate", Num(1)).Attr("burst", Num(1.5)).Build()),
            nullptr);
  EXPECT_EQ(OnlyError(), "cannot assign non-integer number 1.5 to an integer");
}

}  // namespace
}  // namespace sluice
