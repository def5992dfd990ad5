// Microbenchmarks for the per-line hot path: CRI and docker line parsing, RFC 3339 timestamps and
// UTF-8 validation/repair. Each benchmark walks a fixed, deterministic corpus of log lines that
// mimics what pods write (mostly 80-300 byte lines, ~5% of 1-4 KiB ones: stack traces, big JSON)
// and reports bytes/s and lines/s. Single-threaded.
#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/common/timestamp.h"
#include "agent/common/utf8.h"
#include "agent/source/cri_parser.h"
#include "agent/source/docker_parser.h"
#include "benchmark/benchmark.h"

namespace sluice {
namespace {

// Deterministic xorshift64 so every run measures the same corpus.
class Rng {
 public:
  uint64_t Next() {
    x_ ^= x_ << 13;
    x_ ^= x_ >> 7;
    x_ ^= x_ << 17;
    return x_;
  }
  size_t Uniform(size_t lo, size_t hi) { return lo + Next() % (hi - lo + 1); }

 private:
  uint64_t x_ = 0x2545F4914F6CDD1DULL;
};

constexpr std::string_view kWords[] = {
    "request",  "completed", "user",    "id",      "status", "200",     "latency_ms", "GET",
    "/api/v1/", "orders",    "cache",   "miss",    "db",     "query",   "took",       "error",
    "retrying", "upstream",  "connect", "timeout", "pod",    "default", "worker",     "queue",
    "batch",    "flushed",   "bytes",   "=",       "info",   "warn",    "debug",      "trace",
    "session",  "token",     "refresh", "ok",      "shard",  "replica", "leader",     "epoch"};

// One message of roughly `len` bytes in one of the shapes pods commonly log.
std::string MakeMessage(Rng& rng, size_t len) {
  std::string m;
  switch (rng.Next() % 4) {
    case 0:  // klog
      m = "I0102 03:04:05.123456       1 controller.go:123] ";
      break;
    case 1:  // structured JSON
      m = R"({"level":"info","ts":"2024-01-02T03:04:05.123Z","caller":"svc/handler.go:88","msg":")";
      break;
    case 2:  // access log
      m = R"(10.1.2.3 - - [02/Jan/2024:03:04:05 +0000] "GET /api/v1/orders?id=42 HTTP/1.1" 200 )";
      break;
    default:  // logfmt
      m = "ts=2024-01-02T03:04:05.123Z level=info msg=\"";
      break;
  }
  while (m.size() < len) {
    m += kWords[rng.Next() % std::size(kWords)];
    m += rng.Next() % 16 == 0 ? '\t' : ' ';
  }
  // A few lines carry non-ASCII text (names, CJK, emoji) as real logs do.
  if (rng.Next() % 20 == 0) m += "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80";
  if (m[0] == '{') m += "\"}";
  return m;
}

// JSON string escaping as dockerd does it (Go's encoding/json: <, >, & as \u00XX).
void AppendJsonEscaped(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : s) {
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '<':
      case '>':
      case '&':
        *out += "\\u00";
        *out += kHex[static_cast<unsigned char>(c) >> 4];
        *out += kHex[c & 15];
        break;
      default:
        *out += c;
    }
  }
}

// The benchmark corpus: the same messages as CRI lines and as docker json-file lines.
struct Corpus {
  std::vector<std::string> messages;
  std::vector<std::string> cri_lines;
  std::vector<std::string> docker_lines;
  std::vector<std::string> timestamps;
  size_t message_bytes = 0, cri_bytes = 0, docker_bytes = 0, timestamp_bytes = 0;
};

const Corpus& GetCorpus() {
  static const Corpus* corpus = [] {
    auto* c = new Corpus;
    Rng rng;
    int64_t ts = 1704164645'000'000'000;
    for (int i = 0; i < 4096; ++i) {
      const size_t len = rng.Next() % 20 == 0 ? rng.Uniform(1024, 4096) : rng.Uniform(80, 300);
      std::string msg = MakeMessage(rng, len);
      ts += static_cast<int64_t>(rng.Uniform(1000, 50'000'000));
      std::string time;
      AppendRfc3339Nano(ts, &time);
      const bool err = rng.Next() % 8 == 0;
      c->cri_lines.push_back(time + (err ? " stderr F " : " stdout F ") + msg);
      std::string docker = "{\"log\":\"";
      AppendJsonEscaped(msg, &docker);
      docker += "\\n\",\"stream\":\"";
      docker += err ? "stderr" : "stdout";
      docker += "\",\"time\":\"" + time + "\"}";
      c->docker_lines.push_back(std::move(docker));
      c->message_bytes += msg.size();
      c->cri_bytes += c->cri_lines.back().size();
      c->docker_bytes += c->docker_lines.back().size();
      c->timestamp_bytes += time.size();
      c->timestamps.push_back(std::move(time));
      c->messages.push_back(std::move(msg));
    }
    return c;
  }();
  return *corpus;
}

// Reports the whole corpus as processed once per iteration.
void SetCounters(benchmark::State& state, size_t items, size_t bytes) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * items));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

void BM_ParseCriLine(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  for (auto _ : state) {
    for (const std::string& line : c.cri_lines) {
      CriLine parsed;
      const bool ok = ParseCriLine(line, &parsed);
      benchmark::DoNotOptimize(ok);
      benchmark::DoNotOptimize(parsed);
    }
  }
  SetCounters(state, c.cri_lines.size(), c.cri_bytes);
}
BENCHMARK(BM_ParseCriLine);

void BM_DockerParserParse(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  DockerParser parser;
  for (auto _ : state) {
    for (const std::string& line : c.docker_lines) {
      DockerLine parsed;
      const bool ok = parser.Parse(line, &parsed);
      benchmark::DoNotOptimize(ok);
      benchmark::DoNotOptimize(parsed);
    }
  }
  SetCounters(state, c.docker_lines.size(), c.docker_bytes);
}
BENCHMARK(BM_DockerParserParse);

void BM_ParseRfc3339Nano(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  for (auto _ : state) {
    for (const std::string& text : c.timestamps) {
      int64_t nanos;
      const bool ok = ParseRfc3339Nano(text, &nanos);
      benchmark::DoNotOptimize(ok);
      benchmark::DoNotOptimize(nanos);
    }
  }
  SetCounters(state, c.timestamps.size(), c.timestamp_bytes);
}
BENCHMARK(BM_ParseRfc3339Nano);

void BM_AppendRfc3339Nano(benchmark::State& state) {
  std::string out;
  int64_t nanos = 1704164645'123456789;
  for (auto _ : state) {
    out.clear();
    AppendRfc3339Nano(nanos, &out);
    benchmark::DoNotOptimize(out.data());
    nanos += 1'234'567;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_AppendRfc3339Nano);

// IsValidUtf8 over the message text (mostly ASCII, 1 in 20 lines with multibyte characters).
void BM_IsValidUtf8(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  for (auto _ : state) {
    for (const std::string& m : c.messages) benchmark::DoNotOptimize(IsValidUtf8(m));
  }
  SetCounters(state, c.messages.size(), c.message_bytes);
}
BENCHMARK(BM_IsValidUtf8);

// Reference point: simdjson's SIMD validator on the same text.
void BM_SimdjsonValidateUtf8(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  for (auto _ : state) {
    for (const std::string& m : c.messages) {
      benchmark::DoNotOptimize(simdjson::validate_utf8(m.data(), m.size()));
    }
  }
  SetCounters(state, c.messages.size(), c.message_bytes);
}
BENCHMARK(BM_SimdjsonValidateUtf8);

// Worst realistic case for the scalar path: text that is nearly all multibyte (CJK).
void BM_IsValidUtf8Cjk(benchmark::State& state) {
  std::string text;
  while (text.size() < 256) text += "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE ";
  for (auto _ : state) benchmark::DoNotOptimize(IsValidUtf8(text));
  SetCounters(state, 1, text.size());
}
BENCHMARK(BM_IsValidUtf8Cjk);

// Repair of lines that contain a few invalid bytes (e.g. a binary blob or Latin-1 text).
void BM_AppendSanitizedUtf8(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  std::vector<std::string> dirty;
  size_t bytes = 0;
  for (size_t i = 0; i < 512; ++i) {
    std::string m = c.messages[i];
    m[m.size() / 3] = '\xE9';  // Latin-1 'é'
    m[m.size() / 2] = '\xFF';
    bytes += m.size();
    dirty.push_back(std::move(m));
  }
  std::string out;
  for (auto _ : state) {
    for (const std::string& m : dirty) {
      out.clear();  // keeps its capacity: no allocation in steady state
      benchmark::DoNotOptimize(AppendSanitizedUtf8(m, &out));
    }
  }
  SetCounters(state, dirty.size(), bytes);
}
BENCHMARK(BM_AppendSanitizedUtf8);

}  // namespace
}  // namespace sluice

BENCHMARK_MAIN();
