#include "agent/agent.h"

#include <cstdio>
#include <cstdlib>
#include <future>
#include <random>
#include <utility>

#include <boost/asio/post.hpp>

#include "agent/common/log.h"
#include "agent/common/thread.h"
#include "agent/sink/echo_sink.h"
#include "agent/sink/http_client.h"

namespace sluice {

Agent::Agent(AgentOptions options, MetricsRegistry* metrics)
    : options_(std::move(options)), metrics_(metrics), work_(io_.get_executor()) {}

Agent::~Agent() {
  if (started_) Shutdown();
}

template <typename Fn>
void Agent::RunOnTail(Fn fn) {
  std::promise<void> done;
  boost::asio::post(io_, [&] {
    fn();
    done.set_value();
  });
  done.get_future().wait();
}

absl::Status Agent::Start() {
  std::unique_ptr<Sink> sink;
  if (options_.loki.url.empty()) {
    sink = std::make_unique<EchoSink>(stdout, metrics_);
  } else {
    sink = std::make_unique<LokiSink>(options_.loki, std::make_unique<CurlHttpClient>(),
                                      std::make_unique<RealSleeper>(), metrics_,
                                      std::random_device{}());
  }
  Sink* sink_raw = sink.get();  // owned by the Sender, which outlives the tail thread
  sender_ = std::make_unique<Sender>(std::move(sink),
                                     [this](std::unique_ptr<Batch> batch, BatchOutcome outcome) {
                                       // Back to the tail thread, which alone owns positions and
                                       // the budget.
                                       Batch* raw = batch.release();
                                       boost::asio::post(io_, [this, raw, outcome] {
                                         tail_->OnBatchDone(std::unique_ptr<Batch>(raw), outcome);
                                       });
                                     });
  std::string tenant = options_.loki.tenant;
  tail_ = std::make_unique<TailManager>(&io_, options_.tail, RealClock::Get(), metrics_,
                                        [this, tenant](std::unique_ptr<Batch> batch) {
                                          batch->tenant = tenant;
                                          sender_->Enqueue(std::move(batch));
                                        });
  // Encoding happens as batches are sealed, on the tail thread: the send thread is left with
  // I/O, and queued batches are held compressed.
  tail_->SetPrepare([sink_raw](Batch* batch) { sink_raw->Prepare(batch); });
  sender_->Start();
  // A handler that throws is a bug: StartThread logs it and exits rather than run half-broken.
  tail_thread_ = StartThread("sluice-tail", [this] { io_.run(); });
  absl::Status status;
  RunOnTail([&] { status = tail_->Start(); });
  started_ = true;
  if (!status.ok()) {
    Shutdown();
    return status;
  }
  return absl::OkStatus();
}

void Agent::Shutdown() {
  if (!started_) return;
  started_ = false;
  RunOnTail([&] { tail_->StopReading(); });
  sender_->Drain(absl::Now() + options_.shutdown_timeout);
  // Outcomes posted by the sender are ahead of this in the queue, so the saved positions
  // include every acknowledgement.
  RunOnTail([&] { (void)tail_->SavePositions(); });
  work_.reset();
  io_.stop();
  if (tail_thread_.joinable()) tail_thread_.join();
  size_t left = tail_->aborted_bytes();
  if (left > 0) {
    LogWarn("agent", "stopped with entries not acknowledged; they are read again at the next start",
            {{"bytes", std::to_string(left)}});
  }
}

}  // namespace sluice
