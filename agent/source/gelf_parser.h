// GELF over UDP for loki.source.gelf, as Alloy reads it (github.com/grafana/go-gelf/v2's
// Reader): a datagram is a whole message or a chunk (magic 0x1e 0x0f, 8-byte message id,
// sequence number, sequence count, at most 128 chunks, all within 5 s); a message is plain
// JSON, zlib or gzip. The message is decoded as go-gelf's Message (version, host,
// short_message, full_message, timestamp, level, facility, and "_"-prefixed additional fields)
// and rendered back as its MarshalJSONBuf writes it: that text is the Loki line.
//
// GelfAssembler is owned and used by one listener's I/O thread. Bounded: at most
// kMaxPendingMessages partial messages and kMaxPendingBytes of chunk data (beyond either a new
// message's chunks are refused, counted by the caller), a message inflates to at most
// kMaxMessageBytes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice {

struct GelfMessage {
  std::string version, host, short_message, full_message, facility;
  double timestamp = 0;  // seconds since the epoch (GELF's float)
  int32_t level = 0;
  // "_"-prefixed fields, by name (sorted, as Go's map marshalling), each as JSON text already
  // rendered the way encoding/json re-marshals a decoded interface{} value.
  std::map<std::string, std::string> extra;
};

// Decodes one whole (reassembled) payload: decompression by magic bytes, then the JSON object.
absl::StatusOr<GelfMessage> DecodeGelfPayload(std::string_view payload);
// go-gelf's MarshalJSONBuf text.
std::string RenderGelf(const GelfMessage& m);
// GELF level names Alloy uses for __gelf_message_level ("" for levels outside 0..7).
std::string_view GelfLevelName(int32_t level);

class GelfAssembler {
 public:
  static constexpr int kMaxChunks = 128;
  static constexpr size_t kMaxPendingMessages = 1024;
  static constexpr size_t kMaxPendingBytes = 32u << 20;
  static constexpr int64_t kTimeoutNanos = 5'000'000'000;  // GELF: all chunks within 5 s

  // A datagram, received at monotonic time `now_ns`. Returns the whole payload when this
  // completes a message (a non-chunked datagram is one), nullopt while chunks are missing, or
  // an error (malformed chunk, too many chunks, expired, over the bounds).
  absl::StatusOr<std::optional<std::string>> Add(std::string_view datagram, int64_t now_ns);
  // Forgets messages whose chunks did not all arrive within the timeout; returns how many.
  size_t Expire(int64_t now_ns);
  size_t pending() const { return pending_.size(); }

 private:
  struct Pending {
    int64_t deadline_ns = 0;
    int count = 0;
    size_t bytes = 0;
    std::map<int, std::string> chunks;
  };
  std::map<std::string, Pending> pending_;
  size_t pending_bytes_ = 0;
};

}  // namespace sluice
