// stage.luhn: replaces every run of at least `min_length` (default 13) digits that passes the
// Luhn check (credit card numbers) with `replacement` (default "**REDACTED**"), in the line or,
// with `source`, in that extracted value, as Alloy's luhn stage: a run longer than a Go int
// holds (19 digits) is left as is, as Alloy's strconv.Atoi refuses it.
//
// Owned by its pipeline and run on that pipeline's thread, the tail thread (see stage.h).
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "agent/process/stage.h"
#include "agent/process/stages/registry.h"
#include "agent/process/stages/stage_util.h"

namespace sluice {
namespace {

using stage_util::StageErrors;

// Alloy's isLuhn on the number's value (leading zeros do not count).
bool IsLuhn(std::string_view digits) {
  size_t i = 0;
  while (i + 1 < digits.size() && digits[i] == '0') ++i;
  digits = digits.substr(i);
  int sum = 0;
  bool twice = false;
  for (size_t k = digits.size(); k-- > 0;) {
    int d = digits[k] - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

class LuhnStage final : public Stage {
 public:
  LuhnStage(std::optional<std::string> source, std::string replacement, int min_length)
      : source_(std::move(source)), replacement_(std::move(replacement)), min_length_(min_length) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    if (!source_) {
      if (Redact(e.line)) e.line.swap(out_);
    } else {
      std::string value;
      const ExtractedValue* v = stage_util::FindExtracted(e, *source_);
      if (v != nullptr && v->ToString(&value) && Redact(value)) {
        e.extracted[*source_] = ExtractedValue::String(out_);
      }
    }
    emit(std::move(e));
  }

 private:
  // Writes the redacted text to out_; false when nothing changed.
  bool Redact(std::string_view in) {
    out_.clear();
    bool changed = false;
    size_t i = 0;
    while (i < in.size()) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(in[i]))) {
        out_.push_back(in[i++]);
        continue;
      }
      size_t start = i;
      while (i < in.size() && absl::ascii_isdigit(static_cast<unsigned char>(in[i]))) ++i;
      std::string_view run = in.substr(start, i - start);
      // strconv.Atoi: at most 19 digits fit an int64 (a few 19-digit values overflow too).
      bool fits = run.size() < 19 || (run.size() == 19 && run <= "9223372036854775807");
      if (static_cast<int>(run.size()) >= min_length_ && fits && IsLuhn(run)) {
        out_ += replacement_;
        changed = true;
      } else {
        out_.append(run);
      }
    }
    return changed;
  }

  const std::optional<std::string> source_;
  const std::string replacement_;
  const int min_length_;
  std::string out_;  // reused
};

}  // namespace

std::unique_ptr<Stage> NewLuhnStage(config::Decoder& d, const StageContext& ctx) {
  (void)ctx;
  StageErrors errs(d);
  std::optional<std::string> source;
  std::string s, replacement = "**REDACTED**";
  int64_t min_length = 13;
  if (d.String("source", &s)) source = s;
  d.String("replacement", &replacement);
  d.Int("min_length", &min_length);
  if (min_length <= 0) errs.At("min_length", "min_length must be greater than 0");
  if (!errs.Finish()) return nullptr;
  return std::make_unique<LuhnStage>(std::move(source), std::move(replacement),
                                     static_cast<int>(min_length));
}

}  // namespace sluice
