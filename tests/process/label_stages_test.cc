// Tests of the label and output stages (agent/process/stages/: labels, static_labels,
// label_drop, label_keep, structured_metadata, output, tenant), after Alloy's
// stages/*_test.go behaviour.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
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

// Label sets as entries bring them: the same labels without a token, with one token (copies of
// one stamped set), or with tokens of their own (stamped separately).
std::vector<LabelSet> SetsAsEntriesBringThem(
    const std::vector<std::vector<std::pair<std::string, std::string>>>& sets) {
  std::vector<LabelSet> out;
  for (const auto& pairs : sets) {
    LabelSet plain;
    for (const auto& [k, v] : pairs) plain.Set(k, v);
    LabelSet stamped = plain;
    stamped.Stamp();
    LabelSet other = plain;
    other.Stamp();
    out.push_back(plain);
    out.push_back(stamped);
    out.push_back(other);
  }
  return out;
}

std::string Rendered(const LabelSet& labels) {
  std::string got;
  for (const auto& [name, value] : labels.labels()) {
    absl::StrAppend(&got, sluice::Av(name), "=", sluice::Av(value), ",");
  }
  return got;
}

// static_labels and label_drop remember what they made of the last label sets (eight): sets that
// come back, in runs and alternating, more of them than are remembered, sets that differ only in
// a value or extend one another, and the same sets with no token, one or another, each get their
// own result.
TEST(LabelDropStageTest, RememberedSetsGiveTheSameResultAsComputedOnes) {
  StageHarness drop = Make(NewLabelDropStage,
                           BlockBuilder("stage.label_drop").Attr("values", Arr({Str("filename")})));
  StageHarness statics =
      Make(NewStaticLabelsStage,
           BlockBuilder("stage.static_labels").Attr("values", Obj({{"cluster", Str("c")}})));
  const std::vector<std::vector<std::pair<std::string, std::string>>> sets = {
      {{"app", "a"}, {"filename", "/f"}},
      {{"app", "a"}, {"filename", "/f"}, {"level", "info"}},
      {{"app", "a"}, {"filename", "/f"}, {"level", "warn"}},
      {{"app", "a"}, {"filename", "/g"}, {"level", "warn"}},
      {{"app", "ab"}, {"filename", "/f"}},
      {{"app", "a"}, {"cluster", "mine"}},
  };
  const std::vector<LabelSet> brought = SetsAsEntriesBringThem(sets);
  auto want = [&](size_t k) {
    std::map<std::string, std::string> m(sets[k].begin(), sets[k].end());
    m.erase("filename");
    m["cluster"] = "c";
    std::string out;
    for (const auto& [n, v] : m) absl::StrAppend(&out, n, "=", v, ",");
    return out;
  };
  for (size_t n = 0; n < 400; ++n) {
    // All 18 in turn, then runs of three, then a walk that comes back to a few.
    const size_t i = n < 100   ? n % brought.size()
                     : n < 250 ? (n / 3) % brought.size()
                               : (n * 7) % 5;
    ProcessEntry in = Entry("l");
    in.labels = brought[i];
    ProcessEntry e = statics.One(drop.One(std::move(in)));
    ASSERT_EQ(Rendered(e.labels), want(i / 3)) << n;
  }
}

// stage.labels remembers its result per label set and values: the same set with other values
// (or a value absent, null, or not valid UTF-8), other sets with the same values, and sets with
// no token, one or another, each get what the stage computes for them.
TEST(LabelsStageTest, RememberedSetsAndValuesGiveTheSameResultAsComputedOnes) {
  StageHarness h = Make(NewLabelsStage,
                        BlockBuilder("stage.labels")
                            .Attr("values", Obj({{"level", Str("")}, {"app", Str("app_name")}})));
  const std::vector<std::vector<std::pair<std::string, std::string>>> sets = {
      {{"app", "a"}, {"stream", "stdout"}},
      {{"app", "a"}, {"stream", "stderr"}},
      {{"app", "b"}, {"level", "old"}},
  };
  const std::vector<LabelSet> brought = SetsAsEntriesBringThem(sets);
  // Values of `level` and `app_name`; nullopt: absent.
  struct Values {
    std::optional<ExtractedValue> level, app;
  };
  const std::vector<Values> values = {
      {ExtractedValue::String("info"), std::nullopt},
      {ExtractedValue::String("warn"), std::nullopt},
      {ExtractedValue::String("info"), ExtractedValue::String("x")},
      {std::nullopt, std::nullopt},
      {ExtractedValue::Null(), ExtractedValue::String("y")},
      {ExtractedValue::Number(2.5), ExtractedValue::Bool(true)},
      {ExtractedValue::String("bad\xff"), ExtractedValue::String("x")},
  };
  auto want = [&](size_t set, const Values& v) {
    std::map<std::string, std::string> m(sets[set].begin(), sets[set].end());
    auto apply = [&](const std::string& name, const std::optional<ExtractedValue>& x) {
      if (!x.has_value() || x->kind == ExtractedValue::Kind::kNull) return;
      std::string s;
      x->ToString(&s);
      if (s == "bad\xff") return;  // not valid UTF-8: skipped
      m[name] = s;
    };
    apply("level", v.level);
    apply("app", v.app);
    std::string out;
    for (const auto& [n, x] : m) absl::StrAppend(&out, n, "=", x, ",");
    return out;
  };
  for (size_t n = 0; n < 600; ++n) {
    const size_t i = n < 300 ? n % brought.size() : (n / 4) % brought.size();
    const Values& v = values[n < 300 ? (n / 2) % values.size() : (n * 5) % values.size()];
    ProcessEntry in = Entry("l");
    in.labels = brought[i];
    in.extracted.Reset(in.labels);
    if (v.level) in.extracted["level"] = *v.level;
    if (v.app) in.extracted["app_name"] = *v.app;
    ProcessEntry e = h.One(std::move(in));
    ASSERT_EQ(Rendered(e.labels), want(i / 3, v)) << n;
  }
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

namespace sluice::testing {
namespace {

// stage.template as the k8s-monitoring node-logs pipeline uses it (ToUpper on the level) and
// with .Entry, an empty result deleting the source, a failing template leaving the entry alone.
TEST(TemplateStageTest, RewritesTheSourceFromATemplate) {
  StageHarness h = Make(NewTemplateStage, BlockBuilder("stage.template")
                                              .Attr("source", Str("level"))
                                              .Attr("template", Str("{{ .Value | ToUpper }}")));
  ProcessEntry in = Entry("line");
  in.extracted["level"] = ExtractedValue::String("warn");
  EXPECT_EQ(X(h.One(std::move(in)), "level"), "WARN");
  EXPECT_EQ(X(h.One(Entry("no level")), "level"), "<absent>") << "no value: unchanged";

  StageHarness entry = Make(
      NewTemplateStage, BlockBuilder("stage.template")
                            .Attr("source", Str("new"))
                            .Attr("template", Str("{{ if eq .app \"x\" }}{{ .Entry }}{{ end }}")));
  ProcessEntry a = Entry("the line");
  a.extracted["app"] = ExtractedValue::String("x");
  a.extracted["new"] = ExtractedValue::String("old");
  EXPECT_EQ(X(entry.One(std::move(a)), "new"), "the line");
  ProcessEntry b = Entry("other");
  b.extracted["app"] = ExtractedValue::String("y");
  b.extracted["new"] = ExtractedValue::String("old");
  EXPECT_EQ(X(entry.One(std::move(b)), "new"), "<absent>") << "an empty result deletes it";

  EXPECT_THAT(
      BuildErrors(
          NewTemplateStage,
          BlockBuilder("stage.template").Attr("source", Str("")).Attr("template", Str("x"))),
      ElementsAre("template source value is required"));
  EXPECT_THAT(BuildErrors(NewTemplateStage, BlockBuilder("stage.template")
                                                .Attr("source", Str("a"))
                                                .Attr("template", Str("{{ nope . }}"))),
              ElementsAre(::testing::HasSubstr("function \"nope\" not defined")));
}

TEST(SamplingStageTest, KeepsAboutTheRateAndCountsTheRest) {
  StageHarness half = Make(NewSamplingStage, BlockBuilder("stage.sampling").Attr("rate", Num(0.5)));
  int kept = 0;
  for (int i = 0; i < 10000; ++i) kept += static_cast<int>(half.Run(Entry("x")).size());
  EXPECT_GT(kept, 4500);
  EXPECT_LT(kept, 5500);
  EXPECT_EQ(half.Counter("loki_process_dropped_lines_total",
                         {{"component_path", "/"}, {"reason", "sampling_stage"}}),
            static_cast<uint64_t>(10000 - kept));
  StageHarness none = Make(NewSamplingStage, BlockBuilder("stage.sampling")
                                                 .Attr("rate", Num(0))
                                                 .Attr("drop_counter_reason", Str("sampled")));
  EXPECT_TRUE(none.Run(Entry("x")).empty());
  EXPECT_EQ(none.Counter("loki_process_dropped_lines_total",
                         {{"component_path", "/"}, {"reason", "sampled"}}),
            1u);
  StageHarness all = Make(NewSamplingStage, BlockBuilder("stage.sampling").Attr("rate", Num(1)));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(all.Run(Entry("x")).size(), 1u);
  EXPECT_THAT(BuildErrors(NewSamplingStage, BlockBuilder("stage.sampling").Attr("rate", Num(1.5))),
              ElementsAre("sampling stage failed to parse rate,Sampling Rate must be between 0.0 "
                          "and 1.0, received 1.500000"));
}

TEST(StructuredMetadataDropStageTest, DropsTheNamedKeys) {
  StageHarness h =
      Make(NewStructuredMetadataDropStage, BlockBuilder("stage.structured_metadata_drop")
                                               .Attr("values", Arr({Str("trace_id"), Str("pod")})));
  ProcessEntry in = Entry("x");
  in.structured_metadata = {{"trace_id", "1"}, {"keep", "2"}, {"pod", "3"}};
  ProcessEntry out = h.One(std::move(in));
  ASSERT_EQ(out.structured_metadata.size(), 1u);
  EXPECT_EQ(out.structured_metadata[0].first, "keep");
}

TEST(LuhnStageTest, RedactsLuhnValidNumbersOfTheMinimumLength) {
  StageHarness h = Make(NewLuhnStage, BlockBuilder("stage.luhn"));
  // 4111111111111111 passes the Luhn check, 4111111111111112 does not; 12 digits are too few.
  EXPECT_EQ(h.One(Entry("card 4111111111111111 ok")).line, "card **REDACTED** ok");
  EXPECT_EQ(h.One(Entry("card 4111111111111112 ok")).line, "card 4111111111111112 ok");
  EXPECT_EQ(h.One(Entry("id 411111111111")).line, "id 411111111111");
  StageHarness src = Make(NewLuhnStage, BlockBuilder("stage.luhn")
                                            .Attr("source", Str("cc"))
                                            .Attr("replacement", Str("<cc>"))
                                            .Attr("min_length", Int(16)));
  ProcessEntry in = Entry("the line");
  in.extracted["cc"] = ExtractedValue::String("x4111111111111111");
  ProcessEntry out = src.One(std::move(in));
  EXPECT_EQ(out.line, "x<cc>") << "with a source, its redacted value becomes the line (Alloy)";
  StageHarness delim = Make(NewLuhnStage, BlockBuilder("stage.luhn")
                                              .Attr("delimiters", Str("- "))
                                              .Attr("skip_regex", Str("order=[0-9-]+")));
  EXPECT_EQ(delim.One(Entry("card 4111-1111-1111-1111 order=4111-1111-1111-1111")).line,
            "card **REDACTED** order=4111-1111-1111-1111");
  EXPECT_THAT(BuildErrors(NewLuhnStage, BlockBuilder("stage.luhn").Attr("source", Str(""))),
              ElementsAre("empty source"));
}

}  // namespace
}  // namespace sluice::testing

namespace sluice::testing {
namespace {

// stage.metrics: a counter of every entry and of its bytes, a counter filtered by value, a gauge
// set from a number, a histogram; one series per label set, rendered with the component's
// labels; idle series removed.
TEST(MetricsStageTest, CountersGaugesHistogramsPerLabelSet) {
  StageHarness h =
      Make(NewMetricsStage, BlockBuilder("stage.metrics")
                                .Child(BlockBuilder("metric.counter")
                                           .Attr("name", Str("lines_total"))
                                           .Attr("description", Str("all lines"))
                                           .Attr("match_all", config::Value::Bool(true))
                                           .Attr("action", Str("inc"))
                                           .Build())
                                .Child(BlockBuilder("metric.counter")
                                           .Attr("name", Str("bytes_total"))
                                           .Attr("match_all", config::Value::Bool(true))
                                           .Attr("count_entry_bytes", config::Value::Bool(true))
                                           .Attr("action", Str("add"))
                                           .Build())
                                .Child(BlockBuilder("metric.counter")
                                           .Attr("name", Str("errors_total"))
                                           .Attr("source", Str("level"))
                                           .Attr("value", Str("error"))
                                           .Attr("action", Str("inc"))
                                           .Attr("max_idle_duration", Str("10s"))
                                           .Build())
                                .Child(BlockBuilder("metric.gauge")
                                           .Attr("name", Str("queue"))
                                           .Attr("action", Str("set"))
                                           .Build())
                                .Child(BlockBuilder("metric.histogram")
                                           .Attr("name", Str("latency"))
                                           .Attr("prefix", Str("app_"))
                                           .Attr("buckets", Arr({Num(0.1), Num(1)}))
                                           .Build()));
  ProcessEntry a = Entry("abcd", {{"app", "api"}});
  a.extracted["level"] = ExtractedValue::String("error");
  a.extracted["queue"] = ExtractedValue::String("7");
  a.extracted["latency"] = ExtractedValue::Number(0.5);
  h.One(std::move(a));
  ProcessEntry b = Entry("xy", {{"app", "api"}});
  b.extracted["level"] = ExtractedValue::String("info");
  h.One(std::move(b));
  std::string text = h.metrics->RenderPrometheus();
  const std::string l = "app=\"api\",component_id=\"loki.process.test\",component_path=\"/\"";
  EXPECT_NE(text.find("# TYPE loki_process_custom_lines_total counter\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("loki_process_custom_lines_total{" + l + "} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("loki_process_custom_bytes_total{" + l + "} 6\n"), std::string::npos);
  EXPECT_NE(text.find("loki_process_custom_errors_total{" + l + "} 1\n"), std::string::npos);
  EXPECT_NE(text.find("loki_process_custom_queue{" + l + "} 7\n"), std::string::npos);
  EXPECT_NE(text.find("app_latency_bucket{" + l + ",le=\"0.1\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("app_latency_bucket{" + l + ",le=\"1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("app_latency_count{" + l + "} 1\n"), std::string::npos);

  // 11 s later another app's line: the idle errors series (10 s) goes, the rest (5 m) stays.
  h.clock->Advance(11'000'000'000);
  h.One(Entry("z", {{"app", "web"}}));
  text = h.metrics->RenderPrometheus();
  EXPECT_EQ(text.find("loki_process_custom_errors_total{"), std::string::npos) << text;
  EXPECT_NE(text.find("loki_process_custom_lines_total{" + l + "} 2\n"), std::string::npos);

  // The stage goes (a reload replaced the graph): its families go with it, so that the new
  // stage's are not listed twice.
  h.stage.reset();
  EXPECT_EQ(h.metrics->RenderPrometheus().find("loki_process_custom_lines_total"),
            std::string::npos);

  EXPECT_THAT(BuildErrors(NewMetricsStage, BlockBuilder("stage.metrics")
                                               .Child(BlockBuilder("metric.counter")
                                                          .Attr("name", Str("x"))
                                                          .Attr("action", Str("set"))
                                                          .Build())),
              ElementsAre("the 'action' counter field must be either 'inc' or 'add'"));
}

}  // namespace
}  // namespace sluice::testing
