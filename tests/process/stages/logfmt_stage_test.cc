// Tests of stage.logfmt (agent/process/stages/logfmt.cc), case by case after Alloy's
// stages/*_test.go behaviour.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/process/stages/stage_test_util.h"

namespace sluice::testing {
namespace {

using ::testing::ElementsAre;

constexpr char kLogfmtLine[] =
    "\n\t\ttime=2012-11-01T22:08:41+00:00 app=loki\tlevel=WARN duration=125 message=\"this is a "
    "log line\" extra=\"user=foo\"\"\n\t";

StageHarness Logfmt(BlockBuilder b) {
  StageHarness h;
  EXPECT_TRUE(h.Build(NewLogfmtStage, b.Build())) << ::testing::PrintToString(h.Errors());
  return h;
}

TEST(LogfmtStageTest, MappingExtractsAsStrings) {
  StageHarness h = Logfmt(BlockBuilder("stage.logfmt")
                              .Attr("mapping", Obj({{"out", Str("message")},
                                                    {"app", Str("")},
                                                    {"duration", Str("")},
                                                    {"unknown", Str("")}})));
  ProcessEntry e = h.One(Entry(kLogfmtLine));
  EXPECT_EQ(X(e, "out"), "this is a log line");
  EXPECT_EQ(X(e, "app"), "loki");
  EXPECT_EQ(X(e, "duration"), "125");
  EXPECT_EQ(X(e, "unknown"), "<absent>");
  EXPECT_EQ(e.extracted.size(), 3u);
}

TEST(LogfmtStageTest, SourceAndRegex) {
  StageHarness h = Logfmt(BlockBuilder("stage.logfmt")
                              .Attr("mapping", Obj({{"user", Str("")}}))
                              .Attr("source", Str("extra")));
  ProcessEntry in = Entry("ignored");
  in.extracted["extra"] = ExtractedValue::String("user=foo");
  EXPECT_EQ(X(h.One(std::move(in)), "user"), "foo");
  EXPECT_EQ(X(h.One(Entry("user=bar")), "user"), "<absent>");  // source absent

  StageHarness re = Logfmt(BlockBuilder("stage.logfmt").Attr("regex", Str("pod_.*")));
  ProcessEntry e = re.One(Entry("time=x pod_name=my-pod-123 pod_label=my-label"));
  EXPECT_EQ(X(e, "pod_name"), "my-pod-123");
  EXPECT_EQ(X(e, "pod_label"), "my-label");
  EXPECT_EQ(X(e, "time"), "<absent>");
}

TEST(LogfmtStageTest, InvalidLogfmtKeepsPairsBeforeTheError) {
  StageHarness h = Logfmt(BlockBuilder("stage.logfmt").Attr("regex", Str(".*")));
  ProcessEntry e = h.One(Entry(kLogfmtLine));
  EXPECT_EQ(X(e, "extra"), "user=foo");
  EXPECT_EQ(e.extracted.size(), 6u);
  EXPECT_TRUE(h.One(Entry(R"({"invalid":"logfmt"})")).extracted.empty());
}

TEST(LogfmtStageTest, ValidatesArguments) {
  StageHarness h;
  EXPECT_FALSE(h.Build(NewLogfmtStage, BlockBuilder("stage.logfmt").Build()));
  EXPECT_THAT(h.Errors(), ElementsAre("logfmt mapping or regex is required"));
  EXPECT_FALSE(
      h.Build(NewLogfmtStage, BlockBuilder("stage.logfmt").Attr("regex", Str("[")).Build()));
  EXPECT_THAT(h.Errors(), ElementsAre("error parsing regexp: missing closing ]: `[`"));
}

}  // namespace
}  // namespace sluice::testing
