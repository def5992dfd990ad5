// stage.cri: the CRI log format (`<time> <stream> <P|F> <content>`), partial lines joined per
// stream, as Alloy's lenient CRI stage.
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

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "agent/common/timestamp.h"
#include "agent/common/utf8.h"
#include "agent/process/stage.h"
#include "agent/process/stages/stage_util.h"
#include "agent/source/partial_join.h"

namespace sluice {
namespace {

using stage_util::Inc;
using stage_util::LabelSetHash;
using stage_util::SetExtractedString;
using stage_util::StageErrors;

// Go's unicode.IsSpace for the rune starting at s[i]; *width is its length.
bool IsUnicodeSpaceAt(std::string_view s, size_t i, size_t* width) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  *width = 1;
  if (c < 0x80) return c == ' ' || (c >= '\t' && c <= '\r');
  size_t len = Utf8SequenceLength(s, i);
  if (len == 0) return false;
  *width = len;
  uint32_t r = c & (0xFF >> (len + 1));
  for (size_t k = 1; k < len; ++k) r = (r << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return r == 0x85 || r == 0xA0 || r == 0x1680 || (r >= 0x2000 && r <= 0x200A) || r == 0x2028 ||
         r == 0x2029 || r == 0x202F || r == 0x205F || r == 0x3000;
}

// The CRI line as Alloy's lenient parser (stages/cri/parse.go) reads it:
// <timestamp><space><stdout|stderr><space>[P|F][<space>]<content>. The timestamp is whatever
// precedes the first whitespace (not validated); a missing flag means F.
struct CriFields {
  std::string_view timestamp;
  bool stderr_stream = false;
  bool partial = false;
  size_t content_offset = 0;
};

bool ParseCriLenient(std::string_view line, CriFields* out) {
  size_t i = 0;
  size_t w = 1;
  while (i < line.size() && !IsUnicodeSpaceAt(line, i, &w)) i += w;
  if (i >= line.size() || line[i] != ' ') return false;
  out->timestamp = line.substr(0, i);
  ++i;
  std::string_view rest = line.substr(i);
  if (rest.substr(0, 6) == "stdout") {
    out->stderr_stream = false;
  } else if (rest.substr(0, 6) == "stderr") {
    out->stderr_stream = true;
  } else {
    return false;
  }
  i += 6;
  if (i >= line.size() || line[i] != ' ') return false;
  ++i;
  out->partial = false;
  if (i < line.size() && (line[i] == 'P' || line[i] == 'F')) {
    out->partial = line[i] == 'P';
    ++i;
  }
  if (i < line.size() && line[i] == ' ') ++i;
  out->content_offset = i;
  return true;
}

// Joins CRI partial lines (tag P) per stream (the entry's label set, `stream` included) until the
// full line (tag F) arrives. Alloy has no timer: a partial waits for its F or until
// `max_partial_lines` streams are pending, when every pending partial is released as is.
// Flush() releases pending partials too (Alloy would lose them on shutdown or reload).
class CriStage final : public Stage {
 public:
  CriStage(const StageContext& ctx, int64_t max_lines, uint64_t max_size, bool truncate)
      : max_lines_(static_cast<size_t>(max_lines)),
        max_size_(max_size),
        truncate_(truncate),
        flushed_(stage_util::ComponentCounter(ctx, "loki_process_cri_partial_lines_flushed_total",
                                              "A count of partial lines that were flushed "
                                              "prematurely due to the max_partial_lines limit "
                                              "being exceeded")),
        truncated_(stage_util::ComponentCounter(
            ctx, "loki_process_cri_lines_truncated_total",
            "A count of lines that were truncated due to the max_partial_line_size limit")) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    CriFields f;
    if (!ParseCriLenient(e.line, &f)) {
      emit(std::move(e));
      return;
    }
    const std::string_view stream = f.stderr_stream ? "stderr" : "stdout";
    // The extracted values Alloy keeps for compatibility with its former sub-pipeline.
    SetExtractedString(&e, kFlags, f.partial ? "P" : "F");
    SetExtractedString(&e, kStream, stream);
    SetExtractedString(&e, kContent, std::string_view(e.line).substr(f.content_offset));
    SetExtractedString(&e, kTime, f.timestamp);
    int64_t ts;
    if (ParseRfc3339Nano(f.timestamp, &ts)) e.timestamp_ns = ts;
    e.line.remove_prefix(f.content_offset);
    e.labels.Set(kStream, stream);

    auto it = index_.find(e.labels);
    if (f.partial) {
      if (held_.size() >= max_lines_) {
        Inc(flushed_, held_.size());
        ReleaseAll(emit);
        Hold(std::move(e));
        return;
      }
      if (it != index_.end()) {
        Join(&held_[it->second], std::move(e));
        return;
      }
      Hold(std::move(e));
      return;
    }
    if (it != index_.end()) {
      const size_t idx = it->second;
      Join(&held_[idx], std::move(e));
      emit(Release(idx));
      return;
    }
    emit(std::move(e));
  }

  void Flush(EmitFn emit) override { ReleaseAll(emit); }

  void ForEachHeld(absl::FunctionRef<void(const ProcessEntry&)> fn) const override {
    for (const Held& h : held_) fn(h.entry);
  }

 private:
  static inline const std::string kFlags = "flags";
  static inline const std::string kStream = "stream";
  static inline const std::string kContent = "content";
  static inline const std::string kTime = "time";

  // A stream's pending line: the latest piece's entry (Alloy's stage keeps it: its timestamp,
  // labels, extracted values) and the pieces joined so far. The entry's own line is empty.
  struct Held {
    ProcessEntry entry;
    PartialJoin join;
  };

  // Appends e's line to the stream's joined line (cut at max_partial_line_size when truncating;
  // each cut piece counted) and makes e the held entry; the joined line starts where its first
  // piece did.
  void Join(Held* h, ProcessEntry&& e) {
    if (!h->join.Append(e.line, truncate_ ? max_size_ : PartialJoin::kNoLimit)) Inc(truncated_);
    if (h->entry.source.file_id == e.source.file_id &&
        h->entry.source.generation == e.source.generation) {
      e.source.start = std::min(e.source.start, h->entry.source.start);
    }
    e.line.clear();  // its bytes are in the join: moving the entry copies no line
    h->entry = std::move(e);
  }

  void Hold(ProcessEntry&& e) {
    Held h;
    h.entry.source = e.source;  // the first piece: nothing earlier to start from
    Join(&h, std::move(e));
    index_[h.entry.labels] = held_.size();
    held_.push_back(std::move(h));
  }

  // The held entry with the joined line.
  static ProcessEntry Take(Held* h) {
    std::string bytes;
    h->join.TakeInto(&bytes);
    ProcessEntry out = std::move(h->entry);
    out.line.TakeFrom(&bytes);
    return out;
  }

  // The stream's entry with its joined line, no longer held.
  ProcessEntry Release(size_t idx) {
    index_.erase(held_[idx].entry.labels);
    ProcessEntry out = Take(&held_[idx]);
    if (idx + 1 != held_.size()) {
      held_[idx] = std::move(held_.back());
      index_[held_[idx].entry.labels] = idx;
    }
    held_.pop_back();
    return out;
  }

  void ReleaseAll(EmitFn emit) {
    std::vector<Held> out;
    out.swap(held_);
    index_.clear();
    for (Held& h : out) emit(Take(&h));
  }

  const size_t max_lines_;
  const uint64_t max_size_;
  const bool truncate_;
  Counter* flushed_;
  Counter* truncated_;
  std::vector<Held> held_;  // in arrival order of their streams
  absl::flat_hash_map<LabelSet, size_t, LabelSetHash> index_;
};

}  // namespace

std::unique_ptr<Stage> NewCriStage(config::Decoder& d, const StageContext& ctx) {
  StageErrors errs(d);
  int64_t max_lines = 100;
  int64_t max_size = 0;
  bool truncate = false;
  d.Int("max_partial_lines", &max_lines);
  if (d.Int("max_partial_line_size", &max_size) && max_size < 0) {
    errs.At("max_partial_line_size",
            absl::StrCat("cannot assign negative number ", max_size, " to unsigned integer"));
  }
  d.Bool("max_partial_line_size_truncate", &truncate);
  if (max_lines <= 0) errs.Block("max_partial_lines must be greater than 0");
  if (!errs.Finish()) return nullptr;
  return std::make_unique<CriStage>(ctx, max_lines, static_cast<uint64_t>(max_size), truncate);
}

}  // namespace sluice
