#include "tests/support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/time/clock.h"

namespace sluice::testing {

Subprocess::~Subprocess() {
  if (pid_ > 0 && exit_code_ < 0) {
    kill(pid_, SIGKILL);
    Wait(absl::Seconds(10));
  }
}

bool Subprocess::Start(const std::vector<std::string>& argv, const std::string& stdout_path,
                       const std::string& stderr_path) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) return false;
  if (pid_ == 0) {
    int out = open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (out < 0 || err < 0) _exit(127);
    dup2(out, 1);
    dup2(err, 2);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    // A test binary may block signals; the agent must start with a clean mask.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], strerror(errno));
    _exit(127);
  }
  exit_code_ = -1;
  return true;
}

void Subprocess::Signal(int sig) {
  if (pid_ > 0 && exit_code_ < 0) kill(pid_, sig);
}

int Subprocess::Wait(absl::Duration timeout) {
  if (exit_code_ >= 0) return exit_code_;
  absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    if (absl::Now() > deadline) return -1;
    // Polling the child's state; this is a process wait with a deadline, not a test delay.
    usleep(5000);
  }
}

bool Subprocess::running() {
  if (exit_code_ >= 0) return false;
  return Wait(absl::ZeroDuration()) < 0;
}

size_t Subprocess::ReadStatusKb(const char* key) const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  size_t klen = strlen(key);
  while (std::getline(in, line)) {
    if (line.compare(0, klen, key) == 0) {
      return std::stoull(line.substr(klen + 1)) * 1024;
    }
  }
  return 0;
}

size_t Subprocess::RssBytes() const { return ReadStatusKb("VmRSS"); }
size_t Subprocess::PeakRssBytes() const { return ReadStatusKb("VmHWM"); }

}  // namespace sluice::testing
