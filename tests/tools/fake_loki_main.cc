// fake_loki: the FakeLoki receiver as a program, for the benchmark harness and manual runs.
//
//   fake_loki [--listen HOST:PORT] [--ordered-writes] [--stats-file PATH]
//             [--fail-status S [--fail-count N] [--retry-after SECS] [--fail-body TEXT]]
//             [--stall-count N [--stall-ms MS]] [--drop-count N]
//             [--max-line-size BYTES] [--accept-invalid-utf8] [--require-tenant]
//             [--loki2-label-errors] [--max-body-bytes BYTES]
//
// Prints "listening on HOST:PORT" as its first stdout line. On SIGTERM or SIGINT it stops the
// server, writes the statistics as one JSON object to --stats-file (or stdout) and exits 0.
//
// Threads: main blocks SIGTERM/SIGINT before starting the server (so every server thread inherits
// the mask) and waits for them with sigwait(); the server runs on its own threads.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "agent/common/strings.h"
#include "tests/support/fake_loki.h"

namespace {

using sluice::testing::FakeLoki;

void Usage() {
  std::fprintf(stderr,
               "usage: fake_loki [--listen HOST:PORT] [--ordered-writes] [--stats-file PATH]\n"
               "                 [--fail-status S [--fail-count N] [--retry-after SECS]"
               " [--fail-body TEXT]]\n"
               "                 [--stall-count N [--stall-ms MS]] [--drop-count N]\n"
               "                 [--max-line-size BYTES] [--accept-invalid-utf8]"
               " [--require-tenant]\n"
               "                 [--loki2-label-errors] [--max-body-bytes BYTES]\n");
}

template <typename T>
bool ParseNumber(std::string_view text, T* out) {
  return absl::SimpleAtoi(sluice::Av(text), out);
}

}  // namespace

int main(int argc, char** argv) {
  FakeLoki::Options options;
  std::string stats_file;
  int fail_status = 0;
  int fail_count = -1;
  int retry_after = -1;
  std::string fail_body;
  int stall_count = 0;
  int64_t stall_ms = -1;
  int drop_count = 0;

  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&](std::string_view* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string_view v;
    bool ok = true;
    if (arg == "--listen") {
      ok = value(&v);
      const size_t colon = ok ? v.rfind(':') : std::string_view::npos;
      int port = -1;
      ok = colon != std::string_view::npos && ParseNumber(v.substr(colon + 1), &port) &&
           port >= 0 && port <= 65535;
      if (ok) {
        options.listen_host = std::string(v.substr(0, colon));
        options.listen_port = static_cast<uint16_t>(port);
      }
    } else if (arg == "--ordered-writes") {
      options.ordered_writes = true;
    } else if (arg == "--stats-file") {
      ok = value(&v);
      stats_file = std::string(v);
    } else if (arg == "--fail-status") {
      ok = value(&v) && ParseNumber(v, &fail_status) && fail_status >= 100 && fail_status <= 999;
    } else if (arg == "--fail-count") {
      ok = value(&v) && ParseNumber(v, &fail_count);
    } else if (arg == "--retry-after") {
      ok = value(&v) && ParseNumber(v, &retry_after);
    } else if (arg == "--fail-body") {
      ok = value(&v);
      fail_body = std::string(v);
    } else if (arg == "--stall-count") {
      ok = value(&v) && ParseNumber(v, &stall_count);
    } else if (arg == "--stall-ms") {
      ok = value(&v) && ParseNumber(v, &stall_ms);
    } else if (arg == "--drop-count") {
      ok = value(&v) && ParseNumber(v, &drop_count);
    } else if (arg == "--max-line-size") {
      ok = value(&v) && ParseNumber(v, &options.max_line_size);
    } else if (arg == "--max-body-bytes") {
      ok = value(&v) && ParseNumber(v, &options.max_body_bytes);
    } else if (arg == "--accept-invalid-utf8") {
      options.reject_invalid_utf8 = false;
    } else if (arg == "--require-tenant") {
      options.require_tenant = true;
    } else if (arg == "--loki2-label-errors") {
      options.reject_request_on_unparsable_labels = false;
    } else if (arg == "--help" || arg == "-h") {
      Usage();
      return 0;
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "fake_loki: bad or incomplete argument %s\n", argv[i]);
      Usage();
      return 2;
    }
  }

  // Block the stop signals before any thread exists, so only sigwait() below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  FakeLoki loki(options);
  if (fail_status != 0) {
    loki.FailNext(fail_count, fail_status, fail_body,
                  retry_after >= 0 ? std::optional<int>(retry_after) : std::nullopt);
  }
  if (stall_count != 0) {
    loki.StallNext(stall_count,
                   stall_ms >= 0 ? absl::Milliseconds(stall_ms) : absl::InfiniteDuration());
  }
  if (drop_count != 0) loki.DropNext(drop_count);
  if (absl::Status status = loki.Start(); !status.ok()) {
    std::fprintf(stderr, "fake_loki: %s\n", status.ToString().c_str());
    return 1;
  }
  std::printf("listening on %s:%d\n", options.listen_host.c_str(), loki.port());
  std::fflush(stdout);

  int signal_number = 0;
  while (sigwait(&stop_signals, &signal_number) != 0) {
  }
  loki.Stop();

  const std::string stats = loki.StatsJson() + "\n";
  if (stats_file.empty()) {
    std::fputs(stats.c_str(), stdout);
    std::fflush(stdout);
  } else {
    std::ofstream out(stats_file, std::ios::trunc);
    out << stats;
    out.close();
    if (!out) {
      std::fprintf(stderr, "fake_loki: cannot write %s\n", stats_file.c_str());
      return 1;
    }
  }
  return 0;
}
