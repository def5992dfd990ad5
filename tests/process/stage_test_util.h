// Helpers for tests of loki.process stages: build a stage from a hand-made block, run entries
// through it, and read diagnostics. Test thread only.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/common/clock.h"
#include "agent/common/metrics.h"
#include "agent/config/decode.h"
#include "agent/process/stage.h"
#include "agent/process/stages/registry.h"
#include "tests/support/block_builder.h"

namespace sluice::testing {

// Owns what a stage needs to be built and run.
struct StageHarness {
  // Held by pointer so that a harness can be returned by value (the context points at them).
  std::unique_ptr<FakeClock> clock = std::make_unique<FakeClock>(1'700'000'000'000'000'000);
  std::unique_ptr<MetricsRegistry> metrics = std::make_unique<MetricsRegistry>();
  StageContext ctx{clock.get(), metrics.get(), "loki.process.test"};
  config::Diags diags;
  std::unique_ptr<Stage> stage;

  // Builds the stage; returns false (and keeps the diagnostics) on error.
  bool Build(StageFactory factory, const config::Block& block) {
    diags.Clear();
    config::Decoder d(block, &diags);
    stage = factory(d, ctx);
    return stage != nullptr;
  }

  // The messages of the diagnostics, in order.
  std::vector<std::string> Errors() const {
    std::vector<std::string> out;
    for (const auto& d : diags.list()) out.push_back(d.message);
    return out;
  }

  std::vector<ProcessEntry> Run(ProcessEntry e) {
    std::vector<ProcessEntry> out;
    stage->Process(std::move(e), [&](ProcessEntry&& o) { out.push_back(std::move(o)); });
    return out;
  }

  // Runs one entry that must come out alone.
  ProcessEntry One(ProcessEntry e) {
    std::vector<ProcessEntry> out = Run(std::move(e));
    if (out.size() != 1) {
      ADD_FAILURE() << "expected one entry out, got " << out.size();
      return {};
    }
    return std::move(out[0]);
  }

  std::vector<ProcessEntry> Flush() {
    std::vector<ProcessEntry> out;
    stage->Flush([&](ProcessEntry&& o) { out.push_back(std::move(o)); });
    return out;
  }

  uint64_t Counter(const std::string& name, MetricLabels extra = {}) const {
    MetricLabels labels{{"component_id", ctx.component_id}};
    for (auto& l : extra) labels.push_back(std::move(l));
    return metrics->CounterValue(name, labels);
  }
};

inline ProcessEntry Entry(std::string line,
                          std::vector<std::pair<std::string, std::string>> labels = {},
                          int64_t ts = 1000) {
  ProcessEntry e;
  e.line = std::move(line);
  e.timestamp_ns = ts;
  for (auto& [k, v] : labels) e.labels.Set(k, v);
  return e;
}

inline const ExtractedValue* Extracted(const ProcessEntry& e, const std::string& key) {
  auto it = e.extracted.find(key);
  return it == e.extracted.end() ? nullptr : &it->second;
}

// extracted[key] as a string ("<absent>", "<null>", "<num:...>" , "<bool:...>" otherwise).
inline std::string X(const ProcessEntry& e, const std::string& key) {
  const ExtractedValue* v = Extracted(e, key);
  if (v == nullptr) return "<absent>";
  switch (v->kind) {
    case ExtractedValue::Kind::kString:
      return v->str;
    case ExtractedValue::Kind::kNull:
      return "<null>";
    case ExtractedValue::Kind::kBool:
      return v->boolean ? "<bool:true>" : "<bool:false>";
    case ExtractedValue::Kind::kNumber: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "<num:%.17g>", v->num);
      return buf;
    }
  }
  return "?";
}

inline std::string Label(const ProcessEntry& e, const std::string& name) {
  LabelValue v = e.labels.Get(name);
  return v ? std::string(*v) : "<absent>";
}

}  // namespace sluice::testing
