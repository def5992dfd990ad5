#include "agent/runtime/import_fetch.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/common/log.h"
#include "agent/components/builders.h"
#include "agent/config/module_internal.h"
#include "agent/sink/asio_http_client.h"
#include "agent/sink/http_client.h"

namespace sluice {
namespace {

constexpr size_t kMaxModuleBytes = 16 << 20;
constexpr size_t kMaxCommandOutput = 64 << 10;

// A git command that hangs (a server that accepts and never answers) must not hold the load or
// the poller forever: it is killed past this.
constexpr absl::Duration kCommandTimeout = absl::Minutes(2);

// Runs argv (no shell); its stderr and stdout (the first kMaxCommandOutput bytes) in `output`.
// The exit status, -1 when it could not run, -2 when it was killed after `timeout`.
int RunCommand(const std::vector<std::string>& argv, std::string* output,
               absl::Duration timeout = kCommandTimeout) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    close(pipefd[0]);
    close(pipefd[1]);
    return -1;
  }
  if (pid == 0) {
    setpgid(0, 0);  // its own group: a timeout kills git's helpers (git-remote-https) too
    dup2(pipefd[1], STDOUT_FILENO);
    dup2(pipefd[1], STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    // git must never prompt: no terminal, no askpass.
    setenv("GIT_TERMINAL_PROMPT", "0", 1);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(pipefd[1]);
  const absl::Time deadline = absl::Now() + timeout;
  bool timed_out = false;
  char buf[4096];
  for (;;) {
    int wait_ms =
        static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
    pollfd pfd{pipefd[0], POLLIN, 0};
    int ready = poll(&pfd, 1, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      timed_out = true;
      kill(-pid, SIGKILL);
      break;
    }
    ssize_t n = read(pipefd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (output->size() < kMaxCommandOutput) output->append(buf, static_cast<size_t>(n));
  }
  close(pipefd[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) return -2;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

absl::Status Git(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"git"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string out;
  int rc = RunCommand(argv, &out);
  if (rc == 0) return absl::OkStatus();
  if (rc == 127) return absl::FailedPreconditionError("import.git needs the git program");
  if (rc == -2) {
    return absl::DeadlineExceededError(absl::StrCat(absl::StrJoin(argv, " "), ": killed after ",
                                                    absl::FormatDuration(kCommandTimeout)));
  }
  return absl::UnavailableError(
      absl::StrCat(absl::StrJoin(argv, " "), ": ", absl::StripAsciiWhitespace(out)));
}

absl::StatusOr<config::ImportResult> FetchHttp(const config::ImportRequest& r) {
  std::unique_ptr<HttpClient> client = NewHttpClient();
  HttpRequest req;
  req.url = r.url;
  req.timeout = r.timeout;
  for (const auto& [k, v] : r.headers) req.headers.emplace_back(k, v);
  req.body = r.body;
  absl::StatusOr<HttpResponse> resp =
      r.method == "POST" ? client->Post(req) : client->Get(req, kMaxModuleBytes);
  if (!resp.ok()) {
    return absl::UnavailableError(
        absl::StrCat("creating http component: performing request: ", resp.status().message()));
  }
  if (resp->status != 200) {
    return absl::UnavailableError(
        absl::StrCat("creating http component: unexpected status code ", resp->status));
  }
  config::ImportResult out;
  out.sources[r.url] = std::string(absl::StripAsciiWhitespace(resp->body));
  out.module_path = r.url.substr(0, r.url.rfind('/'));
  return out;
}

absl::StatusOr<config::ImportResult> FetchGit(const config::ImportRequest& r,
                                              const std::string& storage_path) {
  std::string repo = absl::StrCat(storage_path, "/", r.id, "/repo");
  std::error_code ec;
  if (!std::filesystem::exists(repo + "/.git", ec)) {
    std::filesystem::remove_all(repo, ec);
    std::filesystem::create_directories(std::filesystem::path(repo).parent_path(), ec);
    absl::Status st = Git({"clone", "--quiet", "--no-checkout", r.url, repo});
    if (!st.ok()) return st;
  } else {
    absl::Status st = Git({"-C", repo, "fetch", "--quiet", "--tags", "--force", "origin"});
    if (!st.ok()) return st;
  }
  // A branch is taken from the remote (what was pushed since), else a tag or a commit.
  absl::Status st =
      Git({"-C", repo, "checkout", "--quiet", "--force", "--detach", "origin/" + r.revision});
  if (!st.ok()) st = Git({"-C", repo, "checkout", "--quiet", "--force", "--detach", r.revision});
  if (!st.ok()) return st;
  config::ImportResult out;
  std::string error;
  if (!config::ReadModuleFiles(repo + "/" + r.path, &out.sources, &error)) {
    return absl::NotFoundError(error);
  }
  out.module_path = repo;
  return out;
}

}  // namespace

absl::StatusOr<config::ImportResult> FetchImport(const config::ImportRequest& request,
                                                 const std::string& storage_path) {
  if (request.kind == "http") return FetchHttp(request);
  if (request.kind == "git") return FetchGit(request, storage_path);
  return absl::InvalidArgumentError(absl::StrCat("unknown import kind ", request.kind));
}

bool ImportChanged(const config::LoadedImport& li, const std::string& storage_path) {
  std::map<std::string, std::string> now;
  if (li.kind == "file") {
    std::string error;
    if (!config::ReadModuleFiles(li.filename, &now, &error)) {
      LogWarn("import", "cannot read an imported module; the last good one stays",
              {{"import", li.id}, {"error", error}});
      return false;
    }
  } else if (li.kind == "http" || li.kind == "git") {
    absl::StatusOr<config::ImportResult> got = FetchImport(li.request, storage_path);
    if (!got.ok()) {
      LogWarn("import", "cannot fetch an imported module; the last good one stays",
              {{"import", li.id}, {"error", std::string(got.status().message())}});
      return false;
    }
    now = std::move(got->sources);
  } else if (li.kind == "string" && !li.value_sources.empty()) {
    // Its content came from value components: read them again.
    for (const config::LoadedImport::ValueSource& v : li.value_sources) {
      absl::Duration poll;
      absl::StatusOr<config::Value> got =
          ReadValueComponent(v.name, v.args, /*validate_only=*/false, &poll);
      if (!got.ok()) {
        LogWarn("import",
                "cannot read what an import.string is made of; the last good module stays",
                {{"import", li.id}, {"error", std::string(got.status().message())}});
        return false;
      }
      if (!(*got == v.exports)) return true;
    }
    return false;
  } else {
    return false;
  }
  return now != li.sources;
}

}  // namespace sluice
