// WriteNode: loki.write (one or more endpoints) and loki.echo, as a node of the graph.
//
// Each endpoint receives every entry independently, as in Alloy: it has its own batchers (one
// per tenant: the entry's __tenant_id__ label, else the endpoint's tenant_id), its own send
// thread and retries, so a slow endpoint delays nobody else's deliveries; it holds back only the
// positions of the files whose lines it still owes, and the memory budget it shares.
// external_labels are added to each entry's labels (the entry's own win); max_streams caps the
// streams of each batch, as Alloy's batches do (an entry of a further stream while the batch is
// open is dropped and counted, reason "stream_limited"; the next batch takes it).
// The endpoint's streams (rendered labels and the id the batcher knows them by) are kept while
// used: a stream with no entry for kStreamIdle is released, so pod churn over weeks does not
// grow them without bound.
//
// Push/PushMark/Tick on the tail thread; each endpoint's Sender runs an encoder thread (encodes
// and compresses batches as they are sealed, so a catch-up keeps two cores busy) and a send
// thread. Owned by the
// Runtime; Shutdown (Drain) before destruction.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/hash/hash.h"
#include "absl/time/time.h"
#include "agent/pipeline/batcher.h"
#include "agent/runtime/logs_node.h"
#include "agent/runtime/logs_router.h"
#include "agent/sink/sender.h"
#include "agent/sink/sink.h"

namespace sluice {

struct WriteEndpointSettings {
  std::string name;    // for logs and metrics ("" = the url's host)
  std::string tenant;  // default tenant (endpoint tenant_id)
  size_t batch_size = 1024 * 1024;
  absl::Duration batch_wait = absl::Seconds(1);
  // queue_config.drain_timeout: at shutdown, how long this endpoint may take to deliver what it
  // holds (within the agent's own shutdown timeout).
  absl::Duration drain_timeout = absl::InfiniteDuration();
  // Builds the endpoint's sink (LokiSink or EchoSink); called once at Start().
  std::function<std::unique_ptr<Sink>()> make_sink;
  // The sink prints a stream's labels as JSON (EchoSink): StreamInfo::json_labels is rendered.
  bool json_labels = false;
};

struct WriteNodeSettings {
  std::string component_id;  // "loki.write.default"
  LabelSet external_labels;
  int64_t max_streams = 0;  // 0 = no limit
  std::vector<WriteEndpointSettings> endpoints;
};

class WriteNode final : public LogsNode {
 public:
  // `metrics` is unused: the endpoints' sinks own the loki_write_* series (stream_limited drops
  // included, through Sink::DropCounters). Kept for the callers.
  WriteNode(WriteNodeSettings settings, LogsRouter* router, boost::asio::io_context* io,
            const Clock* clock, MetricsRegistry* metrics);
  ~WriteNode() override;

  // Starts the send threads.
  void Start();
  // Delivers what is queued until `deadline`, then cancels and joins the send threads.
  void Drain(absl::Time deadline);

  // Why an endpoint is failing now, or nullopt. Any thread.
  std::optional<std::string> Unhealthy() const;
  const std::string& component_id() const { return settings_.component_id; }

  void Push(ProcessEntry& entry) override;
  void PushMark(uint64_t file_id, uint64_t generation, int64_t offset) override;
  void Tick(int64_t now_mono_ns) override;
  int64_t NextDeadline() const override;
  void Flush() override;

  // Streams known across endpoints and tenants (tests; the stream expiry).
  size_t streams() const;
  // A stream unused for this long (at most twice it) is forgotten; the next entry with its
  // labels renders them again.
  static constexpr absl::Duration kStreamIdle = absl::Minutes(5);

 private:
  struct TenantBatcher {
    std::string tenant;
    uint32_t slot = 0;
    std::unique_ptr<Batcher> batcher;
    // Rendered labels -> stream id; the key views the StreamInfo's loki_labels, which the
    // batcher keeps until ReleaseStream (the entry is erased first).
    absl::flat_hash_map<std::string_view, uint32_t> streams;
    std::vector<uint32_t> used_in;  // by stream id: the sweep epoch it last had an entry in
    // The endpoint's loki_write_dropped_*_total{reason="stream_limited"} series for this tenant
    // (Alloy counts max_streams drops per host and tenant); null when the sink counts no drops.
    Counter* limited_entries = nullptr;
    Counter* limited_bytes = nullptr;
  };
  struct Endpoint {
    WriteEndpointSettings settings;
    std::unique_ptr<Sender> sender;
    Sink* sink = nullptr;  // owned by sender
    std::vector<std::unique_ptr<TenantBatcher>> batchers;
  };
  TenantBatcher* BatcherFor(Endpoint& ep, std::string_view tenant);
  // Where one label set's entries go at each endpoint: its batcher and stream.
  struct Target {
    TenantBatcher* tb = nullptr;
    uint32_t id = 0;
  };
  struct Route {
    // LabelSet::Fingerprint of the entry's labels, a second hash beside the map's key: the two
    // (128 bits of two unrelated functions) stand for the labels, which are not kept per route
    // (a copy per stream was ~0.7 MiB of a 1000-container node's heap).
    uint64_t fingerprint = 0;
    absl::InlinedVector<Target, 1> targets;  // by endpoint
  };
  // The route of `labels`: one of the last few if the labels are the same (compared with copies
  // of them), else from the cache (by hash and fingerprint), else resolved — rendering the
  // labels and finding or adding the stream — and cached.
  const Route& RouteFor(const LabelSet& labels);
  void Resolve(const LabelSet& labels, Route* route);
  // Releases the streams that had no entry since the previous sweep; forgets the routes.
  void SweepStreams();

  WriteNodeSettings settings_;
  LogsRouter* router_;
  boost::asio::io_context* io_;
  const Clock* clock_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  // Routes by the hash of the entry's labels. Entries of one stream come in runs, and a
  // pipeline's label sets are few (streams), so each is rendered and hashed into the batcher's
  // stream map once, not once per line; bounded (cleared when full).
  absl::flat_hash_map<size_t, Route> routes_;
  static constexpr size_t kMaxRoutes = 8192;
  // The label sets of the last routes, matched (LabelSet::Matches: by token, or byte for byte
  // for a set without one) before anything is hashed: the lines of one file alternate among a
  // few streams (a `level` label), and hashing each set twice (map key and fingerprint) was ~2%
  // of the DaemonSet pipeline's instructions. `route` is null after routes_ may have moved (an
  // insert), and found again by `hash`.
  struct Recent {
    LabelSet labels;
    size_t hash = 0;
    const Route* route = nullptr;
    bool used = false;
  };
  static constexpr size_t kRecent = 8;
  std::array<Recent, kRecent> recent_;
  size_t last_recent_ = 0;  // checked first
  size_t next_recent_ = 0;  // replaced next
  void ForgetRoutes();
  Route uncached_;           // a hash collision's route (not cached)
  LabelSet labels_scratch_;  // the entry's labels with the external labels
  std::string key_scratch_;
  std::string meta_scratch_;
  bool started_ = false;
  uint32_t epoch_ = 1;  // sweeps so far + 1
  int64_t next_sweep_ns_ = INT64_MIN;
};

}  // namespace sluice
