// libFuzzer target for the CRI line parser, RFC 3339 parsing/formatting and UTF-8 repair.
//
// The input is split at '\n' like a log file; every line goes through ParseCriLine and the UTF-8
// functions, whose invariants are checked with __builtin_trap() so that libFuzzer reports any
// violation as a crash. Single-threaded, as libFuzzer calls it.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "agent/common/timestamp.h"
#include "agent/common/utf8.h"
#include "agent/source/cri_parser.h"

namespace {

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

// Formatting a parsed timestamp must give text that parses back to the same instant.
void CheckTimestampRoundTrip(int64_t nanos) {
  std::string text;
  sluice::AppendRfc3339Nano(nanos, &text);
  Check(text.size() <= sluice::kMaxRfc3339NanoLength);
  int64_t reparsed = 0;
  Check(sluice::ParseRfc3339Nano(text, &reparsed));
  Check(reparsed == nanos);
}

void CheckUtf8(std::string_view s) {
  const bool valid = sluice::IsValidUtf8(s);
  Check(valid == (sluice::ValidUtf8PrefixLength(s) == s.size()));
  std::string out;
  const size_t replacements = sluice::AppendSanitizedUtf8(s, &out);
  Check(sluice::IsValidUtf8(out));
  Check((replacements == 0) == valid);
  if (valid) Check(out == s);
  // Each replacement stands for 1-3 input bytes and is 3 bytes long, so output never shrinks.
  Check(out.size() >= s.size());
  Check(out.size() <= s.size() + 2 * replacements);
}

void CheckLine(std::string_view line) {
  sluice::CriLine parsed;
  if (sluice::ParseCriLine(line, &parsed)) {
    // The content is a suffix of the line: inside the input, and ending where the line ends.
    Check(parsed.content.data() >= line.data());
    Check(parsed.content.data() + parsed.content.size() == line.data() + line.size());
    Check(parsed.stream == sluice::LogStream::kStdout ||
          parsed.stream == sluice::LogStream::kStderr);
    // Header: timestamp, ' ', 6-byte stream, ' ', tag, then ' ' before any content.
    const std::string_view header = line.substr(0, line.size() - parsed.content.size());
    Check(header.size() >= 20 + 9);
    Check(std::memchr(header.data(), '\0', header.size()) == nullptr);
    const size_t time_len = header.find(' ');
    int64_t nanos = 0;
    Check(sluice::ParseRfc3339Nano(header.substr(0, time_len), &nanos));
    Check(nanos == parsed.timestamp_ns);
    CheckTimestampRoundTrip(parsed.timestamp_ns);
  }
  // The timestamp parser on its own, for inputs that do not reach it through a full header.
  int64_t nanos = 0;
  if (sluice::ParseRfc3339Nano(line.substr(0, line.find(' ')), &nanos)) {
    CheckTimestampRoundTrip(nanos);
  }
  CheckUtf8(line);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  while (!input.empty()) {
    const size_t newline = input.find('\n');
    CheckLine(input.substr(0, newline));
    if (newline == std::string_view::npos) break;
    input.remove_prefix(newline + 1);
  }
  return 0;
}
