#include "agent/pipeline/push_encoder.h"

#include <snappy-sinksource.h>
#include <snappy.h>

#include <algorithm>
#include <bit>
#include <memory>

#include <cstring>
#include <vector>

namespace sluice {
namespace {

// Wire type 2 (length-delimited) tags for field numbers 1 and 2, wire type 0 for 1 and 2.
constexpr char kTagField1Bytes = (1 << 3) | 2;
constexpr char kTagField2Bytes = (2 << 3) | 2;
constexpr char kTagField1Varint = (1 << 3) | 0;
constexpr char kTagField2Varint = (2 << 3) | 0;

// 7 bits per byte: ceil(significant bits / 7), 1 for 0. Without a loop: it runs four times per
// entry, twice over (sizes first, then the headers).
inline size_t VarintSize(uint64_t v) {
  return (static_cast<size_t>(std::bit_width(v | 1)) + 6) / 7;
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

namespace {

// Pass 1 of both encoders: each stream's message size into *stream_sizes (0 for a stream without
// entries), and the whole request's size.
size_t StreamSizes(const Batch& batch, std::vector<size_t>* stream_sizes) {
  size_t total = 0;
  stream_sizes->clear();
  for (size_t i = 0; i < batch.num_streams; ++i) {
    const BatchStream& s = batch.streams[i];
    if (s.entries.empty()) {
      stream_sizes->push_back(0);
      continue;
    }
    size_t labels = s.info->loki_labels.size();
    size_t n = 1 + VarintSize(labels) + labels;
    for (const BatchEntry& e : s.entries) {
      size_t es = EntrySize(e);
      n += 1 + VarintSize(es) + es;
    }
    stream_sizes->push_back(n);
    total += 1 + VarintSize(n) + n;
  }
  return total;
}

// The fields of an EntryAdapter that precede its line bytes (tag and length of the entry, its
// timestamp, the line's tag and length), written at p; returns the end. At most kMaxEntryHead
// bytes.
constexpr size_t kMaxEntryHead = 1 + 10 + 1 + 10 + 1 + 10 + 1 + 10 + 1 + 10;
inline char* PutEntryHead(char* p, const BatchEntry& e) {
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
  }
  return p;
}

// The PushRequest of a batch as a snappy::Source, produced a block at a time into a buffer that
// stays in cache: snappy compresses its input in independent 64 KiB blocks and takes a block in
// place when Peek offers a whole one, so the request is never held whole (a batch's worth of
// memory, written and read back once more, per batch). The bytes are exactly those of
// EncodePushRequest.
class PushRequestSource : public snappy::Source {
 public:
  static constexpr size_t kBlock = 1 << 16;  // snappy's block size

  PushRequestSource(const Batch& batch, const std::vector<size_t>& stream_sizes, size_t total)
      : batch_(batch), stream_sizes_(stream_sizes), left_(total) {}

  size_t Available() const override { return left_; }

  const char* Peek(size_t* len) override {
    if (end_ - begin_ < std::min(left_, kBlock)) Refill();
    *len = end_ - begin_;
    return buf_ + begin_;
  }

  void Skip(size_t n) override {
    begin_ += n;
    left_ -= n;
  }

 private:
  // Moves what is left to the front and produces bytes until a whole block is there (or all).
  void Refill() {
    size_t have = end_ - begin_;
    if (have != 0 && begin_ != 0) memmove(buf_, buf_ + begin_, have);
    begin_ = 0;
    end_ = have;
    while (end_ < kBlock) {
      if (!pending_.empty()) {
        size_t n = std::min(pending_.size(), kBlock - end_);
        memcpy(buf_ + end_, pending_.data(), n);
        pending_.remove_prefix(n);
        end_ += n;
        continue;
      }
      if (!Next()) break;
    }
  }

  // Writes the next headers into the buffer (room: end_ < kBlock, and the buffer has
  // kMaxEntryHead more) and sets pending_ to the bytes that follow them. False when done.
  bool Next() {
    char* p = buf_ + end_;
    if (meta_pending_) {
      // The entry's structured metadata (already EntryAdapter records) follows its line.
      const BatchEntry& e = batch_.streams[stream_].entries[entry_ - 1];
      pending_ = std::string_view(batch_.arena.data() + e.offset + e.size, e.meta_size);
      meta_pending_ = false;
      return true;
    }
    // Past a stream whose entries are all out, and past streams without entries.
    while (stream_ < batch_.num_streams && entry_ == batch_.streams[stream_].entries.size()) {
      ++stream_;
      entry_ = 0;
      labels_done_ = false;
    }
    if (stream_ >= batch_.num_streams) return false;
    const BatchStream& s = batch_.streams[stream_];
    if (!labels_done_) {
      const std::string& labels = s.info->loki_labels;
      *p++ = kTagField1Bytes;  // PushRequest.streams
      p = PutVarint(p, stream_sizes_[stream_]);
      *p++ = kTagField1Bytes;  // StreamAdapter.labels
      p = PutVarint(p, labels.size());
      end_ = p - buf_;
      pending_ = labels;
      labels_done_ = true;
      return true;
    }
    const BatchEntry& e = s.entries[entry_++];
    p = PutEntryHead(p, e);
    end_ = p - buf_;
    pending_ = std::string_view(batch_.arena.data() + e.offset, e.size);
    meta_pending_ = e.meta_size != 0;
    return true;
  }

  const Batch& batch_;
  const std::vector<size_t>& stream_sizes_;
  size_t left_;                 // bytes not yet skipped by snappy
  size_t stream_ = 0;           // next stream to produce
  size_t entry_ = 0;            // next entry of that stream
  bool labels_done_ = false;    // the stream's header and labels are out
  bool meta_pending_ = false;   // the last entry's metadata follows pending_
  std::string_view pending_;    // bytes of the batch still to copy
  size_t begin_ = 0, end_ = 0;  // produced, not yet skipped: buf_[begin_, end_)
  char buf_[kBlock + kMaxEntryHead + 32];
};

}  // namespace

void EncodePushRequest(const Batch& batch, std::string* out) {
  // Pass 1: exact sizes, so that pass 2 writes into a buffer sized once.
  thread_local std::vector<size_t> stream_sizes;
  size_t total = StreamSizes(batch, &stream_sizes);
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
      p = PutEntryHead(p, e);
      if (e.size != 0) {
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

char* CompressScratch::Reserve(size_t used, size_t n) {
  if (capacity_ - used < n) {
    // Half as much again: a few copies of the output so far per request at most, and a batch's
    // worth of slack at worst.
    size_t grown = std::max(used + n, capacity_ + capacity_ / 2);
    auto next = std::make_unique_for_overwrite<char[]>(grown);
    if (used > 0) std::memcpy(next.get(), buf_.get(), used);
    buf_ = std::move(next);
    capacity_ = grown;
  }
  return buf_.get();
}

namespace {

// snappy's output into a CompressScratch, grown as snappy asks for room.
class ScratchSink : public snappy::Sink {
 public:
  explicit ScratchSink(CompressScratch* scratch) : scratch_(scratch) {}
  size_t size() const { return size_; }

  void Append(const char* bytes, size_t n) override {
    char* base = scratch_->data();
    if (base != nullptr && bytes == base + size_) {  // written in place (GetAppendBuffer)
      size_ += n;
      return;
    }
    base = scratch_->Reserve(size_, n);
    std::memcpy(base + size_, bytes, n);
    size_ += n;
  }
  char* GetAppendBuffer(size_t length, char* /*scratch*/) override {
    return scratch_->Reserve(size_, length) + size_;
  }

 private:
  CompressScratch* scratch_;
  size_t size_ = 0;
};

}  // namespace

void EncodeCompressedPushRequest(const Batch& batch, CompressScratch* scratch, std::string* out) {
  thread_local std::vector<size_t> stream_sizes;
  size_t total = StreamSizes(batch, &stream_sizes);
  // On the heap: its block buffer is too big for a thread's stack.
  auto src = std::make_unique<PushRequestSource>(batch, stream_sizes, total);
  ScratchSink sink(scratch);
  snappy::Compress(src.get(), &sink);
  // Exact size: a payload waits in the queue and should cost only its own bytes.
  std::string exact;
  exact.reserve(sink.size());
  exact.assign(scratch->data(), sink.size());
  out->swap(exact);
}

void SnappyCompress(const std::string& in, std::string* out) {
  out->resize(snappy::MaxCompressedLength(in.size()));
  size_t n = 0;
  snappy::RawCompress(in.data(), in.size(), out->data(), &n);
  out->resize(n);
}

}  // namespace sluice
