// loggen: writes a synthetic Kubernetes node's pod logs for the end-to-end benchmark (bench/run).
//
//   loggen layout  --root DIR --files K [--seed S]
//       creates K containers' directories and empty 0.log files under DIR, laid out like
//       /var/log/pods: <namespace>_<pod>_<uid>/<container>/0.log (pods have 1-3 containers).
//   loggen prefill --root DIR --files K --bytes N [--seed S] [--skew Z]
//       the same layout, then about N bytes of CRI lines written as fast as possible.
//   loggen steady  --root DIR --files K --rate R --seconds T [--rotate-bytes B] [--seed S]
//                  [--skew Z] [--tick-ms M] [--write line|tick] [--reopen-ms M]
//       appends R lines/s (spread over the files) for T seconds, rotating like the kubelet. Every
//       tick (default 1 ms) writes the lines due by then; each with its own write(2), as
//       containerd does (--write line, default), or one write per file per tick (--write tick).
//
// Each prints a JSON manifest on stdout when done: the lines written per file id (fid), total
// lines and bytes, rotations, timing. The harness hands the per-fid counts to loki_counter so it
// can tell which lines never arrived.
//
// Every line is `<RFC3339Nano> <stdout|stderr> F <message>`; the message is JSON, logfmt or
// plain text (klog, Java-style, Envoy access log) of mixed sizes (85% 80-300 bytes, 12%
// 300-1000, 3% 1-4 KiB, counting the whole CRI line) and carries the tag
// `fid=<file id> seq=<n> wt=<unix ns> len=<dddd>`: seq counts from 0 per file (across
// rotations), wt is the write time, equal to the CRI timestamp, and len is the message's length
// in bytes, so the receiver can check exactly-once delivery, delay, timestamps and that no line
// was cut or glued to another.
//
// Rotation (steady): when a 0.log reaches --rotate-bytes (default 10 MiB, kubelet's
// containerLogMaxSize), it is renamed to 0.log.<YYYYMMDD-HHMMSS> (UTC; a ".N" suffix when that
// name is taken, so no rotated file is ever overwritten) and --reopen-ms later (default 10) a
// new 0.log is created. Lines written meanwhile still go to the renamed file, as containerd keeps
// writing to its open file until the kubelet asks it to reopen. Rotated files are kept.
//
// Single-threaded; the process owns every file it opens.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
#include "agent/common/units.h"

namespace sluice::bench {
namespace {

[[noreturn]] void Die(std::string_view message) {
  std::fprintf(stderr, "loggen: %.*s\n", static_cast<int>(message.size()), message.data());
  std::exit(1);
}

int64_t RealtimeNanos() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

double CpuSeconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// splitmix64: fast, good enough for picking words, and reproducible from --seed.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) without division.
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

// Calendar fields of a UTC second. The generator formats a timestamp per line; the calendar
// part changes once a second, so it is cached.
struct Civil {
  int year, month, day, hour, minute, second;
};

Civil CivilFromUnixSeconds(int64_t secs) {
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  // Days since 1970-01-01 to a proleptic Gregorian date, by 400-year eras (each era has a fixed
  // number of days, 146097), counting years from March so the leap day is last.
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  const int y = static_cast<int>(yoe + era * 400 + (m <= 2 ? 1 : 0));
  return Civil{y,
               m,
               d,
               static_cast<int>(rem / 3600),
               static_cast<int>(rem / 60 % 60),
               static_cast<int>(rem % 60)};
}

void AppendDigits(uint64_t v, int width, std::string* out) {
  char buf[24];
  for (int i = width - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  out->append(buf, static_cast<size_t>(width));
}

void AppendUint(uint64_t v, std::string* out) {
  char buf[24];
  int n = 0;
  do {
    buf[23 - n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  out->append(buf + 24 - n, static_cast<size_t>(n));
}

// Formats timestamps of the current second in the shapes the messages use.
class TimeFormatter {
 public:
  void Set(int64_t unix_nanos) {
    nanos_ = static_cast<uint32_t>(unix_nanos % 1000000000);
    const int64_t secs = unix_nanos / 1000000000;
    if (secs == cached_secs_) return;
    cached_secs_ = secs;
    civil_ = CivilFromUnixSeconds(secs);
    date_.clear();  // "2026-11-24"
    AppendDigits(static_cast<uint64_t>(civil_.year), 4, &date_);
    date_.push_back('-');
    AppendDigits(static_cast<uint64_t>(civil_.month), 2, &date_);
    date_.push_back('-');
    AppendDigits(static_cast<uint64_t>(civil_.day), 2, &date_);
    clock_.clear();  // "09:00:00"
    AppendDigits(static_cast<uint64_t>(civil_.hour), 2, &clock_);
    clock_.push_back(':');
    AppendDigits(static_cast<uint64_t>(civil_.minute), 2, &clock_);
    clock_.push_back(':');
    AppendDigits(static_cast<uint64_t>(civil_.second), 2, &clock_);
  }

  // Go's time.RFC3339Nano in UTC, as containerd writes it: trailing zeros of the fraction
  // trimmed, no fraction when it is zero.
  void AppendRfc3339Nano(std::string* out) const {
    out->append(date_);
    out->push_back('T');
    out->append(clock_);
    if (nanos_ != 0) {
      char frac[9];
      uint32_t v = nanos_;
      for (int i = 8; i >= 0; --i) {
        frac[i] = static_cast<char>('0' + v % 10);
        v /= 10;
      }
      size_t n = 9;
      while (frac[n - 1] == '0') --n;
      out->push_back('.');
      out->append(frac, n);
    }
    out->push_back('Z');
  }
  // "2026-11-24T09:00:00.123Z"
  void AppendIsoMillis(std::string* out) const {
    out->append(date_);
    out->push_back('T');
    out->append(clock_);
    out->push_back('.');
    AppendDigits(nanos_ / 1000000, 3, out);
    out->push_back('Z');
  }
  // "2026-11-24 09:00:00.123" (Java/logback style)
  void AppendSpaceMillis(std::string* out) const {
    out->append(date_);
    out->push_back(' ');
    out->append(clock_);
    out->push_back('.');
    AppendDigits(nanos_ / 1000000, 3, out);
  }
  // klog header time: "1124 09:00:00.123456"
  void AppendKlog(std::string* out) const {
    AppendDigits(static_cast<uint64_t>(civil_.month), 2, out);
    AppendDigits(static_cast<uint64_t>(civil_.day), 2, out);
    out->push_back(' ');
    out->append(clock_);
    out->push_back('.');
    AppendDigits(nanos_ / 1000, 6, out);
  }
  // Kubelet's rotated-file suffix, "20261124-090000" (kubelet uses local time; UTC here).
  std::string RotationSuffix() const {
    std::string s;
    AppendDigits(static_cast<uint64_t>(civil_.year), 4, &s);
    AppendDigits(static_cast<uint64_t>(civil_.month), 2, &s);
    AppendDigits(static_cast<uint64_t>(civil_.day), 2, &s);
    s.push_back('-');
    AppendDigits(static_cast<uint64_t>(civil_.hour), 2, &s);
    AppendDigits(static_cast<uint64_t>(civil_.minute), 2, &s);
    AppendDigits(static_cast<uint64_t>(civil_.second), 2, &s);
    return s;
  }

 private:
  int64_t cached_secs_ = -1;
  uint32_t nanos_ = 0;
  Civil civil_{};
  std::string date_;
  std::string clock_;
};

// Vocabulary of ordinary log prose. A few entries are non-ASCII (valid UTF-8), as real logs
// carry user data and translated messages.
constexpr std::string_view kWords[] = {
    "request",    "handled",    "user",      "session",   "cache",      "miss",      "hit",
    "upstream",   "connection", "timeout",   "retry",     "database",   "query",     "rows",
    "returned",   "took",       "order",     "payment",   "authorized", "declined",  "token",
    "refresh",    "expired",    "worker",    "job",       "started",    "completed", "failed",
    "queue",      "depth",      "batch",     "flush",     "sync",       "config",    "reloaded",
    "pod",        "ready",      "probe",     "liveness",  "readiness",  "tenant",    "region",
    "eu-west-1",  "us-east-2",  "checkout",  "cart",      "item",       "added",     "removed",
    "inventory",  "reserved",   "released",  "shipment",  "created",    "updated",   "deleted",
    "not",        "found",      "the",       "a",         "of",         "to",        "for",
    "with",       "from",       "after",     "before",    "while",      "waiting",   "lock",
    "acquired",   "lease",      "renewed",   "leader",    "election",   "won",       "lost",
    "watch",      "closed",     "reconnect", "backoff",   "grpc",       "http",      "status",
    "OK",         "error",      "warning",   "deadline",  "exceeded",   "context",   "canceled",
    "client",     "server",     "listening", "on",        "port",       "handler",   "middleware",
    "auth",       "jwt",        "invalid",   "signature", "scope",      "granted",   "denied",
    "quota",      "limit",      "reached",   "memory",    "heap",       "gc",        "pause",
    "goroutine",  "thread",     "pool",      "exhausted", "scaled",     "replicas",  "deployment",
    "rollout",    "metrics",    "exported",  "scrape",    "span",       "trace",     "sampled",
    "message",    "published",  "consumed",  "offset",    "partition",  "topic",     "kafka",
    "redis",      "postgres",   "mysql",     "s3",        "bucket",     "object",    "uploaded",
    "downloaded", "bytes",      "checksum",  "mismatch",  "Zürich",     "naïve",     "café",
    "東京",       "данные",     "ok",
};
constexpr size_t kNumWords = sizeof(kWords) / sizeof(kWords[0]);

constexpr std::string_view kCallers[] = {
    "server/handler.go:142", "store/postgres.go:88", "cache/redis.go:311", "auth/jwt.go:57",
    "queue/consumer.go:203", "http/client.go:419",   "main.go:64",         "rollout/sync.go:95",
    "grpc/server.go:1021",   "metrics/export.go:33", "reflector.go:255",   "controller.go:718",
};
constexpr std::string_view kJavaClasses[] = {
    "c.e.orders.OrderService", "c.e.payments.Gateway", "o.s.web.servlet.DispatcherServlet",
    "c.e.search.IndexWorker",  "o.h.engine.jdbc.spi",  "c.e.cart.CartController",
};
constexpr std::string_view kPaths[] = {
    "/api/v1/orders", "/api/v1/cart/items", "/healthz",       "/metrics", "/api/v2/search?q=shoes",
    "/login",         "/api/v1/payments",   "/static/app.js",
};
constexpr std::string_view kMethods[] = {"GET", "GET", "GET", "POST", "PUT", "DELETE"};
constexpr std::string_view kLevels[] = {"info", "debug", "warn", "error"};

enum class Format { kJson, kLogfmt, kKlog, kJava, kEnvoy };

struct Container {
  std::string path;  // .../<container>/0.log
  Format format;
};

void AppendHex(Rng& rng, size_t n, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t bits = 0;
  for (size_t i = 0; i < n; ++i) {
    if (i % 16 == 0) bits = rng.Next();
    out->push_back(kHex[bits & 15]);
    bits >>= 4;
  }
}

// Pod-name style suffix characters (Kubernetes avoids vowels and confusable digits).
void AppendPodSuffix(Rng& rng, size_t n, std::string* out) {
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  for (size_t i = 0; i < n; ++i) out->push_back(kAlphabet[rng.Below(kAlphabet.size())]);
}

// One word, number or identifier of filler text.
void AppendToken(Rng& rng, std::string* out) {
  const uint64_t r = rng.Below(100);
  if (r < 82) {
    out->append(kWords[rng.Below(kNumWords)]);
  } else if (r < 92) {
    AppendUint(rng.Below(r < 87 ? 1000 : 10000000), out);
  } else if (r < 97) {
    AppendHex(rng, 8 + 8 * rng.Below(2), out);
  } else {
    out->append("10.");
    AppendUint(rng.Below(256), out);
    out->push_back('.');
    AppendUint(rng.Below(256), out);
    out->push_back('.');
    AppendUint(rng.Below(256), out);
  }
}

// Layout of the node; deterministic for a given seed and file count, so `layout` and `steady`
// agree on the paths.
std::vector<Container> MakeLayout(const std::string& root, size_t files, uint64_t seed) {
  static constexpr std::string_view kApps[] = {
      "checkout", "payments",  "search",  "frontend", "cart",     "auth",    "inventory",
      "shipping", "recommend", "ads",     "email",    "currency", "quote",   "fraud",
      "ledger",   "notifier",  "gateway", "orders",   "catalog",  "reviews",
  };
  static constexpr std::string_view kNamespaces[] = {
      "default",     "shop",       "payments",      "search",
      "kube-system", "monitoring", "ingress-nginx", "batch",
  };
  Rng rng(seed ^ 0x5EED0F1A7E5ull);
  std::vector<Container> out;
  out.reserve(files);
  while (out.size() < files) {
    const std::string_view app = kApps[rng.Below(std::size(kApps))];
    std::string pod = absl::StrCat(Av(app), "-");
    AppendPodSuffix(rng, 10, &pod);
    pod.push_back('-');
    AppendPodSuffix(rng, 5, &pod);
    std::string uid;
    AppendHex(rng, 8, &uid);
    uid.push_back('-');
    AppendHex(rng, 4, &uid);
    uid.append("-4");
    AppendHex(rng, 3, &uid);
    uid.push_back('-');
    AppendHex(rng, 4, &uid);
    uid.push_back('-');
    AppendHex(rng, 12, &uid);
    const std::string pod_dir = absl::StrCat(
        root, "/", Av(kNamespaces[rng.Below(std::size(kNamespaces))]), "_", pod, "_", uid);
    const uint64_t r = rng.Below(10);
    const size_t containers = r < 6 ? 1 : r < 9 ? 2 : 3;
    for (size_t c = 0; c < containers && out.size() < files; ++c) {
      Container ctr;
      std::string_view name;
      if (c == 0) {
        name = app;
        const uint64_t f = rng.Below(100);
        ctr.format = f < 40   ? Format::kJson
                     : f < 75 ? Format::kLogfmt
                     : f < 88 ? Format::kKlog
                              : Format::kJava;
      } else if (c == 1) {
        name = "istio-proxy";
        ctr.format = Format::kEnvoy;
      } else {
        name = "config-reloader";
        ctr.format = Format::kKlog;
      }
      ctr.path = absl::StrCat(pod_dir, "/", Av(name), "/0.log");
      out.push_back(std::move(ctr));
    }
  }
  return out;
}

void CreateLayout(const std::vector<Container>& layout) {
  for (const Container& c : layout) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(c.path).parent_path(), ec);
    if (ec) Die(absl::StrCat("mkdir ", c.path, ": ", ec.message()));
    int fd = open(c.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) Die(absl::StrCat("open ", c.path, ": ", strerror(errno)));
    close(fd);
  }
}

// Builds CRI lines. Owns the random state; not thread-safe.
class LineMaker {
 public:
  explicit LineMaker(uint64_t seed) : rng_(seed) {}

  Rng& rng() { return rng_; }

  // Appends one CRI line (with its '\n') for file `fid`, line `seq`, written at `wt`.
  void Append(Format format, uint32_t fid, uint64_t seq, int64_t wt, std::string* out) {
    time_.Set(wt);
    const size_t line_start = out->size();
    uint64_t r = rng_.Below(100);
    const size_t target = r < 85   ? 80 + rng_.Below(221)
                          : r < 97 ? 300 + rng_.Below(701)
                                   : 1024 + rng_.Below(3073);
    r = rng_.Below(100);
    const size_t level = r < 80 ? 0 : r < 88 ? 1 : r < 96 ? 2 : 3;
    const bool err_stream = level >= 2 ? rng_.Below(100) < 70 : rng_.Below(100) < 12;
    time_.AppendRfc3339Nano(out);
    out->append(err_stream ? " stderr F " : " stdout F ");
    const size_t msg_start = out->size();
    // The message's target length: the line's, minus the CRI prefix and the newline.
    const size_t used = msg_start - line_start + 1;
    const size_t msg_target = target > used ? target - used : 0;
    size_t len_pos = 0;  // where the 4 digits of len= go
    auto tag = [&] {
      out->append("fid=");
      AppendUint(fid, out);
      out->append(" seq=");
      AppendUint(seq, out);
      out->append(" wt=");
      AppendUint(static_cast<uint64_t>(wt), out);
      out->append(" len=");
      len_pos = out->size();
      out->append("0000");
    };
    auto words = [&](size_t n) {
      for (size_t i = 0; i < n; ++i) {
        if (i != 0) out->push_back(' ');
        AppendToken(rng_, out);
      }
    };
    auto fill_until = [&](size_t want, auto&& one) {
      while (out->size() - msg_start < want) one();
    };
    const std::string_view lvl = kLevels[level];
    switch (format) {
      case Format::kJson: {
        out->append("{\"level\":\"");
        out->append(lvl);
        out->append("\",\"ts\":\"");
        time_.AppendIsoMillis(out);
        out->append("\",\"caller\":\"");
        out->append(kCallers[rng_.Below(std::size(kCallers))]);
        out->append("\",\"msg\":\"");
        words(2 + rng_.Below(6));
        if (rng_.Below(10) == 0) {
          out->append(" \\\"");  // an escaped quote, as in JSON-encoded error texts
          AppendToken(rng_, out);
          out->append("\\\"");
        }
        out->push_back(' ');
        tag();
        out->append("\",\"trace_id\":\"");
        AppendHex(rng_, 32, out);
        out->append("\",\"latency_ms\":");
        AppendUint(rng_.Below(2000), out);
        if (out->size() - msg_start + 2 < msg_target) {
          out->append(",\"detail\":\"");
          fill_until(msg_target - 2, [&] {
            AppendToken(rng_, out);
            out->push_back(' ');
          });
          out->push_back('"');
        }
        out->push_back('}');
        break;
      }
      case Format::kLogfmt: {
        out->append("ts=");
        time_.AppendIsoMillis(out);
        out->append(" level=");
        out->append(lvl);
        out->append(" caller=");
        out->append(kCallers[rng_.Below(std::size(kCallers))]);
        out->push_back(' ');
        tag();
        out->append(" msg=\"");
        words(2 + rng_.Below(6));
        out->append("\" duration=");
        AppendUint(rng_.Below(5000), out);
        out->append("ms");
        fill_until(msg_target, [&] {
          out->push_back(' ');
          out->append(kWords[rng_.Below(kNumWords)]);
          out->push_back('=');
          AppendToken(rng_, out);
        });
        break;
      }
      case Format::kKlog: {
        out->push_back("IIWE"[level]);
        time_.AppendKlog(out);
        out->append("       1 ");
        out->append(kCallers[rng_.Below(std::size(kCallers))]);
        out->append("] ");
        words(2 + rng_.Below(5));
        out->push_back(' ');
        tag();
        fill_until(msg_target, [&] {
          out->push_back(' ');
          AppendToken(rng_, out);
        });
        break;
      }
      case Format::kJava: {
        time_.AppendSpaceMillis(out);
        static constexpr std::string_view kJavaLevels[] = {"INFO ", "DEBUG", "WARN ", "ERROR"};
        out->push_back(' ');
        out->append(kJavaLevels[level]);
        out->append(" [http-nio-8080-exec-");
        AppendUint(1 + rng_.Below(20), out);
        out->append("] ");
        out->append(kJavaClasses[rng_.Below(std::size(kJavaClasses))]);
        out->append(" - ");
        tag();
        out->push_back(' ');
        words(3 + rng_.Below(5));
        if (level == 3 && msg_target > 400) {
          // Stack traces arrive joined on one line when the app logs through a JSON-less
          // appender with a single-line layout.
          fill_until(msg_target, [&] {
            out->append(" at ");
            out->append(kJavaClasses[rng_.Below(std::size(kJavaClasses))]);
            out->append(".handle(");
            out->append(kWords[rng_.Below(kNumWords)]);
            out->append(".java:");
            AppendUint(rng_.Below(900), out);
            out->push_back(')');
          });
        }
        fill_until(msg_target, [&] {
          out->push_back(' ');
          AppendToken(rng_, out);
        });
        break;
      }
      case Format::kEnvoy: {
        out->push_back('[');
        time_.AppendIsoMillis(out);
        out->append("] \"");
        out->append(kMethods[rng_.Below(std::size(kMethods))]);
        out->push_back(' ');
        out->append(kPaths[rng_.Below(std::size(kPaths))]);
        out->append(" HTTP/1.1\" ");
        static constexpr uint64_t kStatus[] = {200, 200, 200, 200, 201, 204, 304, 404, 503};
        AppendUint(kStatus[rng_.Below(std::size(kStatus))], out);
        out->append(" - via_upstream - \"-\" ");
        AppendUint(rng_.Below(5000), out);
        out->push_back(' ');
        AppendUint(rng_.Below(50000), out);
        out->push_back(' ');
        AppendUint(rng_.Below(300), out);
        out->append(" \"-\" \"Go-http-client/1.1\" \"");
        AppendHex(rng_, 8, out);
        out->push_back('-');
        AppendHex(rng_, 4, out);
        out->append("\" \"outbound|8080||svc.cluster.local\" ");
        tag();
        fill_until(msg_target, [&] {
          out->push_back(' ');
          AppendToken(rng_, out);
        });
        break;
      }
    }
    const size_t msg_len = out->size() - msg_start;
    if (msg_len > 9999) Die("message too long for len=dddd");
    char digits[4];
    size_t v = msg_len;
    for (int i = 3; i >= 0; --i) {
      digits[i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
    std::memcpy(out->data() + len_pos, digits, 4);
    out->push_back('\n');
  }

 private:
  Rng rng_;
  TimeFormatter time_;
};

void WriteAll(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      Die(absl::StrCat("write ", path, ": ", strerror(errno)));
    }
    done += static_cast<size_t>(n);
  }
}

int OpenAppend(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) Die(absl::StrCat("open ", path, ": ", strerror(errno)));
  return fd;
}

// Share of file i: 1/(i+1)^skew, normalised (skew 0 = uniform, 1 = Zipf: a few chatty pods, a
// long tail of quiet ones, as on real nodes).
std::vector<double> Weights(size_t files, double skew) {
  std::vector<double> w(files);
  double sum = 0;
  for (size_t i = 0; i < files; ++i) sum += w[i] = std::pow(static_cast<double>(i + 1), -skew);
  for (double& x : w) x /= sum;
  return w;
}

struct Options {
  std::string mode;
  std::string root;
  size_t files = 32;
  uint64_t bytes = 256ull << 20;
  uint64_t rate = 20000;
  double seconds = 30;
  uint64_t rotate_bytes = 10ull << 20;
  uint64_t seed = 1;
  double skew = -1;  // -1: the mode's default
  int64_t tick_ms = 1;
  bool write_per_line = true;  // --write line (default) or tick
  int64_t reopen_ms = 10;
};

void PrintManifest(const Options& o, const std::vector<Container>& layout,
                   const std::vector<uint64_t>& lines, const std::vector<uint64_t>& bytes,
                   uint64_t rotations, double seconds, double max_lag_ms, double cpu) {
  uint64_t total_lines = 0, total_bytes = 0;
  for (uint64_t n : lines) total_lines += n;
  for (uint64_t n : bytes) total_bytes += n;
  std::string out =
      absl::StrCat("{\"mode\":\"", o.mode, "\",\"root\":\"", o.root, "\",\"files\":", layout.size(),
                   ",\"lines_total\":", total_lines, ",\"bytes_total\":", total_bytes,
                   ",\"rotations\":", rotations, ",\"seconds\":", seconds,
                   ",\"max_lag_ms\":", max_lag_ms, ",\"cpu_seconds\":", cpu, ",\"lines\":[");
  for (size_t i = 0; i < lines.size(); ++i) absl::StrAppend(&out, i ? "," : "", lines[i]);
  out.append("]}\n");
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

void Prefill(const Options& o) {
  const std::vector<Container> layout = MakeLayout(o.root, o.files, o.seed);
  CreateLayout(layout);
  const std::vector<double> w = Weights(layout.size(), o.skew < 0 ? 0 : o.skew);
  LineMaker maker(o.seed);
  std::vector<uint64_t> lines(layout.size()), bytes(layout.size());
  const int64_t start = MonotonicNanos();
  std::string buf;
  buf.reserve(2 << 20);
  for (size_t fid = 0; fid < layout.size(); ++fid) {
    const uint64_t want = static_cast<uint64_t>(static_cast<double>(o.bytes) * w[fid]);
    const int fd = OpenAppend(layout[fid].path);
    uint64_t written = 0;
    while (written < want) {
      buf.clear();
      while (buf.size() < (1 << 20) && written + buf.size() < want) {
        maker.Append(layout[fid].format, static_cast<uint32_t>(fid), lines[fid]++, RealtimeNanos(),
                     &buf);
      }
      WriteAll(fd, buf, layout[fid].path);
      written += buf.size();
    }
    close(fd);
    bytes[fid] = written;
  }
  const double secs = static_cast<double>(MonotonicNanos() - start) / 1e9;
  PrintManifest(o, layout, lines, bytes, 0, secs, 0, CpuSeconds());
}

void Steady(const Options& o) {
  const std::vector<Container> layout = MakeLayout(o.root, o.files, o.seed);
  CreateLayout(layout);
  const std::vector<double> w = Weights(layout.size(), o.skew < 0 ? 1 : o.skew);
  std::vector<double> cumulative(w.size());
  double acc = 0;
  for (size_t i = 0; i < w.size(); ++i) cumulative[i] = acc += w[i];
  cumulative.back() = 1.0;

  struct File {
    int fd = -1;
    uint64_t size = 0;      // bytes in the current 0.log (including after a rename)
    int64_t reopen_at = 0;  // renamed: create a new 0.log at this monotonic time (0: not renamed)
    std::string buf;
  };
  std::vector<File> files(layout.size());
  for (size_t i = 0; i < layout.size(); ++i) {
    files[i].fd = OpenAppend(layout[i].path);
    struct stat st;
    if (fstat(files[i].fd, &st) == 0) files[i].size = static_cast<uint64_t>(st.st_size);
  }
  std::vector<uint64_t> lines(layout.size()), bytes(layout.size());
  std::vector<uint32_t> dirty;
  LineMaker maker(o.seed);
  uint64_t rotations = 0, written = 0;
  double max_lag_ms = 0;
  const uint64_t total = static_cast<uint64_t>(static_cast<double>(o.rate) * o.seconds);
  const int64_t tick = o.tick_ms * 1000000;
  const int64_t start = MonotonicNanos();
  int64_t next = start;
  while (written < total) {
    next += tick;
    timespec ts{static_cast<time_t>(next / 1000000000), static_cast<long>(next % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
    const int64_t now = MonotonicNanos();
    max_lag_ms = std::max(max_lag_ms, static_cast<double>(now - next) / 1e6);
    const double elapsed = static_cast<double>(now - start) / 1e9;
    const uint64_t due =
        std::min(total, static_cast<uint64_t>(static_cast<double>(o.rate) * elapsed));
    dirty.clear();
    for (; written < due; ++written) {
      const double u = maker.rng().Unit();
      const size_t fid = static_cast<size_t>(
          std::upper_bound(cumulative.begin(), cumulative.end() - 1, u) - cumulative.begin());
      File& f = files[fid];
      if (f.buf.empty()) dirty.push_back(static_cast<uint32_t>(fid));
      maker.Append(layout[fid].format, static_cast<uint32_t>(fid), lines[fid]++, RealtimeNanos(),
                   &f.buf);
      if (o.write_per_line) {
        // containerd's CRI logger writes each line with its own write(2).
        WriteAll(f.fd, f.buf, layout[fid].path);
        f.size += f.buf.size();
        bytes[fid] += f.buf.size();
        f.buf.clear();
      }
    }
    // --write tick: one write per file per tick, whole lines only.
    for (uint32_t fid : dirty) {
      if (files[fid].buf.empty()) continue;
      File& f = files[fid];
      WriteAll(f.fd, f.buf, layout[fid].path);
      f.size += f.buf.size();
      bytes[fid] += f.buf.size();
      f.buf.clear();
    }
    for (size_t fid = 0; fid < files.size(); ++fid) {
      File& f = files[fid];
      if (f.reopen_at != 0) {
        if (now < f.reopen_at) continue;
        close(f.fd);
        f.fd = OpenAppend(layout[fid].path);
        f.size = 0;
        f.reopen_at = 0;
      } else if (f.size >= o.rotate_bytes) {
        TimeFormatter now_fmt;
        now_fmt.Set(RealtimeNanos());
        const std::string rotated = absl::StrCat(layout[fid].path, ".", now_fmt.RotationSuffix());
        std::string name = rotated;
        for (int n = 1; access(name.c_str(), F_OK) == 0; ++n) name = absl::StrCat(rotated, ".", n);
        if (rename(layout[fid].path.c_str(), name.c_str()) != 0) {
          Die(absl::StrCat("rename ", layout[fid].path, ": ", strerror(errno)));
        }
        f.reopen_at = now + o.reopen_ms * 1000000;
        ++rotations;
      }
    }
  }
  for (size_t fid = 0; fid < files.size(); ++fid) {
    close(files[fid].fd);
    // Renamed but not yet reopened: the runtime would reopen, so 0.log exists afterwards.
    if (files[fid].reopen_at != 0) close(OpenAppend(layout[fid].path));
  }
  const double secs = static_cast<double>(MonotonicNanos() - start) / 1e9;
  PrintManifest(o, layout, lines, bytes, rotations, secs, max_lag_ms, CpuSeconds());
}

constexpr char kUsage[] =
    "usage: loggen layout|prefill|steady --root DIR [--files K] [--bytes N] [--rate R]\n"
    "              [--seconds T] [--rotate-bytes B] [--seed S] [--skew Z] [--tick-ms M]\n"
    "              [--write line|tick] [--reopen-ms M]\n";

Options ParseArgs(int argc, char** argv) {
  if (argc < 2) Die(kUsage);
  Options o;
  o.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (i + 1 >= argc) Die(absl::StrCat(Av(flag), " needs a value\n", kUsage));
    const std::string_view value = argv[++i];
    auto u64 = [&](uint64_t* out) {
      if (!absl::SimpleAtoi(Av(value), out)) Die(absl::StrCat(Av(flag), ": not a number"));
    };
    auto dbl = [&](double* out) {
      if (!absl::SimpleAtod(Av(value), out)) Die(absl::StrCat(Av(flag), ": not a number"));
    };
    auto size = [&](uint64_t* out) {
      absl::StatusOr<uint64_t> v = ParseByteSize(value);
      if (!v.ok()) Die(absl::StrCat(Av(flag), ": ", v.status().message()));
      *out = *v;
    };
    uint64_t n = 0;
    if (flag == "--root") {
      o.root = std::string(value);
    } else if (flag == "--files") {
      u64(&n);
      o.files = n;
    } else if (flag == "--bytes") {
      size(&o.bytes);
    } else if (flag == "--rate") {
      u64(&o.rate);
    } else if (flag == "--seconds") {
      dbl(&o.seconds);
    } else if (flag == "--rotate-bytes") {
      size(&o.rotate_bytes);
    } else if (flag == "--seed") {
      u64(&o.seed);
    } else if (flag == "--skew") {
      dbl(&o.skew);
    } else if (flag == "--reopen-ms") {
      u64(&n);
      o.reopen_ms = static_cast<int64_t>(n);
    } else if (flag == "--write") {
      if (value != "line" && value != "tick") Die("--write wants line or tick");
      o.write_per_line = value == "line";
    } else if (flag == "--tick-ms") {
      u64(&n);
      o.tick_ms = static_cast<int64_t>(std::max<uint64_t>(1, n));
    } else {
      Die(absl::StrCat("unknown flag ", Av(flag), "\n", kUsage));
    }
  }
  if (o.root.empty()) Die(absl::StrCat("--root is required\n", kUsage));
  if (o.files == 0) Die("--files must be at least 1");
  return o;
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  using namespace sluice::bench;
  const Options o = ParseArgs(argc, argv);
  if (o.mode == "layout") {
    CreateLayout(MakeLayout(o.root, o.files, o.seed));
    std::vector<uint64_t> zeros(o.files);
    PrintManifest(o, MakeLayout(o.root, o.files, o.seed), zeros, zeros, 0, 0, 0, CpuSeconds());
  } else if (o.mode == "prefill") {
    Prefill(o);
  } else if (o.mode == "steady") {
    Steady(o);
  } else {
    Die(kUsage);
  }
  return 0;
}
