// Microbenchmarks for the pipeline after parsing: batching (arena append + stream lookup),
// PushRequest encoding, snappy, and the whole of it from file bytes to a compressed request in
// one process (TailManager reading a real file, CRI parse, labels, batch, encode, snappy).
// Single-threaded; bytes/s counts input line bytes.
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "agent/common/clock.h"
#include "agent/common/metrics.h"
#include "agent/pipeline/batcher.h"
#include "agent/pipeline/labels.h"
#include "agent/pipeline/push_encoder.h"
#include "agent/source/pod_path.h"
#include "agent/source/tail_manager.h"
#include "benchmark/benchmark.h"

namespace sluice {
namespace {

// Deterministic mix of message sizes: mostly 80-300 bytes, some 300-1000, a few 1-4 KiB.
std::vector<std::string> Messages(size_t n) {
  std::vector<std::string> out;
  uint64_t x = 88172645463325252ull;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    size_t bucket = x % 100;
    size_t len = bucket < 85 ? 80 + x % 220 : bucket < 97 ? 300 + x % 700 : 1024 + x % 3072;
    std::string m =
        absl::StrCat("level=info ts=2026-11-24T09:00:00Z msg=\"request served\" seq=", i,
                     " path=/api/v1/items status=200 ");
    while (m.size() < len) absl::StrAppend(&m, "k", m.size() % 97, "=v ");
    m.resize(len);
    out.push_back(std::move(m));
  }
  return out;
}

void BM_BatchAdd(benchmark::State& state) {
  FakeClock clock;
  std::vector<std::string> msgs = Messages(4096);
  std::vector<std::unique_ptr<Batch>> sealed;
  Batcher batcher(1 << 20, &clock,
                  [&](std::unique_ptr<Batch> b) { sealed.push_back(std::move(b)); });
  std::vector<uint32_t> streams;
  for (int i = 0; i < 64; ++i) {
    auto info = std::make_shared<StreamInfo>();
    info->loki_labels = absl::StrCat("{container=\"app\", namespace=\"ns\", pod=\"p", i, "\"}");
    streams.push_back(batcher.AddStream(info));
  }
  size_t bytes = 0, i = 0;
  for (auto _ : state) {
    const std::string& m = msgs[i % msgs.size()];
    batcher.Add(streams[i % 64], static_cast<int64_t>(i), m, i % 64, 0, static_cast<int64_t>(i));
    bytes += m.size();
    ++i;
    for (auto& b : sealed) batcher.Recycle(std::move(b));
    sealed.clear();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(i));
}
BENCHMARK(BM_BatchAdd);

// Labelling a new file and finding its stream: parse the pod path, build the label set, render
// it as Loki's stream key and look the key up among the streams already known. This runs once
// per file and stream (a line reuses its file's stream id), so it is measured per file.
void BM_LabelsAndStreamLookup(benchmark::State& state) {
  std::vector<std::string> paths;
  for (int i = 0; i < 2000; ++i) {
    paths.push_back(absl::StrCat("/var/log/pods/team-", i % 40, "_web-", i, "-7d9f8c6b5-x2k4q_",
                                 "0c9e6a1e-8f4b-4c1a-9d3e-", 100000 + i, "/app/0.log"));
  }
  absl::flat_hash_map<std::string, uint32_t> streams;
  size_t i = 0;
  for (auto _ : state) {
    const std::string& path = paths[i % paths.size()];
    PodPath pod;
    if (!ParsePodLogPath(path, &pod)) state.SkipWithError("not a pod path");
    LabelSet labels;
    labels.Set("namespace", pod.namespace_name);
    labels.Set("pod", pod.pod_name);
    labels.Set("container", pod.container);
    labels.Set("filename", path);
    labels.Set("stream", "stdout");
    std::string key = labels.RenderLoki();
    auto [it, inserted] =
        streams.try_emplace(std::move(key), static_cast<uint32_t>(streams.size()));
    benchmark::DoNotOptimize(it->second);
    ++i;
  }
  state.SetItemsProcessed(static_cast<int64_t>(i));
}
BENCHMARK(BM_LabelsAndStreamLookup);

// What the DaemonSet pipeline does to an entry's labels on every line: the file's labels copied
// into the entry, stage.cri's stream, stage.labels' level, stage.static_labels' cluster,
// stage.label_drop's filename, then loki.write's route check (hash, and equality with the route).
void BM_EntryLabelsPerLine(benchmark::State& state) {
  std::vector<LabelSet> files;
  for (int i = 0; i < 32; ++i) {
    LabelSet l;
    l.Set("app", absl::StrCat("web-", i));
    l.Set("container", "app");
    l.Set("filename", absl::StrCat("/var/log/pods/team-", i, "_web-", i,
                                   "-7d9f8c6b5-x2k4q_0c9e6a1e-8f4b-4c1a-9d3e-1000/app/0.log"));
    l.Set("job", absl::StrCat("team-", i, "/app"));
    l.Set("namespace", absl::StrCat("team-", i));
    l.Set("pod", absl::StrCat("web-", i, "-7d9f8c6b5-x2k4q"));
    files.push_back(l);
  }
  const char* levels[] = {"info", "warn", "error", "debug"};
  LabelSet entry, last;
  size_t i = 0, same = 0;
  for (auto _ : state) {
    entry = files[(i / 64) % files.size()];  // lines come in runs from one file
    entry.Set("stream", "stdout");
    entry.Set("level", levels[i % 4]);
    entry.Set("cluster", "bench");
    entry.Remove("filename");
    size_t h = absl::HashOf(entry);
    benchmark::DoNotOptimize(h);
    if (entry == last) ++same;
    if (i % 4 == 0) last = entry;
    ++i;
  }
  benchmark::DoNotOptimize(same);
  state.SetItemsProcessed(static_cast<int64_t>(i));
}
BENCHMARK(BM_EntryLabelsPerLine);

std::unique_ptr<Batch> FullBatch(size_t* lines) {
  FakeClock clock;
  std::unique_ptr<Batch> out;
  Batcher batcher(1 << 20, &clock, [&](std::unique_ptr<Batch> b) {
    if (!out) out = std::move(b);
  });
  std::vector<std::string> msgs = Messages(20000);
  std::vector<uint32_t> streams;
  for (int i = 0; i < 32; ++i) {
    auto info = std::make_shared<StreamInfo>();
    info->loki_labels = absl::StrCat("{container=\"app\", namespace=\"ns\", pod=\"p", i, "\"}");
    streams.push_back(batcher.AddStream(info));
  }
  for (size_t i = 0; !out && i < msgs.size(); ++i) {
    batcher.Add(streams[i % 32], 1'700'000'000'000'000'000 + static_cast<int64_t>(i), msgs[i],
                i % 32, 0, static_cast<int64_t>(i));
  }
  batcher.Seal();
  *lines = out->entries;
  return out;
}

void BM_EncodePushRequest(benchmark::State& state) {
  size_t lines = 0;
  std::unique_ptr<Batch> batch = FullBatch(&lines);
  std::string encoded;
  for (auto _ : state) {
    EncodePushRequest(*batch, &encoded);
    benchmark::DoNotOptimize(encoded.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * batch->line_bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * lines));
}
BENCHMARK(BM_EncodePushRequest);

void BM_EncodeAndSnappy(benchmark::State& state) {
  size_t lines = 0;
  std::unique_ptr<Batch> batch = FullBatch(&lines);
  std::string encoded, compressed;
  for (auto _ : state) {
    EncodePushRequest(*batch, &encoded);
    SnappyCompress(encoded, &compressed);
    benchmark::DoNotOptimize(compressed.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * batch->line_bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * lines));
  state.counters["ratio"] = static_cast<double>(batch->line_bytes) / compressed.size();
}
BENCHMARK(BM_EncodeAndSnappy);

// What the encoder thread runs: the request produced a block at a time as snappy takes it.
void BM_EncodeCompressed(benchmark::State& state) {
  size_t lines = 0;
  std::unique_ptr<Batch> batch = FullBatch(&lines);
  std::string compressed;
  CompressScratch scratch;
  for (auto _ : state) {
    EncodeCompressedPushRequest(*batch, &scratch, &compressed);
    benchmark::DoNotOptimize(compressed.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * batch->line_bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * lines));
  state.counters["ratio"] = static_cast<double>(batch->line_bytes) / compressed.size();
}
BENCHMARK(BM_EncodeCompressed);

// What the component graph is to a TailManager, reduced to one batcher: each distinct label set
// is a stream, sealed batches are encoded and compressed, then acknowledged at once.
class BatchingOutput : public TailOutput {
 public:
  BatchingOutput(std::string* encoded, std::string* compressed)
      : batcher_(1 << 20, RealClock::Get(), [this, encoded, compressed](std::unique_ptr<Batch> b) {
          (void)encoded;
          EncodeCompressedPushRequest(*b, &scratch_, compressed);
          for (const FileMark& m : b->marks) tail_->Commit(m.file_id, m.generation, m.offset);
          batcher_.Recycle(std::move(b));
        }) {}
  void set_tail(TailManager* tail) { tail_ = tail; }
  size_t entries() const { return entries_; }

  void OnEntry(uint32_t, uint64_t file_id, uint64_t generation, const LabelSet& labels,
               int64_t timestamp_ns, std::string_view line, int64_t, int64_t end,
               const CriPieceFields*, bool) override {
    std::string key = labels.RenderLoki();
    auto it = streams_.find(key);
    if (it == streams_.end()) {
      auto info = std::make_shared<StreamInfo>();
      info->loki_labels = key;
      it = streams_.emplace(std::move(key), batcher_.AddStream(std::move(info))).first;
    }
    batcher_.Add(it->second, timestamp_ns, line, file_id, generation, end);
    ++entries_;
  }
  void OnMark(uint32_t, uint64_t file_id, uint64_t generation, int64_t offset) override {
    batcher_.Mark(file_id, generation, offset);
  }
  void OnFileForgotten(uint64_t) override {}
  size_t inflight_bytes() const override { return 0; }  // acknowledged as soon as sealed
  void SealAll() override { batcher_.Seal(); }

 private:
  Batcher batcher_;
  TailManager* tail_ = nullptr;
  size_t entries_ = 0;
  CompressScratch scratch_;
  absl::flat_hash_map<std::string, uint32_t> streams_;
};

// File bytes in, compressed PushRequest out: everything the agent does per byte except the
// HTTP round trip and the graph's stages. 32 CRI files of 2 MiB in a temporary pods tree, read
// from the page cache.
void BM_FileToCompressedRequest(benchmark::State& state) {
  std::string root =
      std::filesystem::temp_directory_path() / absl::StrCat("sluice-bench-", getpid());
  std::vector<std::string> msgs = Messages(4096);
  std::vector<FileTarget> targets;
  size_t file_bytes = 0, lines = 0;
  for (int f = 0; f < 32; ++f) {
    std::string dir = absl::StrCat(root, "/pods/ns_pod", f, "_uid/app");
    std::filesystem::create_directories(dir);
    LabelSet labels;
    labels.Set("namespace", "ns");
    labels.Set("pod", absl::StrCat("pod", f));
    labels.Set("container", "app");
    targets.push_back(FileTarget{dir + "/0.log", labels, LogFormat::kCri, 0});
    std::ofstream out(dir + "/0.log");
    size_t written = 0;
    for (size_t i = 0; written < (2u << 20); ++i) {
      std::string line =
          absl::StrCat("2026-11-24T09:00:00.123456789Z stdout F ", msgs[(i + f) % msgs.size()]);
      line.push_back('\n');
      out << line;
      written += line.size();
      ++lines;
    }
    file_bytes += written;
  }
  std::string encoded, compressed;
  for (auto _ : state) {
    boost::asio::io_context io;
    MetricsRegistry metrics;
    TailOptions opt;
    opt.memory_budget = size_t{1} << 40;  // no backpressure: batches are "acknowledged" here
    BatchingOutput output(&encoded, &compressed);
    TailManager tail(&io, opt, RealClock::Get(), &metrics, &output);
    output.set_tail(&tail);
    tail.SetTargets(targets);
    (void)tail.Start();
    io.poll();
    tail.StopReading();
    // The per-path series (read_bytes_total is a gauge: the read offset).
    double read_bytes = 0;
    for (const FileTarget& t : targets) {
      read_bytes += metrics.GaugeValue("loki_source_file_read_bytes_total", {{"path", t.path}});
    }
    if (read_bytes != static_cast<double>(file_bytes) || output.entries() != lines) {
      state.SkipWithError("not every byte and line was read");
      break;
    }
  }
  std::filesystem::remove_all(root);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * file_bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * lines));
}
BENCHMARK(BM_FileToCompressedRequest)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sluice

BENCHMARK_MAIN();
