// libFuzzer target for the docker json-file line parser.
//
// The input is split at '\n' like a log file and every line goes through one long-lived
// DockerParser (as in the tailer), so buffer reuse across lines of varying size is exercised too.
// Invariants are checked with __builtin_trap() so that libFuzzer reports violations as crashes.
// Single-threaded, as libFuzzer calls it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/common/timestamp.h"
#include "agent/common/utf8.h"
#include "agent/source/docker_parser.h"

namespace {

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

void CheckLine(sluice::DockerParser& parser, std::string_view line) {
  sluice::DockerLine parsed;
  if (!parser.Parse(line, &parsed)) return;
  Check(parsed.stream == sluice::LogStream::kStdout || parsed.stream == sluice::LogStream::kStderr);
  // simdjson validates the input's UTF-8 and the escapes, so the unescaped text must be valid.
  Check(sluice::IsValidUtf8(parsed.content));
  // Unescaping never lengthens a string, and the JSON around it takes at least 40 bytes.
  Check(parsed.content.size() + 40 <= line.size());
  std::string text;
  sluice::AppendRfc3339Nano(parsed.timestamp_ns, &text);
  int64_t reparsed = 0;
  Check(sluice::ParseRfc3339Nano(text, &reparsed));
  Check(reparsed == parsed.timestamp_ns);
  // Reading every byte of the content makes ASan check that the view is still live.
  size_t sum = 0;
  for (char c : parsed.content) sum += static_cast<unsigned char>(c);
  Check(sum <= 255 * parsed.content.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static sluice::DockerParser* parser = new sluice::DockerParser();  // lives for the process
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // The whole input as one line too: that is the only way '\n' bytes reach the parser.
  CheckLine(*parser, input);
  while (!input.empty()) {
    const size_t newline = input.find('\n');
    CheckLine(*parser, input.substr(0, newline));
    if (newline == std::string_view::npos) break;
    input.remove_prefix(newline + 1);
  }
  return 0;
}
