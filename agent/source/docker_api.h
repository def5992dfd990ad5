// The Docker Engine API as discovery.docker and loki.source.docker use it.
//
//  - DockerEndpoint: where the engine listens, from Alloy's `host` (unix:///var/run/docker.sock,
//    tcp://host:port and http://host:port as plain HTTP, https://host:port).
//  - DockerTargets: GET /containers/json and GET /networks turned into the targets of
//    Prometheus' docker SD (discovery/moby), which Alloy's discovery.docker is: per container,
//    per network (only the first by name when match_first_network), one target per TCP port or
//    one without a port, with __meta_docker_container_{id,name,network_mode,label_<name>},
//    __meta_docker_network_{id,name,scope,internal,ingress,ip,label_<name>},
//    __meta_docker_port_{private,public,public_ip} and __address__.
//  - ParseDockerInspect: of GET /containers/{id}/json what a tailer needs.
//  - DockerClient: those requests over libcurl (a unix socket or TCP).
//
// Pure functions: any thread. A DockerClient is used by one thread at a time (Cancel from any).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/pipeline/labels.h"
#include "agent/sink/asio_http_client.h"
#include "agent/sink/http_client.h"

namespace sluice {

struct DockerEndpoint {
  std::string base_url;     // "http://localhost" for a unix socket; no trailing slash
  std::string socket_path;  // the unix socket, or ""
};

// InvalidArgument for a host sluice cannot reach (another scheme, no path).
absl::StatusOr<DockerEndpoint> ParseDockerHost(std::string_view host);

struct DockerSdOptions {
  int port = 80;
  std::string host_networking_host = "localhost";
  bool match_first_network = true;
};

// Targets from the JSON of GET /containers/json and GET /networks.
absl::StatusOr<std::vector<LabelSet>> DockerTargets(std::string_view containers_json,
                                                    std::string_view networks_json,
                                                    const DockerSdOptions& options);

struct DockerInspect {
  bool tty = false;
  bool running = false;
  int64_t finished_unix = 0;  // State.FinishedAt in seconds; 0 when unset or unparseable
};
absl::StatusOr<DockerInspect> ParseDockerInspect(std::string_view json);

// The `filters` query value: {"name":["v1","v2"],...} as the Docker client sends it.
std::string DockerFiltersJson(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& filters);

class DockerClient {
 public:
  explicit DockerClient(DockerEndpoint endpoint, HttpClientOptions http = {});

  // GET <path> (with its query): the body of a 200, NotFound for a 404, Unavailable otherwise.
  absl::StatusOr<std::string> Get(const std::string& path, absl::Duration timeout);
  // GET <path> whose 200 body goes to `on_data` until the engine ends it or `on_data` returns
  // false; NotFound for a 404.
  absl::Status Stream(const std::string& path,
                      const std::function<bool(std::string_view)>& on_data);
  // Makes the request in flight, and every later one, fail at once. Any thread.
  void Cancel() { http_->Cancel(); }

 private:
  DockerEndpoint endpoint_;
  std::unique_ptr<HttpClient> http_;
};

// Go's model.LabelSet.String() of `labels` with every label, "__" ones included (Alloy's
// positions key for a container).
std::string RenderAllLabels(const LabelSet& labels);

}  // namespace sluice
