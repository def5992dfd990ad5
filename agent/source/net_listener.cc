// NetListener (see net_listener.h): Boost.Asio on one thread; TLS through asio::ssl (OpenSSL).
#include "agent/source/net_listener.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <set>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/common/strings.h"
#include "agent/common/thread.h"

namespace sluice {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;

constexpr auto kPausePoll = std::chrono::milliseconds(20);

// "host:port", "[v6]:port", ":port".
absl::StatusOr<std::pair<asio::ip::address, uint16_t>> ParseAddress(const std::string& addr) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("address ", addr, ": missing port in address"));
  }
  std::string host = addr.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  uint32_t port = 0;
  if (!absl::SimpleAtoi(addr.substr(colon + 1), &port) || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("address ", addr, ": invalid port"));
  }
  if (host.empty()) host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  asio::ip::address ip = asio::ip::make_address(host, ec);
  if (ec) {
    // A name: resolve it once.
    asio::io_context io;
    tcp::resolver r(io);
    auto res = r.resolve(host, "", ec);
    if (ec || res.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("address ", addr, ": cannot resolve ", host));
    }
    ip = res.begin()->endpoint().address();
  }
  return std::make_pair(ip, static_cast<uint16_t>(port));
}

std::string PeerIp(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string();
  }
  return a.to_string();
}

}  // namespace

// Handlers of the listener itself capture a raw pointer: the Impl outlives the I/O thread.
struct NetListener::Impl {
  struct ConnBase {
    virtual ~ConnBase() = default;
    virtual void Close() = 0;
  };

  asio::io_context io;
  const Options* o = nullptr;
  std::optional<asio::ssl::context> ssl;
  std::optional<tcp::acceptor> acceptor;
  std::optional<udp::socket> udp_sock;
  std::vector<char> udp_buf;
  udp::endpoint udp_from;
  std::set<std::shared_ptr<ConnBase>> conns;
  std::unordered_map<std::string, std::string> host_cache;  // UDP peers, bounded
  bool stopping = false;

  void Accept();
  void Receive();
  std::string LookupHost(const asio::ip::address& a);
};

namespace {

template <typename Stream>
class Conn final : public NetListener::Impl::ConnBase,
                   public std::enable_shared_from_this<Conn<Stream>> {
 public:
  template <typename... Args>
  Conn(NetListener::Impl* impl, Args&&... args)
      : impl_(impl),
        stream_(std::forward<Args>(args)...),
        idle_(impl->io),
        pause_(impl->io),
        buf_(impl->o->read_size) {}

  void Start() {
    boost::system::error_code ec;
    tcp::endpoint peer = stream_.lowest_layer().remote_endpoint(ec);
    if (ec) {
      Finish(false);
      return;
    }
    ip_ = PeerIp(peer.address());
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      Resolve(peer);
    } else {
      Arm();
      stream_.async_handshake(asio::ssl::stream_base::server, [self = this->shared_from_this(),
                                                               peer](boost::system::error_code e) {
        self->idle_.cancel();
        if (e) {
          LogDebug("net", "TLS handshake failed", {{"remote", self->ip_}, {"error", e.message()}});
          if (self->impl_->o->on_tls_error) self->impl_->o->on_tls_error();
          self->Finish(false);
          return;
        }
        self->Resolve(peer);
      });
    }
  }

  void Close() override {
    closing_ = true;
    boost::system::error_code ec;
    stream_.lowest_layer().close(ec);
    idle_.cancel();
    pause_.cancel();
    if (!started_reading_) Finish(false);
  }

 private:
  void Resolve(const tcp::endpoint& peer) {
    if (!impl_->o->resolve_hostnames) {
      Begin("");
      return;
    }
    // The reverse lookup runs on asio's resolver thread, not this one.
    auto resolver = std::make_shared<tcp::resolver>(impl_->io);
    resolver->async_resolve(
        peer, [self = this->shared_from_this(), resolver](boost::system::error_code e,
                                                          tcp::resolver::results_type res) {
          std::string host;
          if (!e && !res.empty() && res.begin()->host_name() != self->ip_) {
            host = res.begin()->host_name();
          }
          self->Begin(host);
        });
  }

  void Begin(const std::string& host) {
    if (closing_) {
      Finish(false);
      return;
    }
    handler_ = impl_->o->connection(ip_, host);
    started_reading_ = true;
    ReadNext();
  }

  void Arm() {
    idle_.expires_after(std::chrono::nanoseconds(absl::ToInt64Nanoseconds(impl_->o->idle_timeout)));
    idle_.async_wait([self = this->shared_from_this()](boost::system::error_code e) {
      if (e || self->finished_) return;
      if (self->impl_->o->on_idle) self->impl_->o->on_idle();
      LogDebug("net", "closing idle connection", {{"remote", self->ip_}});
      boost::system::error_code ec;
      self->stream_.lowest_layer().close(ec);
    });
  }

  void ReadNext() {
    if (closing_) {
      Finish(false);
      return;
    }
    if (impl_->o->paused && impl_->o->paused()) {
      // Backpressure: do not read; the sender's window fills up.
      pause_.expires_after(kPausePoll);
      pause_.async_wait(
          [self = this->shared_from_this()](boost::system::error_code) { self->ReadNext(); });
      return;
    }
    Arm();
    stream_.async_read_some(asio::buffer(buf_), [self = this->shared_from_this()](
                                                    boost::system::error_code e, size_t n) {
      self->idle_.cancel();
      if (n > 0 && !self->closing_) {
        if (!self->handler_->OnData(std::string_view(self->buf_.data(), n))) {
          self->Finish(false);
          return;
        }
      }
      if (e) {
        self->Finish(e == asio::error::eof || e == asio::ssl::error::stream_truncated);
        return;
      }
      self->ReadNext();
    });
  }

  void Finish(bool eof) {
    if (finished_) return;
    finished_ = true;
    if (handler_ != nullptr) handler_->OnClose(eof);
    boost::system::error_code ec;
    stream_.lowest_layer().close(ec);
    idle_.cancel();
    pause_.cancel();
    // Last: may destroy this object (the set held the last reference besides the caller's).
    auto self = this->shared_from_this();
    impl_->conns.erase(self);
  }

  NetListener::Impl* impl_;
  Stream stream_;
  asio::steady_timer idle_, pause_;
  std::vector<char> buf_;
  std::string ip_;
  std::unique_ptr<NetListener::Connection> handler_;
  bool closing_ = false, finished_ = false, started_reading_ = false;
};

}  // namespace

void NetListener::Impl::Accept() {
  acceptor->async_accept([self = this](boost::system::error_code ec, tcp::socket sock) {
    if (self->stopping) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      LogWarn("net", "failed to accept connection", {{"error", ec.message()}});
    } else if (self->conns.size() >= self->o->max_connections) {
      if (self->o->on_rejected) self->o->on_rejected();
      boost::system::error_code ignored;
      sock.close(ignored);
    } else if (self->ssl) {
      auto c =
          std::make_shared<Conn<asio::ssl::stream<tcp::socket>>>(self, std::move(sock), *self->ssl);
      self->conns.insert(c);
      c->Start();
    } else {
      auto c = std::make_shared<Conn<tcp::socket>>(self, std::move(sock));
      self->conns.insert(c);
      c->Start();
    }
    self->Accept();
  });
}

std::string NetListener::Impl::LookupHost(const asio::ip::address& a) {
  std::string ip = PeerIp(a);
  if (!o->resolve_hostnames) return "";
  auto it = host_cache.find(ip);
  if (it != host_cache.end()) return it->second;
  if (host_cache.size() >= 128) host_cache.clear();  // Alloy: an LRU of 128 by default
  boost::system::error_code ec;
  tcp::resolver r(io);
  auto res = r.resolve(tcp::endpoint(a, 0), ec);
  std::string host;
  if (!ec && !res.empty() && res.begin()->host_name() != ip) host = res.begin()->host_name();
  host_cache[ip] = host;
  return host;
}

void NetListener::Impl::Receive() {
  udp_sock->async_receive_from(
      asio::buffer(udp_buf), udp_from, [self = this](boost::system::error_code ec, size_t n) {
        if (self->stopping || ec == asio::error::operation_aborted) return;
        if (!ec) {
          bool cut = n > self->o->read_size;
          size_t keep = cut ? self->o->read_size : n;
          self->o->datagram(std::string_view(self->udp_buf.data(), keep),
                            PeerIp(self->udp_from.address()),
                            self->LookupHost(self->udp_from.address()), cut);
        } else {
          LogWarn("net", "failed to read packets", {{"error", ec.message()}});
        }
        self->Receive();
      });
}

NetListener::NetListener(Options o) : options_(std::move(o)) {}

NetListener::~NetListener() { Stop(); }

absl::Status NetListener::Start() {
  absl::StatusOr<std::pair<asio::ip::address, uint16_t>> addr = ParseAddress(options_.address);
  if (!addr.ok()) return addr.status();
  impl_ = std::make_shared<Impl>();
  impl_->o = &options_;
  boost::system::error_code ec;
  if (options_.udp) {
    udp::endpoint ep(addr->first, addr->second);
    impl_->udp_sock.emplace(impl_->io);
    impl_->udp_sock->open(ep.protocol(), ec);
    if (!ec) impl_->udp_sock->bind(ep, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("error setting up listener on ", options_.address, ": ", ec.message()));
    }
    impl_->udp_sock->set_option(udp::socket::receive_buffer_size(1 << 20), ec);
    port_ = impl_->udp_sock->local_endpoint().port();
    // One byte more than kept: a datagram that fills it was longer and is marked cut.
    impl_->udp_buf.resize(options_.read_size + 1);
    impl_->Receive();
  } else {
    if (options_.tls) {
      const NetListenerTls& t = *options_.tls;
      if ((t.cert_pem.empty() && t.cert_file.empty()) ||
          (t.key_pem.empty() && t.key_file.empty())) {
        return absl::InvalidArgumentError(
            "error setting up syslog target: certificate and key must be configured");
      }
      impl_->ssl.emplace(asio::ssl::context::tls_server);
      asio::ssl::context& ctx = *impl_->ssl;
      ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                          asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                          asio::ssl::context::no_tlsv1_1,
                      ec);
      if (!t.cert_file.empty()) {
        ctx.use_certificate_chain_file(t.cert_file, ec);
      } else {
        ctx.use_certificate_chain(asio::buffer(t.cert_pem), ec);
      }
      if (ec) {
        return absl::InvalidArgumentError(absl::StrCat(
            "error setting up syslog target: unable to load server certificate: ", ec.message()));
      }
      if (!t.key_file.empty()) {
        ctx.use_private_key_file(t.key_file, asio::ssl::context::pem, ec);
      } else {
        ctx.use_private_key(asio::buffer(t.key_pem), asio::ssl::context::pem, ec);
      }
      if (ec) {
        return absl::InvalidArgumentError(absl::StrCat(
            "error setting up syslog target: unable to load server key: ", ec.message()));
      }
      if (!t.ca_file.empty() || !t.ca_pem.empty()) {
        if (!t.ca_file.empty()) {
          ctx.load_verify_file(t.ca_file, ec);
        } else {
          ctx.add_certificate_authority(asio::buffer(t.ca_pem), ec);
        }
        if (ec) {
          return absl::InvalidArgumentError(absl::StrCat(
              "error setting up syslog target: unable to parse client CA certificate: ",
              ec.message()));
        }
        ctx.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert, ec);
      }
    }
    tcp::endpoint ep(addr->first, addr->second);
    impl_->acceptor.emplace(impl_->io);
    impl_->acceptor->open(ep.protocol(), ec);
    if (!ec) impl_->acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) impl_->acceptor->bind(ep, ec);
    if (!ec) impl_->acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("error setting up listener on ", options_.address, ": ", ec.message()));
    }
    port_ = impl_->acceptor->local_endpoint().port();
    impl_->Accept();
  }
  thread_ = StartThread(options_.thread_name, [impl = impl_.get()] { impl->io.run(); });
  return absl::OkStatus();
}

void NetListener::Stop() {
  if (impl_ == nullptr) return;
  asio::post(impl_->io, [impl = impl_] {
    impl->stopping = true;
    boost::system::error_code ec;
    if (impl->acceptor) impl->acceptor->close(ec);
    if (impl->udp_sock) impl->udp_sock->close(ec);
    auto conns = impl->conns;
    for (const auto& c : conns) c->Close();
    impl->io.stop();
  });
  if (thread_.joinable()) thread_.join();
  impl_->conns.clear();
  impl_.reset();
}

}  // namespace sluice
