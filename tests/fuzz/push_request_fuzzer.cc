// libFuzzer target for what loki.source.api reads from the network: DecodePushRequest (snappy
// protobuf read by hand, JSON, gzip and deflate bodies) and ParsePromLabels.
//
// Input: byte 0 picks the content type and encoding; the rest is the body. Invariants (checked
// with __builtin_trap so libFuzzer reports them as crashes): a decoded request never holds more
// line bytes than the size limit allows, its counts match its streams; every stream's label text
// either parses or is an error. Single-threaded, as libFuzzer calls it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/source/push_request.h"

namespace {

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

constexpr size_t kMax = 1 << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* raw, size_t size) {
  if (size < 1) return 0;
  static const char* kTypes[] = {"application/x-protobuf", "application/json"};
  static const char* kEncodings[] = {"", "snappy", "gzip", "deflate"};
  const char* type = kTypes[raw[0] & 1];
  const char* encoding = kEncodings[(raw[0] >> 1) & 3];
  std::string_view body(reinterpret_cast<const char*>(raw) + 1, size - 1);
  auto got = sluice::DecodePushRequest(type, encoding, body, kMax);
  if (got.ok()) {
    size_t entries = 0, bytes = 0;
    for (const sluice::PushStream& s : got->streams) {
      entries += s.entries.size();
      for (const sluice::PushEntry& e : s.entries) bytes += e.line.size();
      if (!s.labels_parsed) {
        std::vector<std::pair<std::string, std::string>> pairs;
        (void)sluice::ParsePromLabels(s.labels_text, &pairs);
      }
    }
    Check(entries == got->entries);
    Check(bytes == got->line_bytes);
    Check(bytes <= kMax);
  }
  std::vector<std::pair<std::string, std::string>> pairs;
  (void)sluice::ParsePromLabels(body, &pairs);
  return 0;
}
