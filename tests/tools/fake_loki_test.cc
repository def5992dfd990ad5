// Tests of the FakeLoki receiver: protocol decoding, Loki's validation rules, fault injection and
// shutdown. Requests are built with the generated protobuf classes + snappy and sent with a small
// blocking Beast client (and libcurl where the real client's behaviour matters).
#include "tests/support/fake_loki.h"

#include <curl/curl.h>

#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <snappy.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "push.pb.h"

namespace sluice::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr absl::Duration kWait = absl::Seconds(10);
constexpr int64_t kMinute = 60'000'000'000;
constexpr int64_t kHour = 60 * kMinute;

int64_t NowNs() { return absl::GetCurrentTimeNanos(); }

struct TestEntry {
  int64_t ts;
  std::string line;
  std::vector<std::pair<std::string, std::string>> metadata = {};
};
struct TestStream {
  std::string labels;
  std::vector<TestEntry> entries;
};

std::string ProtoBody(const std::vector<TestStream>& streams) {
  logproto::PushRequest req;
  for (const auto& s : streams) {
    auto* stream = req.add_streams();
    stream->set_labels(s.labels);
    for (const auto& e : s.entries) {
      auto* entry = stream->add_entries();
      entry->mutable_timestamp()->set_seconds(e.ts / 1'000'000'000);
      entry->mutable_timestamp()->set_nanos(static_cast<int32_t>(e.ts % 1'000'000'000));
      entry->set_line(e.line);
      for (const auto& [name, value] : e.metadata) {
        auto* pair = entry->add_structuredmetadata();
        pair->set_name(name);
        pair->set_value(value);
      }
    }
  }
  std::string raw = req.SerializeAsString();
  std::string compressed;
  snappy::Compress(raw.data(), raw.size(), &compressed);
  return compressed;
}

struct HttpResult {
  int status = 0;
  std::string body;
  std::string retry_after;
  bool has_content_length = false;
};

struct RequestSpec {
  http::verb method = http::verb::post;
  std::string target = "/loki/api/v1/push";
  std::string body;
  std::string content_type = "application/x-protobuf";
  std::string content_encoding = "snappy";
  std::string org_id;
};

RequestSpec Proto(const std::vector<TestStream>& streams) {
  RequestSpec spec;
  spec.body = ProtoBody(streams);
  return spec;
}

// Blocking HTTP/1.1 client on one keep-alive connection. Test-thread only.
class Client {
 public:
  explicit Client(int port) : socket_(ioc_) {
    beast::error_code ec;
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    connect_error_ = ec;
  }

  absl::StatusOr<HttpResult> Send(const RequestSpec& spec) {
    if (connect_error_) return absl::UnavailableError(connect_error_.message());
    http::request<http::string_body> req{spec.method, spec.target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::user_agent, "fake-loki-test/1");
    if (!spec.content_type.empty()) req.set(http::field::content_type, spec.content_type);
    if (!spec.content_encoding.empty()) {
      req.set(http::field::content_encoding, spec.content_encoding);
    }
    if (!spec.org_id.empty()) req.set("X-Scope-OrgID", spec.org_id);
    req.body() = spec.body;
    req.prepare_payload();
    beast::error_code ec;
    http::write(socket_, req, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("write: ", ec.message()));
    http::response<http::string_body> res;
    http::read(socket_, buffer_, res, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("read: ", ec.message()));
    HttpResult out;
    out.status = static_cast<int>(res.result_int());
    out.body = res.body();
    auto retry = res[http::field::retry_after];
    out.retry_after = std::string(retry.data(), retry.size());
    out.has_content_length = res.count(http::field::content_length) > 0;
    return out;
  }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  beast::error_code connect_error_;
};

absl::StatusOr<HttpResult> SendOnce(const FakeLoki& loki, const RequestSpec& spec) {
  Client client(loki.port());
  return client.Send(spec);
}

class FakeLokiTest : public ::testing::Test {
 protected:
  void StartWith(FakeLoki::Options options) {
    loki_ = std::make_unique<FakeLoki>(std::move(options));
    ASSERT_TRUE(loki_->Start().ok());
  }
  void SetUp() override { StartWith({}); }

  int Post(const std::vector<TestStream>& streams, std::string* body = nullptr) {
    auto res = SendOnce(*loki_, Proto(streams));
    EXPECT_TRUE(res.ok()) << res.status();
    if (!res.ok()) return -1;
    if (body) *body = res->body;
    return res->status;
  }

  std::unique_ptr<FakeLoki> loki_;
};

TEST_F(FakeLokiTest, ProtobufIsAcceptedAndStored) {
  const int64_t t = NowNs();
  EXPECT_THAT(loki_->push_url(), HasSubstr(absl::StrCat(":", loki_->port(), "/loki/api/v1/push")));
  RequestSpec spec =
      Proto({{R"({job="app", host="h1"})", {{t, "one"}, {t + 1, "two", {{"trace_id", "abc"}}}}},
             {R"({job="other"})", {{t, "three"}}}});
  spec.org_id = "tenant-1";
  auto res = SendOnce(*loki_, spec);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 204) << res->body;
  EXPECT_FALSE(res->has_content_length) << "like Go's net/http, no Content-Length on a 204";
  EXPECT_EQ(loki_->total_entries(), 3u);
  EXPECT_EQ(loki_->stream_count(), 2u);

  auto stream = loki_->FindStream(R"({host="h1",job="app"})", "tenant-1");
  ASSERT_TRUE(stream.has_value());
  EXPECT_EQ(stream->labels, R"({host="h1", job="app"})");
  EXPECT_THAT(stream->label_map, ElementsAre(Pair("host", "h1"), Pair("job", "app")));
  ASSERT_EQ(stream->entries.size(), 2u);
  EXPECT_EQ(stream->entries[0].timestamp_ns, t);
  EXPECT_EQ(stream->entries[0].line, "one");
  EXPECT_EQ(stream->entries[1].line, "two");
  EXPECT_THAT(stream->entries[1].structured_metadata, ElementsAre(Pair("trace_id", "abc")));
  EXPECT_FALSE(loki_->FindStream(R"({host="h1",job="app"})").has_value());  // other tenant
  EXPECT_THAT(loki_->AllLines(), ElementsAre("one", "two", "three"));

  auto requests = loki_->Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].content_type, "application/x-protobuf");
  EXPECT_EQ(requests[0].content_encoding, "snappy");
  EXPECT_EQ(requests[0].org_id, "tenant-1");
  EXPECT_EQ(requests[0].user_agent, "fake-loki-test/1");
  EXPECT_EQ(requests[0].body_bytes, spec.body.size());
  EXPECT_EQ(requests[0].status, 204);
  EXPECT_EQ(requests[0].entries_received, 3u);
  EXPECT_EQ(requests[0].entries_accepted, 3u);
  EXPECT_THAT(loki_->requests_by_status(), ElementsAre(Pair(204, 1u)));
}

TEST_F(FakeLokiTest, JsonIsAccepted) {
  const int64_t t = NowNs();
  RequestSpec spec;
  spec.content_type = "application/json";
  spec.content_encoding = "";
  spec.body = absl::StrCat(R"({"streams":[{"stream":{"job":"j","env":"e\"x"},"values":[[")", t,
                           R"(","hello"],[")", t + 5, R"(","world",{"user":"u1"}]]}]})");
  auto res = SendOnce(*loki_, spec);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 204) << res->body;
  auto stream = loki_->FindStream(R"({env="e\"x", job="j"})");
  ASSERT_TRUE(stream.has_value());
  EXPECT_EQ(stream->labels, R"({env="e\"x", job="j"})");
  ASSERT_EQ(stream->entries.size(), 2u);
  EXPECT_EQ(stream->entries[0].timestamp_ns, t);
  EXPECT_EQ(stream->entries[1].line, "world");
  EXPECT_THAT(stream->entries[1].structured_metadata, ElementsAre(Pair("user", "u1")));
}

TEST_F(FakeLokiTest, MalformedJsonIs400) {
  RequestSpec spec;
  spec.content_type = "application/json; charset=utf-8";
  spec.content_encoding = "";
  for (std::string body : {R"({"streams":[{"stream":{"a":"b"},"values":[[1,"x"]]}]})",
                           R"({"streams":[)", R"({"streams":[{"stream":{"a":1}}]})"}) {
    spec.body = body;
    auto res = SendOnce(*loki_, spec);
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->status, 400) << body;
  }
  EXPECT_EQ(loki_->total_entries(), 0u);
}

TEST_F(FakeLokiTest, KeepAliveConnectionServesManyRequests) {
  Client client(loki_->port());
  const int64_t t = NowNs();
  for (int i = 0; i < 5; ++i) {
    auto res = client.Send(Proto({{R"({job="ka"})", {{t + i, absl::StrCat("line ", i)}}}}));
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->status, 204);
  }
  EXPECT_EQ(loki_->total_entries(), 5u);
}

TEST_F(FakeLokiTest, InvalidLabelsRejectOnlyThatStream) {
  const int64_t t = NowNs();
  std::string too_many = "{";
  for (int i = 0; i < 16; ++i) absl::StrAppend(&too_many, i ? "," : "", "l", i, "=\"v\"");
  too_many += "}";
  std::string body;
  EXPECT_EQ(Post({{R"({a="1", a="2"})", {{t, "dup names"}}},
                  {too_many, {{t, "too many"}}},
                  {R"({a=""})", {{t, "no labels"}}},
                  {absl::StrCat("{a=\"", std::string(2049, 'x'), "\"}"), {{t, "long value"}}},
                  {R"({job="good"})", {{t, "kept"}}}},
                 &body),
            400);
  EXPECT_THAT(body, HasSubstr(R"(has duplicate label name: 'a')"));
  EXPECT_THAT(body, HasSubstr("has 16 label names; limit 15"));
  EXPECT_THAT(body, HasSubstr("error at least one label pair is required per stream"));
  EXPECT_THAT(body, HasSubstr("has label value too long"));
  EXPECT_EQ(loki_->total_entries(), 1u);
  EXPECT_EQ(loki_->stream_count(), 1u);
  ASSERT_TRUE(loki_->FindStream(R"({job="good"})").has_value());
  EXPECT_THAT(loki_->rejected_by_reason(),
              ElementsAre(Pair("duplicate_label_names", 1u), Pair("label_value_too_long", 1u),
                          Pair("max_label_names_per_series", 1u), Pair("missing_labels", 1u)));
  EXPECT_EQ(loki_->rejected_entries(), 4u);
  EXPECT_EQ(loki_->Requests().back().entries_accepted, 1u);
}

TEST_F(FakeLokiTest, UnparsableLabelsFailTheWholeRequestLikeLoki3) {
  const int64_t t = NowNs();
  std::string body;
  EXPECT_EQ(Post({{R"({a="b")", {{t, "x"}}}, {R"({job="good"})", {{t, "y"}}}}, &body), 400);
  EXPECT_THAT(body, HasSubstr("couldn't parse labels"));
  EXPECT_EQ(loki_->total_entries(), 0u);
}

TEST_F(FakeLokiTest, UnparsableLabelsRejectOnlyThatStreamLikeLoki2) {
  FakeLoki::Options options;
  options.reject_request_on_unparsable_labels = false;
  StartWith(options);
  const int64_t t = NowNs();
  std::string body;
  EXPECT_EQ(
      Post({{R"({a="b")", {{t, "x"}}}, {"{1a=\"b\"}", {{t, "x"}}}, {R"({job="good"})", {{t, "y"}}}},
           &body),
      400);
  EXPECT_THAT(body, HasSubstr(R"(Error parsing labels '{a="b"' with error)"));
  EXPECT_EQ(loki_->total_entries(), 1u);
  EXPECT_THAT(loki_->rejected_by_reason(), ElementsAre(Pair("invalid_labels", 2u)));
}

TEST(FakeLokiLabelsTest, ParsesLikePrometheus) {
  std::map<std::string, std::string> labels;
  std::string error;
  ASSERT_TRUE(ParseLokiLabels(R"( { b = "x\"y\\z\n\u00e9\x41\101" , a='q\'', c=`raw\n`, } )",
                              &labels, &error))
      << error;
  EXPECT_THAT(labels, ElementsAre(Pair("a", "q'"),
                                  Pair("b",
                                       "x\"y\\z\n\xc3\xa9"
                                       "AA"),
                                  Pair("c", "raw\\n")));
  EXPECT_EQ(FormatLokiLabels(labels), R"({a="q'", b="x\"y\\z\n)"
                                      "\xc3\xa9"
                                      R"(AA", c="raw\\n"})");
  ASSERT_TRUE(ParseLokiLabels(R"(metric{e=""})", &labels, &error)) << error;
  EXPECT_THAT(labels, ElementsAre(Pair("__name__", "metric")));
  ASSERT_TRUE(ParseLokiLabels("{}", &labels, &error));
  EXPECT_TRUE(labels.empty());

  for (const char* bad : {"", "{", R"({a="b")", R"({a="b" c="d"})", R"({a!="b"})", R"({a=~"b"})",
                          R"({a=b})", R"({1a="b"})", R"({a-b="c"})", R"({a="\q"})",
                          R"({a="\ud800"})", "{a=\"x\ny\"}", R"({a="b"} x)", R"({a='b"})",
                          R"({a="b",,})", "{a=\"\xff\"}", R"({a="\xff"})", R"({a="b", a="c"})"}) {
    EXPECT_FALSE(ParseLokiLabels(bad, &labels, &error)) << bad;
  }
}

TEST_F(FakeLokiTest, LineTooLongIsRejected) {
  const int64_t t = NowNs();
  std::string body;
  EXPECT_EQ(
      Post({{R"({job="l"})", {{t, std::string(262144, 'a')}, {t + 1, std::string(262145, 'b')}}}},
           &body),
      400);
  EXPECT_THAT(body, HasSubstr("Max entry size '262144' bytes exceeded for stream '{job=\"l\"}' "
                              "while adding an entry with length '262145' bytes"));
  EXPECT_EQ(loki_->total_entries(), 1u);
  EXPECT_THAT(loki_->rejected_by_reason(), ElementsAre(Pair("line_too_long", 1u)));
  auto rejections = loki_->Rejections();
  ASSERT_EQ(rejections.size(), 1u);
  EXPECT_EQ(rejections[0].labels, R"({job="l"})");
  EXPECT_EQ(rejections[0].timestamp_ns, t + 1);
}

TEST_F(FakeLokiTest, TimestampsTooOldOrTooNewAreRejected) {
  const int64_t t = NowNs();
  std::string body;
  EXPECT_EQ(
      Post({{R"({job="t"})", {{t - 169 * kHour, "old"}, {t + 11 * kMinute, "future"}, {t, "ok"}}}},
           &body),
      400);
  EXPECT_THAT(body, HasSubstr("has timestamp too old"));
  EXPECT_THAT(body, HasSubstr("has timestamp too new"));
  EXPECT_THAT(body, HasSubstr("1 errors like: ")) << "several distinct messages are counted";
  EXPECT_EQ(loki_->total_entries(), 1u);
  EXPECT_THAT(loki_->rejected_by_reason(),
              ElementsAre(Pair("greater_than_max_sample_age", 1u), Pair("too_far_in_future", 1u)));
}

TEST_F(FakeLokiTest, SampleAgeFollowsTheInjectedClock) {
  FakeClock clock;  // 2023-11-14T22:13:20Z
  FakeLoki::Options options;
  options.clock = &clock;
  StartWith(options);
  const int64_t now = clock.NowUnixNanos();
  EXPECT_EQ(
      Post({{R"({job="c"})", {{now - 167 * kHour, "old but fine"}, {now + 9 * kMinute, "soon"}}}}),
      204);
  std::string body;
  EXPECT_EQ(Post({{R"({job="d"})", {{now - 169 * kHour, "too old"}}}}, &body), 400);
  EXPECT_THAT(body, HasSubstr("has timestamp too old: 2023-11-07T21:13:20Z, oldest acceptable "
                              "timestamp is: 2023-11-07T22:13:20Z"));
}

TEST_F(FakeLokiTest, InvalidUtf8LineIsRejectedByDefault) {
  const int64_t t = NowNs();
  std::string body;
  // The generated C++ parser refuses proto3 strings that are not UTF-8; FakeLoki still decodes the
  // request like Loki's Go code does and rejects only the bad entry.
  EXPECT_EQ(Post({{R"({job="u"})", {{t, "bad \xff line"}, {t + 1, "good"}}}}, &body), 400);
  EXPECT_THAT(body, HasSubstr("not valid UTF-8"));
  EXPECT_THAT(loki_->AllLines(), ElementsAre("good"));
}

TEST_F(FakeLokiTest, InvalidUtf8LineIsStoredWhenAllowed) {
  FakeLoki::Options options;
  options.reject_invalid_utf8 = false;
  StartWith(options);
  EXPECT_EQ(Post({{R"({job="u"})", {{NowNs(), "bad \xff line"}}}}), 204);
  EXPECT_THAT(loki_->AllLines(), ElementsAre("bad \xff line"));
}

TEST_F(FakeLokiTest, OutOfOrderIsRejectedInOrderedMode) {
  FakeLoki::Options options;
  options.ordered_writes = true;
  StartWith(options);
  const int64_t t = NowNs();
  std::string body;
  EXPECT_EQ(
      Post({{R"({job="o"})", {{t, "a"}, {t, "same ts other line"}, {t - 1, "older"}}}}, &body),
      400);
  EXPECT_THAT(body, HasSubstr("entry out of order"));
  EXPECT_THAT(body, HasSubstr("total ignored: 1 out of 3 for stream: {job=\"o\"}"));
  EXPECT_EQ(Post({{R"({job="o"})", {{t - 5, "older, next request"}}}}), 400);
  EXPECT_THAT(loki_->AllLines(), ElementsAre("a", "same ts other line"));
  EXPECT_THAT(loki_->rejected_by_reason(), ElementsAre(Pair("out_of_order", 2u)));
}

TEST_F(FakeLokiTest, TooFarBehindIsRejectedInUnorderedMode) {
  const int64_t t = NowNs() - kMinute;
  std::string body;
  EXPECT_EQ(Post({{R"({job="b"})", {{t, "newest"}, {t - 30 * kMinute, "30m behind"}}}}), 204);
  EXPECT_EQ(Post({{R"({job="b"})", {{t - 61 * kMinute, "61m behind"}, {t - kHour, "1h"}}}}, &body),
            400);
  EXPECT_THAT(body, HasSubstr("entry too far behind"));
  EXPECT_THAT(loki_->AllLines(), ElementsAre("newest", "30m behind", "1h"));
  // Other streams have their own window.
  EXPECT_EQ(Post({{R"({job="c"})", {{t - 61 * kMinute, "first of its stream"}}}}), 204);
}

TEST_F(FakeLokiTest, DuplicatesAreIgnoredAndCounted) {
  const int64_t t = NowNs();
  EXPECT_EQ(Post({{R"({job="d"})", {{t, "x"}, {t, "x"}}}}), 204);
  EXPECT_EQ(Post({{R"({job="d"})", {{t, "x"}}}}), 204);
  EXPECT_EQ(Post({{R"({job="d"})", {{t, "x", {{"k", "v"}}}}}}), 204);  // metadata differs
  EXPECT_EQ(loki_->duplicates(), 2u);
  EXPECT_EQ(loki_->total_entries(), 2u);
  EXPECT_EQ(loki_->rejected_entries(), 0u);
}

TEST_F(FakeLokiTest, UndecodableBodiesAre400) {
  RequestSpec spec;
  spec.body = "definitely not snappy";
  auto res = SendOnce(*loki_, spec);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 400);
  EXPECT_THAT(res->body, HasSubstr("snappy"));

  std::string garbage = "\x0a\xff\xff\xff\xff\x0f";  // field 1, absurd length
  spec.body.clear();
  snappy::Compress(garbage.data(), garbage.size(), &spec.body);
  res = SendOnce(*loki_, spec);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 400);

  spec = Proto({{R"({job="x"})", {{NowNs(), "x"}}}});
  spec.content_type = "";
  res = SendOnce(*loki_, spec);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 400);

  spec.content_type = "application/x-protobuf";
  spec.content_encoding = "br";
  res = SendOnce(*loki_, spec);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(loki_->total_entries(), 0u);
  EXPECT_EQ(loki_->requests_by_status()[400], 4u);
}

TEST_F(FakeLokiTest, NonHttpGets400) {
  asio::io_context ioc;
  tcp::socket socket(ioc);
  beast::error_code ec;
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), loki_->port()), ec);
  ASSERT_FALSE(ec) << ec.message();
  asio::write(socket, asio::buffer(std::string_view("NOT HTTP AT ALL\r\n\r\n")), ec);
  ASSERT_FALSE(ec) << ec.message();
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result_int(), 400u);
}

TEST_F(FakeLokiTest, RequestWithoutStreamsIs422) {
  EXPECT_EQ(Post({}), 422);
  EXPECT_EQ(Post({{R"({job="e"})", {}}}), 204);  // streams without entries are skipped
}

TEST_F(FakeLokiTest, OversizedBodiesAre413) {
  FakeLoki::Options options;
  options.max_body_bytes = 4096;
  options.max_decompressed_bytes = 8192;
  StartWith(options);
  RequestSpec spec;
  spec.body = std::string(5000, 'x');
  auto res = SendOnce(*loki_, spec);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 413);
  // Compresses to far less than 4 KiB, decompresses to more than 8 KiB.
  res = SendOnce(*loki_, Proto({{R"({job="big"})", {{NowNs(), std::string(10000, 'a')}}}}));
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(loki_->requests_by_status()[413], 2u);
}

TEST_F(FakeLokiTest, StatusFaultWithRetryAfter) {
  const int64_t t = NowNs();
  loki_->FailNext(2, 429, "slow down", 7);
  Client client(loki_->port());
  for (int i = 0; i < 2; ++i) {
    auto res = client.Send(Proto({{R"({job="f"})", {{t + i, "x"}}}}));
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->status, 429);
    EXPECT_EQ(res->body, "slow down");
    EXPECT_EQ(res->retry_after, "7");
  }
  auto res = client.Send(Proto({{R"({job="f"})", {{t + 2, "x"}}}}));
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 204);
  EXPECT_EQ(loki_->total_entries(), 1u);

  loki_->FailNext(-1, 503);
  for (int i = 0; i < 3; ++i) {
    res = client.Send(Proto({{R"({job="f"})", {{t + 10 + i, "y"}}}}));
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->status, 503);
    EXPECT_EQ(res->retry_after, "");
  }
  loki_->ClearFaults();
  res = client.Send(Proto({{R"({job="f"})", {{t + 20, "z"}}}}));
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 204);
  EXPECT_EQ(loki_->total_entries(), 2u);
  EXPECT_THAT(loki_->requests_by_status(),
              ElementsAre(Pair(204, 2u), Pair(429, 2u), Pair(503, 3u)));
}

TEST_F(FakeLokiTest, StallHoldsARequestWithoutBlockingOthers) {
  const int64_t t = NowNs();
  loki_->StallNext(1);
  absl::StatusOr<HttpResult> stalled_result;
  std::thread stalled([&] {
    stalled_result = SendOnce(*loki_, Proto({{R"({job="s"})", {{t, "held"}}}}));
  });
  ASSERT_TRUE(loki_->WaitForStalled(1, kWait));
  EXPECT_EQ(loki_->total_entries(), 0u);

  // Another connection is served while the first one is held.
  EXPECT_EQ(Post({{R"({job="s2"})", {{t, "free"}}}}), 204);
  EXPECT_EQ(loki_->stalled_now(), 1u);

  loki_->ReleaseStall();
  stalled.join();
  ASSERT_TRUE(stalled_result.ok()) << stalled_result.status();
  EXPECT_EQ(stalled_result->status, 204);
  EXPECT_EQ(loki_->total_entries(), 2u);
  EXPECT_EQ(loki_->stalled_now(), 0u);
}

TEST_F(FakeLokiTest, TimedStallEndsByItself) {
  loki_->StallNext(1, absl::Milliseconds(100));
  const absl::Time start = absl::Now();
  EXPECT_EQ(Post({{R"({job="ts"})", {{NowNs(), "late"}}}}), 204);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(100));
  EXPECT_EQ(Post({{R"({job="ts"})", {{NowNs(), "not held"}}}}), 204);
  EXPECT_EQ(loki_->total_entries(), 2u);
}

TEST_F(FakeLokiTest, DroppedConnectionIsATransportError) {
  loki_->DropNext(1);
  auto res = SendOnce(*loki_, Proto({{R"({job="x"})", {{NowNs(), "dropped"}}}}));
  EXPECT_FALSE(res.ok());
  EXPECT_EQ(loki_->total_entries(), 0u);
  EXPECT_EQ(Post({{R"({job="x"})", {{NowNs(), "kept"}}}}), 204);
  EXPECT_THAT(loki_->requests_by_status(), ElementsAre(Pair(0, 1u), Pair(204, 1u)));
}

TEST_F(FakeLokiTest, QueuedFaultsAreTakenInOrderBeforeTheOthers) {
  using Fault = FakeLoki::Fault;
  const int64_t t = NowNs();
  loki_->FailNext(1, 500);  // looked at only once the queue is used up
  loki_->QueueFaults({Fault::Status(2, 503), Fault::Pass(), Fault::Drop()});
  loki_->QueueFaults({Fault::Status(1, 429, "slow down", 3)});
  EXPECT_EQ(loki_->queued_faults(), 5u);
  EXPECT_FALSE(loki_->WaitForQueuedFaults(absl::Milliseconds(10)));
  Client client(loki_->port());
  for (int i = 0; i < 2; ++i) {
    auto res = client.Send(Proto({{R"({job="q"})", {{t + i, "failed"}}}}));
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->status, 503);
  }
  auto res = client.Send(Proto({{R"({job="q"})", {{t + 2, "passed"}}}}));
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 204);
  EXPECT_EQ(loki_->queued_faults(), 2u);
  EXPECT_FALSE(client.Send(Proto({{R"({job="q"})", {{t + 3, "dropped"}}}})).ok());
  res = SendOnce(*loki_, Proto({{R"({job="q"})", {{t + 4, "limited"}}}}));
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 429);
  EXPECT_EQ(res->body, "slow down");
  EXPECT_EQ(res->retry_after, "3");
  EXPECT_TRUE(loki_->WaitForQueuedFaults(absl::ZeroDuration()));
  EXPECT_EQ(Post({{R"({job="q"})", {{t + 5, "then FailNext"}}}}), 500);
  EXPECT_EQ(Post({{R"({job="q"})", {{t + 6, "kept"}}}}), 204);
  EXPECT_THAT(loki_->AllLines(), ElementsAre("passed", "kept"));
  EXPECT_THAT(loki_->requests_by_status(),
              ElementsAre(Pair(0, 1u), Pair(204, 2u), Pair(429, 1u), Pair(500, 1u), Pair(503, 2u)));

  loki_->QueueFaults({Fault::Status(5, 503)});
  loki_->ClearFaults();
  EXPECT_EQ(loki_->queued_faults(), 0u);
  EXPECT_EQ(Post({{R"({job="q"})", {{t + 7, "cleared"}}}}), 204);
}

TEST_F(FakeLokiTest, StopWhileStalledReturnsPromptly) {
  loki_->StallNext(-1);
  absl::StatusOr<HttpResult> result;
  std::thread client([&] {
    result = SendOnce(*loki_, Proto({{R"({job="x"})", {{NowNs(), "x"}}}}));
  });
  // An idle keep-alive connection must not hold up Stop() either.
  Client idle(loki_->port());
  ASSERT_TRUE(loki_->WaitForStalled(1, kWait));
  const absl::Time start = absl::Now();
  loki_->Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  client.join();
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(loki_->total_entries(), 0u);
  loki_->Stop();  // idempotent
}

TEST(FakeLokiLifecycleTest, StopWithoutStartAndDoubleStart) {
  {
    FakeLoki never_started;
    never_started.Stop();
  }
  FakeLoki loki;
  ASSERT_TRUE(loki.Start().ok());
  EXPECT_GT(loki.port(), 0);
  EXPECT_FALSE(loki.Start().ok());
  loki.Stop();
  loki.Stop();
}

TEST_F(FakeLokiTest, ServesReadyMetricsAnd404And405) {
  RequestSpec spec;
  spec.method = http::verb::get;
  spec.target = "/ready";
  auto res = SendOnce(*loki_, spec);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ready");

  EXPECT_EQ(Post({{R"({job="m"})", {{NowNs(), "x"}}}}), 204);
  spec.target = "/metrics";
  res = SendOnce(*loki_, spec);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200);
  EXPECT_THAT(res->body, HasSubstr("fake_loki_entries_total 1\n"));
  EXPECT_THAT(res->body, HasSubstr("fake_loki_push_requests_total{status=\"204\"} 1\n"));

  spec.target = "/nope";
  res = SendOnce(*loki_, spec);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 404);

  spec.target = "/loki/api/v1/push";
  res = SendOnce(*loki_, spec);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(loki_->request_count(), 1u) << "only POSTs to the push endpoint are counted";
  EXPECT_EQ(loki_->StatsJson(),
            R"({"entries":1,"streams":1,"duplicates":0,"rejected":0,"requests":1,)"
            R"("requests_by_status":{"204":1},"rejected_by_reason":{}})");
}

TEST_F(FakeLokiTest, TenantCanBeRequired) {
  FakeLoki::Options options;
  options.require_tenant = true;
  StartWith(options);
  EXPECT_EQ(Post({{R"({job="x"})", {{NowNs(), "x"}}}}), 401);
  RequestSpec spec = Proto({{R"({job="x"})", {{NowNs(), "x"}}}});
  spec.org_id = "t1";
  auto res = SendOnce(*loki_, spec);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 204);
  EXPECT_TRUE(loki_->FindStream(R"({job="x"})", "t1").has_value());
}

TEST_F(FakeLokiTest, ConcurrentClients) {
  constexpr int kThreads = 4;
  constexpr int kRequests = 25;
  const int64_t t = NowNs();
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      Client client(loki_->port());
      for (int r = 0; r < kRequests; ++r) {
        auto res = client.Send(
            Proto({{absl::StrCat("{thread=\"", i, "\"}"), {{t + r, absl::StrCat(i, "/", r)}}}}));
        EXPECT_TRUE(res.ok() && res->status == 204);
      }
    });
  }
  EXPECT_TRUE(loki_->WaitForEntries(kThreads * kRequests, kWait));
  EXPECT_TRUE(loki_->WaitForRequests(kThreads * kRequests, kWait));
  for (auto& th : threads) th.join();
  EXPECT_EQ(loki_->stream_count(), static_cast<size_t>(kThreads));
  EXPECT_FALSE(loki_->WaitForEntries(kThreads * kRequests + 1, absl::Milliseconds(10)));
}

// libcurl, as the agent uses it: keep-alive, and `Expect: 100-continue` on a large body.
size_t CollectBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

TEST_F(FakeLokiTest, LibcurlLargeBodyWithExpectContinue) {
  const int64_t t = NowNs();
  std::vector<TestEntry> entries;
  for (int i = 0; i < 64; ++i) {
    // Incompressible-ish lines so the body stays above curl's 1 MiB Expect threshold.
    std::string line;
    uint64_t x = 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(i + 1);
    for (int j = 0; j < 40000; ++j) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      line.push_back(static_cast<char>('!' + x % 90));
    }
    entries.push_back({t + i, std::move(line)});
  }
  const std::string body = ProtoBody({{R"({job="curl"})", entries}});
  ASSERT_GT(body.size(), 1u << 20);

  CURL* curl = curl_easy_init();
  ASSERT_NE(curl, nullptr);
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/x-protobuf");
  headers = curl_slist_append(headers, "Content-Encoding: snappy");
  headers = curl_slist_append(headers, "Expect: 100-continue");
  const std::string url = loki_->push_url();
  std::string response;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, CollectBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  // Long enough that waiting out curl's Expect timeout instead of a 100 Continue would show.
  curl_easy_setopt(curl, CURLOPT_EXPECT_100_TIMEOUT_MS, 30000L);
  for (int i = 0; i < 2; ++i) {  // the second request reuses the connection
    const absl::Time start = absl::Now();
    ASSERT_EQ(curl_easy_perform(curl), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    EXPECT_EQ(status, 204) << response;
    EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  // Loki only drops an entry equal to the stream's last one, so the resent batch is stored again.
  EXPECT_EQ(loki_->total_entries(), 128u);
}

}  // namespace
}  // namespace sluice::testing
