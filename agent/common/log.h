// Process logger: logfmt lines on stderr (`ts=... level=... component=... msg=... k=v`).
//
// Thread-safe (one write(2) per line, so lines from different threads never interleave).
// Not on the data path. Repeats are rate-limited here, whatever the caller does: at most
// kLogBurst lines with the same component and message per kLogWindow; the first line after a
// window in which some were held back says how many (`suppressed=N`). A Loki outage retried
// every 200 ms then costs a handful of lines a minute, not 300.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace sluice {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void SetLogLevel(LogLevel level);
bool ParseLogLevel(std::string_view text, LogLevel* out);

// logging { format = "logfmt" | "json" }: the JSON form is one object per line with the same
// keys in the same order (ts, level, component, msg, fields).
enum class LogOutputFormat { kLogfmt, kJson };
void SetLogFormat(LogOutputFormat format);

// logging { write_to = [...] }: every line written (as on stderr, trailing newline included) is
// also handed to `tap`, on the logging thread, after the write. A line logged from within the
// tap is written but not tapped (no loop). nullptr removes it; SetLogTap returns once no call
// of the previous tap is running.
using LogTap = std::function<void(std::string_view line)>;
void SetLogTap(std::shared_ptr<const LogTap> tap);

using LogFields = std::initializer_list<std::pair<std::string_view, std::string_view>>;

void Log(LogLevel level, std::string_view component, std::string_view msg, LogFields fields = {});
// Never rate-limited: for lines that repeat by design (the exit summary, one line per counter).
void LogAlways(LogLevel level, std::string_view component, std::string_view msg,
               LogFields fields = {});

inline void LogInfo(std::string_view component, std::string_view msg, LogFields fields = {}) {
  Log(LogLevel::kInfo, component, msg, fields);
}
inline void LogWarn(std::string_view component, std::string_view msg, LogFields fields = {}) {
  Log(LogLevel::kWarn, component, msg, fields);
}
inline void LogError(std::string_view component, std::string_view msg, LogFields fields = {}) {
  Log(LogLevel::kError, component, msg, fields);
}
inline void LogDebug(std::string_view component, std::string_view msg, LogFields fields = {}) {
  Log(LogLevel::kDebug, component, msg, fields);
}

inline constexpr int kLogBurst = 5;
inline constexpr int64_t kLogWindowNanos = 10'000'000'000;  // 10 s

// The limiter behind Log(), with time given by the caller (tests).
class LogRateLimiter {
 public:
  // Whether a line for `key` may be written at `now_ns`; when it may, `*suppressed` is how many
  // lines of that key were held back since the last one written.
  bool Allow(std::string_view key, int64_t now_ns, uint64_t* suppressed);

 private:
  struct State {
    int64_t window_start = 0;
    int in_window = 0;
    uint64_t suppressed = 0;
  };
  std::mutex mu_;
  std::unordered_map<std::string, State> keys_;  // bounded: cleared past kMaxKeys
  static constexpr size_t kMaxKeys = 4096;
};

// Formats one logfmt line (no trailing newline); exposed for tests.
std::string FormatLogLine(std::string_view ts, LogLevel level, std::string_view component,
                          std::string_view msg, LogFields fields);
// The same as one JSON object.
std::string FormatJsonLogLine(std::string_view ts, LogLevel level, std::string_view component,
                              std::string_view msg, LogFields fields);

}  // namespace sluice
