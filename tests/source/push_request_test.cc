// DecodePushRequest and ParsePromLabels against bodies made the way Loki's clients make them:
// the generated logproto classes + snappy (as Promtail, Alloy and sluice's own loki.write send),
// Loki's JSON form, gzip and deflate from zlib.
#include "agent/source/push_request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <snappy.h>
#include <zlib.h>

#include <string>

#include "push.pb.h"
#include "tests/support/compress.h"

namespace sluice {
namespace {

using ::sluice::testing::Deflate;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

std::string ProtoBody() {
  logproto::PushRequest req;
  logproto::StreamAdapter* s = req.add_streams();
  s->set_labels("{job=\"app\", namespace=\"prod\"}");
  logproto::EntryAdapter* e = s->add_entries();
  e->mutable_timestamp()->set_seconds(1700000000);
  e->mutable_timestamp()->set_nanos(123);
  e->set_line("first line");
  logproto::LabelPairAdapter* m = e->add_structuredmetadata();
  m->set_name("trace_id");
  m->set_value("abc");
  e = s->add_entries();
  e->mutable_timestamp()->set_seconds(1700000001);
  e->set_line("second line");
  logproto::StreamAdapter* t = req.add_streams();
  t->set_labels("{job=\"other\"}");
  t->set_hash(42);
  t->add_entries()->set_line("third");
  std::string raw, out;
  req.SerializeToString(&raw);
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

TEST(PushRequestTest, SnappyProtobufAsLokiClientsSendIt) {
  auto got = DecodePushRequest("application/x-protobuf", "", ProtoBody(), 1 << 20);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->streams.size(), 2u);
  EXPECT_EQ(got->entries, 3u);
  EXPECT_EQ(got->streams[0].labels_text, "{job=\"app\", namespace=\"prod\"}");
  EXPECT_FALSE(got->streams[0].labels_parsed);
  ASSERT_EQ(got->streams[0].entries.size(), 2u);
  EXPECT_EQ(got->streams[0].entries[0].timestamp_ns, 1700000000000000123);
  EXPECT_EQ(got->streams[0].entries[0].line, "first line");
  EXPECT_THAT(got->streams[0].entries[0].metadata, ElementsAre(Pair("trace_id", "abc")));
  EXPECT_EQ(got->streams[1].entries[0].line, "third");
  EXPECT_EQ(got->streams[1].entries[0].timestamp_ns, 0);
  // Content-Encoding snappy is the same body; gzip around the snappy body too (Loki's rule).
  EXPECT_TRUE(DecodePushRequest("application/x-protobuf", "snappy", ProtoBody(), 1 << 20).ok());
  auto gz = DecodePushRequest("application/x-protobuf", "gzip",
                              Deflate(ProtoBody(), 16 + MAX_WBITS), 1 << 20);
  ASSERT_TRUE(gz.ok()) << gz.status();
  EXPECT_EQ(gz->entries, 3u);
}

TEST(PushRequestTest, JsonWithMetadataGzipAndDeflate) {
  const std::string json =
      R"({"streams":[{"stream":{"job":"web","env":"dev"},"values":[["1700000000000000001","a \"quoted\" line"],["1700000000000000002","with meta",{"user":"u1"}],null]},{"stream":{"job":"empty"},"values":null}]})";
  for (const auto& [encoding, body] :
       std::vector<std::pair<std::string, std::string>>{{"", json},
                                                        {"gzip", Deflate(json, 16 + MAX_WBITS)},
                                                        {"deflate", Deflate(json, -MAX_WBITS)}}) {
    auto got = DecodePushRequest("application/json; charset=utf-8", encoding, body, 1 << 20);
    ASSERT_TRUE(got.ok()) << encoding << ": " << got.status();
    ASSERT_EQ(got->streams.size(), 2u);
    EXPECT_TRUE(got->streams[0].labels_parsed);
    EXPECT_THAT(got->streams[0].labels, ElementsAre(Pair("job", "web"), Pair("env", "dev")));
    ASSERT_EQ(got->streams[0].entries.size(), 2u);
    EXPECT_EQ(got->streams[0].entries[0].line, "a \"quoted\" line");
    EXPECT_EQ(got->streams[0].entries[0].timestamp_ns, 1700000000000000001);
    EXPECT_THAT(got->streams[0].entries[1].metadata, ElementsAre(Pair("user", "u1")));
    EXPECT_TRUE(got->streams[1].entries.empty());
  }
}

TEST(PushRequestTest, BadBodiesAreErrorsWithLokisText) {
  EXPECT_EQ(DecodePushRequest("application/json", "br", "{}", 100).status().message(),
            "Content-Encoding \"br\" not supported");
  EXPECT_EQ(DecodePushRequest("", "", ProtoBody(), 1 << 20).status().message(),
            "mime: no media type");
  EXPECT_THAT(
      std::string(
          DecodePushRequest("application/x-protobuf", "", ProtoBody(), 10).status().message()),
      HasSubstr("received message larger than max ("));
  EXPECT_FALSE(DecodePushRequest("application/x-protobuf", "", "not snappy at all", 1 << 20).ok());
  std::string garbage;
  snappy::Compress("\x0a\xff\xff\xff\xff\x0f", 6, &garbage);  // a length past the end
  EXPECT_FALSE(DecodePushRequest("application/x-protobuf", "", garbage, 1 << 20).ok());
  EXPECT_FALSE(DecodePushRequest("application/json", "", "{\"streams\":[", 1 << 20).ok());
  EXPECT_FALSE(
      DecodePushRequest("application/json", "", R"({"streams":[{"values":[[1,"x"]]}]})", 100).ok())
      << "Loki: the timestamp is a string";
  EXPECT_FALSE(DecodePushRequest("application/json", "gzip", "not gzip", 100).ok());
  // A gzip bomb stops at the limit.
  std::string bomb = Deflate(std::string(1 << 20, 'a'), 16 + MAX_WBITS);
  EXPECT_THAT(
      std::string(DecodePushRequest("application/json", "gzip", bomb, 4096).status().message()),
      HasSubstr("received message larger than max"));
}

TEST(ParsePromLabelsTest, MetricSyntax) {
  std::vector<std::pair<std::string, std::string>> got;
  ASSERT_TRUE(ParsePromLabels(R"({a="1", b_2="x\"y\\z\n", c='s'})", &got).ok());
  EXPECT_THAT(got, ElementsAre(Pair("a", "1"), Pair("b_2", "x\"y\\z\n"), Pair("c", "s")));
  got.clear();
  ASSERT_TRUE(ParsePromLabels("{}", &got).ok());
  EXPECT_TRUE(got.empty());
  ASSERT_TRUE(ParsePromLabels("up{job=\"x\",}", &got).ok());
  EXPECT_THAT(got, ElementsAre(Pair("__name__", "up"), Pair("job", "x")));
  for (const char* bad : {"", "{a=1}", "{job=unquoted}", "{a=\"1\"", "{a=\"1\" b=\"2\"}",
                          "{1a=\"x\"}", "{a=\"1\"} trailing", "{a=\"\\q\"}"}) {
    got.clear();
    EXPECT_FALSE(ParsePromLabels(bad, &got).ok()) << bad;
  }
}

}  // namespace
}  // namespace sluice
