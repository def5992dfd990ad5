// ListenerHandOff: how a source that receives on threads of its own (loki.source.api's HTTP
// server, loki.source.syslog's and loki.source.gelf's listeners) hands entries to the graph and
// sees the memory budget from those threads.
//
// Entries reach the forward_to receivers only on the tail thread (the graph's nodes are its
// own), so they are posted there; until they arrive their line bytes count as "on the way". The
// router's in-flight bytes can only be read on the tail thread: each hand-off leaves the value it
// saw, and Full() asks the tail thread to look again (one request at a time) when it answers
// true, since the pipeline may have drained since the last hand-off. A listener answers Full()
// its own way: 429 (api), stop reading the socket (TCP), drop and count (UDP).
//
// Full() and Post() from any thread; the posted jobs run on the tail thread. Owned by its
// component; the state it shares with posted jobs is reference-counted, so a job that runs after
// Stop() finds it and is told so. The component must outlive its jobs (the Runtime keeps the
// graph alive while the tail thread runs jobs of it).
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstddef>
#include <memory>

#include "agent/runtime/logs_router.h"

namespace sluice {

class ListenerHandOff {
 public:
  ListenerHandOff(boost::asio::io_context* io, LogsRouter* router, size_t budget)
      : io_(io), router_(router), budget_(budget) {}

  // True while something is held (on the way, or in the pipeline as last seen) and that plus
  // `more` reaches the budget.
  bool Full(size_t more = 0) const {
    const size_t held = state_->on_the_way.load() + state_->pipeline_bytes.load();
    if (held == 0 || held + more < budget_) return false;
    if (!state_->refresh_posted.exchange(true)) {
      boost::asio::post(*io_, [state = state_, router = router_] {
        state->refresh_posted = false;
        if (!state->stopped) state->pipeline_bytes = router->inflight_bytes();
      });
    }
    return true;
  }

  // Runs `job(stopped)` on the tail thread, `bytes` counted as on the way until then. `stopped`:
  // the component stopped in between, so the job must not touch the graph (it answers or
  // counts); otherwise it hands its entries to the receivers.
  template <typename Job>
  void Post(size_t bytes, Job job) {
    state_->on_the_way += bytes;
    boost::asio::post(*io_,
                      [state = state_, router = router_, bytes, job = std::move(job)]() mutable {
                        state->on_the_way -= bytes;
                        const bool stopped = state->stopped;
                        job(stopped);
                        if (!stopped) state->pipeline_bytes = router->inflight_bytes();
                      });
  }

  // Tail thread: reads the router's in-flight bytes now (Post does after each job; a job that
  // answers a client calls it before answering, so that the client's next request sees it).
  void NoteInflight() { state_->pipeline_bytes = router_->inflight_bytes(); }

  // Jobs that run from now on are told they stopped. Any thread.
  void Stop() { state_->stopped = true; }
  bool stopped() const { return state_->stopped.load(); }

 private:
  struct State {
    std::atomic<size_t> on_the_way{0};      // line bytes posted, not yet handed on
    std::atomic<size_t> pipeline_bytes{0};  // the router's in-flight bytes, as last seen
    std::atomic<bool> stopped{false};
    std::atomic<bool> refresh_posted{false};
  };
  boost::asio::io_context* io_;
  LogsRouter* router_;
  size_t budget_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace sluice
