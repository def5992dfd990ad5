#include "agent/server/service.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "agent/common/digest.h"
#include "agent/common/log.h"
#include "agent/common/thread.h"

namespace sluice {

AgentService::AgentService(RuntimeOptions options, MetricsRegistry* metrics)
    : options_(std::move(options)), metrics_(metrics), load_metrics_(metrics) {
  reloads_ = metrics->GetCounter("sluice_config_reloads_total",
                                 "Configuration reloads that replaced the running graph.");
  // From the tail thread: the reload itself runs on the poller thread (it drains the graph
  // whose thread asked).
  options_.request_reload = [this] {
    {
      std::lock_guard<std::mutex> lock(poll_mu_);
      reload_requested_ = true;
    }
    poll_cv_.notify_all();
  };
}

AgentService::~AgentService() { Shutdown(); }

void AgentService::PollImports() {
  std::unique_lock<std::mutex> lock(poll_mu_);
  while (!stopping_) {
    poll_cv_.wait_for(lock, std::chrono::seconds(1));
    if (stopping_) break;
    const bool requested = reload_requested_;
    reload_requested_ = false;
    lock.unlock();
    if (requested) {
      (void)Reload();
      lock.lock();
      continue;
    }
    std::shared_ptr<Runtime> rt;
    {
      std::lock_guard<std::mutex> l(mu_);
      rt = runtime_;
    }
    if (rt != nullptr && rt->has_imports() && rt->ImportsChanged()) (void)Reload();
    lock.lock();
  }
}

void AgentService::RecordLoad(bool ok) {
  if (ok) {
    load_metrics_.Succeeded(ConfigHash(), absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch()));
  } else {
    load_metrics_.Failed();
  }
}

std::string AgentService::ConfigHash() const {
  namespace fs = std::filesystem;
  if (!options_.config_text.empty()) return Sha256Hex(options_.config_text);
  std::error_code ec;
  std::vector<std::string> files;
  if (fs::is_directory(options_.config_path, ec)) {
    for (const auto& e : fs::directory_iterator(options_.config_path, ec)) {
      if (e.path().extension() == ".alloy") files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(options_.config_path);
  }
  std::string all;
  for (const std::string& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) return "";
    absl::StrAppend(&all, f, std::string(1, '\0'));
    all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return Sha256Hex(all);
}

absl::Status AgentService::Start() {
  std::lock_guard<std::mutex> reload(reload_mu_);
  std::string error;
  std::unique_ptr<Runtime> rt = Runtime::Load(options_, metrics_, &error);
  RecordLoad(rt != nullptr);
  if (rt == nullptr) return absl::InvalidArgumentError(error);
  absl::Status st = rt->Start();
  if (!st.ok()) return st;
  {
    std::lock_guard<std::mutex> lock(mu_);
    runtime_ = std::move(rt);
    running_ = true;
  }
  poller_ = StartThread("sluice-imports", [this] { PollImports(); });
  return absl::OkStatus();
}

absl::Status AgentService::Reload() {
  std::lock_guard<std::mutex> reload(reload_mu_);
  std::string error;
  // Built, not started: the running graph is untouched until the new one is known to be good.
  std::unique_ptr<Runtime> next = Runtime::Load(options_, metrics_, &error);
  if (next == nullptr) {
    RecordLoad(false);
    LogError("agent", "reload refused: the new configuration is invalid; the running one stays",
             {{"config", options_.config_path}, {"error", error}});
    return absl::InvalidArgumentError(error);
  }
  std::shared_ptr<Runtime> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old = runtime_;
    running_ = false;  // not ready while the graphs change hands
  }
  if (old != nullptr) {
    old->Shutdown();
    aborted_bytes_ += old->aborted_bytes();
  }
  absl::Status st = next->Start();
  RecordLoad(st.ok());
  if (!st.ok()) {
    LogError("agent", "reload failed to start the new configuration",
             {{"error", std::string(st.message())}});
    return st;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    runtime_ = std::move(next);
    running_ = true;
  }
  reloads_->Inc();
  LogInfo("agent", "configuration reloaded", {{"config", options_.config_path}});
  return absl::OkStatus();
}

void AgentService::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(poll_mu_);
    stopping_ = true;
  }
  poll_cv_.notify_all();
  if (poller_.joinable() && poller_.get_id() != std::this_thread::get_id()) poller_.join();
  std::lock_guard<std::mutex> reload(reload_mu_);
  std::shared_ptr<Runtime> rt;
  {
    std::lock_guard<std::mutex> lock(mu_);
    rt = std::move(runtime_);
    running_ = false;
  }
  if (rt != nullptr) {
    rt->Shutdown();
    aborted_bytes_ += rt->aborted_bytes();
  }
}

bool AgentService::Ready() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_ && runtime_ != nullptr;
}

std::vector<std::string> AgentService::Unhealthy() const {
  std::shared_ptr<Runtime> rt;
  {
    std::lock_guard<std::mutex> lock(mu_);
    rt = runtime_;
  }
  if (rt == nullptr) return {};
  return rt->Unhealthy();
}

std::vector<std::string> AgentService::Degraded() const {
  std::shared_ptr<Runtime> rt;
  {
    std::lock_guard<std::mutex> lock(mu_);
    rt = runtime_;
  }
  if (rt == nullptr) return {};
  return rt->Degraded();
}

size_t AgentService::aborted_bytes() const { return aborted_bytes_; }

HttpReply AgentService::Handle(const std::string& method, const std::string& target) {
  std::string path = target.substr(0, target.find('?'));
  bool read = method == "GET" || method == "HEAD";
  if (path == "/metrics") {
    if (!read) return {405, "text/plain; charset=utf-8", "method not allowed\n"};
    return {200, "text/plain; version=0.0.4; charset=utf-8", metrics_->RenderPrometheus()};
  }
  if (path == "/-/ready") {
    if (Ready()) return {200, "text/plain; charset=utf-8", "sluice is ready.\n"};
    return {503, "text/plain; charset=utf-8", "sluice is not ready.\n"};
  }
  if (path == "/-/healthy") {
    // 500 only for what is failing inside sluice (a liveness probe may restart it); a Loki or a
    // kubelet that fails is named, with 200: restarting the agent would not bring it back, and
    // a restart loop through an outage would only risk losing files that rotate meanwhile.
    std::vector<std::string> bad = Unhealthy();
    std::vector<std::string> degraded = Degraded();
    std::string also;
    if (!degraded.empty()) {
      also = absl::StrCat("degraded (their remote side fails; a restart would not help): ",
                          absl::StrJoin(degraded, ", "), "\n");
    }
    if (bad.empty()) {
      return {200, "text/plain; charset=utf-8",
              absl::StrCat("All sluice components are healthy.\n", also)};
    }
    return {500, "text/plain; charset=utf-8",
            absl::StrCat("unhealthy components: ", absl::StrJoin(bad, ", "), "\n", also)};
  }
  if (path == "/-/reload") {
    if (method != "GET" && method != "POST") {
      return {405, "text/plain; charset=utf-8", "method not allowed\n"};
    }
    absl::Status st = Reload();
    if (st.ok()) return {200, "text/plain; charset=utf-8", "config reloaded\n"};
    int code = st.code() == absl::StatusCode::kInvalidArgument ? 400 : 500;
    return {code, "text/plain; charset=utf-8", std::string(st.message())};
  }
  return {404, "text/plain; charset=utf-8", "404 page not found\n"};
}

}  // namespace sluice
