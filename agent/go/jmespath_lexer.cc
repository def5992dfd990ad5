// go-jmespath's lexer (lexer.go): tokens, quoted identifiers, `json` and 'raw' literals, with
// its error texts. See jmespath_internal.h.
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
#include "agent/common/utf8.h"
#include "agent/go/jmespath_internal.h"

namespace sluice::jmespath {

absl::Status SyntaxError(std::string_view msg) {
  return absl::InvalidArgumentError(absl::StrCat("SyntaxError: ", Av(msg)));
}

namespace {

// strconv.QuoteRuneToASCII.
std::string QuoteRune(uint32_t r) {
  char buf[16];
  if (r == '\'') return "'\\''";
  if (r == '\\') return "'\\\\'";
  if (r >= 0x20 && r < 0x7F) return std::string{'\'', static_cast<char>(r), '\''};
  switch (r) {
    case '\a':
      return "'\\a'";
    case '\b':
      return "'\\b'";
    case '\f':
      return "'\\f'";
    case '\v':
      return "'\\v'";
  }
  if (r < 0x80) {
    std::snprintf(buf, sizeof buf, "'\\x%02x'", r);
  } else if (r < 0x10000) {
    std::snprintf(buf, sizeof buf, "'\\u%04x'", r);
  } else {
    std::snprintf(buf, sizeof buf, "'\\U%08x'", r);
  }
  return buf;
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes the body of a JSON string (without quotes), as encoding/json would: errors for bad
// escapes and raw control characters; lone surrogates become U+FFFD.
absl::Status UnquoteJson(std::string_view s, std::string* out) {
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (static_cast<unsigned char>(c) < 0x20) {
      return absl::InvalidArgumentError("invalid character in string literal");
    }
    if (c == '"') {
      return absl::InvalidArgumentError("invalid character after top-level value");
    }
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    if (++i >= s.size()) return absl::InvalidArgumentError("unexpected end of JSON input");
    switch (s[i]) {
      case '"':
      case '\\':
      case '/':
        out->push_back(s[i]);
        break;
      case 'b':
        out->push_back('\b');
        break;
      case 'f':
        out->push_back('\f');
        break;
      case 'n':
        out->push_back('\n');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'u': {
        auto hex4 = [&](size_t at, uint32_t* v) {
          if (at + 4 > s.size()) return false;
          uint32_t r = 0;
          for (size_t k = 0; k < 4; ++k) {
            int h = HexVal(s[at + k]);
            if (h < 0) return false;
            r = r * 16 + static_cast<uint32_t>(h);
          }
          *v = r;
          return true;
        };
        uint32_t r;
        if (!hex4(i + 1, &r)) {
          return absl::InvalidArgumentError(
              "invalid character in \\u hexadecimal character escape");
        }
        i += 4;
        if (r >= 0xD800 && r < 0xDC00) {
          uint32_t lo;
          if (i + 2 < s.size() && s[i + 1] == '\\' && s[i + 2] == 'u' && hex4(i + 3, &lo) &&
              lo >= 0xDC00 && lo < 0xE000) {
            r = 0x10000 + ((r - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
          } else {
            r = 0xFFFD;
          }
        } else if (r >= 0xDC00 && r < 0xE000) {
          r = 0xFFFD;
        }
        AppendUtf8Rune(r, out);
        break;
      }
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("invalid character ", Av(QuoteRune(static_cast<unsigned char>(s[i]))),
                         " in string escape code"));
    }
  }
  return absl::OkStatus();
}

class Lexer {
 public:
  explicit Lexer(std::string_view expr) : e_(expr) {}

  absl::StatusOr<std::vector<Token>> Tokenize() {
    std::vector<Token> tokens;
    while (pos_ < e_.size()) {
      const size_t start = pos_;
      size_t w;
      uint32_t r = DecodeUtf8Rune(e_, pos_, &w);
      pos_ += w;
      if ((r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || r == '_') {
        tokens.push_back({Tok::kUnquotedIdentifier, std::string(Identifier(start)), start});
        continue;
      }
      Tok basic = Tok::kUnknown;
      switch (r) {
        case '.':
          basic = Tok::kDot;
          break;
        case '*':
          basic = Tok::kStar;
          break;
        case ',':
          basic = Tok::kComma;
          break;
        case ':':
          basic = Tok::kColon;
          break;
        case '{':
          basic = Tok::kLbrace;
          break;
        case '}':
          basic = Tok::kRbrace;
          break;
        case ']':
          basic = Tok::kRbracket;
          break;
        case '(':
          basic = Tok::kLparen;
          break;
        case ')':
          basic = Tok::kRparen;
          break;
        case '@':
          basic = Tok::kCurrent;
          break;
        case '+':
          basic = Tok::kPlus;
          break;
        case '%':
          basic = Tok::kModulo;
          break;
        case 0x2212:
          basic = Tok::kMinus;
          break;
        case 0xD7:
          basic = Tok::kMultiply;
          break;
        case 0xF7:
          basic = Tok::kDivide;
          break;
        default:
          break;
      }
      if (basic != Tok::kUnknown) {
        tokens.push_back({basic, std::string(e_.substr(start, w)), start});
        continue;
      }
      if (r == '-') {
        if (pos_ < e_.size() && e_[pos_] >= '0' && e_[pos_] <= '9') {
          tokens.push_back({Tok::kNumber, std::string(Number(start)), start});
        } else {
          tokens.push_back({Tok::kMinus, "-", start});
        }
      } else if (r >= '0' && r <= '9') {
        tokens.push_back({Tok::kNumber, std::string(Number(start)), start});
      } else if (r == '/') {
        tokens.push_back(MatchOrElse(start, '/', Tok::kDiv, Tok::kDivide));
      } else if (r == '[') {
        if (pos_ < e_.size() && e_[pos_] == '?') {
          ++pos_;
          tokens.push_back({Tok::kFilter, "[?", start});
        } else if (pos_ < e_.size() && e_[pos_] == ']') {
          ++pos_;
          tokens.push_back({Tok::kFlatten, "[]", start});
        } else {
          tokens.push_back({Tok::kLbracket, "[", start});
        }
      } else if (r == '"') {
        std::string_view raw;
        if (!Until('"', &raw)) return SyntaxError("Unclosed delimiter: \"");
        std::string decoded;
        absl::Status st = UnquoteJson(raw, &decoded);
        if (!st.ok()) return st;
        tokens.push_back({Tok::kQuotedIdentifier, std::move(decoded), start});
      } else if (r == '\'') {
        std::string value;
        if (!RawString(&value)) return SyntaxError("Unclosed delimiter: '");
        tokens.push_back({Tok::kStringLiteral, std::move(value), start});
      } else if (r == '`') {
        std::string_view raw;
        if (!Until('`', &raw)) return SyntaxError("Unclosed delimiter: `");
        std::string value;
        for (size_t i = 0; i < raw.size(); ++i) {
          if (raw[i] == '\\' && i + 1 < raw.size() && raw[i + 1] == '`') ++i;
          value.push_back(raw[i]);
        }
        tokens.push_back({Tok::kJSONLiteral, std::move(value), start});
      } else if (r == '|') {
        tokens.push_back(MatchOrElse(start, '|', Tok::kOr, Tok::kPipe));
      } else if (r == '<') {
        tokens.push_back(MatchOrElse(start, '=', Tok::kLTE, Tok::kLT));
      } else if (r == '>') {
        tokens.push_back(MatchOrElse(start, '=', Tok::kGTE, Tok::kGT));
      } else if (r == '!') {
        tokens.push_back(MatchOrElse(start, '=', Tok::kNE, Tok::kNot));
      } else if (r == '$') {
        std::string_view id = Identifier(start);
        tokens.push_back({id == "$" ? Tok::kRoot : Tok::kVarref, std::string(id), start});
      } else if (r == '=') {
        tokens.push_back(MatchOrElse(start, '=', Tok::kEQ, Tok::kAssign));
      } else if (r == '&') {
        tokens.push_back(MatchOrElse(start, '&', Tok::kAnd, Tok::kExpref));
      } else if (r == ' ' || r == '\t' || r == '\n' || r == '\r') {
        // whitespace
      } else {
        return SyntaxError(absl::StrCat("Unknown char: ", Av(QuoteRune(r))));
      }
    }
    tokens.push_back({Tok::kEOF, "", e_.size()});
    return tokens;
  }

 private:
  std::string_view Identifier(size_t start) {
    while (pos_ < e_.size()) {
      char c = e_[pos_];
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') {
        ++pos_;
      } else {
        break;
      }
    }
    return e_.substr(start, pos_ - start);
  }

  std::string_view Number(size_t start) {
    while (pos_ < e_.size() && e_[pos_] >= '0' && e_[pos_] <= '9') ++pos_;
    return e_.substr(start, pos_ - start);
  }

  Token MatchOrElse(size_t start, char second, Tok matched, Tok single) {
    if (pos_ < e_.size() && e_[pos_] == second) {
      ++pos_;
      return {matched, std::string(e_.substr(start, 2)), start};
    }
    return {single, std::string(e_.substr(start, 1)), start};
  }

  // Consumes up to the closing `end` (a backslash escapes the next byte); `raw` excludes it.
  bool Until(char end, std::string_view* raw) {
    const size_t start = pos_;
    while (pos_ < e_.size()) {
      if (e_[pos_] == '\\' && pos_ + 1 < e_.size()) {
        pos_ += 2;
        continue;
      }
      if (e_[pos_] == end) {
        *raw = e_.substr(start, pos_ - start);
        ++pos_;
        return true;
      }
      ++pos_;
    }
    return false;
  }

  // 'raw string': only \' and \\ are escapes; any other backslash stays.
  bool RawString(std::string* out) {
    while (pos_ < e_.size()) {
      char c = e_[pos_];
      if (c == '\\' && pos_ + 1 < e_.size() && (e_[pos_ + 1] == '\'' || e_[pos_ + 1] == '\\')) {
        out->push_back(e_[pos_ + 1]);
        pos_ += 2;
        continue;
      }
      if (c == '\'') {
        ++pos_;
        return true;
      }
      out->push_back(c);
      ++pos_;
    }
    return false;
  }

  std::string_view e_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<std::vector<Token>> Tokenize(std::string_view expr) {
  Lexer lexer(expr);
  return lexer.Tokenize();
}

}  // namespace sluice::jmespath
