#include "agent/pipeline/labels.h"

#include <gtest/gtest.h>

#include "agent/common/json_quote.h"
#include "agent/go/strconv.h"

namespace sluice {
namespace {

TEST(LabelSetTest, RendersSortedWithGoQuotingAndSkipsInternal) {
  LabelSet l;
  l.Set("pod", "web-1");
  l.Set("namespace", "prod");
  l.Set("__path__", "/x");
  l.Set("app", "a \"quoted\" \\ value\n");
  EXPECT_EQ(l.RenderLoki(), R"({app="a \"quoted\" \\ value\n", namespace="prod", pod="web-1"})");
  EXPECT_EQ(l.RenderJson(),
            R"({"app":"a \"quoted\" \\ value\n","namespace":"prod","pod":"web-1"})");
}

TEST(LabelSetTest, SetReplacesAndRemove) {
  LabelSet l;
  l.Set("a", "1");
  l.Set("a", "2");
  ASSERT_NE(l.Get("a"), nullptr);
  EXPECT_EQ(*l.Get("a"), "2");
  EXPECT_EQ(l.size(), 1u);
  l.Remove("a");
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(l.RenderLoki(), "{}");
}

TEST(LabelSetTest, GoQuotesControlAndInvalidBytesKeepsUtf8) {
  std::string out;
  AppendGoQuoted(std::string("\x01\t\xff h\xc3\xa9", 7), &out);
  EXPECT_EQ(out, "\"\\x01\\t\\xff h\xc3\xa9\"");
}

TEST(LabelSetTest, JsonQuotesControlCharacters) {
  std::string out;
  AppendJsonQuoted(std::string("a\x01z\"", 4), &out);
  EXPECT_EQ(out, "\"a\\u0001z\\\"\"");
}

TEST(LabelNameTest, Validates) {
  EXPECT_TRUE(IsValidLabelName("namespace"));
  EXPECT_TRUE(IsValidLabelName("_a1"));
  EXPECT_FALSE(IsValidLabelName(""));
  EXPECT_FALSE(IsValidLabelName("1a"));
  EXPECT_FALSE(IsValidLabelName("a-b"));
  EXPECT_FALSE(IsValidLabelName("a.b"));
}

}  // namespace
}  // namespace sluice
