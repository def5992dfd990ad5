// Tests of stage.pack (agent/process/stages/pack.cc), case by case after Alloy's
// stages/*_test.go behaviour.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/process/stages/stage_test_util.h"

namespace sluice::testing {
namespace {

using ::testing::ElementsAre;

StageHarness Pack(BlockBuilder b) {
  StageHarness h;
  EXPECT_TRUE(h.Build(NewPackStage, b.Build())) << ::testing::PrintToString(h.Errors());
  return h;
}

ProcessEntry WithExtracted(ProcessEntry e) {
  // The pipeline copies the labels into the extracted map before the first stage.
  for (const auto& [k, v] : e.labels.labels()) e.extracted[k] = ExtractedValue::String(v);
  return e;
}

TEST(PackStageTest, NoLabelsWrapsTheLine) {
  StageHarness h = Pack(
      BlockBuilder("stage.pack").Attr("labels", Arr({})).Attr("ingest_timestamp", Bool(false)));
  ProcessEntry e = h.One(WithExtracted(Entry("test line 1", {{"foo", "bar"}}, 1)));
  EXPECT_EQ(e.line, R"({"_entry":"test line 1"})");
  EXPECT_EQ(e.timestamp_ns, 1);
  EXPECT_EQ(Label(e, "foo"), "bar");
}

TEST(PackStageTest, PacksLabelsSortedAndRemovesThem) {
  StageHarness h = Pack(BlockBuilder("stage.pack")
                            .Attr("labels", Arr({Str("foo"), Str("bar"), Str("nope")}))
                            .Attr("ingest_timestamp", Bool(false)));
  ProcessEntry e =
      h.One(WithExtracted(Entry("test line 1", {{"foo", "bar"}, {"bar", "baz"}, {"x", "y"}}, 1)));
  EXPECT_EQ(e.line, R"({"bar":"baz","foo":"bar","_entry":"test line 1"})");
  EXPECT_EQ(Label(e, "foo"), "<absent>");
  EXPECT_EQ(Label(e, "bar"), "<absent>");
  EXPECT_EQ(Label(e, "x"), "y");
}

TEST(PackStageTest, PacksExtractedValuesAndEscapes) {
  StageHarness h = Pack(BlockBuilder("stage.pack")
                            .Attr("labels", Arr({Str("ex\"tr2"), Str("n")}))
                            .Attr("ingest_timestamp", Bool(false)));
  ProcessEntry in = Entry("<a & b>\n", {}, 1);
  in.extracted["ex\"tr2"] = ExtractedValue::String("\"fd\"");
  in.extracted["n"] = ExtractedValue::Null();  // not convertible: skipped
  EXPECT_EQ(h.One(std::move(in)).line,
            R"({"ex\"tr2":"\"fd\"","_entry":"\u003ca \u0026 b\u003e\n"})");
}

TEST(PackStageTest, IngestTimestampDefaultsToNow) {
  StageHarness h = Pack(BlockBuilder("stage.pack").Attr("labels", Arr({})));
  EXPECT_EQ(h.One(Entry("x", {}, 1)).timestamp_ns, h.clock->NowUnixNanos());
}

TEST(PackStageTest, LabelsAreRequired) {
  StageHarness h;
  EXPECT_FALSE(h.Build(NewPackStage, BlockBuilder("stage.pack").Build()));
  EXPECT_THAT(h.Errors(), ElementsAre("missing required attribute \"labels\""));
}

}  // namespace
}  // namespace sluice::testing
