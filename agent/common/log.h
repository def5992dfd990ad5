// Process logger: logfmt lines on stderr (`ts=... level=... component=... msg=... k=v`).
//
// Thread-safe (one write(2) per line, so lines from different threads never interleave).
// Not on the data path: callers log state changes and rate-limit repeats themselves.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace sluice {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void SetLogLevel(LogLevel level);
bool ParseLogLevel(std::string_view text, LogLevel* out);

using LogFields = std::initializer_list<std::pair<std::string_view, std::string_view>>;

void Log(LogLevel level, std::string_view component, std::string_view msg, LogFields fields = {});

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

// Formats one logfmt line (no trailing newline); exposed for tests.
std::string FormatLogLine(std::string_view ts, LogLevel level, std::string_view component,
                          std::string_view msg, LogFields fields);

}  // namespace sluice
