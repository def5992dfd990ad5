#include "agent/sink/loki_sink.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <snappy.h>

#include <deque>

#include "agent/pipeline/batcher.h"
#include "push.pb.h"

namespace sluice {
namespace {

// Answers from a script and records what it was sent. Sender thread only (the test's).
class ScriptedHttp final : public HttpClient {
 public:
  explicit ScriptedHttp(std::deque<absl::StatusOr<HttpResponse>> script)
      : script_(std::move(script)) {}
  absl::StatusOr<HttpResponse> Post(const HttpRequest& request) override {
    requests.push_back(Recorded{request.url, request.headers, std::string(request.body)});
    if (script_.empty()) return HttpResponse{204, "", std::nullopt};
    auto r = std::move(script_.front());
    script_.pop_front();
    return r;
  }
  struct Recorded {
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
  };
  std::vector<Recorded> requests;

 private:
  std::deque<absl::StatusOr<HttpResponse>> script_;
};

HttpResponse Resp(int status, std::string body = "", std::optional<std::string> ra = {}) {
  return HttpResponse{status, std::move(body), std::move(ra)};
}

class LokiSinkTest : public ::testing::Test {
 protected:
  std::unique_ptr<Batch> MakeBatch() {
    std::unique_ptr<Batch> out;
    Batcher b(1 << 20, &clock_, [&](std::unique_ptr<Batch> x) { out = std::move(x); });
    auto info = std::make_shared<StreamInfo>();
    info->loki_labels = "{app=\"x\"}";
    uint32_t s = b.AddStream(info);
    b.Add(s, 1'000'000'000, "one", 1, 0, 4);
    b.Add(s, 2'000'000'000, "three", 1, 0, 10);
    b.Seal();
    return out;
  }
  LokiSink* Make(std::deque<absl::StatusOr<HttpResponse>> script, RetryConfig retry = {},
                 std::string tenant = "") {
    auto http = std::make_unique<ScriptedHttp>(std::move(script));
    http_ = http.get();
    auto sleeper = std::make_unique<FakeSleeper>();
    sleeper_ = sleeper.get();
    LokiSinkConfig cfg;
    cfg.url = "http://127.0.0.1:3100/loki/api/v1/push";
    cfg.tenant = tenant;
    cfg.retry = retry;
    cfg.headers = {{"X-Extra", "1"}, {"content-type", "text/plain"}};
    sink_ = std::make_unique<LokiSink>(cfg, std::move(http), std::move(sleeper), &metrics_, 42);
    return sink_.get();
  }
  uint64_t Dropped(const std::string& reason, const std::string& tenant = "") {
    return metrics_.CounterValue(
        "loki_write_dropped_entries_total",
        {{"host", "127.0.0.1:3100"}, {"reason", reason}, {"tenant", tenant}});
  }

  FakeClock clock_;
  MetricsRegistry metrics_;
  ScriptedHttp* http_ = nullptr;
  FakeSleeper* sleeper_ = nullptr;
  std::unique_ptr<LokiSink> sink_;
};

TEST_F(LokiSinkTest, SendsSnappyProtobufWithHeaders) {
  auto batch = MakeBatch();
  LokiSink* sink = Make({Resp(204)}, {}, "team-a");
  EXPECT_EQ(sink->Deliver(*batch), BatchOutcome::kDelivered);
  ASSERT_EQ(http_->requests.size(), 1u);
  const auto& r = http_->requests[0];
  EXPECT_EQ(r.url, "http://127.0.0.1:3100/loki/api/v1/push");
  EXPECT_THAT(r.headers, ::testing::Contains(std::pair<std::string, std::string>(
                             "Content-Type", "application/x-protobuf")));
  EXPECT_THAT(r.headers, ::testing::Contains(
                             std::pair<std::string, std::string>("Content-Encoding", "snappy")));
  EXPECT_THAT(r.headers,
              ::testing::Contains(std::pair<std::string, std::string>("X-Scope-OrgID", "team-a")));
  EXPECT_THAT(r.headers, ::testing::Contains(std::pair<std::string, std::string>(
                             "User-Agent", std::string("sluice/") + SLUICE_VERSION)));
  EXPECT_THAT(r.headers, ::testing::Contains(std::pair<std::string, std::string>("X-Extra", "1")));
  // A configured header never overrides one the client sets itself.
  EXPECT_THAT(r.headers, ::testing::Not(::testing::Contains(
                             std::pair<std::string, std::string>("content-type", "text/plain"))));
  std::string raw;
  ASSERT_TRUE(snappy::Uncompress(r.body.data(), r.body.size(), &raw));
  logproto::PushRequest req;
  ASSERT_TRUE(req.ParseFromString(raw));
  ASSERT_EQ(req.streams_size(), 1);
  EXPECT_EQ(req.streams(0).entries(1).line(), "three");
  // Alloy's series: per host and tenant; bytes are the request's (compressed) body.
  MetricLabels series = {{"host", "127.0.0.1:3100"}, {"tenant", "team-a"}};
  EXPECT_EQ(metrics_.CounterValue("loki_write_sent_entries_total", series), 2u);
  EXPECT_EQ(metrics_.CounterValue("loki_write_sent_bytes_total", series), r.body.size());
  EXPECT_EQ(metrics_.CounterValue("loki_write_encoded_bytes_total", series), r.body.size());
  std::string text = metrics_.RenderPrometheus();
  EXPECT_THAT(text, ::testing::HasSubstr("# TYPE loki_write_request_duration_seconds histogram\n"));
  EXPECT_THAT(text, ::testing::HasSubstr(
                        "loki_write_request_duration_seconds_count{host=\"127.0.0.1:3100\","
                        "status_code=\"204\",tenant=\"team-a\"} 1\n"));
  EXPECT_THAT(text, ::testing::HasSubstr(
                        "loki_write_request_duration_seconds_bucket{host=\"127.0.0.1:3100\","
                        "status_code=\"204\",tenant=\"team-a\",le=\"0.005\"} "));
  EXPECT_THAT(text,
              ::testing::HasSubstr("loki_write_request_size_bytes_bucket{host=\"127.0.0.1:3100\","
                                   "tenant=\"team-a\",le=\"1024\"} 1\n"));
  // The drop reasons exist at 0 from the start, as in Alloy.
  EXPECT_TRUE(metrics_.HasSeries(
      "loki_write_dropped_entries_total",
      {{"host", "127.0.0.1:3100"}, {"reason", "rate_limited"}, {"tenant", "team-a"}}));
}

TEST_F(LokiSinkTest, ComponentIdLabelsEverySeriesAndTransportErrorsAreStatusMinusOne) {
  auto http = std::make_unique<ScriptedHttp>(std::deque<absl::StatusOr<HttpResponse>>{
      absl::UnavailableError("connection refused"), Resp(204)});
  LokiSinkConfig cfg;
  cfg.url = "http://loki:3100/loki/api/v1/push";
  cfg.component_id = "loki.write.default";
  LokiSink sink(cfg, std::move(http), std::make_unique<FakeSleeper>(), &metrics_, 1);
  auto batch = MakeBatch();
  EXPECT_EQ(sink.Deliver(*batch), BatchOutcome::kDelivered);
  MetricLabels series = {{"component_id", "loki.write.default"},
                         {"component_path", "/"},
                         {"host", "loki:3100"},
                         {"tenant", ""}};
  EXPECT_EQ(metrics_.CounterValue("loki_write_sent_entries_total", series), 2u);
  EXPECT_EQ(metrics_.CounterValue("loki_write_batch_retries_total", series), 1u);
  EXPECT_THAT(metrics_.RenderPrometheus(),
              ::testing::HasSubstr("loki_write_request_duration_seconds_count{component_id=\""
                                   "loki.write.default\",component_path=\"/\",host=\"loki:"
                                   "3100\",status_code=\"-1\",tenant=\"\"} 1\n"));
}

TEST_F(LokiSinkTest, RetriesTransportErrors5xxAnd429ThenDelivers) {
  auto batch = MakeBatch();
  LokiSink* sink = Make({absl::UnavailableError("connection refused"), Resp(500), Resp(503),
                         Resp(429, "slow down", "7"), Resp(204)});
  EXPECT_EQ(sink->Deliver(*batch), BatchOutcome::kDelivered);
  EXPECT_EQ(http_->requests.size(), 5u);
  std::vector<absl::Duration> sleeps = sleeper_->sleeps();
  ASSERT_EQ(sleeps.size(), 4u);
  EXPECT_GE(sleeps[3], absl::Seconds(7)) << "Retry-After is honoured";
  EXPECT_EQ(metrics_.CounterValue("loki_write_batch_retries_total",
                                  {{"host", "127.0.0.1:3100"}, {"tenant", ""}}),
            4u);
}

TEST_F(LokiSinkTest, UnusableUrlIsRetriedLikeATransportError) {
  // Alloy loads `url = "loki:3100/api/v1/push"` and each push fails in Go's client: retried
  // with backoff and counted, the batch kept (positions do not move).
  auto batch = MakeBatch();
  LokiSink* sink = Make(
      {absl::InvalidArgumentError("Post \"loki:3100/push\": unsupported protocol scheme \"loki\""),
       Resp(204)});
  EXPECT_EQ(sink->Deliver(*batch), BatchOutcome::kDelivered);
  EXPECT_EQ(http_->requests.size(), 2u);
  EXPECT_EQ(metrics_.CounterValue("loki_write_batch_retries_total",
                                  {{"host", "127.0.0.1:3100"}, {"tenant", ""}}),
            1u);
}

TEST_F(LokiSinkTest, Drops400AtOnceCountedWithReason) {
  auto batch = MakeBatch();
  LokiSink* sink = Make({Resp(400, "entry too far behind")});
  EXPECT_EQ(sink->Deliver(*batch), BatchOutcome::kDropped);
  EXPECT_EQ(http_->requests.size(), 1u);
  EXPECT_TRUE(sleeper_->sleeps().empty());
  uint64_t total = metrics_.CounterValue(
      "loki_write_dropped_entries_total",
      {{"host", "127.0.0.1:3100"}, {"reason", "ingester_error"}, {"tenant", ""}});
  EXPECT_EQ(total, 2u);
  EXPECT_EQ(metrics_.CounterValue("sluice_write_rejected_batches_total",
                                  {{"host", "127.0.0.1:3100"}, {"reason", "too_far_behind"}}),
            1u);
}

TEST_F(LokiSinkTest, BatchTenantWinsOverTheConfiguredOne) {
  auto batch = MakeBatch();
  batch->tenant = "from-label";
  LokiSink* sink = Make({Resp(429), Resp(204)}, {}, "configured");
  EXPECT_EQ(sink->Deliver(*batch), BatchOutcome::kDelivered);
  ASSERT_EQ(http_->requests.size(), 2u);
  EXPECT_THAT(http_->requests[1].headers, ::testing::Contains(std::pair<std::string, std::string>(
                                              "X-Scope-OrgID", "from-label")));
  EXPECT_EQ(metrics_.CounterValue("loki_write_batch_retries_total",
                                  {{"host", "127.0.0.1:3100"}, {"tenant", "from-label"}}),
            1u);
}

TEST_F(LokiSinkTest, UrlUserinfoIsTheAuthAsInGo) {
  auto http = std::make_unique<ScriptedHttp>(std::deque<absl::StatusOr<HttpResponse>>{});
  ScriptedHttp* raw = http.get();
  LokiSinkConfig cfg;
  cfg.url = "http://u:p@127.0.0.1:3100/loki/api/v1/push";
  cfg.authorization = AuthorizationConfig{"Bearer", "tok", ""};
  LokiSink sink(cfg, std::move(http), std::make_unique<FakeSleeper>(), &metrics_, 1);
  auto batch = MakeBatch();
  EXPECT_EQ(sink.Deliver(*batch), BatchOutcome::kDelivered);
  ASSERT_EQ(raw->requests.size(), 1u);
  for (const auto& [k, v] : raw->requests[0].headers) EXPECT_NE(k, "Authorization");
}

TEST(LokiRejectionReasonTest, MapsLokiMessages) {
  EXPECT_EQ(LokiRejectionReason("entry with timestamp 2024-01-01 ignored, it's too far behind "
                                "the stream's newest entry"),
            "too_far_behind");
  EXPECT_EQ(LokiRejectionReason("entry for stream '{a=\"b\"}' has timestamp too old: ..."),
            "greater_than_max_sample_age");
  EXPECT_EQ(LokiRejectionReason("entry out of order for stream"), "out_of_order");
  EXPECT_EQ(LokiRejectionReason("something else"), "other");
}

TEST_F(LokiSinkTest, MaxRetriesDropsAfterNTries) {
  auto batch = MakeBatch();
  RetryConfig retry;
  retry.max_retries = 3;
  LokiSink* sink = Make({Resp(500), Resp(500), Resp(500), Resp(500), Resp(500)}, retry);
  EXPECT_EQ(sink->Deliver(*batch), BatchOutcome::kDropped);
  EXPECT_EQ(http_->requests.size(), 3u);
}

TEST_F(LokiSinkTest, CancelAbortsRetryLoop) {
  auto batch = MakeBatch();
  LokiSink* sink = Make({Resp(500), Resp(500)});
  sink->Cancel();
  EXPECT_EQ(sink->Deliver(*batch), BatchOutcome::kAborted);
}

TEST_F(LokiSinkTest, MarkOnlyBatchNeedsNoRequest) {
  Batch empty;
  empty.marks.push_back(FileMark{1, 0, 5});
  LokiSink* sink = Make({});
  EXPECT_EQ(sink->Deliver(empty), BatchOutcome::kDelivered);
  EXPECT_TRUE(http_->requests.empty());
}

TEST(UrlHostTest, Extracts) {
  EXPECT_EQ(UrlHost("http://loki:3100/loki/api/v1/push"), "loki:3100");
  EXPECT_EQ(UrlHost("https://u:p@loki.example.com/x"), "loki.example.com");
  EXPECT_EQ(UrlHost("http://127.0.0.1:1"), "127.0.0.1:1");
}

TEST_F(LokiSinkTest, EncodedBatchSendsItsPayloadByteForByte) {
  auto plain = MakeBatch();
  auto encoded = MakeBatch();
  LokiSink* sink = Make({Resp(204), Resp(204)});
  sink->Encode(encoded.get());
  ASSERT_TRUE(encoded->encoded);
  // What Encode made is exactly what Deliver makes of a batch that was not encoded.
  EXPECT_EQ(sink->Deliver(*plain), BatchOutcome::kDelivered);
  std::string payload = encoded->payload;
  std::string().swap(encoded->arena);  // the sender releases the line bytes after Encode
  EXPECT_EQ(sink->Deliver(*encoded), BatchOutcome::kDelivered);
  ASSERT_EQ(http_->requests.size(), 2u);
  EXPECT_EQ(http_->requests[1].body, payload);
  EXPECT_EQ(http_->requests[0].body, http_->requests[1].body);
  // The payload is the compressed size, not the worst-case buffer.
  EXPECT_LT(encoded->payload.capacity(), snappy::MaxCompressedLength(64));
}

// oauth2's client credentials flow: one token request (form body, client id and secret in a
// Basic header), the token used until it expires, a failing token endpoint a transport error.
TEST(RequestAuthTest, OAuth2ClientCredentials) {
  OAuth2Config o;
  o.client_id = "id";
  o.client_secret = "s e";
  o.token_url = "https://idp/token";
  o.scopes = {"logs:write", "x"};
  o.endpoint_params = {{"audience", "loki"}};
  ScriptedHttp* idp = nullptr;
  RequestAuth auth(std::nullopt, std::nullopt, o, [&idp](const HttpClientConfig&) {
    auto h = std::make_unique<ScriptedHttp>(std::deque<absl::StatusOr<HttpResponse>>{
        Resp(200, R"({"access_token":"tok1","token_type":"bearer","expires_in":3600})"),
        Resp(500, "down")});
    idp = h.get();
    return h;
  });
  for (int i = 0; i < 3; ++i) {
    std::vector<std::pair<std::string, std::string>> headers;
    ASSERT_TRUE(auth.Apply(&headers).ok());
    ASSERT_EQ(headers.size(), 1u);
    EXPECT_EQ(headers[0].second, "Bearer tok1");
  }
  ASSERT_NE(idp, nullptr);
  ASSERT_EQ(idp->requests.size(), 1u) << "the token is kept until it expires";
  EXPECT_EQ(idp->requests[0].url, "https://idp/token");
  EXPECT_EQ(idp->requests[0].body,
            "grant_type=client_credentials&scope=logs%3Awrite+x&audience=loki");
  EXPECT_EQ(idp->requests[0].headers[1].second, "Basic aWQ6cytl");  // id:s+e

  OAuth2Config bad = o;
  RequestAuth failing(std::nullopt, std::nullopt, bad, [](const HttpClientConfig&) {
    return std::make_unique<ScriptedHttp>(
        std::deque<absl::StatusOr<HttpResponse>>{Resp(401, "no such client")});
  });
  std::vector<std::pair<std::string, std::string>> headers;
  absl::Status st = failing.Apply(&headers);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(st.message()), ::testing::HasSubstr("cannot fetch token: 401"));
}

}  // namespace
}  // namespace sluice
