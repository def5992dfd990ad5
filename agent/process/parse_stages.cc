// loki.process parsing stages: cri, docker, json, logfmt, regex, replace, pack, decolorize,
// truncate. Each follows Alloy's internal/component/loki/process/stages/<name>.go: argument
// names, defaults, validation messages, and what happens to an entry the stage cannot parse
// (passed on unchanged unless the stage's drop option says otherwise).
//
// Each stage is owned by its loki.process pipeline and runs on that pipeline's thread (see
// stage.h); stages own reusable buffers, so that parsing a line allocates little beyond what the
// entry itself keeps (Alloy's extracted values are copies by nature).
//
// Known differences from Alloy, all at the margins: RE2 does not let `.` or `[^x]` match bytes
// of invalid UTF-8 (Go matches them as U+FFFD), and simdjson rejects invalid UTF-8 inside JSON
// strings (Go replaces it); the tailer hands on valid UTF-8, so neither shows in practice.
#include <simdjson.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
#include "agent/common/timestamp.h"
#include "agent/common/units.h"
#include "agent/common/utf8.h"
#include "agent/go/jmespath.h"
#include "agent/go/json.h"
#include "agent/go/regexp.h"
#include "agent/go/template.h"
#include "agent/process/logfmt.h"
#include "agent/process/stage.h"
#include "agent/process/stage_util.h"

namespace sluice {
namespace {

using stage_util::FindExtracted;
using stage_util::Inc;
using stage_util::ResolveSource;
using stage_util::SetExtractedString;
using stage_util::StageErrors;

// A padded copy buffer and DOM parser for simdjson, grown to the largest input seen and reused.
// Owned by one stage; pipeline thread.
class JsonParser {
 public:
  // Parses `text`; the DOM is valid until the next call. False on malformed JSON.
  bool Parse(std::string_view text, simdjson::dom::element* root) {
    simdjson::error_code err = ParseOnce(text, root);
    if (err != simdjson::NUMBER_ERROR) return err == simdjson::SUCCESS;
    // simdjson refuses integers beyond 64 bits, which Go decodes as float64: retry with such
    // integers written as decimals (rare, so the rewrite's allocation does not matter).
    std::string rewritten;
    if (!WidenBigIntegers(text, &rewritten)) return false;
    return ParseOnce(rewritten, root) == simdjson::SUCCESS;
  }

 private:
  simdjson::error_code ParseOnce(std::string_view text, simdjson::dom::element* root) {
    if (!Reserve(text.size())) return simdjson::MEMALLOC;
    if (!text.empty()) std::memcpy(buf_.get(), text.data(), text.size());
    return parser_.parse(buf_.get(), text.size(), /*realloc_if_needed=*/false).get(*root);
  }

  // Appends ".0" to integer literals of 19 digits or more (outside strings). False when there
  // are none, i.e. the number error has another cause.
  static bool WidenBigIntegers(std::string_view in, std::string* out) {
    bool changed = false;
    bool in_string = false;
    for (size_t i = 0; i < in.size(); ++i) {
      const char c = in[i];
      if (in_string) {
        out->push_back(c);
        if (c == '\\' && i + 1 < in.size()) {
          out->push_back(in[++i]);
        } else if (c == '"') {
          in_string = false;
        }
        continue;
      }
      if (c == '"') in_string = true;
      if (c < '0' || c > '9' ||
          (i > 0 && ((in[i - 1] >= '0' && in[i - 1] <= '9') || in[i - 1] == '.' ||
                     in[i - 1] == 'e' || in[i - 1] == 'E' || in[i - 1] == '+'))) {
        out->push_back(c);
        continue;
      }
      size_t j = i;
      while (j < in.size() && in[j] >= '0' && in[j] <= '9') ++j;
      out->append(in.substr(i, j - i));
      const bool is_integer = j >= in.size() || (in[j] != '.' && in[j] != 'e' && in[j] != 'E');
      if (is_integer && j - i >= 19) {
        out->append(".0");
        changed = true;
      }
      i = j - 1;
    }
    return changed;
  }

  bool Reserve(size_t len) {
    if (buf_ != nullptr && len <= capacity_) return true;
    const size_t cap = std::bit_ceil(len < 4096 ? size_t{4096} : len);
    if (parser_.allocate(cap) != simdjson::SUCCESS) return false;
    // Zeroed so that simdjson's reads past the end never see uninitialised memory.
    buf_ = std::make_unique<char[]>(cap + simdjson::SIMDJSON_PADDING);
    capacity_ = cap;
    return true;
  }

  simdjson::dom::parser parser_;
  std::unique_ptr<char[]> buf_;
  size_t capacity_ = 0;
};

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

// =============================================================================================
// stage.cri

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

struct LabelSetHash {
  size_t operator()(const LabelSet& l) const { return absl::HashOf(l.labels()); }
};

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
    e.line.erase(0, f.content_offset);
    e.labels.Set(kStream, stream);

    auto it = index_.find(e.labels);
    if (f.partial) {
      if (held_.size() >= max_lines_) {
        Inc(flushed_, held_.size());
        ReleaseAll(emit);
        Truncate(&e);
        Hold(std::move(e));
        return;
      }
      if (it != index_.end()) {
        ProcessEntry& prev = held_[it->second];
        Merge(&prev, &e);
        Truncate(&e);
        prev = std::move(e);
        return;
      }
      Truncate(&e);
      Hold(std::move(e));
      return;
    }
    if (it != index_.end()) {
      const size_t idx = it->second;
      Merge(&held_[idx], &e);
      Truncate(&e);
      Remove(idx);
    }
    emit(std::move(e));
  }

  void Flush(EmitFn emit) override { ReleaseAll(emit); }

  void ForEachHeld(absl::FunctionRef<void(const ProcessEntry&)> fn) const override {
    for (const ProcessEntry& e : held_) fn(e);
  }

 private:
  static inline const std::string kFlags = "flags";
  static inline const std::string kStream = "stream";
  static inline const std::string kContent = "content";
  static inline const std::string kTime = "time";

  // e.line = prev.line + e.line, reusing prev's buffer; the joined entry starts where prev did.
  static void Merge(ProcessEntry* prev, ProcessEntry* e) {
    prev->line.append(e->line);
    e->line.swap(prev->line);
    if (prev->source.file_id == e->source.file_id &&
        prev->source.generation == e->source.generation) {
      e->source.start = std::min(e->source.start, prev->source.start);
    }
  }

  void Truncate(ProcessEntry* e) {
    if (truncate_ && e->line.size() > max_size_) {
      e->line.resize(max_size_);
      Inc(truncated_);
    }
  }

  void Hold(ProcessEntry&& e) {
    index_[e.labels] = held_.size();
    held_.push_back(std::move(e));
  }

  void Remove(size_t idx) {
    index_.erase(held_[idx].labels);
    if (idx + 1 != held_.size()) {
      held_[idx] = std::move(held_.back());
      index_[held_[idx].labels] = idx;
    }
    held_.pop_back();
  }

  void ReleaseAll(EmitFn emit) {
    std::vector<ProcessEntry> out;
    out.swap(held_);
    index_.clear();
    for (ProcessEntry& e : out) emit(std::move(e));
  }

  const size_t max_lines_;
  const uint64_t max_size_;
  const bool truncate_;
  Counter* flushed_;
  Counter* truncated_;
  std::vector<ProcessEntry> held_;  // in arrival order of their streams
  absl::flat_hash_map<LabelSet, size_t, LabelSetHash> index_;
};

// =============================================================================================
// stage.docker

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

// =============================================================================================
// stage.json

constexpr std::string_view kMalformedJsonReason = "malformed_json";

class JsonStage final : public Stage {
 public:
  JsonStage(const StageContext& ctx,
            std::vector<std::pair<std::string, jmespath::Expression>> exprs,
            std::unique_ptr<RE2> regex, std::string source, bool has_source, bool drop_malformed)
      : ctx_(ctx),
        exprs_(std::move(exprs)),
        regex_(std::move(regex)),
        source_(std::move(source)),
        has_source_(has_source),
        drop_malformed_(drop_malformed) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    const std::string* input = &e.line;
    if (has_source_) {
      input = ResolveSource(e, source_, &scratch_);
      if (input == nullptr) {
        emit(std::move(e));
        return;
      }
      // No copy needed even when the input lives in the map: the parser copies it, and the
      // DOM's strings point into the parser's own buffers.
    }
    simdjson::dom::element root;
    // Only an object (or null, which Go decodes into an empty map) is accepted.
    if (!parser_.Parse(*input, &root) ||
        (root.type() != simdjson::dom::element_type::OBJECT && !root.is_null())) {
      if (drop_malformed_) {
        CountDroppedLine(ctx_, kMalformedJsonReason);
        return;
      }
      emit(std::move(e));
      return;
    }
    const jmespath::Value doc = jmespath::Value::Dom(root);
    for (const auto& [name, expr] : exprs_) {
      jmespath::Value result;
      if (!expr.Search(doc, &result)) continue;
      Store(result, &e.extracted[name]);
    }
    if (regex_ != nullptr && doc.kind() == jmespath::Value::Kind::kObject) {
      simdjson::dom::object obj = root.get_object().value_unsafe();
      for (simdjson::dom::key_value_pair kv : obj) {
        re2::StringPiece key(kv.key.data(), kv.key.size());
        if (!RE2::PartialMatch(key, *regex_)) continue;
        Store(jmespath::Value::Dom(kv.value), &e.extracted[std::string(kv.key)]);
      }
    }
    emit(std::move(e));
  }

 private:
  // Scalars keep their type; arrays and objects become their JSON text.
  static void Store(const jmespath::Value& v, ExtractedValue* out) {
    switch (v.kind()) {
      case jmespath::Value::Kind::kNull:
        *out = ExtractedValue::Null();
        return;
      case jmespath::Value::Kind::kBool:
        *out = ExtractedValue::Bool(v.boolean());
        return;
      case jmespath::Value::Kind::kNumber:
        *out = ExtractedValue::Number(v.number());
        return;
      case jmespath::Value::Kind::kString:
        out->kind = ExtractedValue::Kind::kString;
        out->str.assign(v.str());
        return;
      case jmespath::Value::Kind::kArray:
      case jmespath::Value::Kind::kObject:
        out->kind = ExtractedValue::Kind::kString;
        out->str.clear();
        v.AppendJson(&out->str);
        return;
    }
  }

  const StageContext ctx_;
  const std::vector<std::pair<std::string, jmespath::Expression>> exprs_;
  const std::unique_ptr<RE2> regex_;
  const std::string source_;
  const bool has_source_;
  const bool drop_malformed_;
  JsonParser parser_;
  std::string scratch_;
};

// =============================================================================================
// stage.logfmt

class LogfmtStage final : public Stage {
 public:
  LogfmtStage(absl::flat_hash_map<std::string, std::string> inverse, std::unique_ptr<RE2> regex,
              std::string source)
      : inverse_(std::move(inverse)), regex_(std::move(regex)), source_(std::move(source)) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    const std::string* input = ResolveSource(e, source_, &scratch_);
    if (input != nullptr) {
      if (input != &e.line && input != &scratch_) {
        scratch_ = *input;
        input = &scratch_;
      }
      DecodeLogfmt(*input, &unquoted_, [&](std::string_view key, std::string_view value) {
        auto it = inverse_.find(Av(key));
        if (it != inverse_.end()) SetExtractedString(&e, it->second, value);
        if (regex_ != nullptr &&
            RE2::PartialMatch(re2::StringPiece(key.data(), key.size()), *regex_)) {
          SetExtractedString(&e, std::string(key), value);
        }
      });
    }
    emit(std::move(e));
  }

 private:
  const absl::flat_hash_map<std::string, std::string> inverse_;  // logfmt key -> extracted name
  const std::unique_ptr<RE2> regex_;
  const std::string source_;
  std::string scratch_;
  std::string unquoted_;
};

// =============================================================================================
// stage.regex

class RegexStage final : public Stage {
 public:
  RegexStage(std::unique_ptr<RE2> re, std::string source, bool has_source, bool labels_from_groups)
      : re_(std::move(re)),
        source_(std::move(source)),
        has_source_(has_source),
        labels_(labels_from_groups),
        groups_(static_cast<size_t>(1 + re_->NumberOfCapturingGroups())) {
    for (const auto& [index, name] : re_->CapturingGroupNames()) names_.emplace_back(index, name);
  }

  void Process(ProcessEntry&& e, EmitFn emit) override {
    const std::string* input = &e.line;
    if (has_source_) input = ResolveSource(e, source_, &scratch_);
    if (input != nullptr && input != &e.line && input != &scratch_) {
      scratch_ = *input;  // the map is about to change under a pointer into it
      input = &scratch_;
    }
    if (input != nullptr &&
        FindGoSubmatch(*re_, *input, groups_.data(), static_cast<int>(groups_.size()))) {
      for (const auto& [index, name] : names_) {
        const GoSubmatch& g = groups_[static_cast<size_t>(index)];
        std::string_view value =
            g.begin < 0 ? std::string_view()
                        : std::string_view(*input).substr(static_cast<size_t>(g.begin),
                                                          static_cast<size_t>(g.end - g.begin));
        SetExtractedString(&e, name, value);
        if (labels_ && stage_util::ValidLabelName(name) && stage_util::ValidLabelValue(value)) {
          e.labels.Set(name, value);
        }
      }
    }
    emit(std::move(e));
  }

 private:
  const std::unique_ptr<RE2> re_;
  const std::string source_;
  const bool has_source_;
  const bool labels_;
  std::vector<std::pair<int, std::string>> names_;
  std::vector<GoSubmatch> groups_;
  std::string scratch_;
};

// =============================================================================================
// stage.replace

// The template data of stage.replace: every extracted value that converts to a string, plus
// "Value", the capture being replaced.
class ReplaceData final : public TemplateData {
 public:
  ReplaceData(const ProcessEntry& e, std::string_view value) : e_(e), value_(value) {}
  void set_value(std::string_view v) { value_ = v; }

  bool Lookup(std::string_view name, std::string* out) const override {
    if (name == "Value") {
      out->assign(value_);
      return true;
    }
    const ExtractedValue* v = FindExtracted(e_, name);
    return v != nullptr && v->ToString(out);
  }
  void ForEach(absl::FunctionRef<void(std::string_view, std::string_view)> fn) const override {
    std::string s;
    for (const auto& [k, v] : e_.extracted) {
      if (k == "Value" || !v.ToString(&s)) continue;
      fn(k, s);
    }
    fn("Value", value_);
  }

 private:
  const ProcessEntry& e_;
  std::string_view value_;
};

class ReplaceStage final : public Stage {
 public:
  ReplaceStage(std::unique_ptr<RE2> re, std::string source, GoTemplate tmpl)
      : re_(std::move(re)), source_(std::move(source)), tmpl_(std::move(tmpl)) {
    for (const auto& [index, name] : re_->CapturingGroupNames()) names_.emplace_back(index, name);
  }

  void Process(ProcessEntry&& e, EmitFn emit) override {
    const std::string* found = ResolveSource(e, source_, &scratch_);
    if (found == nullptr) {
      emit(std::move(e));
      return;
    }
    // The line is only replaced at the end; an extracted source is copied because the map it
    // lives in changes before the input is last read.
    std::string_view input = e.line;
    if (!source_.empty()) {
      input_.assign(*found);
      input = input_;
    }

    matches_.clear();
    int n = 0;
    ForEachGoMatch(*re_, input, [&](const GoSubmatch* g, int count) {
      n = count;
      matches_.insert(matches_.end(), g, g + count);
    });
    if (matches_.empty()) {
      emit(std::move(e));
      return;
    }

    ReplaceData data(e, {});
    result_.clear();
    captured_.clear();
    size_t prev_end = 0;
    std::string& out = out_;
    for (size_t m = 0; m < matches_.size(); m += static_cast<size_t>(n)) {
      for (int i = 1; i < n; ++i) {
        const GoSubmatch& g = matches_[m + static_cast<size_t>(i)];
        if (g.begin < 0) continue;
        const size_t b = static_cast<size_t>(g.begin), end = static_cast<size_t>(g.end);
        std::string_view cap = input.substr(b, end - b);
        out.clear();
        data.set_value(cap);
        if (!tmpl_.Execute(data, &out)) {
          // Alloy logs the template error and leaves the entry as it was.
          emit(std::move(e));
          return;
        }
        // Groups nested in an already replaced one are not replaced again.
        if (prev_end == 0 || prev_end <= b) {
          result_.append(input.substr(prev_end, b - prev_end));
          result_.append(out);
          prev_end = end;
        }
        if (!names_.empty()) captured_[std::string(cap)] = out;
      }
    }
    result_.append(input.substr(prev_end));

    if (!source_.empty()) SetExtractedString(&e, source_, result_);
    // Named groups of the first match get the replacement of their captured text.
    for (const auto& [index, name] : names_) {
      const GoSubmatch& g = matches_[static_cast<size_t>(index)];
      std::string_view cap = g.begin < 0 ? std::string_view()
                                         : input.substr(static_cast<size_t>(g.begin),
                                                        static_cast<size_t>(g.end - g.begin));
      auto it = captured_.find(Av(cap));
      if (it != captured_.end()) SetExtractedString(&e, name, it->second);
    }
    if (source_.empty()) e.line.swap(result_);
    emit(std::move(e));
  }

 private:
  const std::unique_ptr<RE2> re_;
  const std::string source_;
  const GoTemplate tmpl_;
  std::vector<std::pair<int, std::string>> names_;
  std::string scratch_;
  std::string input_;
  std::string result_;
  std::string out_;
  std::vector<GoSubmatch> matches_;
  absl::flat_hash_map<std::string, std::string> captured_;
};

// =============================================================================================
// stage.pack

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
    e.line.swap(out_);
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

// =============================================================================================
// stage.decolorize

// Alloy's ANSI escape pattern (CSI and OSC sequences introduced by ESC or the C1 CSI U+009B).
constexpr std::string_view kAnsiPattern =
    R"([\x{1B}\x{9B}][[\]()#;?]*(?:(?:(?:[a-zA-Z\d]*(?:;[a-zA-Z\d]*)*)?\x{07})|)"
    R"((?:(?:\d{1,4}(?:;\d{0,4})*)?[\dA-PRZcf-ntqry=><~])))";

class DecolorizeStage final : public Stage {
 public:
  explicit DecolorizeStage(std::unique_ptr<RE2> re) : re_(std::move(re)) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    // Nearly all lines have no escape at all: skip the regex for them.
    if (e.line.find('\x1B') != std::string::npos || e.line.find("\xC2\x9B") != std::string::npos) {
      out_.clear();
      GoReplaceAll(*re_, e.line, "", /*literal=*/true, &out_);
      e.line.swap(out_);
    }
    emit(std::move(e));
  }

 private:
  const std::unique_ptr<RE2> re_;
  std::string out_;
};

// =============================================================================================
// stage.truncate

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
          cut(&e.line, TruncateSource::kLine);
          break;
        case TruncateSource::kLabel: {
          // Set() on an existing name changes the value in place, so indexes stay valid.
          for (size_t i = 0; i < e.labels.size(); ++i) {
            const auto& [name, value] = e.labels.labels()[i];
            if (value.size() <= limit) continue;
            if (!r.sources.empty() &&
                std::find(r.sources.begin(), r.sources.end(), name) == r.sources.end()) {
              continue;
            }
            std::string v = value;
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
            for (auto& [k, v] : e.extracted) {
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

// Reads a regex attribute the way several stages do: "" means none; a bad pattern is reported
// with Go's message. Returns false on error.
bool OptionalRegex(config::Decoder& d, StageErrors& errs, std::string_view name,
                   std::unique_ptr<RE2>* out) {
  std::string pattern;
  d.String(name, &pattern);
  if (pattern.empty()) return true;
  std::string err;
  *out = CompileGoRegexp(pattern, &err);
  if (*out == nullptr) {
    errs.At(name, err);
    return false;
  }
  return true;
}

}  // namespace

// =============================================================================================
// Constructors

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

std::unique_ptr<Stage> NewDockerStage(config::Decoder& d, const StageContext& ctx) {
  (void)ctx;
  StageErrors errs(d);
  if (!errs.Finish()) return nullptr;
  return std::make_unique<DockerStage>();
}

std::unique_ptr<Stage> NewJsonStage(config::Decoder& d, const StageContext& ctx) {
  StageErrors errs(d);
  std::map<std::string, std::string> expressions;
  std::string regex, source;
  bool drop_malformed = false;
  d.StringMap("expressions", &expressions);
  d.String("regex", &regex);
  const bool has_source = d.String("source", &source);
  d.Bool("drop_malformed", &drop_malformed);
  bool ok = true;
  if (expressions.empty() && regex.empty()) {
    errs.Block("JMES expressions or regex is required");
    ok = false;
  } else if (has_source && source.empty()) {
    errs.At("source", "empty source");
    ok = false;
  }
  std::vector<std::pair<std::string, jmespath::Expression>> compiled;
  if (ok) {
    for (const auto& [name, expr] : expressions) {
      // An empty expression means the key itself.
      const std::string& text = expr.empty() ? name : expr;
      absl::StatusOr<jmespath::Expression> e = jmespath::Expression::Compile(text);
      if (!e.ok()) {
        errs.At("expressions",
                absl::StrCat("could not compile JMES expression: ", e.status().message(),
                             " (expression \"", text, "\" for \"", name, "\")"));
        continue;
      }
      compiled.emplace_back(name, std::move(*e));
    }
  }
  std::unique_ptr<RE2> re;
  if (ok) OptionalRegex(d, errs, "regex", &re);
  if (!errs.Finish()) return nullptr;
  return std::make_unique<JsonStage>(ctx, std::move(compiled), std::move(re), std::move(source),
                                     has_source, drop_malformed);
}

std::unique_ptr<Stage> NewLogfmtStage(config::Decoder& d, const StageContext& ctx) {
  (void)ctx;
  StageErrors errs(d);
  std::map<std::string, std::string> mapping;
  std::string source, regex;
  d.StringMap("mapping", &mapping);
  d.String("source", &source);
  d.String("regex", &regex);
  std::unique_ptr<RE2> re;
  if (mapping.empty() && regex.empty()) {
    errs.Block("logfmt mapping or regex is required");
  } else {
    OptionalRegex(d, errs, "regex", &re);
  }
  if (!errs.Finish()) return nullptr;
  absl::flat_hash_map<std::string, std::string> inverse;
  for (const auto& [name, key] : mapping) inverse[key.empty() ? name : key] = name;
  return std::make_unique<LogfmtStage>(std::move(inverse), std::move(re), std::move(source));
}

std::unique_ptr<Stage> NewRegexStage(config::Decoder& d, const StageContext& ctx) {
  (void)ctx;
  StageErrors errs(d);
  std::string expression, source;
  bool labels_from_groups = false;
  d.String("expression", &expression, config::Required::kYes);
  const bool has_source = d.String("source", &source);
  d.Bool("labels_from_groups", &labels_from_groups);
  std::unique_ptr<RE2> re;
  if (d.Get("expression") != nullptr && expression.empty()) {
    errs.At("expression", "expression is required");
  } else if (has_source && source.empty()) {
    errs.At("source", "empty source");
  } else if (!expression.empty()) {
    std::string err;
    re = CompileGoRegexp(expression, &err);
    if (re == nullptr) {
      errs.At("expression", absl::StrCat("could not compile regular expression: ", err));
    }
  }
  if (!errs.Finish()) return nullptr;
  return std::make_unique<RegexStage>(std::move(re), std::move(source), has_source,
                                      labels_from_groups);
}

std::unique_ptr<Stage> NewReplaceStage(config::Decoder& d, const StageContext& ctx) {
  (void)ctx;
  StageErrors errs(d);
  std::string expression, source, replace;
  d.String("expression", &expression, config::Required::kYes);
  d.String("source", &source);
  d.String("replace", &replace);
  std::unique_ptr<RE2> re;
  absl::StatusOr<GoTemplate> tmpl = absl::InternalError("not parsed");
  if (d.Get("expression") != nullptr && expression.empty()) {
    errs.At("expression", "expression is required");
  } else if (!expression.empty()) {
    std::string err;
    re = CompileGoRegexp(expression, &err);
    if (re == nullptr) {
      errs.At("expression", absl::StrCat("could not compile regular expression: ", err));
    } else {
      tmpl = GoTemplate::Parse(replace);
      if (!tmpl.ok()) {
        errs.At("replace", absl::StrCat("failed to compile template: ", tmpl.status().message()));
      }
    }
  }
  if (!errs.Finish()) return nullptr;
  return std::make_unique<ReplaceStage>(std::move(re), std::move(source), std::move(*tmpl));
}

std::unique_ptr<Stage> NewPackStage(config::Decoder& d, const StageContext& ctx) {
  StageErrors errs(d);
  std::vector<std::string> labels;
  bool ingest_timestamp = true;
  d.StringList("labels", &labels, config::Required::kYes);
  d.Bool("ingest_timestamp", &ingest_timestamp);
  if (!errs.Finish()) return nullptr;
  return std::make_unique<PackStage>(ctx, std::move(labels), ingest_timestamp);
}

std::unique_ptr<Stage> NewDecolorizeStage(config::Decoder& d, const StageContext& ctx) {
  (void)ctx;
  StageErrors errs(d);
  if (!errs.Finish()) return nullptr;
  std::string err;
  std::unique_ptr<RE2> re = CompileGoRegexp(kAnsiPattern, &err);
  if (re == nullptr) {
    errs.Block(absl::StrCat("internal error: ANSI pattern: ", err));
    return nullptr;
  }
  return std::make_unique<DecolorizeStage>(std::move(re));
}

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
