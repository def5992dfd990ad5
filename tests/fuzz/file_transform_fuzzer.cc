// libFuzzer target for what loki.source.file puts between a file and its lines: the Decompressor
// (gz, z, bz2 over hostile bytes) and the Transcoder's line splitting and decoding.
//
// Input: byte 0 picks an encoding, byte 1 the read size, byte 2 the compression; the rest is the
// file. Invariants (checked with __builtin_trap so libFuzzer reports them as crashes): lines come
// in file order without gaps or overlaps, within the line limit, as valid UTF-8; the decompressor
// ends in a state and never produces more than it is asked. Single-threaded, as libFuzzer calls it.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/common/utf8.h"
#include "agent/source/file_transform.h"

namespace {

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

constexpr const char* kEncodings[] = {"UTF-16LE",  "UTF-16BE",   "UTF-16", "UTF-32LE",
                                      "Shift_JIS", "ISO-8859-1", "EUC-JP", "GB18030"};

void SplitChecked(std::string_view data, size_t chunk, const char* encoding) {
  auto t = sluice::Transcoder::Create(encoding);
  Check(t.ok());
  sluice::EncodedCarry carry;
  constexpr size_t kLimit = 64;
  int64_t last_end = 0;
  uint64_t cut = 0, invalid = 0;
  auto on_line = [&](std::string_view line, int64_t start, int64_t end) {
    Check(start >= last_end);
    Check(end > start || (end == start && end == static_cast<int64_t>(data.size())));
    Check(end <= static_cast<int64_t>(data.size()));
    Check(sluice::IsValidUtf8(line));
    // Each encoded unit becomes at most 4 UTF-8 bytes (3 for U+FFFD).
    Check(line.size() <= 4 * kLimit);
    last_end = end;
  };
  for (size_t pos = 0; pos < data.size(); pos += chunk) {
    size_t n = std::min(chunk, data.size() - pos);
    (*t)->Split(&carry, data.data() + pos, n, static_cast<int64_t>(pos), 0, kLimit, &cut, &invalid,
                on_line);
  }
  (*t)->Flush(&carry, static_cast<int64_t>(data.size()), &invalid, on_line);
}

void InflateChecked(std::string_view data, sluice::Compression c, size_t cap) {
  int fd = memfd_create("fuzz", 0);
  Check(fd >= 0);
  Check(::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()));
  auto d = sluice::Decompressor::Create(c);
  Check(d.ok());
  std::string out(cap, '\0');
  int64_t expect = 0;
  // Decompression bombs are bounded by the number of reads here (the tailer bounds them by the
  // memory budget: reading stops until lines are acknowledged).
  for (int i = 0; i < 64; ++i) {
    size_t n = 0;
    int64_t base = -1;
    sluice::Decompressor::State s = (*d)->Read(fd, out.data(), out.size(), &n, &base);
    Check(n <= cap);
    if (n > 0) {
      Check(base == expect);
      expect += static_cast<int64_t>(n);
    }
    if (s != sluice::Decompressor::State::kData) break;
  }
  ::close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* raw, size_t size) {
  if (size < 3) return 0;
  const char* encoding = kEncodings[raw[0] % (sizeof(kEncodings) / sizeof(kEncodings[0]))];
  size_t chunk = 1 + raw[1] % 16;
  uint8_t mode = raw[2];
  std::string_view data(reinterpret_cast<const char*>(raw) + 3, size - 3);
  SplitChecked(data, chunk, encoding);
  const sluice::Compression formats[] = {sluice::Compression::kGzip, sluice::Compression::kZlib,
                                         sluice::Compression::kBzip2};
  InflateChecked(data, formats[mode % 3], 1 + (mode >> 2) * 64);
  return 0;
}
