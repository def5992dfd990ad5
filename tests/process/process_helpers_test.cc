// Tests of the helpers behind the loki.process stages: logfmt decoding and digests (the Go
// emulations are tested in tests/go/).
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "agent/common/digest.h"
#include "agent/process/logfmt.h"

namespace sluice {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

Pairs Logfmt(std::string_view in, bool* ok = nullptr) {
  Pairs out;
  std::string scratch;
  bool r = DecodeLogfmt(in, &scratch, [&](std::string_view k, std::string_view v) {
    out.emplace_back(std::string(k), std::string(v));
  });
  if (ok != nullptr) *ok = r;
  return out;
}

TEST(LogfmtDecoderTest, BareQuotedAndEmptyValues) {
  bool ok;
  EXPECT_EQ(Logfmt(R"(a=1 b="two words" c= d e=)", &ok),
            (Pairs{{"a", "1"}, {"b", "two words"}, {"c", ""}, {"d", ""}, {"e", ""}}));
  EXPECT_TRUE(ok);
}

TEST(LogfmtDecoderTest, EscapesInQuotedValues) {
  EXPECT_EQ(Logfmt(R"(m="say \"hi\"\n\u00e9\/")"), (Pairs{{"m", "say \"hi\"\n\xC3\xA9/"}}));
  // Without a backslash the quoted bytes are taken as they are.
  EXPECT_EQ(Logfmt("m=\"tab\there\""), (Pairs{{"m", "tab\there"}}));
}

TEST(LogfmtDecoderTest, RecordsAreLines) {
  EXPECT_EQ(Logfmt("a=1\r\n\n  b=2\n"), (Pairs{{"a", "1"}, {"b", "2"}}));
}

TEST(LogfmtDecoderTest, SyntaxErrorStopsAfterEarlierPairs) {
  bool ok;
  EXPECT_EQ(Logfmt(R"(a=1 b="x"" c=3)", &ok), (Pairs{{"a", "1"}, {"b", "x"}}));
  EXPECT_FALSE(ok);
  EXPECT_EQ(Logfmt(R"({"invalid":"logfmt"})", &ok), Pairs{});
  EXPECT_FALSE(ok);
  EXPECT_EQ(Logfmt("a=1 =x", &ok), (Pairs{{"a", "1"}}));
  EXPECT_FALSE(ok);
  EXPECT_EQ(Logfmt("a=b=c", &ok), Pairs{});
  EXPECT_FALSE(ok);
  EXPECT_EQ(Logfmt(R"(a="unterminated)", &ok), Pairs{});
  EXPECT_FALSE(ok);
  EXPECT_EQ(Logfmt(R"(a="bad\q")", &ok), Pairs{});
  EXPECT_FALSE(ok);
  EXPECT_EQ(Logfmt("k\xFF=1", &ok), Pairs{});
  EXPECT_FALSE(ok);
}

TEST(LogfmtDecoderTest, RecordOf64KiBIsTooLong) {
  bool ok;
  std::string big = "a=1\nb=" + std::string(65536 - 2, 'x');
  EXPECT_EQ(Logfmt(big, &ok), (Pairs{{"a", "1"}}));
  EXPECT_FALSE(ok);
  std::string fits = "b=" + std::string(65535 - 2, 'x');
  EXPECT_EQ(Logfmt(fits, &ok).size(), 1u);
  EXPECT_TRUE(ok);
}

TEST(DigestTest, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(std::string(1000, 'a')),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
  EXPECT_EQ(Sha3_256Hex(""), "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");
  EXPECT_EQ(Sha3_256Hex("abc"), "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532");
  EXPECT_EQ(Sha3_256Hex(std::string(200, '\xa3')),
            "79f38adec5c20307a98ef76e8324afbfd46cfd81b22e3973c65fa1bd9de31787");
}

}  // namespace
}  // namespace sluice
