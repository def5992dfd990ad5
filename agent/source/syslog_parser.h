// Syslog parsing for loki.source.syslog, as Alloy's listener does it with go-syslog (v4, best
// effort, any error drops the message): RFC 5424 and RFC 3164 (BSD) messages, and the TCP
// framings of RFC 6587 - octet counting ("<len> <msg>") and non-transparent (one message per
// line) - chosen per stream from its first byte ('<' newline-delimited, a digit octet counted),
// the way Alloy's syslogparser.ParseStream does. A UDP datagram is parsed as a stream of its own.
//
// Pure functions and a per-connection framing state; the thread that owns a SyslogStream (one
// listener's I/O thread) is the only one using it. Bounded: a stream holds at most
// max_message_length + 32 bytes of a message it has not seen the end of.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sluice {

struct SyslogMessage {
  bool rfc3164 = false;
  int priority = 0;  // 0..191: facility * 8 + severity
  int version = 0;   // RFC 5424 only
  // The message's own timestamp, when it has one (RFC 3164 stamps carry no year: year 0 unless
  // the year is inferred, see InferSyslogYear). `utc_offset_s` is the offset it was written with.
  std::optional<absl::Time> timestamp;
  int utc_offset_s = 0;
  std::optional<std::string> hostname, app_name, proc_id, msg_id, message;
  // SD-ID -> (PARAM-NAME -> value), unescaped. Empty when "-" or absent.
  std::map<std::string, std::map<std::string, std::string>> structured_data;

  int facility() const { return priority / 8; }
  int severity() const { return priority % 8; }
};

// go-syslog's names: "emergency".."debug", "kern".."local7".
std::string_view SyslogSeverityLevel(int severity);
std::string_view SyslogFacilityLevel(int facility);

// One RFC 5424 message (without framing). Errors carry go-syslog's texts.
absl::StatusOr<SyslogMessage> ParseRfc5424(std::string_view msg);
// One RFC 3164 message; the timestamp's year is 0.
absl::StatusOr<SyslogMessage> ParseRfc3164(std::string_view msg);
// Alloy's util.SetYearForLimitedTimeFormat: the current year, but a December stamp seen in
// January is last year's and a January stamp seen in December next year's.
absl::Time InferSyslogYear(absl::Time year_zero_stamp, absl::Time now);
// The message as RFC 5424 text (go-syslog's SyslogMessage.String(): SD-IDs and params sorted,
// `"`, `\` and `]` escaped in values): use_rfc5424_message.
std::string RenderRfc5424(const SyslogMessage& m);

// The framing state of one TCP connection (or one UDP datagram).
class SyslogStream {
 public:
  enum class Format { kRfc5424, kRfc3164 };
  // A parsed message or the reason one was dropped (a parsing error).
  using Callback = std::function<void(absl::StatusOr<SyslogMessage>)>;

  SyslogStream(Format format, size_t max_message_length)
      : format_(format), max_len_(max_message_length) {}

  // Parses what `data` completes. Not OK: the stream cannot go on (unknown framing, an octet
  // count over the maximum or not followed by a message): the caller counts it and closes.
  absl::Status Feed(std::string_view data, const Callback& cb);
  // End of the stream: a last message without its newline is parsed; a cut octet-counted one
  // is an error.
  absl::Status Finish(const Callback& cb);
  size_t buffered() const { return buf_.size(); }

 private:
  enum class Framing { kUnknown, kOctet, kNewline };
  void Message(std::string_view msg, const Callback& cb);
  absl::Status Drain(bool eof, const Callback& cb);

  Format format_;
  size_t max_len_;
  Framing framing_ = Framing::kUnknown;
  std::string buf_;
  bool skipping_line_ = false;  // inside an over-long line, discarding up to its newline
};

}  // namespace sluice
