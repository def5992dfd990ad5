#include "agent/sink/endpoint_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/sink/loki_sink.h"
#include "tests/support/block_builder.h"
#include "tests/support/temp_dir.h"

namespace sluice {
namespace {

using testing::Arr;
using testing::BlockBuilder;
using testing::Bool;
using ::testing::ElementsAre;
using testing::Int;
using ::testing::IsEmpty;
using testing::Obj;
using ::testing::Pair;
using testing::Str;

constexpr char kUrl[] = "http://loki:3100/loki/api/v1/push";

std::vector<std::string> Messages(const config::Diags& diags) {
  std::vector<std::string> out;
  for (const auto& d : diags.list()) out.push_back(d.message);
  return out;
}

struct Decoded {
  EndpointConfig endpoint;
  config::Diags diags;
  bool ok = false;
};

Decoded Decode(const config::Block& block) {
  Decoded r;
  config::Decoder d(block, &r.diags);
  r.ok = DecodeEndpoint(d, &r.endpoint);
  return r;
}

// An endpoint block with the URL plus `extra` attributes and children.
BlockBuilder Endpoint() { return std::move(BlockBuilder("endpoint").Attr("url", Str(kUrl))); }

// The one diagnostic of decoding `block`, which must fail.
config::Diagnostic OnlyError(const config::Block& block) {
  Decoded r = Decode(block);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.diags.list().size(), 1u) << ::testing::PrintToString(Messages(r.diags));
  if (r.diags.list().empty()) return {};
  return r.diags.list()[0];
}

std::string OnlyMessage(const config::Block& block) { return OnlyError(block).message; }

TEST(EndpointConfigTest, DefaultsAreAlloys) {
  Decoded r = Decode(Endpoint().Build());
  ASSERT_TRUE(r.ok) << ::testing::PrintToString(Messages(r.diags));
  const EndpointConfig& e = r.endpoint;
  EXPECT_EQ(e.url, kUrl);
  EXPECT_EQ(e.name, "");
  EXPECT_EQ(e.tenant_id, "");
  EXPECT_THAT(e.headers, IsEmpty());
  EXPECT_THAT(e.http_headers, IsEmpty());
  EXPECT_FALSE(e.basic_auth.has_value());
  EXPECT_FALSE(e.authorization.has_value());
  EXPECT_FALSE(e.oauth2.has_value());
  EXPECT_EQ(e.tls, TlsConfig{});
  EXPECT_EQ(e.tls.min_version, TlsVersion::kDefault);
  EXPECT_EQ(e.proxy, ProxyConfig{});
  EXPECT_TRUE(e.follow_redirects);
  EXPECT_TRUE(e.enable_http2);
  EXPECT_EQ(e.batch_wait, absl::Seconds(1));
  EXPECT_EQ(e.batch_size, 1024u * 1024u);
  EXPECT_EQ(e.remote_timeout, absl::Seconds(10));
  EXPECT_EQ(e.min_backoff_period, absl::Milliseconds(500));
  EXPECT_EQ(e.max_backoff_period, absl::Minutes(5));
  EXPECT_EQ(e.max_backoff_retries, 10);
  EXPECT_FALSE(e.max_backoff_retries_set);
  EXPECT_TRUE(e.retry_on_http_429);
  EXPECT_EQ(e.queue_config.capacity, 10u * 1024 * 1024);
  EXPECT_EQ(e.queue_config.min_shards, 1);
  EXPECT_EQ(e.queue_config.drain_timeout, absl::Seconds(15));
  EXPECT_TRUE(e.queue_config.block_on_overflow);
  EXPECT_FALSE(e.queue_config_set);
}

TEST(EndpointConfigTest, EveryArgument) {
  config::Block block =
      Endpoint()
          .Attr("name", Str("primary"))
          .Attr("tenant_id", Str("team-a"))
          .Attr("headers", Obj({{"X-A", Str("1")}, {"X-B", Str("2")}}))
          .Attr("http_headers", Obj({{"X-Multi", Arr({Str("a"), Str("b")})}}))
          .Attr("batch_wait", Str("3s"))
          .Attr("batch_size", Str("2MiB"))
          .Attr("remote_timeout", Str("30s"))
          .Attr("min_backoff_period", Str("1s"))
          .Attr("max_backoff_period", Str("1m"))
          .Attr("max_backoff_retries", Int(4))
          .Attr("retry_on_http_429", Bool(false))
          .Attr("follow_redirects", Bool(false))
          .Attr("enable_http2", Bool(false))
          .Attr("proxy_url", Str("http://proxy:3128"))
          .Attr("no_proxy", Str("10.0.0.0/8,.internal"))
          .Attr("proxy_connect_header", Obj({{"Proxy-Token", Arr({Str("s3cr3t")})}}))
          .Child(BlockBuilder("basic_auth")
                     .Attr("username", Str("u"))
                     .Attr("password_file", Str("/run/pw"))
                     .Build())
          .Child(BlockBuilder("tls_config")
                     .Attr("ca_file", Str("/ca.pem"))
                     .Attr("cert_pem", Str("CERT"))
                     .Attr("key_file", Str("/key.pem"))
                     .Attr("server_name", Str("loki.internal"))
                     .Attr("insecure_skip_verify", Bool(true))
                     .Attr("min_version", Str("TLS13"))
                     .Build())
          .Child(BlockBuilder("queue_config")
                     .Attr("capacity", Str("20MiB"))
                     .Attr("min_shards", Int(4))
                     .Attr("drain_timeout", Str("1m"))
                     .Attr("block_on_overflow", Bool(false))
                     .Build())
          .Build();
  Decoded r = Decode(block);
  ASSERT_TRUE(r.ok) << ::testing::PrintToString(Messages(r.diags));
  const EndpointConfig& e = r.endpoint;
  EXPECT_EQ(e.name, "primary");
  EXPECT_EQ(e.tenant_id, "team-a");
  EXPECT_THAT(e.headers, ElementsAre(Pair("X-A", "1"), Pair("X-B", "2")));
  EXPECT_THAT(e.http_headers, ElementsAre(Pair("X-Multi", ElementsAre("a", "b"))));
  EXPECT_EQ(e.batch_wait, absl::Seconds(3));
  EXPECT_EQ(e.batch_size, 2u * 1024 * 1024);
  EXPECT_EQ(e.remote_timeout, absl::Seconds(30));
  EXPECT_EQ(e.min_backoff_period, absl::Seconds(1));
  EXPECT_EQ(e.max_backoff_period, absl::Minutes(1));
  EXPECT_EQ(e.max_backoff_retries, 4);
  EXPECT_TRUE(e.max_backoff_retries_set);
  EXPECT_FALSE(e.retry_on_http_429);
  EXPECT_FALSE(e.follow_redirects);
  EXPECT_FALSE(e.enable_http2);
  EXPECT_EQ(e.proxy.proxy_url, "http://proxy:3128");
  EXPECT_EQ(e.proxy.no_proxy, "10.0.0.0/8,.internal");
  EXPECT_THAT(e.proxy.proxy_connect_header,
              ElementsAre(Pair("Proxy-Token", ElementsAre("s3cr3t"))));
  ASSERT_TRUE(e.basic_auth.has_value());
  EXPECT_EQ(e.basic_auth->username, "u");
  EXPECT_EQ(e.basic_auth->password_file, "/run/pw");
  EXPECT_EQ(e.tls.ca_file, "/ca.pem");
  EXPECT_EQ(e.tls.cert_pem, "CERT");
  EXPECT_EQ(e.tls.key_file, "/key.pem");
  EXPECT_EQ(e.tls.server_name, "loki.internal");
  EXPECT_TRUE(e.tls.insecure_skip_verify);
  EXPECT_EQ(e.tls.min_version, TlsVersion::kTls13);
  EXPECT_EQ(e.queue_config.capacity, 20u * 1024 * 1024);
  EXPECT_EQ(e.queue_config.min_shards, 4);
  EXPECT_EQ(e.queue_config.drain_timeout, absl::Minutes(1));
  EXPECT_FALSE(e.queue_config.block_on_overflow);
  EXPECT_TRUE(e.queue_config_set);
}

TEST(EndpointConfigTest, TlsVersions) {
  const std::pair<const char*, TlsVersion> cases[] = {{"TLS10", TlsVersion::kTls10},
                                                      {"TLS11", TlsVersion::kTls11},
                                                      {"TLS12", TlsVersion::kTls12},
                                                      {"TLS13", TlsVersion::kTls13}};
  for (const auto& [text, version] : cases) {
    Decoded r = Decode(Endpoint()
                           .Child(BlockBuilder("tls_config").Attr("min_version", Str(text)).Build())
                           .Build());
    ASSERT_TRUE(r.ok) << text;
    EXPECT_EQ(r.endpoint.tls.min_version, version) << text;
  }
  config::Block tls = BlockBuilder("tls_config").Attr("min_version", Str("TLS14")).Build();
  config::Diagnostic d = OnlyError(Endpoint().Child(tls).Build());
  EXPECT_EQ(d.message, "unknown TLS version: TLS14");
  // At the value, as a type error would be.
  EXPECT_EQ(d.span.begin.line, tls.body.attrs[0].value_span.begin.line);
  EXPECT_EQ(d.span.begin.col, tls.body.attrs[0].value_span.begin.col);
}

TEST(EndpointConfigTest, BearerTokenBecomesAuthorization) {
  Decoded r = Decode(Endpoint().Attr("bearer_token", Str("tok")).Build());
  ASSERT_TRUE(r.ok);
  ASSERT_TRUE(r.endpoint.authorization.has_value());
  EXPECT_EQ(*r.endpoint.authorization, (AuthorizationConfig{"Bearer", "tok", ""}));

  r = Decode(Endpoint().Attr("bearer_token_file", Str("/run/token")).Build());
  ASSERT_TRUE(r.ok);
  ASSERT_TRUE(r.endpoint.authorization.has_value());
  EXPECT_EQ(*r.endpoint.authorization, (AuthorizationConfig{"Bearer", "", "/run/token"}));

  // An empty token does not count as an auth method (Alloy counts non-empty ones).
  r = Decode(Endpoint().Attr("bearer_token", Str("")).Build());
  ASSERT_TRUE(r.ok);
  EXPECT_FALSE(r.endpoint.authorization.has_value());
}

TEST(EndpointConfigTest, AuthorizationTypeDefaultsToBearerAndIsTrimmed) {
  Decoded r =
      Decode(Endpoint()
                 .Child(BlockBuilder("authorization").Attr("credentials_file", Str("/c")).Build())
                 .Build());
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(*r.endpoint.authorization, (AuthorizationConfig{"Bearer", "", "/c"}));
  r = Decode(Endpoint()
                 .Child(BlockBuilder("authorization")
                            .Attr("type", Str("  Token "))
                            .Attr("credentials", Str("abc"))
                            .Build())
                 .Build());
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(*r.endpoint.authorization, (AuthorizationConfig{"Token", "abc", ""}));
  r = Decode(
      Endpoint().Child(BlockBuilder("authorization").Attr("type", Str("   ")).Build()).Build());
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.endpoint.authorization->type, "Bearer");
}

TEST(EndpointConfigTest, UrlIsRequiredAndParsedAsGoDoes) {
  config::Block no_url = BlockBuilder("endpoint").Build();
  config::Diagnostic d = OnlyError(no_url);
  EXPECT_EQ(d.message, "missing required attribute \"url\"");
  EXPECT_EQ(d.span.begin.line, no_url.span.begin.line);

  config::Block bad = BlockBuilder("endpoint").Attr("url", Str("http://lo ki/x")).Build();
  d = OnlyError(bad);
  EXPECT_EQ(d.message,
            "failed to parse remote url \"http://lo ki/x\": parse \"http://lo ki/x\": invalid "
            "character \" \" in host name");
  EXPECT_EQ(d.span.begin.line, bad.span.begin.line) << "validation errors are at the block";

  EXPECT_EQ(OnlyMessage(BlockBuilder("endpoint").Attr("url", Str("://loki")).Build()),
            "failed to parse remote url \"://loki\": parse \"://loki\": missing protocol scheme");
  EXPECT_EQ(
      OnlyMessage(BlockBuilder("endpoint").Attr("url", Str("http://loki:31x0/push")).Build()),
      "failed to parse remote url \"http://loki:31x0/push\": parse \"http://loki:31x0/push\": "
      "invalid port \":31x0\" after host");
}

TEST(EndpointConfigTest, UrlWithoutHttpSchemeLoadsAsInAlloy) {
  // Alloy loads these (Go parses them) and fails each push with `unsupported protocol scheme`;
  // 17 examples of its reference docs write `url = "loki:3100/api/v1/push"`.
  for (const char* url : {"ftp://loki/push", "loki:3100/api/v1/push", "HTTPS://loki/x"}) {
    EXPECT_TRUE(Decode(BlockBuilder("endpoint").Attr("url", Str(url)).Build()).ok) << url;
  }
}

TEST(GoUrlParseErrorTest, CasesGoRefuses) {
  EXPECT_EQ(GoUrlParseError("http://loki:3100/loki/api/v1/push"), std::nullopt);
  EXPECT_EQ(GoUrlParseError("http://u:p@[::1]:3100/x?y=1#z"), std::nullopt);
  EXPECT_EQ(GoUrlParseError(""), std::nullopt);  // Go parses it (and fails at request time)
  EXPECT_EQ(GoUrlParseError("http://loki/\x01"),
            "parse \"http://loki/\\x01\": net/url: invalid control character in URL");
  EXPECT_EQ(GoUrlParseError("http://[::1/x"), "parse \"http://[::1/x\": missing ']' in host");
  EXPECT_EQ(GoUrlParseError("http://[::1]:x/"),
            "parse \"http://[::1]:x/\": invalid port \":x\" after host");
  EXPECT_EQ(GoUrlParseError("http://loki/%zz"),
            "parse \"http://loki/%zz\": invalid URL escape \"%zz\"");
  EXPECT_EQ(GoUrlParseError("1http:x"),
            "parse \"1http:x\": first path segment in URL cannot contain colon");
  EXPECT_EQ(GoUrlParseError("http://a{b/"),
            "parse \"http://a{b/\": invalid character \"{\" in host name");
  EXPECT_EQ(GoUrlParseError("http://us er@loki/"),
            "parse \"http://us er@loki/\": net/url: invalid userinfo");
}

TEST(EndpointConfigTest, AtMostOneAuthMethod) {
  const std::string kMessage =
      "at most one of basic_auth, authorization, oauth2, bearer_token & bearer_token_file must be "
      "configured";
  config::Block block =
      Endpoint().Attr("bearer_token", Str("a")).Attr("bearer_token_file", Str("/b")).Build();
  config::Diagnostic d = OnlyError(block);
  EXPECT_EQ(d.message, kMessage);
  EXPECT_EQ(d.span.begin.line, block.span.begin.line);
  EXPECT_EQ(OnlyMessage(Endpoint()
                            .Attr("bearer_token", Str("a"))
                            .Child(BlockBuilder("basic_auth").Attr("username", Str("u")).Build())
                            .Build()),
            kMessage);
  EXPECT_EQ(OnlyMessage(Endpoint()
                            .Child(BlockBuilder("basic_auth").Build())
                            .Child(BlockBuilder("authorization").Build())
                            .Build()),
            kMessage);
}

TEST(EndpointConfigTest, BasicAuthAndAuthorizationValidation) {
  config::Block basic = BlockBuilder("basic_auth")
                            .Attr("password", Str("p"))
                            .Attr("password_file", Str("/p"))
                            .Build();
  config::Diagnostic d = OnlyError(Endpoint().Child(basic).Build());
  EXPECT_EQ(d.message, "at most one of basic_auth password & password_file must be configured");
  EXPECT_EQ(d.span.begin.line, basic.span.begin.line) << "at the basic_auth block";

  EXPECT_EQ(OnlyMessage(Endpoint()
                            .Child(BlockBuilder("authorization")
                                       .Attr("credentials", Str("c"))
                                       .Attr("credentials_file", Str("/c"))
                                       .Build())
                            .Build()),
            "at most one of authorization credentials & credentials_file must be configured");
  EXPECT_EQ(OnlyMessage(Endpoint()
                            .Child(BlockBuilder("authorization")
                                       .Attr("type", Str(" Basic"))
                                       .Attr("credentials", Str("c"))
                                       .Build())
                            .Build()),
            "authorization type cannot be set to \"basic\", use \"basic_auth\" block instead");
}

TEST(EndpointConfigTest, TlsValidation) {
  auto tls_error = [](std::vector<std::pair<std::string, std::string>> attrs) {
    BlockBuilder tls("tls_config");
    for (auto& [k, v] : attrs) tls.Attr(k, Str(v));
    return OnlyMessage(Endpoint().Child(tls.Build()).Build());
  };
  EXPECT_EQ(tls_error({{"ca_pem", "x"}, {"ca_file", "/x"}}),
            "at most one of ca_pem and ca_file must be configured");
  EXPECT_EQ(tls_error({{"cert_pem", "x"}, {"cert_file", "/x"}, {"key_pem", "k"}}),
            "at most one of cert_pem and cert_file must be configured");
  EXPECT_EQ(tls_error({{"cert_pem", "x"}, {"key_pem", "k"}, {"key_file", "/k"}}),
            "at most one of key_pem and key_file must be configured");
  EXPECT_EQ(tls_error({{"cert_file", "/x"}}),
            "exactly one of key_pem or key_file must be configured when a client certificate is "
            "configured");
  EXPECT_EQ(tls_error({{"key_pem", "k"}}),
            "exactly one of cert_pem or cert_file must be configured when a client key is "
            "configured");
  config::Block tls = BlockBuilder("tls_config").Attr("key_pem", Str("k")).Build();
  EXPECT_EQ(OnlyError(Endpoint().Child(tls).Build()).span.begin.line, tls.span.begin.line);
}

TEST(EndpointConfigTest, HttpHeadersMayNotSetReservedNames) {
  EXPECT_EQ(OnlyMessage(
                Endpoint().Attr("http_headers", Obj({{"authorization", Arr({Str("x")})}})).Build()),
            "setting header \"Authorization\" is not allowed");
  EXPECT_EQ(
      OnlyMessage(Endpoint().Attr("http_headers", Obj({{"user-agent", Arr({Str("x")})}})).Build()),
      "setting header \"User-Agent\" is not allowed");
  EXPECT_EQ(OnlyMessage(Endpoint().Attr("http_headers", Obj({{"X-A", Str("x")}})).Build()),
            "expected array, got string");
  // `headers` has no such rule (it only never overrides the client's own headers).
  EXPECT_TRUE(Decode(Endpoint().Attr("headers", Obj({{"Authorization", Str("x")}})).Build()).ok);
}

TEST(EndpointConfigTest, ProxyValidation) {
  EXPECT_EQ(
      OnlyMessage(Endpoint().Attr("proxy_connect_header", Obj({{"A", Arr({Str("b")})}})).Build()),
      "if proxy_connect_header is configured, proxy_url or proxy_from_environment must "
      "also be configured");
  EXPECT_EQ(OnlyMessage(Endpoint()
                            .Attr("proxy_from_environment", Bool(true))
                            .Attr("proxy_url", Str("http://p:1"))
                            .Build()),
            "if proxy_from_environment is configured, proxy_url must not be configured");
  EXPECT_EQ(
      OnlyMessage(
          Endpoint().Attr("proxy_from_environment", Bool(true)).Attr("no_proxy", Str("x")).Build()),
      "if proxy_from_environment is configured, no_proxy must not be configured");
  EXPECT_EQ(OnlyMessage(Endpoint().Attr("no_proxy", Str("x")).Build()),
            "if no_proxy is configured, proxy_url must also be configured");
  EXPECT_EQ(OnlyMessage(Endpoint().Attr("proxy_url", Str("http://p x:1")).Build()),
            "parse \"http://p x:1\": invalid character \" \" in host name");
  EXPECT_TRUE(Decode(Endpoint()
                         .Attr("proxy_from_environment", Bool(true))
                         .Attr("proxy_connect_header", Obj({{"A", Arr({Str("b")})}}))
                         .Build())
                  .ok);
}

TEST(EndpointConfigTest, OAuth2IsValidated) {
  config::Block oauth2 = BlockBuilder("oauth2")
                             .Attr("client_id", Str("id"))
                             .Attr("client_secret", Str("s"))
                             .Attr("token_url", Str("https://idp/token"))
                             .Attr("scopes", Arr({Str("logs")}))
                             .Attr("endpoint_params", Obj({{"audience", Str("loki")}}))
                             .Child(BlockBuilder("tls_config").Attr("ca_file", Str("/ca")).Build())
                             .Build();
  EXPECT_TRUE(Decode(Endpoint().Child(oauth2).Build()).ok);

  auto oauth2_error = [](std::vector<std::pair<std::string, std::string>> attrs) {
    BlockBuilder b("oauth2");
    for (auto& [k, v] : attrs) b.Attr(k, Str(v));
    return OnlyMessage(Endpoint().Child(b.Build()).Build());
  };
  EXPECT_EQ(oauth2_error({{"client_secret", "s"}, {"token_url", "u"}}),
            "oauth2 client_id must be configured");
  EXPECT_EQ(oauth2_error({{"client_id", "i"}, {"token_url", "u"}}),
            "either oauth2 client_secret or client_secret_file must be configured");
  EXPECT_EQ(oauth2_error({{"client_id", "i"}, {"client_secret", "s"}}),
            "oauth2 token_url must be configured");
  EXPECT_EQ(oauth2_error({{"client_id", "i"},
                          {"client_secret", "s"},
                          {"client_secret_file", "/s"},
                          {"token_url", "u"}}),
            "at most one of oauth2 client_secret & client_secret_file must be configured");
  EXPECT_EQ(
      oauth2_error(
          {{"client_id", "i"}, {"client_secret", "s"}, {"token_url", "u"}, {"no_proxy", "x"}}),
      "if no_proxy is configured, proxy_url must also be configured");
}

TEST(EndpointConfigTest, UnknownNamesAndWrongTypes) {
  config::Block block = Endpoint().Attr("urls", Str("x")).Build();
  config::Diagnostic d = OnlyError(block);
  EXPECT_EQ(d.message, "unrecognized attribute name \"urls\"");
  EXPECT_EQ(OnlyMessage(Endpoint().Child(BlockBuilder("tls").Build()).Build()),
            "unrecognized block name \"tls\"");
  EXPECT_EQ(OnlyMessage(
                Endpoint().Child(BlockBuilder("tls_config").Attr("ca", Str("x")).Build()).Build()),
            "unrecognized attribute name \"ca\"");
  EXPECT_EQ(OnlyMessage(Endpoint().Attr("retry_on_http_429", Str("yes")).Build()),
            "expected bool, got string");
  EXPECT_EQ(OnlyMessage(Endpoint().Attr("batch_wait", Str("soon")).Build()),
            "time: invalid duration \"soon\"");
  EXPECT_EQ(OnlyMessage(Endpoint()
                            .Child(BlockBuilder("tls_config").Build())
                            .Child(BlockBuilder("tls_config").Build())
                            .Build()),
            "block \"tls_config\" may only be specified once");
}

TEST(EndpointConfigTest, MinBackoffAboveMaxIsAcceptedAsAlloyDoes) {
  Decoded r = Decode(Endpoint()
                         .Attr("min_backoff_period", Str("10s"))
                         .Attr("max_backoff_period", Str("1s"))
                         .Build());
  EXPECT_TRUE(r.ok);
}

TEST(EndpointConfigTest, EveryErrorOfABlockIsReported) {
  Decoded r = Decode(BlockBuilder("endpoint")
                         .Attr("bogus", Int(1))
                         .Child(BlockBuilder("tls_config").Attr("cert_file", Str("/c")).Build())
                         .Build());
  EXPECT_FALSE(r.ok);
  EXPECT_THAT(Messages(r.diags),
              ::testing::UnorderedElementsAre(
                  "missing required attribute \"url\"", "unrecognized attribute name \"bogus\"",
                  "exactly one of key_pem or key_file must be configured when a client "
                  "certificate is configured"));
}

TEST(CheckEndpointFilesTest, AlloysBuildTimeChecks) {
  testing::TempDir dir;
  testing::WriteFile(dir.Join("ca.pem"),
                     "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  testing::WriteFile(dir.Join("junk"), "not a certificate");
  testing::WriteFile(dir.Join("key.pem"),
                     "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n");
  EndpointConfig e;
  e.url = kUrl;
  EXPECT_TRUE(CheckEndpointFiles(e).ok());
  e.tls.ca_file = dir.Join("ca.pem");
  e.tls.cert_file = dir.Join("ca.pem");
  e.tls.key_file = dir.Join("key.pem");
  EXPECT_TRUE(CheckEndpointFiles(e).ok());

  e.tls.ca_file = dir.Join("missing.pem");
  EXPECT_EQ(CheckEndpointFiles(e).message(),
            absl::StrCat("failed to create cliens: error starting endpoint: unable to read CA "
                         "cert: unable to read file ",
                         dir.Join("missing.pem"), ": open ", dir.Join("missing.pem"),
                         ": no such file or directory"));
  e.tls.ca_file = dir.Join("junk");
  EXPECT_EQ(CheckEndpointFiles(e).message(),
            absl::StrCat("failed to create cliens: error starting endpoint: unable to use "
                         "specified CA cert file ",
                         dir.Join("junk")));
  e.tls.ca_file = "";
  e.tls.ca_pem = "junk";
  EXPECT_EQ(CheckEndpointFiles(e).message(),
            "failed to create cliens: error starting endpoint: unable to use specified CA cert "
            "inline");
  e.tls.ca_pem = "";
  e.tls.key_file = dir.Join("junk");
  EXPECT_EQ(CheckEndpointFiles(e).message(),
            absl::StrCat("failed to create cliens: error starting endpoint: unable to use "
                         "specified client key file ",
                         dir.Join("junk")));
  e.tls.key_file = dir.Join("key.pem");
  e.tls.cert_file = dir.Join("gone.pem");
  EXPECT_THAT(CheckEndpointFiles(e).message(),
              ::testing::HasSubstr("unable to read specified client cert: unable to read file"));
}

// ---- loki.write ----------------------------------------------------------------------------

struct DecodedWrite {
  LokiWriteConfig write;
  config::Diags diags;
  bool ok = false;
};

DecodedWrite DecodeWrite(const config::Block& block) {
  DecodedWrite r;
  config::Decoder d(block, &r.diags);
  r.ok = DecodeLokiWrite(d, &r.write);
  return r;
}

TEST(LokiWriteConfigTest, DefaultsAndArguments) {
  DecodedWrite r =
      DecodeWrite(BlockBuilder("loki.write", "default").Child(Endpoint().Build()).Build());
  ASSERT_TRUE(r.ok) << ::testing::PrintToString(Messages(r.diags));
  ASSERT_EQ(r.write.endpoints.size(), 1u);
  EXPECT_EQ(r.write.endpoints[0].url, kUrl);
  EXPECT_THAT(r.write.external_labels, IsEmpty());
  EXPECT_EQ(r.write.max_streams, 0);
  EXPECT_EQ(r.write.wal, WalConfig{});
  EXPECT_FALSE(r.write.wal.enabled);
  EXPECT_EQ(r.write.wal.max_segment_age, absl::Hours(1));
  EXPECT_EQ(r.write.wal.min_read_frequency, absl::Milliseconds(250));
  EXPECT_EQ(r.write.wal.max_read_frequency, absl::Seconds(1));
  EXPECT_EQ(r.write.wal.drain_timeout, absl::Seconds(15));

  r = DecodeWrite(BlockBuilder("loki.write", "default")
                      .Attr("external_labels", Obj({{"cluster", Str("a")}}))
                      .Attr("max_streams", Int(500))
                      .Child(Endpoint().Attr("name", Str("one")).Build())
                      .Child(Endpoint().Attr("name", Str("two")).Build())
                      .Child(BlockBuilder("wal")
                                 .Attr("enabled", Bool(false))
                                 .Attr("max_segment_age", Str("2h"))
                                 .Attr("min_read_frequency", Str("100ms"))
                                 .Attr("max_read_frequency", Str("2s"))
                                 .Attr("drain_timeout", Str("5s"))
                                 .Build())
                      .Build());
  ASSERT_TRUE(r.ok) << ::testing::PrintToString(Messages(r.diags));
  EXPECT_THAT(r.write.external_labels, ElementsAre(Pair("cluster", "a")));
  EXPECT_EQ(r.write.max_streams, 500);
  ASSERT_EQ(r.write.endpoints.size(), 2u);
  EXPECT_EQ(r.write.endpoints[1].name, "two");
  EXPECT_EQ(r.write.wal.max_segment_age, absl::Hours(2));
  EXPECT_EQ(r.write.wal.min_read_frequency, absl::Milliseconds(100));
  EXPECT_EQ(r.write.wal.max_read_frequency, absl::Seconds(2));
  EXPECT_EQ(r.write.wal.drain_timeout, absl::Seconds(5));
}

TEST(LokiWriteConfigTest, NeedsAnEndpoint) {
  config::Block block = BlockBuilder("loki.write", "default").Build();
  DecodedWrite r = DecodeWrite(block);
  EXPECT_FALSE(r.ok);
  ASSERT_EQ(r.diags.list().size(), 1u);
  EXPECT_EQ(r.diags.list()[0].message,
            "failed to create cliens: at least one endpoint config must be provided");
  EXPECT_EQ(r.diags.list()[0].span.begin.line, block.span.begin.line);
}

TEST(LokiWriteConfigTest, DuplicateEndpoints) {
  config::Block second = Endpoint().Attr("name", Str("x")).Attr("tenant_id", Str("b")).Build();
  DecodedWrite r = DecodeWrite(BlockBuilder("loki.write", "default")
                                   .Child(Endpoint().Attr("name", Str("x")).Build())
                                   .Child(second)
                                   .Build());
  ASSERT_EQ(r.diags.list().size(), 1u);
  EXPECT_EQ(r.diags.list()[0].message,
            "failed to create cliens: duplicate endpoint configs are not allowed, found duplicate "
            "for name: x");
  EXPECT_EQ(r.diags.list()[0].span.begin.line, second.span.begin.line);

  // Unnamed: identical settings collide (Alloy names them by a hash of the settings).
  r = DecodeWrite(BlockBuilder("loki.write", "default")
                      .Child(Endpoint().Build())
                      .Child(Endpoint().Build())
                      .Build());
  EXPECT_THAT(Messages(r.diags),
              ElementsAre("failed to create cliens: duplicate endpoint configs are not allowed, "
                          "found duplicate for name: "));
  r = DecodeWrite(BlockBuilder("loki.write", "default")
                      .Child(Endpoint().Build())
                      .Child(Endpoint().Attr("tenant_id", Str("b")).Build())
                      .Build());
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.write.endpoints.size(), 2u);
}

TEST(LokiWriteConfigTest, WalEnabledIsRefusedAndValidated) {
  config::Block wal = BlockBuilder("wal").Attr("enabled", Bool(true)).Build();
  DecodedWrite r = DecodeWrite(
      BlockBuilder("loki.write", "default").Child(Endpoint().Build()).Child(wal).Build());
  ASSERT_EQ(r.diags.list().size(), 1u);
  EXPECT_THAT(r.diags.list()[0].message,
              ::testing::StartsWith("wal: enabled = true is not supported by sluice"));
  EXPECT_EQ(r.diags.list()[0].span.begin.line, wal.body.attrs[0].value_span.begin.line);

  r = DecodeWrite(BlockBuilder("loki.write", "default")
                      .Child(Endpoint().Build())
                      .Child(BlockBuilder("wal")
                                 .Attr("min_read_frequency", Str("1s"))
                                 .Attr("max_read_frequency", Str("1s"))
                                 .Build())
                      .Build());
  EXPECT_THAT(Messages(r.diags),
              ElementsAre("WAL min read frequency should be lower than max read frequency"));
}

TEST(LokiWriteConfigTest, EndpointErrorsAreReported) {
  DecodedWrite r = DecodeWrite(BlockBuilder("loki.write", "default")
                                   .Attr("max_streams", Str("many"))
                                   .Child(BlockBuilder("endpoint").Build())
                                   .Build());
  EXPECT_FALSE(r.ok);
  EXPECT_THAT(Messages(r.diags),
              ::testing::UnorderedElementsAre("expected number, got string",
                                              "missing required attribute \"url\""));
}

// ---- What the sink and the HTTP client get ------------------------------------------------

TEST(LokiSinkConfigFromEndpointTest, MapsArguments) {
  EndpointConfig e;
  e.url = kUrl;
  e.tenant_id = "t";
  e.headers = {{"X-A", "1"}};
  e.http_headers = {{"X-M", {"a", "b"}}};
  e.basic_auth = BasicAuthConfig{"u", "", "/pw"};
  e.remote_timeout = absl::Seconds(3);
  e.min_backoff_period = absl::Seconds(1);
  e.max_backoff_period = absl::Seconds(9);
  e.retry_on_http_429 = false;
  LokiSinkConfig c = LokiSinkConfigFromEndpoint(e);
  EXPECT_EQ(c.url, kUrl);
  EXPECT_EQ(c.tenant, "t");
  EXPECT_THAT(c.headers, ElementsAre(Pair("X-A", "1")));
  EXPECT_THAT(c.http_headers, ElementsAre(Pair("X-M", "a"), Pair("X-M", "b")));
  EXPECT_EQ(c.basic_auth, e.basic_auth);
  EXPECT_FALSE(c.authorization.has_value());
  EXPECT_EQ(c.remote_timeout, absl::Seconds(3));
  EXPECT_EQ(c.retry.min_backoff, absl::Seconds(1));
  EXPECT_EQ(c.retry.max_backoff, absl::Seconds(9));
  EXPECT_FALSE(c.retry.retry_on_http_429);
}

TEST(LokiSinkConfigFromEndpointTest, MaxBackoffRetries) {
  EndpointConfig e;
  e.url = kUrl;
  EXPECT_EQ(LokiSinkConfigFromEndpoint(e).retry.max_retries, 0) << "unset: retry forever";
  e.max_backoff_retries_set = true;
  e.max_backoff_retries = 10;
  EXPECT_EQ(LokiSinkConfigFromEndpoint(e).retry.max_retries, 10);
  e.max_backoff_retries = 0;
  EXPECT_EQ(LokiSinkConfigFromEndpoint(e).retry.max_retries, 0);
  e.max_backoff_retries = -3;
  EXPECT_EQ(LokiSinkConfigFromEndpoint(e).retry.max_retries, 1) << "dskit: one try";
}

TEST(HttpClientOptionsFromEndpointTest, MapsArguments) {
  EndpointConfig e;
  e.url = kUrl;
  HttpClientOptions o = HttpClientOptionsFromEndpoint(e);
  EXPECT_EQ(o.min_tls_version, TlsMinVersion::kTls12) << "Go's client default";
  EXPECT_TRUE(o.follow_redirects);
  EXPECT_TRUE(o.enable_http2);
  EXPECT_FALSE(o.insecure_skip_verify);
  EXPECT_EQ(o.proxy_url, "");
  e.tls = TlsConfig{"CA", "/ca", "CERT", "/cert", "KEY", "/key", "sni", true, TlsVersion::kTls10};
  e.proxy.proxy_url = "http://p:1";
  e.proxy.no_proxy = "x";
  e.proxy.proxy_connect_header = {{"H", {"1", "2"}}};
  e.follow_redirects = false;
  e.enable_http2 = false;
  o = HttpClientOptionsFromEndpoint(e);
  EXPECT_EQ(o.ca_pem, "CA");
  EXPECT_EQ(o.ca_file, "/ca");
  EXPECT_EQ(o.cert_pem, "CERT");
  EXPECT_EQ(o.cert_file, "/cert");
  EXPECT_EQ(o.key_pem, "KEY");
  EXPECT_EQ(o.key_file, "/key");
  EXPECT_EQ(o.server_name, "sni");
  EXPECT_TRUE(o.insecure_skip_verify);
  EXPECT_EQ(o.min_tls_version, TlsMinVersion::kTls10);
  EXPECT_EQ(o.proxy_url, "http://p:1");
  EXPECT_EQ(o.no_proxy, "x");
  EXPECT_THAT(o.proxy_connect_headers, ElementsAre(Pair("H", "1"), Pair("H", "2")));
  EXPECT_FALSE(o.follow_redirects);
  EXPECT_FALSE(o.enable_http2);
}

}  // namespace
}  // namespace sluice
