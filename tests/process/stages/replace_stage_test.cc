// Tests of stage.replace (agent/process/stages/replace.cc), case by case after Alloy's
// stages/*_test.go behaviour.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/process/stages/stage_test_util.h"

namespace sluice::testing {
namespace {

using ::testing::ElementsAre;

StageHarness Replace(BlockBuilder b) {
  StageHarness h;
  EXPECT_TRUE(h.Build(NewReplaceStage, b.Build())) << ::testing::PrintToString(h.Errors());
  return h;
}

constexpr char kUpperTemplate[] =
    "{{ if eq .Value \"200\" }}{{ Replace .Value \"200\" \"HttpStatusOk\" -1 }}{{ else }}{{ "
    ".Value | ToUpper }}{{ end }}";
constexpr char kReplacedLine[] =
    R"(11.11.11.11 - FRANK [25/JAN/2000:14:00:01 -0500] "GET /1986.JS HTTP/1.1" HttpStatusOk 932 "-" "MOZILLA/5.0 (WINDOWS; U; WINDOWS NT 5.1; DE; RV:1.9.1.7) GECKO/20091221 FIREFOX/3.5.7 GTB6")";

TEST(ReplaceStageTest, ReplacesCaptureGroupsOfTheLine) {
  StageHarness h = Replace(BlockBuilder("stage.replace")
                               .Attr("expression", Str(R"(11.11.11.11 - (\S+) .*)"))
                               .Attr("replace", Str("dummy")));
  ProcessEntry e = h.One(Entry(kAccessLine));
  EXPECT_EQ(e.line.substr(0, 20), "11.11.11.11 - dummy ");
  EXPECT_TRUE(e.extracted.empty());
}

TEST(ReplaceStageTest, SourceIsReplacedInPlace) {
  StageHarness h = Replace(BlockBuilder("stage.replace")
                               .Attr("expression", Str(R"(\S+ - "POST (\S+) .*)"))
                               .Attr("source", Str("msg"))
                               .Attr("replace", Str("/loki/api/v1/push/")));
  ProcessEntry in = Entry("the line");
  in.extracted["msg"] =
      ExtractedValue::String(R"(11.11.11.11 - "POST /loki/api/push/ HTTP/1.1" 200)");
  ProcessEntry e = h.One(std::move(in));
  EXPECT_EQ(X(e, "msg"), R"(11.11.11.11 - "POST /loki/api/v1/push/ HTTP/1.1" 200)");
  EXPECT_EQ(e.line, "the line");
}

TEST(ReplaceStageTest, TemplateWithNamedGroups) {
  StageHarness h = Replace(
      BlockBuilder("stage.replace")
          .Attr(
              "expression",
              Str(R"re(^(?P<ip>\S+) (?P<identd>\S+) (?P<user>\S+) \[(?P<timestamp>[\w:/]+\s[+\-]\d{4})\] "(?P<action>\S+)\s?(?P<path>\S+)?\s?(?P<protocol>\S+)?" (?P<status>\d{3}|-) (\d+|-)\s?"?(?P<referer>[^"]*)"?\s?"?(?P<useragent>[^"]*)?"?$)re"))
          .Attr("replace", Str(kUpperTemplate)));
  ProcessEntry e = h.One(Entry(kAccessLine));
  EXPECT_EQ(e.line, kReplacedLine);
  EXPECT_EQ(X(e, "user"), "FRANK");
  EXPECT_EQ(X(e, "status"), "HttpStatusOk");
  EXPECT_EQ(X(e, "path"), "/1986.JS");
  EXPECT_EQ(X(e, "ip"), "11.11.11.11");
  EXPECT_EQ(e.extracted.size(), 10u);
}

TEST(ReplaceStageTest, NestedGroupsAreReplacedOnce) {
  StageHarness h = Replace(
      BlockBuilder("stage.replace")
          .Attr(
              "expression",
              Str(R"re((?P<ip_user>^(?P<ip>\S+) (?P<identd>\S+) (?P<user>\S+)) \[(?P<timestamp>[\w:/]+\s[+\-]\d{4})\] "(?P<action_path>(?P<action>\S+)\s?(?P<path>\S+)?)\s?(?P<protocol>\S+)?" (?P<status>\d{3}|-) (\d+|-)\s?"?(?P<referer>[^"]*)"?\s?"?(?P<useragent>[^"]*)?"?$)re"))
          .Attr("replace", Str(kUpperTemplate)));
  ProcessEntry e = h.One(Entry(kAccessLine));
  EXPECT_EQ(e.line, kReplacedLine);
  EXPECT_EQ(X(e, "ip_user"), "11.11.11.11 - FRANK");
  EXPECT_EQ(X(e, "action_path"), "GET /1986.JS");
  EXPECT_EQ(X(e, "user"), "FRANK");
}

TEST(ReplaceStageTest, UnnamedGroupsWithTemplate) {
  StageHarness h = Replace(
      BlockBuilder("stage.replace")
          .Attr(
              "expression",
              Str(R"re(^(\S+) (\S+) (\S+) \[([\w:/]+\s[+\-]\d{4})\] "(\S+)\s?(\S+)?\s?(\S+)?" (\d{3}|-) (\d+|-)\s?"?([^"]*)"?\s?"?([^"]*)?"?$)re"))
          .Attr("replace", Str(kUpperTemplate)));
  ProcessEntry e = h.One(Entry(kAccessLine));
  EXPECT_EQ(e.line, kReplacedLine);
  EXPECT_TRUE(e.extracted.empty());
}

TEST(ReplaceStageTest, EmptyReplaceRemovesCaptures) {
  StageHarness h = Replace(BlockBuilder("stage.replace")
                               .Attr("expression", Str(R"(11.11.11.11 - (\S+\s))"))
                               .Attr("replace", Str("")));
  EXPECT_EQ(h.One(Entry(kAccessLine)).line.substr(0, 16), "11.11.11.11 - [2");
  StageHarness adj = Replace(BlockBuilder("stage.replace").Attr("expression", Str("(a|b|c)")));
  EXPECT_EQ(adj.One(Entry("abc")).line, "");
}

TEST(ReplaceStageTest, TemplateReadsExtractedValues) {
  StageHarness h = Replace(BlockBuilder("stage.replace")
                               .Attr("expression", Str("user=(\\w+)"))
                               .Attr("replace", Str("{{ .Value }}@{{ .host }}")));
  ProcessEntry in = Entry("user=bob ok");
  in.extracted["host"] = ExtractedValue::String("h1");
  EXPECT_EQ(h.One(std::move(in)).line, "user=bob@h1 ok");
}

TEST(ReplaceStageTest, HashRedactsValues) {
  StageHarness h = Replace(BlockBuilder("stage.replace")
                               .Attr("expression", Str("password (\\S+)"))
                               .Attr("replace", Str("{{ .Value | Sha2Hash \"a\" }}")));
  EXPECT_EQ(h.One(Entry("password bc!")).line.substr(0, 15), "password 53e0ef");
}

TEST(ReplaceStageTest, NoMatchOrTemplateErrorLeavesEntry) {
  StageHarness h = Replace(BlockBuilder("stage.replace")
                               .Attr("expression", Str("x(\\d)"))
                               .Attr("replace", Str("{{ ToUpper .nothing }}")));
  EXPECT_EQ(h.One(Entry("abc")).line, "abc");
  EXPECT_EQ(h.One(Entry("x1")).line, "x1");
  StageHarness src = Replace(
      BlockBuilder("stage.replace").Attr("expression", Str("(a)")).Attr("source", Str("missing")));
  EXPECT_EQ(src.One(Entry("a")).line, "a");
}

TEST(ReplaceStageTest, ValidatesArguments) {
  StageHarness h;
  EXPECT_FALSE(h.Build(NewReplaceStage, BlockBuilder("stage.replace").Build()));
  EXPECT_THAT(h.Errors(), ElementsAre("missing required attribute \"expression\""));
  EXPECT_FALSE(
      h.Build(NewReplaceStage, BlockBuilder("stage.replace").Attr("expression", Str("")).Build()));
  EXPECT_THAT(h.Errors(), ElementsAre("expression is required"));
  EXPECT_FALSE(
      h.Build(NewReplaceStage,
              BlockBuilder("stage.replace").Attr("expression", Str("(?P<ts[0-9]+).*")).Build()));
  EXPECT_EQ(h.Errors()[0].rfind("could not compile regular expression: error parsing regexp: ", 0),
            0u);
  EXPECT_FALSE(h.Build(NewReplaceStage, BlockBuilder("stage.replace")
                                            .Attr("expression", Str("(a)"))
                                            .Attr("replace", Str("{{ nope .Value }}"))
                                            .Build()));
  ASSERT_EQ(h.Errors().size(), 1u);
  EXPECT_EQ(h.Errors()[0].rfind(
                "failed to compile template: template: pipeline_template:1: function \"nope\" not "
                "defined",
                0),
            0u);
}

}  // namespace
}  // namespace sluice::testing
