// sluice command line.
//
//   sluice tail DIR... [options]   tail pod logs (or any directory) and ship them to Loki, or
//                                  print them to stdout when no --url is given
//   sluice --version | --help
//
// Exit codes: 0 clean shutdown, 1 runtime failure, 2 usage error.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/common/strings.h"
#include "agent/common/thread.h"
#include "agent/common/units.h"
#include "agent/config/format.h"
#include "agent/pipeline/labels.h"
#include "agent/runtime/runtime.h"
#include "agent/runtime/tail_preset.h"
#include "agent/server/http_server.h"
#include "agent/server/service.h"
#include "agent/source/tail_manager.h"

namespace sluice {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr char kUsage[] =
    "sluice: a log shipping agent for Kubernetes and Grafana Loki\n"
    "\n"
    "Usage:\n"
    "  sluice run PATH [options]      run an Alloy configuration (a file, or a directory of\n"
    "                                 *.alloy files): its log-shipping components\n"
    "  sluice validate PATH           check a configuration without running it\n"
    "  sluice fmt PATH [--write]      print a configuration canonically formatted (as alloy fmt)\n"
    "  sluice tail [DIR...] [options] tail *.log files under DIR (default /var/log/pods, layout\n"
    "                                 /var/log/pods/<ns>_<pod>_<uid>/<container>/<n>.log)\n"
    "  sluice --version               print the version\n"
    "  sluice --help                  this text; 'sluice tail --help' for the options\n";

constexpr char kTailUsage[] =
    "Usage: sluice tail [DIR...] [options]      (DIR defaults to /var/log/pods)\n"
    "\n"
    "Tails every *.log file under each DIR (new files and directories are picked up as they\n"
    "appear), parses CRI, docker json-file or plain lines, labels entries with namespace, pod,\n"
    "container, stream and filename, and pushes them to Loki. Without --url, entries are\n"
    "printed to stdout as JSON lines.\n"
    "\n"
    "Options:\n"
    "  --url URL                 Loki push URL, e.g. http://loki:3100/loki/api/v1/push\n"
    "  --tenant ID               X-Scope-OrgID sent with every push\n"
    "  --label k=v               static label added to every entry (repeatable)\n"
    "  --storage.path DIR        where positions are kept (default data-sluice)\n"
    "  --batch-size BYTES        flush a batch at this many line bytes (default 1MiB)\n"
    "  --batch-wait DURATION     flush a batch this long after its first entry (default 1s)\n"
    "  --memory-budget BYTES     line bytes read but not yet acknowledged by Loki; reading\n"
    "                            pauses at this mark (default 8MiB)\n"
    "  --max-retries N           drop a batch after N failed tries (default 0: retry until\n"
    "                            Loki takes it; reading pauses meanwhile)\n"
    "  --min-backoff DURATION    first retry delay (default 500ms)\n"
    "  --max-backoff DURATION    longest retry delay (default 5m)\n"
    "  --remote-timeout DURATION timeout of one push request (default 10s)\n"
    "  --max-line-size BYTES     longer lines are truncated and counted (default 256KiB)\n"
    "  --format auto|cri|docker|plain   line format (default auto: decided per file)\n"
    "  --tail-from-end           start files with no stored position at their end\n"
    "  --read-interval DURATION  a written file is read this long after its first write, with\n"
    "                            the writes that follow (default 50ms; 0: at each write)\n"
    "  --max-open-files N        files held open at once (default: the fd limit less 128);\n"
    "                            idle files past it are closed and reopened for their turn\n"
    "  --positions.on-error POLICY  unreadable positions file: restart_from_beginning\n"
    "                            (default), restart_from_end or skip (as Alloy)\n"
    "  --positions-interval DURATION  fsync period of the positions file (default 5s; it is\n"
    "                            written within milliseconds of each acknowledgement)\n"
    "  --shutdown-timeout DURATION  how long SIGTERM waits for in-flight batches (default 15s)\n"
    "  --server.http.listen-addr ADDR  serve /metrics and /-/healthy there (default: none)\n"
    "  --print-config            print the Alloy configuration this command runs, and exit\n"
    "  --log.level LEVEL         debug, info, warn or error (default info)\n";

constexpr char kRunUsage[] =
    "Usage: sluice run PATH [options]\n"
    "\n"
    "Runs the log-shipping components of an Alloy configuration: PATH is a file, or a directory\n"
    "whose *.alloy files are read together. Components: local.file_match, discovery.relabel,\n"
    "loki.source.file, loki.process, loki.relabel, loki.write, loki.echo, discovery.kubelet,\n"
    "discovery.kubernetes (role pod) and a logging block.\n"
    "Anything else is an error naming it.\n"
    "\n"
    "Options (as alloy run):\n"
    "  --server.http.listen-addr ADDR  address of the HTTP server (default 127.0.0.1:12345)\n"
    "  --storage.path DIR        where positions are kept: DIR/<component id>/positions.yml\n"
    "                            (default data-alloy)\n"
    "  --stability.level LEVEL   accepted for compatibility (generally-available,\n"
    "                            public-preview, experimental)\n"
    "  --disable-reporting       accepted for compatibility (sluice reports nothing)\n"
    "sluice's own:\n"
    "  --memory-budget BYTES     line bytes read but not yet acknowledged; reading pauses at\n"
    "                            this mark (default 8MiB)\n"
    "  --max-line-size BYTES     longer lines are truncated and counted (default 256KiB)\n"
    "  --read-interval DURATION  how long after a write a file is read (default 50ms)\n"
    "  --max-open-files N        files held open at once (default: the fd limit less 128)\n"
    "  --shutdown-timeout DURATION  how long SIGTERM waits for in-flight batches (default 15s)\n"
    "  --log.level LEVEL         debug, info, warn or error (default info; a logging block in\n"
    "                            the configuration overrides it)\n"
    "Kubernetes metadata (discovery.kubelet, discovery.kubernetes role pod):\n"
    "  --kubernetes.pods-dir DIR  pod log directory watched for new pods (default\n"
    "                            /var/log/pods; \"\" to watch none)\n"
    "  --kubernetes.unknown-pod-wait DURATION  how long the files of a pod the discovery does\n"
    "                            not know wait for its metadata before they are read with\n"
    "                            labels from their path alone (default 10s)\n"
    "  --kubernetes.grace-period DURATION  how long a pod that left the list keeps its targets\n"
    "                            (default 1m)\n";

struct Parsed {
  TailPreset preset;
  RuntimeOptions runtime;
  std::string listen_addr;  // empty: no HTTP server
  bool print_config = false;
};

int Usage(std::string_view message) {
  std::fprintf(stderr, "sluice: %.*s\nRun 'sluice tail --help' for usage.\n",
               static_cast<int>(message.size()), message.data());
  return kExitUsage;
}

bool IsRegularFile(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

// Parses `sluice tail` arguments into the preset and the runtime's options. Returns -1 to go on,
// or an exit code.
int ParseTail(int argc, char** argv, Parsed* p) {
  TailPreset& t = p->preset;
  RuntimeOptions& r = p->runtime;
  r.storage_path = "data-sluice";
  std::string storage_path = "data-sluice";
  LogFormat format = LogFormat::kAuto;
  for (int i = 0; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kTailUsage, stdout);
      return kExitOk;
    }
    if (arg.substr(0, 2) != "--") {
      // Absolute, so that `filename` labels and positions do not depend on the working
      // directory (symlinks are kept as given).
      std::error_code ec;
      std::filesystem::path abs = std::filesystem::absolute(std::filesystem::path(arg), ec);
      std::string root = ec ? std::string(arg) : abs.lexically_normal().string();
      while (root.size() > 1 && root.back() == '/') root.pop_back();
      t.roots.push_back(std::move(root));
      continue;
    }
    std::string name(arg.substr(2));
    std::string value;
    bool has_value = false;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto need_value = [&]() -> bool {
      if (has_value) return true;
      if (i + 1 >= argc) return false;
      value = argv[++i];
      return true;
    };
    auto bytes = [&](uint64_t* out) -> int {
      if (!need_value()) return Usage(absl::StrCat("--", name, " needs a value"));
      absl::StatusOr<uint64_t> v = ParseByteSize(value);
      if (!v.ok()) return Usage(absl::StrCat("--", name, ": ", v.status().message()));
      if (*v == 0) return Usage(absl::StrCat("--", name, " must be greater than 0"));
      *out = *v;
      return -1;
    };
    auto size = [&](size_t* out) -> int {
      uint64_t v = 0;
      int rc = bytes(&v);
      if (rc == -1) *out = static_cast<size_t>(v);
      return rc;
    };
    auto duration = [&](absl::Duration* out) -> int {
      if (!need_value()) return Usage(absl::StrCat("--", name, " needs a value"));
      absl::StatusOr<absl::Duration> v = ParseDurationArg(value);
      if (!v.ok()) return Usage(absl::StrCat("--", name, ": ", v.status().message()));
      *out = *v;
      return -1;
    };
    int rc = -1;
    if (name == "url") {
      if (!need_value() || value.empty()) return Usage("--url needs a value");
      if (value.rfind("http://", 0) != 0 && value.rfind("https://", 0) != 0) {
        return Usage(
            absl::StrCat("--url must start with http:// or https://, got \"", value, "\""));
      }
      t.url = value;
    } else if (name == "tenant") {
      if (!need_value()) return Usage("--tenant needs a value");
      t.tenant = value;
    } else if (name == "label") {
      if (!need_value()) return Usage("--label needs k=v");
      size_t e = value.find('=');
      if (e == std::string::npos)
        return Usage(absl::StrCat("--label wants k=v, got \"", value, "\""));
      std::string k = value.substr(0, e);
      if (!IsValidLabelName(k)) {
        return Usage(absl::StrCat("--label: invalid label name \"", k,
                                  "\" (must match [a-zA-Z_][a-zA-Z0-9_]*)"));
      }
      t.labels.emplace_back(k, value.substr(e + 1));
    } else if (name == "storage.path") {
      if (!need_value() || value.empty()) return Usage("--storage.path needs a value");
      storage_path = value;
    } else if (name == "server.http.listen-addr") {
      if (!need_value() || value.find(':') == std::string::npos) {
        return Usage("--server.http.listen-addr wants host:port");
      }
      p->listen_addr = value;
    } else if (name == "print-config") {
      p->print_config = true;
    } else if (name == "batch-size") {
      rc = bytes(&t.batch_size);
    } else if (name == "batch-wait") {
      rc = duration(&t.batch_wait);
    } else if (name == "memory-budget") {
      rc = size(&r.memory_budget);
    } else if (name == "max-line-size") {
      rc = size(&r.max_line_size);
    } else if (name == "max-retries") {
      int n;
      if (!need_value() || !absl::SimpleAtoi(value, &n) || n < 0) {
        return Usage("--max-retries needs a whole number >= 0");
      }
      t.max_retries = n;
    } else if (name == "min-backoff") {
      rc = duration(&t.min_backoff);
    } else if (name == "max-backoff") {
      rc = duration(&t.max_backoff);
    } else if (name == "remote-timeout") {
      rc = duration(&t.remote_timeout);
    } else if (name == "shutdown-timeout") {
      rc = duration(&r.shutdown_timeout);
    } else if (name == "format") {
      if (!need_value() || !ParseLogFormat(value, &format)) {
        return Usage("--format must be auto, cri, docker or plain");
      }
    } else if (name == "max-open-files") {
      int n;
      if (!need_value() || !absl::SimpleAtoi(value, &n) || n < 1) {
        return Usage("--max-open-files needs a whole number >= 1");
      }
      r.max_open_files = static_cast<size_t>(n);
    } else if (name == "positions.on-error") {
      PositionsErrorPolicy policy;
      if (!need_value() || !ParsePositionsErrorPolicy(value, &policy)) {
        return Usage(
            "--positions.on-error must be restart_from_beginning, restart_from_end or skip");
      }
      t.on_positions_error = value;
    } else if (name == "tail-from-end") {
      t.tail_from_end = true;
    } else if (name == "log.level") {
      LogLevel level;
      if (!need_value() || !ParseLogLevel(value, &level)) {
        return Usage("--log.level must be debug, info, warn or error");
      }
      SetLogLevel(level);
    } else if (name == "rescan-interval") {
      rc = duration(&r.rescan_interval);
      t.sync_period = r.rescan_interval;
    } else if (name == "read-interval") {
      rc = duration(&r.read_interval);
    } else if (name == "positions-interval") {
      rc = duration(&r.positions_interval);
    } else {
      return Usage(absl::StrCat("unknown option --", name));
    }
    if (rc != -1) return rc;
  }
  if (t.roots.empty()) t.roots.push_back("/var/log/pods");  // kubelet's pod log directory
  if (t.min_backoff > t.max_backoff) {
    return Usage("--min-backoff must not exceed --max-backoff");
  }
  if (t.remote_timeout <= absl::ZeroDuration()) {
    return Usage("--remote-timeout must be greater than 0");
  }
  if (t.sync_period <= absl::ZeroDuration()) {
    return Usage("--rescan-interval must be greater than 0");
  }
  r.config_path = "<sluice tail>";
  r.config_text = TailPresetConfig(t, &IsRegularFile);
  r.source_format = format;
  r.storage_path = storage_path;
  r.positions_paths[kTailSourceId] = storage_path + "/tail/positions.yml";
  r.pods_dir = "";  // no Kubernetes discovery in the preset
  return -1;
}

// Signals are taken by the main thread alone with sigwait: they are blocked before any thread
// starts so that every thread inherits the mask.
sigset_t BlockSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return set;
}

// Waits for SIGTERM/SIGINT, then runs `shutdown` on another thread; a second signal exits at
// once. SIGHUP runs `reload` (when given) and goes on waiting. Returns when `shutdown` is done.
template <typename Fn>
void WaitAndShutdown(sigset_t set, Fn shutdown, std::function<void()> reload = nullptr) {
  int sig = 0;
  for (;;) {
    sigwait(&set, &sig);
    if (sig != SIGHUP) break;
    if (reload) {
      LogInfo("agent", "reloading the configuration", {{"signal", strsignal(sig)}});
      reload();
    }
  }
  LogInfo("agent", "shutting down", {{"signal", strsignal(sig)}});
  pthread_t main_thread = pthread_self();
  std::thread stopper = StartThread("sluice-stop", [&] {
    shutdown();
    pthread_kill(main_thread, SIGUSR1);
  });
  for (;;) {
    sigwait(&set, &sig);
    if (sig == SIGUSR1) break;
    if (sig == SIGHUP) continue;  // too late to reload
    // A second SIGTERM/SIGINT: leave now. The positions file on disk only ever holds
    // acknowledged offsets and is replaced atomically, so it is consistent; what was sent but
    // not acknowledged since its last write is read again next time.
    LogWarn("agent", "second signal, exiting at once", {{"signal", strsignal(sig)}});
    fflush(stdout);
    _exit(kExitFailure);
  }
  stopper.join();
}

// Parses `sluice run|validate` arguments. Returns -1 to go on, or an exit code.
int ParseRun(int argc, char** argv, RuntimeOptions* o) {
  for (int i = 0; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kRunUsage, stdout);
      return kExitOk;
    }
    if (arg.substr(0, 2) != "--") {
      if (!o->config_path.empty()) return Usage("run takes one PATH");
      o->config_path = std::string(arg);
      continue;
    }
    std::string name(arg.substr(2));
    std::string value;
    bool has_value = false;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto need_value = [&]() -> bool {
      if (has_value) return true;
      if (i + 1 >= argc) return false;
      value = argv[++i];
      return true;
    };
    if (name == "disable-reporting") continue;
    if (!need_value()) return Usage(absl::StrCat("--", name, " needs a value"));
    if (name == "server.http.listen-addr") {
      if (value.find(':') == std::string::npos) {
        return Usage(
            absl::StrCat("--server.http.listen-addr wants host:port, got \"", value, "\""));
      }
      o->http_listen_addr = value;
    } else if (name == "storage.path") {
      if (value.empty()) return Usage("--storage.path needs a value");
      o->storage_path = value;
    } else if (name == "stability.level") {
      if (value != "generally-available" && value != "public-preview" && value != "experimental") {
        return Usage(
            "--stability.level must be generally-available, public-preview or experimental");
      }
    } else if (name == "memory-budget" || name == "max-line-size") {
      absl::StatusOr<uint64_t> v = ParseByteSize(value);
      if (!v.ok() || *v == 0) return Usage(absl::StrCat("--", name, ": invalid size"));
      (name == "memory-budget" ? o->memory_budget : o->max_line_size) = static_cast<size_t>(*v);
    } else if (name == "read-interval" || name == "shutdown-timeout" ||
               name == "kubernetes.unknown-pod-wait" || name == "kubernetes.grace-period") {
      absl::StatusOr<absl::Duration> v = ParseDurationArg(value);
      if (!v.ok()) return Usage(absl::StrCat("--", name, ": ", v.status().message()));
      if (name == "read-interval") o->read_interval = *v;
      if (name == "shutdown-timeout") o->shutdown_timeout = *v;
      if (name == "kubernetes.unknown-pod-wait") o->unknown_pod_wait = *v;
      if (name == "kubernetes.grace-period") o->pod_grace_period = *v;
    } else if (name == "kubernetes.pods-dir") {
      o->pods_dir = value;
    } else if (name == "max-open-files") {
      int n;
      if (!absl::SimpleAtoi(value, &n) || n < 1) {
        return Usage("--max-open-files needs a whole number >= 1");
      }
      o->max_open_files = static_cast<size_t>(n);
    } else if (name == "log.level") {
      LogLevel level;
      if (!ParseLogLevel(value, &level))
        return Usage("--log.level must be debug, info, warn or error");
      SetLogLevel(level);
    } else {
      return Usage(absl::StrCat("unknown option --", name));
    }
  }
  if (o->config_path.empty()) return Usage("missing PATH (a config.alloy file or a directory)");
  return -1;
}

int RunConfig(int argc, char** argv, bool validate_only) {
  RuntimeOptions options;
  int rc = ParseRun(argc, argv, &options);
  if (rc != -1) return rc;
  if (validate_only) {
    MetricsRegistry metrics;
    std::string error;
    if (Runtime::Load(options, &metrics, &error) == nullptr) {
      std::fputs(error.c_str(), stderr);
      return kExitFailure;
    }
    return kExitOk;
  }
  sigset_t set = BlockSignals();
  MetricsRegistry metrics;
  AgentService service(options, &metrics);
  absl::Status status = service.Start();
  if (absl::IsInvalidArgument(status)) {
    std::fputs(std::string(status.message()).c_str(), stderr);
    return kExitFailure;
  }
  if (!status.ok()) {
    LogError("agent", "cannot start", {{"error", std::string(status.message())}});
    return kExitFailure;
  }
  // A reload waits for the old graph to drain: it runs on the server's worker thread, so that
  // scrapes and health checks are answered meanwhile.
  HttpServer server(
      [&service](const std::string& method, const std::string& target) {
        return service.Handle(method, target);
      },
      {"/-/reload"});
  status = server.Start(options.http_listen_addr);
  if (!status.ok()) {
    LogError("agent", "cannot start the HTTP server", {{"error", std::string(status.message())}});
    service.Shutdown();
    return kExitFailure;
  }
  LogInfo("agent", "started",
          {{"version", SLUICE_VERSION},
           {"config", options.config_path},
           {"storage", options.storage_path},
           {"http", options.http_listen_addr},
           {"http_port", std::to_string(server.port())}});
  WaitAndShutdown(
      set, [&] { service.Shutdown(); }, [&] { (void)service.Reload(); });
  server.Stop();
  for (const std::string& line : metrics.NonZeroCounters()) {
    LogAlways(LogLevel::kInfo, "agent", "counter", {{"metric", line}});
  }
  LogInfo("agent", "stopped");
  return kExitOk;
}

int RunFmt(int argc, char** argv) {
  std::string path;
  bool write = false;
  for (int i = 0; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--write" || arg == "-w") {
      write = true;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs("Usage: sluice fmt PATH [--write]   (PATH - reads stdin)\n", stdout);
      return kExitOk;
    } else if (arg.substr(0, 1) == "-" && arg != "-") {
      return Usage(absl::StrCat("unknown option ", std::string(arg)));
    } else {
      path = std::string(arg);
    }
  }
  if (path.empty()) return Usage("fmt needs a file (or - for stdin)");
  std::string text;
  if (path == "-") {
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) text.append(buf, n);
  } else {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
      std::fprintf(stderr, "Error: %s: %s\n", path.c_str(), std::strerror(errno));
      return kExitFailure;
    }
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fclose(f);
  }
  config::Diags diags;
  std::string out;
  std::string name = path == "-" ? "<stdin>" : path;
  if (!config::FormatSource(name, text, &out, &diags)) {
    std::map<std::string, std::string> sources = {{name, text}};
    for (const config::Diagnostic& d : diags.list()) {
      std::fputs(config::Render(d, sources).c_str(), stderr);
    }
    return kExitFailure;
  }
  if (!write || path == "-") {
    std::fwrite(out.data(), 1, out.size(), stdout);
    return kExitOk;
  }
  if (out == text) return kExitOk;
  std::string tmp = path + ".sluice-fmt.tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr || std::fwrite(out.data(), 1, out.size(), f) != out.size() ||
      std::fclose(f) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::fprintf(stderr, "Error: cannot write %s: %s\n", path.c_str(), std::strerror(errno));
    std::remove(tmp.c_str());
    return kExitFailure;
  }
  return kExitOk;
}

// `sluice tail`: the preset's configuration run as `sluice run` runs one.
int RunTail(int argc, char** argv) {
  Parsed parsed;
  int rc = ParseTail(argc, argv, &parsed);
  if (rc != -1) return rc;
  if (parsed.print_config) {
    std::fputs(parsed.runtime.config_text.c_str(), stdout);
    return kExitOk;
  }
  sigset_t set = BlockSignals();
  MetricsRegistry metrics;
  AgentService service(parsed.runtime, &metrics);
  absl::Status status = service.Start();
  if (!status.ok()) {
    LogError("agent", "cannot start", {{"error", std::string(status.message())}});
    return kExitFailure;
  }
  std::unique_ptr<HttpServer> server;
  if (!parsed.listen_addr.empty()) {
    server = std::make_unique<HttpServer>(
        [&service](const std::string& method, const std::string& target) {
          return service.Handle(method, target);
        },
        std::vector<std::string>{"/-/reload"});
    status = server->Start(parsed.listen_addr);
    if (!status.ok()) {
      LogError("agent", "cannot start the HTTP server", {{"error", std::string(status.message())}});
      service.Shutdown();
      return kExitFailure;
    }
  }
  LogInfo("agent", "started",
          {{"version", SLUICE_VERSION},
           {"url", parsed.preset.url.empty() ? "stdout" : parsed.preset.url},
           {"positions", parsed.runtime.positions_paths[kTailSourceId]}});
  WaitAndShutdown(set, [&] { service.Shutdown(); });
  if (server) server->Stop();
  for (const std::string& line : metrics.NonZeroCounters()) {
    LogAlways(LogLevel::kInfo, "agent", "counter", {{"metric", line}});
  }
  LogInfo("agent", "stopped");
  return kExitOk;
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(sluice::kUsage, stderr);
    return sluice::kExitUsage;
  }
  std::string_view cmd = argv[1];
  if (cmd == "--version" || cmd == "version") {
    std::printf("sluice %s\n", SLUICE_VERSION);
    return sluice::kExitOk;
  }
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::fputs(sluice::kUsage, stdout);
    return sluice::kExitOk;
  }
  if (cmd == "tail") return sluice::RunTail(argc - 2, argv + 2);
  if (cmd == "run") return sluice::RunConfig(argc - 2, argv + 2, false);
  if (cmd == "validate") return sluice::RunConfig(argc - 2, argv + 2, true);
  if (cmd == "fmt") return sluice::RunFmt(argc - 2, argv + 2);
  std::fprintf(stderr, "sluice: unknown command \"%s\"\n\n%s", argv[1], sluice::kUsage);
  return sluice::kExitUsage;
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) {
  // The main thread too: an exception that escapes is logged, and the exit code says so.
  int rc = sluice::kThreadFailureExitCode;
  sluice::RunGuarded("main", [&] { rc = sluice::Main(argc, argv); });
  return rc;
}
