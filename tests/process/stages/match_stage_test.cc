// Tests of stage.match (agent/process/stages/match.cc), built by name as loki.process builds it,
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

class MatchStageTest : public StageTest {
 protected:
  // A nested stage that sets the timestamp from the extracted value "ts" (Unix seconds): shows
  // whether the nested stages ran.
  static config::Block NestedTs(std::string source = "ts") {
    return BlockBuilder("stage.timestamp")
        .Attr("source", Str(source))
        .Attr("format", Str("Unix"))
        .Attr("action_on_failure", Str("skip"))
        .Build();
  }
  std::unique_ptr<Stage> Keep(std::string selector) {
    return Build(
        BlockBuilder("stage.match").Attr("selector", Str(selector)).Child(NestedTs()).Build());
  }
  std::unique_ptr<Stage> DropMatching(std::string selector) {
    return Build(BlockBuilder("stage.match")
                     .Attr("selector", Str(selector))
                     .Attr("action", Str("drop"))
                     .Build());
  }
  static ProcessEntry WithTs(std::string line, LabelSet labels) {
    ProcessEntry e = Entry(std::move(line), std::move(labels), 5);
    e.extracted["ts"] = ExtractedValue::String("100");
    return e;
  }
  // 0: dropped, 1: passed without running the nested stages, 2: nested stages ran.
  int Outcome(Stage& s, std::string line, LabelSet labels) {
    std::vector<ProcessEntry> out = Run(s, WithTs(std::move(line), std::move(labels)));
    if (out.empty()) return 0;
    return out[0].timestamp_ns == 100'000'000'000 ? 2 : 1;
  }
};

TEST_F(MatchStageTest, KeepRunsNestedStagesOnMatchingEntriesOnly) {
  const LabelSet foo = Labels({{"foo", "bar"}});
  EXPECT_EQ(Outcome(*Keep(R"({foo="bar"} |= "foo")"), "foo", foo), 2);
  EXPECT_EQ(Outcome(*Keep(R"({foo="bar"} |~ "foo")"), "foo", foo), 2);
  EXPECT_EQ(Outcome(*Keep(R"({foo="bar"} |= "bar")"), "foo", foo), 1);
  EXPECT_EQ(Outcome(*Keep(R"({foo="bar"} |~ "bar")"), "foo", foo), 1);
  EXPECT_EQ(Outcome(*Keep(R"({foo="bar"} != "bar")"), "foo", foo), 2);
  EXPECT_EQ(Outcome(*Keep(R"({foo="bar"} !~ "bar")"), "foo", foo), 2);
  EXPECT_EQ(Outcome(*Keep(R"({foo="bar"} != "foo")"), "foo", foo), 1);
  EXPECT_EQ(Outcome(*Keep(R"({foo="bar"})"), "foo", foo), 2);
  EXPECT_EQ(Outcome(*Keep(R"({foo=""})"), "foo", foo), 1);
  EXPECT_EQ(Outcome(*Keep(R"({foo=""})"), "foo", {}), 2);
  EXPECT_EQ(Outcome(*Keep(R"({foo!="bar"})"), "foo", foo), 1);
  EXPECT_EQ(Outcome(*Keep(R"({foo="bar",bar!="test"})"), "foo", foo), 2);
  const LabelSet both = Labels({{"foo", "bar"}, {"bar", "test"}});
  EXPECT_EQ(Outcome(*Keep(R"({foo="bar",bar!="test"})"), "foo", both), 1);
  EXPECT_EQ(Outcome(*Keep(R"({foo="bar",bar=~"te.*"})"), "foo", both), 2);
  EXPECT_EQ(Outcome(*Keep(R"({foo="bar",bar!~"te.*"})"), "foo", both), 1);
}

TEST_F(MatchStageTest, DropDropsMatchingEntries) {
  const LabelSet foo = Labels({{"foo", "bar"}});
  EXPECT_EQ(Outcome(*DropMatching(R"({foo="bar"} |= "foo")"), "foo", foo), 0);
  EXPECT_EQ(Outcome(*DropMatching(R"({foo="bar"} |~ "foo")"), "foo", foo), 0);
  EXPECT_EQ(Outcome(*DropMatching(R"({foo="bar"} |= "bar")"), "foo", foo), 1);
  EXPECT_EQ(Outcome(*DropMatching(R"({foo="bar"} != "bar")"), "foo", foo), 0);
  EXPECT_EQ(Outcome(*DropMatching(R"({foo="bar"} !~ "bar")"), "foo", foo), 0);
  EXPECT_EQ(Outcome(*DropMatching(R"({foo="bar"} != "foo")"), "foo", foo), 1);
  EXPECT_EQ(Outcome(*DropMatching(R"({foo!="bar"})"), "foo", foo), 1);
  EXPECT_EQ(Outcome(*DropMatching(R"({foo="bar",bar!="test"})"), "foo", foo), 0);
  const LabelSet both = Labels({{"foo", "bar"}, {"bar", "test"}});
  EXPECT_EQ(Outcome(*DropMatching(R"({foo="bar",bar=~"te.*"})"), "foo", both), 0);
  EXPECT_EQ(Outcome(*DropMatching(R"({foo="bar",bar!~"te.*"})"), "foo", both), 1);
  EXPECT_EQ(Dropped("match_stage"), 6u);
}

TEST_F(MatchStageTest, DropCounterReason) {
  auto s = Build(BlockBuilder("stage.match")
                     .Attr("selector", Str(R"({app="x"} |~ ".*noisy error.*")"))
                     .Attr("action", Str("drop"))
                     .Attr("drop_counter_reason", Str("discard_noisy_errors"))
                     .Build());
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(Run(*s, Entry("a noisy error", Labels({{"app", "x"}}))).empty());
  EXPECT_EQ(Run(*s, Entry("a quiet error", Labels({{"app", "x"}}))).size(), 1u);
  EXPECT_EQ(Dropped("discard_noisy_errors"), 1u);
  EXPECT_EQ(Dropped("match_stage"), 0u);
}

TEST_F(MatchStageTest, NestedStagesSeeLabelsAsExtractedValues) {
  auto s = Build(BlockBuilder("stage.match")
                     .Attr("selector", Str(R"({app="x"})"))
                     .Attr("pipeline_name", Str("app_x"))
                     .Child(NestedTs("epoch"))
                     .Build());
  ASSERT_NE(s, nullptr);
  std::vector<ProcessEntry> out = Run(*s, Entry("l", Labels({{"app", "x"}, {"epoch", "7"}})));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].timestamp_ns, 7'000'000'000);
}

TEST_F(MatchStageTest, NestedBufferingStagesAreDrivenThroughTheMatch) {
  auto s = Build(BlockBuilder("stage.match")
                     .Attr("selector", Str(R"({app="x"})"))
                     .Child(BlockBuilder("stage.multiline")
                                .Attr("firstline", Str("^START"))
                                .Attr("max_wait_time", Str("1s"))
                                .Build())
                     .Build());
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(Run(*s, Entry("START a", Labels({{"app", "x"}}))).empty());
  int held = 0;
  s->ForEachHeld([&](const ProcessEntry&) { ++held; });
  EXPECT_EQ(held, 1);
  EXPECT_EQ(s->NextDeadline(), 1'000'000'000);
  std::vector<ProcessEntry> out = TickAt(*s, 1'000'000'000);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].line, "START a");
  EXPECT_EQ(Run(*s, Entry("START b", Labels({{"app", "x"}}))).size(), 0u);
  EXPECT_EQ(FlushAll(*s).size(), 1u);
}

TEST_F(MatchStageTest, NestedLimitMakesTheMatchBacklogged) {
  auto s = Build(BlockBuilder("stage.match")
                     .Attr("selector", Str(R"({app="x"})"))
                     .Child(BlockBuilder("stage.limit")
                                .Attr("rate", Num(0.1))
                                .Attr("burst", Int(1))
                                .Attr("drop", Bool(false))
                                .Build())
                     .Build());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Run(*s, Entry("a", Labels({{"app", "x"}}))).size(), 1u);
  EXPECT_FALSE(s->Backlogged());
  EXPECT_TRUE(Run(*s, Entry("b", Labels({{"app", "x"}}))).empty());
  EXPECT_TRUE(s->Backlogged());
  // Entries the selector does not take are not held back by the nested limit.
  EXPECT_EQ(Run(*s, Entry("c", Labels({{"app", "y"}}))).size(), 1u);
  EXPECT_EQ(FlushAll(*s).size(), 1u);
  EXPECT_FALSE(s->Backlogged());
}

TEST_F(MatchStageTest, MissingSelector) {
  EXPECT_EQ(Build(BlockBuilder("stage.match").Child(NestedTs()).Build()), nullptr);
  EXPECT_EQ(OnlyError(), "missing required attribute \"selector\"");
}

TEST_F(MatchStageTest, EmptySelector) {
  EXPECT_EQ(Keep(""), nullptr);
  EXPECT_EQ(OnlyError(), "selector statement required for match stage");
}

TEST_F(MatchStageTest, BadAction) {
  EXPECT_EQ(Build(BlockBuilder("stage.match")
                      .Attr("selector", Str(R"({app="foo"})"))
                      .Attr("action", Str("nope"))
                      .Build()),
            nullptr);
  EXPECT_EQ(OnlyError(), "match stage action should be 'keep' or 'drop'");
}

TEST_F(MatchStageTest, KeepNeedsStages) {
  EXPECT_EQ(Build(BlockBuilder("stage.match").Attr("selector", Str(R"({app="foo"})")).Build()),
            nullptr);
  EXPECT_EQ(OnlyError(),
            "match stage requires at least one additional stage to be defined in '- stages'");
}

TEST_F(MatchStageTest, DropCannotHaveStages) {
  EXPECT_EQ(Build(BlockBuilder("stage.match")
                      .Attr("selector", Str(R"({app="foo"})"))
                      .Attr("action", Str("drop"))
                      .Child(NestedTs())
                      .Build()),
            nullptr);
  EXPECT_EQ(OnlyError(), "match stage configured to drop entries cannot contains stages");
}

TEST_F(MatchStageTest, BadSelector) {
  EXPECT_EQ(Keep(R"({app="foo})"), nullptr);
  EXPECT_EQ(OnlyError(),
            "invalid selector syntax for match stage: parse error at line 1, col 6: literal not "
            "terminated");
  diags_.Clear();
  EXPECT_EQ(Keep("{}"), nullptr);
  EXPECT_EQ(OnlyError(),
            "invalid selector syntax for match stage: parse error at line 1, col 2: syntax error: "
            "unexpected }, expecting IDENTIFIER");
  diags_.Clear();
  EXPECT_EQ(Keep(R"({foo="bar"} |= "foo" | status >= 200)"), nullptr);
  EXPECT_EQ(OnlyError().rfind("invalid selector syntax for match stage: ", 0), 0u);
}

TEST_F(MatchStageTest, BadLineFilterRegex) {
  EXPECT_EQ(DropMatching(R"({foo="bar"} !~ "[]")"), nullptr);
  EXPECT_EQ(OnlyError(), "error parsing pipeline: error parsing regexp: missing closing ]: `[]`");
}

TEST_F(MatchStageTest, NestedErrorsAreReportedAtTheNestedBlock) {
  config::Block nested = BlockBuilder("stage.timestamp").Attr("source", Str("ts")).Build();
  EXPECT_EQ(Build(BlockBuilder("stage.match")
                      .Attr("selector", Str(R"({app="foo"})"))
                      .Child(nested)
                      .Build()),
            nullptr);
  EXPECT_EQ(OnlyError(), "missing required attribute \"format\"");
  EXPECT_EQ(diags_.list()[0].span.begin, nested.span.begin);
}

TEST_F(MatchStageTest, NestedUnsupportedStage) {
  config::Block nested = BlockBuilder("stage.template").Attr("source", Str("x")).Build();
  EXPECT_EQ(Build(BlockBuilder("stage.match")
                      .Attr("selector", Str(R"({app="foo"})"))
                      .Child(nested)
                      .Build()),
            nullptr);
  EXPECT_EQ(OnlyError(), "stage \"template\" is not supported by sluice");
  EXPECT_EQ(diags_.list()[0].span.begin, nested.span.begin);
}

TEST_F(MatchStageTest, NestedMatch) {
  auto s = Build(BlockBuilder("stage.match")
                     .Attr("selector", Str(R"({app="x"})"))
                     .Child(BlockBuilder("stage.match")
                                .Attr("selector", Str(R"({app="x"} |= "drop me")"))
                                .Attr("action", Str("drop"))
                                .Build())
                     .Build());
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(Run(*s, Entry("please drop me", Labels({{"app", "x"}}))).empty());
  EXPECT_EQ(Run(*s, Entry("keep me", Labels({{"app", "x"}}))).size(), 1u);
}

}  // namespace
}  // namespace sluice
