// Tests of JSON string literals (agent/common/json_quote.h).
#include "agent/common/json_quote.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

TEST(JsonQuoteTest, EscapesQuotesBackslashesAndControls) {
  std::string out;
  AppendJsonQuoted("tab\there \"q\" \\ \x02", &out);
  EXPECT_EQ(out, "\"tab\\there \\\"q\\\" \\\\ \\u0002\"");
}

}  // namespace
}  // namespace sluice
