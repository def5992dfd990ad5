// Go's strconv quoting; see strconv.h. Pure functions.
#include "agent/go/strconv.h"

#include "absl/strings/ascii.h"

#include <cstdint>

#include "agent/common/utf8.h"

namespace sluice {
namespace {

constexpr char kHex[] = "0123456789abcdef";

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

}  // namespace

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
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
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

std::string GoQuote(std::string_view s) {
  std::string out;
  AppendGoQuoted(s, &out);
  return out;
}

bool GoUnquote(std::string_view lit, std::string* out) {
  out->clear();
  if (lit.size() < 2) return false;
  const char q = lit.front();
  if (lit.back() != q) return false;
  std::string_view s = lit.substr(1, lit.size() - 2);
  if (q == '`') {
    if (s.find('`') != std::string_view::npos) return false;
    for (char c : s) {
      if (c != '\r') out->push_back(c);  // Go drops carriage returns from raw strings
    }
    return true;
  }
  if (q != '"' && q != '\'') return false;
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (c == q || c == '\n') return false;
    if (c != '\\') {
      out->push_back(c);
      ++i;
      continue;
    }
    if (i + 1 >= s.size()) return false;
    const char e = s[i + 1];
    i += 2;
    switch (e) {
      case 'a':
        out->push_back('\a');
        continue;
      case 'b':
        out->push_back('\b');
        continue;
      case 'f':
        out->push_back('\f');
        continue;
      case 'n':
        out->push_back('\n');
        continue;
      case 'r':
        out->push_back('\r');
        continue;
      case 't':
        out->push_back('\t');
        continue;
      case 'v':
        out->push_back('\v');
        continue;
      case '\\':
        out->push_back('\\');
        continue;
      default:
        break;
    }
    if (e == q) {  // \" in a string, \' in a character literal, not the other way round
      out->push_back(e);
      continue;
    }
    int n;
    int base = 16;
    if (e >= '0' && e <= '7') {
      n = 3;
      base = 8;
      --i;  // the first octal digit is part of the value
    } else if (e == 'x') {
      n = 2;
    } else if (e == 'u') {
      n = 4;
    } else if (e == 'U') {
      n = 8;
    } else {
      return false;
    }
    if (i + static_cast<size_t>(n) > s.size()) return false;
    uint32_t v = 0;
    for (int k = 0; k < n; ++k) {
      int d = HexDigit(s[i + static_cast<size_t>(k)]);
      if (d >= base) return false;
      v = v * static_cast<uint32_t>(base) + static_cast<uint32_t>(d);
    }
    i += static_cast<size_t>(n);
    if (e == 'u' || e == 'U') {
      if (v > 0x10FFFF || (v >= 0xD800 && v < 0xE000)) return false;
      AppendUtf8Rune(v, out);
    } else {
      if (v > 255) return false;
      out->push_back(static_cast<char>(v));  // \x and octal escapes are raw bytes
    }
  }
  return true;
}

std::string GoQueryEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace sluice
