#include "agent/discovery/glob.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "agent/common/utf8.h"

namespace sluice::glob {
namespace {

constexpr std::string_view kBadPattern = "syntax error in pattern";

absl::Status BadPattern() { return absl::InvalidArgumentError(std::string(kBadPattern)); }

bool IsMeta(char c) { return c == '*' || c == '?' || c == '[' || c == '{'; }

// --- alternatives --------------------------------------------------------------------------

// Index of the '}' closing the '{' at `open`, or npos.
size_t MatchingBrace(std::string_view p, size_t open) {
  int depth = 0;
  for (size_t i = open; i < p.size(); ++i) {
    if (p[i] == '\\') {
      ++i;
    } else if (p[i] == '{') {
      ++depth;
    } else if (p[i] == '}') {
      if (--depth == 0) return i;
    }
  }
  return std::string_view::npos;
}

// Index of the first unescaped '{', or npos.
size_t FirstBrace(std::string_view p) {
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\') {
      ++i;
    } else if (p[i] == '{') {
      return i;
    }
  }
  return std::string_view::npos;
}

// Expands `{a,b}` (nested, escapes respected) into brace-free patterns, in order. Matching the
// alternatives one by one is what doublestar's matcher does when it meets a `{`.
bool ExpandAlternatives(std::string_view p, size_t limit, std::vector<std::string>* out) {
  size_t open = FirstBrace(p);
  if (open == std::string_view::npos) {
    if (out->size() >= limit) return false;
    out->emplace_back(p);
    return true;
  }
  size_t close = MatchingBrace(p, open);
  if (close == std::string_view::npos) return false;  // ValidPattern() refuses this first
  std::string_view prefix = p.substr(0, open);
  std::string_view suffix = p.substr(close + 1);
  std::string_view inner = p.substr(open + 1, close - open - 1);
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= inner.size(); ++i) {
    if (i < inner.size()) {
      char c = inner[i];
      if (c == '\\') {
        ++i;
        continue;
      }
      if (c == '{') ++depth;
      if (c == '}') --depth;
      if (c != ',' || depth != 0) continue;
    }
    std::string alt;
    alt.reserve(prefix.size() + (i - start) + suffix.size());
    alt.append(prefix).append(inner.substr(start, i - start)).append(suffix);
    if (!ExpandAlternatives(alt, limit, out)) return false;
    start = i + 1;
  }
  return true;
}

// --- one path segment ----------------------------------------------------------------------

// Matches the class starting at p[*pi] == '[' against `r`; leaves *pi after the closing ']'.
// The pattern is validated, so the class is closed.
bool MatchClass(std::string_view p, size_t* pi, uint32_t r) {
  size_t i = *pi + 1;
  bool negate = i < p.size() && (p[i] == '!' || p[i] == '^');
  if (negate) ++i;
  bool matched = false;
  bool have_last = false;
  uint32_t last = 0;
  while (i < p.size() && p[i] != ']') {
    size_t w;
    uint32_t c = DecodeUtf8Rune(p, i, &w);
    i += w;
    if (have_last && c == '-' && i < p.size() && p[i] != ']') {
      if (p[i] == '\\') ++i;
      uint32_t hi = DecodeUtf8Rune(p, i, &w);
      i += w;
      if (last <= r && r <= hi) matched = true;
      have_last = false;  // "a-b-d": the second '-' is a literal
      continue;
    }
    if (c == '\\' && i < p.size()) {
      c = DecodeUtf8Rune(p, i, &w);
      i += w;
    }
    if (c == r) matched = true;
    last = c;
    have_last = true;
  }
  *pi = i + 1;  // past ']'
  return matched != negate;
}

// One rune of `s` at `i`: ASCII without a call (names and patterns are nearly always ASCII).
uint32_t RuneAt(std::string_view s, size_t i, size_t* width) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    *width = 1;
    return c;
  }
  return DecodeUtf8Rune(s, i, width);
}

// The ASCII literal bytes that end segment pattern `p`, which every name it matches ends with
// (a quick refusal before matching: "*<pod uid>" against a pods directory). Empty when `p` ends
// with a metacharacter, an escape or a class, or a non-ASCII byte (a literal U+FFFD in a pattern
// matches an invalid byte of a name, so bytes are not compared there).
std::string_view LiteralSuffix(std::string_view p) {
  size_t start = p.size();
  while (start > 0) {
    const unsigned char c = static_cast<unsigned char>(p[start - 1]);
    if (c >= 0x80 || c == '*' || c == '?' || c == '[' || c == ']' || c == '\\' || c == '{' ||
        c == '}') {
      break;
    }
    --start;
  }
  // An escaped byte just before (`\x`) is left out with its backslash: the suffix only narrows.
  return p.substr(start);
}

// Whether segment pattern `p` (no '/') matches all of `name` (no '/'). Backtracks to the last `*`
// only, which suffices because neither side holds a separator.
bool MatchSegment(std::string_view p, std::string_view name) {
  if (!name.ends_with(LiteralSuffix(p))) return false;
  size_t pi = 0, ni = 0;
  size_t star_pi = std::string_view::npos, star_ni = 0;
  while (ni < name.size()) {
    if (pi < p.size()) {
      char c = p[pi];
      if (c == '*') {
        while (pi < p.size() && p[pi] == '*') ++pi;
        star_pi = pi;
        star_ni = ni;
        continue;
      }
      size_t nw;
      uint32_t nr = RuneAt(name, ni, &nw);
      if (c == '?') {
        ++pi;
        ni += nw;
        continue;
      }
      if (c == '[') {
        size_t next = pi;
        if (MatchClass(p, &next, nr)) {
          pi = next;
          ni += nw;
          continue;
        }
      } else {
        size_t at = c == '\\' ? pi + 1 : pi;
        size_t pw;
        uint32_t pr = RuneAt(p, at, &pw);
        if (pr == nr) {
          pi = at + pw;
          ni += nw;
          continue;
        }
      }
    }
    if (star_pi == std::string_view::npos) return false;
    size_t w;
    RuneAt(name, star_ni, &w);
    star_ni += w;
    ni = star_ni;
    pi = star_pi;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

// Splits on every unescaped '/'. "/a" gives {"", "a"}, "a/" gives {"a", ""}.
std::vector<std::string_view> SplitSegments(std::string_view p) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\') {
      ++i;
    } else if (p[i] == '/') {
      out.push_back(p.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(p.substr(start));
  return out;
}

bool HasMeta(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (IsMeta(s[i])) {
      return true;
    }
  }
  return false;
}

// doublestar's unescapeMeta: only `\*`, `\?`, `\[`, `\]`, `\{`, `\}` lose their backslash (used
// for the part of a pattern before any meta character).
std::string UnescapeMeta(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char n = s[i + 1];
      if (n == '*' || n == '?' || n == '[' || n == ']' || n == '{' || n == '}') {
        out.push_back(n);
        ++i;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// Every backslash escape resolved (how the matcher reads a literal segment).
std::string UnescapeAll(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) ++i;
    out.push_back(s[i]);
  }
  return out;
}

// Whether a brace-free pattern matches `path`, segment by segment; `**` segments take zero or more
// path segments. Memoised over (pattern segment, path segment), so the cost is bounded by their
// product.
bool MatchSegments(const std::vector<std::string_view>& p, const std::vector<std::string_view>& n) {
  const size_t m = p.size(), k = n.size();
  // 0 unknown, 1 false, 2 true
  std::vector<uint8_t> memo((m + 1) * (k + 1), 0);
  auto rec = [&](auto& self, size_t i, size_t j) -> bool {
    uint8_t& slot = memo[i * (k + 1) + j];
    if (slot != 0) return slot == 2;
    bool r;
    if (i == m) {
      r = j == k;
    } else if (j == k) {
      // Out of path: the rest must be able to match nothing: `**` segments, possibly closed by
      // one trailing "" (doublestar lets "a/**/" match "a").
      size_t q = i;
      while (q < m && p[q] == "**") ++q;
      r = q == m || (q + 1 == m && p[q].empty() && q > i);
    } else if (p[i] == "**") {
      r = self(self, i + 1, j) || self(self, i, j + 1);
    } else {
      r = MatchSegment(p[i], n[j]) && self(self, i + 1, j + 1);
    }
    slot = r ? 2 : 1;
    return r;
  };
  return rec(rec, 0, 0);
}

// --- walking -------------------------------------------------------------------------------

std::string JoinPath(std::string_view dir, std::string_view name) {
  if (dir.empty() || dir == ".") return std::string(name);
  std::string out(dir);
  if (out.back() != '/') out.push_back('/');
  out.append(name);
  return out;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.empty() ? "." : dir.c_str());
  if (d == nullptr) return names;  // unreadable or gone: no matches, as doublestar
  while (struct dirent* e = readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    names.emplace_back(n);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

const std::vector<std::string>& DirCache::List(const std::string& dir) {
  auto [it, added] = listings_.try_emplace(dir);
  if (added) it->second = ListDir(dir);
  return it->second;
}

namespace {

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

class Walker {
 public:
  Walker(const GlobOptions& opts, GlobResult* out) : opts_(opts), out_(out) {}

  // Globs one brace-free, cleaned pattern.
  void Run(std::string_view pattern) {
    segs_ = SplitSegments(pattern);
    if (!HasMeta(pattern)) {
      EmitIfFile(UnescapeMeta(pattern));
      return;
    }
    // The segments before the first meta character form the starting directory.
    size_t first_meta = 0;
    while (!HasMeta(segs_[first_meta])) ++first_meta;
    std::string base;
    for (size_t i = 0; i < first_meta; ++i) {
      if (i == 0 && segs_[0].empty()) {
        base = "/";
        continue;
      }
      base = JoinPath(base, UnescapeMeta(segs_[i]));
    }
    Walk(base, first_meta);
  }

 private:
  bool Full() {
    if (out_->matches.size() < opts_.max_matches) return false;
    out_->truncated = true;
    return true;
  }

  void EmitIfFile(std::string path) {
    if (Full()) return;
    struct stat st;
    if (stat(path.empty() ? "." : path.c_str(), &st) != 0 || S_ISDIR(st.st_mode)) return;
    if (!seen_.insert(path).second) return;
    out_->matches.push_back(GlobMatch{std::move(path), MtimeNs(st)});
  }

  // Whether `path` is a directory (symlinks followed), with its identity for cycle checks.
  static bool IsDir(const std::string& path, struct stat* st) {
    return stat(path.empty() ? "." : path.c_str(), st) == 0 && S_ISDIR(st->st_mode);
  }

  void Walk(const std::string& dir, size_t i) {
    if (Full()) return;
    const std::string_view seg = segs_[i];
    const bool last = i + 1 == segs_.size();
    if (seg == "**") {
      struct stat st;
      if (!IsDir(dir, &st)) return;
      DoubleStar(dir, st, i, last, 0);
      return;
    }
    if (!HasMeta(seg)) {
      std::string child = JoinPath(dir, UnescapeAll(seg));
      if (last) {
        EmitIfFile(std::move(child));
        return;
      }
      struct stat st;
      if (IsDir(child, &st)) Walk(child, i + 1);
      return;
    }
    std::vector<std::string> own;
    const std::vector<std::string>& names =
        opts_.dir_cache != nullptr ? opts_.dir_cache->List(dir) : (own = ListDir(dir));
    for (const std::string& name : names) {
      if (Full()) return;
      if (!MatchSegment(seg, name)) continue;
      std::string child = JoinPath(dir, name);
      if (last) {
        EmitIfFile(std::move(child));
        continue;
      }
      struct stat st;
      if (IsDir(child, &st)) Walk(child, i + 1);
    }
  }

  // `**` at segment i over directory `dir` (already known to be one): `dir` itself, then each
  // subdirectory depth first in name order. A directory already on this descent is a symlink
  // cycle and is not entered again.
  void DoubleStar(const std::string& dir, const struct stat& dir_st, size_t i, bool last,
                  int depth) {
    if (Full()) return;
    const std::pair<dev_t, ino_t> id{dir_st.st_dev, dir_st.st_ino};
    if (std::find(stack_.begin(), stack_.end(), id) != stack_.end()) return;
    stack_.push_back(id);
    if (!last) Walk(dir, i + 1);
    std::vector<std::string> own;
    const std::vector<std::string>& names =
        opts_.dir_cache != nullptr ? opts_.dir_cache->List(dir) : (own = ListDir(dir));
    for (const std::string& name : names) {
      if (Full()) break;
      std::string child = JoinPath(dir, name);
      struct stat st;
      if (stat(child.c_str(), &st) != 0) continue;  // broken link, raced away
      if (S_ISDIR(st.st_mode)) {
        if (depth < opts_.max_depth) DoubleStar(child, st, i, last, depth + 1);
      } else if (last && seen_.insert(child).second) {
        out_->matches.push_back(GlobMatch{std::move(child), MtimeNs(st)});
      }
    }
    stack_.pop_back();
  }

  const GlobOptions& opts_;
  GlobResult* out_;
  std::vector<std::string_view> segs_;
  std::vector<std::pair<dev_t, ino_t>> stack_;
  absl::flat_hash_set<std::string> seen_;
};

}  // namespace

bool ValidPattern(std::string_view s) {
  int alt_depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    switch (s[i]) {
      case '\\':
        if (++i >= s.size()) return false;
        break;
      case '[': {
        if (++i >= s.size()) return false;
        if (s[i] == '^' || s[i] == '!') ++i;
        if (i >= s.size() || s[i] == ']') return false;  // unclosed or empty class
        bool closed = false;
        for (; i < s.size(); ++i) {
          if (s[i] == '\\') {
            ++i;
          } else if (s[i] == ']') {
            closed = true;
            break;
          }
        }
        if (!closed) return false;
        break;
      }
      case '{':
        ++alt_depth;
        break;
      case '}':
        if (alt_depth == 0) return false;
        --alt_depth;
        break;
      default:
        break;
    }
  }
  return alt_depth == 0;
}

absl::StatusOr<bool> Match(std::string_view pattern, std::string_view path) {
  if (!ValidPattern(pattern)) return BadPattern();
  std::vector<std::string> alts;
  if (!ExpandAlternatives(pattern, GlobOptions().max_alternatives, &alts)) return BadPattern();
  // The path is plain text: only '/' separates, a backslash is an ordinary character.
  std::vector<std::string_view> plain_names;
  {
    size_t start = 0;
    for (size_t i = 0; i <= path.size(); ++i) {
      if (i == path.size() || path[i] == '/') {
        plain_names.push_back(path.substr(start, i - start));
        start = i + 1;
      }
    }
  }
  for (const std::string& alt : alts) {
    if (MatchSegments(SplitSegments(alt), plain_names)) return true;
  }
  return false;
}

absl::StatusOr<GlobResult> Glob(std::string_view pattern, const GlobOptions& options) {
  GlobResult result;
  if (pattern.empty()) return result;
  std::string cleaned = CleanPath(pattern);
  if (!ValidPattern(cleaned)) return BadPattern();
  std::vector<std::string> alts;
  if (!ExpandAlternatives(cleaned, options.max_alternatives, &alts)) return BadPattern();
  {
    Walker walker(options, &result);
    for (const std::string& alt : alts) {
      walker.Run(alts.size() == 1 ? alt : CleanPath(alt));
      if (result.truncated) break;
    }
  }
  if (alts.size() > 1) {
    // Alternatives can overlap ("{a,*}"); doublestar merges them into one sorted list.
    std::sort(result.matches.begin(), result.matches.end(),
              [](const GlobMatch& a, const GlobMatch& b) { return a.path < b.path; });
  }
  return result;
}

std::string StaticPrefix(std::string_view pattern) {
  std::string p = CleanPath(pattern);
  size_t split = std::string::npos;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\') {
      ++i;
    } else if (p[i] == '/') {
      split = i;
    } else if (IsMeta(p[i])) {
      break;
    }
  }
  if (split == std::string::npos) return ".";
  if (split == 0) return "/";
  return UnescapeMeta(std::string_view(p).substr(0, split));
}

std::optional<int> MaxMatchDepth(std::string_view pattern) {
  std::string cleaned = CleanPath(pattern);
  if (!ValidPattern(cleaned)) return std::nullopt;
  std::vector<std::string> alts;
  if (!ExpandAlternatives(cleaned, GlobOptions().max_alternatives, &alts)) return std::nullopt;
  auto count = [](std::string_view p) {
    if (p == "." || p == "/") return 0;
    std::vector<std::string_view> segs = SplitSegments(p);
    int n = static_cast<int>(segs.size());
    if (!segs.empty() && segs[0].empty()) --n;  // the root
    return n;
  };
  const int prefix = count(StaticPrefix(cleaned));
  int best = 0;
  for (const std::string& alt : alts) {
    std::string c = CleanPath(alt);
    for (std::string_view seg : SplitSegments(c)) {
      if (seg == "**") return std::nullopt;
    }
    best = std::max(best, count(c) - prefix);
  }
  return best;
}

std::string CleanPath(std::string_view path) {
  if (path.empty()) return ".";
  const bool rooted = path[0] == '/';
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view e = path.substr(i, j - i);
    i = j + 1;
    if (e.empty() || e == ".") continue;
    if (e == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!rooted) {
        parts.push_back(e);
      }
      continue;
    }
    parts.push_back(e);
  }
  std::string out = rooted ? "/" : "";
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k > 0) out.push_back('/');
    out.append(parts[k]);
  }
  if (out.empty()) return ".";
  return out;
}

}  // namespace sluice::glob
