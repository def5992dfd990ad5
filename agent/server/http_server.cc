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
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
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

class Session;

// Sessions waiting for a request handler's answer, and the gate that stops answers once the
// server stops (its io_context must not be posted to after that). Shared by the server and every
// pending answer.
class Waiting {
 public:
  void Add(std::shared_ptr<Session> s) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopped_) sessions_.insert(std::move(s));
  }
  // Runs `write` on the session's executor, if the server still runs and the session waits.
  template <typename Fn>
  void Post(const std::weak_ptr<Session>& weak, Fn write);
  // The server stops: no more answers. Returns the waiting sessions, for the caller to let go
  // once the server threads are joined (while the io_context still exists).
  std::set<std::shared_ptr<Session>> Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    std::set<std::shared_ptr<Session>> gone;
    gone.swap(sessions_);
    return gone;
  }

 private:
  std::mutex mu_;
  bool stopped_ = false;                         // guarded by mu_
  std::set<std::shared_ptr<Session>> sessions_;  // guarded by mu_
};

// What every session shares with the server.
struct Shared {
  std::shared_ptr<Waiting> waiting = std::make_shared<Waiting>();
  HttpServer::Handler handler;
  HttpServer::RequestHandler request_handler;  // set: whole requests, answered asynchronously
  HttpServer::Options options;
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
    parser_->body_limit(shared_->request_handler ? shared_->options.max_body : kMaxRequestBytes);
    // The whole request within the read timeout (a client that trickles bytes is cut off).
    stream_.expires_after(shared_->request_handler
                              ? absl::ToChronoMilliseconds(shared_->options.read_timeout)
                              : std::chrono::milliseconds(kRequestTimeout));
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

 private:
  // Beast reads at most the buffer's free capacity, and never less than 512 bytes: a buffer
  // that only ever held headers would take a 1 MB push body in ~2,000 reads. A body gets a
  // buffer of up to kBodyReadBytes while it is read; the buffer shrinks back once the request
  // is in, so that an idle keep-alive connection holds no more than its leftover bytes.
  static constexpr size_t kBodyReadBytes = 64 * 1024;

  void OnHeader(beast::error_code ec) {
    if (ec || parser_->is_done()) return OnRead(ec);
    const auto length = parser_->content_length();  // unset: chunked
    const size_t want = std::min<uint64_t>(length ? *length : kBodyReadBytes, kBodyReadBytes);
    if (buffer_.capacity() - buffer_.size() < want) buffer_.reserve(buffer_.size() + want);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (buffer_.capacity() > kBodyReadBytes / 8) buffer_.shrink_to_fit();
    if (ec) {
      if (ec == http::error::body_limit || ec == http::error::header_limit) {
        Reply(HttpReply{413, "text/plain; charset=utf-8", "request too large\n"}, false, 11);
      }
      return;  // closed, timed out, or garbage: drop the connection
    }
    if (shared_->request_handler) {
      Dispatch();
      return;
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

  // The whole request to the request handler; its answer is written on the server threads.
  void Dispatch() {
    http::request<http::string_body> req = parser_->release();
    ServerRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    for (const auto& field : req) {
      r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    r.body = std::move(req.body());
    // No deadline while the handler works (its answer may wait for the pipeline): the handler
    // bounds that itself. The session waits in the server's registry (nothing else holds it:
    // no operation is pending) until the answer comes or the server stops.
    stream_.expires_never();
    shared_->waiting->Add(shared_from_this());
    auto answer = std::make_shared<Answer>(shared_->waiting, weak_from_this(), req.keep_alive(),
                                           req.version());
    shared_->request_handler(std::move(r),
                             [answer](HttpReply reply) { answer->Send(std::move(reply)); });
  }

 public:
  // Writes an answer from any thread, once; a dropped Answer answers 503 (a connection never
  // hangs on a handler that forgot it). After the server stopped, nothing is written.
  struct Answer {
    std::shared_ptr<Waiting> waiting;
    std::weak_ptr<Session> session;
    bool keep_alive;
    unsigned version;
    std::atomic<bool> sent{false};
    Answer(std::shared_ptr<Waiting> w, std::weak_ptr<Session> s, bool k, unsigned v)
        : waiting(std::move(w)), session(std::move(s)), keep_alive(k), version(v) {}
    ~Answer() { Send(HttpReply{503, "text/plain; charset=utf-8", "request dropped\n"}); }
    void Send(HttpReply reply) {
      if (sent.exchange(true)) return;
      waiting->Post(session, [reply = std::move(reply), k = keep_alive,
                              v = version](const std::shared_ptr<Session>& s) mutable {
        s->Reply(std::move(reply), k, v);
      });
    }
  };

 private:
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

 public:
  auto executor() { return stream_.get_executor(); }

 private:
  std::optional<http::request_parser<http::string_body>> parser_;
  const Shared* shared_;
  std::atomic<int>* open_;
};

template <typename Fn>
void Waiting::Post(const std::weak_ptr<Session>& weak, Fn write) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return;
  std::shared_ptr<Session> s = weak.lock();
  if (s == nullptr) return;
  sessions_.erase(s);
  asio::post(s->executor(), [s, write = std::move(write)]() mutable { write(s); });
}

}  // namespace

class HttpServer::Impl {
 public:
  Impl(Handler handler, std::vector<std::string> slow_paths) {
    shared_.handler = std::move(handler);
    shared_.slow_paths = std::move(slow_paths);
  }
  Impl(RequestHandler handler, Options options) {
    shared_.request_handler = std::move(handler);
    shared_.options = std::move(options);
    if (shared_.options.max_connections > 0) max_connections_ = shared_.options.max_connections;
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
    for (auto& t : threads_) t = StartThread(shared_.options.thread_name, [this] { io_.run(); });
    return absl::OkStatus();
  }

  void Stop() {
    if (!threads_[0].joinable()) return;
    asio::post(io_, [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
    });
    // Answers from now on are not written (the io_context stops); sessions waiting for one go
    // after the threads are joined, while the io_context still exists.
    std::set<std::shared_ptr<Session>> waiting = shared_.waiting->Stop();
    io_.stop();  // pending sessions are destroyed with the io_context
    for (auto& t : threads_) t.join();
    waiting.clear();
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
      } else if (open_.load() >= max_connections_) {
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
  int max_connections_ = kMaxConnections;
  std::unique_ptr<SlowWorker> slow_;
};

HttpServer::HttpServer(Handler handler, std::vector<std::string> slow_paths)
    : impl_(std::make_unique<Impl>(std::move(handler), std::move(slow_paths))) {}
HttpServer::HttpServer(RequestHandler handler, Options options)
    : impl_(std::make_unique<Impl>(std::move(handler), std::move(options))) {}
HttpServer::~HttpServer() { impl_->Stop(); }

std::string_view ServerRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(absl::string_view(k.data(), k.size()),
                               absl::string_view(name.data(), name.size()))) {
      return v;
    }
  }
  return {};
}
absl::Status HttpServer::Start(const std::string& listen_addr) { return impl_->Start(listen_addr); }
void HttpServer::Stop() { impl_->Stop(); }
int HttpServer::port() const { return impl_->port(); }
size_t HttpServer::slow_pending() const { return impl_->slow_pending(); }

}  // namespace sluice
