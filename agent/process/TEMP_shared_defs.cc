// TEMPORARY: stand-ins for definitions that agent/process/pipeline.cc (written by another helper)
// provides, so that this branch's tests link. Delete at merge.
#include <charconv>

#include "agent/process/stage.h"

namespace sluice {

void CountDroppedLine(const StageContext& ctx, std::string_view reason) {
  if (ctx.metrics == nullptr) return;
  ctx.metrics
      ->GetCounter("loki_process_dropped_lines_total", "A count of all log lines dropped",
                   {{"component_id", ctx.component_id}, {"reason", std::string(reason)}})
      ->Inc();
}

bool ExtractedValue::ToString(std::string* out) const {
  switch (kind) {
    case Kind::kString:
      *out = str;
      return true;
    case Kind::kBool:
      *out = boolean ? "true" : "false";
      return true;
    case Kind::kNumber: {
      char buf[400];
      auto r = std::to_chars(buf, buf + sizeof buf, num, std::chars_format::fixed);
      out->assign(buf, r.ptr);
      return true;
    }
    case Kind::kNull:
      return false;
  }
  return false;
}

}  // namespace sluice
