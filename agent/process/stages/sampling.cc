// stage.sampling: keeps each entry with probability `rate` (0 to 1), as Alloy's sampling stage;
// the others are dropped and counted in loki_process_dropped_lines_total with
// `drop_counter_reason` (default "sampling_stage"). The random source is seeded from the clock
// at construction (a fake clock makes it reproducible in tests).
//
// Owned by its pipeline and run on that pipeline's thread, the tail thread (see stage.h).
#include <cstdio>
#include <memory>
#include <random>
#include <string>

#include "absl/strings/str_format.h"
#include "agent/process/pipeline.h"
#include "agent/process/stage.h"
#include "agent/process/stages/registry.h"
#include "agent/process/stages/stage_util.h"

namespace sluice {
namespace {

using stage_util::StageErrors;

// Alloy's boundary arithmetic: a 63-bit random number below rate * 2^63 keeps the entry.
constexpr uint64_t kMaxRandom = (uint64_t{1} << 63) - 1;

class SamplingStage final : public Stage {
 public:
  SamplingStage(double rate, Counter* dropped, uint64_t seed)
      : boundary_(static_cast<uint64_t>(rate * static_cast<double>(kMaxRandom))),
        keep_all_(rate >= 1.0),
        dropped_(dropped),
        rng_(seed) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    if (keep_all_ || (rng_() & kMaxRandom) < boundary_) {
      emit(std::move(e));
      return;
    }
    stage_util::Inc(dropped_);
  }

 private:
  const uint64_t boundary_;
  const bool keep_all_;
  Counter* dropped_;
  std::mt19937_64 rng_;
};

}  // namespace

std::unique_ptr<Stage> NewSamplingStage(config::Decoder& d, const StageContext& ctx) {
  StageErrors errs(d);
  double rate = 0;
  std::string reason = "sampling_stage";
  d.Float("rate", &rate, config::Required::kYes);
  d.String("drop_counter_reason", &reason);
  if (rate < 0.0 || rate > 1.0) {
    errs.At("rate", absl::StrFormat("sampling stage failed to parse rate,Sampling Rate must be "
                                    "between 0.0 and 1.0, received %f",
                                    rate));
  }
  if (!errs.Finish()) return nullptr;
  uint64_t seed = ctx.clock != nullptr ? static_cast<uint64_t>(ctx.clock->NowUnixNanos()) : 1;
  return std::make_unique<SamplingStage>(rate, DroppedLinesCounter(ctx, reason), seed);
}

}  // namespace sluice
