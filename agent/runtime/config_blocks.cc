#include "agent/runtime/config_blocks.h"

#include <boost/asio/post.hpp>

#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/common/strings.h"
#include "agent/components/component.h"

namespace sluice {

struct LogForwarder::State {
  boost::asio::io_context* io;
  const Clock* clock;
  std::vector<LogsNode*> receivers;
  Counter* dropped;
  Counter* forwarded;
  std::mutex mu;
  struct Line {
    int64_t ts_ns;
    std::string text;
  };
  std::deque<Line> queue;  // guarded by mu
  size_t bytes = 0;        // guarded by mu
  bool posted = false;     // guarded by mu: a drain is on the tail thread's queue
  bool stopped = false;    // guarded by mu

  // Tail thread: hands every queued line to the receivers.
  void Drain() {
    std::deque<Line> lines;
    {
      std::lock_guard<std::mutex> lock(mu);
      posted = false;
      if (stopped) return;
      lines.swap(queue);
      bytes = 0;
    }
    ProcessEntry entry;
    for (Line& l : lines) {
      for (size_t i = 0; i < receivers.size(); ++i) {
        entry = ProcessEntry{};
        entry.labels.Set("component", "alloy");
        entry.timestamp_ns = l.ts_ns;
        entry.line = i + 1 == receivers.size() ? std::move(l.text) : l.text;
        receivers[i]->Push(entry);
      }
      forwarded->Inc();
    }
  }
};

LogForwarder::LogForwarder(boost::asio::io_context* io, const Clock* clock,
                           MetricsRegistry* metrics, std::vector<LogsNode*> receivers)
    : state_(std::make_shared<State>()) {
  state_->io = io;
  state_->clock = clock;
  state_->receivers = std::move(receivers);
  state_->dropped = metrics->GetCounter(
      "sluice_logging_write_to_dropped_total",
      "Log lines of sluice itself not handed to logging.write_to: its queue was full.", {});
  state_->forwarded = metrics->GetCounter(
      "sluice_logging_write_to_lines_total",
      "Log lines of sluice itself handed to the receivers of logging.write_to.", {});
}

LogForwarder::~LogForwarder() { Stop(); }

void LogForwarder::Start() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stopped = false;
  }
  // Stop() (the destructor's too) removes the tap and waits for its calls: `this` outlives them.
  SetLogTap(std::make_shared<const LogTap>([this](std::string_view line) { Enqueue(line); }));
}

void LogForwarder::Stop() {
  SetLogTap(nullptr);
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->stopped = true;
  state_->queue.clear();
  state_->bytes = 0;
}

void LogForwarder::Enqueue(std::string_view line) {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.stopped) return;
  if (s.bytes + line.size() > kMaxQueuedBytes) {
    s.dropped->Inc();
    return;
  }
  s.queue.push_back({s.clock->NowUnixNanos(), std::string(line)});
  s.bytes += line.size();
  if (!s.posted) {
    s.posted = true;
    // The state outlives the posted drain even if the forwarder is gone by then.
    boost::asio::post(*s.io, [st = state_] { st->Drain(); });
  }
}

namespace {

void Warn(const std::string& block, const std::string& what) {
  LogWarn("config", absl::StrCat(block, ": ", what));
}

bool ApplyLogging(const config::Block& b, ComponentEnv& env,
                  std::unique_ptr<LogForwarder>* forwarder, config::Diags* diags) {
  config::Decoder d(b, diags);
  std::string level = "info";
  std::string format = "logfmt";
  std::string destination = "stderr";
  if (d.String("level", &level)) {
    LogLevel l;
    if (!ParseLogLevel(level, &l)) {
      d.ErrorAt("level", absl::StrCat("unrecognized log level \"", Av(level), "\""));
    } else {
      SetLogLevel(l);
    }
  }
  if (d.String("format", &format)) {
    if (format == "logfmt" || format == "json") {
      SetLogFormat(format == "json" ? LogOutputFormat::kJson : LogOutputFormat::kLogfmt);
    } else {
      d.ErrorAt("format", absl::StrCat("unrecognized log format \"", Av(format), "\""));
    }
  }
  if (d.String("destination", &destination) && destination != "stderr") {
    d.ErrorAt("destination", absl::StrCat("unrecognized log destination \"", Av(destination),
                                          "\" (sluice logs to stderr)"));
  }
  std::vector<LogsNode*> receivers;
  if (!env.Receivers(d, &receivers, nullptr, "write_to")) return false;
  if (!receivers.empty()) {
    *forwarder =
        std::make_unique<LogForwarder>(env.io, env.clock, env.metrics, std::move(receivers));
  }
  return d.Finish();
}

bool ApplyLiveDebugging(const config::Block& b, config::Diags* diags) {
  config::Decoder d(b, diags);
  bool enabled = false;
  if (d.Bool("enabled", &enabled) && enabled) {
    Warn("livedebugging", "enabled = true has no effect: sluice has no live debugging UI");
  }
  return d.Finish();
}

bool ApplyTracing(const config::Block& b, config::Diags* diags) {
  config::Decoder d(b, diags);
  double fraction = 0.1;
  bool traceparent = false;
  d.Float("sampling_fraction", &fraction);
  d.Bool("send_traceparent", &traceparent);
  const config::Attr* write_to = d.Get("write_to");
  const bool writes = write_to != nullptr &&
                      write_to->value.kind() == config::Value::Kind::kArray &&
                      !write_to->value.as_array().empty();
  const config::Block* sampler = d.OptionalBlock("sampler");
  if (writes || sampler != nullptr || traceparent) {
    Warn("tracing", "sluice records no traces of itself; the block has no effect");
  }
  return d.Finish();
}

bool ApplyRemoteCfg(const config::Block& b, config::Diags* diags) {
  config::Decoder d(b, diags);
  std::string url;
  d.String("url", &url);
  absl::Duration poll = absl::Minutes(1);
  if (d.Duration("poll_frequency", &poll) && poll < absl::Seconds(10)) {
    d.ErrorAt("poll_frequency", absl::StrCat("poll_frequency must be at least \"10s\", got \"",
                                             absl::FormatDuration(poll), "\""));
  }
  std::map<std::string, std::string> attributes;
  if (d.StringMap("attributes", &attributes)) {
    for (const auto& [k, v] : attributes) {
      if (k.rfind("collector.", 0) == 0) {
        d.ErrorAt("attributes",
                  "\"collector\" is a reserved namespace for remotecfg attribute keys");
        break;
      }
    }
  }
  // The HTTP client's arguments: accepted, used by nothing.
  for (const char* name : {"id", "name", "bearer_token", "bearer_token_file", "enable_http2",
                           "follow_redirects", "http_headers", "proxy_url", "no_proxy",
                           "proxy_from_environment", "proxy_connect_header"}) {
    d.Get(name);
  }
  for (const char* name : {"basic_auth", "authorization", "oauth2", "tls_config"}) {
    d.OptionalBlock(name);
  }
  if (!url.empty()) {
    Warn("remotecfg",
         absl::StrCat("url \"", url, "\" is not polled: sluice runs only its local configuration"));
  }
  return d.Finish();
}

}  // namespace

bool ApplyConfigBlock(const std::string& name, const config::Block& b, ComponentEnv& env,
                      std::unique_ptr<LogForwarder>* forwarder, config::Diags* diags) {
  if (name == "logging") return ApplyLogging(b, env, forwarder, diags);
  if (name == "livedebugging") return ApplyLiveDebugging(b, diags);
  if (name == "tracing") return ApplyTracing(b, diags);
  if (name == "remotecfg") return ApplyRemoteCfg(b, diags);
  return true;
}

const std::vector<std::string>& ConfigBlockNames() {
  static const std::vector<std::string> kNames = {"logging", "livedebugging", "tracing",
                                                  "remotecfg"};
  return kNames;
}

}  // namespace sluice
