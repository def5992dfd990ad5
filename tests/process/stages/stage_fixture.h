// A gtest fixture for loki.process stages built by name through BuildStages, the way
// loki.process builds them (timestamp, drop, match, multiline and limit tests), with helpers to
// run, tick and flush a stage. Its Entry() takes a LabelSet, unlike stage_test_util.h's: include
// one or the other. Test thread only.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "agent/common/clock.h"
#include "agent/common/metrics.h"
#include "agent/config/decode.h"
#include "agent/pipeline/labels.h"
#include "agent/process/pipeline.h"
#include "agent/process/stage.h"

namespace sluice::testing {

inline int64_t UnixNs(int64_t y, int mo, int d, int h, int mi, int s, int64_t ns = 0) {
  return absl::ToUnixNanos(
             absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone())) +
         ns;
}

inline ProcessEntry Entry(std::string line, LabelSet labels = {}, int64_t ts = 1'000'000'000) {
  ProcessEntry e;
  e.line = std::move(line);
  e.labels = std::move(labels);
  e.timestamp_ns = ts;
  return e;
}

inline LabelSet Labels(std::initializer_list<std::pair<std::string, std::string>> kv) {
  LabelSet l;
  for (const auto& [k, v] : kv) l.Set(k, v);
  return l;
}

class StageTest : public ::testing::Test {
 protected:
  // Builds one stage through BuildStages (the way loki.process does).
  std::unique_ptr<Stage> Build(const config::Block& b) {
    std::vector<std::unique_ptr<Stage>> s = BuildStages({&b}, &diags_, ctx_);
    if (s.size() != 1) return nullptr;
    return std::move(s[0]);
  }
  // The message of the only diagnostic (test fails if there is not exactly one).
  std::string OnlyError() {
    EXPECT_EQ(diags_.list().size(), 1u);
    return diags_.list().empty() ? "" : diags_.list()[0].message;
  }
  std::vector<ProcessEntry> Run(Stage& s, ProcessEntry e) {
    std::vector<ProcessEntry> out;
    s.Process(std::move(e), [&](ProcessEntry&& o) { out.push_back(std::move(o)); });
    return out;
  }
  std::vector<ProcessEntry> TickAt(Stage& s, int64_t now) {
    std::vector<ProcessEntry> out;
    s.Tick(now, [&](ProcessEntry&& o) { out.push_back(std::move(o)); });
    return out;
  }
  std::vector<ProcessEntry> FlushAll(Stage& s) {
    std::vector<ProcessEntry> out;
    s.Flush([&](ProcessEntry&& o) { out.push_back(std::move(o)); });
    return out;
  }
  static std::vector<std::string> Lines(const std::vector<ProcessEntry>& v) {
    std::vector<std::string> out;
    for (const auto& e : v) out.push_back(e.line);
    return out;
  }
  uint64_t Dropped(std::string reason) {
    return metrics_.CounterValue(
        "loki_process_dropped_lines_total",
        {{"component_id", "loki.process.test"}, {"component_path", "/"}, {"reason", reason}});
  }

  FakeClock clock_;  // 2023-11-14T22:13:20Z
  MetricsRegistry metrics_;
  StageContext ctx_{&clock_, &metrics_, "loki.process.test"};
  config::Diags diags_;
};

}  // namespace sluice::testing
