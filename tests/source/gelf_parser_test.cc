// Tests for GELF decoding, rendering (go-gelf's MarshalJSONBuf) and chunk reassembly
// (agent/source/gelf_parser.h).
#include "agent/source/gelf_parser.h"

#include <zlib.h>

#include <string>

#include "gtest/gtest.h"

namespace sluice {
namespace {

std::string Compress(std::string_view in, int window_bits) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
  std::string out(in.size() + 128, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string Chunk(std::string_view id8, int seq, int count, std::string_view body) {
  std::string c = "\x1e\x0f";
  c += id8;
  c.push_back(static_cast<char>(seq));
  c.push_back(static_cast<char>(count));
  c += body;
  return c;
}

constexpr char kMsg[] =
    R"({"version":"1.1","host":"example.org","short_message":"A <short> message","level":5,)"
    R"("timestamp":1385053862.3072,"_user_id":9001,"_some_info":"foo","_nested":{"b":1,"a":[true,null]},)"
    R"("unknown":"dropped","facility":"app"})";

TEST(GelfTest, DecodeAndRender) {
  auto m = DecodeGelfPayload(kMsg);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->host, "example.org");
  EXPECT_EQ(m->level, 5);
  EXPECT_EQ(GelfLevelName(m->level), "notice");
  EXPECT_EQ(
      RenderGelf(*m),
      R"({"version":"1.1","host":"example.org","short_message":"A \u003cshort\u003e message",)"
      R"("timestamp":1385053862.3072,"level":5,"facility":"app","_nested":{"a":[true,null],"b":1},)"
      R"("_some_info":"foo","_user_id":9001})");
}

TEST(GelfTest, DefaultsOmitted) {
  auto m = DecodeGelfPayload(R"({"short_message":"x"})");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(RenderGelf(*m), R"({"version":"","host":"","short_message":"x","timestamp":0})");
  EXPECT_EQ(GelfLevelName(m->level), "emergency");
}

TEST(GelfTest, Compressed) {
  for (int bits : {15, 31}) {
    auto m = DecodeGelfPayload(Compress(kMsg, bits));
    ASSERT_TRUE(m.ok()) << bits << " " << m.status();
    EXPECT_EQ(m->facility, "app");
  }
}

TEST(GelfTest, Malformed) {
  for (std::string bad :
       {std::string("not json"), std::string("[1,2]"), std::string(R"({"host":5})"),
        std::string(R"({"level":"high"})"), std::string(R"({"":1})"),
        std::string("\x1f\x8bgarbage"), std::string("\x78\x9cgarbage"), std::string("")}) {
    EXPECT_FALSE(DecodeGelfPayload(bad).ok()) << bad;
  }
}

TEST(GelfTest, TrailingNulAccepted) {
  EXPECT_TRUE(DecodeGelfPayload(std::string(R"({"short_message":"x"})") + '\0').ok());
}

TEST(GelfAssemblerTest, PlainPassesThrough) {
  GelfAssembler a;
  auto r = a.Add("{}", 0);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(**r, "{}");
}

TEST(GelfAssemblerTest, ReassemblesOutOfOrder) {
  GelfAssembler a;
  std::string payload = Compress(kMsg, 31);
  size_t third = payload.size() / 3;
  std::string parts[3] = {payload.substr(0, third), payload.substr(third, third),
                          payload.substr(2 * third)};
  EXPECT_FALSE(a.Add(Chunk("ABCDEFGH", 2, 3, parts[2]), 0)->has_value());
  EXPECT_FALSE(a.Add(Chunk("ABCDEFGH", 0, 3, parts[0]), 1)->has_value());
  EXPECT_FALSE(a.Add(Chunk("ABCDEFGH", 0, 3, parts[0]), 1)->has_value());  // duplicate
  EXPECT_EQ(a.pending(), 1u);
  auto r = a.Add(Chunk("ABCDEFGH", 1, 3, parts[1]), 2);
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ(**r, payload);
  EXPECT_EQ(a.pending(), 0u);
  EXPECT_TRUE(DecodeGelfPayload(**r).ok());
}

TEST(GelfAssemblerTest, BoundsAndExpiry) {
  GelfAssembler a;
  EXPECT_FALSE(a.Add(Chunk("ABCDEFGH", 0, 129, "x"), 0).ok());
  EXPECT_FALSE(a.Add(Chunk("ABCDEFGH", 0, 0, "x"), 0).ok());
  EXPECT_FALSE(a.Add(std::string("\x1e\x0f"
                                 "ABC",
                                 5),
                     0)
                   .ok());
  EXPECT_FALSE(a.Add(Chunk("ABCDEFGH", 0, 2, "x"), 0)->has_value());
  EXPECT_FALSE(a.Add(Chunk("ABCDEFGH", 1, 2, "y"), GelfAssembler::kTimeoutNanos + 1).ok());
  EXPECT_FALSE(a.Add(Chunk("IJKLMNOP", 0, 2, "x"), 0)->has_value());
  EXPECT_EQ(a.Expire(GelfAssembler::kTimeoutNanos - 1), 0u);
  EXPECT_EQ(a.Expire(GelfAssembler::kTimeoutNanos + 1), 1u);
  EXPECT_EQ(a.pending(), 0u);
}

}  // namespace
}  // namespace sluice
