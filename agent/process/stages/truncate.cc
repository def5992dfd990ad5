// stage.truncate: the line, labels, structured metadata or extracted values cut to a limit (with
// a suffix), as Alloy's truncate stage.
//
// Owned by its pipeline (agent/process/pipeline.h: a loki.process component's, or the nested one
// of a stage.match) and run on that pipeline's thread, the tail thread (see stage.h).
#include "agent/process/stages/registry.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
#include "agent/common/units.h"
#include "agent/process/stage.h"
#include "agent/process/stages/stage_util.h"

namespace sluice {
namespace {

using stage_util::Inc;
using stage_util::StageErrors;

enum class TruncateSource { kLine, kLabel, kStructuredMetadata, kExtracted };

struct TruncateRule {
  uint64_t limit = 0;
  std::string suffix;
  std::vector<std::string> sources;
  TruncateSource type = TruncateSource::kLine;
};

class TruncateStage final : public Stage {
 public:
  TruncateStage(const StageContext& ctx, std::vector<TruncateRule> rules)
      : rules_(std::move(rules)) {
    static constexpr std::string_view kHelp =
        "A count of all log lines, labels, extracted values, or structured_metadata truncated as "
        "a result of a pipeline stage";
    for (int i = 0; i < 4; ++i) {
      counters_[i] = stage_util::ComponentCounter(ctx, "loki_process_truncated_fields_total", kHelp,
                                                  {{"field", std::string(kFieldNames[i])}});
    }
  }

  void Process(ProcessEntry&& e, EmitFn emit) override {
    unsigned marked = 0;  // bit per field kind
    for (const TruncateRule& r : rules_) {
      const size_t limit = static_cast<size_t>(r.limit - r.suffix.size());
      auto cut = [&](std::string* s, TruncateSource kind) {
        if (s->size() <= limit) return;
        s->resize(limit);
        s->append(r.suffix);
        const int k = static_cast<int>(kind);
        Inc(counters_[k]);
        marked |= 1u << k;
      };
      switch (r.type) {
        case TruncateSource::kLine:
          // Only a line that is cut becomes the entry's own copy.
          if (e.line.size() > limit) cut(&e.line.Own(), TruncateSource::kLine);
          break;
        case TruncateSource::kLabel: {
          // Set() on an existing name changes the value in place, so indexes stay valid.
          for (size_t i = 0; i < e.labels.size(); ++i) {
            const auto [name, value] = e.labels.labels()[i];  // views: Set copies them first
            if (value.size() <= limit) continue;
            if (!r.sources.empty() &&
                std::find(r.sources.begin(), r.sources.end(), name) == r.sources.end()) {
              continue;
            }
            std::string v(value);
            cut(&v, TruncateSource::kLabel);
            e.labels.Set(name, v);
          }
          break;
        }
        case TruncateSource::kStructuredMetadata:
          for (auto& [name, value] : e.structured_metadata) {
            if (!r.sources.empty() &&
                std::find(r.sources.begin(), r.sources.end(), name) == r.sources.end()) {
              continue;
            }
            cut(&value, TruncateSource::kStructuredMetadata);
          }
          break;
        case TruncateSource::kExtracted:
          if (!r.sources.empty()) {
            for (const std::string& s : r.sources) {
              auto it = e.extracted.find(s);
              if (it != e.extracted.end() && it->second.kind == ExtractedValue::Kind::kString) {
                cut(&it->second.str, TruncateSource::kExtracted);
              }
            }
          } else {
            for (auto&& [k, v] : e.extracted) {
              if (v.kind == ExtractedValue::Kind::kString) cut(&v.str, TruncateSource::kExtracted);
            }
          }
          break;
      }
      if (marked != 0) MarkTruncated(&e, marked);
    }
    emit(std::move(e));
  }

 private:
  static constexpr std::string_view kFieldNames[4] = {"line", "label", "structured_metadata",
                                                      "extracted"};

  // extracted["truncated"]: the sorted, comma-joined names of the truncated field kinds, merged
  // with what an earlier truncation recorded there.
  static void MarkTruncated(ProcessEntry* e, unsigned marked) {
    std::vector<std::string> names;
    for (int k = 0; k < 4; ++k) {
      if (marked & (1u << k)) names.emplace_back(kFieldNames[k]);
    }
    auto it = e->extracted.find("truncated");
    if (it != e->extracted.end() && it->second.kind == ExtractedValue::Kind::kString) {
      std::string_view s = it->second.str;
      while (true) {
        size_t c = s.find(',');
        names.emplace_back(s.substr(0, c));
        if (c == std::string_view::npos) break;
        s.remove_prefix(c + 1);
      }
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    std::string joined;
    for (size_t i = 0; i < names.size(); ++i) {
      if (i > 0) joined.push_back(',');
      joined.append(names[i]);
    }
    e->extracted["truncated"] = ExtractedValue::String(std::move(joined));
  }

  const std::vector<TruncateRule> rules_;
  Counter* counters_[4];
};

}  // namespace

std::unique_ptr<Stage> NewTruncateStage(config::Decoder& d, const StageContext& ctx) {
  StageErrors errs(d);
  std::vector<const config::Block*> blocks = d.Blocks("rule");
  if (blocks.empty()) errs.Block("missing required block \"rule\"");
  std::vector<TruncateRule> rules;
  for (const config::Block* b : blocks) {
    config::Decoder rd(*b, d.diags());
    StageErrors rerrs(rd);
    TruncateRule r;
    int64_t limit = 0;
    const config::Attr* la = rd.Get("limit", config::Required::kYes);
    if (la != nullptr) {
      if (la->value.kind() == config::Value::Kind::kNumber && la->value.is_int()) {
        limit = la->value.as_int();
      } else if (la->value.kind() == config::Value::Kind::kString) {
        absl::StatusOr<int64_t> v = ParseBase2Bytes(la->value.as_string());
        if (v.ok()) {
          limit = *v;
        } else {
          rd.Error(la->value_span, std::string(Sv(v.status().message())));
        }
      } else {
        rd.Error(la->value_span, config::TypeMismatch("string", la->value));
      }
    }
    rd.String("suffix", &r.suffix);
    rd.StringList("sources", &r.sources);
    std::string type = "line";
    if (rd.String("source_type", &type)) {
      if (type == "line") {
        r.type = TruncateSource::kLine;
      } else if (type == "label") {
        r.type = TruncateSource::kLabel;
      } else if (type == "structured_metadata") {
        r.type = TruncateSource::kStructuredMetadata;
      } else if (type == "extracted") {
        r.type = TruncateSource::kExtracted;
      } else {
        rerrs.At("source_type", absl::StrCat("unknown source_type: ", type));
      }
    }
    if (la != nullptr && rerrs.clean()) {
      if (limit <= 0) {
        rerrs.Block("limit must be greater than zero");
      } else if (r.type == TruncateSource::kLine && !r.sources.empty()) {
        rerrs.Block("sources cannot be set when source_type is 'line'");
      } else if (!r.suffix.empty() && static_cast<uint64_t>(limit) <= r.suffix.size()) {
        rerrs.Block("suffix length cannot be greater than or equal to limit");
      }
    }
    r.limit = limit > 0 ? static_cast<uint64_t>(limit) : 0;
    if (rerrs.Finish()) rules.push_back(std::move(r));
  }
  if (!errs.Finish()) return nullptr;
  return std::make_unique<TruncateStage>(ctx, std::move(rules));
}

}  // namespace sluice
