// UTF-8 validation and repair; see utf8.h. Stateless, thread-safe.
#include "agent/common/utf8.h"

#include <cstdint>
#include <cstring>
#include <cwctype>

#include <simdjson.h>

namespace sluice {
namespace {

constexpr uint64_t kHighBits = 0x8080808080808080ULL;
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool IsCont(unsigned char c) { return (c & 0xC0) == 0x80; }

// Returns the offset of the first ill-formed sequence in p[0, n), or n if there is none. On an
// error, *bad_len receives the length of its maximal subpart (1-3 bytes; see utf8.h).
size_t FindInvalid(const unsigned char* p, size_t n, size_t* bad_len) {
  // Almost every line is valid: simdjson's validator (SIMD, the same rules as below: Unicode's
  // table 3-7, no overlongs, surrogates or code points past U+10FFFF) says so in one pass at
  // many bytes per cycle; only a line it rejects is walked below to find where and how long.
  if (simdjson::validate_utf8(reinterpret_cast<const char*>(p), n)) return n;
  size_t i = 0;
  while (i < n) {
    if (p[i] < 0x80) {
      // Log lines are overwhelmingly ASCII: test 16, then 8 bytes per step for any high bit.
      // memcpy is the aliasing-safe unaligned load; compilers turn it into one mov.
      while (i + 16 <= n) {
        uint64_t a, b;
        std::memcpy(&a, p + i, 8);
        std::memcpy(&b, p + i + 8, 8);
        if ((a | b) & kHighBits) break;
        i += 16;
      }
      while (i + 8 <= n) {
        uint64_t a;
        std::memcpy(&a, p + i, 8);
        if (a & kHighBits) break;
        i += 8;
      }
      while (i < n && p[i] < 0x80) ++i;
      if (i == n) break;
    }

    // A lead byte fixes the sequence length and the allowed range of the second byte (table 3-7):
    // the narrowed ranges after E0/F0 reject overlongs, after ED surrogates, after F4 > U+10FFFF.
    const unsigned c = p[i];
    size_t trail;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0xC2) {  // A stray continuation byte, or C0/C1 which could only start overlongs.
      *bad_len = 1;
      return i;
    } else if (c < 0xE0) {
      trail = 1;
    } else if (c < 0xF0) {
      trail = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c < 0xF5) {
      trail = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {  // F5-FF would encode beyond U+10FFFF.
      *bad_len = 1;
      return i;
    }
    if (i + 1 >= n || p[i + 1] < lo || p[i + 1] > hi) {
      *bad_len = 1;
      return i;
    }
    for (size_t k = 2; k <= trail; ++k) {
      if (i + k >= n || (p[i + k] & 0xC0) != 0x80) {
        *bad_len = k;  // The lead and the k-1 good continuation bytes form the maximal subpart.
        return i;
      }
    }
    i += trail + 1;
  }
  *bad_len = 0;
  return n;
}

}  // namespace

size_t ValidUtf8PrefixLength(std::string_view s) {
  size_t bad_len;
  return FindInvalid(reinterpret_cast<const unsigned char*>(s.data()), s.size(), &bad_len);
}

bool IsValidUtf8(std::string_view s) { return ValidUtf8PrefixLength(s) == s.size(); }

size_t AppendSanitizedUtf8(std::string_view s, std::string* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  size_t replacements = 0;
  for (;;) {
    size_t bad_len;
    const size_t good = FindInvalid(p, n, &bad_len);
    // Valid stretches are copied in bulk, never byte by byte.
    out->append(reinterpret_cast<const char*>(p), good);
    if (good == n) break;
    out->append(kReplacement);
    ++replacements;
    p += good + bad_len;
    n -= good + bad_len;
  }
  return replacements;
}

size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto at = [&](size_t k) -> unsigned char {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0;
  };
  unsigned char c = at(0);
  unsigned char c1 = at(1);
  if (c >= 0xC2 && c <= 0xDF) return IsCont(c1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;
    unsigned char hi = c == 0xED ? 0x9F : 0xBF;
    return (c1 >= lo && c1 <= hi && IsCont(at(2))) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
    unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;
    return (c1 >= lo && c1 <= hi && IsCont(at(2)) && IsCont(at(3))) ? 4 : 0;
  }
  return 0;
}

uint32_t DecodeUtf8Rune(std::string_view s, size_t i, size_t* width) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    *width = 1;
    return c;
  }
  const size_t len = Utf8SequenceLength(s, i);
  if (len == 0) {
    *width = 1;
    return kRuneError;
  }
  uint32_t r = c & (0xFF >> (len + 1));
  for (size_t k = 1; k < len; ++k) r = (r << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  *width = len;
  return r;
}

void AppendUtf8Rune(uint32_t r, std::string* out) {
  if (r > 0x10FFFF || (r >= 0xD800 && r < 0xE000)) r = kRuneError;
  if (r < 0x80) {
    out->push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (r >> 6)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (r >> 12)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (r >> 18)));
    out->push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
}

bool IsGoSpace(uint32_t r) {
  switch (r) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return r >= 0x2000 && r <= 0x200A;
  }
}

locale_t Utf8CLocale() {
  static const locale_t kLocale = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
  return kLocale;
}

namespace {

std::string ChangeCase(std::string_view s, bool upper) {
  std::string out;
  out.reserve(s.size());
  const locale_t loc = Utf8CLocale();
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      char a = static_cast<char>(c);
      if (upper && a >= 'a' && a <= 'z') a = static_cast<char>(a - 32);
      if (!upper && a >= 'A' && a <= 'Z') a = static_cast<char>(a + 32);
      out.push_back(a);
      ++i;
      continue;
    }
    size_t w;
    uint32_t r = DecodeUtf8Rune(s, i, &w);
    if (r != kRuneError && loc != static_cast<locale_t>(0)) {
      r = static_cast<uint32_t>(upper ? towupper_l(static_cast<wint_t>(r), loc)
                                      : towlower_l(static_cast<wint_t>(r), loc));
    }
    AppendUtf8Rune(r, &out);
    i += w;
  }
  return out;
}

}  // namespace

std::string GoToUpper(std::string_view s) { return ChangeCase(s, true); }
std::string GoToLower(std::string_view s) { return ChangeCase(s, false); }

}  // namespace sluice
