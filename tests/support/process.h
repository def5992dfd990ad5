// Subprocess: runs a program (the real sluice binary in end-to-end tests) with its stdout and
// stderr sent to files, and lets the test signal it, wait for it with a deadline, and read its
// memory use from /proc. Test-only; used from the test thread.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace sluice::testing {

class Subprocess {
 public:
  Subprocess() = default;
  ~Subprocess();  // kills the child if it still runs
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // Starts argv[0] with the given arguments; stdout/stderr go to the given files.
  bool Start(const std::vector<std::string>& argv, const std::string& stdout_path,
             const std::string& stderr_path);
  void Signal(int sig);
  // Waits for the child to exit; returns its exit code (128+signal when killed by one), or -1
  // when `timeout` passes first.
  int Wait(absl::Duration timeout);
  bool running();
  pid_t pid() const { return pid_; }
  // VmRSS and VmHWM (peak) in bytes, 0 when unknown.
  size_t RssBytes() const;
  size_t PeakRssBytes() const;

 private:
  size_t ReadStatusKb(const char* key) const;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

}  // namespace sluice::testing
