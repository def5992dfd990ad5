// Tests of stage.drop (agent/process/stages/drop.cc), built by name as loki.process builds it,
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

using testing::Arr;
using testing::BlockBuilder;
using testing::Entry;
using testing::StageTest;
using testing::Str;

class DropStageTest : public StageTest {
 protected:
  // True when `e` is dropped by a drop stage built from `b`.
  bool Drops(BlockBuilder b, ProcessEntry e) {
    auto s = Build(b.Build());
    EXPECT_NE(s, nullptr) << (diags_.ok() ? "" : diags_.list()[0].message);
    if (s == nullptr) return false;
    return Run(*s, std::move(e)).empty();
  }
  static ProcessEntry With(std::initializer_list<std::pair<std::string, ExtractedValue>> kv,
                           std::string line = "") {
    ProcessEntry e = Entry(std::move(line));
    for (const auto& [k, v] : kv) e.extracted[k] = v;
    return e;
  }
};

using EV = ExtractedValue;

TEST_F(DropStageTest, LongerThan) {
  auto b = [] { return BlockBuilder("stage.drop").Attr("longer_than", Str("10B")); };
  EXPECT_TRUE(Drops(b(), Entry("12345678901")));
  EXPECT_FALSE(Drops(b(), Entry("1234567890")));  // equal is not longer
  EXPECT_FALSE(Drops(b(), Entry("123456789")));
}

TEST_F(DropStageTest, LongerThanUnitsArePowersOf1024) {
  auto b = [] { return BlockBuilder("stage.drop").Attr("longer_than", Str("1KB")); };
  EXPECT_FALSE(Drops(b(), Entry(std::string(1024, 'x'))));
  EXPECT_TRUE(Drops(b(), Entry(std::string(1025, 'x'))));
  EXPECT_FALSE(Drops(BlockBuilder("stage.drop").Attr("longer_than", Str("1KiB")),
                     Entry(std::string(1024, 'x'))));
}

TEST_F(DropStageTest, OlderThan) {
  auto b = [] { return BlockBuilder("stage.drop").Attr("older_than", Str("1h")); };
  const int64_t now = clock_.NowUnixNanos();
  EXPECT_TRUE(Drops(b(), Entry("x", {}, now - 2 * 3600'000'000'000)));
  EXPECT_FALSE(Drops(b(), Entry("x", {}, now - 5 * 60'000'000'000)));
}

TEST_F(DropStageTest, SourceAlone) {
  auto b = [](std::string src) { return BlockBuilder("stage.drop").Attr("source", Str(src)); };
  EXPECT_TRUE(Drops(b("key"), With({{"key", EV::String("")}})));
  EXPECT_FALSE(Drops(b("key1"), With({{"key", EV::String("val1")}})));
  // Every name of a list must be present; a null value counts as present.
  EXPECT_TRUE(Drops(b("a,b"), With({{"a", EV::String("1")}, {"b", EV::Null()}})));
  EXPECT_FALSE(Drops(b("a,b"), With({{"a", EV::String("1")}})));
}

TEST_F(DropStageTest, SourceAsListIsAccepted) {
  EXPECT_TRUE(Drops(BlockBuilder("stage.drop")
                        .Attr("source", Arr({Str("key1"), Str("key2")}))
                        .Attr("value", Str("val1;val2")),
                    With({{"key1", EV::String("val1")}, {"key2", EV::String("val2")}})));
}

TEST_F(DropStageTest, SourceAndValue) {
  auto b = [](std::string src, std::string value) {
    return BlockBuilder("stage.drop").Attr("source", Str(src)).Attr("value", Str(value));
  };
  EXPECT_TRUE(Drops(b("key", "val1"), With({{"key", EV::String("val1")}})));
  EXPECT_FALSE(Drops(b("key", "val1"), With({{"key", EV::String("VALRUE1")}})));
  EXPECT_FALSE(Drops(b("key", "val1"), With({{"key", EV::String("val12")}})));  // exact match
  EXPECT_TRUE(Drops(b("level", "50"), With({{"level", EV::Number(50)}})));
  EXPECT_FALSE(Drops(b("level", "50"), With({{"level", EV::Number(100)}})));
  EXPECT_FALSE(Drops(b("level", "50"), With({{"level", EV::String("100")}})));
  // `value` is matched literally, not as a regex.
  EXPECT_TRUE(Drops(b("key1,key2", "val1;val200.*"),
                    With({{"key1", EV::String("val1")}, {"key2", EV::String("val200.*")}})));
  EXPECT_FALSE(Drops(b("key", "a.c"), With({{"key", EV::String("abc")}})));
}

TEST_F(DropStageTest, SourceAndValueWithSeparator) {
  EXPECT_TRUE(Drops(BlockBuilder("stage.drop")
                        .Attr("source", Str("key1,key2"))
                        .Attr("separator", Str("|"))
                        .Attr("value", Str("val1|val200[a]")),
                    With({{"key1", EV::String("val1")}, {"key2", EV::String("val200[a]")}})));
}

TEST_F(DropStageTest, SourceAndExpression) {
  auto b = [](std::string src, std::string expr) {
    return BlockBuilder("stage.drop").Attr("source", Str(src)).Attr("expression", Str(expr));
  };
  EXPECT_TRUE(Drops(b("key", "50"), With({{"key", EV::Number(50)}})));
  EXPECT_TRUE(Drops(b("key", "50"), With({{"key", EV::String("50")}})));
  EXPECT_TRUE(Drops(b("key1,key2", R"(val\d{1};val\d{3}$)"),
                    With({{"key1", EV::String("val1")}, {"key2", EV::String("val200")}})));
  EXPECT_FALSE(Drops(b("key", ".*val.*"), With({{"key", EV::String("pal1")}})));
  EXPECT_FALSE(Drops(b("key1,key2", R"(match\d+;match\d+)"),
                     With({{"key1", EV::String("match1")}, {"key2", EV::String("notmatch2")}})));
  // A missing name is left out of the joined value; here nothing is left, and "" does not match.
  EXPECT_FALSE(Drops(b("key", ".*val.*"), With({{"pokey", EV::String("pal1")}})));
  // A value that cannot be a string (null) keeps the line.
  EXPECT_FALSE(Drops(b("key", ".*"), With({{"key", EV::Null()}})));
}

TEST_F(DropStageTest, SourceAndExpressionWithSeparator) {
  auto b = [](std::string expr) {
    return BlockBuilder("stage.drop")
        .Attr("source", Str("key1,key2"))
        .Attr("separator", Str("#"))
        .Attr("expression", Str(expr));
  };
  EXPECT_TRUE(Drops(b(R"(val\d{1}#val\d{3}$)"),
                    With({{"key1", EV::String("val1")}, {"key2", EV::String("val200")}})));
  EXPECT_FALSE(Drops(b(R"(match\d;match\d)"),
                     With({{"key1", EV::String("match1")}, {"key2", EV::String("match2")}})));
}

TEST_F(DropStageTest, ExpressionOnTheLine) {
  auto b = [] { return BlockBuilder("stage.drop").Attr("expression", Str(".*val.*")); };
  EXPECT_FALSE(Drops(b(), Entry("this is a line which does not match the regex")));
  EXPECT_TRUE(Drops(b(), Entry("this is a line with the word value in it")));
  // Unanchored.
  EXPECT_TRUE(
      Drops(BlockBuilder("stage.drop").Attr("expression", Str("debug")), Entry("a debug line")));
}

TEST_F(DropStageTest, EveryConditionMustHold) {
  auto b = [] {
    return BlockBuilder("stage.drop").Attr("source", Str("key")).Attr("longer_than", Str("10B"));
  };
  EXPECT_TRUE(Drops(b(), With({{"key", EV::String("pal1")}}, "12345678901")));
  EXPECT_FALSE(Drops(b(), With({{"key", EV::String("pal1")}}, "123456789")));
  EXPECT_FALSE(Drops(b(), With({{"WOOO", EV::String("pal1")}}, "123456789012")));
  const int64_t now = clock_.NowUnixNanos();
  ProcessEntry all = With({{"key", EV::String("must contain value to match")}}, "12345678901");
  all.timestamp_ns = now - 2 * 3600'000'000'000;
  EXPECT_TRUE(Drops(BlockBuilder("stage.drop")
                        .Attr("source", Str("key"))
                        .Attr("expression", Str(".*val.*"))
                        .Attr("older_than", Str("1h"))
                        .Attr("longer_than", Str("10B")),
                    std::move(all)));
}

TEST_F(DropStageTest, CountsDropsWithTheReason) {
  auto s = Build(BlockBuilder("stage.drop").Attr("expression", Str("x")).Build());
  auto t = Build(BlockBuilder("stage.drop")
                     .Attr("expression", Str("y"))
                     .Attr("drop_counter_reason", Str("too noisy"))
                     .Build());
  Run(*s, Entry("x"));
  Run(*s, Entry("x"));
  Run(*s, Entry("z"));
  Run(*t, Entry("y"));
  EXPECT_EQ(Dropped("drop_stage"), 2u);
  EXPECT_EQ(Dropped("too noisy"), 1u);
}

TEST_F(DropStageTest, EmptyConfig) {
  EXPECT_EQ(Build(BlockBuilder("stage.drop").Build()), nullptr);
  EXPECT_EQ(OnlyError(),
            "drop stage config must contain at least one of `source`, `expression`, `older_than` "
            "or `longer_than`");
}

TEST_F(DropStageTest, ValueAndExpressionTogether) {
  EXPECT_EQ(Build(BlockBuilder("stage.drop")
                      .Attr("source", Str("a"))
                      .Attr("value", Str("b"))
                      .Attr("expression", Str("c"))
                      .Build()),
            nullptr);
  EXPECT_EQ(OnlyError(),
            "drop stage config error, `value` and `expression` cannot both be defined at the same "
            "time");
}

TEST_F(DropStageTest, ValueWithoutSource) {
  EXPECT_EQ(Build(BlockBuilder("stage.drop")
                      .Attr("value", Str("b"))
                      .Attr("longer_than", Str("1B"))
                      .Build()),
            nullptr);
  EXPECT_EQ(OnlyError(), "drop stage config must contain `source` if `value` is specified");
}

TEST_F(DropStageTest, InvalidRegex) {
  config::Block b = BlockBuilder("stage.drop").Attr("expression", Str("(?P<ts[0-9]+).*")).Build();
  EXPECT_EQ(Build(b), nullptr);
  EXPECT_EQ(OnlyError(),
            "drop stage regex compilation error: error parsing regexp: invalid named capture: "
            "`(?P<ts[0-9]+).*`");
  EXPECT_EQ(diags_.list()[0].span.begin, b.body.attrs[0].value_span.begin);
}

TEST_F(DropStageTest, InvalidLongerThan) {
  EXPECT_EQ(Build(BlockBuilder("stage.drop").Attr("longer_than", Str("8kB")).Build()), nullptr);
  EXPECT_EQ(OnlyError(), "units: unknown unit kB in 8kB");
  diags_.Clear();
  EXPECT_EQ(Build(BlockBuilder("stage.drop").Attr("longer_than", Str("100")).Build()), nullptr);
  EXPECT_EQ(OnlyError(), "units: unknown unit  in 100");
}

TEST_F(DropStageTest, InvalidOlderThan) {
  EXPECT_EQ(Build(BlockBuilder("stage.drop").Attr("older_than", Str("1 day")).Build()), nullptr);
  EXPECT_EQ(OnlyError(), "time: invalid duration \"1 day\"");
}

}  // namespace
}  // namespace sluice
