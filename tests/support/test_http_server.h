// TestHttpServer: the listening and threading scaffolding shared by the in-process fake servers
// (FakeLoki, FakeKube): a TCP listener, an optional TLS context made from PEM, one thread per
// accepted connection, and a Start/Stop lifecycle that never hangs. It knows nothing of HTTP:
// each connection is handed to Options::serve, which reads and writes it with blocking calls
// (on the plain socket, or on a TlsStream over it).
//
// Threads:
//  - Start() spawns the acceptor thread. It runs io_context_: async_accept, its retry timer and
//    what SetListening() posts, nothing else; it never runs Options::serve.
//  - Every accepted connection gets its own thread, which runs Options::serve(Connection&) and
//    then closes the socket. A serve call that blocks (a stalled request, a watch) holds only its
//    own connection's thread. Finished threads are joined by the acceptor on a later accept, the
//    rest by Stop().
//  - Start, Stop and SetListening are serialized with each other and may be called from any
//    thread except a connection thread (Stop joins those). ShutdownConnections, port() and
//    tls_context() may be called from any thread.
//
// Ownership: the owner (a fake's Impl) owns the TestHttpServer and must keep what Options::serve
// and Options::on_stop use alive until Stop() returned (the destructor calls Stop(); an owner
// whose callbacks use its own members calls Stop() in its own destructor). The server owns the
// io_context, the acceptor, the TLS context and every Connection with its thread. A Connection
// lives until its thread has finished and been joined; serve must not keep a pointer to it past
// its return.
//
// Stop(): calls Options::on_stop (the owner wakes whatever its connection threads wait on), stops
// the acceptor thread and closes the listener, shuts every open socket down (wakes blocked reads
// and writes: they fail) and joins every connection thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace sluice::testing {

// TestHttpServer::Tls: server certificate and client verification, from PEM. Declared outside the
// class so that clang sees it default-constructible where std::optional<Tls> is instantiated.
struct TestHttpServerTls {
  std::string cert_pem;  // server certificate (chain)
  std::string key_pem;   // its key
  // Not empty: client certificates are asked for (with these CAs' names as the list a client
  // picks its certificate by) and verified against these CAs.
  std::string client_ca_pem;
  bool require_client_cert = false;  // the handshake fails without a valid one
  bool max_tls12 = false;            // refuse TLS 1.3
};

class TestHttpServer {
 public:
  using tcp = boost::asio::ip::tcp;
  // TLS over a connection's socket, made by Options::serve on its own thread.
  using TlsStream = boost::asio::ssl::stream<tcp::socket&>;

  // One accepted connection, handed to Options::serve on its own thread. The socket is closed
  // only by that thread (Close), under fd_mu_; other threads only shut it down, under fd_mu_, so
  // they never touch a descriptor number that was closed and reused.
  class Connection {
   public:
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    tcp::socket& socket() { return socket_; }
    // Closes the socket: orderly (shutdown, then close), or `abort`: SO_LINGER 0, so close()
    // sends RST and the client sees a reset rather than an orderly EOF. Idempotent; later reads
    // and writes fail. The connection thread calls it after serve returns anyway.
    void Close(bool abort);
    // Stops sending (the client reads EOF) and goes on reading. No-op once closed.
    void ShutdownSend();
    // Whether the client has closed its side or the connection failed, without waiting (poll
    // POLLRDHUP: also works for TLS, where a close_notify record may sit unread before the FIN).
    // For a serve call that has nothing to read (a watch) to learn that the client went away.
    bool PeerGone();

   private:
    friend class TestHttpServer;
    explicit Connection(tcp::socket socket) : socket_(std::move(socket)) {}
    // From other threads: wakes blocked reads and writes; never closes the descriptor.
    void ShutdownBoth();

    tcp::socket socket_;
    std::mutex fd_mu_;
    bool closed_ = false;            // under fd_mu_
    std::atomic<bool> done_{false};  // set by the connection thread as its last step
    std::thread thread_;             // started and joined by the server
  };

  using Tls = TestHttpServerTls;

  struct Options {
    std::string name = "TestHttpServer";             // in error texts: "<name> is not running"
    std::string log_component = "test_http_server";  // for LogWarn / LogError
    std::string listen_host = "127.0.0.1";
    uint16_t listen_port = 0;  // 0: the kernel picks one; see port()
    std::optional<Tls> tls;    // set: Start() makes tls_context() from it
    // Runs on the connection's thread, once per accepted connection; the socket is closed after
    // it returns (or throws: the exception is logged). Required.
    std::function<void(Connection&)> serve;
    // Runs on the thread calling Stop(), once, first (before sockets are shut down and connection
    // threads joined): the owner sets its stopping flag and notifies its condition variables.
    std::function<void()> on_stop;
  };

  explicit TestHttpServer(Options options);
  ~TestHttpServer();  // Stop()
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  // Makes the TLS context (with Options::tls), binds, listens and starts the acceptor thread.
  // Call once: the io_context and acceptor are single-use, there is no restart after Stop().
  absl::Status Start();
  // See the file comment. Idempotent; a no-op before Start().
  void Stop();
  // false: closes the listener (connecting clients are refused); connections already accepted
  // are left alone (see ShutdownConnections). true: listens again on the same port. A no-op
  // returning OK when already so. After a change, `changed` (if set) runs on the calling thread
  // while Start/Stop/SetListening are still locked out. Fails when not running, or when the port
  // cannot be bound again.
  absl::Status SetListening(bool listening, const std::function<void()>& changed = nullptr);
  // Shuts every open connection's socket down (their reads and writes fail, their serve calls
  // return and their threads end); the listener is left alone. Not serialized with the calls
  // above, so SetListening's `changed` may call it.
  void ShutdownConnections();

  int port() const { return port_.load(); }  // 0 before Start()
  // nullptr without Options::tls. Made by Start(), before any connection exists.
  boost::asio::ssl::context* tls_context() const { return tls_ctx_.get(); }

  // Server side of the TLS handshake on `tls` (blocking). On failure returns false and sets
  // *error (if not null) to OpenSSL's text for the failure, or the system error's message.
  static bool Handshake(TlsStream& tls, std::string* error);

 private:
  absl::Status Listen();  // on the acceptor thread, or before it runs
  void AcceptOne();       // on the acceptor thread, or before it runs

  const Options opts_;
  std::atomic<int> port_{0};
  std::unique_ptr<boost::asio::ssl::context> tls_ctx_;  // with Options::tls, made by Start()

  // Declared before the acceptor and the connections, which hold sockets bound to it. The work
  // guard keeps io_context_.run() going while the listener is closed (SetListening(false)).
  boost::asio::io_context io_context_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_context_.get_executor()};
  tcp::acceptor acceptor_{io_context_};
  boost::asio::steady_timer retry_timer_{io_context_};
  std::thread accept_thread_;
  std::mutex conns_mu_;
  std::list<std::unique_ptr<Connection>> conns_;  // under conns_mu_

  std::mutex lifecycle_mu_;  // serializes Start/Stop/SetListening
  bool started_ = false;     // under lifecycle_mu_
  bool stopped_ = false;     // under lifecycle_mu_
  bool listening_ = false;   // under lifecycle_mu_
};

// Writes all of `bytes` to `stream` (a socket or a TlsStream), blocking; false on error.
template <class Stream>
bool WriteAll(Stream& stream, std::string_view bytes) {
  boost::system::error_code ec;
  boost::asio::write(stream, boost::asio::buffer(bytes.data(), bytes.size()), ec);
  return !ec;
}

// For the owners' condition variables: waits on `cv` (with `lock` held) until pred() holds or
// `timeout` passes, and returns pred(). A timeout over a year waits without a deadline (adding
// it to the clock could overflow), as does absl::InfiniteDuration().
template <class Pred>
bool WaitOn(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, absl::Duration timeout,
            Pred pred) {
  if (timeout > absl::Hours(24 * 365)) {
    cv.wait(lock, pred);
    return true;
  }
  return cv.wait_for(lock, absl::ToChronoNanoseconds(std::max(timeout, absl::ZeroDuration())),
                     pred);
}

// The same, locking `mu` for the wait.
template <class Pred>
bool WaitOn(std::mutex& mu, std::condition_variable& cv, absl::Duration timeout, Pred pred) {
  std::unique_lock lock(mu);
  return WaitOn(cv, lock, timeout, pred);
}

}  // namespace sluice::testing
