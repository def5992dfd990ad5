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

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/common/flags.h"
#include "agent/common/log.h"
#include "agent/common/memory.h"
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
    "  sluice --help                  this text; 'sluice run --help' and 'sluice tail --help'\n"
    "                                 for the options\n";

constexpr char kTailIntro[] =
    "Usage: sluice tail [DIR...] [options]      (DIR defaults to /var/log/pods)\n"
    "\n"
    "Tails every *.log file under each DIR (new files and directories are picked up as they\n"
    "appear), parses CRI, docker json-file or plain lines, labels entries with namespace, pod,\n"
    "container, stream and filename, and pushes them to Loki. Without --url, entries are\n"
    "printed to stdout as JSON lines. It runs the Alloy configuration --print-config shows,\n"
    "as `sluice run` would.\n"
    "\n"
    "Options:\n";

constexpr char kRunIntro[] =
    "Usage: sluice run PATH [options]\n"
    "\n"
    "Runs the log-shipping components of an Alloy configuration: PATH is a file, or a directory\n"
    "whose *.alloy files are read together. Components: local.file_match, discovery.relabel,\n"
    "loki.source.file, loki.process, loki.relabel, loki.write, loki.echo, discovery.kubelet,\n"
    "discovery.kubernetes (role pod) and a logging block.\n"
    "Anything else is an error naming it.\n"
    "\n"
    "Options (the first ones as alloy run; byte sizes as in a config: 1MB = 1MiB):\n";

int Usage(std::string_view message, std::string_view command) {
  std::fprintf(stderr, "sluice: %.*s\nRun 'sluice %.*s --help' for usage.\n",
               static_cast<int>(message.size()), message.data(), static_cast<int>(command.size()),
               command.data());
  return kExitUsage;
}

bool IsRegularFile(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

absl::Status SetLogLevelFlag(std::string_view v) {
  LogLevel level;
  if (!ParseLogLevel(v, &level)) {
    return absl::InvalidArgumentError("must be debug, info, warn or error");
  }
  SetLogLevel(level);
  return absl::OkStatus();
}

// The flags `sluice run` and `sluice tail` share: how the runtime reads, bounds and stops.
void AddRuntimeFlags(FlagSet& f, RuntimeOptions* r, int* max_open_files) {
  f.Bytes("memory-budget", &r->memory_budget,
          "line bytes read but not yet acknowledged by Loki; reading pauses at this mark "
          "(default 4MiB, or three batches of the largest loki.write batch_size)");
  f.Bytes("max-line-size", &r->max_line_size,
          "longer lines are truncated and counted (default 256KiB)");
  f.Duration("read-interval", &r->read_interval,
             "a written file is read this long after its first write, with the writes that "
             "follow (default 250ms, Alloy's file_watch poll frequency; a loki.source.file's "
             "file_watch min_poll_frequency wins; 0: at each write)");
  f.Duration("rescan-interval", &r->rescan_interval,
             "how often files are checked without an event, the safety net for missed events "
             "(default 10s)");
  f.Duration("positions-interval", &r->positions_interval,
             "fsync period of the positions files (default 5s; they are written within "
             "milliseconds of each acknowledgement)");
  f.Int("max-open-files", max_open_files, 1,
        "files held open at once (default: the fd limit less 128); idle files past it are "
        "closed and reopened for their turn");
  f.Duration("shutdown-timeout", &r->shutdown_timeout,
             "how long SIGTERM waits for in-flight batches (default 15s)");
  f.Custom("log.level", "LEVEL", &SetLogLevelFlag,
           "debug, info, warn or error (default info; a logging block in the configuration "
           "overrides it)");
}

// `sluice tail` arguments into the preset and the runtime's options.
struct Parsed {
  TailPreset preset;
  RuntimeOptions runtime;
  std::string listen_addr;  // empty: no HTTP server
  bool print_config = false;
};

void AddTailFlags(FlagSet& f, Parsed* p, std::string* storage_path, LogFormat* format,
                  int* max_open_files) {
  TailPreset& t = p->preset;
  f.Custom(
      "url", "URL",
      [&t](std::string_view v) {
        if (!absl::StartsWith(Av(v), "http://") && !absl::StartsWith(Av(v), "https://")) {
          return absl::InvalidArgumentError(
              absl::StrCat("must start with http:// or https://, got \"", Av(v), "\""));
        }
        t.url = std::string(v);
        return absl::OkStatus();
      },
      "Loki push URL, e.g. http://loki:3100/loki/api/v1/push");
  f.String("tenant", &t.tenant, "X-Scope-OrgID sent with every push", /*allow_empty=*/true, "ID");
  f.Custom(
      "label", "k=v",
      [&t](std::string_view v) {
        size_t e = v.find('=');
        if (e == std::string_view::npos) {
          return absl::InvalidArgumentError(absl::StrCat("wants k=v, got \"", Av(v), "\""));
        }
        std::string k(v.substr(0, e));
        if (!IsValidLabelName(k)) {
          return absl::InvalidArgumentError(
              absl::StrCat("invalid label name \"", k, "\" (must match [a-zA-Z_][a-zA-Z0-9_]*)"));
        }
        t.labels.emplace_back(k, std::string(v.substr(e + 1)));
        return absl::OkStatus();
      },
      "static label added to every entry (repeatable)");
  f.String("storage.path", storage_path,
           "where positions are kept: DIR/tail/positions.yml (default data-sluice)", false, "DIR");
  f.Bytes("batch-size", &t.batch_size, "flush a batch at this many line bytes (default 1MiB)");
  f.Duration("batch-wait", &t.batch_wait,
             "flush a batch this long after its first entry "
             "(default 1s)");
  AddRuntimeFlags(f, &p->runtime, max_open_files);
  f.Int("max-retries", &t.max_retries, 0,
        "drop a batch after N failed tries (default 0: retry until Loki takes it; reading "
        "pauses meanwhile)");
  f.Duration("min-backoff", &t.min_backoff, "first retry delay (default 500ms)");
  f.Duration("max-backoff", &t.max_backoff, "longest retry delay (default 5m)");
  f.Duration("remote-timeout", &t.remote_timeout, "timeout of one push request (default 10s)");
  f.Custom(
      "format", "auto|cri|docker|plain",
      [format](std::string_view v) {
        if (!ParseLogFormat(v, format)) {
          return absl::InvalidArgumentError("must be auto, cri, docker or plain");
        }
        return absl::OkStatus();
      },
      "line format (default auto: decided per file)");
  f.Bool("tail-from-end", &t.tail_from_end, "start files with no stored position at their end");
  f.Custom(
      "positions.on-error", "POLICY",
      [&t](std::string_view v) {
        PositionsErrorPolicy policy;
        if (!ParsePositionsErrorPolicy(v, &policy)) {
          return absl::InvalidArgumentError(
              "must be restart_from_beginning, restart_from_end or skip");
        }
        t.on_positions_error = std::string(v);
        return absl::OkStatus();
      },
      "unreadable positions file: restart_from_beginning (default), restart_from_end or skip "
      "(as Alloy)");
  f.String("server.http.listen-addr", &p->listen_addr,
           "serve /metrics, /-/ready and /-/healthy there (default: no HTTP server)", false,
           "ADDR");
  f.Bool("print-config", &p->print_config,
         "print the Alloy configuration this command runs, and exit");
}

std::string TailUsage() {
  Parsed p;
  std::string storage;
  LogFormat format;
  int max_open_files;
  FlagSet f;
  AddTailFlags(f, &p, &storage, &format, &max_open_files);
  return absl::StrCat(kTailIntro, f.Help());
}

// Parses `sluice tail` arguments. Returns -1 to go on, or an exit code.
int ParseTail(int argc, char** argv, Parsed* p) {
  TailPreset& t = p->preset;
  RuntimeOptions& r = p->runtime;
  std::string storage_path = "data-sluice";
  LogFormat format = LogFormat::kAuto;
  int max_open_files = 0;
  FlagSet flags;
  AddTailFlags(flags, p, &storage_path, &format, &max_open_files);
  std::vector<std::string> args;
  bool help = false;
  absl::Status st = flags.Parse(argc, argv, &args, &help);
  if (help) {
    std::fputs(TailUsage().c_str(), stdout);
    return kExitOk;
  }
  if (!st.ok()) return Usage(std::string(st.message()), "tail");
  for (const std::string& arg : args) {
    // Absolute, so that `filename` labels and positions do not depend on the working
    // directory (symlinks are kept as given).
    std::error_code ec;
    std::filesystem::path abs = std::filesystem::absolute(std::filesystem::path(arg), ec);
    std::string root = ec ? arg : abs.lexically_normal().string();
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    t.roots.push_back(std::move(root));
  }
  if (t.roots.empty()) t.roots.push_back("/var/log/pods");  // kubelet's pod log directory
  if (t.min_backoff > t.max_backoff) {
    return Usage("--min-backoff must not exceed --max-backoff", "tail");
  }
  if (t.remote_timeout <= absl::ZeroDuration()) {
    return Usage("--remote-timeout must be greater than 0", "tail");
  }
  if (r.rescan_interval <= absl::ZeroDuration()) {
    return Usage("--rescan-interval must be greater than 0", "tail");
  }
  r.max_open_files = static_cast<size_t>(max_open_files);
  t.sync_period = r.rescan_interval;
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

// `alloy run` flags sluice accepts without doing what they ask: the chart renders them. Each
// given with a value that asks for something is logged once at start, with why (`notes`).
struct AlloyFlag {
  const char* name;
  bool boolean;
  const char* inert;  // the value that asks for nothing (the default); nullptr: any value
  const char* why;
};
constexpr AlloyFlag kAlloyRunFlags[] = {
    {"server.http.ui-path-prefix", false, "/", "sluice serves no UI"},
    {"server.http.enable-pprof", true, nullptr, "sluice serves no pprof endpoints"},
    {"server.http.memory-addr", false, nullptr,
     "sluice has no in-memory HTTP listener (no remotecfg or import.http to itself)"},
    {"cluster.enabled", true, "false",
     "clustering is not supported: each DaemonSet agent reads its own node's files, so there "
     "is no work to distribute"},
    {"cluster.node-name", false, nullptr, nullptr},
    {"cluster.advertise-address", false, nullptr, nullptr},
    {"cluster.advertise-interfaces", false, nullptr, nullptr},
    {"cluster.join-addresses", false, nullptr, nullptr},
    {"cluster.discover-peers", false, nullptr, nullptr},
    {"cluster.rejoin-interval", false, nullptr, nullptr},
    {"cluster.max-join-peers", false, nullptr, nullptr},
    {"cluster.name", false, nullptr, nullptr},
    {"cluster.enable-tls", true, nullptr, nullptr},
    {"cluster.tls-ca-path", false, nullptr, nullptr},
    {"cluster.tls-cert-path", false, nullptr, nullptr},
    {"cluster.tls-key-path", false, nullptr, nullptr},
    {"cluster.tls-server-name", false, nullptr, nullptr},
    {"cluster.wait-for-size", false, nullptr, nullptr},
    {"cluster.wait-timeout", false, nullptr, nullptr},
    {"config.bypass-conversion-errors", true, nullptr, nullptr},
    {"config.extra-args", false, nullptr, nullptr},
    {"feature.community-components.enabled", true, nullptr,
     "sluice has no community components; a config naming one is refused with its name"},
    {"windows.priority", false, nullptr, nullptr},
};

void AddRunFlags(FlagSet& f, RuntimeOptions* o, int* max_open_files,
                 std::vector<std::string>* notes) {
  f.Custom(
      "server.http.listen-addr", "ADDR",
      [o](std::string_view v) {
        if (v.find(':') == std::string_view::npos) {
          return absl::InvalidArgumentError(absl::StrCat("wants host:port, got \"", Av(v), "\""));
        }
        o->http_listen_addr = std::string(v);
        return absl::OkStatus();
      },
      "address of the HTTP server (default 127.0.0.1:12345)");
  f.String("storage.path", &o->storage_path,
           "where positions are kept: DIR/<component id>/positions.yml (default data-alloy)", false,
           "DIR");
  f.Custom(
      "stability.level", "LEVEL",
      [](std::string_view v) {
        if (v != "generally-available" && v != "public-preview" && v != "experimental") {
          return absl::InvalidArgumentError(
              "must be generally-available, public-preview or experimental");
        }
        return absl::OkStatus();
      },
      "accepted (generally-available, public-preview, experimental); sluice runs what it "
      "implements at any level");
  f.Custom(
      "config.format", "FORMAT",
      [](std::string_view v) {
        if (v == "alloy") return absl::OkStatus();
        if (v == "otelcol" || v == "prometheus" || v == "promtail" || v == "static") {
          return absl::InvalidArgumentError(absl::StrCat(
              "sluice reads Alloy syntax only; convert the file first with `alloy convert "
              "--source-format=",
              Av(v), "`"));
        }
        return absl::InvalidArgumentError(
            absl::StrCat("unknown config format \"", Av(v),
                         "\" (alloy, otelcol, prometheus, promtail or static)"));
      },
      "alloy (the default; the other formats of alloy run are refused: convert first)");
  // They ask sluice not to do what it never does.
  f.Ignored("disable-reporting", false, "accepted (sluice reports no usage)");
  f.Ignored("disable-support-bundle", false, "accepted (sluice serves no support bundle)");
  for (const AlloyFlag& a : kAlloyRunFlags) {
    std::string name = a.name;
    auto set = [name, a, notes](std::string_view v) {
      bool asks = a.inert == nullptr ? (!a.boolean || v == "true") : v != a.inert;
      if (asks && a.why != nullptr) {
        notes->push_back(absl::StrCat("--", name, ": ", a.why));
      } else if (asks && absl::StartsWith(name, "cluster.")) {
        notes->push_back(absl::StrCat("--", name, ": ignored, clustering is not supported"));
      } else if (asks && absl::StartsWith(name, "config.")) {
        notes->push_back(absl::StrCat("--", name,
                                      ": ignored, it has no effect without a "
                                      "conversion (--config.format other than alloy)"));
      }
      return absl::OkStatus();
    };
    std::string help = absl::StrCat("accepted as alloy run takes it; ",
                                    a.why != nullptr                     ? a.why
                                    : absl::StartsWith(name, "cluster.") ? "no clustering"
                                    : absl::StartsWith(name, "windows.") ? "not on Linux"
                                                                         : "no conversion");
    if (a.boolean) {
      f.BoolFunc(
          name, [set](bool v) { return set(v ? "true" : "false"); }, std::move(help));
    } else {
      f.Custom(name, "VALUE", set, std::move(help));
    }
  }
  AddRuntimeFlags(f, o, max_open_files);
  f.String("kubernetes.pods-dir", &o->pods_dir,
           "pod log directory watched for new pods by discovery.kubelet and "
           "discovery.kubernetes (default /var/log/pods; \"\" to watch none)",
           /*allow_empty=*/true, "DIR");
  f.Duration("kubernetes.unknown-pod-wait", &o->unknown_pod_wait,
             "how long the files of a pod the discovery does not know wait for its metadata "
             "before they are read with labels from their path alone (default 10s)");
  f.Duration("kubernetes.grace-period", &o->pod_grace_period,
             "how long a pod that left the list keeps its targets (default 1m)");
}

// Parses `sluice run|validate` arguments. Returns -1 to go on, or an exit code.
int ParseRun(int argc, char** argv, RuntimeOptions* o, std::vector<std::string>* notes) {
  int max_open_files = 0;
  FlagSet flags;
  AddRunFlags(flags, o, &max_open_files, notes);
  std::vector<std::string> args;
  bool help = false;
  absl::Status st = flags.Parse(argc, argv, &args, &help);
  if (help) {
    std::fputs(absl::StrCat(kRunIntro, flags.Help()).c_str(), stdout);
    return kExitOk;
  }
  if (!st.ok()) return Usage(std::string(st.message()), "run");
  if (args.size() > 1) return Usage("run takes one PATH", "run");
  if (args.empty()) return Usage("missing PATH (a config.alloy file or a directory)", "run");
  o->config_path = args[0];
  o->max_open_files = static_cast<size_t>(max_open_files);
  return -1;
}

int RunConfig(int argc, char** argv, bool validate_only) {
  RuntimeOptions options;
  std::vector<std::string> notes;
  int rc = ParseRun(argc, argv, &options, &notes);
  if (rc != -1) return rc;
  if (validate_only) {
    options.validate_only = true;
    MetricsRegistry metrics;
    std::string error;
    if (Runtime::Load(options, &metrics, &error) == nullptr) {
      std::fputs(error.c_str(), stderr);
      return kExitFailure;
    }
    return kExitOk;
  }
  for (const std::string& note : notes) {
    LogWarn("agent", "a flag of alloy run that sluice accepts but does not act on",
            {{"flag", note}});
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
      return Usage(absl::StrCat("unknown option ", std::string(arg)), "fmt");
    } else {
      path = std::string(arg);
    }
  }
  if (path.empty()) return Usage("fmt needs a file (or - for stdin)", "fmt");
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
  sluice::LimitMallocArenas();
  // The main thread too: an exception that escapes is logged, and the exit code says so.
  int rc = sluice::kThreadFailureExitCode;
  sluice::RunGuarded("main", [&] { rc = sluice::Main(argc, argv); });
  return rc;
}
