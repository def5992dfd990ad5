// stage.eventlogmessage: splits the Message field of a Windows Event Log record (an extracted
// value, `source`, default "message") into "Key: value" lines and adds them to the extracted map,
// as Alloy's (deprecated) eventlogmessage stage.
//
// Alloy's rules, which this follows exactly: lines are separated by "\r\n"; a line without ':'
// is skipped; the key is what precedes the first ':' (untrimmed) and the value what follows it,
// trimmed of Unicode spaces. A key that is not a legacy Prometheus label name
// ([a-zA-Z_][a-zA-Z0-9_]*) is dropped with `drop_invalid_labels`, otherwise sanitised (each
// offending character, or each byte of invalid UTF-8, becomes '_'; an empty key becomes "_").
// A key already in the map, including one set by an earlier line of the same message, gets the
// suffix "_extracted" unless `overwrite_existing`. A value that is not valid UTF-8 is skipped.
// An entry whose source is absent passes unchanged; one whose source is null (Alloy's getString
// fails) is dropped, as Alloy drops it (without counting it in loki_process_dropped_lines_total).
//
// Owned by its pipeline (agent/process/pipeline.h: a loki.process component's, or the nested one
// of a stage.match) and run on that pipeline's thread, the tail thread (see stage.h).
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/common/utf8.h"
#include "agent/process/stage.h"
#include "agent/process/stages/registry.h"
#include "agent/process/stages/stage_util.h"

namespace sluice {
namespace {

using stage_util::StageErrors;

bool IsAsciiLetterOrUnderscore(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

// model.LabelName.IsValidLegacy: [a-zA-Z_][a-zA-Z0-9_]*.
bool IsLegacyLabelName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (!IsAsciiLetterOrUnderscore(c) && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// Alloy's SanitizeFullLabelName: one '_' per offending rune (Go ranges over runes, and each byte
// of invalid UTF-8 is a rune of its own); a digit is kept except as the first rune.
void SanitizeKey(std::string_view key, std::string* out) {
  out->clear();
  if (key.empty()) {
    out->push_back('_');
    return;
  }
  size_t i = 0;
  while (i < key.size()) {
    size_t width = 1;
    const uint32_t r = DecodeUtf8Rune(key, i, &width);
    const bool keep = r < 0x80 && (IsAsciiLetterOrUnderscore(static_cast<char>(r)) ||
                                   (i > 0 && r >= '0' && r <= '9'));
    out->push_back(keep ? static_cast<char>(r) : '_');
    i += width;
  }
}

// strings.TrimSpace on a valid UTF-8 string (callers check validity first: trimming never makes
// an invalid value valid, since only whole space runes are removed).
std::string_view TrimGoSpace(std::string_view s) {
  while (!s.empty()) {
    size_t width = 1;
    if (!IsGoSpace(DecodeUtf8Rune(s, 0, &width))) break;
    s.remove_prefix(width);
  }
  while (!s.empty()) {
    size_t start = s.size() - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    size_t width = 1;
    if (!IsGoSpace(DecodeUtf8Rune(s, start, &width))) break;
    s.remove_suffix(s.size() - start);
  }
  return s;
}

class EventLogMessageStage final : public Stage {
 public:
  EventLogMessageStage(const StageContext& ctx, std::string source, bool drop_invalid_labels,
                       bool overwrite_existing)
      : component_(ctx.component_id),
        source_(std::move(source)),
        drop_invalid_labels_(drop_invalid_labels),
        overwrite_existing_(overwrite_existing) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    const ExtractedValue* v = stage_util::FindExtracted(e, source_);
    if (v == nullptr) {
      LogDebug(component_, "source not in the extracted values", {{"source", source_}});
      emit(std::move(e));
      return;
    }
    // A copy: the map is written below, which may move the source's value.
    if (!v->ToString(&message_)) {
      LogWarn(component_, "invalid label value parsed", {{"value", "<nil>"}});
      return;
    }
    std::string_view rest = message_;
    while (true) {
      const size_t eol = rest.find("\r\n");
      ParseLine(rest.substr(0, eol), &e);
      if (eol == std::string_view::npos) break;
      rest.remove_prefix(eol + 2);
    }
    emit(std::move(e));
  }

 private:
  void ParseLine(std::string_view line, ProcessEntry* e) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;
    const std::string_view raw_key = line.substr(0, colon);
    if (IsLegacyLabelName(raw_key)) {
      key_.assign(raw_key);
    } else {
      if (drop_invalid_labels_) return;
      SanitizeKey(raw_key, &key_);
    }
    if (!overwrite_existing_ && e->extracted.contains(key_)) key_.append("_extracted");
    const std::string_view raw_value = line.substr(colon + 1);
    if (!IsValidUtf8(raw_value)) return;
    stage_util::SetExtractedString(e, key_, TrimGoSpace(raw_value));
  }

  const std::string component_;
  const std::string source_;
  const bool drop_invalid_labels_;
  const bool overwrite_existing_;
  std::string message_;  // reused buffers
  std::string key_;
};

}  // namespace

std::unique_ptr<Stage> NewEventLogMessageStage(config::Decoder& d, const StageContext& ctx) {
  StageErrors errs(d);
  std::string source = "message";
  bool drop_invalid_labels = false, overwrite_existing = false;
  d.String("source", &source);
  d.Bool("drop_invalid_labels", &drop_invalid_labels);
  d.Bool("overwrite_existing", &overwrite_existing);
  if (!IsLegacyLabelName(source)) errs.At("source", absl::StrCat("invalid label name: ", source));
  if (!errs.Finish()) return nullptr;
  return std::make_unique<EventLogMessageStage>(ctx, std::move(source), drop_invalid_labels,
                                                overwrite_existing);
}

}  // namespace sluice
