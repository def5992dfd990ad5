// Threads that never die silently: StartThread runs a body under a catch-all that logs what
// escaped, naming the thread, and ends the process with exit code 70 (EX_SOFTWARE). A thread that
// stopped on an exception would leave the agent half-working (no more sends, no more positions,
// no more reads) while its health endpoint still answered; a clean exit lets the orchestrator
// restart it from its positions. The name (at most 15 characters) also shows in `top -H` and in
// /proc/<pid>/task/*/comm.
//
// Any thread may call these; the returned std::thread is the caller's to join.
#pragma once

#include <pthread.h>

#include <cstdlib>
#include <exception>
#include <string>
#include <thread>
#include <utility>

#include "agent/common/log.h"

namespace sluice {

inline constexpr int kThreadFailureExitCode = 70;

// Runs `body` on the calling thread under the catch-all described above.
template <typename Body>
void RunGuarded(const std::string& name, Body&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    LogError("thread", "uncaught exception, exiting", {{"thread", name}, {"error", e.what()}});
    std::_Exit(kThreadFailureExitCode);
  } catch (...) {
    LogError("thread", "uncaught exception, exiting",
             {{"thread", name}, {"error", "not a std::exception"}});
    std::_Exit(kThreadFailureExitCode);
  }
}

// A new thread named `name` running `body` guarded.
template <typename Body>
std::thread StartThread(std::string name, Body body) {
  return std::thread([name = std::move(name), body = std::move(body)]() mutable {
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    RunGuarded(name, body);
  });
}

}  // namespace sluice
