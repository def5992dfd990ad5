// stage.pack: labels and extracted values packed with the line into a JSON object, as Alloy's
// pack stage.
//
// Owned by its pipeline (agent/process/pipeline.h: a loki.process component's, or the nested one
// of a stage.match) and run on that pipeline's thread, the tail thread (see stage.h).
#include "agent/process/stages/registry.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/go/json.h"
#include "agent/process/stage.h"
#include "agent/process/stages/stage_util.h"

namespace sluice {
namespace {

using stage_util::FindExtracted;
using stage_util::StageErrors;

class PackStage final : public Stage {
 public:
  PackStage(const StageContext& ctx, std::vector<std::string> labels, bool ingest_timestamp)
      : clock_(ctx.clock), ingest_timestamp_(ingest_timestamp) {
    // Packed keys are written sorted; duplicates in the list pack once.
    std::sort(labels.begin(), labels.end());
    labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
    labels_ = std::move(labels);
  }

  void Process(ProcessEntry&& e, EmitFn emit) override {
    out_.clear();
    out_.push_back('{');
    bool any = false;
    for (const std::string& name : labels_) {
      const ExtractedValue* v = FindExtracted(e, name);
      if (v == nullptr || !v->ToString(&value_)) continue;
      if (any) out_.push_back(',');
      any = true;
      AppendGoJsonString(name, &out_);
      out_.push_back(':');
      AppendGoJsonString(value_, &out_);
      e.labels.Remove(name);
    }
    if (any) out_.push_back(',');
    out_.append("\"_entry\":");
    AppendGoJsonString(e.line, &out_);
    out_.push_back('}');
    e.line.TakeFrom(&out_);
    if (ingest_timestamp_ && clock_ != nullptr) e.timestamp_ns = clock_->NowUnixNanos();
    emit(std::move(e));
  }

 private:
  const Clock* clock_;
  const bool ingest_timestamp_;
  std::vector<std::string> labels_;
  std::string out_;
  std::string value_;
};

}  // namespace

std::unique_ptr<Stage> NewPackStage(config::Decoder& d, const StageContext& ctx) {
  StageErrors errs(d);
  std::vector<std::string> labels;
  bool ingest_timestamp = true;
  d.StringList("labels", &labels, config::Required::kYes);
  d.Bool("ingest_timestamp", &ingest_timestamp);
  if (!errs.Finish()) return nullptr;
  return std::make_unique<PackStage>(ctx, std::move(labels), ingest_timestamp);
}

}  // namespace sluice
