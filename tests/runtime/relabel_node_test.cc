// RelabelNode (loki.relabel as a graph node) on its own: compiled rules, recording receivers and
// a metrics registry. Checks the rules per entry, the drop of an entry left without labels and
// its count, the per-label-set cache (hits, misses, its bound) and that marks pass through.
#include "agent/runtime/relabel_node.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/common/metrics.h"
#include "agent/relabel/relabel.h"

namespace sluice {
namespace {

struct Mark {
  uint64_t file_id;
  uint64_t generation;
  int64_t offset;
  bool operator==(const Mark&) const = default;
};

// Records what reaches it; with `mutate`, scribbles over the entry it was given.
class RecordingNode final : public LogsNode {
 public:
  explicit RecordingNode(bool mutate = false) : mutate_(mutate) {}
  void Push(ProcessEntry& entry) override {
    entries.push_back(entry);
    if (mutate_) {
      entry.line = "scribbled";
      entry.labels.Set("scribbled", "yes");
    }
  }
  void PushMark(uint64_t file_id, uint64_t generation, int64_t offset) override {
    marks.push_back(Mark{file_id, generation, offset});
  }
  std::vector<ProcessEntry> entries;
  std::vector<Mark> marks;

 private:
  bool mutate_;
};

RelabelRule Rule(RelabelAction action, std::vector<std::string> source_labels, std::string regex,
                 std::string target_label = "", std::string replacement = "$1") {
  RelabelRule r;
  r.action = action;
  r.source_labels_set = !source_labels.empty();
  r.source_labels = std::move(source_labels);
  r.regex = std::move(regex);
  r.target_label = std::move(target_label);
  r.replacement = std::move(replacement);
  absl::Status st = CompileRule(&r);
  EXPECT_TRUE(st.ok()) << st;
  return r;
}

// svc="svc-<app>" when app is set; entries with level="debug" dropped; tmp* labels removed.
std::shared_ptr<const std::vector<RelabelRule>> TestRules() {
  auto rules = std::make_shared<std::vector<RelabelRule>>();
  rules->push_back(Rule(RelabelAction::kReplace, {"app"}, "(.+)", "svc", "svc-$1"));
  rules->push_back(Rule(RelabelAction::kDrop, {"level"}, "debug"));
  rules->push_back(Rule(RelabelAction::kLabelDrop, {}, "tmp.*", "", "$1"));
  return rules;
}

ProcessEntry Entry(std::vector<std::pair<std::string, std::string>> labels, std::string line) {
  ProcessEntry e;
  for (const auto& [k, v] : labels) e.labels.Set(k, v);
  e.line = std::move(line);
  return e;
}

std::string Render(const LabelSet& l) {
  std::string out;
  for (const auto& [k, v] : l.labels()) absl::StrAppend(&out, Av(k), "=", Av(v), ",");
  return out;
}

class RelabelNodeTest : public ::testing::Test {
 protected:
  RelabelNode* Make(size_t max_cache_size, std::vector<LogsNode*> forward = {}) {
    node_ = std::make_unique<RelabelNode>(kId, TestRules(), max_cache_size, &metrics_);
    node_->SetForward(forward.empty() ? std::vector<LogsNode*>{&out_} : forward);
    return node_.get();
  }
  void Push(ProcessEntry e) { node_->Push(e); }
  uint64_t Counter(const std::string& name) {
    return metrics_.CounterValue(name, {{"component_id", kId}});
  }
  double CacheSize() {
    return metrics_.GaugeValue("loki_relabel_cache_size", {{"component_id", kId}});
  }

  static constexpr char kId[] = "loki.relabel.test";
  MetricsRegistry metrics_{MetricsRegistry::Options{.process_metrics = false}};
  RecordingNode out_;
  std::unique_ptr<RelabelNode> node_;
};

TEST_F(RelabelNodeTest, RulesApplyToEachEntry) {
  Make(100);
  Push(Entry({{"app", "web"}, {"tmp_id", "1"}}, "one"));
  Push(Entry({{"app", "db"}}, "two"));
  Push(Entry({{"app", "web"}, {"level", "debug"}}, "dropped by rule"));
  Push(Entry({{"job", "x"}, {"tmp_a", "1"}}, "three"));
  ASSERT_EQ(out_.entries.size(), 3u);
  EXPECT_EQ(out_.entries[0].line, "one");
  EXPECT_EQ(Render(out_.entries[0].labels), "app=web,svc=svc-web,");
  EXPECT_EQ(out_.entries[1].line, "two");
  EXPECT_EQ(Render(out_.entries[1].labels), "app=db,svc=svc-db,");
  EXPECT_EQ(out_.entries[2].line, "three");
  EXPECT_EQ(Render(out_.entries[2].labels), "job=x,");
  EXPECT_EQ(Counter("loki_relabel_entries_processed"), 4u);
  EXPECT_EQ(Counter("loki_relabel_entries_written"), 3u);
}

TEST_F(RelabelNodeTest, AnEntryLeftWithoutLabelsIsDroppedAndCounted) {
  Make(100);
  Push(Entry({{"tmp_only", "1"}}, "no labels left"));
  Push(Entry({{"tmp_x", "1"}, {"tmp_y", "2"}}, "none either"));
  Push(Entry({}, "no labels at all"));
  EXPECT_TRUE(out_.entries.empty());
  Push(Entry({{"app", "a"}}, "kept"));
  ASSERT_EQ(out_.entries.size(), 1u);
  EXPECT_EQ(out_.entries[0].line, "kept");
  // Dropped = processed - written, as Alloy's loki.relabel counts them.
  EXPECT_EQ(Counter("loki_relabel_entries_processed"), 4u);
  EXPECT_EQ(Counter("loki_relabel_entries_written"), 1u);
}

TEST_F(RelabelNodeTest, ALabelSetIsRelabelledOnceAndThenServedFromTheCache) {
  Make(100);
  for (int i = 0; i < 5; ++i) Push(Entry({{"app", "web"}}, "w" + std::to_string(i)));
  EXPECT_EQ(Counter("loki_relabel_cache_misses"), 1u);
  EXPECT_EQ(Counter("loki_relabel_cache_hits"), 4u);
  EXPECT_EQ(CacheSize(), 1);
  // A dropped set is cached too (its drop decision).
  for (int i = 0; i < 3; ++i) Push(Entry({{"app", "web"}, {"level", "debug"}}, "d"));
  EXPECT_EQ(Counter("loki_relabel_cache_misses"), 2u);
  EXPECT_EQ(Counter("loki_relabel_cache_hits"), 6u);
  EXPECT_EQ(CacheSize(), 2);
  // "__" labels are part of the key: a different tenant is a different set.
  Push(Entry({{"app", "web"}, {"__tenant_id__", "t"}}, "t"));
  EXPECT_EQ(Counter("loki_relabel_cache_misses"), 3u);
  // Every cached answer is the right one.
  ASSERT_EQ(out_.entries.size(), 6u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(Render(out_.entries[i].labels), "app=web,svc=svc-web,") << i;
    EXPECT_EQ(out_.entries[i].line, "w" + std::to_string(i));
  }
  EXPECT_EQ(Render(out_.entries[5].labels), "__tenant_id__=t,app=web,svc=svc-web,");
  EXPECT_EQ(Counter("loki_relabel_entries_processed"), 9u);
  EXPECT_EQ(Counter("loki_relabel_entries_written"), 6u);
}

TEST_F(RelabelNodeTest, TheCacheStaysWithinMaxCacheSize) {
  constexpr size_t kMax = 3;
  Make(kMax);
  // Ten streams, round and round: the cache never holds more than kMax, and every entry still
  // gets its own stream's labels.
  for (int round = 0; round < 4; ++round) {
    for (int s = 0; s < 10; ++s) {
      Push(Entry({{"app", "a" + std::to_string(s)}}, std::to_string(round)));
      EXPECT_LE(CacheSize(), kMax);
      EXPECT_GE(CacheSize(), 1);
    }
  }
  ASSERT_EQ(out_.entries.size(), 40u);
  for (size_t i = 0; i < out_.entries.size(); ++i) {
    std::string app = "a" + std::to_string(i % 10);
    EXPECT_EQ(Render(out_.entries[i].labels), "app=" + app + ",svc=svc-" + app + ",") << i;
  }
  // Cycling through more sets than fit, each push misses.
  EXPECT_EQ(Counter("loki_relabel_cache_misses"), 40u);
  EXPECT_EQ(Counter("loki_relabel_cache_hits"), 0u);
  // A set pushed again right away is a hit.
  Push(Entry({{"app", "a9"}}, "again"));
  EXPECT_EQ(Counter("loki_relabel_cache_hits"), 1u);
}

TEST_F(RelabelNodeTest, MarksPassThroughToEveryReceiver) {
  RecordingNode a, b;
  Make(100, {&a, &b});
  node_->PushMark(4, 2, 1234);
  node_->PushMark(5, 1, 0);
  for (RecordingNode* r : {&a, &b}) {
    ASSERT_EQ(r->marks.size(), 2u);
    EXPECT_EQ(r->marks[0], (Mark{4, 2, 1234}));
    EXPECT_EQ(r->marks[1], (Mark{5, 1, 0}));
  }
}

TEST_F(RelabelNodeTest, FanOutGivesEachReceiverItsOwnCopy) {
  RecordingNode a(/*mutate=*/true), b(/*mutate=*/true);
  Make(100, {&a, &b});
  Push(Entry({{"app", "web"}}, "one"));
  Push(Entry({{"app", "web"}}, "two"));
  for (RecordingNode* r : {&a, &b}) {
    ASSERT_EQ(r->entries.size(), 2u);
    EXPECT_EQ(r->entries[0].line, "one");
    EXPECT_EQ(r->entries[1].line, "two");
    EXPECT_EQ(Render(r->entries[1].labels), "app=web,svc=svc-web,");
  }
}

}  // namespace
}  // namespace sluice
