// How a log file's lines are framed: kubelet's CRI format, docker's json-file format, or plain
// lines; kAuto decides per file from its first line. Pure.
#pragma once

#include <string_view>

namespace sluice {

enum class LogFormat { kAuto, kCri, kDocker, kPlain };

// "auto", "cri", "docker", "plain" (or "raw").
inline bool ParseLogFormat(std::string_view text, LogFormat* out) {
  if (text == "auto") {
    *out = LogFormat::kAuto;
  } else if (text == "cri") {
    *out = LogFormat::kCri;
  } else if (text == "docker") {
    *out = LogFormat::kDocker;
  } else if (text == "plain" || text == "raw") {
    *out = LogFormat::kPlain;
  } else {
    return false;
  }
  return true;
}

}  // namespace sluice
