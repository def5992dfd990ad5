// stage.docker: docker's json-file lines (`{"log":...,"stream":...,"time":...}`), as Alloy's
// docker stage.
//
// Owned by its pipeline (agent/process/pipeline.h: a loki.process component's, or the nested one
// of a stage.match) and run on that pipeline's thread, the tail thread (see stage.h).
#include "agent/process/stages/registry.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "agent/common/timestamp.h"
#include "agent/process/stage.h"
#include "agent/process/stages/json_parser.h"
#include "agent/process/stages/stage_util.h"

namespace sluice {
namespace {

using stage_util::JsonParser;
using stage_util::SetExtractedString;
using stage_util::StageErrors;

// Case-insensitive ASCII comparison (encoding/json matches struct fields that way).
bool EqualFoldAscii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

// Decodes docker's json-file lines as Alloy's docker stage: the line becomes "log" (trailing
// newline kept), the `stream` label and timestamp are set; lines that are not JSON objects or
// whose "log" is empty pass unchanged.
class DockerStage final : public Stage {
 public:
  void Process(ProcessEntry&& e, EmitFn emit) override {
    std::string_view log, stream, time;
    if (Decode(e.line, &log, &stream, &time) && !log.empty()) {
      SetExtractedString(&e, kOutput, log);
      SetExtractedString(&e, kStream, stream);
      SetExtractedString(&e, kTimestamp, time);
      e.labels.Set("stream", stream);
      int64_t ts;
      if (ParseRfc3339Nano(time, &ts)) e.timestamp_ns = ts;
      e.line.assign(log.data(), log.size());
    }
    emit(std::move(e));
  }

 private:
  static inline const std::string kOutput = "output";
  static inline const std::string kStream = "stream";
  static inline const std::string kTimestamp = "timestamp";

  // json.Unmarshal into {Log, Time, Stream string}: keys match case-insensitively, the last
  // duplicate wins, null leaves a field empty, any other non-string value is an error.
  bool Decode(std::string_view line, std::string_view* log, std::string_view* stream,
              std::string_view* time) {
    simdjson::dom::element root;
    if (!parser_.Parse(line, &root)) return false;
    if (root.is_null()) return true;
    simdjson::dom::object obj;
    if (root.get_object().get(obj) != simdjson::SUCCESS) return false;
    for (simdjson::dom::key_value_pair kv : obj) {
      std::string_view* target = EqualFoldAscii(kv.key, "log")      ? log
                                 : EqualFoldAscii(kv.key, "stream") ? stream
                                 : EqualFoldAscii(kv.key, "time")   ? time
                                                                    : nullptr;
      if (target == nullptr || kv.value.is_null()) continue;
      if (kv.value.get_string().get(*target) != simdjson::SUCCESS) return false;
    }
    return true;
  }

  JsonParser parser_;
};

}  // namespace

std::unique_ptr<Stage> NewDockerStage(config::Decoder& d, const StageContext& ctx) {
  (void)ctx;
  StageErrors errs(d);
  if (!errs.Finish()) return nullptr;
  return std::make_unique<DockerStage>();
}

}  // namespace sluice
