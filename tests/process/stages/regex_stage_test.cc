// Tests of stage.regex (agent/process/stages/regex.cc), case by case after Alloy's
// stages/*_test.go behaviour.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/process/stages/stage_test_util.h"

namespace sluice::testing {
namespace {

using ::testing::ElementsAre;

StageHarness Regex(BlockBuilder b) {
  StageHarness h;
  EXPECT_TRUE(h.Build(NewRegexStage, b.Build())) << ::testing::PrintToString(h.Errors());
  return h;
}

TEST(RegexStageTest, NamedGroupsAreExtracted) {
  StageHarness h = Regex(
      BlockBuilder("stage.regex")
          .Attr(
              "expression",
              Str(R"re(^(?P<ip>\S+) (?P<identd>\S+) (?P<user>\S+) \[(?P<timestamp>[\w:/]+\s[+\-]\d{4})\] "(?P<action>\S+)\s?(?P<path>\S+)?\s?(?P<protocol>\S+)?" (?P<status>\d{3}|-) (\d+|-)\s?"?(?P<referer>[^"]*)"?\s?"?(?P<useragent>[^"]*)?"?$)re")));
  ProcessEntry e = h.One(Entry(kAccessLine));
  EXPECT_EQ(X(e, "ip"), "11.11.11.11");
  EXPECT_EQ(X(e, "user"), "frank");
  EXPECT_EQ(X(e, "timestamp"), "25/Jan/2000:14:00:01 -0500");
  EXPECT_EQ(X(e, "status"), "200");
  EXPECT_EQ(X(e, "referer"), "-");
  EXPECT_EQ(e.extracted.size(), 10u);
  EXPECT_TRUE(e.labels.empty());
}

TEST(RegexStageTest, NoMatchLeavesEntry) {
  StageHarness h = Regex(BlockBuilder("stage.regex").Attr("expression", Str("(?P<x>^z)")));
  EXPECT_TRUE(h.One(Entry("abc")).extracted.empty());
}

TEST(RegexStageTest, UnmatchedOptionalGroupIsEmpty) {
  StageHarness h = Regex(BlockBuilder("stage.regex").Attr("expression", Str("a(?P<b>b)?")));
  EXPECT_EQ(X(h.One(Entry("ac")), "b"), "");
}

TEST(RegexStageTest, SourceReadsExtractedValues) {
  StageHarness h = Regex(BlockBuilder("stage.regex")
                             .Attr("expression", Str(R"(^(?P<year>\d+))"))
                             .Attr("source", Str("time")));
  ProcessEntry in = Entry("line");
  in.extracted["time"] = ExtractedValue::String("2019-01-01");
  EXPECT_EQ(X(h.One(std::move(in)), "year"), "2019");
  ProcessEntry num = Entry("line");
  num.extracted["time"] = ExtractedValue::Number(125);  // converted with getString
  EXPECT_EQ(X(h.One(std::move(num)), "year"), "125");
  EXPECT_EQ(X(h.One(Entry("2020")), "year"), "<absent>");
}

TEST(RegexStageTest, LabelsFromGroups) {
  StageHarness h = Regex(BlockBuilder("stage.regex")
                             // \C (any byte) lets the test capture invalid UTF-8.
                             .Attr("expression", Str("^(?P<level>\\w+) (?P<msg>\\C*)$"))
                             .Attr("labels_from_groups", Bool(true)));
  ProcessEntry e = h.One(Entry("error it broke", {{"level", "old"}}));
  EXPECT_EQ(Label(e, "level"), "error");
  EXPECT_EQ(Label(e, "msg"), "it broke");
  // A value that is not valid UTF-8 is extracted but not made a label.
  ProcessEntry bad = h.One(Entry("warn \xFF"));
  EXPECT_EQ(X(bad, "msg"), "\xFF");
  EXPECT_EQ(Label(bad, "msg"), "<absent>");
}

TEST(RegexStageTest, ValidatesArguments) {
  StageHarness h;
  EXPECT_FALSE(h.Build(NewRegexStage, BlockBuilder("stage.regex").Build()));
  EXPECT_THAT(h.Errors(), ElementsAre("missing required attribute \"expression\""));
  EXPECT_FALSE(
      h.Build(NewRegexStage, BlockBuilder("stage.regex").Attr("expression", Str("")).Build()));
  EXPECT_THAT(h.Errors(), ElementsAre("expression is required"));
  EXPECT_FALSE(h.Build(NewRegexStage, BlockBuilder("stage.regex")
                                          .Attr("expression", Str("(?P<ts>[0-9]+).*"))
                                          .Attr("source", Str(""))
                                          .Build()));
  EXPECT_THAT(h.Errors(), ElementsAre("empty source"));
  EXPECT_FALSE(
      h.Build(NewRegexStage,
              BlockBuilder("stage.regex").Attr("expression", Str("(?P<ts[0-9]+).*")).Build()));
  ASSERT_EQ(h.Errors().size(), 1u);
  EXPECT_EQ(
      h.Errors()[0].rfind(
          "could not compile regular expression: error parsing regexp: invalid named capture", 0),
      0u);
}

}  // namespace
}  // namespace sluice::testing
