// Sender: the send thread. Takes sealed batches in order, delivers each through its Sink (which
// retries as its policy says), and reports every outcome through `done`, in the order the
// batches were enqueued. Batches are delivered one at a time, so acknowledgements arrive in
// order and positions can be committed by a simple rule (see TailManager).
//
// The queue has no fixed capacity of its own: only the tail thread enqueues, and it stops
// reading once the bytes it has handed out and not had back reach the memory budget, so the
// queue never holds more than that budget. Owned by the Agent; Enqueue/Drain from the tail or
// main thread, `done` is called on the send thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/time/time.h"
#include "agent/pipeline/batch.h"
#include "agent/sink/sink.h"

namespace sluice {

class Sender {
 public:
  using DoneFn = std::function<void(std::unique_ptr<Batch>, BatchOutcome)>;

  Sender(std::unique_ptr<Sink> sink, DoneFn done);
  ~Sender();

  void Start();
  void Enqueue(std::unique_ptr<Batch> batch);
  // Delivers what is queued until `deadline`; then cancels the sink (in-flight waits end, the
  // rest is reported kAborted) and joins the thread. Idempotent.
  void Drain(absl::Time deadline);
  // Cancels at once and joins.
  void Stop();

  size_t queued() const;

 private:
  void Run();

  std::unique_ptr<Sink> sink_;
  DoneFn done_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<std::unique_ptr<Batch>> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  bool cancelled_ = false;
  std::thread thread_;
};

}  // namespace sluice
