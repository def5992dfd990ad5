// Tests of stage.docker (agent/process/stages/docker.cc), case by case after Alloy's
// stages/*_test.go behaviour.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/process/stages/stage_test_util.h"

namespace sluice::testing {
namespace {

StageHarness Docker() {
  StageHarness h;
  EXPECT_TRUE(h.Build(NewDockerStage, BlockBuilder("stage.docker").Build()));
  return h;
}

TEST(DockerStageTest, ParsesJsonFileLines) {
  StageHarness h = Docker();
  ProcessEntry e = h.One(Entry(
      R"({"log":"level=info msg=\"Adding target\"\n","stream":"stderr","time":"2019-04-30T02:12:41.8443515Z"})"));
  EXPECT_EQ(e.line, "level=info msg=\"Adding target\"\n");  // the newline stays, as in Alloy
  EXPECT_EQ(Label(e, "stream"), "stderr");
  EXPECT_EQ(e.timestamp_ns, 1556590361844351500);
  EXPECT_EQ(X(e, "output"), e.line);
  EXPECT_EQ(X(e, "stream"), "stderr");
  EXPECT_EQ(X(e, "timestamp"), "2019-04-30T02:12:41.8443515Z");
}

TEST(DockerStageTest, InvalidTimestampKeepsEntryTime) {
  StageHarness h = Docker();
  ProcessEntry e = h.One(Entry(R"({"log":"log message\n","stream":"stderr","time":"hi!"})", {}, 5));
  EXPECT_EQ(e.line, "log message\n");
  EXPECT_EQ(e.timestamp_ns, 5);
  EXPECT_EQ(Label(e, "stream"), "stderr");
}

TEST(DockerStageTest, OtherInputPassesUnchanged) {
  StageHarness h = Docker();
  for (const std::string line :
       {"i'm not json!", R"({"msg": "test"})", R"({"log": ""})", R"({"log": 5})", "null",
        R"(["log"])", R"({"log":"x"} trailing)"}) {
    ProcessEntry e = h.One(Entry(line));
    EXPECT_EQ(e.line, line);
    EXPECT_TRUE(e.labels.empty()) << line;
  }
}

TEST(DockerStageTest, KeysMatchCaseInsensitivelyAndLastWins) {
  StageHarness h = Docker();
  ProcessEntry e = h.One(Entry(R"({"LOG":"a","Log":"b","Stream":"stdout","time":null})", {}, 9));
  EXPECT_EQ(e.line, "b");
  EXPECT_EQ(Label(e, "stream"), "stdout");
  EXPECT_EQ(e.timestamp_ns, 9);
}

}  // namespace
}  // namespace sluice::testing
