// discovery.docker: the containers of a Docker Engine as targets, as Alloy's component (which is
// Prometheus' docker SD): GET /containers/json (with the `filter` blocks) and GET /networks every
// refresh_interval, turned into targets by DockerTargets (agent/source/docker_api.h). A refresh
// that fails keeps the last targets, is counted (prometheus_sd_refresh_failures_total, Alloy's
// name) and logged, and makes the component degraded until one succeeds.
//
// The requests run on a thread of the component's own ("sluice-dockersd"): the engine may be slow
// or away. New targets are posted to the tail thread, exported there and the dependents told.
// Owned by the Runtime.
#include <atomic>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/common/thread.h"
#include "agent/components/component.h"
#include "agent/go/strconv.h"
#include "agent/sink/endpoint_config.h"
#include "agent/sink/loki_sink.h"
#include "agent/source/docker_api.h"

namespace sluice {
namespace {

class DiscoveryDocker final : public Component {
 public:
  DiscoveryDocker(const config::Component& c, ComponentEnv& env) : Component(c.id), env_(&env) {}
  ~DiscoveryDocker() override { StopReading(); }

  bool Build(const config::Block& args, config::Diags* diags) {
    config::Decoder d(args, diags);
    std::string host;
    d.String("host", &host, config::Required::kYes);
    int64_t port = 80;
    d.Int("port", &port);
    d.String("host_networking_host", &options_.host_networking_host);
    d.Duration("refresh_interval", &refresh_);
    d.Bool("match_first_network", &options_.match_first_network);
    std::vector<std::pair<std::string, std::vector<std::string>>> filters;
    for (const config::Block* fb : d.Blocks("filter")) {
      config::Decoder fd(*fb, diags);
      std::string name;
      std::vector<std::string> values;
      fd.String("name", &name, config::Required::kYes);
      fd.StringList("values", &values, config::Required::kYes);
      if (fd.Finish()) filters.emplace_back(std::move(name), std::move(values));
    }
    HttpClientConfig http;
    std::optional<std::string> client_error = DecodeHttpClientConfig(d, &http);
    if (!d.Finish()) return false;
    if (host.empty()) {
      d.ErrorAt("host", "host attribute must not be empty");
      return false;
    }
    if (refresh_ <= absl::ZeroDuration()) {
      d.ErrorAt("refresh_interval", "refresh_interval must be greater than 0");
      return false;
    }
    if (client_error) {
      diags->Add(args.span, *client_error);
      return false;
    }
    absl::StatusOr<DockerEndpoint> ep = ParseDockerHost(host);
    if (!ep.ok()) {
      d.ErrorAt("host", std::string(ep.status().message()));
      return false;
    }
    options_.port = static_cast<int>(port);
    endpoint_ = *ep;
    http_ = HttpClientOptionsFromEndpoint(http);
    list_path_ = "/containers/json";
    if (!filters.empty()) {
      list_path_ += "?filters=" + GoQueryEscape(DockerFiltersJson(filters));
    }
    failures_ =
        env_->metrics->GetCounter("prometheus_sd_refresh_failures_total",
                                  "Number of refresh failures for the given SD mechanism.", [&] {
                                    MetricLabels l = ComponentLabels(id());
                                    l.push_back({"mechanism", "docker"});
                                    return l;
                                  }());
    config::Object exports;
    exports["targets"] = TargetsToValue({});
    env_->Export(id(), std::move(exports));
    return true;
  }

  bool Update(const config::Block&, config::Diags*) override { return true; }
  bool UpdatesInPlace() const override { return false; }

  absl::Status Start() override {
    if (env_->options->validate_only) return absl::OkStatus();
    thread_ = StartThread("sluice-dockersd", [this] { Run(); });
    return absl::OkStatus();
  }
  void StopReading() override {
    alive_->store(false);
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      if (client_ != nullptr) client_->Cancel();
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  std::optional<std::string> Degraded() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      auto client = std::make_unique<DockerClient>(endpoint_, http_);
      DockerClient* c = client.get();
      client_ = std::move(client);
      lock.unlock();
      Refresh(c);
      lock.lock();
      client_.reset();
      cv_.wait_for(lock, absl::ToChronoMilliseconds(refresh_), [this] { return stop_; });
    }
  }

  void Refresh(DockerClient* c) {
    // The HTTP client's timeout is the refresh interval, as Prometheus'.
    absl::StatusOr<std::string> containers = c->Get(list_path_, refresh_);
    absl::StatusOr<std::string> networks =
        containers.ok() ? c->Get("/networks", refresh_) : containers.status();
    absl::StatusOr<std::vector<LabelSet>> targets =
        networks.ok() ? DockerTargets(*containers, *networks, options_) : networks.status();
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    if (!targets.ok()) {
      failures_->Inc();
      std::string msg =
          absl::StrCat("error while listing containers: ", targets.status().message());
      if (error_ != msg) {
        LogWarn("discovery.docker", "refresh failed; the last targets stay",
                {{"component_id", id()}, {"error", msg}});
      }
      error_ = msg;
      return;
    }
    error_.reset();
    if (published_ && *targets == last_) return;
    last_ = *targets;
    published_ = true;
    boost::asio::post(*env_->io, [this, alive = alive_, t = std::move(*targets)] {
      if (!alive->load()) return;  // stopped meanwhile: the component may be gone
      config::Object exports;
      exports["targets"] = TargetsToValue(t);
      env_->Export(id(), std::move(exports));
      env_->exports_changed(id());
    });
  }

  ComponentEnv* env_;
  DockerEndpoint endpoint_;
  HttpClientOptions http_;
  DockerSdOptions options_;
  std::string list_path_;
  absl::Duration refresh_ = absl::Minutes(1);
  Counter* failures_ = nullptr;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                     // guarded by mu_
  std::unique_ptr<DockerClient> client_;  // guarded by mu_: the one in use, for Cancel
  std::optional<std::string> error_;      // guarded by mu_
  std::vector<LabelSet> last_;            // guarded by mu_
  bool published_ = false;                // guarded by mu_
  std::thread thread_;
  // Read by the jobs posted to the tail thread (which run there, as StopReading does).
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
};

}  // namespace

std::unique_ptr<Component> BuildDiscoveryDocker(const config::Component& c,
                                                const config::Block& args, ComponentEnv& env,
                                                config::Diags* diags) {
  auto comp = std::make_unique<DiscoveryDocker>(c, env);
  if (!comp->Build(args, diags)) return nullptr;
  return comp;
}

}  // namespace sluice
