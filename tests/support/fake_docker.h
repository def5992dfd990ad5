// FakeDocker: an in-process fake of the Docker Engine API on a unix socket, for tests of
// discovery.docker and loki.source.docker (there is no Docker daemon on the test machines).
//
// Serves GET /containers/json (filters "name", "id", "label"), /networks,
// /containers/{id}/json and /containers/{id}/logs (stdout, stderr, timestamps, since as Unix
// seconds with an optional fraction, follow), with or without an API version prefix ("/v1.43").
// Logs are what the test appended: non-TTY containers answer the multiplexed stream (8-byte frame
// headers; a line longer than 16 KiB cut into several frames, each with its timestamp, as
// Docker's log copier does), TTY containers the raw stream with "\r\n" line ends; both in chunked
// transfer encoding. A followed stream gets lines appended later, and ends when its container
// stops (after everything), is removed, or DropStreams() cuts it.
//
// Threads: Start() spawns an acceptor thread and one thread per connection (one request each,
// then the connection closes). Every public method is thread-safe. Owned by the test; Stop() and
// the destructor end every stream and join every thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace sluice::testing {

struct FakeDockerPort {
  int private_port = 0;
  int public_port = 0;  // 0: not published
  std::string ip;       // of the published port
  std::string type = "tcp";
};

struct FakeDockerContainer {
  std::string id;    // 64 hex digits usually; any text works
  std::string name;  // with Docker's leading "/"
  std::string image = "busybox";
  std::map<std::string, std::string> labels;
  bool tty = false;
  bool running = true;
  std::string network_mode = "bridge";
  std::map<std::string, std::string> networks;  // network name -> IP address
  std::vector<FakeDockerPort> ports;
};

struct FakeDockerNetwork {
  std::string id;
  std::string name;
  std::string scope = "local";
  bool internal = false;
  std::map<std::string, std::string> labels;
};

class FakeDocker {
 public:
  FakeDocker();
  ~FakeDocker();
  FakeDocker(const FakeDocker&) = delete;
  FakeDocker& operator=(const FakeDocker&) = delete;

  // Listens on `socket_path` (removed first if it exists).
  absl::Status Start(const std::string& socket_path);
  void Stop();

  void AddNetwork(FakeDockerNetwork n);
  void AddContainer(FakeDockerContainer c);
  // The container is gone: 404 from now on, its streams end.
  void RemoveContainer(const std::string& id);
  // Stopping ends its followed streams once they sent everything; starting lets them be opened.
  void SetRunning(const std::string& id, bool running);
  // Appends a log line (without newline) to stream 1 (stdout) or 2 (stderr) at `ts_ns` (0: now,
  // but never before the container's last line).
  void AppendLog(const std::string& id, const std::string& text, int stream = 1, int64_t ts_ns = 0);
  // Cuts every open logs stream (the connections close mid-way).
  void DropStreams();
  // Writes every chunk of a logs stream in pieces of at most this many bytes (1 splits every
  // frame header across reads). 0: whole chunks.
  void SetWriteSplit(size_t bytes);

  // Requests served, as "GET /path?query".
  std::vector<std::string> Requests() const;
  // Logs streams open now.
  int OpenStreams() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::testing
