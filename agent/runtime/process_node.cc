#include "agent/runtime/process_node.h"

#include <algorithm>

namespace sluice {

// A view of a ProcessNode that starts at a later stage.
class ProcessNode::Tail final : public LogsNode {
 public:
  Tail(ProcessNode* node, size_t first) : node_(node), first_(first) {}
  void Push(ProcessEntry& entry) override {
    node_->RunFrom(first_, entry);
    node_->Schedule();
  }
  void PushMark(uint64_t file_id, uint64_t generation, int64_t offset) override {
    node_->PushMark(file_id, generation, offset);
  }

 private:
  ProcessNode* node_;
  size_t first_;
};

ProcessNode::ProcessNode(std::vector<std::unique_ptr<Stage>> stages, LogsRouter* router)
    : pipeline_(std::move(stages)), router_(router) {}

ProcessNode::~ProcessNode() = default;

LogsNode* ProcessNode::EntryFrom(size_t first) {
  if (first == 0) return this;
  views_.push_back(std::make_unique<Tail>(this, first));
  return views_.back().get();
}

void ProcessNode::Push(ProcessEntry& entry) {
  RunFrom(0, entry);
  Schedule();
}

void ProcessNode::RunFrom(size_t first, ProcessEntry& entry) {
  if (pipeline_.empty()) {  // `loki.process` with no stage: a pass-through, nothing to seed
    Forward(entry);
    return;
  }
  pipeline_.ProcessFrom(first, std::move(entry), [this](ProcessEntry&& out) { Forward(out); });
}

void ProcessNode::Forward(ProcessEntry& entry) { PushToAll(forward_, entry, &fanout_); }

int64_t ProcessNode::HeldFrom(uint64_t file_id) const {
  int64_t from = INT64_MAX;
  pipeline_.ForEachHeld([&](const ProcessEntry& e) {
    if (e.source.file_id == file_id) from = std::min(from, e.source.start);
  });
  return from;
}

void ProcessNode::PushMark(uint64_t file_id, uint64_t generation, int64_t offset) {
  int64_t held = HeldFrom(file_id);
  int64_t pass = offset;
  if (held < offset) {
    pass = held;
    deferred_[file_id] = Deferred{generation, offset};
  } else {
    deferred_.erase(file_id);
  }
  for (LogsNode* n : forward_) n->PushMark(file_id, generation, pass);
}

void ProcessNode::ReleaseMarks() {
  if (deferred_.empty()) return;
  std::vector<uint64_t> done;
  for (auto& [file_id, d] : deferred_) {
    int64_t held = HeldFrom(file_id);
    int64_t pass = std::min(held, d.offset);
    for (LogsNode* n : forward_) n->PushMark(file_id, d.generation, pass);
    if (held >= d.offset) done.push_back(file_id);
  }
  for (uint64_t id : done) deferred_.erase(id);
}

void ProcessNode::Tick(int64_t now_mono_ns) {
  pipeline_.Tick(now_mono_ns, [this](ProcessEntry&& out) { Forward(out); });
  ReleaseMarks();
}

int64_t ProcessNode::NextDeadline() const { return pipeline_.NextDeadline(); }

void ProcessNode::Schedule() {
  int64_t next = NextDeadline();
  if (next != INT64_MAX) router_->WakeAt(next);
}

void ProcessNode::Flush() {
  pipeline_.Flush([this](ProcessEntry&& out) { Forward(out); });
  ReleaseMarks();
}

bool ProcessNode::Backlogged() const { return pipeline_.Backlogged(); }

}  // namespace sluice
