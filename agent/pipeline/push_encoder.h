// Encodes a Batch as a Loki PushRequest (protobuf wire format) and compresses it with snappy.
//
// The encoder writes the wire format directly from the batch arena instead of building
// logproto::PushRequest messages: the generated classes would copy every line into its own
// std::string (an allocation per entry) only to serialise it again. Field numbers and types are
// those of proto/logproto/push.proto; tests decode the output with the generated classes.
// Stateless functions; the caller (sender thread) owns the output buffers and reuses them.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "agent/pipeline/batch.h"

namespace sluice {

// Serialises `batch` (streams with at least one entry) into *out (replaced).
void EncodePushRequest(const Batch& batch, std::string* out);

// Snappy block format (what Loki expects with Content-Encoding: snappy) into *out (replaced).
void SnappyCompress(const std::string& in, std::string* out);

// Where snappy writes before the result is copied out at its exact size. Snappy asks for room
// one 64 KiB block at a time (its worst case for that block); the buffer grows as the output
// does, so it ends near the largest compressed request (~40% of a batch's lines on logs), not
// the whole request's worst case (MaxCompressedLength, 117% of it), and is kept for the next
// request. Never zero-filled. Not thread-safe; its owner serialises the calls.
class CompressScratch {
 public:
  // Room for `n` more bytes after the first `used`, keeping those; returns the buffer.
  char* Reserve(size_t used, size_t n);
  char* data() { return buf_.get(); }
  size_t capacity() const { return capacity_; }

 private:
  std::unique_ptr<char[]> buf_;
  size_t capacity_ = 0;
};

// The scratches of the threads that may encode at the same time: a loki.write's encoder thread,
// and the tail thread when the encoder is behind (Sender::Enqueue). With one scratch the tail
// thread waited for the encoder's batch before encoding its own, while the encoder then idled:
// the two cores took turns. Each scratch is taken with try_lock; the second one's buffer grows
// only when two encodes overlap. Any thread; owned by its sink.
class CompressScratchPool {
 public:
  // Runs fn(CompressScratch*) with a scratch no other call holds; waits for the first one only
  // when every scratch is taken.
  template <typename Fn>
  void With(Fn&& fn) {
    for (int i = 0; i < kSize; ++i) {
      std::unique_lock<std::mutex> lock(mu_[i], std::try_to_lock);
      if (!lock.owns_lock()) continue;
      fn(&scratch_[i]);
      return;
    }
    std::lock_guard<std::mutex> lock(mu_[0]);
    fn(&scratch_[0]);
  }

 private:
  static constexpr int kSize = 2;
  std::mutex mu_[kSize];
  CompressScratch scratch_[kSize];
};

// SnappyCompress(EncodePushRequest(batch)) into *out (replaced, allocated at its exact size)
// without the request in between: the request is produced a 64 KiB block at a time as snappy takes
// it, so a batch costs its compressed bytes and one block, not a copy of all its lines. The bytes
// are identical.
void EncodeCompressedPushRequest(const Batch& batch, CompressScratch* scratch, std::string* out);

// Appends one structured metadata pair as EntryAdapter field 3 (a LabelPairAdapter), the form
// BatchEntry metadata is kept in.
void AppendMetadataPair(std::string_view name, std::string_view value, std::string* out);
// Calls fn(name, value) for each pair of `encoded` (as built by AppendMetadataPair). Returns
// false on malformed input.
bool ForEachMetadataPair(std::string_view encoded,
                         const std::function<void(std::string_view, std::string_view)>& fn);

}  // namespace sluice
