#include "agent/common/log.h"

#include <unistd.h>

#include <atomic>
#include <condition_variable>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/common/json_quote.h"
#include "agent/common/strings.h"
#include "agent/go/strconv.h"

namespace sluice {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<bool> g_json{false};

// The tap and the calls of it in progress: SetLogTap swaps under the lock and waits for
// `running` to fall to zero, so a Runtime can free what its tap points at right after.
std::mutex g_tap_mu;
std::condition_variable g_tap_cv;
std::shared_ptr<const LogTap> g_tap;
int g_tap_running = 0;
thread_local bool t_in_tap = false;

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

void AppendValue(std::string* out, std::string_view v) {
  bool quote = v.empty();
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      quote = true;
      break;
    }
  }
  // logfmt quotes values the way Go's strconv.Quote does.
  if (quote) {
    AppendGoQuoted(v, out);
  } else {
    out->append(v);
  }
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

void SetLogFormat(LogOutputFormat format) { g_json.store(format == LogOutputFormat::kJson); }

void SetLogTap(std::shared_ptr<const LogTap> tap) {
  std::unique_lock<std::mutex> lock(g_tap_mu);
  g_tap = std::move(tap);
  // A tap removing itself from inside a call would wait for itself.
  if (!t_in_tap) g_tap_cv.wait(lock, [] { return g_tap_running == 0; });
}

bool ParseLogLevel(std::string_view text, LogLevel* out) {
  if (text == "debug")
    *out = LogLevel::kDebug;
  else if (text == "info")
    *out = LogLevel::kInfo;
  else if (text == "warn")
    *out = LogLevel::kWarn;
  else if (text == "error")
    *out = LogLevel::kError;
  else
    return false;
  return true;
}

std::string FormatLogLine(std::string_view ts, LogLevel level, std::string_view component,
                          std::string_view msg, LogFields fields) {
  std::string line;
  line.reserve(128);
  absl::StrAppend(&line, "ts=", Av(ts), " level=", Av(LevelName(level)));
  line.append(" component=");
  AppendValue(&line, component);
  line.append(" msg=");
  AppendValue(&line, msg);
  for (const auto& [k, v] : fields) {
    line.push_back(' ');
    line.append(k);
    line.push_back('=');
    AppendValue(&line, v);
  }
  return line;
}

std::string FormatJsonLogLine(std::string_view ts, LogLevel level, std::string_view component,
                              std::string_view msg, LogFields fields) {
  std::string line;
  line.reserve(160);
  auto field = [&line](std::string_view k, std::string_view v) {
    line.push_back(line.empty() ? '{' : ',');
    AppendJsonQuoted(k, &line);
    line.push_back(':');
    AppendJsonQuoted(v, &line);
  };
  field("ts", ts);
  field("level", LevelName(level));
  field("component", component);
  field("msg", msg);
  for (const auto& [k, v] : fields) field(k, v);
  line.push_back('}');
  return line;
}

bool LogRateLimiter::Allow(std::string_view key, int64_t now_ns, uint64_t* suppressed) {
  std::lock_guard<std::mutex> lock(mu_);
  if (keys_.size() >= kMaxKeys && !keys_.contains(std::string(key))) keys_.clear();
  State& st = keys_[std::string(key)];
  if (st.in_window == 0 || now_ns - st.window_start >= kLogWindowNanos) {
    st.window_start = now_ns;
    st.in_window = 0;
  }
  if (st.in_window >= kLogBurst) {
    ++st.suppressed;
    return false;
  }
  ++st.in_window;
  *suppressed = st.suppressed;
  st.suppressed = 0;
  return true;
}

namespace {

void Write(LogLevel level, std::string_view component, std::string_view msg, LogFields fields,
           bool limited) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  static LogRateLimiter* limiter = new LogRateLimiter();  // never destroyed: logs at exit too
  uint64_t suppressed = 0;
  absl::Time now = absl::Now();
  if (limited && !limiter->Allow(absl::StrCat(Av(component), "\x1f", Av(msg)),
                                 absl::ToUnixNanos(now), &suppressed)) {
    return;
  }
  std::string ts = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", now, absl::UTCTimeZone());
  std::string line;
  if (g_json.load(std::memory_order_relaxed)) {
    line = FormatJsonLogLine(ts, level, component, msg, fields);
    if (suppressed > 0) {
      line.pop_back();
      absl::StrAppend(&line, ",\"suppressed\":\"", suppressed, "\"}");
    }
  } else {
    line = FormatLogLine(ts, level, component, msg, fields);
    if (suppressed > 0) absl::StrAppend(&line, " suppressed=", suppressed);
  }
  line.push_back('\n');
  // One write per line keeps lines whole across threads; a failed write to stderr has nowhere
  // better to go.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
  if (t_in_tap) return;
  std::shared_ptr<const LogTap> tap;
  {
    std::lock_guard<std::mutex> lock(g_tap_mu);
    if (g_tap == nullptr) return;
    tap = g_tap;
    ++g_tap_running;
  }
  t_in_tap = true;
  (*tap)(line);
  t_in_tap = false;
  {
    std::lock_guard<std::mutex> lock(g_tap_mu);
    --g_tap_running;
  }
  g_tap_cv.notify_all();
}

}  // namespace

void Log(LogLevel level, std::string_view component, std::string_view msg, LogFields fields) {
  Write(level, component, msg, fields, true);
}

void LogAlways(LogLevel level, std::string_view component, std::string_view msg, LogFields fields) {
  Write(level, component, msg, fields, false);
}

}  // namespace sluice
