// UTF-8 validation and repair for log lines.
//
// Loki stores entries as (protobuf / JSON) strings, which must be valid UTF-8, while containers
// write whatever bytes they like. The tailer checks every line with IsValidUtf8 (nearly always
// true, so it is tuned for ASCII) and only copies through AppendSanitizedUtf8 when it fails.
// Stateless and thread-safe; no allocation beyond growing the caller's output string.
#pragma once

#include <locale.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

// True if `s` is valid UTF-8 per Unicode table 3-7: overlong forms, UTF-16 surrogates
// (U+D800-U+DFFF), code points above U+10FFFF and truncated sequences are all invalid. ASCII is
// checked 8 bytes at a time.
bool IsValidUtf8(std::string_view s);

// Length (2..4) of the well-formed UTF-8 sequence starting at s[i] (a lead byte >= 0x80), or 0:
// no overlongs, no surrogates, nothing past U+10FFFF (the Unicode table of well-formed
// sequences).
size_t Utf8SequenceLength(std::string_view s, size_t i);

// Length of the longest valid UTF-8 prefix of `s` (== s.size() iff IsValidUtf8(s)).
size_t ValidUtf8PrefixLength(std::string_view s);

// Appends `s` to *out with every invalid sequence replaced by U+FFFD (EF BF BD). Returns the
// number of replacements made (0 means `s` was appended unchanged).
//
// Replacement policy: one U+FFFD per *maximal subpart* of an ill-formed sequence, the practice
// Unicode recommends (chapter 3, "U+FFFD Substitution of Maximal Subparts") and that the WHATWG
// encoding standard, ICU and Python's errors="replace" follow. A maximal subpart is the longest
// prefix of a well-formed sequence that occurs before the error, or a single byte if the first
// byte cannot start a sequence. So "\xE2\x82" (a truncated euro sign) becomes one U+FFFD, while
// "\xC0\xAF" (an overlong '/'; C0 never starts a sequence) becomes two. This sits between Go's
// strings.ToValidUTF8 (one U+FFFD per run of bad bytes) and Go's range-over-string decoding (one
// per bad byte); every choice yields valid UTF-8, this one keeps the most information about
// where the damage was without inflating it byte by byte.
size_t AppendSanitizedUtf8(std::string_view s, std::string* out);

// --- Go's rune handling (the config language and the Go-compatible stages) --------------------

inline constexpr uint32_t kRuneError = 0xFFFD;

// Go's utf8.DecodeRuneInString(s[i:]) (i < s.size()): an invalid or truncated sequence is
// U+FFFD with width 1.
uint32_t DecodeUtf8Rune(std::string_view s, size_t i, size_t* width);

// Go's utf8.AppendRune: surrogates and values above U+10FFFF are written as U+FFFD.
void AppendUtf8Rune(uint32_t r, std::string* out);

// Go's strings.ToUpper / ToLower: per code point simple case mapping (glibc's C.UTF-8 tables,
// ASCII directly); invalid bytes become U+FFFD as Go's strings.Map writes them.
std::string GoToUpper(std::string_view s);
std::string GoToLower(std::string_view s);

// Go's unicode.IsSpace.
bool IsGoSpace(uint32_t r);

// The C.UTF-8 locale for the wide-character classifications above (iswalpha_l...); (locale_t)0
// when the C library lacks it. Created once.
locale_t Utf8CLocale();

}  // namespace sluice
