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

void WriteNode::Push(ProcessEntry& e) {
  // Lines come in runs of one file's labels: each endpoint's stream is found once per run, not
  // once per line (rendering and hashing the labels per line was a fifth of the agent's CPU).
  if (!have_last_ || !(e.labels == last_labels_)) {
    last_labels_ = e.labels;
    have_last_ = true;
    // external_labels under the entry's own.
    labels_scratch_ = e.labels;
    for (const auto& [k, v] : settings_.external_labels.labels()) {
      if (labels_scratch_.Get(k) == nullptr) labels_scratch_.Set(k, v);
    }
    labels_scratch_.RenderLokiTo(&key_scratch_);
    for (auto& ep : endpoints_) ep->cached = false;
  }
  meta_scratch_.clear();
  for (const auto& [k, v] : e.structured_metadata) AppendMetadataPair(k, v, &meta_scratch_);
  for (auto& ep : endpoints_) {
    TenantBatcher* tb;
    uint32_t id;
    if (ep->cached) {
      tb = ep->cached_tb;
      id = ep->cached_id;
    } else {
      // Tenant from the entry (stage.tenant), else the endpoint's.
      const std::string* entry_tenant = last_labels_.Get("__tenant_id__");
      std::string_view tenant = entry_tenant != nullptr ? std::string_view(*entry_tenant)
                                                        : std::string_view(ep->settings.tenant);
      tb = BatcherFor(*ep, tenant);
      auto it = tb->streams.find(key_scratch_);
      if (it != tb->streams.end()) {
        id = it->second;
      } else {
        if (settings_.max_streams > 0 &&
            ep->streams >= static_cast<size_t>(settings_.max_streams)) {
          if (tb->limited_entries != nullptr) {
            tb->limited_entries->Inc();
            tb->limited_bytes->Inc(e.line.size());
          }
          continue;  // not cached: every entry of the stream is counted
        }
        auto info = std::make_shared<StreamInfo>();
        info->loki_labels = key_scratch_;
        info->json_labels = labels_scratch_.RenderJson();
        id = tb->batcher->AddStream(std::move(info));
        tb->streams.emplace(key_scratch_, id);
        ++ep->streams;
      }
      ep->cached = true;
      ep->cached_tb = tb;
      ep->cached_id = id;
    }
    bool was_open = tb->batcher->has_open();
    tb->batcher->Add(id, e.timestamp_ns, e.line, meta_scratch_, 0, 0, 0);
    router_->AddInflight(e.line.size() + meta_scratch_.size());
    if (!was_open) {
      router_->WakeAt(clock_->MonotonicNanos() + absl::ToInt64Nanoseconds(ep->settings.batch_wait));
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
  (void)now_mono_ns;
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
