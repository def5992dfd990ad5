#include "agent/common/quote.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(QuoteTest, Utf8SequenceLength) {
  EXPECT_EQ(Utf8SequenceLength("\xc3\xa9", 0), 2u);
  EXPECT_EQ(Utf8SequenceLength("\xe2\x82\xac", 0), 3u);
  EXPECT_EQ(Utf8SequenceLength("\xf0\x9f\x98\x80", 0), 4u);
  EXPECT_EQ(Utf8SequenceLength("\xc0\xaf", 0), 0u);          // overlong
  EXPECT_EQ(Utf8SequenceLength("\xed\xa0\x80", 0), 0u);      // surrogate
  EXPECT_EQ(Utf8SequenceLength("\xf4\x90\x80\x80", 0), 0u);  // past U+10FFFF
  EXPECT_EQ(Utf8SequenceLength("\xe2\x82", 0), 0u);          // cut short
}

TEST(QuoteTest, GoQuotedMatchesStrconvQuote) {
  std::string out;
  AppendGoQuoted(std::string("a\"b\\c\a\b\f\n\r\t\v\x01\x7f\xff \xc3\xa9", 18), &out);
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\a\\b\\f\\n\\r\\t\\v\\x01\\x7f\\xff \xc3\xa9\"");
}

TEST(QuoteTest, JsonQuoted) {
  std::string out;
  AppendJsonQuoted("tab\there \"q\" \\ \x02", &out);
  EXPECT_EQ(out, "\"tab\\there \\\"q\\\" \\\\ \\u0002\"");
}

}  // namespace
}  // namespace sluice
