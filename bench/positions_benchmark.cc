// What a positions write costs: rendering the document (tail thread) and writing it with a
// temporary file and a rename, no fsync (the positions writer's thread), for a node of 32 and of
// 1000 tailed files with kubelet-shaped paths and label sets. The agent writes at most once per
// 10 ms and at most 1/100 of the time (the gap is 100x a write's CPU cost), so these figures bound
// its cost per second (bench/RESULTS.md).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/source/positions.h"

namespace {

std::vector<sluice::PositionRecord> Node(int files) {
  std::vector<sluice::PositionRecord> out;
  for (int i = 0; i < files; ++i) {
    sluice::PositionRecord r;
    std::string pod = absl::StrCat("web-7d9f8c6b5-", 10000 + i);
    r.path = absl::StrCat("/var/log/pods/shop_", pod, "_0b1c2d3e-4f50-6172-8394-", 100000 + i,
                          "/web/0.log");
    r.labels = absl::StrCat(R"({app="web", container="web", job="shop/web", namespace="shop", )",
                            R"(node_name="node-1", pod=")", pod, R"("})");
    r.offset = 123456789 + i;
    r.has_identity = true;
    r.id.device = 2049;
    r.id.inode = 1000000 + static_cast<uint64_t>(i);
    r.id.fingerprint = 0x9f3a0c1d2e4b5a69ULL * static_cast<uint64_t>(i + 1);
    r.id.fingerprint_len = 1024;
    out.push_back(r);
  }
  return out;
}

void BM_RenderPositions(benchmark::State& state) {
  std::vector<sluice::PositionRecord> node = Node(static_cast<int>(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) {
    std::string doc = sluice::RenderPositions(node);
    bytes = doc.size();
    benchmark::DoNotOptimize(doc);
  }
  state.counters["doc_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_RenderPositions)->Arg(32)->Arg(1000);

void BM_WritePositionsNoSync(benchmark::State& state) {
  std::string doc = sluice::RenderPositions(Node(static_cast<int>(state.range(0))));
  char tmpl[] = "/tmp/sluice-bench-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string path = dir + "/positions.yml";
  for (auto _ : state) {
    absl::Status s = sluice::WritePositionsData(path, doc, false);
    if (!s.ok()) state.SkipWithError(std::string(s.message()).c_str());
  }
  if (std::system(("rm -rf '" + dir + "'").c_str()) != 0) state.SkipWithError("cleanup");
}
BENCHMARK(BM_WritePositionsNoSync)->Arg(32)->Arg(1000);

void BM_ParsePositions(benchmark::State& state) {
  std::string doc = sluice::RenderPositions(Node(static_cast<int>(state.range(0))));
  for (auto _ : state) {
    auto parsed = sluice::ParsePositions(doc);
    benchmark::DoNotOptimize(parsed);
  }
}
BENCHMARK(BM_ParsePositions)->Arg(32)->Arg(1000);

}  // namespace

BENCHMARK_MAIN();
