// Syslog message and framing parsers (see syslog_parser.h). Written from RFC 5424, RFC 3164 and
// RFC 6587 and the grammar go-syslog (Alloy's parser) accepts.
#include "agent/source/syslog_parser.h"

#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"

namespace sluice {
namespace {

constexpr std::string_view kSeverity[] = {"emergency", "alert",  "critical",      "error",
                                          "warning",   "notice", "informational", "debug"};
constexpr std::string_view kFacility[] = {
    "kern",   "user",   "mail",     "daemon", "auth",   "syslog",   "lpr",     "news",
    "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "security", "console", "cron2",
    "local0", "local1", "local2",   "local3", "local4", "local5",   "local6",  "local7"};

absl::Status Err(std::string_view what, size_t col) {
  return absl::InvalidArgumentError(absl::StrCat(Av(what), " [col ", col, "]"));
}

constexpr char kErrPrival[] = "expecting a priority value in the range 1-191 or equal to 0";
constexpr char kErrPri[] = "expecting a priority value within angle brackets";
constexpr char kErrVersion[] = "expecting a version value in the range 1-999";
constexpr char kErrTimestamp[] = "expecting a RFC3339MICRO timestamp or a nil value";
constexpr char kErrHostname[] =
    "expecting an hostname (from 1 to max 255 US-ASCII characters) or a nil value";
constexpr char kErrAppname[] =
    "expecting an app-name (from 1 to max 48 US-ASCII characters) or a nil value";
constexpr char kErrProcId[] =
    "expecting a procid (from 1 to max 128 US-ASCII characters) or a nil value";
constexpr char kErrMsgId[] =
    "expecting a msgid (from 1 to max 32 US-ASCII characters) or a nil value";
constexpr char kErrSd[] =
    "expecting a structured data section containing one or more elements "
    "(`[id( key=\"value\")*]+`) or a nil value";
constexpr char kErrSdId[] =
    "expecting a structured data element id (from 1 to max 32 US-ASCII characters; except `=`, "
    "` `, `]`, and `\"`";
constexpr char kErrSdIdDup[] = "duplicate structured data element id";
constexpr char kErrSdParam[] =
    "expecting a structured data parameter (`key=\"value\"`, both part from 1 to max 32 US-ASCII "
    "characters; key cannot contain `=`, ` `, `]`, and `\"`, while value cannot contain `]`, "
    "backslash, and `\"` unless escaped)";
constexpr char kErrEscape[] =
    "expecting chars `]`, `\"`, and `\\` to be escaped within param value";
constexpr char kErrParse[] = "parsing error";
constexpr char kErrRfc3164Timestamp[] = "expecting a Stamp timestamp";

bool IsGraph(unsigned char c) { return c >= 0x21 && c <= 0x7e; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// A cursor over one message.
struct Cur {
  std::string_view s;
  size_t p = 0;
  bool eof() const { return p >= s.size(); }
  char peek() const { return eof() ? '\0' : s[p]; }
  bool Eat(char c) {
    if (peek() != c || eof()) return false;
    ++p;
    return true;
  }
};

// "<" PRIVAL ">": 0 or 1..191 without leading zeros.
absl::Status ParsePri(Cur& c, SyslogMessage* m) {
  if (!c.Eat('<')) return Err(kErrPri, c.p);
  size_t start = c.p;
  int v = 0;
  while (!c.eof() && IsDigit(c.peek()) && c.p - start < 3) v = v * 10 + (c.s[c.p++] - '0');
  size_t n = c.p - start;
  if (n == 0 || (n > 1 && c.s[start] == '0') || v > 191) return Err(kErrPrival, c.p);
  if (!c.Eat('>')) return Err(IsDigit(c.peek()) ? kErrPrival : kErrPri, c.p);
  m->priority = v;
  return absl::OkStatus();
}

// `n` digits as a number, or -1.
int Digits(Cur& c, int n) {
  if (c.p + n > c.s.size()) return -1;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char ch = c.s[c.p + i];
    if (!IsDigit(ch)) return -1;
    v = v * 10 + (ch - '0');
  }
  c.p += n;
  return v;
}

// Whether the civil fields name a real instant (no Feb 30).
bool ValidCivil(int64_t y, int mo, int d, int h, int mi, int s) {
  absl::CivilSecond cs(y, mo, d, h, mi, s);
  return cs.year() == y && cs.month() == mo && cs.day() == d && cs.hour() == h &&
         cs.minute() == mi && cs.second() == s;
}

// FULL-DATE "T" FULL-TIME with at most 6 fraction digits (RFC3339MICRO).
bool ParseRfc3339(Cur& c, SyslogMessage* m) {
  int y = Digits(c, 4);
  if (y < 0 || !c.Eat('-')) return false;
  int mo = Digits(c, 2);
  if (mo < 1 || mo > 12 || !c.Eat('-')) return false;
  int d = Digits(c, 2);
  if (d < 1 || d > 31 || !c.Eat('T')) return false;
  int h = Digits(c, 2);
  if (h < 0 || h > 23 || !c.Eat(':')) return false;
  int mi = Digits(c, 2);
  if (mi < 0 || mi > 59 || !c.Eat(':')) return false;
  int s = Digits(c, 2);
  if (s < 0 || s > 59) return false;
  int64_t nanos = 0;
  if (c.Eat('.')) {
    int nd = 0;
    while (!c.eof() && IsDigit(c.peek()) && nd < 7) {
      nanos = nanos * 10 + (c.s[c.p++] - '0');
      ++nd;
    }
    if (nd == 0 || nd > 6) return false;
    for (int i = nd; i < 9; ++i) nanos *= 10;
  }
  int offset = 0;
  if (c.Eat('Z')) {
  } else if (c.peek() == '+' || c.peek() == '-') {
    int sign = c.s[c.p++] == '-' ? -1 : 1;
    int oh = Digits(c, 2);
    if (oh < 0 || oh > 23 || !c.Eat(':')) return false;
    int om = Digits(c, 2);
    if (om < 0 || om > 59) return false;
    offset = sign * (oh * 3600 + om * 60);
  } else {
    return false;
  }
  if (!ValidCivil(y, mo, d, h, mi, s)) return false;
  m->timestamp =
      absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::FixedTimeZone(offset)) +
      absl::Nanoseconds(nanos);
  m->utc_offset_s = offset;
  return true;
}

// A header field of 1..max printable US-ASCII characters, "-" meaning nil.
absl::Status HeaderField(Cur& c, size_t max, const char* err, std::optional<std::string>* out) {
  size_t start = c.p;
  while (!c.eof() && IsGraph(static_cast<unsigned char>(c.peek()))) ++c.p;
  size_t n = c.p - start;
  if (n == 0 || n > max) return Err(err, start + std::min(n, max));
  std::string_view v = c.s.substr(start, n);
  if (v != "-") *out = std::string(v);
  return absl::OkStatus();
}

bool IsSdName(unsigned char ch) { return IsGraph(ch) && ch != '=' && ch != ']' && ch != '"'; }

// Length of the valid UTF-8 sequence at s[i], or 0.
size_t Utf8Len(std::string_view s, size_t i) {
  unsigned char b = s[i];
  if (b < 0x80) return 1;
  auto tail = [&](size_t k) {
    return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
  };
  if (b >= 0xc2 && b <= 0xdf) return tail(1) ? 2 : 0;
  if (b >= 0xe0 && b <= 0xef) {
    if (!tail(1) || !tail(2)) return 0;
    unsigned char b1 = s[i + 1];
    if (b == 0xe0 && b1 < 0xa0) return 0;
    if (b == 0xed && b1 > 0x9f) return 0;
    return 3;
  }
  if (b >= 0xf0 && b <= 0xf4) {
    if (!tail(1) || !tail(2) || !tail(3)) return 0;
    unsigned char b1 = s[i + 1];
    if (b == 0xf0 && b1 < 0x90) return 0;
    if (b == 0xf4 && b1 > 0x8f) return 0;
    return 4;
  }
  return 0;
}

absl::Status ParseStructuredData(Cur& c, SyslogMessage* m) {
  if (c.Eat('-')) return absl::OkStatus();
  if (c.peek() != '[') return Err(kErrSd, c.p);
  while (c.peek() == '[' && !c.eof()) {
    ++c.p;
    size_t start = c.p;
    while (!c.eof() && IsSdName(static_cast<unsigned char>(c.peek())) && c.p - start <= 32) ++c.p;
    size_t n = c.p - start;
    if (n == 0 || n > 32) return Err(kErrSdId, c.p);
    std::string id(c.s.substr(start, n));
    if (m->structured_data.count(id) != 0) return Err(kErrSdIdDup, c.p);
    auto& params = m->structured_data[id];
    for (;;) {
      if (c.Eat(']')) break;
      if (!c.Eat(' ')) return Err(c.eof() ? kErrSd : kErrSdId, c.p);
      size_t ns = c.p;
      while (!c.eof() && IsSdName(static_cast<unsigned char>(c.peek())) && c.p - ns <= 32) ++c.p;
      size_t nn = c.p - ns;
      if (nn == 0 || nn > 32 || !c.Eat('=') || !c.Eat('"')) return Err(kErrSdParam, c.p);
      std::string name(c.s.substr(ns, nn));
      std::string value;
      for (;;) {
        if (c.eof()) return Err(kErrSdParam, c.p);
        char ch = c.peek();
        if (ch == '"') {
          ++c.p;
          break;
        }
        if (ch == ']') return Err(kErrSdParam, c.p);
        if (ch == '\\') {
          char nx = c.p + 1 < c.s.size() ? c.s[c.p + 1] : '\0';
          if (nx != '"' && nx != ']' && nx != '\\') return Err(kErrEscape, c.p + 1);
          value.push_back(nx);
          c.p += 2;
          continue;
        }
        size_t len = Utf8Len(c.s, c.p);
        if (len == 0) return Err(kErrSdParam, c.p);
        value.append(c.s.substr(c.p, len));
        c.p += len;
      }
      params[name] = std::move(value);
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view SyslogSeverityLevel(int severity) {
  return severity >= 0 && severity < 8 ? kSeverity[severity] : std::string_view();
}
std::string_view SyslogFacilityLevel(int facility) {
  return facility >= 0 && facility < 24 ? kFacility[facility] : std::string_view();
}

absl::StatusOr<SyslogMessage> ParseRfc5424(std::string_view msg) {
  SyslogMessage m;
  Cur c{msg};
  if (absl::Status st = ParsePri(c, &m); !st.ok()) return st;
  // VERSION: 1..999 without a leading zero.
  size_t vs = c.p;
  while (!c.eof() && IsDigit(c.peek()) && c.p - vs < 3)
    m.version = m.version * 10 + (c.s[c.p++] - '0');
  if (c.p == vs || c.s[vs] == '0') return Err(kErrVersion, c.p);
  if (!c.Eat(' ')) return Err(IsDigit(c.peek()) ? kErrVersion : kErrParse, c.p);
  if (!c.Eat('-')) {
    if (!ParseRfc3339(c, &m)) return Err(kErrTimestamp, c.p);
  }
  if (!c.Eat(' ')) return Err(kErrTimestamp, c.p);
  if (absl::Status st = HeaderField(c, 255, kErrHostname, &m.hostname); !st.ok()) return st;
  if (!c.Eat(' ')) return Err(kErrHostname, c.p);
  if (absl::Status st = HeaderField(c, 48, kErrAppname, &m.app_name); !st.ok()) return st;
  if (!c.Eat(' ')) return Err(kErrAppname, c.p);
  if (absl::Status st = HeaderField(c, 128, kErrProcId, &m.proc_id); !st.ok()) return st;
  if (!c.Eat(' ')) return Err(kErrProcId, c.p);
  if (absl::Status st = HeaderField(c, 32, kErrMsgId, &m.msg_id); !st.ok()) return st;
  if (!c.Eat(' ')) return Err(kErrMsgId, c.p);
  if (absl::Status st = ParseStructuredData(c, &m); !st.ok()) return st;
  if (c.eof()) return m;
  if (!c.Eat(' ')) return Err(kErrSd, c.p);
  // MSG: any octets (go-syslog's default, non-compliant mode), a BOM kept as sent.
  if (!c.eof()) m.message = std::string(c.s.substr(c.p));
  return m;
}

absl::StatusOr<SyslogMessage> ParseRfc3164(std::string_view msg) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  SyslogMessage m;
  m.rfc3164 = true;
  Cur c{msg};
  if (absl::Status st = ParsePri(c, &m); !st.ok()) return st;
  // TIMESTAMP: "Mmm dd hh:mm:ss" (Go's time.Stamp, day space-padded).
  int month = 0;
  for (int i = 0; i < 12; ++i) {
    if (c.s.substr(c.p, 3) == kMonths[i]) month = i + 1;
  }
  if (month == 0) return Err(kErrRfc3164Timestamp, c.p);
  c.p += 3;
  if (!c.Eat(' ')) return Err(kErrRfc3164Timestamp, c.p);
  int day = -1;
  if (c.Eat(' ')) {
    day = Digits(c, 1);
    if (day < 1) return Err(kErrRfc3164Timestamp, c.p);
  } else {
    day = Digits(c, 2);
    if (day < 10 || day > 31) return Err(kErrRfc3164Timestamp, c.p);
  }
  if (!c.Eat(' ')) return Err(kErrRfc3164Timestamp, c.p);
  int h = Digits(c, 2);
  if (h < 0 || h > 23 || !c.Eat(':')) return Err(kErrRfc3164Timestamp, c.p);
  int mi = Digits(c, 2);
  if (mi < 0 || mi > 59 || !c.Eat(':')) return Err(kErrRfc3164Timestamp, c.p);
  int s = Digits(c, 2);
  if (s < 0 || s > 59 || !ValidCivil(0, month, day, h, mi, s)) {
    return Err(kErrRfc3164Timestamp, c.p);
  }
  m.timestamp = absl::FromCivil(absl::CivilSecond(0, month, day, h, mi, s), absl::UTCTimeZone());
  // Nothing after the stamp (or only a host): a message without content, not an error.
  if (c.eof()) return m;
  if (!c.Eat(' ')) return Err(kErrParse, c.p);
  if (absl::Status st = HeaderField(c, 255, kErrHostname, &m.hostname); !st.ok()) return st;
  if (m.hostname == std::nullopt) m.hostname = "-";
  if (c.eof()) {
    if (*m.hostname == "-") m.hostname.reset();
    return m;
  }
  if (*m.hostname == "-") m.hostname.reset();
  if (!c.Eat(' ')) return Err(kErrHostname, c.p);
  std::string_view rest = c.s.substr(c.p);
  // Optional "TAG[CONTENT]: " or "TAG: " prefix; the rest is the message.
  size_t t = 0;
  while (t < rest.size() && t < 33 && rest[t] >= 0x20 && rest[t] <= 0x7e && rest[t] != ' ' &&
         rest[t] != ':' && rest[t] != '[') {
    ++t;
  }
  if (t >= 1 && t <= 32 && t < rest.size()) {
    size_t q = t;
    std::string_view content;
    bool ok = true;
    if (rest[q] == '[') {
      size_t close = rest.find("]: ", q);
      size_t nl = rest.find_first_of("\r\n", q);
      if (close == std::string_view::npos || (nl != std::string_view::npos && nl < close) ||
          close == q + 1) {
        ok = false;
      } else {
        content = rest.substr(q + 1, close - q - 1);
        q = close + 1;
      }
    }
    if (ok && q + 1 < rest.size() && rest[q] == ':' && rest[q + 1] == ' ') {
      m.app_name = std::string(rest.substr(0, t));
      if (!content.empty() && content != "-") m.proc_id = std::string(content);
      rest = rest.substr(q + 2);
    }
  }
  if (!rest.empty()) m.message = std::string(rest);
  return m;
}

absl::Time InferSyslogYear(absl::Time stamp, absl::Time now) {
  absl::CivilSecond cs = absl::ToCivilSecond(stamp, absl::UTCTimeZone());
  absl::CivilSecond n = absl::ToCivilSecond(now, absl::UTCTimeZone());
  int64_t year = n.year();
  if (cs.month() == 12 && n.month() == 1) {
    year -= 1;
  } else if (cs.month() == 1 && n.month() == 12) {
    year += 1;
  }
  // Go's AddDate: Feb 29 of year 0 in a non-leap year normalises to Mar 1.
  absl::CivilSecond out(cs.year() + year, cs.month(), cs.day(), cs.hour(), cs.minute(),
                        cs.second());
  return absl::FromCivil(out, absl::UTCTimeZone()) +
         (stamp - absl::FromCivil(cs, absl::UTCTimeZone()));
}

std::string RenderRfc5424(const SyslogMessage& m) {
  std::string out = absl::StrCat("<", m.priority, ">", m.version, " ");
  if (m.timestamp) {
    absl::TimeZone tz = absl::FixedTimeZone(m.utc_offset_s);
    absl::CivilSecond cs = absl::ToCivilSecond(*m.timestamp, tz);
    char buf[40];
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d", static_cast<int>(cs.year()),
                  cs.month(), cs.day(), cs.hour(), cs.minute(), cs.second());
    out += buf;
    int64_t micros = absl::ToInt64Microseconds(*m.timestamp - absl::FromCivil(cs, tz));
    if (micros > 0) {
      std::snprintf(buf, sizeof(buf), ".%06d", static_cast<int>(micros));
      std::string frac = buf;
      while (frac.back() == '0') frac.pop_back();
      out += frac;
    }
    if (m.utc_offset_s == 0) {
      out += "Z";
    } else {
      int off = m.utc_offset_s < 0 ? -m.utc_offset_s : m.utc_offset_s;
      std::snprintf(buf, sizeof(buf), "%c%02d:%02d", m.utc_offset_s < 0 ? '-' : '+', off / 3600,
                    (off / 60) % 60);
      out += buf;
    }
  } else {
    out += "-";
  }
  for (const auto* f : {&m.hostname, &m.app_name, &m.proc_id, &m.msg_id}) {
    out += " ";
    out += f->has_value() ? **f : "-";
  }
  out += " ";
  if (m.structured_data.empty()) {
    out += "-";
  } else {
    for (const auto& [id, params] : m.structured_data) {
      out += "[" + id;
      for (const auto& [k, v] : params) {
        out += " " + k + "=\"";
        for (char ch : v) {
          if (ch == '"' || ch == '\\' || ch == ']') out += '\\';
          out += ch;
        }
        out += "\"";
      }
      out += "]";
    }
  }
  if (m.message) out += " " + *m.message;
  return out;
}

void SyslogStream::Message(std::string_view msg, const Callback& cb) {
  cb(format_ == Format::kRfc3164 ? ParseRfc3164(msg) : ParseRfc5424(msg));
}

absl::Status SyslogStream::Feed(std::string_view data, const Callback& cb) {
  if (skipping_line_) {
    size_t nl = data.find('\n');
    if (nl == std::string_view::npos) return absl::OkStatus();
    skipping_line_ = false;
    data.remove_prefix(nl + 1);
  }
  buf_.append(data);
  return Drain(false, cb);
}

absl::Status SyslogStream::Finish(const Callback& cb) {
  absl::Status st = Drain(true, cb);
  buf_.clear();
  return st;
}

absl::Status SyslogStream::Drain(bool eof, const Callback& cb) {
  size_t pos = 0;
  absl::Status result = absl::OkStatus();
  while (pos < buf_.size()) {
    if (framing_ == Framing::kUnknown) {
      char b = buf_[pos];
      if (b == '<') {
        framing_ = Framing::kNewline;
      } else if (IsDigit(b)) {
        framing_ = Framing::kOctet;
      } else {
        char q[8];
        std::snprintf(q, sizeof(q), (b >= 0x20 && b < 0x7f) ? "'%c'" : "'\\x%02x'",
                      static_cast<unsigned char>(b));
        result = absl::InvalidArgumentError(
            absl::StrCat("invalid or unsupported framing. first byte: ", q));
        buf_.clear();
        return result;
      }
    }
    std::string_view rest(buf_.data() + pos, buf_.size() - pos);
    if (framing_ == Framing::kNewline) {
      size_t nl = rest.find('\n');
      if (nl == std::string_view::npos) {
        if (rest.size() > max_len_) {
          cb(absl::InvalidArgumentError(absl::StrCat("message length (", rest.size(),
                                                     ") exceeds maximum length (", max_len_, ")")));
          skipping_line_ = !eof;
          pos = buf_.size();
          break;
        }
        if (!eof) break;
        nl = rest.size();
      }
      std::string_view line = rest.substr(0, nl);
      pos += std::min(nl + 1, rest.size());
      if (line.empty() || line == "\r") continue;  // blank lines carry nothing
      if (line.size() > max_len_) {
        cb(absl::InvalidArgumentError(absl::StrCat("message length (", line.size(),
                                                   ") exceeds maximum length (", max_len_, ")")));
        continue;
      }
      if (line[0] != '<') {
        cb(Err(kErrPri, 0));
        continue;
      }
      Message(line, cb);
      continue;
    }
    // Octet counting: MSG-LEN SP SYSLOG-MSG, frames back to back (a newline between is skipped).
    if (rest[0] == '\n' || rest[0] == '\r') {
      ++pos;
      continue;
    }
    size_t d = 0;
    uint64_t len = 0;
    while (d < rest.size() && d < 20 && IsDigit(rest[d])) len = len * 10 + (rest[d++] - '0');
    if (d == 0) {
      result = absl::InvalidArgumentError("found ILLEGAL, expecting a MSGLEN");
      break;
    }
    if (d == rest.size() && !eof) break;  // the count goes on in the next read
    if (len > max_len_ || d >= 20) {
      result = absl::InvalidArgumentError(
          absl::StrCat("message length (", len, ") exceeds maximum length (", max_len_, ")"));
      break;
    }
    if (d == rest.size() || rest[d] != ' ') {
      result = absl::InvalidArgumentError("found ILLEGAL, expecting a WS");
      break;
    }
    if (len == 0 || (d + 1 < rest.size() && rest[d + 1] != '<')) {
      result = absl::InvalidArgumentError("found ILLEGAL, expecting a SYSLOGMSG");
      break;
    }
    if (rest.size() < d + 1 + len) {
      if (!eof) break;
      // Cut short by the end of the stream: parsed, but an error either way.
      cb(absl::InvalidArgumentError(
          absl::StrCat("found EOF, expecting a SYSLOGMSG containing ", len, " octets")));
      pos = buf_.size();
      break;
    }
    Message(rest.substr(d + 1, len), cb);
    pos += d + 1 + len;
  }
  buf_.erase(0, pos);
  if (!result.ok()) buf_.clear();
  return result;
}

}  // namespace sluice
