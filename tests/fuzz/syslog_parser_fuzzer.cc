// libFuzzer target for the syslog parsers and framings (agent/source/syslog_parser.h).
//
// The first byte picks the format (RFC 5424 / RFC 3164), the maximum message length and the
// size of the reads the stream is fed in; the rest is a TCP stream. Invariants (checked with
// __builtin_trap() so libFuzzer reports them): a stream never buffers more than the maximum
// message length plus its framing, every accepted RFC 5424 message renders to text that parses
// back to the same fields, priorities stay in range. Single-threaded, as libFuzzer calls it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/source/syslog_parser.h"

namespace {

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

void CheckMessage(const absl::StatusOr<sluice::SyslogMessage>& m) {
  if (!m.ok()) return;
  Check(m->priority >= 0 && m->priority <= 191);
  Check(!sluice::SyslogSeverityLevel(m->severity()).empty());
  Check(!sluice::SyslogFacilityLevel(m->facility()).empty());
  if (m->rfc3164) return;
  std::string text = sluice::RenderRfc5424(*m);
  absl::StatusOr<sluice::SyslogMessage> again = sluice::ParseRfc5424(text);
  Check(again.ok());
  Check(again->priority == m->priority && again->version == m->version);
  Check(again->hostname == m->hostname && again->app_name == m->app_name);
  Check(again->proc_id == m->proc_id && again->msg_id == m->msg_id);
  Check(again->structured_data == m->structured_data);
  Check(again->message == m->message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t ctl = data[0];
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto format =
      (ctl & 1) ? sluice::SyslogStream::Format::kRfc3164 : sluice::SyslogStream::Format::kRfc5424;
  const size_t max_len = (ctl & 2) ? 64 : 8192;
  const size_t chunk = 1 + (ctl >> 2);
  // The message parsers on their own.
  CheckMessage(sluice::ParseRfc5424(input));
  CheckMessage(sluice::ParseRfc3164(input));
  sluice::SyslogStream stream(format, max_len);
  auto cb = [](absl::StatusOr<sluice::SyslogMessage> m) { CheckMessage(m); };
  for (size_t i = 0; i < input.size(); i += chunk) {
    if (!stream.Feed(input.substr(i, chunk), cb).ok()) return 0;
    Check(stream.buffered() <= max_len + 32);
  }
  (void)stream.Finish(cb);
  return 0;
}
