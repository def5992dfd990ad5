#include "agent/common/quote.h"

namespace sluice {
namespace {

constexpr char kHex[] = "0123456789abcdef";

bool IsCont(unsigned char c) { return (c & 0xC0) == 0x80; }

// The escapes Go and JSON spell alike: quote, backslash, \n, \r, \t. True if `c` was one.
bool AppendCommonEscape(unsigned char c, std::string* out) {
  switch (c) {
    case '"':
      out->append("\\\"");
      return true;
    case '\\':
      out->append("\\\\");
      return true;
    case '\n':
      out->append("\\n");
      return true;
    case '\r':
      out->append("\\r");
      return true;
    case '\t':
      out->append("\\t");
      return true;
    default:
      return false;
  }
}

}  // namespace

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

void AppendGoQuoted(std::string_view s, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {
        // Go quotes an invalid byte as \xHH.
        out->append("\\x");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 0xF]);
        ++i;
      } else {
        out->append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    if (AppendCommonEscape(c, out)) {
      ++i;
      continue;
    }
    switch (c) {
      case '\a':
        out->append("\\a");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\v':
        out->append("\\v");
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out->append("\\x");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xF]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out->push_back('"');
}

void AppendJsonQuoted(std::string_view s, std::string* out) {
  out->push_back('"');
  size_t run = 0;  // start of the pending run of bytes that need no escaping
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.substr(run, i - run));
    run = i + 1;
    if (!AppendCommonEscape(c, out)) {
      out->append("\\u00");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xF]);
    }
  }
  out->append(s.substr(run));
  out->push_back('"');
}

}  // namespace sluice
