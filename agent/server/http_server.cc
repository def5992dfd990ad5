#include "agent/server/http_server.h"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/common/thread.h"

namespace sluice {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr size_t kMaxRequestBytes = 64 * 1024;
constexpr auto kRequestTimeout = std::chrono::seconds(30);

// One connection: read a request, answer it, repeat while keep-alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpServer::Handler* handler, std::atomic<int>* open)
      : stream_(std::move(socket)), handler_(handler), open_(open) {
    open_->fetch_add(1);
  }
  ~Session() { open_->fetch_sub(1); }

  void Read() {
    parser_.emplace();
    parser_->header_limit(kMaxRequestBytes);
    parser_->body_limit(kMaxRequestBytes);
    stream_.expires_after(kRequestTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec) {
      if (ec == http::error::body_limit || ec == http::error::header_limit) {
        Reply(HttpReply{413, "text/plain; charset=utf-8", "request too large\n"}, false, 11);
      }
      return;  // closed, timed out, or garbage: drop the connection
    }
    const auto& req = parser_->get();
    std::string method(req.method_string());
    std::string target(req.target());
    HttpReply reply = (*handler_)(method, target);
    Reply(std::move(reply), req.keep_alive(), req.version());
  }

  void Reply(HttpReply r, bool keep_alive, unsigned version) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), version);
    res->set(http::field::server, "sluice");
    res->set(http::field::content_type, r.content_type);
    res->keep_alive(keep_alive);
    res->body() = std::move(r.body);
    res->prepare_payload();
    stream_.expires_after(kRequestTimeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
                        if (ec) return;
                        if (keep_alive) {
                          self->Read();
                        } else {
                          beast::error_code ignored;
                          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                        }
                      });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const HttpServer::Handler* handler_;
  std::atomic<int>* open_;
};

}  // namespace

class HttpServer::Impl {
 public:
  explicit Impl(Handler handler) : handler_(std::move(handler)) {}

  absl::Status Start(const std::string& addr) {
    size_t colon = addr.rfind(':');
    if (colon == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("listen address \"", addr, "\": no port"));
    }
    std::string host = addr.substr(0, colon);
    int port = 0;
    if (!absl::SimpleAtoi(addr.substr(colon + 1), &port) || port < 0 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("listen address \"", addr, "\": bad port"));
    }
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    beast::error_code ec;
    asio::ip::address ip =
        host.empty() ? asio::ip::address(asio::ip::address_v6::any())
                     : asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("listen address \"", addr, "\": ", ec.message()));
    }
    tcp::endpoint ep(ip, static_cast<uint16_t>(port));
    acceptor_.open(ep.protocol(), ec);
    if (!ec && ip.is_v6()) acceptor_.set_option(asio::ip::v6_only(false), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(absl::StrCat("listen on ", addr, ": ", ec.message()));
    }
    port_ = acceptor_.local_endpoint().port();
    Accept();
    // Two threads: a reload (which waits for the old graph to drain) must not hold up scrapes.
    for (auto& t : threads_) t = StartThread("sluice-http", [this] { io_.run(); });
    return absl::OkStatus();
  }

  void Stop() {
    if (!threads_[0].joinable()) return;
    asio::post(io_, [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
    });
    io_.stop();  // pending sessions are destroyed with the io_context
    for (auto& t : threads_) t.join();
  }

  int port() const { return port_; }

 private:
  void Accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted) return;
      } else if (open_.load() >= kMaxConnections) {
        beast::error_code ignored;
        socket.close(ignored);  // bounded: a scraper storm cannot take every descriptor
      } else {
        std::make_shared<Session>(std::move(socket), &handler_, &open_)->Read();
      }
      Accept();
    });
  }

  Handler handler_;
  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  std::thread threads_[2];
  std::atomic<int> open_{0};
  int port_ = 0;
};

HttpServer::HttpServer(Handler handler) : impl_(std::make_unique<Impl>(std::move(handler))) {}
HttpServer::~HttpServer() { impl_->Stop(); }
absl::Status HttpServer::Start(const std::string& listen_addr) { return impl_->Start(listen_addr); }
void HttpServer::Stop() { impl_->Stop(); }
int HttpServer::port() const { return impl_->port(); }

}  // namespace sluice
