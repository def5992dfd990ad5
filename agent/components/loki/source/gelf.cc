// loki.source.gelf: GELF messages over UDP (plain, zlib, gzip, chunked), as Alloy's component.
// Each message becomes an entry whose line is the message as go-gelf re-encodes it (known
// fields, then the "_" additional fields sorted), with the labels __gelf_message_level (its
// name), __gelf_message_host, __gelf_message_version and __gelf_message_facility put through
// relabel_rules; labels starting with "__" go. The timestamp is the receive time unless
// use_incoming_timestamp and the message has one.
//
// Metrics: Alloy's loki_source_gelf_target_entries_total and
// loki_source_gelf_target_parsing_errors_total (malformed datagrams, chunks and JSON);
// sluice_source_gelf_incomplete_total for chunked messages whose chunks did not all arrive in
// 5 s, sluice_source_gelf_dropped_total for datagrams dropped while the pipeline held the memory
// budget (UDP has no flow control).
//
// Threads: receiving, reassembly and decoding run on the listener's I/O thread; entries are
// handed to the receivers on the tail thread. Built on the loading thread, owned by the Runtime.
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
#include "agent/source/gelf_parser.h"
#include "agent/source/net_listener.h"

namespace sluice {
namespace {

class LokiSourceGelf final : public Component {
 public:
  LokiSourceGelf(std::string id, ComponentEnv* env)
      : Component(std::move(id)), env_(env), hand_off_(env->io, env->router, env->budget) {}
  ~LokiSourceGelf() override { StopReading(); }

  bool Build(const config::Block& args, config::Diags* diags);
  bool Update(const config::Block&, config::Diags*) override { return true; }
  bool UpdatesInPlace() const override { return false; }
  absl::Status Start() override {
    if (env_->options->validate_only) return absl::OkStatus();
    absl::Status st = listener_->Start();
    if (!st.ok()) return absl::UnavailableError(absl::StrCat(id(), ": ", st.message()));
    LogInfo("loki.source.gelf", "listening for GELF UDP messages",
            {{"component_id", id()},
             {"listen_address", address_},
             {"port", std::to_string(listener_->port())}});
    return absl::OkStatus();
  }
  void StopReading() override {
    hand_off_.Stop();
    if (listener_ != nullptr) listener_->Stop();
  }

 private:
  void OnDatagram(std::string_view d);  // I/O thread
  void HandOff(ProcessEntry e);

  ComponentEnv* env_;
  std::string address_ = "0.0.0.0:12201";
  bool use_incoming_timestamp_ = false;
  std::vector<LogsNode*> forward_;
  std::shared_ptr<const RuleSet> rules_;
  std::unique_ptr<NetListener> listener_;
  GelfAssembler assembler_;  // I/O thread
  ListenerHandOff hand_off_;
  Counter* entries_ = nullptr;
  Counter* errors_ = nullptr;
  Counter* incomplete_ = nullptr;
  Counter* dropped_ = nullptr;
};

bool LokiSourceGelf::Build(const config::Block& args, config::Diags* diags) {
  config::Decoder d(args, diags);
  env_->Receivers(d, &forward_);
  d.String("listen_address", &address_);
  d.Bool("use_incoming_timestamp", &use_incoming_timestamp_);
  DecodeRulesAttr(d, "relabel_rules", &rules_);
  if (!d.Finish()) return false;
  if (address_.empty()) address_ = ":12201";
  const MetricLabels cl = ComponentLabels(id());
  entries_ =
      env_->metrics->GetCounter("loki_source_gelf_target_entries_total",
                                "Total number of successful entries sent to the gelf target", cl);
  errors_ =
      env_->metrics->GetCounter("loki_source_gelf_target_parsing_errors_total",
                                "Total number of parsing errors while receiving gelf messages", cl);
  incomplete_ = env_->metrics->GetCounter(
      "sluice_source_gelf_incomplete_total",
      "Chunked GELF messages dropped because their chunks did not all arrive within 5s.", cl);
  dropped_ = env_->metrics->GetCounter(
      "sluice_source_gelf_dropped_total",
      "GELF datagrams dropped because the pipeline held the memory budget.", cl);
  NetListener::Options o;
  o.address = address_;
  o.udp = true;
  o.read_size = 65535;
  o.thread_name = "sluice-gelf";
  o.datagram = [this](std::string_view data, const std::string&, const std::string&, bool) {
    OnDatagram(data);
  };
  listener_ = std::make_unique<NetListener>(std::move(o));
  env_->Export(id(), {});
  return true;
}

void LokiSourceGelf::OnDatagram(std::string_view d) {
  const int64_t mono = env_->clock->MonotonicNanos();
  incomplete_->Inc(assembler_.Expire(mono));
  if (hand_off_.Full()) {
    dropped_->Inc();
    return;
  }
  absl::StatusOr<std::optional<std::string>> whole = assembler_.Add(d, mono);
  if (!whole.ok()) {
    LogWarn("loki.source.gelf", "error while reading gelf message",
            {{"listen_address", address_}, {"err", std::string(whole.status().message())}});
    errors_->Inc();
    return;
  }
  if (!whole->has_value()) return;
  absl::StatusOr<GelfMessage> msg = DecodeGelfPayload(**whole);
  if (!msg.ok()) {
    LogWarn("loki.source.gelf", "error while reading gelf message",
            {{"listen_address", address_}, {"err", std::string(msg.status().message())}});
    errors_->Inc();
    return;
  }
  LabelSet ls;
  ls.Set("__gelf_message_level", GelfLevelName(msg->level));
  ls.Set("__gelf_message_host", msg->host);
  ls.Set("__gelf_message_version", msg->version);
  ls.Set("__gelf_message_facility", msg->facility);
  ProcessEntry e;
  // Alloy: a set dropped by a rule still goes, with no labels.
  if (rules_ == nullptr || rules_->empty() || Relabel(*rules_, &ls, LabelNameScheme::kLegacy)) {
    for (const auto& [k, v] : ls.labels()) {
      if (!absl::StartsWith(Av(k), "__") && !v.empty()) e.labels.Set(k, v);
    }
  }
  e.timestamp_ns = env_->clock->NowUnixNanos();
  if (use_incoming_timestamp_ && msg->timestamp != 0) {
    e.timestamp_ns = static_cast<int64_t>(msg->timestamp * 1e9);
  }
  e.line = RenderGelf(*msg);
  HandOff(std::move(e));
}

void LokiSourceGelf::HandOff(ProcessEntry e) {
  const size_t bytes = e.line.size();
  hand_off_.Post(bytes, [this, e = std::move(e)](bool stopped) mutable {
    if (stopped) return;
    ProcessEntry copy;
    PushToAll(forward_, e, &copy);
    entries_->Inc();
  });
}

}  // namespace

std::unique_ptr<Component> BuildLokiSourceGelf(const config::Component& c,
                                               const config::Block& args, ComponentEnv& env,
                                               config::Diags* diags) {
  auto s = std::make_unique<LokiSourceGelf>(c.id, &env);
  if (!s->Build(args, diags)) return nullptr;
  return s;
}

}  // namespace sluice
