// The argument decoder every component and stage uses: Alloy's conversions and messages.
#include "agent/config/decode.h"

#include <gtest/gtest.h>

#include "tests/support/block_builder.h"
#include "tests/support/labels.h"

namespace sluice::config {
namespace {

using ::sluice::testing::BlockBuilder;
using ::sluice::testing::Int;
using ::sluice::testing::Str;

std::string Messages(const Diags& d) {
  std::string out;
  for (const Diagnostic& x : d.list()) out += x.message + "\n";
  return out;
}

using ::sluice::testing::Labels;

// A discovery component's export (Value::MakeTargets) is an array of objects of strings to the
// language, equal to the same written out, and decodes without a copy.
TEST(DecoderTest, TargetListsAreSharedAndActAsArraysOfObjects) {
  auto list = std::make_shared<const TargetList>(
      TargetList{Labels({{"__path__", "/a.log"}, {"job", "a"}}), Labels({{"job", "b"}})});
  Value v = Value::MakeTargets(list);
  EXPECT_EQ(v.kind(), Value::Kind::kArray);
  Value written = Value::MakeArray(
      {Value::MakeObject({{"__path__", Value::String("/a.log")}, {"job", Value::String("a")}}),
       Value::MakeObject({{"job", Value::String("b")}})});
  EXPECT_TRUE(v == written);
  EXPECT_TRUE(written == v);
  EXPECT_TRUE(v == Value::MakeTargets(std::make_shared<const TargetList>(*list)));
  EXPECT_FALSE(v == Value::MakeTargets(std::make_shared<const TargetList>(
                        TargetList{Labels({{"job", "a"}}), Labels({{"job", "b"}})})));
  EXPECT_EQ(v.ToString(), written.ToString());
  ASSERT_EQ(v.as_array().size(), 2u);
  EXPECT_EQ(v.as_array()[0].as_object().at("job").as_string(), "a");
  EXPECT_EQ(written.as_targets(), nullptr);

  Block b = BlockBuilder("x").Attr("shared", v).Attr("written", written).Build();
  Diags diags;
  Decoder d(b, &diags);
  SharedTargets got;
  ASSERT_TRUE(d.Targets("shared", &got));
  EXPECT_EQ(got.get(), list.get()) << "the exporter's list itself, not a copy";
  SharedTargets built;
  ASSERT_TRUE(d.Targets("written", &built));
  EXPECT_EQ(*built, *list);
  std::vector<LabelSet> copy;
  ASSERT_TRUE(d.Targets("shared", &copy));
  EXPECT_EQ(copy, *list);
  EXPECT_TRUE(diags.ok()) << Messages(diags);
}

TEST(DecoderTest, TargetsMustBeObjectsOfStrings) {
  Block b = BlockBuilder("x")
                .Attr("a", Value::MakeArray({Value::String("x")}))
                .Attr("b", Value::MakeArray({Value::MakeObject({{"k", Int(1)}})}))
                .Build();
  Diags diags;
  Decoder d(b, &diags);
  SharedTargets out;
  EXPECT_FALSE(d.Targets("a", &out));
  EXPECT_FALSE(d.Targets("b", &out));
  EXPECT_EQ(out, nullptr);
  EXPECT_EQ(diags.list().size(), 2u) << Messages(diags);
}

TEST(DecoderTest, ByteSizesFollowAlloysBase2Units) {
  Block b = BlockBuilder("endpoint")
                .Attr("a", Str("1MB"))
                .Attr("b", Str("512KiB"))
                .Attr("c", Int(4096))
                .Attr("d", Str("-1KB"))
                .Attr("e", Str("10 apples"))
                .Build();
  Diags diags;
  Decoder d(b, &diags);
  uint64_t a = 0, bb = 0, c = 0, dd = 7, e = 7;
  EXPECT_TRUE(d.Bytes("a", &a));
  EXPECT_TRUE(d.Bytes("b", &bb));
  EXPECT_TRUE(d.Bytes("c", &c));
  EXPECT_FALSE(d.Bytes("d", &dd));
  EXPECT_FALSE(d.Bytes("e", &e));
  EXPECT_EQ(a, 1u << 20);
  EXPECT_EQ(bb, 512u * 1024);
  EXPECT_EQ(c, 4096u);
  EXPECT_EQ(dd, 7u) << "untouched on error";
  EXPECT_EQ(Messages(diags),
            "byte size must not be negative: -1KB\nunits: unknown unit  apples in 10 apples\n");
}

TEST(DecoderTest, UnknownMissingDuplicateAndTypeErrors) {
  Block b = BlockBuilder("loki.write", "x")
                .Attr("url", Int(5))
                .Attr("bogus", Str("y"))
                .Child(BlockBuilder("endpoint").Build())
                .Child(BlockBuilder("endpoint").Build())
                .Child(BlockBuilder("mystery").Build())
                .Build();
  Diags diags;
  Decoder d(b, &diags);
  std::string url;
  bool flag = false;
  d.Bool("url", &flag);
  d.String("tenant", &url, Required::kYes);
  EXPECT_NE(d.OptionalBlock("endpoint"), nullptr);
  EXPECT_FALSE(d.Finish());
  EXPECT_EQ(Messages(diags),
            "expected bool, got number\n"
            "missing required attribute \"tenant\"\n"
            "block \"endpoint\" may only be specified once\n"
            "unrecognized attribute name \"bogus\"\n"
            "unrecognized block name \"mystery\"\n");
}

TEST(DecoderTest, TypeErrorsNameTheExpressionWhenItIsKnown) {
  Block b = BlockBuilder("x").Attr("n", Str("ten")).Build();
  b.body.attrs[0].value_text = "\"ten\"";
  Diags diags;
  Decoder d(b, &diags);
  int64_t n = 0;
  EXPECT_FALSE(d.Int("n", &n));
  EXPECT_EQ(Messages(diags), "\"ten\" should be number, got string\n");
}

}  // namespace
}  // namespace sluice::config
