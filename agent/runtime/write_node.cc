#include "agent/runtime/write_node.h"

#include <boost/asio/post.hpp>
#include <tuple>

#include "agent/common/log.h"
#include "agent/common/strings.h"
#include "agent/pipeline/push_encoder.h"

namespace sluice {

WriteNode::WriteNode(WriteNodeSettings settings, LogsRouter* router, boost::asio::io_context* io,
                     const Clock* clock, MetricsRegistry* metrics)
    : settings_(std::move(settings)), router_(router), io_(io), clock_(clock) {
  (void)metrics;
  for (WriteEndpointSettings& s : settings_.endpoints) {
    auto ep = std::make_unique<Endpoint>();
    ep->settings = s;
    endpoints_.push_back(std::move(ep));
  }
}

WriteNode::~WriteNode() {
  for (auto& ep : endpoints_) {
    if (ep->sender) ep->sender->Stop();
  }
}

void WriteNode::Start() {
  for (auto& ep : endpoints_) {
    std::unique_ptr<Sink> sink = ep->settings.make_sink();
    ep->sink = sink.get();
    ep->sender = std::make_unique<Sender>(
        std::move(sink), [this](std::unique_ptr<Batch> batch, BatchOutcome outcome) {
          // Back to the tail thread, which owns positions and the budget.
          Batch* raw = batch.release();
          boost::asio::post(*io_, [this, raw, outcome] {
            router_->OnBatchDone(std::unique_ptr<Batch>(raw), outcome);
          });
        });
    ep->sender->Start();
  }
  started_ = true;
}

void WriteNode::Drain(absl::Time deadline) {
  absl::Time start = absl::Now();
  for (auto& ep : endpoints_) {
    if (ep->sender) ep->sender->Drain(std::min(deadline, start + ep->settings.drain_timeout));
  }
}

WriteNode::TenantBatcher* WriteNode::BatcherFor(Endpoint& ep, std::string_view tenant) {
  for (auto& tb : ep.batchers) {
    if (tb->tenant == tenant) return tb.get();
  }
  auto tb = std::make_unique<TenantBatcher>();
  TenantBatcher* raw = tb.get();
  raw->tenant = std::string(tenant);
  Endpoint* epp = &ep;
  raw->batcher = std::make_unique<Batcher>(ep.settings.batch_size, clock_,
                                           [epp, raw](std::unique_ptr<Batch> batch) {
                                             batch->slot = raw->slot;
                                             batch->tenant = raw->tenant;
                                             epp->sender->Enqueue(std::move(batch));
                                           });
  // Batches are encoded and compressed by the sink on the endpoint's send thread (Deliver), not
  // here: the tail thread only reads, parses and batches, and a catch-up uses a second core.
  Sink* sink = ep.sink;
  std::tie(raw->limited_entries, raw->limited_bytes) =
      sink->DropCounters(raw->tenant, "stream_limited");
  raw->slot = router_->AddSlot(raw->batcher.get());
  ep.batchers.push_back(std::move(tb));
  return raw;
}

void WriteNode::Resolve(const LabelSet& labels, Route* route) {
  // external_labels under the entry's own.
  labels_scratch_ = labels;
  for (const auto& [k, v] : settings_.external_labels.labels()) {
    if (!labels_scratch_.Has(k)) labels_scratch_.Set(k, v);
  }
  labels_scratch_.RenderLokiTo(&key_scratch_);
  route->targets.clear();
  for (auto& ep : endpoints_) {
    // Tenant from the entry (stage.tenant), else the endpoint's.
    LabelValue entry_tenant = labels.Get("__tenant_id__");
    std::string_view tenant = entry_tenant.has_value() ? std::string_view(*entry_tenant)
                                                       : std::string_view(ep->settings.tenant);
    TenantBatcher* tb = BatcherFor(*ep, tenant);
    Target t;
    auto it = tb->streams.find(key_scratch_);
    if (it != tb->streams.end()) {
      t = Target{tb, it->second};
    } else {
      auto info = std::make_shared<StreamInfo>();
      info->loki_labels = key_scratch_;
      if (ep->settings.json_labels) info->json_labels = labels_scratch_.RenderJson();
      std::string_view key = info->loki_labels;
      uint32_t id = tb->batcher->AddStream(std::move(info));
      tb->streams.emplace(key, id);
      if (tb->used_in.size() <= id) tb->used_in.resize(id + 1, 0);
      t = Target{tb, id};
    }
    tb->used_in[t.id] = epoch_;
    route->targets.push_back(t);
  }
}

const WriteNode::Route& WriteNode::RouteFor(const LabelSet& labels) {
  for (size_t k = 0; k < kRecent; ++k) {
    const size_t i = (last_recent_ + k) % kRecent;
    Recent& s = recent_[i];
    if (!s.used || !labels.Matches(s.labels)) continue;
    if (s.route == nullptr) {
      auto it = routes_.find(s.hash);
      if (it == routes_.end()) break;  // cleared since: look it up afresh
      s.route = &it->second;
    }
    last_recent_ = i;
    return *s.route;
  }
  const size_t h = absl::HashOf(labels);
  const uint64_t fingerprint = labels.Fingerprint();
  auto it = routes_.find(h);
  const Route* route;
  if (it != routes_.end()) {
    if (it->second.fingerprint != fingerprint) {
      // Two label sets with one hash: resolved each time, not cached.
      Resolve(labels, &uncached_);
      return uncached_;
    }
    route = &it->second;
  } else {
    if (routes_.size() >= kMaxRoutes) ForgetRoutes();
    for (Recent& s : recent_) s.route = nullptr;  // the insert may move every route
    Route& r = routes_[h];
    r.fingerprint = fingerprint;
    Resolve(labels, &r);
    route = &r;
  }
  Recent& s = recent_[next_recent_];
  last_recent_ = next_recent_;
  next_recent_ = (next_recent_ + 1) % kRecent;
  s.labels = labels;
  s.hash = h;
  s.route = route;
  s.used = true;
  return *route;
}

void WriteNode::ForgetRoutes() {
  routes_.clear();
  for (Recent& s : recent_) {
    s.used = false;
    s.route = nullptr;
  }
}

void WriteNode::Push(ProcessEntry& e) {
  const Route& route = RouteFor(e.labels);
  meta_scratch_.clear();
  for (const auto& [k, v] : e.structured_metadata) AppendMetadataPair(k, v, &meta_scratch_);
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const Target& t = route.targets[i];
    t.tb->used_in[t.id] = epoch_;
    if (settings_.max_streams > 0 &&
        !t.tb->batcher->Admits(t.id, e.line.size() + meta_scratch_.size(),
                               static_cast<size_t>(settings_.max_streams))) {
      // The open batch holds max_streams others: this entry is dropped and counted.
      if (t.tb->limited_entries != nullptr) {
        t.tb->limited_entries->Inc();
        t.tb->limited_bytes->Inc(e.line.size());
      }
      continue;
    }
    bool was_open = t.tb->batcher->has_open();
    t.tb->batcher->Add(t.id, e.timestamp_ns, e.line, meta_scratch_, 0, 0, 0);
    router_->AddInflight(e.line.size() + meta_scratch_.size());
    if (!was_open) {
      router_->WakeAt(clock_->MonotonicNanos() +
                      absl::ToInt64Nanoseconds(endpoints_[i]->settings.batch_wait));
    }
  }
}

void WriteNode::PushMark(uint64_t file_id, uint64_t generation, int64_t offset) {
  for (auto& ep : endpoints_) {
    if (ep->batchers.empty()) BatcherFor(*ep, ep->settings.tenant);
    for (auto& tb : ep->batchers) {
      bool was_open = tb->batcher->has_open();
      tb->batcher->Mark(file_id, generation, offset);
      router_->Handed(tb->slot, file_id, generation, offset);
      if (!was_open) {
        router_->WakeAt(clock_->MonotonicNanos() +
                        absl::ToInt64Nanoseconds(ep->settings.batch_wait));
      }
    }
  }
}

void WriteNode::Tick(int64_t now_mono_ns) {
  if (next_sweep_ns_ == INT64_MIN) {
    next_sweep_ns_ = now_mono_ns + absl::ToInt64Nanoseconds(kStreamIdle);
  } else if (now_mono_ns >= next_sweep_ns_) {
    SweepStreams();
    next_sweep_ns_ = now_mono_ns + absl::ToInt64Nanoseconds(kStreamIdle);
  }
  for (auto& ep : endpoints_) {
    for (auto& tb : ep->batchers) {
      tb->batcher->SealIfOlderThan(absl::ToInt64Nanoseconds(ep->settings.batch_wait));
    }
  }
}

int64_t WriteNode::NextDeadline() const {
  int64_t next = INT64_MAX;
  int64_t now = clock_->MonotonicNanos();
  for (const auto& ep : endpoints_) {
    for (const auto& tb : ep->batchers) {
      if (!tb->batcher->has_open()) continue;
      next = std::min(next, now - tb->batcher->open_age_ns() +
                                absl::ToInt64Nanoseconds(ep->settings.batch_wait));
    }
  }
  return next;
}

void WriteNode::SweepStreams() {
  bool released = false;
  for (auto& ep : endpoints_) {
    for (auto& tb : ep->batchers) {
      for (auto it = tb->streams.begin(); it != tb->streams.end();) {
        const uint32_t id = it->second;
        if (tb->used_in[id] == epoch_) {
          ++it;
          continue;
        }
        // The key views the stream's StreamInfo, which ReleaseStream may free: erased first.
        tb->streams.erase(it++);
        tb->batcher->ReleaseStream(id);  // seals the open batch first if the stream is in it
        tb->used_in[id] = 0;
        released = true;
      }
    }
  }
  ++epoch_;
  if (released) {
    // Cached routes name stream ids, which the batchers now give to new streams.
    ForgetRoutes();
  }
}

size_t WriteNode::streams() const {
  size_t n = 0;
  for (const auto& ep : endpoints_) {
    for (const auto& tb : ep->batchers) n += tb->streams.size();
  }
  return n;
}

void WriteNode::Flush() {
  for (auto& ep : endpoints_) {
    for (auto& tb : ep->batchers) tb->batcher->Seal();
  }
}

}  // namespace sluice

namespace sluice {

std::optional<std::string> WriteNode::Unhealthy() const {
  // Endpoints are fixed after construction; each sink guards its own state.
  for (const auto& ep : endpoints_) {
    if (ep->sink == nullptr) continue;
    if (std::optional<std::string> why = ep->sink->Unhealthy()) return why;
  }
  return std::nullopt;
}

}  // namespace sluice
