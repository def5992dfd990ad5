// Sender: an endpoint's two threads. The encoder thread takes sealed batches in order and has
// the Sink encode each (Sink::Encode: PushRequest + snappy, then the batch's arena is released);
// the send thread delivers them in the same order through the Sink (which retries as its policy
// says) and reports every outcome through `done`, in the order the batches were enqueued.
// Batches are delivered one at a time, so acknowledgements arrive in order and positions can be
// committed by a simple rule (see AckTracker). Encoding the next batches overlaps the HTTP round
// trip of the current one, and both overlap reading on the tail thread.
//
// The queues have no fixed capacity of their own: only the tail thread enqueues, and it stops
// reading once the bytes it has handed out and not had back reach the memory budget, so they
// never hold more than that budget (and encoded batches only their compressed bytes). Owned by
// a WriteNode endpoint; Enqueue/Drain from the tail or main thread, `done` is called on the send
// thread.
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
  // Batches queued and not encoded yet, at most; past it Enqueue encodes on the caller's thread.
  // One: with the batch being filled and the one being encoded, three batch arenas (1 MiB each
  // at Alloy's batch_size) are the most that hold line bytes; the encoder (snappy) is faster
  // than the tail thread that fills them, so a second queued batch bought no speed, only 1 MiB
  // of peak RSS.
  static constexpr size_t kMaxUnencoded = 1;
  void Encode(Batch* batch);
  void RunEncoder();
  void RunSender();

  std::unique_ptr<Sink> sink_;
  DoneFn done_;
  mutable std::mutex mu_;
  std::condition_variable cv_;        // queue_ has a batch, or stopping
  std::condition_variable ready_cv_;  // ready_ has a batch, or the encoder is done
  std::condition_variable idle_cv_;
  std::deque<std::unique_ptr<Batch>> queue_;  // sealed, not encoded yet
  std::deque<std::unique_ptr<Batch>> ready_;  // encoded (or cancelled), waiting to be sent
  bool encoding_ = false;
  bool busy_ = false;
  bool stopping_ = false;
  bool cancelled_ = false;
  bool encoder_done_ = false;
  std::thread encoder_;
  std::thread thread_;
};

}  // namespace sluice
