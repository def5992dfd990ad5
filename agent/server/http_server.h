// HttpServer: the agent's HTTP endpoints (/metrics, /-/ready, /-/healthy, /-/reload), as Alloy
// serves them on --server.http.listen-addr.
//
// Boost.Beast, asynchronous, on an io_context and two threads of its own rather than the
// tail thread's: a scrape or a reload request must be answered while the pipeline's event loop is
// busy or being replaced (a reload drains the running graph and builds a new one, which can take
// seconds), and a slow scraper must never delay reading. Handlers run on the server threads,
// except for the paths given as slow (/-/reload: it waits for the old graph to drain, up to
// --shutdown-timeout), which run one at a time on a worker thread of their own, their reply
// written back by the server threads: two reloads never leave /metrics and /-/healthy
// unanswered. At most kMaxSlowPending slow requests wait; more are answered 503 at once. What
// handlers call (the metrics registry, the agent's status and reload) is thread-safe.
//
// Bounded: at most kMaxConnections connections at once (more are closed at accept), request
// headers and body limited to 64 KiB, 30s to send a request. HTTP/1.1 keep-alive.
//
// Owned by main(); Start() binds (an error names the address), Stop() closes the listener and
// every connection and joins the thread.
//
// The same server also serves components' listeners (loki.source.api) through the request
// constructor: the handler gets the whole request (headers, body up to Options::max_body) and
// answers through a Responder, from any thread and later (once the entries are in the pipeline).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace sluice {

struct HttpReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// A whole request, for the request handler.
struct ServerRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // names as sent
  std::string body;
  // The first value of header `name` (case-insensitive), or "".
  std::string_view Header(std::string_view name) const;
};

class HttpServer {
 public:
  // (method, target) -> reply. Called on the server thread.
  using Handler = std::function<HttpReply(const std::string& method, const std::string& target)>;
  // Answers a request; call exactly once, from any thread. Dropping it unanswered answers 503.
  using Responder = std::function<void(HttpReply)>;
  using RequestHandler = std::function<void(ServerRequest request, Responder respond)>;
  struct Options {
    size_t max_body = 64 * 1024;                      // larger bodies are answered 413
    int max_connections = 64;                         // 0: kMaxConnections
    absl::Duration read_timeout = absl::Seconds(30);  // to receive a whole request
    std::string thread_name = "sluice-http";
  };
  static constexpr int kMaxConnections = 64;
  static constexpr size_t kMaxSlowPending = 4;

  // `slow_paths`: request paths (without the query) whose handler runs on the worker thread.
  explicit HttpServer(Handler handler, std::vector<std::string> slow_paths = {});
  HttpServer(RequestHandler handler, Options options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds `listen_addr` ("host:port", "[v6]:port", ":port" for every address) and serves.
  absl::Status Start(const std::string& listen_addr);
  void Stop();
  int port() const;             // the bound port (0 before Start), for listen addresses with port 0
  size_t slow_pending() const;  // slow requests waiting for the worker (tests)

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice
