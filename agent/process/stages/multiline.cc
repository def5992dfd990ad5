// stage.multiline: lines joined into one entry per block, a block starting at a `firstline`
// match, as Alloy's multiline stage.
//
// Owned by its pipeline (agent/process/pipeline.h: a loki.process component's, or the nested one
// of a stage.match) and run on that pipeline's thread, the tail thread (see stage.h).
#include "agent/process/stages/registry.h"

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "agent/go/regexp.h"
#include "agent/process/stage.h"
#include "agent/process/stages/stage_util.h"
#include "re2/re2.h"

namespace sluice {
namespace {

using stage_util::LabelSetHash;
using stage_util::StageErrors;

class MultilineStage final : public Stage {
 public:
  struct Config {
    std::unique_ptr<RE2> firstline;
    uint64_t max_lines = 128;
    int64_t max_wait_ns = 3'000'000'000;
    bool trim_newlines = true;
  };
  // A block is sent on when it reaches this size even below max_lines (max_lines = 0 means no
  // limit in Alloy): sluice bounds what it holds in memory.
  static constexpr size_t kMaxBlockBytes = 64u << 20;

  MultilineStage(Config cfg, const StageContext& ctx) : cfg_(std::move(cfg)), clock_(ctx.clock) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    const int64_t now = clock_->MonotonicNanos();
    auto found = index_.find(e.labels);
    Stream* s = found == index_.end() ? nullptr : &*found->second;
    // A block that waited too long goes before this entry is looked at (the timer may not have
    // fired yet); the stream's state stays.
    if (s != nullptr && s->lines > 0 && now - s->last_seen >= cfg_.max_wait_ns) {
      emit(TakeBlock(*s));
    }
    const bool first = RE2::PartialMatch(e.line.view(), *cfg_.firstline);
    if (s == nullptr) {
      // Until a stream's first start line, its lines pass through unchanged.
      if (!first) {
        emit(std::move(e));
        return;
      }
      streams_.emplace_back();
      s = &streams_.back();
      s->key = e.labels;
      index_.emplace(s->key, std::prev(streams_.end()));
      found = index_.find(s->key);
    }
    if (s->lines > 0 && (first || e.source.file_id != s->block.source.file_id ||
                         e.source.generation != s->block.source.generation)) {
      // A new start line closes the block. So does a line of another file under the same
      // labels (sluice only): one entry's position range cannot span two files.
      emit(TakeBlock(*s));
    }
    if (first) {
      // The start line's labels, time, extracted values and metadata serve every block until
      // the next start line (also the blocks of lines after a max_lines or timeout flush).
      s->start.labels = std::move(e.labels);
      s->start.extracted = std::move(e.extracted);
      s->start.structured_metadata = std::move(e.structured_metadata);
      s->start.timestamp_ns = e.timestamp_ns;
    }
    std::string_view line = e.line;
    if (cfg_.trim_newlines) {
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    }
    if (s->lines == 0) {
      s->block.labels = s->start.labels;
      s->block.extracted = s->start.extracted;
      s->block.structured_metadata = s->start.structured_metadata;
      s->block.timestamp_ns = s->start.timestamp_ns;
      s->block.line.assign(line);
      s->block.source = e.source;
    } else {
      s->block.line.push_back('\n');
      s->block.line.append(line);
      s->block.source.end = e.source.end;
    }
    ++s->lines;
    s->last_seen = now;
    // Streams stay in order of last use, so that the oldest deadline is the first one.
    streams_.splice(streams_.end(), streams_, found->second);
    if (s->lines == cfg_.max_lines || s->block.line.size() >= kMaxBlockBytes) {
      emit(TakeBlock(*s));
    }
  }

  void Tick(int64_t now_mono_ns, EmitFn emit) override {
    // Streams idle for max_wait_time send their block and are forgotten (their next lines pass
    // through until a start line, as after Alloy's timer).
    while (!streams_.empty() && streams_.front().last_seen + cfg_.max_wait_ns <= now_mono_ns) {
      Stream& s = streams_.front();
      if (s.lines > 0) emit(TakeBlock(s));
      index_.erase(s.key);
      streams_.pop_front();
    }
  }

  void Flush(EmitFn emit) override {
    for (Stream& s : streams_) {
      if (s.lines > 0) emit(TakeBlock(s));
    }
    index_.clear();
    streams_.clear();
  }

  int64_t NextDeadline() const override {
    return streams_.empty() ? INT64_MAX : streams_.front().last_seen + cfg_.max_wait_ns;
  }
  bool Timed() const override { return true; }

  void ForEachHeld(absl::FunctionRef<void(const ProcessEntry&)> fn) const override {
    for (const Stream& s : streams_) {
      if (s.lines > 0) fn(s.block);
    }
  }

 private:
  struct Stream {
    LabelSet key;
    ProcessEntry start;  // the last start line, without its line
    ProcessEntry block;  // the block being built
    uint64_t lines = 0;
    int64_t last_seen = 0;
  };

  static ProcessEntry TakeBlock(Stream& s) {
    ProcessEntry out = std::move(s.block);
    s.block = ProcessEntry();
    s.lines = 0;
    return out;
  }

  Config cfg_;
  const Clock* clock_;
  std::list<Stream> streams_;  // least recently used first
  absl::flat_hash_map<LabelSet, std::list<Stream>::iterator, LabelSetHash> index_;
};

}  // namespace

std::unique_ptr<Stage> NewMultilineStage(config::Decoder& d, const StageContext& ctx) {
  StageErrors errs(d);
  std::string firstline;
  int64_t max_lines = 128;
  absl::Duration max_wait = absl::Seconds(3);
  MultilineStage::Config cfg;
  d.String("firstline", &firstline, config::Required::kYes);
  if (d.Int("max_lines", &max_lines) && max_lines < 0) {
    d.ErrorAt("max_lines", absl::StrCat("max_lines must not be negative, got ", max_lines));
  }
  d.Duration("max_wait_time", &max_wait);
  d.Bool("trim_newlines", &cfg.trim_newlines);
  if (!errs.Finish()) return nullptr;

  if (max_wait <= absl::ZeroDuration()) {
    d.ErrorAt("max_wait_time", "max_wait_time must be greater than 0");
    return nullptr;
  }
  if (firstline.empty()) {
    d.ErrorAt("firstline", "multiline stage config must define `firstline` regular expression");
    return nullptr;
  }
  std::string error;
  cfg.firstline = CompileGoRegexp(firstline, &error);
  if (cfg.firstline == nullptr) {
    d.ErrorAt("firstline",
              absl::StrCat("multiline stage first line regex compilation error: ", error));
    return nullptr;
  }
  cfg.max_lines = static_cast<uint64_t>(max_lines);
  cfg.max_wait_ns = absl::ToInt64Nanoseconds(max_wait);
  return std::make_unique<MultilineStage>(std::move(cfg), ctx);
}

}  // namespace sluice
