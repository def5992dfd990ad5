#include "agent/server/http_server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

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

// Runs slow handlers one at a time on its own thread (see the header). Jobs are bounded.
class SlowWorker {
 public:
  SlowWorker() : thread_(StartThread("sluice-http-slow", [this] { Run(); })) {}
  ~SlowWorker() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  size_t pending() const {
    std::lock_guard<std::mutex> lock(mu_);
    return jobs_.size();
  }
  // False when kMaxSlowPending jobs already wait.
  bool Post(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (jobs_.size() >= HttpServer::kMaxSlowPending) return false;
      jobs_.push_back(std::move(job));
    }
    cv_.notify_all();
    return true;
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, nothing left
      std::function<void()> job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  bool stop_ = false;                       // guarded by mu_
  std::thread thread_;
};

// What every session shares with the server.
struct Shared {
  HttpServer::Handler handler;
  std::vector<std::string> slow_paths;
  SlowWorker* slow = nullptr;  // set while the server runs
  bool IsSlow(const std::string& target) const {
    std::string path = target.substr(0, target.find('?'));
    return std::find(slow_paths.begin(), slow_paths.end(), path) != slow_paths.end();
  }
};
constexpr auto kRequestTimeout = std::chrono::seconds(30);

// One connection: read a request, answer it, repeat while keep-alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const Shared* shared, std::atomic<int>* open)
      : stream_(std::move(socket)), shared_(shared), open_(open) {
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
    bool keep_alive = req.keep_alive();
    unsigned version = req.version();
    if (shared_->slow != nullptr && shared_->IsSlow(target)) {
      // Off the server threads; the reply is written back on them.
      auto self = shared_from_this();
      bool queued = shared_->slow->Post([self, method, target, keep_alive, version] {
        HttpReply reply = self->shared_->handler(method, target);
        asio::post(self->stream_.get_executor(),
                   [self, reply = std::move(reply), keep_alive, version]() mutable {
                     self->Reply(std::move(reply), keep_alive, version);
                   });
      });
      if (!queued) {
        Reply(HttpReply{503, "text/plain; charset=utf-8", "busy: too many requests waiting\n"},
              keep_alive, version);
      }
      return;
    }
    HttpReply reply = shared_->handler(method, target);
    Reply(std::move(reply), keep_alive, version);
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
  const Shared* shared_;
  std::atomic<int>* open_;
};

}  // namespace

class HttpServer::Impl {
 public:
  Impl(Handler handler, std::vector<std::string> slow_paths) {
    shared_.handler = std::move(handler);
    shared_.slow_paths = std::move(slow_paths);
  }

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
    if (!shared_.slow_paths.empty()) {
      slow_ = std::make_unique<SlowWorker>();
      shared_.slow = slow_.get();
    }
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
    // After the server threads: a slow handler still running finishes, and the reply it posts
    // to the stopped io_context is never run.
    slow_.reset();
  }

  int port() const { return port_; }
  size_t slow_pending() const { return slow_ != nullptr ? slow_->pending() : 0; }

 private:
  void Accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted) return;
      } else if (open_.load() >= kMaxConnections) {
        beast::error_code ignored;
        socket.close(ignored);  // bounded: a scraper storm cannot take every descriptor
      } else {
        std::make_shared<Session>(std::move(socket), &shared_, &open_)->Read();
      }
      Accept();
    });
  }

  Shared shared_;
  // Before io_: sessions still queued in io_ when it is destroyed count themselves out here.
  std::atomic<int> open_{0};
  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  std::thread threads_[2];
  int port_ = 0;
  std::unique_ptr<SlowWorker> slow_;
};

HttpServer::HttpServer(Handler handler, std::vector<std::string> slow_paths)
    : impl_(std::make_unique<Impl>(std::move(handler), std::move(slow_paths))) {}
HttpServer::~HttpServer() { impl_->Stop(); }
absl::Status HttpServer::Start(const std::string& listen_addr) { return impl_->Start(listen_addr); }
void HttpServer::Stop() { impl_->Stop(); }
int HttpServer::port() const { return impl_->port(); }
size_t HttpServer::slow_pending() const { return impl_->slow_pending(); }

}  // namespace sluice
