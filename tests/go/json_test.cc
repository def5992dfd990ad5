// Tests of Go's JSON text (agent/go/json.h).
#include "agent/go/json.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace sluice {
namespace {

std::string Json(std::string_view s) {
  std::string out;
  AppendGoJsonString(s, &out);
  return out;
}

TEST(GoJsonTest, EscapesLikeJsonIterator) {
  EXPECT_EQ(Json("plain"), R"("plain")");
  EXPECT_EQ(Json("q\"b\\"), R"("q\"b\\")");
  EXPECT_EQ(Json("\n\r\t\x01\x1f"), R"("\n\r\t\u0001\u001f")");
  EXPECT_EQ(Json("<a&b>"), R"("\u003ca\u0026b\u003e")");
  EXPECT_EQ(Json("\x7f"), "\"\x7f\"");
  EXPECT_EQ(Json("caf\xC3\xA9"), "\"caf\xC3\xA9\"");
  EXPECT_EQ(Json("bad\xFF"), R"("bad\ufffd")");
  EXPECT_EQ(Json("\xE2\x80\xA8\xE2\x80\xA9"), R"("\u2028\u2029")");
  // json-iterator has no short form for \b and \f; encoding/json (Go 1.22+) has.
  EXPECT_EQ(Json("\b\f"), R"("\u0008\u000c")");
  std::string go;
  AppendGoJsonString("\b\f<", &go, GoJson::kEncodingJson);
  EXPECT_EQ(go, R"("\b\f\u003c")");
}

std::string Num(double d) {
  std::string out;
  AppendGoJsonNumber(d, &out);
  return out;
}

TEST(GoJsonTest, NumbersLikeGo) {
  EXPECT_EQ(Num(125), "125");
  EXPECT_EQ(Num(1.5), "1.5");
  EXPECT_EQ(Num(-0.25), "-0.25");
  EXPECT_EQ(Num(1e20), "100000000000000000000");
  EXPECT_EQ(Num(1e21), "1e+21");
  EXPECT_EQ(Num(0.000001), "0.000001");
  EXPECT_EQ(Num(1e-7), "1e-7");
  EXPECT_EQ(Num(1.2345e-10), "1.2345e-10");
  EXPECT_EQ(Num(0), "0");
}

}  // namespace
}  // namespace sluice
