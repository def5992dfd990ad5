// libFuzzer target for the Docker logs stream demuxer (agent/source/docker_stream.h).
//
// The first byte picks TTY or multiplexed mode and how the rest is cut into reads (so headers and
// timestamps split across reads are exercised); the input then goes through one DockerLogStream
// with small limits. Invariants are checked with __builtin_trap(). Single-threaded.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/common/timestamp.h"
#include "agent/source/docker_stream.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool tty = (data[0] & 1) != 0;
  const size_t step = 1 + (data[0] >> 1);
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  constexpr size_t kMaxLine = 4096;
  sluice::DockerLogStream s(tty, /*max_frame=*/8192, kMaxLine);
  uint64_t lines = 0;
  auto fn = [&](const sluice::DockerLogLine& l) {
    ++lines;
    if (l.text.empty() || l.text.size() > kMaxLine) __builtin_trap();
    if (tty && l.is_stderr) __builtin_trap();
    size_t sum = 0;
    for (char c : l.text) sum += static_cast<unsigned char>(c);
    if (sum > 255 * l.text.size()) __builtin_trap();
  };
  for (size_t i = 0; i < in.size(); i += step) s.Feed(in.substr(i, step), fn);
  s.Finish(fn);
  if (s.counters().lines != lines) __builtin_trap();
  return 0;
}
