#include "agent/relabel/relabel.h"

#include <locale.h>
#include <wctype.h>

#include <algorithm>
#include <array>
#include <map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "agent/common/digest.h"
#include "agent/common/strings.h"
#include "agent/common/utf8.h"
#include "agent/go/regexp.h"
#include "agent/go/strconv.h"
#include "re2/re2.h"

namespace sluice {

namespace relabel_internal {

// A replacement or target template, parsed once: literal runs and references to capture groups.
// References that can never match (unknown name, number above the group count) are dropped at
// parse time, because Go expands them to nothing.
struct TemplatePart {
  std::string literal;  // appended first
  int group = -1;       // then this submatch, when >= 0
};

struct Template {
  std::vector<TemplatePart> parts;
  int max_group = -1;       // highest group referenced, -1 for none
  bool has_dollar = false;  // whether the text held a `$` at all
};

struct Compiled {
  std::unique_ptr<RE2> re;
  Template target;         // replace: target_label
  Template replacement;    // replace and labelmap
  int replace_groups = 1;  // submatches to ask RE2 for in replace (whole match included)
  int labelmap_groups = 1;
};

}  // namespace relabel_internal

namespace {

using relabel_internal::Compiled;
using relabel_internal::Template;
using relabel_internal::TemplatePart;

constexpr std::string_view kDefaultRegex = "(.*)";
constexpr std::string_view kDefaultReplacement = "$1";
constexpr std::string_view kDefaultSeparator = ";";

struct ActionName {
  RelabelAction action;
  std::string_view name;
};
constexpr std::array<ActionName, 11> kActions = {{
    {RelabelAction::kReplace, "replace"},
    {RelabelAction::kKeep, "keep"},
    {RelabelAction::kDrop, "drop"},
    {RelabelAction::kKeepEqual, "keepequal"},
    {RelabelAction::kDropEqual, "dropequal"},
    {RelabelAction::kHashMod, "hashmod"},
    {RelabelAction::kLabelMap, "labelmap"},
    {RelabelAction::kLabelDrop, "labeldrop"},
    {RelabelAction::kLabelKeep, "labelkeep"},
    {RelabelAction::kLowercase, "lowercase"},
    {RelabelAction::kUppercase, "uppercase"},
}};

absl::StatusOr<std::unique_ptr<RE2>> CompileAnchored(std::string_view regex) {
  // Anchored exactly as Alloy (and Prometheus) do, so that a regex that closes the group early
  // behaves the same here as there.
  std::string anchored = absl::StrCat("^(?s:", Av(regex), ")$");
  std::string error;
  std::unique_ptr<RE2> re = CompileGoRegexp(anchored, &error);
  if (re == nullptr) return absl::InvalidArgumentError(error);
  return re;
}

// Go's unicode.IsLetter || unicode.IsDigit for one code point given as UTF-8. Only used while
// parsing templates, never per label.
bool IsLetterOrDigit(std::string_view utf8_rune) {
  static const RE2* const kRe = [] {
    RE2::Options opts;
    opts.set_log_errors(false);
    return new RE2(R"([\p{L}\p{Nd}])", opts);
  }();
  return RE2::FullMatch(re2::StringPiece(utf8_rune.data(), utf8_rune.size()), *kRe);
}

// Length of the template name at the start of `s` (letters, digits, '_'), as Go's extract().
size_t NameLength(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') {
        ++i;
        continue;
      }
      break;
    }
    size_t len = Utf8SequenceLength(s, i);
    if (len == 0 || !IsLetterOrDigit(s.substr(i, len))) break;  // invalid UTF-8: RuneError
    i += len;
  }
  return i;
}

// Parses `text` the way Go's Regexp.Expand reads a template: `$$` is a dollar, `$name` and
// `${name}` refer to a group by number (all digits, no leading zero) or by name, and a `$` not
// followed by a valid reference is literal. Names are resolved against `re` here.
Template ParseTemplate(std::string_view text, const RE2& re) {
  Template t;
  std::string lit;
  const int ngroups = re.NumberOfCapturingGroups();
  const std::map<std::string, int>& named = re.NamedCapturingGroups();
  size_t i = 0;
  while (i < text.size()) {
    size_t dollar = text.find('$', i);
    if (dollar == std::string_view::npos) {
      lit.append(text.substr(i));
      break;
    }
    t.has_dollar = true;
    lit.append(text.substr(i, dollar - i));
    std::string_view rest = text.substr(dollar + 1);
    if (!rest.empty() && rest[0] == '$') {
      lit.push_back('$');
      i = dollar + 2;
      continue;
    }
    bool brace = !rest.empty() && rest[0] == '{';
    std::string_view body = brace ? rest.substr(1) : rest;
    size_t n = NameLength(body);
    bool ok = n > 0 && (!brace || (n < body.size() && body[n] == '}'));
    if (!ok) {
      lit.push_back('$');
      i = dollar + 1;
      continue;
    }
    std::string_view name = body.substr(0, n);
    i = dollar + 1 + (brace ? 1 : 0) + n + (brace ? 1 : 0);
    // A number only when every byte is a digit, without a leading zero, below 1e8 (Go's rules).
    int64_t num = 0;
    for (char c : name) {
      if (c < '0' || c > '9' || num >= 100000000) {
        num = -1;
        break;
      }
      num = num * 10 + (c - '0');
    }
    if (name.size() > 1 && name[0] == '0') num = -1;
    int group = -1;
    if (num >= 0) {
      if (num <= ngroups) group = static_cast<int>(num);
    } else {
      auto it = named.find(std::string(name));
      if (it != named.end()) group = it->second;
    }
    if (group < 0) continue;  // expands to nothing
    t.parts.push_back(TemplatePart{std::move(lit), group});
    lit.clear();
    if (group > t.max_group) t.max_group = group;
  }
  if (!lit.empty()) t.parts.push_back(TemplatePart{std::move(lit), -1});
  return t;
}

// The subject of a match. RE2 in UTF-8 mode matches nothing against an invalid byte, where Go's
// regexp reads each such byte as U+FFFD (so `(.*)` copies any value). For the rare invalid value
// RE2 gets a copy with each bad byte replaced by U+FFFD, and matched ranges are mapped back to
// the original bytes; valid text (nearly always) is matched in place.
class MatchText {
 public:
  explicit MatchText(std::string_view s) : orig_(s) {
    if (IsValidUtf8(s)) return;
    fixed_.reserve(s.size() + 8);
    map_.reserve(s.size() + 9);
    size_t i = 0;
    while (i < s.size()) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      size_t len = c < 0x80 ? 1 : Utf8SequenceLength(s, i);
      if (len == 0) {
        fixed_.append("\xEF\xBF\xBD");
        for (int k = 0; k < 3; ++k) map_.push_back(static_cast<uint32_t>(i));
        ++i;
        continue;
      }
      for (size_t k = 0; k < len; ++k) map_.push_back(static_cast<uint32_t>(i + k));
      fixed_.append(s.substr(i, len));
      i += len;
    }
    map_.push_back(static_cast<uint32_t>(s.size()));
    sanitized_ = true;
  }

  re2::StringPiece piece() const {
    return sanitized_ ? re2::StringPiece(fixed_.data(), fixed_.size())
                      : re2::StringPiece(orig_.data(), orig_.size());
  }
  size_t size() const { return sanitized_ ? fixed_.size() : orig_.size(); }
  // Offset of `sub` (a piece of piece()) from the start.
  size_t Offset(const re2::StringPiece& sub) const {
    return static_cast<size_t>(sub.data() - piece().data());
  }
  // The original bytes behind [begin, end) of piece(). Match boundaries fall on code point
  // boundaries, where the map is exact.
  std::string_view Original(size_t begin, size_t end) const {
    if (!sanitized_) return orig_.substr(begin, end - begin);
    size_t b = map_[begin];
    size_t e = end == fixed_.size() ? orig_.size() : map_[end];
    if (end > begin && e <= b) e = b + 1;  // inside one replaced byte (never at a boundary)
    return orig_.substr(b, e - b);
  }

 private:
  std::string_view orig_;
  bool sanitized_ = false;
  std::string fixed_;
  std::vector<uint32_t> map_;  // fixed_ offset -> orig_ offset
};

void Expand(const Template& t, const MatchText& text, const re2::StringPiece* sub, int nsub,
            std::string* out) {
  for (const TemplatePart& p : t.parts) {
    out->append(p.literal);
    if (p.group >= 0 && p.group < nsub && sub[p.group].data() != nullptr) {
      size_t b = text.Offset(sub[p.group]);
      out->append(text.Original(b, b + sub[p.group].size()));
    }
  }
}

// Alloy's relabelTarget: letters or `$` references, then word characters, repeated.
bool IsRelabelTarget(std::string_view s) {
  static const RE2* const kRe =
      new RE2(R"(^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$)", RE2::Quiet);
  return RE2::FullMatch(re2::StringPiece(s.data(), s.size()), *kRe);
}

// prometheus/common's default scheme (UTF-8), which is what Alloy's Validate consults.
bool IsValidUtf8Name(std::string_view s) { return !s.empty() && IsValidUtf8(s); }

bool IsValidName(std::string_view s, LabelNameScheme scheme) {
  return scheme == LabelNameScheme::kUtf8 ? IsValidUtf8Name(s) : IsValidLabelName(s);
}

bool WritesTarget(RelabelAction a) {
  return a == RelabelAction::kReplace || a == RelabelAction::kHashMod ||
         a == RelabelAction::kLowercase || a == RelabelAction::kUppercase ||
         a == RelabelAction::kKeepEqual || a == RelabelAction::kDropEqual;
}

bool IsCaseOrEqual(RelabelAction a) {
  return a == RelabelAction::kLowercase || a == RelabelAction::kUppercase ||
         a == RelabelAction::kKeepEqual || a == RelabelAction::kDropEqual;
}

// Alloy's Config.Validate, check for check and in its order.
absl::Status ValidateRule(const RelabelRule& r) {
  const std::string_view action = RelabelActionName(r.action);
  auto invalid_target = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        GoQuote(r.target_label), " is invalid 'target_label' for ", Av(action), " action"));
  };
  if (r.action == RelabelAction::kHashMod && r.modulus == 0) {
    return absl::InvalidArgumentError(
        "relabel configuration for hashmod requires non-zero modulus");
  }
  if (WritesTarget(r.action) && r.target_label.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("relabel configuration for ", Av(action),
                                                   " action requires 'target_label' value"));
  }
  const bool has_dollar = r.target_label.find('$') != std::string::npos;
  if (r.action == RelabelAction::kReplace && !has_dollar && !IsValidUtf8Name(r.target_label)) {
    return invalid_target();
  }
  if (r.action == RelabelAction::kReplace && has_dollar && !IsRelabelTarget(r.target_label)) {
    return invalid_target();
  }
  if (IsCaseOrEqual(r.action) && !IsValidUtf8Name(r.target_label)) return invalid_target();
  if (IsCaseOrEqual(r.action) && r.replacement != kDefaultReplacement) {
    return absl::InvalidArgumentError(
        absl::StrCat("'replacement' can not be set for ", Av(action), " action"));
  }
  if (r.action == RelabelAction::kLabelMap && !IsRelabelTarget(r.replacement)) {
    return absl::InvalidArgumentError(absl::StrCat(
        GoQuote(r.replacement), " is invalid 'replacement' for ", Av(action), " action"));
  }
  if (r.action == RelabelAction::kHashMod && !IsValidUtf8Name(r.target_label)) {
    return invalid_target();
  }
  if (r.action == RelabelAction::kLabelDrop || r.action == RelabelAction::kLabelKeep) {
    if (r.source_labels_set || !r.source_labels.empty() || !r.target_label.empty() ||
        r.modulus != 0 || r.separator != kDefaultSeparator ||
        r.replacement != kDefaultReplacement) {
      return absl::InvalidArgumentError(
          absl::StrCat(Av(action), " action requires only 'regex', and no other fields"));
    }
  }
  if (r.action == RelabelAction::kKeepEqual || r.action == RelabelAction::kDropEqual) {
    if (r.regex != kDefaultRegex || r.modulus != 0 || r.separator != kDefaultSeparator ||
        r.replacement != kDefaultReplacement) {
      return absl::InvalidArgumentError(absl::StrCat(
          Av(action),
          " action requires only 'source_labels' and 'target_label', and no other fields"));
    }
  }
  return absl::OkStatus();
}

void Finalize(RelabelRule* r, std::unique_ptr<RE2> re) {
  auto c = std::make_shared<Compiled>();
  c->target = ParseTemplate(r->target_label, *re);
  c->replacement = ParseTemplate(r->replacement, *re);
  c->replace_groups = std::max(c->target.max_group, c->replacement.max_group) + 1;
  if (c->replace_groups < 1) c->replace_groups = 1;
  c->labelmap_groups = std::max(c->replacement.max_group + 1, 1);
  c->re = std::move(re);
  r->compiled = std::move(c);
}

// --- application ---------------------------------------------------------------------------

// Submatch storage on the stack for the common case of few groups.
class Submatches {
 public:
  explicit Submatches(int n) : n_(n) {
    if (n_ > static_cast<int>(stack_.size())) heap_.resize(n_);
  }
  re2::StringPiece* data() {
    return n_ > static_cast<int>(stack_.size()) ? heap_.data() : stack_.data();
  }
  int size() const { return n_; }

 private:
  int n_;
  std::array<re2::StringPiece, 10> stack_;
  std::vector<re2::StringPiece> heap_;
};

bool Matches(const RE2& re, std::string_view s) {
  MatchText text(s);
  return re.Match(text.piece(), 0, text.size(), RE2::UNANCHORED, nullptr, 0);
}

// Go's Regexp.ReplaceAllString with a `$` template. The regex is anchored, so this is one
// replacement of the whole name in practice; the loop keeps Go's result for regexes that escape
// the anchors (`a)|(b`).
void ReplaceAll(const RE2& re, const Template& t, int ngroups, std::string_view src,
                std::string* out) {
  Submatches sub(ngroups);
  MatchText text(src);
  const re2::StringPiece piece = text.piece();
  const size_t size = text.size();
  size_t search = 0;
  size_t last_end = 0;
  while (search <= size) {
    if (!re.Match(piece, search, size, RE2::UNANCHORED, sub.data(), sub.size())) break;
    size_t a0 = text.Offset(sub.data()[0]);
    size_t a1 = a0 + sub.data()[0].size();
    out->append(text.Original(last_end, a0));
    // No replacement for an empty match right after the previous match.
    if (a1 > last_end || a0 == 0) Expand(t, text, sub.data(), sub.size(), out);
    last_end = a1;
    size_t width = 0;
    if (search < size) {
      std::string_view p(piece.data(), piece.size());
      width = std::max<size_t>(Utf8SequenceLength(p, search), 1);
    }
    if (search + width > a1) {
      search += width;
    } else if (search + 1 > a1) {
      search++;
    } else {
      search = a1;
    }
  }
  out->append(text.Original(last_end, size));
}

// Setting a label to "" deletes it, in both of Alloy's label builders.
void SetOrDelete(LabelSet* labels, std::string_view name, std::string_view value) {
  if (value.empty()) {
    labels->Remove(name);
  } else {
    labels->Set(name, value);
  }
}

// Applies one rule; false when it drops the set. `val` is scratch space reused across rules.
bool ApplyRule(const RelabelRule& r, LabelSet* labels, LabelNameScheme scheme, std::string& val) {
  const Compiled& c = *r.compiled;
  const RE2& re = *c.re;
  val.clear();
  for (size_t i = 0; i < r.source_labels.size(); ++i) {
    if (i > 0) val.append(r.separator);
    if (LabelValue v = labels->Get(r.source_labels[i])) val.append(*v);
  }
  switch (r.action) {
    case RelabelAction::kDrop:
      return !Matches(re, val);
    case RelabelAction::kKeep:
      return Matches(re, val);
    case RelabelAction::kDropEqual: {
      LabelValue t = labels->Get(r.target_label);
      return (!t ? std::string_view() : std::string_view(*t)) != val;
    }
    case RelabelAction::kKeepEqual: {
      LabelValue t = labels->Get(r.target_label);
      return (!t ? std::string_view() : std::string_view(*t)) == val;
    }
    case RelabelAction::kReplace: {
      Submatches sub(c.replace_groups);
      MatchText text(val);
      if (!re.Match(text.piece(), 0, text.size(), RE2::UNANCHORED, sub.data(), sub.size())) {
        return true;  // no match, no change
      }
      std::string expanded_target;
      std::string_view target = r.target_label;
      if (c.target.has_dollar) {
        Expand(c.target, text, sub.data(), sub.size(), &expanded_target);
        target = expanded_target;
      }
      if (!IsValidName(target, scheme)) return true;
      std::string res;
      Expand(c.replacement, text, sub.data(), sub.size(), &res);
      SetOrDelete(labels, target, res);
      return true;
    }
    case RelabelAction::kLowercase:
      SetOrDelete(labels, r.target_label, GoToLower(val));
      return true;
    case RelabelAction::kUppercase:
      SetOrDelete(labels, r.target_label, GoToUpper(val));
      return true;
    case RelabelAction::kHashMod: {
      std::array<uint8_t, 16> sum = Md5(val);
      uint64_t h = 0;
      for (int i = 8; i < 16; ++i) h = (h << 8) | sum[i];
      labels->Set(r.target_label, std::to_string(h % r.modulus));
      return true;
    }
    case RelabelAction::kLabelMap: {
      // Iterate a snapshot: names written by this rule are not themselves mapped (Prometheus'
      // Builder.Range does the same).
      const LabelSet snapshot = *labels;
      std::string name;
      for (const auto& [n, v] : snapshot.labels()) {
        if (!Matches(re, n)) continue;
        name.clear();
        ReplaceAll(re, c.replacement, c.labelmap_groups, n, &name);
        // An empty name cannot be sent to Loki; Alloy would write it and fail the push.
        if (name.empty()) continue;
        labels->Set(name, v);
      }
      return true;
    }
    case RelabelAction::kLabelDrop:
    case RelabelAction::kLabelKeep: {
      const bool drop_matching = r.action == RelabelAction::kLabelDrop;
      // Walk backwards so that removing label i leaves the indexes below it in place.
      std::vector<std::string> gone;
      for (const auto& [n, v] : labels->labels()) {
        if (Matches(re, n) == drop_matching) gone.emplace_back(n);
      }
      for (const std::string& n : gone) labels->Remove(n);
      return true;
    }
  }
  return true;
}

// --- registry of exported rule sets ------------------------------------------------------------

class RuleRegistry {
 public:
  static RuleRegistry& Get() {
    static RuleRegistry* const kInstance = new RuleRegistry();
    return *kInstance;
  }

  std::string Add(std::shared_ptr<const RuleSet> rules, std::string_view owner) {
    absl::MutexLock lock(&mu_);
    // Forget the sets nobody holds any more; the map stays as large as the live exports.
    for (auto it = sets_.begin(); it != sets_.end();) {
      auto cur = it++;
      if (cur->second.expired()) sets_.erase(cur);
    }
    std::string id = absl::StrCat(Av(owner), "#", ++next_);
    sets_[id] = rules;
    return id;
  }

  std::shared_ptr<const RuleSet> Find(const std::string& id) {
    absl::MutexLock lock(&mu_);
    auto it = sets_.find(id);
    if (it == sets_.end()) return nullptr;
    return it->second.lock();
  }

 private:
  absl::Mutex mu_;
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, std::weak_ptr<const RuleSet>> sets_ ABSL_GUARDED_BY(mu_);
};

std::string RulesTypeName() { return absl::StrCat("capsule(\"", Av(kRulesCapsuleType), "\")"); }

}  // namespace

std::string_view RelabelActionName(RelabelAction action) {
  for (const ActionName& a : kActions) {
    if (a.action == action) return a.name;
  }
  return "replace";
}

absl::StatusOr<RelabelAction> ParseRelabelAction(std::string_view name) {
  for (const ActionName& a : kActions) {
    if (a.name == name) return a.action;
  }
  return absl::InvalidArgumentError(absl::StrCat("unrecognized action type ", GoQuote(name)));
}

absl::Status CompileRule(RelabelRule* rule) {
  absl::StatusOr<std::unique_ptr<RE2>> re = CompileAnchored(rule->regex);
  if (!re.ok()) return re.status();
  absl::Status st = ValidateRule(*rule);
  if (!st.ok()) return st;
  Finalize(rule, std::move(*re));
  return absl::OkStatus();
}

bool Relabel(const std::vector<RelabelRule>& rules, LabelSet* labels, LabelNameScheme scheme) {
  // Empty values mean "absent" to Alloy's builders; drop them so that Range-style actions and the
  // output agree with Alloy's.
  std::vector<std::string> empty;
  for (const auto& [n, v] : labels->labels()) {
    if (v.empty()) empty.emplace_back(n);
  }
  for (const std::string& n : empty) labels->Remove(n);
  std::string val;
  for (const RelabelRule& r : rules) {
    if (r.compiled == nullptr) continue;  // not compiled: a caller bug, CompileRule() refused it
    if (!ApplyRule(r, labels, scheme, val)) return false;
  }
  return true;
}

std::vector<RelabelRule> DecodeRules(config::Decoder& d) {
  std::vector<RelabelRule> out;
  config::Diags* diags = d.diags();
  for (const config::Block* b : d.Blocks("rule")) {
    const size_t errors_before = diags->list().size();
    config::Decoder rd(*b, diags);
    RelabelRule r;
    if (rd.StringList("source_labels", &r.source_labels)) r.source_labels_set = true;
    rd.String("separator", &r.separator);
    rd.String("regex", &r.regex);
    std::unique_ptr<RE2> re;
    absl::StatusOr<std::unique_ptr<RE2>> compiled = CompileAnchored(r.regex);
    if (compiled.ok()) {
      re = std::move(*compiled);
    } else {
      rd.ErrorAt("regex", std::string(Sv(compiled.status().message())));
    }
    int64_t modulus = 0;
    // Alloy converts the number to Go's uint64 without a range check: -1 wraps around.
    if (rd.Int("modulus", &modulus)) r.modulus = static_cast<uint64_t>(modulus);
    rd.String("target_label", &r.target_label);
    rd.String("replacement", &r.replacement);
    std::string action;
    if (rd.String("action", &action)) {
      absl::StatusOr<RelabelAction> a = ParseRelabelAction(action);
      if (a.ok()) {
        r.action = *a;
      } else {
        rd.ErrorAt("action", std::string(Sv(a.status().message())));
      }
    }
    rd.Finish();
    if (diags->list().size() != errors_before) continue;
    // Alloy validates only a rule that decoded cleanly, and reports at the rule.
    absl::Status st = ValidateRule(r);
    if (!st.ok()) {
      diags->Add(b->span, std::string(Sv(st.message())));
      continue;
    }
    Finalize(&r, std::move(re));
    out.push_back(std::move(r));
  }
  return out;
}

config::Value RulesToValue(std::shared_ptr<const RuleSet> rules, std::string_view owner) {
  std::string id = RuleRegistry::Get().Add(std::move(rules), owner);
  return config::Value::MakeCapsule({std::string(kRulesCapsuleType), std::move(id)});
}

absl::StatusOr<std::shared_ptr<const RuleSet>> RulesFromValue(const config::Value& value) {
  if (value.kind() != config::Value::Kind::kCapsule ||
      value.as_capsule().type != kRulesCapsuleType) {
    return absl::InvalidArgumentError(config::TypeMismatch(RulesTypeName(), value));
  }
  std::shared_ptr<const RuleSet> rules = RuleRegistry::Get().Find(value.as_capsule().id);
  if (rules == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("relabel rules ", value.as_capsule().id, " no longer exist"));
  }
  return rules;
}

bool DecodeRulesAttr(config::Decoder& d, std::string_view name,
                     std::shared_ptr<const RuleSet>* out) {
  const config::Attr* a = d.Get(name);
  if (a == nullptr) return false;
  absl::StatusOr<std::shared_ptr<const RuleSet>> rules = RulesFromValue(a->value);
  if (!rules.ok()) {
    d.Error(a->value_span, std::string(Sv(rules.status().message())));
    return false;
  }
  *out = std::move(*rules);
  return true;
}

}  // namespace sluice
