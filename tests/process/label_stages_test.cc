// Tests of the label and output stages (agent/process/stages/: labels, static_labels,
// label_drop, label_keep, structured_metadata, output, tenant), after Alloy's
// stages/*_test.go behaviour.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/process/stage_test_util.h"

namespace sluice::testing {
namespace {

using ::testing::ElementsAre;

StageHarness Make(StageFactory f, BlockBuilder b) {
  StageHarness h;
  EXPECT_TRUE(h.Build(f, b.Build())) << ::testing::PrintToString(h.Errors());
  return h;
}

std::vector<std::string> BuildErrors(StageFactory f, BlockBuilder b) {
  StageHarness h;
  EXPECT_FALSE(h.Build(f, b.Build()));
  return h.Errors();
}

// ------------------------------------------------------------------------------------------
// stage.labels

TEST(LabelsStageTest, SetsLabelsFromExtractedValues) {
  StageHarness h = Make(NewLabelsStage, BlockBuilder("stage.labels")
                                            .Attr("values", Obj({{"level", Str("")},
                                                                 {"app_name", Str("app")},
                                                                 {"n", Str("")},
                                                                 {"flag", Str("")},
                                                                 {"gone", Str("")},
                                                                 {"nul", Str("")}})));
  ProcessEntry in = Entry("line", {{"level", "old"}});
  in.extracted["level"] = ExtractedValue::String("WARN");
  in.extracted["app"] = ExtractedValue::String("loki");
  in.extracted["n"] = ExtractedValue::Number(1.5);
  in.extracted["flag"] = ExtractedValue::Bool(true);
  in.extracted["nul"] = ExtractedValue::Null();
  ProcessEntry e = h.One(std::move(in));
  EXPECT_EQ(Label(e, "level"), "WARN");
  EXPECT_EQ(Label(e, "app_name"), "loki");
  EXPECT_EQ(Label(e, "n"), "1.5");
  EXPECT_EQ(Label(e, "flag"), "true");
  EXPECT_EQ(Label(e, "gone"), "<absent>");
  EXPECT_EQ(Label(e, "nul"), "<absent>");
}

TEST(LabelsStageTest, NullSourceMeansSameName) {
  StageHarness h = Make(NewLabelsStage,
                        BlockBuilder("stage.labels").Attr("values", Obj({{"a", config::Value()}})));
  ProcessEntry in = Entry("line");
  in.extracted["a"] = ExtractedValue::String("1");
  EXPECT_EQ(Label(h.One(std::move(in)), "a"), "1");
}

TEST(LabelsStageTest, SkipsInvalidUtf8Values) {
  StageHarness h =
      Make(NewLabelsStage, BlockBuilder("stage.labels").Attr("values", Obj({{"a", Str("")}})));
  ProcessEntry in = Entry("line");
  in.extracted["a"] = ExtractedValue::String("\xFF");
  EXPECT_EQ(Label(h.One(std::move(in)), "a"), "<absent>");
}

TEST(LabelsStageTest, FromStructuredMetadata) {
  StageHarness h = Make(NewLabelsStage, BlockBuilder("stage.labels")
                                            .Attr("values", Obj({{"trace", Str("trace_id")}}))
                                            .Attr("source_type", Str("structured_metadata")));
  ProcessEntry in = Entry("line");
  in.structured_metadata = {{"trace_id", "abc"}, {"trace_id", "second"}};
  in.extracted["trace_id"] = ExtractedValue::String("from-extracted");
  EXPECT_EQ(Label(h.One(std::move(in)), "trace"), "abc");
}

TEST(LabelsStageTest, ValidatesArguments) {
  EXPECT_THAT(BuildErrors(NewLabelsStage, BlockBuilder("stage.labels")),
              ElementsAre("missing required attribute \"values\""));
  EXPECT_THAT(BuildErrors(NewLabelsStage,
                          BlockBuilder("stage.labels").Attr("values", Obj({{"\xfd", Str("")}}))),
              ElementsAre("invalid label name: \xfd"));
  EXPECT_THAT(BuildErrors(NewLabelsStage, BlockBuilder("stage.labels")
                                              .Attr("values", Obj({{"a", Str("")}}))
                                              .Attr("source_type", Str("line"))),
              ElementsAre("invalid labels source_type: line. Can only be 'extracted' or "
                          "'structured_metadata'"));
  EXPECT_THAT(BuildErrors(NewLabelsStage, BlockBuilder("stage.labels")
                                              .Attr("values", Obj({{"a", Str("")}}))
                                              .Attr("source_type", Str("invalid_source_type"))),
              ElementsAre("unknown source_type: invalid_source_type"));
  // Names only need to be valid UTF-8 (prometheus/common's default scheme in Alloy).
  StageHarness h;
  EXPECT_TRUE(
      h.Build(NewLabelsStage,
              BlockBuilder("stage.labels").Attr("values", Obj({{"a-b.c", Str("")}})).Build()));
}

// ------------------------------------------------------------------------------------------
// stage.static_labels

TEST(StaticLabelsStageTest, SetsValuesAndSkipsEmptyOnes) {
  StageHarness h =
      Make(NewStaticLabelsStage,
           BlockBuilder("stage.static_labels")
               .Attr("values",
                     Obj({{"env", Str("prod")}, {"empty", Str("")}, {"nul", config::Value()}})));
  ProcessEntry e = h.One(Entry("l", {{"env", "dev"}, {"empty", "keep"}}));
  EXPECT_EQ(Label(e, "env"), "prod");
  EXPECT_EQ(Label(e, "empty"), "keep");
  EXPECT_EQ(Label(e, "nul"), "<absent>");
}

TEST(StaticLabelsStageTest, ValidatesArguments) {
  EXPECT_THAT(BuildErrors(NewStaticLabelsStage, BlockBuilder("stage.static_labels")),
              ElementsAre("missing required attribute \"values\""));
  EXPECT_THAT(
      BuildErrors(NewStaticLabelsStage,
                  BlockBuilder("stage.static_labels").Attr("values", Obj({{"", Str("x")}}))),
      ElementsAre("invalid label name: "));
  EXPECT_THAT(
      BuildErrors(NewStaticLabelsStage,
                  BlockBuilder("stage.static_labels").Attr("values", Obj({{"a", Str("\xff")}}))),
      ElementsAre("invalid label value: \xff"));
}

// ------------------------------------------------------------------------------------------
// stage.label_drop / stage.label_keep

TEST(LabelDropStageTest, RemovesNamedLabels) {
  StageHarness h =
      Make(NewLabelDropStage,
           BlockBuilder("stage.label_drop").Attr("values", Arr({Str("a"), Str("missing")})));
  ProcessEntry e = h.One(Entry("l", {{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(Label(e, "a"), "<absent>");
  EXPECT_EQ(Label(e, "b"), "2");
}

TEST(LabelKeepStageTest, KeepsOnlyNamedLabels) {
  StageHarness h = Make(NewLabelKeepStage,
                        BlockBuilder("stage.label_keep").Attr("values", Arr({Str("b"), Str("c")})));
  ProcessEntry e = h.One(Entry("l", {{"a", "1"}, {"b", "2"}, {"__tenant_id__", "t"}}));
  EXPECT_EQ(e.labels.size(), 1u);
  EXPECT_EQ(Label(e, "b"), "2");
}

TEST(LabelDropKeepTest, ValidateArguments) {
  EXPECT_THAT(
      BuildErrors(NewLabelDropStage, BlockBuilder("stage.label_drop").Attr("values", Arr({}))),
      ElementsAre("labeldrop stage config cannot be empty"));
  EXPECT_THAT(
      BuildErrors(NewLabelKeepStage, BlockBuilder("stage.label_keep").Attr("values", Arr({}))),
      ElementsAre("labelallow stage config cannot be empty"));
  EXPECT_THAT(BuildErrors(NewLabelKeepStage, BlockBuilder("stage.label_keep")),
              ElementsAre("missing required attribute \"values\""));
  EXPECT_THAT(
      BuildErrors(NewLabelDropStage, BlockBuilder("stage.label_drop").Attr("values", Str("a"))),
      ElementsAre("expected array, got string"));
}

// ------------------------------------------------------------------------------------------
// stage.structured_metadata

TEST(StructuredMetadataStageTest, FromExtractedValues) {
  StageHarness h = Make(NewStructuredMetadataStage,
                        BlockBuilder("stage.structured_metadata")
                            .Attr("values", Obj({{"trace", Str("trace_id")}, {"app", Str("")}})));
  ProcessEntry in = Entry("line");
  in.extracted["trace_id"] = ExtractedValue::String("abc");
  in.extracted["app"] = ExtractedValue::Number(3);
  in.structured_metadata = {{"app", "old"}};
  ProcessEntry e = h.One(std::move(in));
  EXPECT_THAT(e.structured_metadata,
              ElementsAre(std::pair<std::string, std::string>("app", "3"),
                          std::pair<std::string, std::string>("trace", "abc")));
}

TEST(StructuredMetadataStageTest, MovesLabelsNamedAsSources) {
  StageHarness h =
      Make(NewStructuredMetadataStage,
           BlockBuilder("stage.structured_metadata").Attr("values", Obj({{"pod", Str("")}})));
  ProcessEntry e = h.One(Entry("line", {{"pod", "p-1"}, {"ns", "n"}}));
  EXPECT_EQ(Label(e, "pod"), "<absent>");
  EXPECT_EQ(Label(e, "ns"), "n");
  EXPECT_THAT(e.structured_metadata,
              ElementsAre(std::pair<std::string, std::string>("pod", "p-1")));
}

TEST(StructuredMetadataStageTest, RegexOnExtractedAndLabels) {
  StageHarness h = Make(NewStructuredMetadataStage,
                        BlockBuilder("stage.structured_metadata").Attr("regex", Str("^trace_")));
  ProcessEntry in = Entry("line", {{"trace_label", "L"}, {"other", "o"}});
  in.extracted["trace_id"] = ExtractedValue::String("abc");
  in.extracted["trace_null"] = ExtractedValue::Null();
  in.extracted["span"] = ExtractedValue::String("s");
  ProcessEntry e = h.One(std::move(in));
  EXPECT_THAT(e.structured_metadata,
              ElementsAre(std::pair<std::string, std::string>("trace_id", "abc"),
                          std::pair<std::string, std::string>("trace_label", "L")));
  EXPECT_EQ(Label(e, "trace_label"), "<absent>");
  EXPECT_EQ(Label(e, "other"), "o");
}

TEST(StructuredMetadataStageTest, ValidatesArguments) {
  StageHarness h;
  EXPECT_TRUE(
      h.Build(NewStructuredMetadataStage, BlockBuilder("stage.structured_metadata").Build()));
  EXPECT_THAT(
      BuildErrors(
          NewStructuredMetadataStage,
          BlockBuilder("stage.structured_metadata").Attr("values", Obj({{"\xfd", Str("")}}))),
      ElementsAre("invalid label name: \xfd"));
  EXPECT_THAT(BuildErrors(NewStructuredMetadataStage,
                          BlockBuilder("stage.structured_metadata").Attr("regex", Str("("))),
              ElementsAre("error parsing regexp: missing closing ): `(`"));
}

// ------------------------------------------------------------------------------------------
// stage.output

TEST(OutputStageTest, ReplacesLineWithExtractedValue) {
  StageHarness h = Make(NewOutputStage, BlockBuilder("stage.output").Attr("source", Str("msg")));
  ProcessEntry in = Entry("original");
  in.extracted["msg"] = ExtractedValue::String("new line");
  EXPECT_EQ(h.One(std::move(in)).line, "new line");
  ProcessEntry num = Entry("original");
  num.extracted["msg"] = ExtractedValue::Number(42);
  EXPECT_EQ(h.One(std::move(num)).line, "42");
  ProcessEntry nul = Entry("original");
  nul.extracted["msg"] = ExtractedValue::Null();
  EXPECT_EQ(h.One(std::move(nul)).line, "original");
  EXPECT_EQ(h.One(Entry("original")).line, "original");
}

TEST(OutputStageTest, ValidatesArguments) {
  EXPECT_THAT(BuildErrors(NewOutputStage, BlockBuilder("stage.output")),
              ElementsAre("missing required attribute \"source\""));
  EXPECT_THAT(BuildErrors(NewOutputStage, BlockBuilder("stage.output").Attr("source", Str(""))),
              ElementsAre("output source value is required if output is specified"));
}

// ------------------------------------------------------------------------------------------
// stage.tenant

TEST(TenantStageTest, FromValueSourceOrLabel) {
  StageHarness v = Make(NewTenantStage, BlockBuilder("stage.tenant").Attr("value", Str("team-a")));
  EXPECT_EQ(Label(v.One(Entry("l")), "__tenant_id__"), "team-a");

  StageHarness s = Make(NewTenantStage, BlockBuilder("stage.tenant").Attr("source", Str("cust")));
  ProcessEntry in = Entry("l", {{"__tenant_id__", "old"}});
  in.extracted["cust"] = ExtractedValue::String("team-b");
  EXPECT_EQ(Label(s.One(std::move(in)), "__tenant_id__"), "team-b");
  EXPECT_EQ(Label(s.One(Entry("l", {{"__tenant_id__", "old"}})), "__tenant_id__"), "old");
  ProcessEntry empty = Entry("l");
  empty.extracted["cust"] = ExtractedValue::String("");
  EXPECT_EQ(Label(s.One(std::move(empty)), "__tenant_id__"), "<absent>");

  StageHarness l = Make(NewTenantStage, BlockBuilder("stage.tenant").Attr("label", Str("ns")));
  EXPECT_EQ(Label(l.One(Entry("l", {{"ns", "team-c"}})), "__tenant_id__"), "team-c");
  EXPECT_EQ(Label(l.One(Entry("l")), "__tenant_id__"), "<absent>");
}

TEST(TenantStageTest, ValidatesArguments) {
  EXPECT_THAT(BuildErrors(NewTenantStage, BlockBuilder("stage.tenant")),
              ElementsAre("label, source or value config are required"));
  EXPECT_THAT(
      BuildErrors(NewTenantStage,
                  BlockBuilder("stage.tenant").Attr("source", Str("a")).Attr("value", Str("b"))),
      ElementsAre("label, source and value are mutually exclusive: you should set source, "
                  "value or label but not all"));
  EXPECT_THAT(
      BuildErrors(NewTenantStage,
                  BlockBuilder("stage.tenant").Attr("label", Str("a")).Attr("source", Str("b"))),
      ElementsAre("label, source and value are mutually exclusive: you should set source, "
                  "value or label but not all"));
}

TEST(StageErrorsTest, ErrorsPointAtTheAttribute) {
  StageHarness h;
  config::Block b = BlockBuilder("stage.output").Attr("source", Str("")).Build();
  EXPECT_FALSE(h.Build(NewOutputStage, b));
  ASSERT_EQ(h.diags.list().size(), 1u);
  EXPECT_EQ(h.diags.list()[0].span.begin.line, b.body.attrs[0].value_span.begin.line);
  EXPECT_EQ(h.diags.list()[0].span.begin.col, b.body.attrs[0].value_span.begin.col);
}

}  // namespace
}  // namespace sluice::testing
