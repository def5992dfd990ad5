// stage.luhn: replaces every run of at least `min_length` (default 13) digits that passes the
// Luhn check (credit card numbers) with `replacement` (default "**REDACTED**"), as Alloy's luhn
// stage: `delimiters` may separate the digits of one number ("4111-1111-..."), a number inside a
// `skip_regex` match is kept, and a run longer than a Go int holds (19 digits) is left as is, as
// Alloy's strconv.Atoi refuses it. With `source`, that extracted string is scanned and the
// result replaces the line (Alloy's behaviour).
//
// Owned by its pipeline and run on that pipeline's thread, the tail thread (see stage.h).
#include <memory>
#include <optional>
#include <string>

#include <re2/re2.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/go/regexp.h"
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
  LuhnStage(std::optional<std::string> source, std::string replacement, int min_length,
            std::string delimiters, std::unique_ptr<RE2> skip)
      : source_(std::move(source)),
        replacement_(std::move(replacement)),
        min_length_(min_length),
        delimiters_(std::move(delimiters)),
        skip_(std::move(skip)) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    if (!source_) {
      Redact(e.line);
      e.line.TakeFrom(&out_);
    } else {
      // As Alloy: a string extracted value is scanned, and the result becomes the line.
      const ExtractedValue* v = stage_util::FindExtracted(e, *source_);
      if (v != nullptr && v->kind == ExtractedValue::Kind::kString) {
        Redact(v->str);
        e.line.TakeFrom(&out_);
      }
    }
    emit(std::move(e));
  }

 private:
  // Alloy's scan: runs of digits (with `delimiters` inside a run) of at least min_length that
  // pass the Luhn check, and that no skip_regex match covers, are replaced (a trailing
  // delimiter kept). Writes the result to out_.
  void Redact(std::string_view in) {
    out_.clear();
    skip_matches_.clear();
    bool skip_loaded = false;
    size_t skip_index = 0;
    auto skipped = [&](size_t start, size_t end) {
      if (skip_ == nullptr) return false;
      if (!skip_loaded) {
        skip_loaded = true;
        re2::StringPiece input(in.data(), in.size()), m;
        size_t offset = 0;
        while (offset <= in.size() &&
               skip_->Match(input, offset, in.size(), RE2::UNANCHORED, &m, 1)) {
          size_t s = static_cast<size_t>(m.data() - in.data());
          skip_matches_.emplace_back(s, s + m.size());
          offset = m.empty() ? s + 1 : s + m.size();
        }
      }
      while (skip_index < skip_matches_.size() && skip_matches_[skip_index].second <= start) {
        ++skip_index;
      }
      return skip_index < skip_matches_.size() && skip_matches_[skip_index].first <= start &&
             end <= skip_matches_[skip_index].second;
    };
    digits_.clear();
    size_t start = 0, end = 0, text_end = 0;
    char trailing = 0;
    auto flush = [&] {
      if (digits_.empty()) return;
      std::string_view text = in.substr(start, text_end - start);
      // strconv.Atoi: at most 19 digits fit an int64 (a few 19-digit values overflow too).
      bool fits = digits_.size() < 19 || (digits_.size() == 19 && digits_ <= "9223372036854775807");
      if (static_cast<int>(digits_.size()) >= min_length_ && fits && IsLuhn(digits_) &&
          !skipped(start, end)) {
        out_ += replacement_;
        if (trailing != 0) out_.push_back(trailing);
      } else {
        out_.append(text);
      }
      digits_.clear();
      trailing = 0;
    };
    for (size_t i = 0; i < in.size(); ++i) {
      const char c = in[i];
      if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
        if (digits_.empty()) start = i;
        digits_.push_back(c);
        end = text_end = i + 1;
        trailing = 0;
      } else if (!digits_.empty() && !delimiters_.empty() &&
                 delimiters_.find(c) != std::string::npos) {
        text_end = i + 1;
        trailing = c;
      } else {
        flush();
        out_.push_back(c);
      }
    }
    flush();
  }

  const std::optional<std::string> source_;
  const std::string replacement_;
  const int min_length_;
  const std::string delimiters_;
  const std::unique_ptr<RE2> skip_;
  std::string out_;     // reused
  std::string digits_;  // reused
  std::vector<std::pair<size_t, size_t>> skip_matches_;
};

}  // namespace

std::unique_ptr<Stage> NewLuhnStage(config::Decoder& d, const StageContext& ctx) {
  (void)ctx;
  StageErrors errs(d);
  std::optional<std::string> source;
  std::string s, replacement, delimiters, skip;
  int64_t min_length = 0;
  if (d.String("source", &s)) {
    source = s;
    if (s.empty()) errs.At("source", "empty source");
  }
  d.String("replacement", &replacement);
  d.Int("min_length", &min_length);
  d.String("delimiters", &delimiters);
  std::unique_ptr<RE2> skip_re;
  if (d.String("skip_regex", &skip) && !skip.empty()) {
    std::string err;
    skip_re = CompileGoRegexp(skip, &err);
    if (skip_re == nullptr) {
      errs.At("skip_regex", absl::StrCat("could not compile regular expression: ", err));
    }
  }
  if (!errs.Finish()) return nullptr;
  // Alloy's defaults for unset or out-of-range values.
  if (replacement.empty()) replacement = "**REDACTED**";
  if (min_length < 1) min_length = 13;
  return std::make_unique<LuhnStage>(std::move(source), std::move(replacement),
                                     static_cast<int>(min_length), std::move(delimiters),
                                     std::move(skip_re));
}

}  // namespace sluice
