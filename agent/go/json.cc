#include "agent/go/json.h"

#include <charconv>
#include <cmath>

#include "agent/common/utf8.h"

namespace sluice {

void AppendGoJsonString(std::string_view s, std::string* out, GoJson flavor) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t start = 0;
  size_t i = 0;
  auto flush = [&] {
    if (start < i) out->append(s.substr(start, i - start));
  };
  while (i < s.size()) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      if (b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&') {
        ++i;
        continue;
      }
      flush();
      switch (b) {
        case '"':
        case '\\':
          out->push_back('\\');
          out->push_back(static_cast<char>(b));
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
        case '\b':
          out->append(flavor == GoJson::kEncodingJson ? "\\b" : "\\u0008");
          break;
        case '\f':
          out->append(flavor == GoJson::kEncodingJson ? "\\f" : "\\u000c");
          break;
        default:
          out->append("\\u00");
          out->push_back(kHex[b >> 4]);
          out->push_back(kHex[b & 0xF]);
      }
      start = ++i;
      continue;
    }
    size_t len = Utf8SequenceLength(s, i);
    if (len == 0) {
      flush();
      out->append("\\ufffd");
      start = ++i;
      continue;
    }
    // U+2028 / U+2029: E2 80 A8 / E2 80 A9.
    if (len == 3 && b == 0xE2 && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(s[i + 2]) & 0xFE) == 0xA8) {
      flush();
      out->append(static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029");
      i += 3;
      start = i;
      continue;
    }
    i += len;
  }
  flush();
  out->push_back('"');
}

void AppendGoJsonNumber(double v, std::string* out) {
  if (!std::isfinite(v)) {
    out->append("null");
    return;
  }
  char buf[400];
  const double abs = std::fabs(v);
  const bool exp = abs != 0 && (abs < 1e-6 || abs >= 1e21);
  auto res = std::to_chars(buf, buf + sizeof buf, v,
                           exp ? std::chars_format::scientific : std::chars_format::fixed);
  size_t n = static_cast<size_t>(res.ptr - buf);
  if (exp && n >= 4 && buf[n - 4] == 'e' && buf[n - 3] == '-' && buf[n - 2] == '0') {
    // "1e-07" -> "1e-7", as Go does.
    buf[n - 2] = buf[n - 1];
    --n;
  }
  out->append(buf, n);
}

}  // namespace sluice
