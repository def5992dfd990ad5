#include "agent/process/logfmt.h"

#include "agent/common/utf8.h"

namespace sluice {
namespace {

// bufio.Scanner's default maximum token size: a longer line stops the scan with ErrTooLong.
constexpr size_t kMaxRecord = 64 * 1024;

// True when a key with non-ASCII bytes holds invalid UTF-8 or U+FFFD (go-logfmt refuses both).
bool KeyHasRuneError(std::string_view key) {
  for (size_t i = 0; i < key.size();) {
    unsigned char c = static_cast<unsigned char>(key[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = Utf8SequenceLength(key, i);
    if (len == 0) return true;
    if (len == 3 && key.substr(i, 3) == "\xEF\xBF\xBD") return true;
    i += len;
  }
  return false;
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// getu4: the \uXXXX at the start of `s`, or -1.
long U4(std::string_view s) {
  if (s.size() < 6 || s[0] != '\\' || s[1] != 'u') return -1;
  long r = 0;
  for (size_t i = 2; i < 6; ++i) {
    int h = Hex(s[i]);
    if (h < 0) return -1;
    r = r * 16 + h;
  }
  return r;
}

// Unquotes the body of a quoted value that contains a backslash (go-logfmt's unquoteBytes).
bool Unquote(std::string_view s, std::string* out) {
  out->clear();
  size_t r = 0;
  while (r < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[r]);
    if (c == '\\') {
      ++r;
      if (r >= s.size()) return false;
      switch (s[r]) {
        case '"':
        case '\\':
        case '/':
        case '\'':
          out->push_back(s[r++]);
          break;
        case 'b':
          out->push_back('\b');
          ++r;
          break;
        case 'f':
          out->push_back('\f');
          ++r;
          break;
        case 'n':
          out->push_back('\n');
          ++r;
          break;
        case 'r':
          out->push_back('\r');
          ++r;
          break;
        case 't':
          out->push_back('\t');
          ++r;
          break;
        case 'u': {
          --r;
          long rr = U4(s.substr(r));
          if (rr < 0) return false;
          r += 6;
          if (rr >= 0xD800 && rr < 0xE000) {
            long rr1 = U4(s.substr(r));
            if (rr < 0xDC00 && rr1 >= 0xDC00 && rr1 < 0xE000) {
              AppendUtf8Rune(
                  static_cast<uint32_t>(0x10000 + ((rr - 0xD800) << 10) + (rr1 - 0xDC00)), out);
              r += 6;
              break;
            }
            rr = 0xFFFD;
          }
          AppendUtf8Rune(static_cast<uint32_t>(rr), out);
          break;
        }
        default:
          return false;
      }
      continue;
    }
    if (c == '"' || c < ' ') return false;
    if (c < 0x80) {
      out->push_back(static_cast<char>(c));
      ++r;
      continue;
    }
    size_t len = Utf8SequenceLength(s, r);
    if (len == 0) {
      out->append("\xEF\xBF\xBD");
      ++r;
    } else {
      out->append(s.substr(r, len));
      r += len;
    }
  }
  return true;
}

// Decodes one record; false on a syntax error.
bool DecodeRecord(std::string_view line, std::string* scratch,
                  absl::FunctionRef<void(std::string_view, std::string_view)> fn) {
  size_t pos = 0;
  const size_t n = line.size();
  for (;;) {
    // Skip the garbage (bytes <= ' ') before a key.
    while (pos < n && static_cast<unsigned char>(line[pos]) <= ' ') ++pos;
    if (pos >= n) return true;

    const size_t key_start = pos;
    bool multibyte = false;
    std::string_view key;
    bool has_equal = false;
    while (pos < n) {
      unsigned char c = static_cast<unsigned char>(line[pos]);
      if (c == '=') {
        if (pos == key_start) return false;  // unexpected '='
        has_equal = true;
        break;
      }
      if (c == '"') return false;  // unexpected '"'
      if (c <= ' ') break;
      if (c >= 0x80) multibyte = true;
      ++pos;
    }
    key = line.substr(key_start, pos - key_start);
    if (multibyte && KeyHasRuneError(key)) return false;  // invalid key
    if (!has_equal) {
      fn(key, std::string_view());
      continue;
    }

    ++pos;  // past '='
    if (pos >= n || static_cast<unsigned char>(line[pos]) <= ' ') {
      fn(key, std::string_view());
      continue;
    }
    if (line[pos] != '"') {
      const size_t start = pos;
      while (pos < n) {
        unsigned char c = static_cast<unsigned char>(line[pos]);
        if (c == '=' || c == '"') return false;  // unexpected byte in a bare value
        if (c <= ' ') break;
        ++pos;
      }
      fn(key, line.substr(start, pos - start));
      continue;
    }

    // Quoted value.
    const size_t start = pos;  // at the opening quote
    bool has_esc = false, esc = false, closed = false;
    for (size_t p = pos + 1; p < n; ++p) {
      char c = line[p];
      if (esc) {
        esc = false;
      } else if (c == '\\') {
        has_esc = esc = true;
      } else if (c == '"') {
        pos = p + 1;
        closed = true;
        break;
      }
    }
    if (!closed) return false;  // unterminated quoted value
    std::string_view body = line.substr(start + 1, pos - start - 2);
    if (!has_esc) {
      fn(key, body);
      continue;
    }
    if (!Unquote(body, scratch)) return false;  // invalid quoted value
    fn(key, *scratch);
  }
}

}  // namespace

bool DecodeLogfmt(std::string_view input, std::string* scratch,
                  absl::FunctionRef<void(std::string_view key, std::string_view value)> fn) {
  while (!input.empty()) {
    size_t nl = input.find('\n');
    std::string_view raw = nl == std::string_view::npos ? input : input.substr(0, nl);
    if (raw.size() >= kMaxRecord) return false;
    input.remove_prefix(nl == std::string_view::npos ? input.size() : nl + 1);
    std::string_view line = raw;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!DecodeRecord(line, scratch, fn)) return false;
  }
  return true;
}

}  // namespace sluice
