// Endpoint settings over the wire: a LokiSink with the real libcurl client, configured from
// decoded endpoint blocks, pushing to FakeLoki over HTTP and HTTPS (certificates made per test).

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdio.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/pipeline/batcher.h"
#include "agent/sink/asio_http_client.h"
#include "agent/sink/endpoint_config.h"
#include "agent/sink/loki_sink.h"
#include "tests/support/block_builder.h"
#include "tests/support/fake_loki.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_certs.h"

namespace sluice {
namespace {

using testing::Arr;
using testing::BlockBuilder;
using testing::Bool;
using ::testing::Contains;
using testing::FakeLoki;
using testing::FakeLokiRequest;
using testing::Int;
using testing::MakeTestPki;
using ::testing::Not;
using testing::Obj;
using ::testing::Pair;
using testing::Str;
using testing::TempDir;
using testing::TestPki;
using testing::TestPkiOptions;
using testing::WriteFile;

constexpr int64_t kNow = 1'700'000'000'000'000'000;

// A Sleeper that runs a hook instead of waiting, so a test can change the world between tries.
class HookSleeper final : public Sleeper {
 public:
  explicit HookSleeper(std::function<void()> hook) : hook_(std::move(hook)) {}
  bool Sleep(absl::Duration) override {
    if (hook_) hook_();
    return true;
  }
  void Cancel() override {}
  bool cancelled() const override { return false; }

 private:
  std::function<void()> hook_;
};

std::string BasicAuth(const std::string& user, const std::string& password) {
  return "Basic " + absl::Base64Escape(user + ":" + password);
}

class EndpointWireTest : public ::testing::Test {
 protected:
  void StartLoki(FakeLoki::Options options = {}) {
    options.clock = &clock_;
    loki_ = std::make_unique<FakeLoki>(std::move(options));
    ASSERT_TRUE(loki_->Start().ok());
  }
  FakeLoki::Options TlsLoki(const TestPki& pki) {
    FakeLoki::Options o;
    o.tls = FakeLoki::Options::Tls{pki.server_cert_pem, pki.server_key_pem, "", false, false};
    return o;
  }

  // The endpoint block `b` decoded; it must be valid.
  EndpointConfig Decode(const config::Block& b) {
    config::Diags diags;
    config::Decoder d(b, &diags);
    EndpointConfig e;
    bool ok = DecodeEndpoint(d, &e);
    EXPECT_TRUE(ok) << (diags.list().empty() ? "" : diags.list()[0].message);
    return e;
  }

  // A sink for `e` over libcurl. One try per batch unless the block says otherwise, so that a
  // refused connection ends the Deliver.
  std::unique_ptr<LokiSink> Sink(EndpointConfig e, std::function<void()> on_sleep = nullptr) {
    if (!e.max_backoff_retries_set) {
      e.max_backoff_retries_set = true;
      e.max_backoff_retries = 1;
    }
    e.remote_timeout = absl::Seconds(20);
    return std::make_unique<LokiSink>(
        LokiSinkConfigFromEndpoint(e), NewHttpClient(HttpClientOptionsFromEndpoint(e)),
        std::make_unique<HookSleeper>(std::move(on_sleep)), &metrics_, 7);
  }

  std::unique_ptr<Batch> MakeBatch(std::string tenant = "") {
    std::unique_ptr<Batch> out;
    Batcher b(1 << 20, &clock_, [&](std::unique_ptr<Batch> x) { out = std::move(x); });
    auto info = std::make_shared<StreamInfo>();
    info->loki_labels = "{app=\"x\"}";
    uint32_t s = b.AddStream(info);
    ++lines_;
    b.Add(s, kNow + lines_, absl::StrCat("line ", lines_), 1, 0, 10 * lines_);
    b.Seal();
    out->tenant = std::move(tenant);
    return out;
  }

  // Delivers one batch through `sink`.
  BatchOutcome Push(LokiSink* sink, std::string tenant = "") {
    auto batch = MakeBatch(std::move(tenant));
    return sink->Deliver(*batch);
  }

  FakeLokiRequest OnlyRequest() {
    std::vector<FakeLokiRequest> r = loki_->Requests();
    EXPECT_EQ(r.size(), 1u);
    return r.empty() ? FakeLokiRequest{} : r[0];
  }

  BlockBuilder Endpoint(const std::string& url) {
    return std::move(BlockBuilder("endpoint").Attr("url", Str(url)));
  }

  FakeClock clock_{kNow};
  MetricsRegistry metrics_;
  std::unique_ptr<FakeLoki> loki_;
  TempDir dir_;
  int64_t lines_ = 0;
};

// ---- Authentication and headers ------------------------------------------------------------

TEST_F(EndpointWireTest, BasicAuthWithPasswordFile) {
  FakeLoki::Options options;
  options.required_authorization = BasicAuth("loki-user", "s3cr3t");
  StartLoki(options);
  WriteFile(dir_.Join("pw"), "s3cr3t\n");  // trimmed, as Prometheus trims it
  auto sink = Sink(Decode(Endpoint(loki_->push_url())
                              .Child(BlockBuilder("basic_auth")
                                         .Attr("username", Str("loki-user"))
                                         .Attr("password_file", Str(dir_.Join("pw")))
                                         .Build())
                              .Build()));
  EXPECT_EQ(Push(sink.get()), BatchOutcome::kDelivered);
  EXPECT_EQ(OnlyRequest().authorization, BasicAuth("loki-user", "s3cr3t"));
  EXPECT_EQ(loki_->total_entries(), 1u);

  // A wrong password is Loki's 401: dropped, not retried.
  WriteFile(dir_.Join("pw"), "wrong");
  EXPECT_EQ(Push(sink.get()), BatchOutcome::kDropped);
  EXPECT_EQ(loki_->requests_by_status()[401], 1u);
}

TEST_F(EndpointWireTest, InlineBasicAuthAndBearerToken) {
  StartLoki();
  auto basic = Sink(Decode(Endpoint(loki_->push_url())
                               .Child(BlockBuilder("basic_auth")
                                          .Attr("username", Str("u"))
                                          .Attr("password", Str("p"))
                                          .Build())
                               .Build()));
  auto bearer = Sink(Decode(Endpoint(loki_->push_url()).Attr("bearer_token", Str("tok")).Build()));
  auto custom = Sink(Decode(Endpoint(loki_->push_url())
                                .Child(BlockBuilder("authorization")
                                           .Attr("type", Str("Token"))
                                           .Attr("credentials", Str("abc"))
                                           .Build())
                                .Build()));
  auto none = Sink(Decode(Endpoint(loki_->push_url()).Build()));
  EXPECT_EQ(Push(basic.get()), BatchOutcome::kDelivered);
  EXPECT_EQ(Push(bearer.get()), BatchOutcome::kDelivered);
  EXPECT_EQ(Push(custom.get()), BatchOutcome::kDelivered);
  EXPECT_EQ(Push(none.get()), BatchOutcome::kDelivered);
  std::vector<FakeLokiRequest> r = loki_->Requests();
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].authorization, BasicAuth("u", "p"));
  EXPECT_EQ(r[1].authorization, "Bearer tok");
  EXPECT_EQ(r[2].authorization, "Token abc");
  EXPECT_EQ(r[3].authorization, "");
}

TEST_F(EndpointWireTest, BearerTokenFileRotatedBetweenBatches) {
  StartLoki();
  const std::string token = dir_.Join("token");
  WriteFile(token, "first-token");
  auto sink =
      Sink(Decode(Endpoint(loki_->push_url()).Attr("bearer_token_file", Str(token)).Build()));
  EXPECT_EQ(Push(sink.get()), BatchOutcome::kDelivered);
  // Replaced by rename (a new inode), as secret mounts and most tools do it.
  WriteFile(dir_.Join("token.new"), "second-token\n");
  ASSERT_EQ(rename(dir_.Join("token.new").c_str(), token.c_str()), 0);
  EXPECT_EQ(Push(sink.get()), BatchOutcome::kDelivered);
  // Rewritten in place with the same length, at once: still seen.
  WriteFile(token, "third--token");
  EXPECT_EQ(Push(sink.get()), BatchOutcome::kDelivered);
  std::vector<FakeLokiRequest> r = loki_->Requests();
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].authorization, "Bearer first-token");
  EXPECT_EQ(r[1].authorization, "Bearer second-token");
  EXPECT_EQ(r[2].authorization, "Bearer third--token");
}

TEST_F(EndpointWireTest, UnreadableCredentialsFileIsRetriedLikeATransportError) {
  StartLoki();
  const std::string file = dir_.Join("creds");
  int sleeps = 0;
  EndpointConfig e =
      Decode(Endpoint(loki_->push_url())
                 .Attr("max_backoff_retries", Int(3))
                 .Child(BlockBuilder("authorization").Attr("credentials_file", Str(file)).Build())
                 .Build());
  auto sink = Sink(e, [&] {
    if (++sleeps == 1) WriteFile(file, "late");  // appears while the sink backs off
  });
  EXPECT_EQ(Push(sink.get()), BatchOutcome::kDelivered);
  EXPECT_EQ(sleeps, 1);
  EXPECT_EQ(OnlyRequest().authorization, "Bearer late") << "no request without credentials";
  EXPECT_EQ(
      metrics_.CounterValue("loki_write_batch_retries_total",
                            {{"host", absl::StrCat("127.0.0.1:", loki_->port())}, {"tenant", ""}}),
      1u);
}

TEST_F(EndpointWireTest, CustomHeadersAndTenant) {
  StartLoki();
  auto with_tenant =
      Sink(Decode(Endpoint(loki_->push_url())
                      .Attr("tenant_id", Str("team-a"))
                      .Attr("headers", Obj({{"X-Custom", Str("1")},
                                            {"X-Scope-OrgID", Str("from-headers")},
                                            {"content-type", Str("text/plain")}}))
                      .Attr("http_headers", Obj({{"X-Multi", Arr({Str("a"), Str("b")})}}))
                      .Build()));
  auto headers_tenant =
      Sink(Decode(Endpoint(loki_->push_url())
                      .Attr("headers", Obj({{"X-Scope-OrgID", Str("from-headers")}}))
                      .Build()));
  EXPECT_EQ(Push(with_tenant.get()), BatchOutcome::kDelivered);
  EXPECT_EQ(Push(headers_tenant.get()), BatchOutcome::kDelivered);
  EXPECT_EQ(Push(with_tenant.get(), "from-label"), BatchOutcome::kDelivered);
  std::vector<FakeLokiRequest> r = loki_->Requests();
  ASSERT_EQ(r.size(), 3u);
  // tenant_id wins over a header of the same name; `headers` never replace the client's own.
  EXPECT_EQ(r[0].org_id, "team-a");
  EXPECT_EQ(r[0].content_type, "application/x-protobuf");
  EXPECT_THAT(r[0].headers, Contains(Pair("X-Custom", "1")));
  EXPECT_THAT(r[0].headers, Contains(Pair("X-Multi", "a")));
  EXPECT_THAT(r[0].headers, Contains(Pair("X-Multi", "b")));
  EXPECT_THAT(r[0].headers, Not(Contains(Pair("X-Scope-OrgID", "from-headers"))));
  // Without tenant_id the header is sent.
  EXPECT_EQ(r[1].org_id, "from-headers");
  // A batch's own tenant (__tenant_id__) wins over tenant_id.
  EXPECT_EQ(r[2].org_id, "from-label");
  EXPECT_TRUE(loki_->FindStream("{app=\"x\"}", "from-label").has_value());
}

TEST_F(EndpointWireTest, AuthorizationInHeadersReplacesConfiguredAuth) {
  StartLoki();
  auto sink = Sink(Decode(Endpoint(loki_->push_url())
                              .Attr("bearer_token", Str("configured"))
                              .Attr("headers", Obj({{"authorization", Str("Bearer from-headers")}}))
                              .Build()));
  EXPECT_EQ(Push(sink.get()), BatchOutcome::kDelivered);
  FakeLokiRequest r = OnlyRequest();
  EXPECT_EQ(r.authorization, "Bearer from-headers");
  int authorization_headers = 0;
  for (const auto& [k, v] : r.headers)
    authorization_headers += absl::EqualsIgnoreCase(k, "authorization");
  EXPECT_EQ(authorization_headers, 1);
}

// ---- Retries -------------------------------------------------------------------------------

TEST_F(EndpointWireTest, RetryOnHttp429False) {
  StartLoki();
  loki_->FailNext(1, 429, "Ingestion rate limit exceeded");
  auto sink = Sink(Decode(Endpoint(loki_->push_url())
                              .Attr("tenant_id", Str("t"))
                              .Attr("retry_on_http_429", Bool(false))
                              .Build()));
  auto batch = MakeBatch();
  EXPECT_EQ(sink->Deliver(*batch), BatchOutcome::kDropped);
  EXPECT_EQ(loki_->request_count(), 1u) << "not retried";
  const std::string host = absl::StrCat("127.0.0.1:", loki_->port());
  EXPECT_EQ(metrics_.CounterValue("loki_write_dropped_entries_total",
                                  {{"host", host}, {"reason", "rate_limited"}, {"tenant", "t"}}),
            1u);
  // Alloy counts the request's (compressed) bytes for batches dropped after sending.
  EXPECT_EQ(metrics_.CounterValue("loki_write_dropped_bytes_total",
                                  {{"host", host}, {"reason", "rate_limited"}, {"tenant", "t"}}),
            OnlyRequest().body_bytes);
}

TEST_F(EndpointWireTest, RetryOnHttp429TrueRetriesForeverByDefault) {
  StartLoki();
  loki_->FailNext(12, 429, "slow down");
  EndpointConfig e = Decode(Endpoint(loki_->push_url()).Build());
  ASSERT_FALSE(e.max_backoff_retries_set);
  int sleeps = 0;
  // Not Sink(): no retry limit here, which is sluice's default; 12 > Alloy's 10 tries.
  LokiSink sink(LokiSinkConfigFromEndpoint(e), NewHttpClient(HttpClientOptionsFromEndpoint(e)),
                std::make_unique<HookSleeper>([&] { ++sleeps; }), &metrics_, 7);
  EXPECT_EQ(Push(&sink), BatchOutcome::kDelivered);
  EXPECT_EQ(sleeps, 12);
  EXPECT_EQ(loki_->request_count(), 13u);
}

// ---- TLS -----------------------------------------------------------------------------------

TEST_F(EndpointWireTest, TlsWithCaFile) {
  TestPki pki = MakeTestPki();
  StartLoki(TlsLoki(pki));
  WriteFile(dir_.Join("ca.pem"), pki.ca_cert_pem);
  auto sink = Sink(Decode(
      Endpoint(loki_->push_url())
          .Child(BlockBuilder("tls_config").Attr("ca_file", Str(dir_.Join("ca.pem"))).Build())
          .Build()));
  EXPECT_EQ(Push(sink.get()), BatchOutcome::kDelivered);
  FakeLokiRequest r = OnlyRequest();
  EXPECT_TRUE(r.tls);
  EXPECT_EQ(r.client_cert_subject, "");
  EXPECT_EQ(loki_->total_entries(), 1u);
  // By host name too (the certificate names localhost).
  auto by_name = Sink(
      Decode(Endpoint(loki_->push_url_for("localhost"))
                 .Child(BlockBuilder("tls_config").Attr("ca_pem", Str(pki.ca_cert_pem)).Build())
                 .Build()));
  EXPECT_EQ(Push(by_name.get()), BatchOutcome::kDelivered);
  EXPECT_EQ(loki_->Requests().back().sni, "localhost");
}

TEST_F(EndpointWireTest, TlsRefusesAServerItCannotVerify) {
  TestPki pki = MakeTestPki();
  TestPki other = MakeTestPki({.ca_cn = "another CA"});
  StartLoki(TlsLoki(pki));
  // Verified against another CA, and against the system CAs: both refused.
  auto wrong_ca = Sink(
      Decode(Endpoint(loki_->push_url())
                 .Child(BlockBuilder("tls_config").Attr("ca_pem", Str(other.ca_cert_pem)).Build())
                 .Build()));
  auto system_cas = Sink(Decode(Endpoint(loki_->push_url()).Build()));
  EXPECT_EQ(Push(wrong_ca.get()), BatchOutcome::kDropped);
  EXPECT_EQ(Push(system_cas.get()), BatchOutcome::kDropped);
  EXPECT_EQ(loki_->request_count(), 0u);
  EXPECT_TRUE(loki_->WaitForTlsFailures(2, absl::Seconds(10)));
  EXPECT_EQ(metrics_.CounterValue("loki_write_dropped_entries_total",
                                  {{"host", absl::StrCat("127.0.0.1:", loki_->port())},
                                   {"reason", "ingester_error"},
                                   {"tenant", ""}}),
            2u);
}

TEST_F(EndpointWireTest, InsecureSkipVerifyAcceptsAnUntrustedCertificate) {
  TestPki untrusted =
      MakeTestPki({.ca_cn = "nobody trusts me", .server_dns = {"elsewhere"}, .server_ips = {}});
  StartLoki(TlsLoki(untrusted));
  auto sink = Sink(
      Decode(Endpoint(loki_->push_url())
                 .Child(BlockBuilder("tls_config").Attr("insecure_skip_verify", Bool(true)).Build())
                 .Build()));
  EXPECT_EQ(Push(sink.get()), BatchOutcome::kDelivered);
  EXPECT_TRUE(OnlyRequest().tls);
}

TEST_F(EndpointWireTest, MutualTlsWithClientCertificateFiles) {
  TestPki pki = MakeTestPki();
  FakeLoki::Options options = TlsLoki(pki);
  options.tls->client_ca_pem = pki.ca_cert_pem;
  options.tls->require_client_cert = true;
  StartLoki(options);
  WriteFile(dir_.Join("ca.pem"), pki.ca_cert_pem);
  WriteFile(dir_.Join("client.pem"), pki.client_cert_pem);
  WriteFile(dir_.Join("client.key"), pki.client_key_pem);
  auto sink = Sink(Decode(Endpoint(loki_->push_url())
                              .Child(BlockBuilder("tls_config")
                                         .Attr("ca_file", Str(dir_.Join("ca.pem")))
                                         .Attr("cert_file", Str(dir_.Join("client.pem")))
                                         .Attr("key_file", Str(dir_.Join("client.key")))
                                         .Build())
                              .Build()));
  EXPECT_EQ(Push(sink.get()), BatchOutcome::kDelivered);
  EXPECT_EQ(OnlyRequest().client_cert_subject, "sluice-client");

  // The same as PEM text.
  auto pem = Sink(Decode(Endpoint(loki_->push_url())
                             .Child(BlockBuilder("tls_config")
                                        .Attr("ca_pem", Str(pki.ca_cert_pem))
                                        .Attr("cert_pem", Str(pki.client_cert_pem))
                                        .Attr("key_pem", Str(pki.client_key_pem))
                                        .Build())
                             .Build()));
  EXPECT_EQ(Push(pem.get()), BatchOutcome::kDelivered);
  EXPECT_EQ(loki_->Requests().back().client_cert_subject, "sluice-client");

  // Without a client certificate the server refuses the handshake.
  auto anonymous = Sink(
      Decode(Endpoint(loki_->push_url())
                 .Child(BlockBuilder("tls_config").Attr("ca_pem", Str(pki.ca_cert_pem)).Build())
                 .Build()));
  EXPECT_EQ(Push(anonymous.get()), BatchOutcome::kDropped);
  EXPECT_TRUE(loki_->WaitForTlsFailures(1, absl::Seconds(10)));
  EXPECT_EQ(loki_->request_count(), 2u);
}

TEST_F(EndpointWireTest, RotatedClientCertificateIsUsedOnTheNextRequest) {
  TestPki pki = MakeTestPki();
  TestPki second = MakeTestPki({.client_cn = "rotated-client"});
  FakeLoki::Options options = TlsLoki(pki);
  options.tls->client_ca_pem = pki.ca_cert_pem + second.ca_cert_pem;
  options.tls->require_client_cert = true;
  StartLoki(options);
  WriteFile(dir_.Join("client.pem"), pki.client_cert_pem);
  WriteFile(dir_.Join("client.key"), pki.client_key_pem);
  auto sink = Sink(Decode(Endpoint(loki_->push_url())
                              .Child(BlockBuilder("tls_config")
                                         .Attr("ca_pem", Str(pki.ca_cert_pem))
                                         .Attr("cert_file", Str(dir_.Join("client.pem")))
                                         .Attr("key_file", Str(dir_.Join("client.key")))
                                         .Build())
                              .Build()));
  EXPECT_EQ(Push(sink.get()), BatchOutcome::kDelivered);
  WriteFile(dir_.Join("client.pem.new"), second.client_cert_pem);
  WriteFile(dir_.Join("client.key.new"), second.client_key_pem);
  ASSERT_EQ(rename(dir_.Join("client.key.new").c_str(), dir_.Join("client.key").c_str()), 0);
  ASSERT_EQ(rename(dir_.Join("client.pem.new").c_str(), dir_.Join("client.pem").c_str()), 0);
  EXPECT_EQ(Push(sink.get()), BatchOutcome::kDelivered);
  std::vector<FakeLokiRequest> r = loki_->Requests();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].client_cert_subject, "sluice-client");
  EXPECT_EQ(r[1].client_cert_subject, "rotated-client") << "a new connection with the new files";
}

TEST_F(EndpointWireTest, ServerNameIsVerifiedAndSentInsteadOfTheUrlHost) {
  // A certificate for loki.internal only: not for 127.0.0.1, which the URL names.
  TestPki pki = MakeTestPki({.server_dns = {"loki.internal"}, .server_ips = {}});
  StartLoki(TlsLoki(pki));
  auto tls = [&](std::string server_name) {
    BlockBuilder b("tls_config");
    b.Attr("ca_pem", Str(pki.ca_cert_pem));
    if (!server_name.empty()) b.Attr("server_name", Str(server_name));
    return Sink(Decode(Endpoint(loki_->push_url()).Child(b.Build()).Build()));
  };
  auto matching = tls("loki.internal");
  EXPECT_EQ(Push(matching.get()), BatchOutcome::kDelivered);
  FakeLokiRequest r = OnlyRequest();
  EXPECT_EQ(r.sni, "loki.internal");
  EXPECT_EQ(r.host, absl::StrCat("127.0.0.1:", loki_->port())) << "Host stays the URL's, as in Go";

  auto without = tls("");
  auto mismatch = tls("other.example");
  EXPECT_EQ(Push(without.get()), BatchOutcome::kDropped) << "127.0.0.1 is not in the certificate";
  EXPECT_EQ(Push(mismatch.get()), BatchOutcome::kDropped) << "nor is other.example";
  EXPECT_EQ(loki_->request_count(), 1u);
}

TEST_F(EndpointWireTest, MinVersionTls13RefusesATls12Server) {
  TestPki pki = MakeTestPki();
  FakeLoki::Options options = TlsLoki(pki);
  options.tls->max_tls12 = true;
  StartLoki(options);
  auto tls12 = Sink(Decode(Endpoint(loki_->push_url())
                               .Child(BlockBuilder("tls_config")
                                          .Attr("ca_pem", Str(pki.ca_cert_pem))
                                          .Attr("min_version", Str("TLS12"))
                                          .Build())
                               .Build()));
  auto tls13 = Sink(Decode(Endpoint(loki_->push_url())
                               .Child(BlockBuilder("tls_config")
                                          .Attr("ca_pem", Str(pki.ca_cert_pem))
                                          .Attr("min_version", Str("TLS13"))
                                          .Build())
                               .Build()));
  EXPECT_EQ(Push(tls12.get()), BatchOutcome::kDelivered);
  EXPECT_EQ(Push(tls13.get()), BatchOutcome::kDropped);
  EXPECT_EQ(loki_->request_count(), 1u);
}

TEST_F(EndpointWireTest, PlainHttpToATlsServerFails) {
  TestPki pki = MakeTestPki();
  StartLoki(TlsLoki(pki));
  auto sink = Sink(Decode(
      Endpoint(absl::StrCat("http://127.0.0.1:", loki_->port(), "/loki/api/v1/push")).Build()));
  EXPECT_EQ(Push(sink.get()), BatchOutcome::kDropped) << "Go's 400 for HTTP on an HTTPS port";
}

// ---- Proxies -------------------------------------------------------------------------------

TEST_F(EndpointWireTest, ProxyUrlCarriesPlainHttpRequests) {
  StartLoki();
  // loki.invalid cannot resolve: only the proxy (FakeLoki itself) makes this work.
  const std::string url = absl::StrCat("http://loki.invalid:", loki_->port(), "/loki/api/v1/push");
  auto sink = Sink(Decode(Endpoint(url).Attr("proxy_url", Str(loki_->base_url())).Build()));
  EXPECT_EQ(Push(sink.get()), BatchOutcome::kDelivered);
  FakeLokiRequest r = OnlyRequest();
  EXPECT_EQ(r.target, url) << "absolute-form: the request went to a proxy";
  EXPECT_EQ(r.host, absl::StrCat("loki.invalid:", loki_->port()));
}

TEST_F(EndpointWireTest, DeadProxyFailsUnlessNoProxyLetsLoopbackGoDirect) {
  StartLoki();
  auto proxied = Sink(
      Decode(Endpoint(loki_->push_url()).Attr("proxy_url", Str("http://127.0.0.1:1")).Build()));
  EXPECT_EQ(Push(proxied.get()), BatchOutcome::kDropped) << "proxy_url alone proxies loopback too";
  auto bypass = Sink(Decode(Endpoint(loki_->push_url())
                                .Attr("proxy_url", Str("http://127.0.0.1:1"))
                                .Attr("no_proxy", Str("example.com"))
                                .Build()));
  EXPECT_EQ(Push(bypass.get()), BatchOutcome::kDelivered);
  EXPECT_EQ(OnlyRequest().target, "/loki/api/v1/push");
}

TEST_F(EndpointWireTest, ProxyFromEnvironment) {
  StartLoki();
  const std::string url = absl::StrCat("http://loki.invalid:", loki_->port(), "/loki/api/v1/push");
  setenv("HTTP_PROXY", loki_->base_url().c_str(), 1);
  unsetenv("NO_PROXY");
  unsetenv("no_proxy");
  unsetenv("REQUEST_METHOD");
  auto from_env = Sink(Decode(Endpoint(url).Attr("proxy_from_environment", Bool(true)).Build()));
  auto ignoring_env = Sink(Decode(Endpoint(url).Build()));
  unsetenv("HTTP_PROXY");
  EXPECT_EQ(Push(from_env.get()), BatchOutcome::kDelivered);
  EXPECT_EQ(OnlyRequest().target, url);
  EXPECT_EQ(Push(ignoring_env.get()), BatchOutcome::kDropped) << "the environment is not used";
}

TEST_F(EndpointWireTest, HttpsThroughAProxyWithConnectHeaders) {
  TestPki pki = MakeTestPki({.server_dns = {"loki.invalid"}});
  StartLoki(TlsLoki(pki));
  const std::string url = absl::StrCat("https://loki.invalid:", loki_->port(), "/loki/api/v1/push");
  auto sink = Sink(
      Decode(Endpoint(url)
                 .Attr("proxy_url", Str(absl::StrCat("http://127.0.0.1:", loki_->port())))
                 .Attr("proxy_connect_header", Obj({{"X-Proxy-Token", Arr({Str("p-secret")})}}))
                 .Attr("headers", Obj({{"X-To-Loki", Str("1")}}))
                 .Child(BlockBuilder("tls_config").Attr("ca_pem", Str(pki.ca_cert_pem)).Build())
                 .Build()));
  EXPECT_EQ(Push(sink.get()), BatchOutcome::kDelivered);
  std::vector<FakeLokiRequest> connects = loki_->ConnectRequests();
  ASSERT_EQ(connects.size(), 1u);
  EXPECT_EQ(connects[0].target, absl::StrCat("loki.invalid:", loki_->port()));
  EXPECT_THAT(connects[0].headers, Contains(Pair("X-Proxy-Token", "p-secret")));
  EXPECT_THAT(connects[0].headers, Not(Contains(Pair("X-To-Loki", "1"))));
  FakeLokiRequest r = OnlyRequest();
  EXPECT_TRUE(r.tls);
  EXPECT_EQ(r.sni, "loki.invalid");
  EXPECT_THAT(r.headers, Contains(Pair("X-To-Loki", "1")));
  EXPECT_THAT(r.headers, Not(Contains(Pair("X-Proxy-Token", "p-secret"))));
}

}  // namespace
}  // namespace sluice
