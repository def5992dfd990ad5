// NetListener: a TCP (optionally TLS) or UDP listener on a thread of its own, for the push
// sources that speak raw sockets (loki.source.syslog, loki.source.gelf). It owns the sockets;
// what the bytes mean is the caller's: a Connection per accepted TCP stream, a callback per UDP
// datagram.
//
// Threads: Start() and Stop() run on the caller's thread (the tail thread); every callback
// (the factory, Connection methods, the datagram callback, `paused`) runs on the listener's own
// I/O thread, one at a time. Owned by its component; Stop() joins the thread before returning,
// so callbacks never run after it.
//
// Bounded: at most max_connections open streams (more are accepted and closed at once, counted
// by on_rejected); one read buffer per stream; a stream with no data for idle_timeout is closed
// (on_idle). Backpressure: while paused() is true a stream's next read waits (polled every
// 20 ms), so the sender sees TCP flow control; datagrams keep being read (UDP has no flow
// control) and it is the callback's to count what it drops.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace sluice {

struct NetListenerTls {
  // PEM text or files, as Alloy's tls_config: a certificate and key are required; a CA makes
  // the listener require and verify client certificates.
  std::string cert_pem, cert_file, key_pem, key_file, ca_pem, ca_file;
};

class NetListener {
 public:
  class Connection {
   public:
    virtual ~Connection() = default;
    // Bytes read; false closes the stream.
    virtual bool OnData(std::string_view data) = 0;
    // The stream ended (end of data, error, idle, Stop): called once, last.
    virtual void OnClose(bool eof) = 0;
  };
  struct Options {
    std::string address;  // host:port; "" host or "0.0.0.0" means every IPv4 address
    bool udp = false;
    std::optional<NetListenerTls> tls;
    absl::Duration idle_timeout = absl::Minutes(2);
    size_t max_connections = 4096;
    size_t read_size = 64 * 1024;  // UDP: the largest datagram kept (longer ones are cut)
    std::string thread_name = "sluice-net";
    // Called on the I/O thread.
    std::function<std::unique_ptr<Connection>(const std::string& ip, const std::string& host)>
        connection;
    std::function<void(std::string_view data, const std::string& ip, const std::string& host,
                       bool truncated)>
        datagram;
    std::function<bool()> paused;
    std::function<void()> on_rejected, on_idle, on_tls_error;
    // Reverse-resolve peers (Alloy's __syslog_connection_hostname).
    bool resolve_hostnames = false;
  };

  explicit NetListener(Options o);
  ~NetListener();
  NetListener(const NetListener&) = delete;
  NetListener& operator=(const NetListener&) = delete;

  // Binds (errors are returned: a bad address, a port in use, unreadable certificates) and
  // starts the I/O thread.
  absl::Status Start();
  // Closes everything and joins the thread. Idempotent.
  void Stop();
  int port() const { return port_; }

  struct Impl;

 private:
  Options options_;
  std::shared_ptr<Impl> impl_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace sluice
