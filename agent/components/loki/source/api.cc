// loki.source.api: Loki's push API on a listener of its own, as Alloy's component (and so a
// gateway in front of Loki): POST /loki/api/v1/push and /api/v1/push (snappy protobuf, JSON;
// gzip or deflate content encodings), POST /loki/api/v1/raw and /api/v1/raw (one entry per
// line, the component's labels only), GET /ready. Each stream's labels get the component's
// `labels`, then its `relabel_rules`; labels starting with "__" go, the X-Scope-OrgID header
// becomes the entry's tenant; timestamps are the receive time unless use_incoming_timestamp.
//
// A request is answered once its entries are in the pipeline (handed to the forward_to
// receivers on the tail thread): 204, or 400 when a stream's labels could not be parsed (the
// other streams still go, as Alloy). Backpressure: while the line bytes the pipeline holds
// unacknowledged plus those of requests on their way to it are past the memory budget, a push
// is answered 429 at once (Loki's clients retry it with backoff) instead of growing memory;
// bodies are bounded by max_send_message_size (413), connections by http.conn_limit.
//
// The listener runs on two server threads of its own (HttpServer); decoding and relabelling
// happen there, the hand-off on the tail thread. Built on the loading thread, owned by the
// Runtime. Not served: the `grpc` block (accepted, a port there is a warning), `http.tls`
// (refused) and HTTP/2.
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
#include "agent/server/http_server.h"
#include "agent/source/push_request.h"

namespace sluice {
namespace {

constexpr char kText[] = "text/plain; charset=utf-8";

HttpReply Text(int status, std::string body) {
  return HttpReply{status, kText, std::move(body) + "\n"};
}

class LokiSourceApi final : public Component {
 public:
  LokiSourceApi(std::string id, ComponentEnv* env)
      : Component(std::move(id)), env_(env), hand_off_(env->io, env->router, env->budget) {}
  ~LokiSourceApi() override { StopReading(); }

  bool Build(const config::Block& args, config::Diags* diags);
  bool Update(const config::Block&, config::Diags*) override { return true; }
  bool UpdatesInPlace() const override { return false; }

  absl::Status Start() override {
    if (env_->options->validate_only) return absl::OkStatus();
    absl::Status st = server_->Start(listen_);
    if (!st.ok()) {
      return absl::UnavailableError(absl::StrCat(id(), ": ", st.message()));
    }
    LogInfo(
        "loki.source.api", "listening",
        {{"component_id", id()}, {"address", listen_}, {"port", std::to_string(server_->port())}});
    return absl::OkStatus();
  }
  void StopReading() override {
    hand_off_.Stop();
    if (server_ != nullptr) server_->Stop();
  }

 private:
  void Handle(ServerRequest req, HttpServer::Responder respond);
  void Push(ServerRequest& req, HttpServer::Responder& respond);
  void Raw(ServerRequest& req, HttpServer::Responder& respond);
  // Hands `entries` to the receivers on the tail thread, then answers `status`/`error`.
  void HandOff(std::vector<ProcessEntry> entries, size_t bytes, int status, std::string error,
               HttpServer::Responder respond);
  void Count(int status) {
    env_->metrics
        ->GetCounter("sluice_source_api_requests_total",
                     "Requests to loki.source.api listeners, by answer.",
                     ComponentLabels(id(), {{"status_code", std::to_string(status)}}))
        ->Inc();
  }

  ComponentEnv* env_;
  std::string listen_;
  std::vector<LogsNode*> forward_;
  std::map<std::string, std::string> labels_;
  std::shared_ptr<const RuleSet> rules_;
  bool use_incoming_timestamp_ = false;
  uint64_t max_message_size_ = 100ull << 20;
  ListenerHandOff hand_off_;
  std::unique_ptr<HttpServer> server_;
  Counter* entries_written_ = nullptr;
  Counter* rejected_ = nullptr;
  Counter* dropped_streams_ = nullptr;
};

bool LokiSourceApi::Build(const config::Block& args, config::Diags* diags) {
  config::Decoder d(args, diags);
  env_->Receivers(d, &forward_);
  d.StringMap("labels", &labels_);
  DecodeRulesAttr(d, "relabel_rules", &rules_);
  d.Bool("use_incoming_timestamp", &use_incoming_timestamp_);
  d.Bytes("max_send_message_size", &max_message_size_);
  absl::Duration graceful = absl::Seconds(30);
  d.Duration("graceful_shutdown_timeout", &graceful);
  std::string address;
  int64_t port = 8080, conn_limit = 0;
  absl::Duration read_timeout = absl::Seconds(30), write_timeout, idle_timeout;
  if (const config::Block* hb = d.OptionalBlock("http")) {
    config::Decoder hd(*hb, diags);
    hd.String("listen_address", &address);
    hd.Int("listen_port", &port);
    hd.Int("conn_limit", &conn_limit);
    hd.Duration("server_read_timeout", &read_timeout);
    hd.Duration("server_write_timeout", &write_timeout);
    hd.Duration("server_idle_timeout", &idle_timeout);
    if (const config::Block* tb = hd.OptionalBlock("tls")) {
      diags->Add(tb->span,
                 "loki.source.api: TLS on the listener is not supported by sluice "
                 "(terminate TLS in front of it)");
    }
    if (const config::Block* h2 = hd.OptionalBlock("http2")) {
      config::Decoder h2d(*h2, diags);
      bool enabled = false;
      h2d.Bool("enabled", &enabled);
      for (const char* name :
           {"max_handlers", "max_concurrent_streams", "max_decoder_header_table_size",
            "max_encoder_header_table_size", "max_read_frame_size", "permit_prohibited_ciphers",
            "idle_timeout", "read_idle_timeout", "ping_timeout", "write_byte_timeout",
            "max_upload_buffer_per_connection", "max_upload_buffer_per_stream"}) {
        h2d.Get(name);
      }
      h2d.Finish();
      if (enabled) {
        LogWarn("config", absl::StrCat(id(), ": http2 is not served by sluice (HTTP/1.1 only)"));
      }
    }
    hd.Finish();
  }
  if (const config::Block* gb = d.OptionalBlock("grpc")) {
    // Alloy always starts a gRPC push server too; no Loki client sends to it by default.
    config::Decoder gd(*gb, diags);
    int64_t grpc_port = 0;
    gd.Int("listen_port", &grpc_port);
    for (const char* name :
         {"listen_address", "conn_limit", "max_connection_age", "max_connection_age_grace",
          "max_connection_idle", "server_max_recv_msg_size", "server_max_send_msg_size",
          "server_max_concurrent_streams"}) {
      gd.Get(name);
    }
    if (const config::Block* tb = gd.OptionalBlock("tls")) {
      diags->Add(tb->span,
                 "loki.source.api: TLS on the listener is not supported by sluice "
                 "(terminate TLS in front of it)");
    }
    gd.Finish();
    if (grpc_port != 0) {
      LogWarn("config", absl::StrCat(id(), ": the grpc push endpoint (port ", grpc_port,
                                     ") is not served by sluice; clients must push over HTTP"));
    }
  }
  if (!d.Finish()) return false;
  if (port < 0 || port > 65535) {
    d.ErrorAt("listen_port", "listen_port must be between 0 and 65535");
    return false;
  }
  if (max_message_size_ == 0) max_message_size_ = 100ull << 20;  // Alloy: <= 0 is the default
  listen_ = absl::StrCat(address.find(':') != std::string::npos ? "[" + address + "]" : address,
                         ":", port);
  entries_written_ =
      env_->metrics->GetCounter("loki_source_api_entries_written",
                                "Total number of log entries forwarded.", ComponentLabels(id()));
  rejected_ = env_->metrics->GetCounter(
      "sluice_source_api_backpressure_total",
      "Push requests answered 429 because the pipeline held the memory budget.",
      ComponentLabels(id()));
  dropped_streams_ = env_->metrics->GetCounter(
      "sluice_source_api_invalid_streams_total",
      "Pushed streams whose labels could not be parsed (the request is answered 400).",
      ComponentLabels(id()));
  HttpServer::Options o;
  o.max_body = static_cast<size_t>(max_message_size_);
  o.max_connections = static_cast<int>(conn_limit);
  o.read_timeout = read_timeout;
  o.thread_name = "sluice-api";
  server_ = std::make_unique<HttpServer>(
      [this](ServerRequest req, HttpServer::Responder respond) {
        Handle(std::move(req), std::move(respond));
      },
      o);
  env_->Export(id(), {});
  return true;
}

void LokiSourceApi::Handle(ServerRequest req, HttpServer::Responder respond) {
  std::string path = req.target.substr(0, req.target.find('?'));
  const bool push = path == "/loki/api/v1/push" || path == "/api/v1/push";
  const bool raw = path == "/loki/api/v1/raw" || path == "/api/v1/raw";
  if (path == "/ready") {
    if (req.method != "GET") {
      Count(405);
      respond(Text(405, "Method Not Allowed"));
      return;
    }
    respond(HttpReply{200, kText, "ready"});
    return;
  }
  if (!push && !raw) {
    Count(404);
    respond(Text(404, "404 page not found"));
    return;
  }
  if (req.method != "POST") {
    Count(405);
    respond(Text(405, "Method Not Allowed"));
    return;
  }
  if (hand_off_.stopped()) {
    Count(503);
    respond(Text(503, "server shutdown"));
    return;
  }
  if (hand_off_.Full(req.body.size())) {
    rejected_->Inc();
    Count(429);
    respond(Text(429, "the pipeline is full (memory budget): retry later"));
    return;
  }
  if (push) {
    Push(req, respond);
  } else {
    Raw(req, respond);
  }
}

void LokiSourceApi::Push(ServerRequest& req, HttpServer::Responder& respond) {
  absl::StatusOr<PushRequestData> got =
      DecodePushRequest(req.Header("Content-Type"), req.Header("Content-Encoding"), req.body,
                        static_cast<size_t>(max_message_size_));
  req.body.clear();
  req.body.shrink_to_fit();
  if (!got.ok()) {
    LogWarn("loki.source.api", "failed to parse request",
            {{"component_id", id()}, {"error", std::string(got.status().message())}});
    Count(400);
    respond(Text(400, std::string(got.status().message())));
    return;
  }
  const std::string tenant(req.Header("X-Scope-OrgID"));
  const int64_t now = env_->clock->NowUnixNanos();
  std::vector<ProcessEntry> entries;
  entries.reserve(got->entries);
  std::string last_error;
  size_t bytes = 0;
  for (PushStream& s : got->streams) {
    LabelSet ls;
    if (!s.labels_parsed) {
      std::vector<std::pair<std::string, std::string>> pairs;
      if (absl::Status st = ParsePromLabels(s.labels_text, &pairs); !st.ok()) {
        last_error = std::string(st.message());
        dropped_streams_->Inc();
        continue;
      }
      s.labels = std::move(pairs);
    }
    for (const auto& [k, v] : s.labels) ls.Set(k, v);
    for (const auto& [k, v] : labels_) ls.Set(k, v);
    if (rules_ != nullptr && !rules_->empty() && !Relabel(*rules_, &ls)) continue;
    LabelSet out;
    for (const auto& [k, v] : ls.labels()) {
      if (!absl::StartsWith(Av(k), "__") && !v.empty()) out.Set(k, v);
    }
    if (out.labels().empty()) continue;  // Alloy: a stream left with no labels is dropped
    if (!tenant.empty()) out.Set("__tenant_id__", tenant);
    for (PushEntry& pe : s.entries) {
      ProcessEntry& e = entries.emplace_back();
      e.labels = out;
      e.timestamp_ns = use_incoming_timestamp_ ? pe.timestamp_ns : now;
      bytes += pe.line.size();
      e.line = std::move(pe.line);
      e.structured_metadata = std::move(pe.metadata);
    }
  }
  // (The status before the move: argument evaluation order is unspecified.)
  const int status = last_error.empty() ? 204 : 400;
  HandOff(std::move(entries), bytes, status, std::move(last_error), std::move(respond));
}

void LokiSourceApi::Raw(ServerRequest& req, HttpServer::Responder& respond) {
  LabelSet fixed;
  for (const auto& [k, v] : labels_) fixed.Set(k, v);
  const int64_t now = env_->clock->NowUnixNanos();
  std::vector<ProcessEntry> entries;
  size_t bytes = 0;
  std::string_view body = req.body;
  while (!body.empty()) {
    size_t nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    body = nl == std::string_view::npos ? std::string_view() : body.substr(nl + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
    if (line.empty()) continue;
    ProcessEntry& e = entries.emplace_back();
    e.labels = fixed;
    e.timestamp_ns = now;
    e.line.assign(line.data(), line.size());
    bytes += line.size();
  }
  HandOff(std::move(entries), bytes, 204, "", std::move(respond));
}

void LokiSourceApi::HandOff(std::vector<ProcessEntry> entries, size_t bytes, int status,
                            std::string error, HttpServer::Responder respond) {
  if (entries.empty()) {
    Count(status);
    respond(status == 204 ? HttpReply{204, kText, ""} : Text(status, error));
    return;
  }
  // On the tail thread: the graph's receivers are its own. A job that finds the graph stopping
  // answers 503 (the client retries).
  hand_off_.Post(bytes, [this, entries = std::move(entries), status, error = std::move(error),
                         respond = std::move(respond)](bool stopped) mutable {
    if (stopped) {
      respond(Text(503, "server shutdown"));
      return;
    }
    ProcessEntry copy;
    for (ProcessEntry& e : entries) PushToAll(forward_, e, &copy);
    entries_written_->Inc(entries.size());
    hand_off_.NoteInflight();
    Count(status);
    respond(status == 204 ? HttpReply{204, kText, ""} : Text(status, error));
  });
}

}  // namespace

std::unique_ptr<Component> BuildLokiSourceApi(const config::Component& c, const config::Block& args,
                                              ComponentEnv& env, config::Diags* diags) {
  auto s = std::make_unique<LokiSourceApi>(c.id, &env);
  if (!s->Build(args, diags)) return nullptr;
  return s;
}

}  // namespace sluice
