// loki.source.syslog: syslog listeners (RFC 5424 or RFC 3164 messages, TCP with octet counting
// or newline framing, optionally TLS, or UDP), as Alloy's component. Each `listener` block is
// one NetListener on a thread of its own; a message becomes an entry whose labels are the
// listener's `labels`, the __syslog_* labels Alloy sets (connection address and hostname,
// severity, facility, hostname, app name, proc id, msg id, structured data with
// label_structured_data), then the component's relabel_rules; labels starting with "__" go.
// The line is the MSG part (the whole RFC 5424 message with use_rfc5424_message); the timestamp
// the receive time unless use_incoming_timestamp.
//
// Metrics: Alloy's loki_source_syslog_entries_total, loki_source_syslog_parsing_errors_total
// (also: unknown framing, over-long messages, streams cut short), and
// loki_source_syslog_empty_messages_total; sluice's own for what Alloy does not count: UDP
// datagrams dropped under backpressure or cut at max_message_length, connections refused at the
// limit, closed idle, failed TLS handshakes.
//
// Threads: decoding, parsing and relabelling run on the listeners' I/O threads; entries are
// handed to the receivers in one batch per read on the tail thread. Backpressure: while the
// pipeline holds the memory budget a TCP stream is not read (the sender blocks), a UDP datagram
// is dropped and counted. Built on the loading thread, owned by the Runtime.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/common/strings.h"
#include "agent/components/component.h"
#include "agent/relabel/relabel.h"
#include "agent/runtime/listener_hand_off.h"
#include "agent/source/net_listener.h"
#include "agent/source/syslog_parser.h"

namespace sluice {
namespace {

constexpr size_t kDefaultMaxMessageLength = 8192;

struct ListenerConfig {
  std::string address;
  std::string protocol = "tcp";
  absl::Duration idle_timeout = absl::Seconds(120);
  bool label_structured_data = false;
  std::map<std::string, std::string> labels;
  bool use_incoming_timestamp = false;
  bool use_rfc5424_message = false;
  bool rfc3164_default_to_current_year = false;
  bool rfc5424_allow_empty_msg = false;
  size_t max_message_length = kDefaultMaxMessageLength;
  std::optional<NetListenerTls> tls;
  SyslogStream::Format format = SyslogStream::Format::kRfc5424;
};

struct SyslogMetrics {
  Counter* entries = nullptr;
  Counter* parsing_errors = nullptr;
  Counter* empty = nullptr;
  Counter* udp_dropped = nullptr;
  Counter* udp_truncated = nullptr;
  Counter* rejected = nullptr;
  Counter* idle = nullptr;
  Counter* tls_errors = nullptr;
  Counter* shutdown_dropped = nullptr;
};

class LokiSourceSyslog;

// Turns parsed messages into entries for one listener (I/O thread).
class EntryMaker {
 public:
  EntryMaker(const ListenerConfig* cfg, const LokiSourceSyslog* owner) : cfg_(cfg), owner_(owner) {}
  void Add(absl::StatusOr<SyslogMessage> m, const LabelSet& conn_labels,
           std::vector<ProcessEntry>* out, size_t* bytes);

 private:
  const ListenerConfig* cfg_;
  const LokiSourceSyslog* owner_;
};

class LokiSourceSyslog final : public Component {
 public:
  LokiSourceSyslog(std::string id, ComponentEnv* env)
      : Component(std::move(id)), env_(env), hand_off_(env->io, env->router, env->budget) {}
  ~LokiSourceSyslog() override { StopReading(); }

  bool Build(const config::Block& args, config::Diags* diags);
  bool Update(const config::Block&, config::Diags*) override { return true; }
  bool UpdatesInPlace() const override { return false; }
  absl::Status Start() override;
  void StopReading() override {
    hand_off_.Stop();
    for (auto& l : listeners_) l->Stop();
  }
  std::optional<std::string> Unhealthy() const override {
    if (failed_.empty()) return std::nullopt;
    return failed_;
  }

  // I/O threads.
  bool Paused() const { return hand_off_.Full(); }
  void HandOff(std::vector<ProcessEntry> entries, size_t bytes);
  const RuleSet* rules() const { return rules_.get(); }
  const SyslogMetrics& metrics() const { return m_; }
  int64_t Now() const { return env_->clock->NowUnixNanos(); }

 private:
  std::unique_ptr<NetListener> MakeListener(const ListenerConfig& cfg);

  ComponentEnv* env_;
  std::vector<LogsNode*> forward_;
  std::shared_ptr<const RuleSet> rules_;
  std::vector<std::unique_ptr<ListenerConfig>> configs_;
  std::vector<std::unique_ptr<EntryMaker>> makers_;
  std::vector<std::unique_ptr<NetListener>> listeners_;
  ListenerHandOff hand_off_;
  SyslogMetrics m_;
  std::string failed_;
};

// One TCP stream (or one UDP datagram) of a listener. I/O thread.
class SyslogConnection final : public NetListener::Connection {
 public:
  SyslogConnection(LokiSourceSyslog* owner, EntryMaker* maker, const ListenerConfig* cfg,
                   LabelSet conn_labels)
      : owner_(owner),
        maker_(maker),
        stream_(cfg->format, cfg->max_message_length),
        labels_(std::move(conn_labels)) {}

  bool OnData(std::string_view data) override {
    absl::Status st =
        stream_.Feed(data, [this](absl::StatusOr<SyslogMessage> m) { Emit(std::move(m)); });
    Flush();
    if (!st.ok()) {
      LogWarn("loki.source.syslog", "error parsing syslog stream",
              {{"error", std::string(st.message())}});
      owner_->metrics().parsing_errors->Inc();
      return false;
    }
    return true;
  }
  void OnClose(bool eof) override {
    if (eof) {
      absl::Status st =
          stream_.Finish([this](absl::StatusOr<SyslogMessage> m) { Emit(std::move(m)); });
      if (!st.ok()) {
        LogWarn("loki.source.syslog", "error parsing syslog stream",
                {{"error", std::string(st.message())}});
        owner_->metrics().parsing_errors->Inc();
      }
    } else if (stream_.buffered() > 0) {
      // A message cut short by an error or the idle timeout.
      owner_->metrics().parsing_errors->Inc();
    }
    Flush();
  }

 private:
  void Emit(absl::StatusOr<SyslogMessage> m) {
    maker_->Add(std::move(m), labels_, &batch_, &bytes_);
  }
  void Flush() {
    if (batch_.empty()) return;
    owner_->HandOff(std::move(batch_), bytes_);
    batch_.clear();
    bytes_ = 0;
  }

  LokiSourceSyslog* owner_;
  EntryMaker* maker_;
  SyslogStream stream_;
  LabelSet labels_;
  std::vector<ProcessEntry> batch_;
  size_t bytes_ = 0;
};

void EntryMaker::Add(absl::StatusOr<SyslogMessage> got, const LabelSet& conn_labels,
                     std::vector<ProcessEntry>* out, size_t* bytes) {
  const SyslogMetrics& m = owner_->metrics();
  if (!got.ok()) {
    LogWarn("loki.source.syslog", "error parsing syslog stream",
            {{"error", std::string(got.status().message())}});
    m.parsing_errors->Inc();
    return;
  }
  SyslogMessage& msg = *got;
  if (!msg.message.has_value()) {
    m.empty->Inc();
    if (msg.rfc3164 || !cfg_->rfc5424_allow_empty_msg) return;
  }
  LabelSet ls = conn_labels;
  ls.Set("__syslog_message_severity", SyslogSeverityLevel(msg.severity()));
  ls.Set("__syslog_message_facility", SyslogFacilityLevel(msg.facility()));
  if (msg.hostname) ls.Set("__syslog_message_hostname", *msg.hostname);
  if (msg.app_name) ls.Set("__syslog_message_app_name", *msg.app_name);
  if (msg.proc_id) ls.Set("__syslog_message_proc_id", *msg.proc_id);
  if (msg.msg_id) ls.Set("__syslog_message_msg_id", *msg.msg_id);
  if (cfg_->label_structured_data && !msg.rfc3164) {
    for (const auto& [id, params] : msg.structured_data) {
      std::string sid = id;
      for (char& c : sid) {
        if (c == '@') c = '_';
      }
      for (const auto& [k, v] : params) {
        ls.Set(absl::StrCat("__syslog_message_sd_", sid, "_", k), v);
      }
    }
  }
  const RuleSet* rules = owner_->rules();
  if (rules != nullptr && !rules->empty() && !Relabel(*rules, &ls, LabelNameScheme::kLegacy)) {
    return;  // dropped by a rule
  }
  ProcessEntry& e = out->emplace_back();
  for (const auto& [k, v] : ls.labels()) {
    if (!absl::StartsWith(Av(k), "__") && !v.empty()) e.labels.Set(k, v);
  }
  e.timestamp_ns = owner_->Now();
  if (cfg_->use_incoming_timestamp && msg.timestamp) {
    absl::Time t = *msg.timestamp;
    if (msg.rfc3164 && cfg_->rfc3164_default_to_current_year) {
      t = InferSyslogYear(t, absl::FromUnixNanos(e.timestamp_ns));
    }
    e.timestamp_ns = absl::ToUnixNanos(t);
  }
  if (cfg_->use_rfc5424_message && !msg.rfc3164) {
    e.line = RenderRfc5424(msg);
  } else if (msg.message) {
    e.line = std::move(*msg.message);
  }
  *bytes += e.line.size();
}

bool LokiSourceSyslog::Build(const config::Block& args, config::Diags* diags) {
  config::Decoder d(args, diags);
  env_->Receivers(d, &forward_);
  DecodeRulesAttr(d, "relabel_rules", &rules_);
  for (const config::Block* lb : d.Blocks("listener")) {
    auto cfg = std::make_unique<ListenerConfig>();
    config::Decoder ld(*lb, diags);
    ld.String("address", &cfg->address, config::Required::kYes);
    ld.String("protocol", &cfg->protocol);
    ld.Duration("idle_timeout", &cfg->idle_timeout);
    ld.Bool("label_structured_data", &cfg->label_structured_data);
    ld.StringMap("labels", &cfg->labels);
    ld.Bool("use_incoming_timestamp", &cfg->use_incoming_timestamp);
    ld.Bool("use_rfc5424_message", &cfg->use_rfc5424_message);
    ld.Bool("rfc3164_default_to_current_year", &cfg->rfc3164_default_to_current_year);
    ld.Bool("rfc5424_allow_empty_msg", &cfg->rfc5424_allow_empty_msg);
    int64_t max_len = static_cast<int64_t>(kDefaultMaxMessageLength);
    ld.Int("max_message_length", &max_len);
    int64_t queue = 0, cache = 0;
    ld.Int("udp_queue_size", &queue);  // Alloy's hand-off queue; sluice hands off per read
    ld.Int("udp_host_cache_size", &cache);
    std::string format = "rfc5424";
    ld.String("syslog_format", &format);
    const config::Block* raw = ld.OptionalBlock("raw_format_options");
    const config::Block* cisco = ld.OptionalBlock("rfc3164_cisco_components");
    if (const config::Block* tb = ld.OptionalBlock("tls_config")) {
      config::Decoder td(*tb, diags);
      NetListenerTls t;
      td.String("ca_pem", &t.ca_pem);
      td.String("ca_file", &t.ca_file);
      td.String("cert_pem", &t.cert_pem);
      td.String("cert_file", &t.cert_file);
      td.Secret("key_pem", &t.key_pem);
      td.String("key_file", &t.key_file);
      std::string ignored;
      bool skip = false;
      td.String("server_name", &ignored);
      td.Bool("insecure_skip_verify", &skip);
      td.String("min_version", &ignored);
      td.Finish();
      // Alloy turns TLS on as soon as any of CA, certificate or key is set.
      if (!t.ca_pem.empty() || !t.ca_file.empty() || !t.cert_pem.empty() || !t.cert_file.empty() ||
          !t.key_pem.empty() || !t.key_file.empty()) {
        cfg->tls = std::move(t);
      }
    }
    if (!ld.Finish()) continue;
    if (cfg->idle_timeout == absl::ZeroDuration()) cfg->idle_timeout = absl::Seconds(120);
    cfg->max_message_length =
        max_len <= 0 ? kDefaultMaxMessageLength : static_cast<size_t>(max_len);
    if (cfg->protocol != "tcp" && cfg->protocol != "udp") {
      ld.ErrorAt("protocol", absl::StrCat("syslog listener protocol should be either 'tcp' or "
                                          "'udp', got ",
                                          cfg->protocol));
      continue;
    }
    if (format == "rfc3164") {
      cfg->format = SyslogStream::Format::kRfc3164;
    } else if (format == "raw") {
      ld.ErrorAt("syslog_format",
                 "\"raw\" syslog format is available only at experimental stability level");
      continue;
    } else if (format != "rfc5424") {
      ld.ErrorAt("syslog_format", absl::StrCat("unknown syslog format: ", format));
      continue;
    }
    if (cisco != nullptr) {
      ld.Error(cisco->span,
               "rfc3164_cisco_components block is available only at experimental stability level");
      continue;
    }
    if (cfg->format != SyslogStream::Format::kRfc5424 && cfg->rfc5424_allow_empty_msg) {
      ld.ErrorAt("rfc5424_allow_empty_msg",
                 absl::StrCat("\"rfc5424_allow_empty_msg\" has no effect when syslog format is "
                              "set to \"",
                              format, "\""));
      continue;
    }
    if (raw != nullptr) {
      ld.Error(raw->span, "raw_format_options has no effect when syslog format is not \"raw\"");
      continue;
    }
    configs_.push_back(std::move(cfg));
  }
  if (!d.Finish()) return false;
  const MetricLabels cl = ComponentLabels(id());
  MetricsRegistry* r = env_->metrics;
  m_.entries = r->GetCounter("loki_source_syslog_entries_total",
                             "Total number of successful entries sent to the syslog target", cl);
  m_.parsing_errors =
      r->GetCounter("loki_source_syslog_parsing_errors_total",
                    "Total number of parsing errors while receiving syslog messages", cl);
  m_.empty = r->GetCounter("loki_source_syslog_empty_messages_total",
                           "Total number of empty messages received from syslog", cl);
  m_.udp_dropped = r->GetCounter(
      "sluice_source_syslog_udp_dropped_total",
      "UDP syslog datagrams dropped because the pipeline held the memory budget.", cl);
  m_.udp_truncated = r->GetCounter(
      "sluice_source_syslog_udp_truncated_total",
      "UDP syslog datagrams longer than max_message_length, parsed cut (as Alloy).", cl);
  m_.rejected = r->GetCounter("sluice_source_syslog_connections_rejected_total",
                              "TCP syslog connections closed at once: the connection limit.", cl);
  m_.idle = r->GetCounter("sluice_source_syslog_idle_closed_total",
                          "TCP syslog connections closed after idle_timeout without data.", cl);
  m_.tls_errors = r->GetCounter("sluice_source_syslog_tls_handshake_errors_total",
                                "TLS handshakes with syslog senders that failed.", cl);
  m_.shutdown_dropped =
      r->GetCounter("sluice_source_syslog_shutdown_dropped_total",
                    "Syslog entries received but not handed on because the agent stopped.", cl);
  for (const auto& cfg : configs_) {
    makers_.push_back(std::make_unique<EntryMaker>(cfg.get(), this));
    listeners_.push_back(MakeListener(*cfg));
  }
  env_->Export(id(), {});
  return true;
}

std::unique_ptr<NetListener> LokiSourceSyslog::MakeListener(const ListenerConfig& cfg) {
  EntryMaker* maker = makers_.back().get();
  NetListener::Options o;
  o.address = cfg.address;
  o.udp = cfg.protocol == "udp";
  o.tls = cfg.tls;
  o.idle_timeout = cfg.idle_timeout;
  o.read_size = o.udp ? cfg.max_message_length : 64 * 1024;
  o.thread_name = "sluice-syslog";
  o.resolve_hostnames = true;
  LabelSet base;
  for (const auto& [k, v] : cfg.labels) base.Set(k, v);
  auto conn_labels = [base](const std::string& ip, const std::string& host) {
    LabelSet ls = base;
    ls.Set("__syslog_connection_ip_address", ip);
    ls.Set("__syslog_connection_hostname", host);
    return ls;
  };
  o.connection = [this, maker, &cfg, conn_labels](const std::string& ip, const std::string& host) {
    return std::make_unique<SyslogConnection>(this, maker, &cfg, conn_labels(ip, host));
  };
  o.datagram = [this, maker, &cfg, conn_labels](std::string_view data, const std::string& ip,
                                                const std::string& host, bool truncated) {
    if (Paused()) {
      m_.udp_dropped->Inc();
      return;
    }
    if (truncated) m_.udp_truncated->Inc();
    SyslogConnection c(this, maker, &cfg, conn_labels(ip, host));
    if (c.OnData(data)) c.OnClose(/*eof=*/true);
  };
  o.paused = [this] { return Paused(); };
  o.on_rejected = [this] { m_.rejected->Inc(); };
  o.on_idle = [this] { m_.idle->Inc(); };
  o.on_tls_error = [this] { m_.tls_errors->Inc(); };
  return std::make_unique<NetListener>(std::move(o));
}

absl::Status LokiSourceSyslog::Start() {
  if (env_->options->validate_only) return absl::OkStatus();
  for (size_t i = 0; i < listeners_.size(); ++i) {
    absl::Status st = listeners_[i]->Start();
    if (!st.ok()) {
      // Alloy logs and runs without the listener.
      LogError("loki.source.syslog", "failed to create syslog listener with provided config",
               {{"component_id", id()}, {"error", std::string(st.message())}});
      failed_ = absl::StrCat(id(), ": ", st.message());
      continue;
    }
    LogInfo("loki.source.syslog", "syslog listening on address",
            {{"component_id", id()},
             {"address", configs_[i]->address},
             {"port", std::to_string(listeners_[i]->port())},
             {"protocol", configs_[i]->protocol},
             {"tls", configs_[i]->tls ? "true" : "false"}});
  }
  return absl::OkStatus();
}

void LokiSourceSyslog::HandOff(std::vector<ProcessEntry> entries, size_t bytes) {
  // On the tail thread: the graph's receivers are its own. A job that finds the component
  // stopped only counts.
  hand_off_.Post(bytes, [this, entries = std::move(entries),
                         dropped = m_.shutdown_dropped](bool stopped) mutable {
    if (stopped) {
      dropped->Inc(entries.size());
      return;
    }
    ProcessEntry copy;
    for (ProcessEntry& e : entries) PushToAll(forward_, e, &copy);
    m_.entries->Inc(entries.size());
  });
}

}  // namespace

std::unique_ptr<Component> BuildLokiSourceSyslog(const config::Component& c,
                                                 const config::Block& args, ComponentEnv& env,
                                                 config::Diags* diags) {
  auto s = std::make_unique<LokiSourceSyslog>(c.id, &env);
  if (!s->Build(args, diags)) return nullptr;
  return s;
}

}  // namespace sluice
