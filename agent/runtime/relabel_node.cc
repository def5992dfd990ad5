#include "agent/runtime/relabel_node.h"

#include "agent/common/strings.h"

namespace sluice {

namespace {
// The cache key covers every label, "__" ones included (rules may read them).
void RenderKey(const LabelSet& labels, std::string* out) {
  out->clear();
  for (const auto& [k, v] : labels.labels()) {
    out->append(k);
    out->push_back('\x01');
    out->append(v);
    out->push_back('\x02');
  }
}
}  // namespace

RelabelNode::RelabelNode(std::string component_id,
                         std::shared_ptr<const std::vector<RelabelRule>> rules,
                         size_t max_cache_size, MetricsRegistry* metrics)
    : component_id_(std::move(component_id)),
      rules_(std::move(rules)),
      max_cache_size_(max_cache_size) {
  MetricLabels l = {{"component_id", SplitComponentId(component_id_).first}};
  // Alloy's loki.relabel metrics; dropped entries are processed minus written.
  processed_ = metrics->GetCounter("loki_relabel_entries_processed",
                                   "Total number of log entries processed.", l);
  written_ = metrics->GetCounter("loki_relabel_entries_written",
                                 "Total number of log entries forwarded.", l);
  cache_hits_ = metrics->GetCounter("loki_relabel_cache_hits", "Total number of cache hits.", l);
  cache_misses_ =
      metrics->GetCounter("loki_relabel_cache_misses", "Total number of cache misses.", l);
  cache_size_ = metrics->GetGauge("loki_relabel_cache_size", "Size of the relabel cache.", l);
}

void RelabelNode::Push(ProcessEntry& e) {
  processed_->Inc();
  RenderKey(e.labels, &key_);
  auto it = cache_.find(key_);
  if (it != cache_.end()) {
    cache_hits_->Inc();
  } else {
    cache_misses_->Inc();
    Cached c;
    c.labels = e.labels;
    // loki.relabel runs Prometheus' engine with legacy label names, as Alloy converts them.
    c.keep = Relabel(*rules_, &c.labels, LabelNameScheme::kLegacy) && !c.labels.empty();
    if (cache_.size() >= max_cache_size_) cache_.clear();  // bounded; streams are few
    it = cache_.emplace(key_, std::move(c)).first;
    cache_size_->Set(static_cast<double>(cache_.size()));
  }
  if (!it->second.keep) return;
  written_->Inc();
  e.labels = it->second.labels;
  PushToAll(forward_, e, &fanout_);
}

void RelabelNode::PushMark(uint64_t file_id, uint64_t generation, int64_t offset) {
  for (LogsNode* n : forward_) n->PushMark(file_id, generation, offset);
}

}  // namespace sluice
