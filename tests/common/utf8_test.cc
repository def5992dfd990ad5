// Tests for UTF-8 validation and repair (agent/common/utf8.h).
#include "agent/common/utf8.h"

#include <simdjson.h>

#include <cstdint>
#include <string>

#include "gtest/gtest.h"

namespace sluice {
namespace {

using std::string_literals::operator""s;

// Sanitizes `s` and returns the output; the replacement count goes to *count.
std::string Sanitize(std::string_view s, size_t* count) {
  std::string out;
  *count = AppendSanitizedUtf8(s, &out);
  return out;
}

TEST(Utf8Test, SequenceLength) {
  EXPECT_EQ(Utf8SequenceLength("\xc3\xa9", 0), 2u);
  EXPECT_EQ(Utf8SequenceLength("\xe2\x82\xac", 0), 3u);
  EXPECT_EQ(Utf8SequenceLength("\xf0\x9f\x98\x80", 0), 4u);
  EXPECT_EQ(Utf8SequenceLength("\xc0\xaf", 0), 0u);          // overlong
  EXPECT_EQ(Utf8SequenceLength("\xed\xa0\x80", 0), 0u);      // surrogate
  EXPECT_EQ(Utf8SequenceLength("\xf4\x90\x80\x80", 0), 0u);  // past U+10FFFF
  EXPECT_EQ(Utf8SequenceLength("\xe2\x82", 0), 0u);          // cut short
}

TEST(Utf8Test, Ascii) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("a"));
  EXPECT_TRUE(IsValidUtf8("hello world, this is a plain ASCII log line of some length\t\r"));
  EXPECT_TRUE(IsValidUtf8("\0\x01\x7f"s));  // NUL and DEL are valid UTF-8
  // Every length around the 8- and 16-byte fast paths, with and without a bad byte at each spot.
  for (size_t len = 0; len < 40; ++len) {
    std::string s(len, 'x');
    EXPECT_TRUE(IsValidUtf8(s)) << len;
    for (size_t bad = 0; bad < len; ++bad) {
      std::string t = s;
      t[bad] = '\x80';
      EXPECT_FALSE(IsValidUtf8(t)) << len << " " << bad;
      EXPECT_EQ(ValidUtf8PrefixLength(t), bad);
    }
  }
}

TEST(Utf8Test, ValidMultibyte) {
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9"));                           // é, 2 bytes
  EXPECT_TRUE(IsValidUtf8("\xE2\x82\xAC 100"));                      // €, 3 bytes
  EXPECT_TRUE(IsValidUtf8("\xF0\x9F\x98\x80 smile"));                // U+1F600, 4 bytes
  EXPECT_TRUE(IsValidUtf8("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"));  // 日本語
  // Boundaries of each length class.
  EXPECT_TRUE(IsValidUtf8("\xC2\x80"));          // U+0080
  EXPECT_TRUE(IsValidUtf8("\xDF\xBF"));          // U+07FF
  EXPECT_TRUE(IsValidUtf8("\xE0\xA0\x80"));      // U+0800
  EXPECT_TRUE(IsValidUtf8("\xED\x9F\xBF"));      // U+D7FF, last before the surrogates
  EXPECT_TRUE(IsValidUtf8("\xEE\x80\x80"));      // U+E000, first after
  EXPECT_TRUE(IsValidUtf8("\xEF\xBF\xBF"));      // U+FFFF
  EXPECT_TRUE(IsValidUtf8("\xF0\x90\x80\x80"));  // U+10000
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  std::string long_line(1000, 'a');
  long_line += "\xC3\xA9";
  long_line += std::string(1000, 'b');
  EXPECT_TRUE(IsValidUtf8(long_line));
}

TEST(Utf8Test, InvalidClasses) {
  EXPECT_FALSE(IsValidUtf8("\x80"));  // lone continuation byte
  EXPECT_FALSE(IsValidUtf8("\xBF"));
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));                  // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xC1\xBF"));                  // overlong
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));              // overlong 3-byte
  EXPECT_FALSE(IsValidUtf8("\xE0\x9F\xBF"));              // overlong U+07FF
  EXPECT_FALSE(IsValidUtf8("\xF0\x80\x80\xAF"));          // overlong 4-byte
  EXPECT_FALSE(IsValidUtf8("\xF0\x8F\xBF\xBF"));          // overlong U+FFFF
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));              // U+D800 high surrogate
  EXPECT_FALSE(IsValidUtf8("\xED\xBF\xBF"));              // U+DFFF low surrogate
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\xBD\xED\xB8\x80"));  // CESU-8 surrogate pair
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));          // U+110000
  EXPECT_FALSE(IsValidUtf8("\xF5\x80\x80\x80"));          // F5 lead
  EXPECT_FALSE(IsValidUtf8("\xFE"));
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  EXPECT_FALSE(IsValidUtf8("\xC3"));  // truncated at end
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));
  EXPECT_FALSE(IsValidUtf8("\xF0\x9F\x98"));
  EXPECT_FALSE(IsValidUtf8("\xC3("));  // bad continuation
  EXPECT_FALSE(IsValidUtf8("\xE2\x28\xA1"));
  EXPECT_FALSE(IsValidUtf8("\xE2\x82\x28"));
  EXPECT_FALSE(IsValidUtf8("\xF0\x28\x8C\xBC"));
  EXPECT_FALSE(IsValidUtf8("\xF0\x90\x28\xBC"));
  EXPECT_FALSE(IsValidUtf8("\xF0\x9F\x98\x28"));
  EXPECT_FALSE(IsValidUtf8("\xC3\xA9\xC3"));  // valid then truncated
}

TEST(Utf8Test, SanitizeLeavesValidInputAlone) {
  size_t count = 99;
  EXPECT_EQ(Sanitize("", &count), "");
  EXPECT_EQ(count, 0u);
  EXPECT_EQ(Sanitize("plain", &count), "plain");
  EXPECT_EQ(count, 0u);
  EXPECT_EQ(Sanitize("caf\xC3\xA9 \xF0\x9F\x98\x80", &count), "caf\xC3\xA9 \xF0\x9F\x98\x80");
  EXPECT_EQ(count, 0u);
  std::string out = "prefix:";
  EXPECT_EQ(AppendSanitizedUtf8("x\xFFy", &out), 1u);
  EXPECT_EQ(out, "prefix:x\xEF\xBF\xBDy");
}

TEST(Utf8Test, SanitizeReplacesMaximalSubparts) {
  const std::string r = "\xEF\xBF\xBD";
  size_t count = 0;
  EXPECT_EQ(Sanitize("\x80", &count), r);
  EXPECT_EQ(count, 1u);
  EXPECT_EQ(Sanitize("a\x80\x80\x80z", &count), "a" + r + r + r + "z");  // one per stray byte
  EXPECT_EQ(count, 3u);
  EXPECT_EQ(Sanitize("\xE2\x82", &count), r);  // truncated 3-byte: one subpart
  EXPECT_EQ(count, 1u);
  EXPECT_EQ(Sanitize("\xE2\x82x", &count), r + "x");
  EXPECT_EQ(count, 1u);
  EXPECT_EQ(Sanitize("\xF0\x9F\x98x", &count), r + "x");  // truncated 4-byte
  EXPECT_EQ(count, 1u);
  EXPECT_EQ(Sanitize("\xC0\xAF", &count), r + r);  // C0 starts nothing: each byte on its own
  EXPECT_EQ(count, 2u);
  EXPECT_EQ(Sanitize("\xED\xA0\x80", &count), r + r + r);  // surrogate: ED then 2 strays
  EXPECT_EQ(count, 3u);
  EXPECT_EQ(Sanitize("\xF4\x90\x80\x80", &count), r + r + r + r);  // > U+10FFFF
  EXPECT_EQ(count, 4u);
  EXPECT_EQ(Sanitize("\xE0\x80\xAF", &count), r + r + r);  // overlong
  EXPECT_EQ(count, 3u);
  // The example of Unicode 15 table 3-8: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64.
  EXPECT_EQ(Sanitize("a\xF1\x80\x80\xE1\x80\xC2"
                     "b\x80"
                     "c\x80\xBF"
                     "d",
                     &count),
            "a" + r + r + r + "b" + r + "c" + r + r + "d");
  EXPECT_EQ(count, 6u);
  // A truncated sequence followed by a valid one keeps the valid one.
  EXPECT_EQ(Sanitize("\xE2\x82\xC3\xA9", &count), r + "\xC3\xA9");
  EXPECT_EQ(count, 1u);
  EXPECT_EQ(Sanitize(std::string(100, '\xFF'), &count).size(), 300u);
  EXPECT_EQ(count, 100u);
}

// Checks IsValidUtf8 against simdjson's independent validator and that sanitizing always yields
// valid UTF-8 that equals the input exactly when the input was valid.
void CheckAgainstOracle(std::string_view s) {
  const bool valid = IsValidUtf8(s);
  ASSERT_EQ(valid, simdjson::validate_utf8(s.data(), s.size())) << ::testing::PrintToString(s);
  ASSERT_EQ(valid, ValidUtf8PrefixLength(s) == s.size());
  std::string out;
  const size_t count = AppendSanitizedUtf8(s, &out);
  ASSERT_TRUE(IsValidUtf8(out));
  ASSERT_EQ(count == 0, valid);
  if (valid) {
    ASSERT_EQ(out, s);
  }
}

TEST(Utf8Test, ExhaustiveShortSequencesMatchOracle) {
  std::string s;
  for (int a = 0; a < 256; ++a) {
    s.assign(1, static_cast<char>(a));
    CheckAgainstOracle(s);
    for (int b = 0; b < 256; ++b) {
      s.assign({static_cast<char>(a), static_cast<char>(b)});
      CheckAgainstOracle(s);
    }
  }
  // Three- and four-byte sequences over the interesting lead bytes and byte classes.
  const int probes[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0,
                        0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF};
  for (int a = 0xC0; a < 256; ++a) {
    for (int b : probes) {
      for (int c : probes) {
        s.assign({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)});
        CheckAgainstOracle(s);
        for (int d : probes) {
          s.assign({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c),
                    static_cast<char>(d)});
          CheckAgainstOracle(s);
        }
      }
    }
  }
}

TEST(Utf8Test, RandomStringsMatchOracle) {
  uint64_t x = 0x9E3779B97F4A7C15ULL;  // xorshift: deterministic
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  const char* pieces[] = {"a",       "hello ", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
                          "\x80",    "\xC3",   "\xE2\x82", "\xED\xA0\x80", "\xFF",
                          "\xF4\x90"};
  std::string s;
  for (int i = 0; i < 20000; ++i) {
    s.clear();
    const int n = static_cast<int>(next() % 40);
    for (int k = 0; k < n; ++k) {
      const uint64_t r = next();
      if (r % 3 == 0) {
        s.push_back(static_cast<char>(r >> 8));  // a random byte
      } else {
        s += pieces[(r >> 8) % (sizeof(pieces) / sizeof(pieces[0]))];
      }
    }
    CheckAgainstOracle(s);
  }
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

TEST(GoRuneTest, DecodeAndAppendAsGo) {
  size_t w;
  EXPECT_EQ(DecodeUtf8Rune("\xC3\xA9x", 0, &w), 0xE9u);
  EXPECT_EQ(w, 2u);
  EXPECT_EQ(DecodeUtf8Rune("\xE2\x82", 0, &w), kRuneError);  // truncated
  EXPECT_EQ(w, 1u);
  std::string out;
  AppendUtf8Rune(0x1F600, &out);
  AppendUtf8Rune(0xD800, &out);    // surrogate
  AppendUtf8Rune(0x110000, &out);  // past Unicode
  EXPECT_EQ(out, "\xF0\x9F\x98\x80\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(GoRuneTest, CaseMappingAsGoStrings) {
  // Simple mappings beyond Latin (the template functions once covered only a few scripts);
  // no special casing (ß stays), invalid bytes become U+FFFD.
  EXPECT_EQ(GoToUpper("stra\xC3\x9F"
                      "e \xC7\x86 \xCF\x83 \xC3\xA9\xFF"),
            "STRA\xC3\x9F"
            "E \xC7\x84 \xCE\xA3 \xC3\x89\xEF\xBF\xBD");
  EXPECT_EQ(GoToLower("\xCE\xA3\xCE\x91\xCE\xA3 ABC \xD0\x96"),
            "\xCF\x83\xCE\xB1\xCF\x83 abc \xD0\xB6");
  EXPECT_EQ(GoToUpper("plain ascii"), "PLAIN ASCII");
}

}  // namespace
}  // namespace sluice
