#include "agent/pipeline/push_encoder.h"

#include <snappy.h>

#include <cstring>
#include <vector>

namespace sluice {
namespace {

// Wire type 2 (length-delimited) tags for field numbers 1 and 2, wire type 0 for 1 and 2.
constexpr char kTagField1Bytes = (1 << 3) | 2;
constexpr char kTagField2Bytes = (2 << 3) | 2;
constexpr char kTagField1Varint = (1 << 3) | 0;
constexpr char kTagField2Varint = (2 << 3) | 0;

inline size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

inline char* PutVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

struct SplitTime {
  int64_t seconds;
  int32_t nanos;  // always in [0, 1e9), as google.protobuf.Timestamp requires
};

inline SplitTime Split(int64_t unix_ns) {
  int64_t s = unix_ns / 1'000'000'000;
  int64_t n = unix_ns % 1'000'000'000;
  if (n < 0) {
    n += 1'000'000'000;
    --s;
  }
  return SplitTime{s, static_cast<int32_t>(n)};
}

inline size_t TimestampSize(SplitTime t) {
  size_t n = 0;
  if (t.seconds != 0) n += 1 + VarintSize(static_cast<uint64_t>(t.seconds));
  if (t.nanos != 0) n += 1 + VarintSize(static_cast<uint64_t>(t.nanos));
  return n;
}

inline size_t EntrySize(const BatchEntry& e) {
  size_t ts = TimestampSize(Split(e.timestamp_ns));
  size_t n = 1 + VarintSize(ts) + ts;
  if (e.size != 0) n += 1 + VarintSize(e.size) + e.size;
  return n + e.meta_size;
}

}  // namespace

void EncodePushRequest(const Batch& batch, std::string* out) {
  // Pass 1: exact sizes, so that pass 2 writes into a buffer sized once.
  size_t total = 0;
  thread_local std::vector<size_t> stream_sizes;
  stream_sizes.clear();
  for (size_t i = 0; i < batch.num_streams; ++i) {
    const BatchStream& s = batch.streams[i];
    if (s.entries.empty()) {
      stream_sizes.push_back(0);
      continue;
    }
    size_t labels = s.info->loki_labels.size();
    size_t n = 1 + VarintSize(labels) + labels;
    for (const BatchEntry& e : s.entries) {
      size_t es = EntrySize(e);
      n += 1 + VarintSize(es) + es;
    }
    stream_sizes.push_back(n);
    total += 1 + VarintSize(n) + n;
  }
  out->resize(total);
  char* p = out->data();
  for (size_t i = 0; i < batch.num_streams; ++i) {
    const BatchStream& s = batch.streams[i];
    if (s.entries.empty()) continue;
    *p++ = kTagField1Bytes;  // PushRequest.streams
    p = PutVarint(p, stream_sizes[i]);
    const std::string& labels = s.info->loki_labels;
    *p++ = kTagField1Bytes;  // StreamAdapter.labels
    p = PutVarint(p, labels.size());
    p = static_cast<char*>(memcpy(p, labels.data(), labels.size())) + labels.size();
    for (const BatchEntry& e : s.entries) {
      *p++ = kTagField2Bytes;  // StreamAdapter.entries
      p = PutVarint(p, EntrySize(e));
      SplitTime t = Split(e.timestamp_ns);
      *p++ = kTagField1Bytes;  // EntryAdapter.timestamp
      p = PutVarint(p, TimestampSize(t));
      if (t.seconds != 0) {
        *p++ = kTagField1Varint;  // Timestamp.seconds (int64: negative values take 10 bytes)
        p = PutVarint(p, static_cast<uint64_t>(t.seconds));
      }
      if (t.nanos != 0) {
        *p++ = kTagField2Varint;  // Timestamp.nanos
        p = PutVarint(p, static_cast<uint64_t>(t.nanos));
      }
      if (e.size != 0) {
        *p++ = kTagField2Bytes;  // EntryAdapter.line
        p = PutVarint(p, e.size);
        memcpy(p, batch.arena.data() + e.offset, e.size);
        p += e.size;
      }
      if (e.meta_size != 0) {
        // Already EntryAdapter.structuredMetadata records.
        memcpy(p, batch.arena.data() + e.offset + e.size, e.meta_size);
        p += e.meta_size;
      }
    }
  }
}

void AppendMetadataPair(std::string_view name, std::string_view value, std::string* out) {
  char buf[10];
  size_t inner =
      1 + VarintSize(name.size()) + name.size() + 1 + VarintSize(value.size()) + value.size();
  out->push_back(0x1A);  // EntryAdapter.structuredMetadata, length-delimited
  out->append(buf, PutVarint(buf, inner) - buf);
  out->push_back(kTagField1Bytes);  // LabelPairAdapter.name
  out->append(buf, PutVarint(buf, name.size()) - buf);
  out->append(name);
  out->push_back(kTagField2Bytes);  // LabelPairAdapter.value
  out->append(buf, PutVarint(buf, value.size()) - buf);
  out->append(value);
}

namespace {
bool ReadVarint(std::string_view* in, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && !in->empty(); shift += 7) {
    uint8_t b = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    *v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}
bool ReadBytes(std::string_view* in, char tag, std::string_view* out) {
  uint64_t n;
  if (in->empty() || in->front() != tag) return false;
  in->remove_prefix(1);
  if (!ReadVarint(in, &n) || n > in->size()) return false;
  *out = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}
}  // namespace

bool ForEachMetadataPair(std::string_view encoded,
                         const std::function<void(std::string_view, std::string_view)>& fn) {
  while (!encoded.empty()) {
    std::string_view pair, name, value;
    if (!ReadBytes(&encoded, 0x1A, &pair)) return false;
    if (!ReadBytes(&pair, kTagField1Bytes, &name) || !ReadBytes(&pair, kTagField2Bytes, &value)) {
      return false;
    }
    fn(name, value);
  }
  return true;
}

void SnappyCompress(const std::string& in, std::string* out) {
  out->resize(snappy::MaxCompressedLength(in.size()));
  size_t n = 0;
  snappy::RawCompress(in.data(), in.size(), out->data(), &n);
  out->resize(n);
}

}  // namespace sluice
