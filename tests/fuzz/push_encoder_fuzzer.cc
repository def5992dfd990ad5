// libFuzzer target: the push encoder round trip. Arbitrary bytes are turned into a batch
// (streams, timestamps of any sign, lines of any bytes and length), encoded and snappy
// compressed by the agent's code, then decompressed and decoded with the generated protobuf
// classes: every stream, timestamp and line must come back exactly, and the bytes must equal the
// generated serializer's.
#include <snappy.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "agent/common/clock.h"
#include "agent/common/utf8.h"
#include "agent/pipeline/batcher.h"
#include "agent/pipeline/push_encoder.h"
#include "push.pb.h"

namespace {

// Reads little pieces off the fuzzer's input; returns zeros once it runs out.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  bool empty() const { return p_ >= end_; }
  uint64_t U64() {
    uint64_t v = 0;
    size_t n = std::min<size_t>(8, static_cast<size_t>(end_ - p_));
    std::memcpy(&v, p_, n);
    p_ += n;
    return v;
  }
  uint8_t U8() { return empty() ? 0 : *p_++; }
  std::string Bytes(size_t n) {
    n = std::min<size_t>(n, static_cast<size_t>(end_ - p_));
    std::string s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  sluice::FakeClock clock;
  std::vector<std::unique_ptr<sluice::Batch>> sealed;
  sluice::Batcher batcher(1 + in.U8() * 64, &clock, [&](std::unique_ptr<sluice::Batch> b) {
    sealed.push_back(std::move(b));
  });
  int nstreams = 1 + in.U8() % 4;
  std::vector<uint32_t> ids;
  std::vector<std::string> labels;
  for (int i = 0; i < nstreams; ++i) {
    auto info = std::make_shared<sluice::StreamInfo>();
    info->loki_labels = "{s=\"" + std::to_string(i) + "\"}";
    labels.push_back(info->loki_labels);
    ids.push_back(batcher.AddStream(info));
  }
  // What was added, per stream, in order.
  std::vector<std::vector<std::pair<int64_t, std::string>>> want(nstreams);
  while (!in.empty()) {
    int s = in.U8() % nstreams;
    int64_t ts = static_cast<int64_t>(in.U64());
    // Lines reach the encoder sanitised (proto3 strings must be UTF-8, and Loki wants them so).
    std::string line;
    sluice::AppendSanitizedUtf8(in.Bytes(in.U8()), &line);
    batcher.Add(ids[s], ts, line, 1, 0, 0);
    want[s].emplace_back(ts, line);
  }
  batcher.Seal();

  std::vector<std::vector<std::pair<int64_t, std::string>>> got(nstreams);
  std::string encoded, compressed, raw;
  for (const auto& b : sealed) {
    sluice::EncodePushRequest(*b, &encoded);
    sluice::SnappyCompress(encoded, &compressed);
    if (!snappy::Uncompress(compressed.data(), compressed.size(), &raw) || raw != encoded) {
      std::abort();
    }
    std::string streamed;
    sluice::CompressScratch scratch;
    sluice::EncodeCompressedPushRequest(*b, &scratch, &streamed);
    if (streamed != compressed) std::abort();
    logproto::PushRequest req;
    if (!req.ParseFromString(raw)) std::abort();
    if (req.SerializeAsString() != encoded) std::abort();
    for (const auto& stream : req.streams()) {
      int s = -1;
      for (int i = 0; i < nstreams; ++i) {
        if (labels[i] == stream.labels()) s = i;
      }
      if (s < 0) std::abort();
      for (const auto& e : stream.entries()) {
        if (e.timestamp().nanos() < 0 || e.timestamp().nanos() >= 1'000'000'000) std::abort();
        // Wraps like the encoder's split for the extreme int64 values the fuzzer may pick.
        int64_t ts =
            static_cast<int64_t>(static_cast<uint64_t>(e.timestamp().seconds()) * 1'000'000'000ull +
                                 static_cast<uint64_t>(e.timestamp().nanos()));
        got[s].emplace_back(ts, e.line());
      }
    }
  }
  if (got != want) std::abort();
  return 0;
}
