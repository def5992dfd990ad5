#include "agent/sink/http_client.h"

#include "agent/sink/asio_http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sluice {
namespace {

using ::testing::HasSubstr;

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  int connection = -1;  // which accepted connection carried it, counting from 0

  std::optional<std::string> Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    if (it == headers.end()) return std::nullopt;
    return it->second;
  }
};

// A tiny blocking HTTP/1.1 server on 127.0.0.1 with a kernel-chosen port, for this test only.
// One thread polls the listening socket and every accepted connection; for each complete request
// (Content-Length bodies only: all curl sends here) it asks the handler for the raw response
// bytes: nullopt never answers, "" closes the connection without answering, and answers that
// contain "Connection: close" (or "X-Test-Close: 1") close it after answering.
class TestServer {
 public:
  using Handler = std::function<std::optional<std::string>(const ReceivedRequest&)>;

  explicit TestServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(listen_fd_, 16) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
        pipe2(wake_, O_CLOEXEC) != 0) {
      perror("test server");
      std::abort();
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }

  ~TestServer() {
    char c = 'x';
    (void)!write(wake_[1], &c, 1);
    thread_.join();
    close(listen_fd_);
    close(wake_[0]);
    close(wake_[1]);
  }

  std::string url(std::string_view path = "/loki/api/v1/push") const {
    return absl::StrCat("http://127.0.0.1:", port_, Av(path));
  }

  std::vector<ReceivedRequest> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  int connections() {
    std::lock_guard<std::mutex> lock(mu_);
    return accepted_;
  }

 private:
  struct Conn {
    int fd;
    int id;
    std::string buffer;
  };

  void Run() {
    std::vector<Conn> conns;
    while (true) {
      std::vector<pollfd> fds = {{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
      for (const Conn& c : conns) fds.push_back({c.fd, POLLIN, 0});
      if (poll(fds.data(), fds.size(), -1) < 0) continue;
      if (fds[0].revents != 0) break;
      if (fds[1].revents & POLLIN) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) {
          std::lock_guard<std::mutex> lock(mu_);
          conns.push_back(Conn{fd, accepted_++, ""});
        }
      }
      for (size_t i = 2; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        Conn& c = conns[i - 2];
        char buf[65536];
        ssize_t n = read(c.fd, buf, sizeof(buf));
        bool keep = n > 0;
        if (keep) {
          c.buffer.append(buf, static_cast<size_t>(n));
          keep = Serve(&c);
        }
        if (!keep) {
          close(c.fd);
          c.fd = -1;
        }
      }
      std::erase_if(conns, [](const Conn& c) { return c.fd < 0; });
    }
    for (Conn& c : conns) close(c.fd);
  }

  // Answers every complete request in the buffer; false to close the connection.
  bool Serve(Conn* c) {
    while (true) {
      size_t end = c->buffer.find("\r\n\r\n");
      if (end == std::string::npos) return true;
      ReceivedRequest req;
      req.connection = c->id;
      std::vector<std::string> lines;
      for (size_t pos = 0; pos <= end;) {
        size_t eol = c->buffer.find("\r\n", pos);
        lines.push_back(c->buffer.substr(pos, eol - pos));
        pos = eol + 2;
      }
      size_t sp1 = lines[0].find(' ');
      size_t sp2 = lines[0].rfind(' ');
      if (sp1 == std::string::npos || sp1 == sp2) return false;
      req.method = lines[0].substr(0, sp1);
      req.target = lines[0].substr(sp1 + 1, sp2 - sp1 - 1);
      for (size_t i = 1; i < lines.size(); ++i) {
        size_t colon = lines[i].find(':');
        if (colon == std::string::npos) return false;
        std::string name = lines[i].substr(0, colon);
        for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        std::string value = lines[i].substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        while (!value.empty() && value.back() == ' ') value.pop_back();
        req.headers[name] = value;
      }
      size_t body_len = 0;
      if (auto cl = req.Header("content-length")) body_len = std::stoul(*cl);
      if (c->buffer.size() < end + 4 + body_len) return true;  // body still arriving
      req.body = c->buffer.substr(end + 4, body_len);
      c->buffer.erase(0, end + 4 + body_len);
      std::optional<std::string> response = handler_(req);
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(req);
      }
      if (!response.has_value()) continue;  // never answer this one
      if (response->empty()) return false;
      std::string_view out = *response;
      while (!out.empty()) {
        ssize_t n = write(c->fd, out.data(), out.size());
        if (n <= 0) return false;
        out.remove_prefix(static_cast<size_t>(n));
      }
      // "X-Test-Close: 1" closes without telling the client, as a server does whose idle timeout
      // ends a kept-alive connection just after its answer.
      if (absl::StrContains(*response, "Connection: close") ||
          absl::StrContains(*response, "X-Test-Close: 1")) {
        return false;
      }
    }
  }

  Handler handler_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<ReceivedRequest> requests_;
  int accepted_ = 0;
};

std::string Response(int status, std::string_view reason, std::string_view body = "",
                     std::string_view extra_headers = "") {
  return absl::StrCat("HTTP/1.1 ", status, " ", Av(reason), "\r\nContent-Length: ", body.size(),
                      "\r\n", Av(extra_headers), "\r\n", Av(body));
}

HttpRequest Req(const std::string& url, std::string_view body = "payload") {
  HttpRequest r;
  r.url = url;
  r.body = body;
  r.timeout = absl::Seconds(10);
  return r;
}

// Every test runs against both clients: the one NewHttpClient picks for direct connections
// (AsioHttpClient) and libcurl's, which serves proxies and unix sockets.
enum class Kind { kAsio, kCurl };

class HttpClientTest : public ::testing::TestWithParam<Kind> {
 protected:
  std::unique_ptr<HttpClient> Make(HttpClientOptions options = {}) {
    if (GetParam() == Kind::kAsio) return std::make_unique<AsioHttpClient>(std::move(options));
    return std::make_unique<CurlHttpClient>(std::move(options));
  }
};

INSTANTIATE_TEST_SUITE_P(Clients, HttpClientTest, ::testing::Values(Kind::kAsio, Kind::kCurl),
                         [](const ::testing::TestParamInfo<Kind>& info) {
                           return info.param == Kind::kAsio ? "Asio" : "Curl";
                         });

TEST_P(HttpClientTest, NoContent) {
  TestServer server([](const ReceivedRequest&) { return "HTTP/1.1 204 No Content\r\n\r\n"; });
  std::unique_ptr<HttpClient> made = Make();
  HttpClient& client = *made;
  auto resp = client.Post(Req(server.url()));
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 204);
  EXPECT_EQ(resp->body, "");
  EXPECT_EQ(resp->retry_after, std::nullopt);
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].method, "POST");
  EXPECT_EQ(server.requests()[0].target, "/loki/api/v1/push");
}

TEST_P(HttpClientTest, BadRequestWithBody) {
  const std::string loki_error =
      "entry for stream '{app=\"x\"}' has timestamp too old: 2020-01-01T00:00:00Z";
  TestServer server([&](const ReceivedRequest&) {
    return Response(400, "Bad Request", loki_error, "Content-Type: text/plain\r\n");
  });
  std::unique_ptr<HttpClient> made = Make();
  HttpClient& client = *made;
  auto resp = client.Post(Req(server.url()));
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 400);
  EXPECT_EQ(resp->body, loki_error);
}

TEST_P(HttpClientTest, TooManyRequestsWithRetryAfter) {
  int n = 0;
  TestServer server([&](const ReceivedRequest&) -> std::optional<std::string> {
    switch (n++) {
      case 0:
        return Response(429, "Too Many Requests", "slow down", "Retry-After: 7\r\n");
      case 1:
        return Response(503, "Service Unavailable", "",
                        "retry-after:   Sun, 06 Nov 1994 08:49:37 GMT  \r\n");
      default:
        return Response(204, "No Content");
    }
  });
  std::unique_ptr<HttpClient> made = Make();
  HttpClient& client = *made;
  auto resp = client.Post(Req(server.url()));
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 429);
  EXPECT_EQ(resp->body, "slow down");
  EXPECT_EQ(resp->retry_after, "7");
  resp = client.Post(Req(server.url()));
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 503);
  EXPECT_EQ(resp->retry_after, "Sun, 06 Nov 1994 08:49:37 GMT");
  // A header of an earlier response does not leak into a later one.
  resp = client.Post(Req(server.url()));
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 204);
  EXPECT_EQ(resp->retry_after, std::nullopt);
}

TEST_P(HttpClientTest, LargeBodyIsTruncatedAndConnectionReused) {
  std::string big(10000, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  int n = 0;
  TestServer server([&](const ReceivedRequest&) {
    return n++ == 0 ? Response(500, "Internal Server Error", big) : Response(204, "No Content");
  });
  std::unique_ptr<HttpClient> made = Make();
  HttpClient& client = *made;
  auto resp = client.Post(Req(server.url()));
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 500);
  EXPECT_EQ(resp->body, big.substr(0, kMaxResponseBodyBytes));
  // The rest of the body was read off the wire, so the connection serves the next request.
  resp = client.Post(Req(server.url()));
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 204);
  EXPECT_EQ(server.connections(), 1);
}

TEST_P(HttpClientTest, ConnectionRefusedIsUnavailable) {
  // A bound socket that does not listen: connecting to it is refused, and holding it keeps the
  // port from being taken by anything else during the test.
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::unique_ptr<HttpClient> made = Make();
  HttpClient& client = *made;
  auto resp = client.Post(
      Req(absl::StrCat("http://127.0.0.1:", ntohs(addr.sin_port), "/loki/api/v1/push")));
  close(fd);
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kUnavailable) << resp.status();
  EXPECT_THAT(resp.status().message(), HasSubstr("127.0.0.1"));
}

TEST_P(HttpClientTest, SilentServerIsDeadlineExceededWithinTimeout) {
  TestServer server([](const ReceivedRequest&) { return std::nullopt; });
  std::unique_ptr<HttpClient> made = Make();
  HttpClient& client = *made;
  HttpRequest req = Req(server.url());
  req.timeout = absl::Milliseconds(200);
  auto start = std::chrono::steady_clock::now();
  auto resp = client.Post(req);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kDeadlineExceeded) << resp.status();
  EXPECT_GE(elapsed, std::chrono::milliseconds(150));
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  EXPECT_EQ(server.requests().size(), 1u);  // the request did arrive; the answer never came
}

TEST_P(HttpClientTest, ServerClosingWithoutAnswerIsUnavailable) {
  TestServer server([](const ReceivedRequest&) -> std::optional<std::string> { return ""; });
  std::unique_ptr<HttpClient> made = Make();
  HttpClient& client = *made;
  auto resp = client.Post(Req(server.url()));
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kUnavailable) << resp.status();
}

TEST_P(HttpClientTest, GarbageResponseIsUnavailable) {
  TestServer server([](const ReceivedRequest&) -> std::optional<std::string> {
    return "this is not HTTP\r\n\r\nConnection: close";
  });
  std::unique_ptr<HttpClient> made = Make();
  HttpClient& client = *made;
  auto resp = client.Post(Req(server.url()));
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kUnavailable) << resp.status();
}

TEST_P(HttpClientTest, KeepAliveReusesOneConnection) {
  TestServer server([](const ReceivedRequest&) { return Response(204, "No Content"); });
  std::unique_ptr<HttpClient> made = Make();
  HttpClient& client = *made;
  for (int i = 0; i < 5; ++i) {
    auto resp = client.Post(Req(server.url(), absl::StrCat("batch ", i)));
    ASSERT_TRUE(resp.ok()) << resp.status();
    EXPECT_EQ(resp->status, 204);
  }
  EXPECT_EQ(server.connections(), 1);
  std::vector<ReceivedRequest> reqs = server.requests();
  ASSERT_EQ(reqs.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(reqs[i].connection, 0);
    EXPECT_EQ(reqs[i].body, absl::StrCat("batch ", i));
  }
}

TEST_P(HttpClientTest, ReconnectsAfterServerClosesConnection) {
  TestServer server([](const ReceivedRequest&) {
    return Response(204, "No Content", "", "Connection: close\r\n");
  });
  std::unique_ptr<HttpClient> made = Make();
  HttpClient& client = *made;
  for (int i = 0; i < 3; ++i) {
    auto resp = client.Post(Req(server.url()));
    ASSERT_TRUE(resp.ok()) << resp.status();
    EXPECT_EQ(resp->status, 204);
  }
  EXPECT_EQ(server.connections(), 3);
}

TEST_P(HttpClientTest, HeadersAndBinaryBodyArriveIntact) {
  TestServer server([](const ReceivedRequest&) { return Response(204, "No Content"); });
  // 2 MiB of every byte value, NULs included: large enough that curl would otherwise ask for
  // "Expect: 100-continue".
  std::string body(2 << 20, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 131 % 256);
  HttpRequest req = Req(server.url(), body);
  req.headers = {{"Content-Type", "application/x-protobuf"},
                 {"Content-Encoding", "snappy"},
                 {"X-Scope-OrgID", "tenant-a"},
                 {"X-Custom", "value with spaces, commas; and = signs"}};
  std::unique_ptr<HttpClient> made = Make();
  HttpClient& client = *made;
  auto resp = client.Post(req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  ASSERT_EQ(server.requests().size(), 1u);
  const ReceivedRequest got = server.requests()[0];
  EXPECT_TRUE(got.body == body) << "body differs; got " << got.body.size() << " bytes";
  EXPECT_EQ(got.Header("content-type"), "application/x-protobuf");
  EXPECT_EQ(got.Header("content-encoding"), "snappy");
  EXPECT_EQ(got.Header("x-scope-orgid"), "tenant-a");
  EXPECT_EQ(got.Header("x-custom"), "value with spaces, commas; and = signs");
  EXPECT_EQ(got.Header("content-length"), std::to_string(body.size()));
  EXPECT_EQ(got.Header("expect"), std::nullopt);
  EXPECT_THAT(got.Header("user-agent").value_or(""), HasSubstr("sluice/"));
}

TEST_P(HttpClientTest, EmptyBody) {
  TestServer server([](const ReceivedRequest&) { return Response(204, "No Content"); });
  std::unique_ptr<HttpClient> made = Make();
  HttpClient& client = *made;
  auto resp = client.Post(Req(server.url(), ""));
  ASSERT_TRUE(resp.ok()) << resp.status();
  // A default string_view has a null data(): still an empty body, not one read from stdin.
  HttpRequest req;
  req.url = server.url();
  resp = client.Post(req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  ASSERT_EQ(server.requests().size(), 2u);
  for (const ReceivedRequest& r : server.requests()) {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.Header("content-length"), "0");
  }
}

TEST_P(HttpClientTest, RedirectsAreNotFollowed) {
  TestServer server([](const ReceivedRequest&) {
    return Response(302, "Found", "", "Location: /elsewhere\r\n");
  });
  std::unique_ptr<HttpClient> made = Make();
  HttpClient& client = *made;
  auto resp = client.Post(Req(server.url()));
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 302);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_P(HttpClientTest, FollowsRedirectsWhenAsked) {
  TestServer server([](const ReceivedRequest& r) -> std::optional<std::string> {
    if (r.target == "/loki/api/v1/push") {
      return Response(307, "Temporary Redirect", "", "Location: /moved\r\n");
    }
    if (r.target == "/moved") return Response(302, "Found", "", "Location: /final\r\n");
    return Response(204, "No Content");
  });
  HttpClientOptions options;
  options.follow_redirects = true;
  std::unique_ptr<HttpClient> made = Make(options);
  HttpClient& client = *made;
  auto resp = client.Post(Req(server.url(), "body-bytes"));
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 204);
  std::vector<ReceivedRequest> r = server.requests();
  ASSERT_EQ(r.size(), 3u);
  // 307 repeats the POST with its body; 302 after a POST becomes a GET without one, as in Go.
  EXPECT_EQ(r[1].method, "POST");
  EXPECT_EQ(r[1].body, "body-bytes");
  EXPECT_EQ(r[2].method, "GET");
  EXPECT_EQ(r[2].target, "/final");
}

TEST_P(HttpClientTest, RedirectLoopStopsAfterTenAndIsATransportError) {
  TestServer server([](const ReceivedRequest&) {
    return Response(307, "Temporary Redirect", "", "Location: /again\r\n");
  });
  HttpClientOptions options;
  options.follow_redirects = true;
  std::unique_ptr<HttpClient> made = Make(options);
  HttpClient& client = *made;
  auto resp = client.Post(Req(server.url()));
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kUnavailable) << resp.status();
  EXPECT_EQ(server.requests().size(), 11u);
}

TEST_P(HttpClientTest, EnvironmentProxyIsIgnored) {
  TestServer server([](const ReceivedRequest&) { return Response(204, "No Content"); });
  // A proxy that does not exist: were it used, the request would fail.
  setenv("http_proxy", "http://127.0.0.1:1", 1);
  setenv("HTTP_PROXY", "http://127.0.0.1:1", 1);
  std::unique_ptr<HttpClient> made = Make();
  HttpClient& client = *made;
  auto resp = client.Post(Req(server.url()));
  unsetenv("http_proxy");
  unsetenv("HTTP_PROXY");
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 204);
}

TEST_P(HttpClientTest, ErrorsDoNotCarryTheUrlPassword) {
  std::unique_ptr<HttpClient> made = Make();
  HttpClient& client = *made;
  auto resp = client.Post(Req("http://user:secret@127.0.0.1:1/loki/api/v1/push"));
  ASSERT_FALSE(resp.ok());
  EXPECT_THAT(std::string(resp.status().message()), HasSubstr("http://user:xxxxx@127.0.0.1:1/"));
  EXPECT_THAT(std::string(resp.status().message()), ::testing::Not(HasSubstr("secret")));
}

TEST_P(HttpClientTest, UnusableUrlIsInvalidArgument) {
  std::unique_ptr<HttpClient> made = Make();
  HttpClient& client = *made;
  auto resp = client.Post(Req("ftp://127.0.0.1/x"));
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kInvalidArgument) << resp.status();
  // Go's words, which Alloy logs for each failing push of a URL without http(s)://.
  resp = client.Post(Req("loki:3100/api/v1/push"));
  EXPECT_EQ(resp.status().message(),
            "Post \"loki:3100/api/v1/push\": unsupported protocol scheme \"loki\"");
  resp = client.Post(Req("http://[::1"));
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kInvalidArgument) << resp.status();
}

TEST_P(HttpClientTest, TlsHandshakeWithPlainServerFails) {
  TestServer server([](const ReceivedRequest&) { return Response(204, "No Content"); });
  HttpClientOptions options;
  options.insecure_skip_verify = true;
  std::unique_ptr<HttpClient> made = Make(options);
  HttpClient& client = *made;
  HttpRequest req = Req(absl::StrCat("https://127.0.0.1:", server.url().substr(17)));
  req.timeout = absl::Milliseconds(300);  // the plain server never answers the TLS hello
  auto resp = client.Post(req);
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kDeadlineExceeded) << resp.status();
  // What arrived was not HTTP: the client spoke TLS.
  EXPECT_TRUE(server.requests().empty());
}

TEST_P(HttpClientTest, MissingCaFileFailsEveryPost) {
  TestServer server([](const ReceivedRequest&) { return Response(204, "No Content"); });
  HttpClientOptions options;
  options.ca_file = "/nonexistent/ca.pem";
  std::unique_ptr<HttpClient> made = Make(options);
  HttpClient& client = *made;
  HttpRequest req = Req(absl::StrCat("https://127.0.0.1:", server.url().substr(17)));
  req.timeout = absl::Seconds(5);
  auto resp = client.Post(req);
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kUnavailable) << resp.status();
}

TEST_P(HttpClientTest, RequestOnAConnectionTheServerClosedIsSentAgainOnANewOne) {
  TestServer server([](const ReceivedRequest&) {
    return Response(204, "No Content", "", "X-Test-Close: 1\r\n");
  });
  std::unique_ptr<HttpClient> made = Make();
  HttpClient& client = *made;
  for (int i = 0; i < 3; ++i) {
    auto resp = client.Post(Req(server.url(), absl::StrCat("batch ", i)));
    ASSERT_TRUE(resp.ok()) << i << ": " << resp.status();
    EXPECT_EQ(resp->status, 204);
  }
  std::vector<ReceivedRequest> reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);  // each once
  for (int i = 0; i < 3; ++i) EXPECT_EQ(reqs[i].body, absl::StrCat("batch ", i));
  EXPECT_EQ(server.connections(), 3);
}

TEST_P(HttpClientTest, CancelEndsARequestTheServerSitsOn) {
  std::promise<void> arrived;
  TestServer server([&](const ReceivedRequest&) -> std::optional<std::string> {
    arrived.set_value();
    return std::nullopt;  // never answers
  });
  std::unique_ptr<HttpClient> made = Make();
  HttpClient& client = *made;
  std::thread canceller([&] {
    arrived.get_future().wait();
    client.Cancel();
  });
  HttpRequest req = Req(server.url());
  req.timeout = absl::Seconds(60);
  auto start = std::chrono::steady_clock::now();
  auto resp = client.Post(req);
  canceller.join();
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kCancelled) << resp.status();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  // And every later request fails at once.
  resp = client.Post(Req(server.url()));
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kCancelled) << resp.status();
}

TEST_P(HttpClientTest, UrlCredentialsAreSentAsBasicAuth) {
  TestServer server([](const ReceivedRequest&) { return Response(204, "No Content"); });
  std::unique_ptr<HttpClient> made = Make();
  HttpClient& client = *made;
  std::string url = server.url();
  url.insert(7, "user:p%40ss@");
  auto resp = client.Post(Req(url));
  ASSERT_TRUE(resp.ok()) << resp.status();
  ASSERT_EQ(server.requests().size(), 1u);
  // base64("user:p@ss")
  EXPECT_EQ(server.requests()[0].Header("authorization"), "Basic dXNlcjpwQHNz");
}

TEST_P(HttpClientTest, GetRefusesABodyOverItsLimitAndReturnsOneUnderIt) {
  TestServer server([](const ReceivedRequest& r) {
    return Response(200, "OK", r.target == "/big" ? std::string(5000, 'x') : std::string(10, 'y'));
  });
  std::unique_ptr<HttpClient> made = Make();
  HttpClient& client = *made;
  HttpRequest req = Req(server.url("/big"));
  auto resp = client.Get(req, 4096);
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kResourceExhausted) << resp.status();
  resp = client.Get(Req(server.url("/small")), 4096);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->body, std::string(10, 'y'));
  ASSERT_EQ(server.requests().size(), 2u);
  EXPECT_EQ(server.requests()[1].method, "GET");
}

TEST_P(HttpClientTest, GetStreamHandsOverChunksUntilTheConsumerStops) {
  TestServer server([](const ReceivedRequest&) -> std::optional<std::string> {
    return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           "6\r\nfirst\n\r\n7\r\nsecond\n\r\n6\r\nthird\n\r\n";  // never ends
  });
  std::unique_ptr<HttpClient> made = Make();
  HttpClient& client = *made;
  std::string got;
  HttpRequest req = Req(server.url("/watch"));
  req.timeout = absl::Seconds(60);
  auto resp = client.GetStream(req, [&](std::string_view data) {
    got.append(data);
    return !absl::StrContains(got, "third");
  });
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(got, "first\nsecond\nthird\n");
}

}  // namespace
}  // namespace sluice
