#include "agent/go/regexp.h"

#include <vector>

#include "absl/container/inlined_vector.h"

#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"

namespace sluice {
namespace {

// Rewrites Go's `(?<name>` into RE2's `(?P<name>`, leaving escapes, `\Q...\E` quotes and character
// classes alone (a `(?<` inside them is literal text).
std::string TranslatePattern(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 4);
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      if (p[i + 1] == 'Q') {
        size_t e = p.find("\\E", i + 2);
        size_t stop = e == std::string_view::npos ? p.size() : e + 2;
        out.append(p.substr(i, stop - i));
        i = stop - 1;
        continue;
      }
      out.push_back(c);
      out.push_back(p[++i]);
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      out.push_back(c);
      continue;
    }
    if (c == '[') {
      in_class = true;
      out.push_back(c);
      // A ']' right after '[' or '[^' is a literal member, not the end of the class.
      if (i + 1 < p.size() && p[i + 1] == '^') out.push_back(p[++i]);
      if (i + 1 < p.size() && p[i + 1] == ']') out.push_back(p[++i]);
      continue;
    }
    if (c == '(' && p.substr(i, 3) == "(?<" && i + 3 < p.size() && p[i + 3] != '=' &&
        p[i + 3] != '!') {
      out.append("(?P<");
      i += 2;
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string_view GoErrorText(RE2::ErrorCode code) {
  switch (code) {
    case RE2::ErrorBadEscape:
      return "invalid escape sequence";
    case RE2::ErrorBadCharClass:
      return "invalid character class";
    case RE2::ErrorBadCharRange:
      return "invalid character class range";
    case RE2::ErrorMissingBracket:
      return "missing closing ]";
    case RE2::ErrorMissingParen:
      return "missing closing )";
    case RE2::ErrorUnexpectedParen:
      return "unexpected )";
    case RE2::ErrorTrailingBackslash:
      return "trailing backslash at end of expression";
    case RE2::ErrorRepeatArgument:
      return "missing argument to repetition operator";
    case RE2::ErrorRepeatSize:
      return "invalid repeat count";
    case RE2::ErrorRepeatOp:
      return "invalid nested repetition operator";
    case RE2::ErrorBadPerlOp:
      return "invalid or unsupported Perl syntax";
    case RE2::ErrorBadUTF8:
      return "invalid UTF-8";
    case RE2::ErrorBadNamedCapture:
      return "invalid named capture";
    case RE2::ErrorPatternTooLarge:
      return "expression too large";
    default:
      return "";
  }
}

// One search from `pos`; fills `groups` as offsets. False when nothing matches.
// Submatch buffers live on the stack for the usual handful of groups.
using PieceBuffer = absl::InlinedVector<re2::StringPiece, 16>;
using GroupBuffer = absl::InlinedVector<GoSubmatch, 16>;

bool MatchAt(const RE2& re, std::string_view text, size_t pos, GoSubmatch* groups, int n,
             PieceBuffer* scratch) {
  scratch->resize(static_cast<size_t>(n));
  re2::StringPiece sp(text.data(), text.size());
  if (!re.Match(sp, pos, text.size(), RE2::UNANCHORED, scratch->data(), n)) return false;
  for (int i = 0; i < n; ++i) {
    const re2::StringPiece& g = (*scratch)[static_cast<size_t>(i)];
    if (g.data() == nullptr) {
      groups[i] = GoSubmatch{};
    } else {
      int b = static_cast<int>(g.data() - text.data());
      groups[i] = GoSubmatch{b, b + static_cast<int>(g.size())};
    }
  }
  return true;
}

// Width of the UTF-8 sequence at text[pos] as Go's DecodeRuneInString counts it (1 for an
// invalid byte).
size_t RuneWidth(std::string_view text, size_t pos) {
  unsigned char c = static_cast<unsigned char>(text[pos]);
  size_t w = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
  if (pos + w > text.size()) return 1;
  for (size_t i = 1; i < w; ++i) {
    if ((static_cast<unsigned char>(text[pos + i]) & 0xC0) != 0x80) return 1;
  }
  return w;
}

bool IsNameByte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Regexp.Expand: appends `tmpl` with $-references replaced by the submatches of `groups`.
void Expand(const RE2& re, std::string_view tmpl, std::string_view src, const GoSubmatch* groups,
            int n, std::string* out) {
  while (!tmpl.empty()) {
    size_t d = tmpl.find('$');
    if (d == std::string_view::npos) break;
    out->append(tmpl.substr(0, d));
    tmpl.remove_prefix(d + 1);
    if (!tmpl.empty() && tmpl[0] == '$') {
      out->push_back('$');
      tmpl.remove_prefix(1);
      continue;
    }
    // Extract the name: `{name}` or the longest run of name bytes.
    std::string_view name;
    size_t consumed = 0;
    bool ok = false;
    if (!tmpl.empty() && tmpl[0] == '{') {
      size_t i = 1;
      while (i < tmpl.size() && IsNameByte(tmpl[i])) ++i;
      if (i > 1 && i < tmpl.size() && tmpl[i] == '}') {
        name = tmpl.substr(1, i - 1);
        consumed = i + 1;
        ok = true;
      }
    } else {
      size_t i = 0;
      while (i < tmpl.size() && IsNameByte(tmpl[i])) ++i;
      if (i > 0) {
        name = tmpl.substr(0, i);
        consumed = i;
        ok = true;
      }
    }
    if (!ok) {
      // Malformed reference: the '$' is kept as is.
      out->push_back('$');
      continue;
    }
    tmpl.remove_prefix(consumed);
    int index = -1;
    bool numeric = true;
    int num = 0;
    for (char c : name) {
      if (c < '0' || c > '9') {
        numeric = false;
        break;
      }
      if (num < 100000) num = num * 10 + (c - '0');
    }
    if (numeric) {
      index = num;
    } else {
      auto it = re.NamedCapturingGroups().find(std::string(name));
      if (it != re.NamedCapturingGroups().end()) index = it->second;
    }
    if (index >= 0 && index < n && groups[index].begin >= 0) {
      out->append(src.substr(static_cast<size_t>(groups[index].begin),
                             static_cast<size_t>(groups[index].end - groups[index].begin)));
    }
  }
  out->append(tmpl);
}

}  // namespace

std::unique_ptr<RE2> CompileGoRegexp(std::string_view pattern, std::string* error) {
  RE2::Options opts;
  opts.set_log_errors(false);
  auto re = std::make_unique<RE2>(TranslatePattern(pattern), opts);
  if (re->ok()) return re;
  std::string_view text = GoErrorText(re->error_code());
  if (text.empty()) {
    *error = absl::StrCat("error parsing regexp: ", re->error());
  } else {
    std::string_view arg = re->error_arg().empty() ? pattern : std::string_view(re->error_arg());
    // Go names no text for a trailing backslash.
    if (re->error_code() == RE2::ErrorTrailingBackslash) arg = {};
    *error = absl::StrCat("error parsing regexp: ", Av(text), ": `", Av(arg), "`");
  }
  return nullptr;
}

bool FindGoSubmatch(const RE2& re, std::string_view text, GoSubmatch* groups, int n) {
  PieceBuffer scratch;
  return MatchAt(re, text, 0, groups, n, &scratch);
}

int ForEachGoMatch(const RE2& re, std::string_view text,
                   absl::FunctionRef<void(const GoSubmatch* groups, int n)> fn) {
  const int n = 1 + re.NumberOfCapturingGroups();
  GroupBuffer groups(static_cast<size_t>(n));
  PieceBuffer scratch;
  int count = 0;
  long prev_end = -1;
  size_t pos = 0;
  while (pos <= text.size()) {
    if (!MatchAt(re, text, pos, groups.data(), n, &scratch)) break;
    bool accept = true;
    if (static_cast<size_t>(groups[0].end) == pos) {
      // An empty match; one right after the previous match is not reported.
      if (groups[0].begin == prev_end) accept = false;
      pos += pos < text.size() ? RuneWidth(text, pos) : 1;
    } else {
      pos = static_cast<size_t>(groups[0].end);
    }
    prev_end = groups[0].end;
    if (accept) {
      fn(groups.data(), n);
      ++count;
    }
  }
  return count;
}

void GoReplaceAll(const RE2& re, std::string_view src, std::string_view repl, bool literal,
                  std::string* out) {
  const int n = 1 + re.NumberOfCapturingGroups();
  GroupBuffer groups(static_cast<size_t>(n));
  PieceBuffer scratch;
  size_t last_end = 0;
  size_t pos = 0;
  while (pos <= src.size()) {
    if (!MatchAt(re, src, pos, groups.data(), n, &scratch)) break;
    const size_t b = static_cast<size_t>(groups[0].begin);
    const size_t e = static_cast<size_t>(groups[0].end);
    out->append(src.substr(last_end, b - last_end));
    // An empty match adjacent to the previous one is not replaced (Go's replaceAll).
    if (e > last_end || b == 0) {
      if (literal) {
        out->append(repl);
      } else {
        Expand(re, repl, src, groups.data(), n, out);
      }
    }
    last_end = e;
    const size_t width = pos < src.size() ? RuneWidth(src, pos) : 1;
    if (pos + width > e) {
      pos += width;
    } else if (pos + 1 > e) {
      ++pos;
    } else {
      pos = e;
    }
  }
  out->append(src.substr(last_end));
}

}  // namespace sluice
