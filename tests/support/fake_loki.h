// FakeLoki: an in-process HTTP (or HTTPS, with optional client certificates) server that speaks
// Loki's push protocol, for tests.
//
// There is no real Loki on the test machines, so every sink and end-to-end test pushes here. It
// decodes what Loki's distributor decodes (snappy block-compressed protobuf, or JSON), validates
// the way Loki does (label syntax and limits, line size, sample age, ordering, duplicates) with
// Loki's default limits and Loki-style error texts, stores what Loki would store, and records
// everything a test wants to assert on. Faults (error statuses, stalls, dropped connections) can
// be injected while a client is sending.
//
// Threads: Start() spawns one acceptor thread plus one thread per accepted connection (so a
// stalled request never blocks other connections). Every public method is thread-safe and may be
// called from any thread, including while requests are in flight. The object is owned by the test
// (or by fake_loki_main.cc); Stop() / the destructor join every thread it started and do not hang
// even while requests are stalled or clients keep connections open.
//
// Deliberate differences from Loki (see also Options):
//  - No tenant-level features: no rate limits, no stream limits, no service_name discovery (Loki
//    3 adds a `service_name` label to streams that have none; FakeLoki stores labels as sent, so
//    tests compare against what the agent sent).
//  - Content-Encoding gzip/deflate are answered with 400 (the agent only sends snappy).
//  - A request without streams gets 422, as from Loki 3.5 on (older versions answered 204).
//  - Lines that are not valid UTF-8 are rejected by default (Loki stores the bytes); this catches
//    an agent that forgets to sanitize. Options::reject_invalid_utf8 = false accepts them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/common/clock.h"

namespace sluice::testing {

// One stored log entry.
struct FakeLokiEntry {
  int64_t timestamp_ns = 0;
  std::string line;
  // In the order received (Loki sorts them; tests usually want what was sent).
  std::vector<std::pair<std::string, std::string>> structured_metadata;
};

// One stream as stored: identified by (tenant, canonical label set).
struct FakeLokiStream {
  std::string tenant;  // X-Scope-OrgID, "" when absent
  // Canonical form: sorted by name, empty values dropped, `{a="x", b="y"}` (Prometheus style).
  std::string labels;
  std::map<std::string, std::string> label_map;
  std::vector<FakeLokiEntry> entries;  // accepted entries in arrival order
};

// One rejected entry (or every entry of a rejected stream).
struct FakeLokiRejection {
  std::string labels;  // canonical when the labels parsed, else as sent
  int64_t timestamp_ns = 0;
  // Loki's discard reason: invalid_labels, missing_labels, max_label_names_per_series,
  // label_name_too_long, label_value_too_long, duplicate_label_names, greater_than_max_sample_age,
  // too_far_in_future, line_too_long, out_of_order, too_far_behind,
  // disallowed_structured_metadata, structured_metadata_too_large, structured_metadata_too_many;
  // plus invalid_utf8 (FakeLoki only).
  std::string reason;
  std::string message;  // Loki-style text, as put in the 400 body
};

// Metadata of one HTTP request to the push endpoint (or, in ConnectRequests(), of one CONNECT).
struct FakeLokiRequest {
  absl::Time received;
  std::string method;
  std::string target;  // as sent: "/loki/api/v1/push", or absolute-form through a proxy
  std::string host;    // Host header
  std::string content_type;
  std::string content_encoding;
  std::string org_id;         // X-Scope-OrgID
  std::string user_agent;     // User-Agent
  std::string authorization;  // Authorization
  // Every header as received, in order (names as the client wrote them).
  std::vector<std::pair<std::string, std::string>> headers;
  bool tls = false;                 // came over TLS
  std::string sni;                  // server name the client sent in its TLS hello ("" = none)
  std::string client_cert_subject;  // CN of the verified client certificate ("" = none)
  size_t body_bytes = 0;            // as received (compressed)
  int status = 0;                   // 0 when the connection was dropped without an answer
  size_t entries_received = 0;      // entries decoded from the body (0 when not decoded)
  size_t entries_accepted = 0;
  std::string response_body;
};

class FakeLoki {
 public:
  // Defaults are Loki's defaults (limits_config / ingester config) unless said otherwise.
  struct Options {
    std::string listen_host = "127.0.0.1";
    uint16_t listen_port = 0;  // 0: the kernel picks one; see port()

    // ingester.unordered_writes=false (Loki < 2.4 behaviour): an entry older than the last one
    // accepted in its stream is rejected "entry out of order". Otherwise (the default) only
    // entries older than the stream's newest timestamp - max_chunk_age/2 are rejected.
    bool ordered_writes = false;
    absl::Duration max_chunk_age = absl::Hours(2);

    bool reject_old_samples = true;
    absl::Duration reject_old_samples_max_age = absl::Hours(168);
    absl::Duration creation_grace_period = absl::Minutes(10);
    size_t max_line_size = 256 * 1024;  // 0: unlimited
    bool reject_invalid_utf8 = true;    // FakeLoki only, see the file comment

    int max_label_names_per_series = 15;
    size_t max_label_name_length = 1024;
    size_t max_label_value_length = 2048;

    bool allow_structured_metadata = true;
    size_t max_structured_metadata_size = 64 * 1024;  // sum of name + value bytes; 0: unlimited
    size_t max_structured_metadata_entries = 128;     // 0: unlimited

    // Loki 3 parses every stream's label string while decoding the request, so one unparsable
    // label string fails the whole request (400, nothing stored). Loki 2 parsed them in the
    // distributor's per-stream loop: only that stream was rejected. Limits (label count, lengths,
    // duplicate names, no labels) are per stream in both.
    bool reject_request_on_unparsable_labels = true;

    // Require X-Scope-OrgID (auth_enabled: true): 401 "no org id" without it.
    bool require_tenant = false;

    size_t max_body_bytes = 100 << 20;          // as received; larger: 413
    size_t max_decompressed_bytes = 100 << 20;  // after snappy; larger: 413

    size_t request_log_size = 1000;    // FakeLokiRequest records kept (the newest)
    size_t rejection_log_size = 1000;  // FakeLokiRejection records kept (the newest)
    size_t max_errors_in_response = 10;

    // Wall clock for the sample-age checks; nullptr: the real clock. Not owned.
    const Clock* clock = nullptr;

    // Not empty: push requests whose Authorization header differs get 401 "unauthorized".
    std::string required_authorization;

    // Serve HTTPS instead of HTTP. A plain-text first request is answered 400 as Go does
    // ("Client sent an HTTP request to an HTTPS server."), except a CONNECT, which is answered
    // 200 and recorded (ConnectRequests()); the TLS session then starts on that connection, so
    // the server is its own forward proxy for https tests.
    struct Tls {
      std::string cert_pem;  // server certificate (chain)
      std::string key_pem;   // its key
      // Not empty: client certificates are asked for and verified against these CAs.
      std::string client_ca_pem;
      bool require_client_cert = false;  // the handshake fails without a valid one
      bool max_tls12 = false;            // refuse TLS 1.3 (tests of a client's min_version)
    };
    std::optional<Tls> tls;
  };

  FakeLoki();
  explicit FakeLoki(Options options);
  ~FakeLoki();
  FakeLoki(const FakeLoki&) = delete;
  FakeLoki& operator=(const FakeLoki&) = delete;

  // Binds and starts serving. Call once.
  absl::Status Start();
  // Closes the listener and every connection, wakes stalled requests (they get no answer), joins
  // all threads. Idempotent.
  void Stop();

  int port() const;
  std::string push_url() const;  // http(s)://127.0.0.1:<port>/loki/api/v1/push
  std::string base_url() const;  // http(s)://127.0.0.1:<port> (https with Options::tls)
  // push_url() with `host` (a name or address that reaches this server) in place of 127.0.0.1.
  std::string push_url_for(std::string_view host) const;

  // --- Fault injection on POST /loki/api/v1/push (other endpoints are never faulted). ---------
  // count: how many of the next requests are affected; -1: every request until cleared.
  // Faults apply in the order drop, stall, status: a stalled request may then get a status fault.
  // Faulted requests (status or drop) are not ingested.

  // Answer `status` with `body` (text/plain) and, if set, `Retry-After: <seconds>`.
  void FailNext(int count, int status, std::string body = "",
                std::optional<int> retry_after_seconds = std::nullopt);
  // Read the request, then hold it for `duration` (forever: until ReleaseStall() or Stop())
  // before handling it normally.
  void StallNext(int count, absl::Duration duration = absl::InfiniteDuration());
  // Let every held request go on now and cancel the remaining stall fault.
  void ReleaseStall();
  // Read the request, then reset the connection (RST, no response). Note that libcurl silently
  // retries a request once on a fresh connection when a reused connection dies like this.
  void DropNext(int count);
  // Cancels all three faults and the queue below (held requests are released).
  void ClearFaults();

  // A sequence of outcomes decided up front. Setting FailNext/DropNext while a client is sending
  // races with its requests: one that arrives before the call escapes the fault, and a later call
  // overwrites what an earlier one had not used up yet. Queued steps are taken strictly in order,
  // one push request per count, and go before the faults above.
  struct Fault {
    enum class Kind { kPass, kStatus, kDrop };
    Kind kind = Kind::kPass;
    int count = 1;  // push requests this step decides (> 0)
    int status = 0;
    std::string body;
    std::optional<int> retry_after_seconds;

    // Handled normally (a request that gets through between failures).
    static Fault Pass(int count = 1) { return {Kind::kPass, count, 0, "", std::nullopt}; }
    // As FailNext(count, status, body, retry_after_seconds).
    static Fault Status(int count, int status, std::string body = "",
                        std::optional<int> retry_after_seconds = std::nullopt) {
      return {Kind::kStatus, count, status, std::move(body), retry_after_seconds};
    }
    // As DropNext(count).
    static Fault Drop(int count = 1) { return {Kind::kDrop, count, 0, "", std::nullopt}; }
  };
  // Appends `steps` to the queue.
  void QueueFaults(std::vector<Fault> steps);
  // Push requests the queue will still decide.
  size_t queued_faults() const;
  // Blocks until every queued step has been taken (queued_faults() == 0); false on timeout.
  bool WaitForQueuedFaults(absl::Duration timeout) const;

  // --- Observations. --------------------------------------------------------------------------
  std::vector<FakeLokiStream> Streams() const;  // in order of first arrival
  // `labels` may be in any valid form ({b="1",a="2"} finds {a="2", b="1"}).
  std::optional<FakeLokiStream> FindStream(std::string_view labels,
                                           std::string_view tenant = "") const;
  // Every accepted line of every stream, streams in order of first arrival.
  std::vector<std::string> AllLines() const;
  size_t total_entries() const;
  size_t stream_count() const;
  size_t duplicates() const;  // entries ignored as duplicates (same ts + line + metadata)
  size_t rejected_entries() const;
  std::map<std::string, size_t> rejected_by_reason() const;
  std::vector<FakeLokiRejection> Rejections() const;     // newest Options::rejection_log_size
  size_t request_count() const;                          // push requests answered or dropped
  std::map<int, size_t> requests_by_status() const;      // dropped connections count under 0
  std::vector<FakeLokiRequest> Requests() const;         // newest Options::request_log_size
  size_t stalled_now() const;                            // requests being held right now
  std::vector<FakeLokiRequest> ConnectRequests() const;  // CONNECTs received (Options::tls)
  size_t tls_handshake_failures() const;  // TLS handshakes that failed (bad client cert, ...)
  std::string last_tls_error() const;     // OpenSSL's text for the last of them

  // Forgets stored streams, counters and logs (not faults).
  void ClearObservations();

  // Block on a condition variable until the condition holds or the timeout passes; true if it
  // holds.
  bool WaitForEntries(size_t n, absl::Duration timeout) const;      // total_entries() >= n
  bool WaitForRequests(size_t n, absl::Duration timeout) const;     // request_count() >= n
  bool WaitForStalled(size_t n, absl::Duration timeout) const;      // stalled_now() >= n
  bool WaitForTlsFailures(size_t n, absl::Duration timeout) const;  // tls_handshake_failures()

  // Prometheus text exposition served on GET /metrics.
  std::string MetricsText() const;
  // {"entries":..,"streams":..,"duplicates":..,"rejected":..,"requests":..,
  //  "requests_by_status":{"204":..},"rejected_by_reason":{..}}
  std::string StatsJson() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses a Loki/Prometheus label string (`{a="x", b='y'}`, Go escapes in values, optional metric
// name prefix) into a sorted map, dropping empty values. Exposed for tests. On error returns
// false and sets *error (Loki does not accept the string).
bool ParseLokiLabels(std::string_view text, std::map<std::string, std::string>* out,
                     std::string* error);
// Canonical Prometheus form of a label set: `{a="x", b="y"}`.
std::string FormatLokiLabels(const std::map<std::string, std::string>& labels);

}  // namespace sluice::testing
