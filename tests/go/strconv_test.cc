// Tests of Go's strconv quoting (agent/go/strconv.h).
#include "agent/go/strconv.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

TEST(StrconvTest, GoQuotedMatchesStrconvQuote) {
  std::string out;
  AppendGoQuoted(std::string("a\"b\\c\a\b\f\n\r\t\v\x01\x7f\xff \xc3\xa9", 18), &out);
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\a\\b\\f\\n\\r\\t\\v\\x01\\x7f\\xff \xc3\xa9\"");
}

TEST(StrconvTest, GoQuoteReturnsWhatAppendGoQuotedAppends) {
  EXPECT_EQ(GoQuote(""), "\"\"");
  EXPECT_EQ(GoQuote("a\xff\n"), "\"a\\xff\\n\"");
  std::string appended = "x";
  AppendGoQuoted("h\xc3\xa9\"", &appended);
  EXPECT_EQ("x" + GoQuote("h\xc3\xa9\""), appended);
}

TEST(GoUnquoteTest, StringsAsStrconvUnquote) {
  std::string out;
  ASSERT_TRUE(GoUnquote(R"("a\tb\x41\101\u00e9\"")", &out));
  EXPECT_EQ(out, "a\tbAA\xC3\xA9\"");
  EXPECT_TRUE(GoUnquote(R"("a\\b\"c\n\101\x42\u0043\U00000044")", &out));
  EXPECT_EQ(out, "a\\b\"c\nABCD");
  EXPECT_TRUE(GoUnquote(R"("\xff")", &out));
  EXPECT_EQ(out, "\xff") << "\\x is a raw byte";
  EXPECT_FALSE(GoUnquote(R"("\q")", &out));
  EXPECT_FALSE(GoUnquote(R"("\400")", &out));    // octal above 255
  EXPECT_FALSE(GoUnquote(R"("\ud800")", &out));  // surrogate
  EXPECT_FALSE(GoUnquote(R"("\U00110000")", &out));
  EXPECT_FALSE(GoUnquote(R"("\'")", &out));  // \' only in character literals
  EXPECT_FALSE(GoUnquote(R"("abc)", &out));
  EXPECT_FALSE(GoUnquote("\"a\nb\"", &out));  // raw newline
  EXPECT_FALSE(GoUnquote(R"("a"b")", &out));
  EXPECT_FALSE(GoUnquote(R"("\x4")", &out));  // escape cut short
}

TEST(GoUnquoteTest, RawStringsAndCharacterLiterals) {
  std::string out;
  ASSERT_TRUE(GoUnquote("`a\r\n\\n`", &out));
  EXPECT_EQ(out, "a\n\\n") << "carriage returns dropped, backslashes kept";
  EXPECT_FALSE(GoUnquote("`a`b`", &out));
  ASSERT_TRUE(GoUnquote(R"('\'')", &out));
  EXPECT_EQ(out, "'");
  ASSERT_TRUE(GoUnquote(R"('\u00e9')", &out));
  EXPECT_EQ(out, "\xC3\xA9");
  EXPECT_FALSE(GoUnquote(R"('\"')", &out));
  EXPECT_FALSE(GoUnquote("x", &out));
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

TEST(GoQueryEscapeTest, AsUrlQueryEscape) {
  EXPECT_EQ(GoQueryEscape("a b&c=d/é~_.-"), "a+b%26c%3Dd%2F%C3%A9~_.-");
  EXPECT_EQ(GoQueryEscape("spec.nodeName=node-1"), "spec.nodeName%3Dnode-1");
}

}  // namespace
}  // namespace sluice
