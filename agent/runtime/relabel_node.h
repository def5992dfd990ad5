// RelabelNode: loki.relabel as a node of the graph.
//
// Applies its rules to each entry's labels and passes the entry on; an entry left with no labels
// is dropped (not forwarded, as Alloy; counted: loki_relabel_entries_processed minus
// loki_relabel_entries_written). Results are cached by input label set (max_cache_size entries,
// Alloy's default 10000) so that the rules run once per stream, not once per line. Marks pass
// through unchanged. Tail thread only; owned by the Runtime.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "agent/common/metrics.h"
#include "agent/relabel/relabel.h"
#include "agent/runtime/logs_node.h"

namespace sluice {

class RelabelNode final : public LogsNode {
 public:
  RelabelNode(std::string component_id, std::shared_ptr<const std::vector<RelabelRule>> rules,
              size_t max_cache_size, MetricsRegistry* metrics);

  void SetForward(std::vector<LogsNode*> forward) { forward_ = std::move(forward); }

  void Push(ProcessEntry& entry) override;
  void PushMark(uint64_t file_id, uint64_t generation, int64_t offset) override;

 private:
  struct Cached {
    bool keep = false;
    LabelSet labels;
  };
  std::string component_id_;
  std::shared_ptr<const std::vector<RelabelRule>> rules_;
  size_t max_cache_size_;
  std::vector<LogsNode*> forward_;
  absl::flat_hash_map<std::string, Cached> cache_;  // key: the input labels rendered
  std::string key_;
  ProcessEntry fanout_;
  Counter* processed_;
  Counter* written_;
  Counter* cache_hits_;
  Counter* cache_misses_;
  Gauge* cache_size_;
};

}  // namespace sluice
