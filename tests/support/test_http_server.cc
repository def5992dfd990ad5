#include "tests/support/test_http_server.h"

#include <poll.h>
#include <sys/socket.h>

#include <exception>
#include <future>
#include <utility>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <boost/asio/post.hpp>

#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/common/strings.h"

namespace sluice::testing {
namespace {

namespace asio = boost::asio;
using error_code = boost::system::error_code;

// The names of the CAs in `pem`, as the list a client picks its certificate by.
void SetClientCaList(asio::ssl::context& ctx, const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(cert)));
    X509_free(cert);
  }
  BIO_free(bio);
  SSL_CTX_set_client_CA_list(ctx.native_handle(), names);
}

absl::Status MakeTlsContext(const TestHttpServer::Tls& tls,
                            std::unique_ptr<asio::ssl::context>* out) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds, ec);
  if (!ec) ctx->use_certificate_chain(asio::buffer(tls.cert_pem), ec);
  if (!ec) ctx->use_private_key(asio::buffer(tls.key_pem), asio::ssl::context::pem, ec);
  if (!ec && !tls.client_ca_pem.empty()) {
    ctx->add_certificate_authority(asio::buffer(tls.client_ca_pem), ec);
    int mode = asio::ssl::verify_peer;
    if (tls.require_client_cert) mode |= asio::ssl::verify_fail_if_no_peer_cert;
    if (!ec) ctx->set_verify_mode(mode, ec);
    if (!ec) SetClientCaList(*ctx, tls.client_ca_pem);
  }
  if (!ec && tls.max_tls12) SSL_CTX_set_max_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("TLS set-up: ", ec.message()));
  *out = std::move(ctx);
  return absl::OkStatus();
}

}  // namespace

// ---- Connection --------------------------------------------------------------------------------

void TestHttpServer::Connection::Close(bool abort) {
  std::lock_guard fd(fd_mu_);
  if (closed_) return;
  error_code ec;
  if (abort) {
    socket_.set_option(asio::socket_base::linger(true, 0), ec);
  } else {
    socket_.shutdown(tcp::socket::shutdown_both, ec);
  }
  socket_.close(ec);
  closed_ = true;
}

void TestHttpServer::Connection::ShutdownSend() {
  std::lock_guard fd(fd_mu_);
  error_code ec;
  if (!closed_) socket_.shutdown(tcp::socket::shutdown_send, ec);
}

bool TestHttpServer::Connection::PeerGone() {
  pollfd p{socket_.native_handle(), POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

void TestHttpServer::Connection::ShutdownBoth() {
  std::lock_guard fd(fd_mu_);
  if (!closed_) ::shutdown(socket_.native_handle(), SHUT_RDWR);
}

// ---- Server ------------------------------------------------------------------------------------

TestHttpServer::TestHttpServer(Options options) : opts_(std::move(options)) {}

TestHttpServer::~TestHttpServer() { Stop(); }

absl::Status TestHttpServer::Start() {
  std::lock_guard lifecycle(lifecycle_mu_);
  if (started_)
    return absl::FailedPreconditionError(absl::StrCat(opts_.name, "::Start called twice"));
  if (opts_.tls) {
    if (absl::Status s = MakeTlsContext(*opts_.tls, &tls_ctx_); !s.ok()) return s;
  }
  if (absl::Status s = Listen(); !s.ok()) return s;
  started_ = true;
  listening_ = true;
  accept_thread_ = std::thread([this] {
    try {
      io_context_.run();
    } catch (const std::exception& e) {
      LogError(opts_.log_component, "acceptor thread failed", {{"error", e.what()}});
    }
  });
  return absl::OkStatus();
}

absl::Status TestHttpServer::Listen() {
  error_code ec;
  const auto address = asio::ip::make_address(opts_.listen_host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad listen address ", Av(opts_.listen_host), ": ", ec.message()));
  }
  // Listening again: the port the kernel gave the first time, so clients can come back.
  const uint16_t port = port_.load() != 0 ? static_cast<uint16_t>(port_.load()) : opts_.listen_port;
  const tcp::endpoint endpoint(address, port);
  acceptor_.open(endpoint.protocol(), ec);
  // Connections of a previous listener may linger in TIME_WAIT on this port.
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    acceptor_.close(ignored);
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", Av(opts_.listen_host), ":", port, ": ", ec.message()));
  }
  port_ = acceptor_.local_endpoint(ec).port();
  AcceptOne();
  return absl::OkStatus();
}

void TestHttpServer::AcceptOne() {
  acceptor_.async_accept([this](error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // EMFILE and friends: back off briefly instead of spinning.
      LogWarn(opts_.log_component, "accept failed", {{"error", ec.message()}});
      retry_timer_.expires_after(std::chrono::milliseconds(20));
      retry_timer_.async_wait([this](error_code tec) {
        if (!tec && acceptor_.is_open()) AcceptOne();
      });
      return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    std::lock_guard l(conns_mu_);
    // Reap connections whose threads have finished, so long tests do not pile up threads.
    for (auto it = conns_.begin(); it != conns_.end();) {
      if ((*it)->done_.load()) {
        (*it)->thread_.join();
        it = conns_.erase(it);
      } else {
        ++it;
      }
    }
    conns_.push_back(std::unique_ptr<Connection>(new Connection(std::move(socket))));
    Connection* c = conns_.back().get();
    c->thread_ = std::thread([this, c] {
      try {
        opts_.serve(*c);
      } catch (const std::exception& e) {
        LogError(opts_.log_component, "connection thread failed", {{"error", e.what()}});
      }
      c->Close(/*abort=*/false);
      c->done_ = true;
    });
    AcceptOne();
  });
}

absl::Status TestHttpServer::SetListening(bool listening, const std::function<void()>& changed) {
  std::lock_guard lifecycle(lifecycle_mu_);
  if (!started_ || stopped_) {
    return absl::FailedPreconditionError(absl::StrCat(opts_.name, " is not running"));
  }
  if (listening_ == listening) return absl::OkStatus();
  // The acceptor belongs to the acceptor thread: close or reopen it there and wait for the outcome.
  std::promise<absl::Status> done;
  asio::post(io_context_, [&] {
    if (!listening) {
      error_code ec;
      acceptor_.close(ec);
      retry_timer_.cancel();
      done.set_value(absl::OkStatus());
    } else {
      done.set_value(Listen());
    }
  });
  if (absl::Status s = done.get_future().get(); !s.ok()) return s;
  listening_ = listening;
  if (changed) changed();
  return absl::OkStatus();
}

void TestHttpServer::ShutdownConnections() {
  std::lock_guard l(conns_mu_);
  for (auto& c : conns_) c->ShutdownBoth();
}

void TestHttpServer::Stop() {
  std::lock_guard lifecycle(lifecycle_mu_);
  if (!started_ || stopped_) return;
  stopped_ = true;
  if (opts_.on_stop) opts_.on_stop();
  work_.reset();
  io_context_.stop();
  if (accept_thread_.joinable()) accept_thread_.join();
  error_code ec;
  acceptor_.close(ec);
  // No new connections from here on. Wake every connection thread blocked in a read or write.
  std::list<std::unique_ptr<Connection>> conns;
  {
    std::lock_guard l(conns_mu_);
    for (auto& c : conns_) c->ShutdownBoth();
    conns.swap(conns_);
  }
  for (auto& c : conns) {
    if (c->thread_.joinable()) c->thread_.join();
  }
}

bool TestHttpServer::Handshake(TlsStream& tls, std::string* error) {
  error_code ec;
  tls.handshake(asio::ssl::stream_base::server, ec);
  if (!ec) return true;
  if (error) {
    *error = ec.message();
    if (ec.category() == asio::error::get_ssl_category()) {
      char text[256];
      ERR_error_string_n(static_cast<unsigned long>(ec.value()), text, sizeof(text));
      *error = text;
    }
  }
  return false;
}

}  // namespace sluice::testing
