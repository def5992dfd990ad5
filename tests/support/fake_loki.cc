#include "tests/support/fake_loki.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <limits>
#include <mutex>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <simdjson.h>
#include <snappy.h>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "agent/common/strings.h"
#include "push.pb.h"
#include "tests/support/test_http_server.h"

namespace sluice::testing {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using Connection = TestHttpServer::Connection;
using LabelPairs = std::vector<std::pair<std::string, std::string>>;

constexpr std::string_view kPushPath = "/loki/api/v1/push";

// ---- Text helpers ------------------------------------------------------------------------------

// Written here rather than shared with the agent: the receiver is the oracle the agent's own
// UTF-8 handling is tested against.
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return false;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return false;
    i += len;
  }
  return true;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Double-quoted the way Go's strconv.Quote does for the characters a label value can hold, so
// canonical label strings look like the ones Loki prints (and parse back to the same value).
std::string GoQuote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\v':
        out += "\\v";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\x";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out += "\"";
  return out;
}

// Go's time.Time.Format(time.RFC3339) for a UTC time (what Loki's messages print).
std::string Rfc3339(int64_t ns) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixNanos(ns), absl::UTCTimeZone());
}

// Go's time.Time.String() for a UTC time: "2006-01-02 15:04:05.999999999 +0000 UTC".
std::string GoTimeString(int64_t ns) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%E*S +0000 UTC", absl::FromUnixNanos(ns),
                          absl::UTCTimeZone());
}

std::string Str(beast::string_view s) { return std::string(s.data(), s.size()); }

// The path of a request target, also in absolute-form ("http://host:1/x?y" -> "/x?y").
std::string_view PathOf(std::string_view target) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.starts_with(scheme)) {
      size_t slash = target.find('/', scheme.size());
      return slash == std::string_view::npos ? "/" : target.substr(slash);
    }
  }
  return target;
}
std::string_view BSv(beast::string_view s) { return std::string_view(s.data(), s.size()); }

bool IsNameStart(char c) { return absl::ascii_isalpha(c) || c == '_'; }
bool IsNameChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

// ---- Label string parser ---------------------------------------------------------------------

// Parses what Prometheus' ParseMetric (used by Loki's syntax.ParseLabels) accepts:
//   [metric_name] "{" [name "=" string {"," name "=" string} [","]] "}"
// with whitespace between tokens, and strings in "..." or '...' (Go escapes) or `...` (raw).
// Pairs come back in source order, empty values included; the caller drops those like Loki.
class LabelParser {
 public:
  explicit LabelParser(std::string_view text) : s_(text) {}

  bool Parse(LabelPairs* out, std::string* error) {
    if (!IsValidUtf8(s_)) return Fail("invalid UTF-8 in label string", error);
    SkipSpace();
    if (pos_ < s_.size() && (IsNameStart(s_[pos_]) || s_[pos_] == ':')) {
      const size_t start = pos_;
      while (pos_ < s_.size() && (IsNameChar(s_[pos_]) || s_[pos_] == ':')) ++pos_;
      out->emplace_back("__name__", std::string(s_.substr(start, pos_ - start)));
      SkipSpace();
      if (pos_ == s_.size()) return true;
    }
    if (!Consume('{')) return Fail(Unexpected("\"{\""), error);
    for (;;) {
      SkipSpace();
      if (Consume('}')) break;
      if (pos_ >= s_.size() || !IsNameStart(s_[pos_])) return Fail(Unexpected("label name"), error);
      const size_t start = pos_;
      while (pos_ < s_.size() && IsNameChar(s_[pos_])) ++pos_;
      std::string name(s_.substr(start, pos_ - start));
      SkipSpace();
      if (!Consume('=')) return Fail(Unexpected("\"=\""), error);
      SkipSpace();
      std::string value;
      if (!ParseString(&value, error)) return false;
      if (!IsValidUtf8(value)) {
        return Fail(absl::StrCat("invalid UTF-8 in value of label ", name), error);
      }
      out->emplace_back(std::move(name), std::move(value));
      SkipSpace();
      if (Consume(',')) continue;
      if (Consume('}')) break;
      return Fail(Unexpected("\",\" or \"}\""), error);
    }
    SkipSpace();
    if (pos_ != s_.size()) return Fail(Unexpected("end of input"), error);
    return true;
  }

 private:
  bool Fail(std::string_view msg, std::string* error) {
    *error = absl::StrCat("1:", pos_ + 1, ": parse error: ", Av(msg));
    return false;
  }
  std::string Unexpected(std::string_view expected) const {
    if (pos_ >= s_.size()) return absl::StrCat("unexpected end of input, expected ", Av(expected));
    return absl::StrCat("unexpected character '", Av(s_.substr(pos_, 1)), "', expected ",
                        Av(expected));
  }
  void SkipSpace() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Consume(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool Hex(size_t digits, uint32_t* out) {
    if (s_.size() - pos_ < digits) return false;
    uint32_t v = 0;
    for (size_t i = 0; i < digits; ++i) {
      const char c = s_[pos_ + i];
      uint32_t d;
      if (c >= '0' && c <= '9') {
        d = static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        d = static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        d = static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
      v = v * 16 + d;
    }
    pos_ += digits;
    *out = v;
    return true;
  }

  bool ParseString(std::string* out, std::string* error) {
    if (pos_ >= s_.size()) return Fail(Unexpected("quoted string"), error);
    const char quote = s_[pos_];
    if (quote != '"' && quote != '\'' && quote != '`') {
      return Fail(Unexpected("quoted string"), error);
    }
    ++pos_;
    if (quote == '`') {
      const size_t end = s_.find('`', pos_);
      if (end == std::string_view::npos) return Fail("unterminated raw string", error);
      for (char c : s_.substr(pos_, end - pos_)) {
        if (c != '\r') out->push_back(c);  // Go drops carriage returns from raw strings
      }
      pos_ = end + 1;
      return true;
    }
    for (;;) {
      if (pos_ >= s_.size() || s_[pos_] == '\n') return Fail("unterminated quoted string", error);
      const char c = s_[pos_++];
      if (c == quote) return true;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) return Fail("unterminated quoted string", error);
      const char e = s_[pos_++];
      uint32_t cp = 0;
      switch (e) {
        case 'a':
          out->push_back('\a');
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
        case 'v':
          out->push_back('\v');
          break;
        case '\\':
          out->push_back('\\');
          break;
        case 'x':
          if (!Hex(2, &cp)) return Fail("invalid \\x escape in quoted string", error);
          out->push_back(static_cast<char>(cp));
          break;
        case 'u':
        case 'U':
          if (!Hex(e == 'u' ? 4 : 8, &cp) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return Fail("invalid unicode escape in quoted string", error);
          }
          AppendUtf8(cp, out);
          break;
        default:
          if (e == quote) {
            out->push_back(e);
          } else if (e >= '0' && e <= '7') {
            // Exactly three octal digits, at most \377.
            cp = static_cast<uint32_t>(e - '0');
            for (int i = 0; i < 2; ++i) {
              if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '7') {
                return Fail("invalid octal escape in quoted string", error);
              }
              cp = cp * 8 + static_cast<uint32_t>(s_[pos_++] - '0');
            }
            if (cp > 255) return Fail("invalid octal escape in quoted string", error);
            out->push_back(static_cast<char>(cp));
          } else {
            return Fail("unknown escape sequence in quoted string", error);
          }
      }
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// Parse + Loki's normalization: sorted by name (stable, so duplicates stay visible), empty values
// dropped.
bool ParseAndNormalize(std::string_view text, LabelPairs* out, std::string* error) {
  LabelPairs pairs;
  if (!LabelParser(text).Parse(&pairs, error)) return false;
  pairs.erase(
      std::remove_if(pairs.begin(), pairs.end(), [](const auto& p) { return p.second.empty(); }),
      pairs.end());
  std::stable_sort(pairs.begin(), pairs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  *out = std::move(pairs);
  return true;
}

std::string FormatPairs(const LabelPairs& pairs) {
  std::string out = "{";
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (i > 0) out += ", ";
    absl::StrAppend(&out, pairs[i].first, "=", GoQuote(pairs[i].second));
  }
  out += "}";
  return out;
}

// ---- Request decoding ------------------------------------------------------------------------

struct PushEntry {
  int64_t timestamp_ns = 0;
  std::string line;
  LabelPairs structured_metadata;
};

struct PushStream {
  std::string labels;  // as sent (for JSON: the label map in Prometheus form)
  std::vector<PushEntry> entries;
};

// google.protobuf.Timestamp -> Unix ns, range-checked like Go's gogo StdTime unmarshalling (which
// fails the whole request).
bool TimestampToNanos(int64_t seconds, int64_t nanos, int64_t* out, std::string* error) {
  constexpr int64_t kMinSeconds = -62135596800;  // 0001-01-01T00:00:00Z
  constexpr int64_t kMaxSeconds = 253402300799;  // 9999-12-31T23:59:59Z
  if (nanos < 0 || nanos >= 1'000'000'000) {
    *error = absl::StrCat("timestamp: nanos not in range [0, 1e9): ", nanos);
    return false;
  }
  if (seconds < kMinSeconds || seconds > kMaxSeconds) {
    *error = absl::StrCat("timestamp: seconds out of range: ", seconds);
    return false;
  }
  // Beyond year 2262 nanoseconds overflow int64; saturate (such entries are "too new" anyway).
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  if (seconds > (kMax - nanos) / 1'000'000'000) {
    *out = kMax;
  } else if (seconds < kMin / 1'000'000'000 + 1) {
    *out = kMin;
  } else {
    *out = seconds * 1'000'000'000 + nanos;
  }
  return true;
}

using google::protobuf::internal::WireFormatLite;

// Minimal wire-format reader used only when the generated parser refuses a body. Generated C++
// proto3 code fails the whole message on a string field that is not valid UTF-8, while Loki's Go
// (gogo) code accepts any bytes; this reader lets FakeLoki see such entries and reject (or, with
// reject_invalid_utf8 off, accept) just those, as Loki would.
class LenientReader {
 public:
  explicit LenientReader(std::string_view data)
      : in_(reinterpret_cast<const uint8_t*>(data.data()), static_cast<int>(data.size())),
        size_(data.size()) {}

  bool ReadRequest(std::vector<PushStream>* out) {
    for (;;) {
      const uint32_t tag = in_.ReadTag();
      if (tag == 0) break;
      if (tag == Tag(1, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) {
        PushStream stream;
        if (!Nested([&] { return ReadStream(&stream); })) return false;
        out->push_back(std::move(stream));
      } else if (!WireFormatLite::SkipField(&in_, tag)) {
        return false;
      }
    }
    return static_cast<size_t>(in_.CurrentPosition()) == size_;
  }

 private:
  static uint32_t Tag(int field, WireFormatLite::WireType type) {
    return WireFormatLite::MakeTag(field, type);
  }
  template <typename F>
  bool Nested(F body) {
    uint32_t len;
    if (!in_.ReadVarint32(&len)) return false;
    const auto limit = in_.PushLimit(static_cast<int>(len));
    if (!body() || in_.BytesUntilLimit() != 0) return false;
    in_.PopLimit(limit);
    return true;
  }
  bool ReadString(std::string* out) {
    uint32_t len;
    return in_.ReadVarint32(&len) && in_.ReadString(out, static_cast<int>(len));
  }
  // Loops over a nested message's fields until its limit.
  template <typename F>
  bool Fields(F handle) {
    for (;;) {
      const uint32_t tag = in_.ReadTag();
      if (tag == 0) return in_.BytesUntilLimit() == 0;
      bool handled = false;
      if (!handle(tag, &handled)) return false;
      if (!handled && !WireFormatLite::SkipField(&in_, tag)) return false;
    }
  }
  bool ReadStream(PushStream* s) {
    return Fields([&](uint32_t tag, bool* handled) {
      *handled = true;
      if (tag == Tag(1, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) return ReadString(&s->labels);
      if (tag == Tag(2, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) {
        s->entries.emplace_back();
        return Nested([&] { return ReadEntry(&s->entries.back()); });
      }
      *handled = false;
      return true;
    });
  }
  bool ReadEntry(PushEntry* e) {
    int64_t seconds = 0;
    int64_t nanos = 0;
    bool ok = Fields([&](uint32_t tag, bool* handled) {
      *handled = true;
      if (tag == Tag(1, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) {
        return Nested([&] { return ReadTimestamp(&seconds, &nanos); });
      }
      if (tag == Tag(2, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) return ReadString(&e->line);
      if (tag == Tag(3, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) {
        e->structured_metadata.emplace_back();
        return Nested([&] { return ReadPair(&e->structured_metadata.back()); });
      }
      *handled = false;
      return true;
    });
    std::string error;
    return ok && TimestampToNanos(seconds, nanos, &e->timestamp_ns, &error);
  }
  bool ReadTimestamp(int64_t* seconds, int64_t* nanos) {
    return Fields([&](uint32_t tag, bool* handled) {
      uint64_t v;
      *handled = true;
      if (tag == Tag(1, WireFormatLite::WIRETYPE_VARINT)) {
        if (!in_.ReadVarint64(&v)) return false;
        *seconds = static_cast<int64_t>(v);
        return true;
      }
      if (tag == Tag(2, WireFormatLite::WIRETYPE_VARINT)) {
        if (!in_.ReadVarint64(&v)) return false;
        *nanos = static_cast<int32_t>(v);  // int32 field
        return true;
      }
      *handled = false;
      return true;
    });
  }
  bool ReadPair(std::pair<std::string, std::string>* p) {
    return Fields([&](uint32_t tag, bool* handled) {
      *handled = true;
      if (tag == Tag(1, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) return ReadString(&p->first);
      if (tag == Tag(2, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) return ReadString(&p->second);
      *handled = false;
      return true;
    });
  }

  google::protobuf::io::CodedInputStream in_;
  size_t size_;
};

struct DecodeError {
  int status = 400;
  std::string message;
};

bool DecodeProtobuf(std::string_view body, size_t max_decompressed, std::vector<PushStream>* out,
                    DecodeError* err) {
  size_t length = 0;
  if (!snappy::GetUncompressedLength(body.data(), body.size(), &length)) {
    err->message = "snappy: corrupt input";
    return false;
  }
  if (length > max_decompressed) {
    err->status = 413;
    err->message = absl::StrCat("request body too large: ", length,
                                " bytes (decompressed), limit: ", max_decompressed, " bytes");
    return false;
  }
  std::string raw;
  if (!snappy::Uncompress(body.data(), body.size(), &raw)) {
    err->message = "snappy: corrupt input";
    return false;
  }
  logproto::PushRequest req;
  if (req.ParseFromString(raw)) {
    out->reserve(static_cast<size_t>(req.streams_size()));
    for (const auto& s : req.streams()) {
      PushStream& stream = out->emplace_back();
      stream.labels = s.labels();
      stream.entries.reserve(static_cast<size_t>(s.entries_size()));
      for (const auto& e : s.entries()) {
        PushEntry& entry = stream.entries.emplace_back();
        if (!TimestampToNanos(e.timestamp().seconds(), e.timestamp().nanos(), &entry.timestamp_ns,
                              &err->message)) {
          return false;
        }
        entry.line = e.line();
        for (const auto& sm : e.structuredmetadata()) {
          entry.structured_metadata.emplace_back(sm.name(), sm.value());
        }
      }
    }
    return true;
  }
  out->clear();
  if (LenientReader(raw).ReadRequest(out)) return true;
  err->message = "proto: cannot parse push request (logproto.PushRequest)";
  return false;
}

// Loki's jsonparser.ParseInt: optional '-', decimal digits, no overflow.
bool ParseInt64Strict(std::string_view s, int64_t* out) {
  bool neg = false;
  size_t i = 0;
  if (i < s.size() && s[i] == '-') {
    neg = true;
    ++i;
  }
  if (i == s.size()) return false;
  uint64_t v = 0;
  const uint64_t limit = neg ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    const auto d = static_cast<uint64_t>(s[i] - '0');
    if (v > (limit - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
  return true;
}

bool DecodeJson(std::string_view body, std::vector<PushStream>* out, DecodeError* err) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(body.data(), body.size());
  simdjson::dom::element doc;
  if (auto e = parser.parse(padded).get(doc); e != simdjson::SUCCESS) {
    err->message = absl::StrCat("json: ", simdjson::error_message(e));
    return false;
  }
  auto fail = [&](std::string_view msg) {
    err->message = absl::StrCat("json: ", Av(msg));
    return false;
  };
  simdjson::dom::object root;
  if (doc.get(root) != simdjson::SUCCESS) return fail("push request must be an object");
  for (auto field : root) {
    if (field.key != "streams") continue;  // Loki ignores unknown fields
    if (field.value.is_null()) continue;
    simdjson::dom::array streams;
    if (field.value.get(streams) != simdjson::SUCCESS) return fail("\"streams\" must be an array");
    for (simdjson::dom::element s : streams) {
      simdjson::dom::object stream_obj;
      if (s.get(stream_obj) != simdjson::SUCCESS) return fail("stream must be an object");
      PushStream& stream = out->emplace_back();
      std::map<std::string, std::string> label_map;  // duplicate keys: the last one wins
      for (auto sf : stream_obj) {
        if (sf.key == "stream") {
          if (sf.value.is_null()) continue;
          simdjson::dom::object labels;
          if (sf.value.get(labels) != simdjson::SUCCESS)
            return fail("\"stream\" must be an object");
          for (auto lf : labels) {
            std::string_view v;
            if (lf.value.get(v) != simdjson::SUCCESS) return fail("label values must be strings");
            label_map[std::string(lf.key)] = std::string(v);
          }
        } else if (sf.key == "values") {
          if (sf.value.is_null()) continue;
          simdjson::dom::array values;
          if (sf.value.get(values) != simdjson::SUCCESS) return fail("\"values\" must be an array");
          for (simdjson::dom::element v : values) {
            simdjson::dom::array tuple;
            if (v.get(tuple) != simdjson::SUCCESS || tuple.size() < 2) {
              return fail("each value must be an array [\"<ts>\", \"<line>\", {metadata}?]");
            }
            PushEntry& entry = stream.entries.emplace_back();
            std::string_view ts;
            if (tuple.at(0).get(ts) != simdjson::SUCCESS) return fail("timestamp must be a string");
            if (!ParseInt64Strict(ts, &entry.timestamp_ns)) {
              return fail(absl::StrCat("invalid timestamp \"", Av(ts), "\""));
            }
            std::string_view line;
            if (tuple.at(1).get(line) != simdjson::SUCCESS) return fail("line must be a string");
            entry.line = std::string(line);
            if (tuple.size() >= 3) {
              simdjson::dom::object sm;
              if (tuple.at(2).get(sm) != simdjson::SUCCESS) {
                return fail("structured metadata must be an object");
              }
              for (auto mf : sm) {
                std::string_view mv;
                if (mf.value.get(mv) != simdjson::SUCCESS) {
                  return fail("structured metadata values must be strings");
                }
                entry.structured_metadata.emplace_back(std::string(mf.key), std::string(mv));
              }
            }
          }
        }
      }
      stream.labels = FormatLokiLabels(label_map);
    }
  }
  return true;
}

// "application/x-protobuf; charset=x" -> "application/x-protobuf", like Go's mime.ParseMediaType.
std::string MediaType(std::string_view header) {
  const size_t semi = header.find(';');
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(
      Av(header.substr(0, semi == std::string_view::npos ? header.size() : semi))));
}

}  // namespace

// ---- Public label helpers ----------------------------------------------------------------------

bool ParseLokiLabels(std::string_view text, std::map<std::string, std::string>* out,
                     std::string* error) {
  LabelPairs pairs;
  if (!ParseAndNormalize(text, &pairs, error)) return false;
  out->clear();
  for (auto& [name, value] : pairs) {
    if (!out->emplace(name, std::move(value)).second) {
      *error = absl::StrCat("duplicate label name: ", name);
      return false;
    }
  }
  return true;
}

std::string FormatLokiLabels(const std::map<std::string, std::string>& labels) {
  return FormatPairs(LabelPairs(labels.begin(), labels.end()));
}

// ---- Server ------------------------------------------------------------------------------------

// The server proper. Threads: server_ (TestHttpServer) owns the acceptor thread and one thread per
// connection, which runs Serve(): blocking Beast reads/writes. All shared state is under mu_; cv_
// is notified whenever entries, requests or held requests change, and on stop/release.
class FakeLoki::Impl {
 public:
  explicit Impl(Options options)
      : opts_(std::move(options)),
        clock_(opts_.clock ? opts_.clock : RealClock::Get()),
        server_(ServerOptions()) {}
  ~Impl() { Stop(); }  // before the members the connection threads use go away

  absl::Status Start() { return server_.Start(); }
  // Wakes stalled requests (on_stop), then closes and joins everything.
  void Stop() { server_.Stop(); }
  int port() const { return server_.port(); }
  bool tls() const { return opts_.tls.has_value(); }

  // Faults.
  void FailNext(int count, int status, std::string body, std::optional<int> retry_after) {
    std::lock_guard l(mu_);
    fail_remaining_ = count;
    fail_status_ = status;
    fail_body_ = std::move(body);
    fail_retry_after_ = retry_after;
  }
  void StallNext(int count, absl::Duration duration) {
    std::lock_guard l(mu_);
    stall_remaining_ = count;
    stall_duration_ = duration;
  }
  void DropNext(int count) {
    std::lock_guard l(mu_);
    drop_remaining_ = count;
  }
  void ReleaseStall() {
    std::lock_guard l(mu_);
    stall_remaining_ = 0;
    ++release_generation_;
    cv_.notify_all();
  }
  void QueueFaults(std::vector<Fault> steps) {
    std::lock_guard l(mu_);
    for (Fault& f : steps) {
      if (f.count > 0) fault_queue_.push_back(std::move(f));
    }
  }
  size_t queued_faults() const {
    return Read<size_t>([&] { return QueuedFaultsLocked(); });
  }
  bool WaitForQueuedFaults(absl::Duration t) const {
    return WaitOn(mu_, cv_, t, [&] { return fault_queue_.empty(); });
  }
  void ClearFaults() {
    std::lock_guard l(mu_);
    fault_queue_.clear();
    fail_remaining_ = 0;
    drop_remaining_ = 0;
    stall_remaining_ = 0;
    ++release_generation_;
    cv_.notify_all();
  }

  // Observations.
  std::vector<FakeLokiStream> Streams() const {
    std::lock_guard l(mu_);
    std::vector<FakeLokiStream> out;
    out.reserve(streams_.size());
    for (const auto& s : streams_) out.push_back(s.data);
    return out;
  }
  std::optional<FakeLokiStream> FindStream(std::string_view labels, std::string_view tenant) const {
    LabelPairs pairs;
    std::string error;
    if (!ParseAndNormalize(labels, &pairs, &error)) return std::nullopt;
    std::lock_guard l(mu_);
    auto it = index_.find(Key(tenant, FormatPairs(pairs)));
    if (it == index_.end()) return std::nullopt;
    return streams_[it->second].data;
  }
  std::vector<std::string> AllLines() const {
    std::lock_guard l(mu_);
    std::vector<std::string> out;
    out.reserve(total_entries_);
    for (const auto& s : streams_) {
      for (const auto& e : s.data.entries) out.push_back(e.line);
    }
    return out;
  }
  template <typename T, typename F>
  T Read(F f) const {
    std::lock_guard l(mu_);
    return f();
  }
  size_t total_entries() const {
    return Read<size_t>([&] { return total_entries_; });
  }
  size_t stream_count() const {
    return Read<size_t>([&] { return streams_.size(); });
  }
  size_t duplicates() const {
    return Read<size_t>([&] { return duplicates_; });
  }
  size_t rejected_entries() const {
    return Read<size_t>([&] { return rejected_; });
  }
  std::map<std::string, size_t> rejected_by_reason() const {
    return Read<std::map<std::string, size_t>>([&] { return rejected_by_reason_; });
  }
  std::vector<FakeLokiRejection> Rejections() const {
    return Read<std::vector<FakeLokiRejection>>(
        [&] { return std::vector<FakeLokiRejection>(rejections_.begin(), rejections_.end()); });
  }
  size_t request_count() const {
    return Read<size_t>([&] { return request_count_; });
  }
  std::map<int, size_t> requests_by_status() const {
    return Read<std::map<int, size_t>>([&] { return requests_by_status_; });
  }
  std::vector<FakeLokiRequest> Requests() const {
    return Read<std::vector<FakeLokiRequest>>(
        [&] { return std::vector<FakeLokiRequest>(requests_.begin(), requests_.end()); });
  }
  size_t stalled_now() const {
    return Read<size_t>([&] { return stalled_now_; });
  }
  std::vector<FakeLokiRequest> ConnectRequests() const {
    return Read<std::vector<FakeLokiRequest>>(
        [&] { return std::vector<FakeLokiRequest>(connects_.begin(), connects_.end()); });
  }
  size_t tls_handshake_failures() const {
    return Read<size_t>([&] { return tls_failures_; });
  }
  std::string last_tls_error() const {
    return Read<std::string>([&] { return last_tls_error_; });
  }
  void ClearObservations() {
    std::lock_guard l(mu_);
    streams_.clear();
    index_.clear();
    total_entries_ = duplicates_ = rejected_ = request_count_ = 0;
    rejected_by_reason_.clear();
    rejections_.clear();
    requests_by_status_.clear();
    requests_.clear();
    connects_.clear();
    tls_failures_ = 0;
    last_tls_error_.clear();
    cv_.notify_all();
  }
  bool WaitForEntries(size_t n, absl::Duration t) const {
    return WaitOn(mu_, cv_, t, [&] { return total_entries_ >= n; });
  }
  bool WaitForRequests(size_t n, absl::Duration t) const {
    return WaitOn(mu_, cv_, t, [&] { return request_count_ >= n; });
  }
  bool WaitForStalled(size_t n, absl::Duration t) const {
    return WaitOn(mu_, cv_, t, [&] { return stalled_now_ >= n; });
  }
  bool WaitForTlsFailures(size_t n, absl::Duration t) const {
    return WaitOn(mu_, cv_, t, [&] { return tls_failures_ >= n; });
  }

  std::string MetricsText() const;
  std::string StatsJson() const;

 private:
  // What a connection's TLS session says about the client; set by the connection's own thread
  // before it reads requests.
  struct Peer {
    bool tls = false;
    std::string sni;
    std::string client_subject;
  };

  // What the push handler decided: a response, or drop the connection.
  struct Outcome {
    bool drop = false;
    int status = 204;
    std::string body;
    std::optional<int> retry_after;
  };

  // Per (tenant, canonical labels) ingester state.
  struct StreamState {
    FakeLokiStream data;
    int64_t highest_ts = 0;
  };

  // Collects rejections of one request and renders the 400 body.
  struct RequestErrors {
    // Distributor validation errors, grouped by message in first-seen order (Loki groups them
    // the same way, in map order).
    std::vector<std::pair<std::string, size_t>> grouped;
    absl::flat_hash_map<std::string, size_t> group_index;
    // Ingester errors (ordering), one block per stream.
    std::vector<std::string> ingester;
    bool any() const { return !grouped.empty() || !ingester.empty(); }
  };

  static std::string Key(std::string_view tenant, std::string_view labels) {
    return absl::StrCat(Av(tenant), absl::string_view("\0", 1), Av(labels));
  }

  TestHttpServer::Options ServerOptions();
  void Serve(Connection& c);  // on the connection's thread
  void ServeTls(Connection& c);
  template <class Stream>
  void ServeLoop(Connection& c, Stream& stream, const Peer& peer);
  template <class Stream>
  void DrainAndClose(Connection& c, Stream& stream);
  std::optional<http::response<http::string_body>> Dispatch(
      const http::request<http::string_body>& req, const Peer& peer);
  Outcome HandlePush(const http::request<http::string_body>& req, FakeLokiRequest* info);
  void TlsFailed(const std::string& error);
  static void FillRequestInfo(const http::request<http::string_body>& h, const Peer& peer,
                              FakeLokiRequest* info);
  Outcome Ingest(std::vector<PushStream>& streams, const std::string& tenant,
                 FakeLokiRequest* info);
  void Reject(RequestErrors* errors, const std::string& labels, int64_t ts, std::string_view reason,
              const std::string& message, bool distributor);
  std::string RenderErrors(const RequestErrors& errors) const;
  void Record(FakeLokiRequest info);

  const Options opts_;
  const Clock* const clock_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool stopping_ = false;
  // Faults: remaining counts, -1 = until cleared.
  int fail_remaining_ = 0;
  int fail_status_ = 500;
  std::string fail_body_;
  std::optional<int> fail_retry_after_;
  int stall_remaining_ = 0;
  absl::Duration stall_duration_ = absl::InfiniteDuration();
  uint64_t release_generation_ = 0;
  int drop_remaining_ = 0;
  size_t stalled_now_ = 0;
  std::deque<Fault> fault_queue_;  // QueueFaults: the front step decides the next push request
  size_t QueuedFaultsLocked() const {
    size_t n = 0;
    for (const Fault& f : fault_queue_) n += static_cast<size_t>(f.count);
    return n;
  }
  // Store and observations.
  std::deque<StreamState> streams_;
  absl::flat_hash_map<std::string, size_t> index_;  // Key() -> streams_ index
  size_t total_entries_ = 0;
  size_t duplicates_ = 0;
  size_t rejected_ = 0;
  std::map<std::string, size_t> rejected_by_reason_;
  std::deque<FakeLokiRejection> rejections_;
  size_t request_count_ = 0;
  std::map<int, size_t> requests_by_status_;
  std::deque<FakeLokiRequest> requests_;
  std::deque<FakeLokiRequest> connects_;
  size_t tls_failures_ = 0;
  std::string last_tls_error_;

  // Last: its threads use the members above.
  TestHttpServer server_;
};

TestHttpServer::Options FakeLoki::Impl::ServerOptions() {
  TestHttpServer::Options o;
  o.name = "FakeLoki";
  o.log_component = "fake_loki";
  o.listen_host = opts_.listen_host;
  o.listen_port = opts_.listen_port;
  if (opts_.tls) {
    o.tls = TestHttpServer::Tls{.cert_pem = opts_.tls->cert_pem,
                                .key_pem = opts_.tls->key_pem,
                                .client_ca_pem = opts_.tls->client_ca_pem,
                                .require_client_cert = opts_.tls->require_client_cert,
                                .max_tls12 = opts_.tls->max_tls12};
  }
  o.serve = [this](Connection& c) { Serve(c); };
  o.on_stop = [this] {
    std::lock_guard l(mu_);
    stopping_ = true;
    cv_.notify_all();
  };
  return o;
}

// After an early answer (413 without reading the body): stop sending, then read and discard
// until the client closes, so the unread body does not turn our close into an RST that could
// destroy the response before the client reads it. Stop() interrupts the read.
template <class Stream>
void FakeLoki::Impl::DrainAndClose(Connection& c, Stream& stream) {
  c.ShutdownSend();
  beast::error_code ec;
  std::vector<char> sink(64 * 1024);
  size_t drained = 0;
  while (!ec && drained < opts_.max_body_bytes + (1 << 20)) {
    drained += stream.read_some(boost::asio::buffer(sink), ec);
  }
  c.Close(/*abort=*/false);
}

void FakeLoki::Impl::Serve(Connection& c) {
  if (server_.tls_context()) {
    ServeTls(c);
  } else {
    ServeLoop(c, c.socket(), Peer{});
  }
}

void FakeLoki::Impl::FillRequestInfo(const http::request<http::string_body>& h, const Peer& peer,
                                     FakeLokiRequest* info) {
  info->received = absl::Now();
  info->method = Str(h.method_string());
  info->target = Str(h.target());
  info->host = Str(h[http::field::host]);
  info->content_type = Str(h[http::field::content_type]);
  info->content_encoding = Str(h[http::field::content_encoding]);
  info->org_id = Str(h["X-Scope-OrgID"]);
  info->user_agent = Str(h[http::field::user_agent]);
  info->authorization = Str(h[http::field::authorization]);
  for (const auto& field : h)
    info->headers.emplace_back(Str(field.name_string()), Str(field.value()));
  info->tls = peer.tls;
  info->sni = peer.sni;
  info->client_cert_subject = peer.client_subject;
}

void FakeLoki::Impl::TlsFailed(const std::string& error) {
  std::lock_guard l(mu_);
  ++tls_failures_;
  last_tls_error_ = error;
  cv_.notify_all();
}

void FakeLoki::Impl::ServeTls(Connection& c) {
  // A TLS client starts with a handshake record (0x16); anything else is plain HTTP.
  char first = 0;
  ssize_t n;
  do {
    n = ::recv(c.socket().native_handle(), &first, 1, MSG_PEEK);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return;
  beast::error_code ec;
  if (first != 0x16) {
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    http::read(c.socket(), buffer, req, ec);
    if (ec) return;
    if (req.method() != http::verb::connect) {
      // Go's net/http answer to plain HTTP on a TLS port.
      http::response<http::string_body> res{http::status::bad_request, req.version()};
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      res.body() = "Client sent an HTTP request to an HTTPS server.\n";
      res.keep_alive(false);
      res.prepare_payload();
      http::write(c.socket(), res, ec);
      return;
    }
    FakeLokiRequest info;
    FillRequestInfo(req, Peer{}, &info);
    info.status = 200;
    {
      std::lock_guard l(mu_);
      connects_.push_back(std::move(info));
      while (connects_.size() > opts_.request_log_size) connects_.pop_front();
      cv_.notify_all();
    }
    // The tunnel's far end is this server: say yes and go on with TLS on the same connection.
    static constexpr std::string_view kEstablished = "HTTP/1.1 200 Connection established\r\n\r\n";
    if (!WriteAll(c.socket(), kEstablished) || buffer.size() != 0) return;
  }
  TestHttpServer::TlsStream tls(c.socket(), *server_.tls_context());
  if (std::string error; !TestHttpServer::Handshake(tls, &error)) {
    TlsFailed(error);
    return;
  }
  SSL* ssl = tls.native_handle();
  Peer peer;
  peer.tls = true;
  if (const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) peer.sni = sni;
  if (X509* cert = SSL_get1_peer_certificate(ssl)) {
    char cn[256] = {};
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn)) >
        0) {
      peer.client_subject = cn;
    }
    X509_free(cert);
  }
  ServeLoop(c, tls, peer);
}

template <class Stream>
void FakeLoki::Impl::ServeLoop(Connection& c, Stream& stream, const Peer& peer) {
  beast::flat_buffer buffer;
  // Beast reads at most the buffer's free capacity (at least 512 bytes): reserved, a push body
  // comes in 64 KiB reads instead of 512-byte ones.
  buffer.reserve(64 * 1024);
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(opts_.max_body_bytes);
    beast::error_code ec;
    http::read_header(stream, buffer, parser, ec);
    bool too_large = ec == http::error::body_limit;
    if (ec && !too_large) {
      // Not HTTP: say so, as Go's server does. EOF, resets and Stop() just end the connection.
      if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
          ec != http::error::end_of_stream && ec != http::error::partial_message) {
        http::response<http::string_body> res{http::status::bad_request, 11};
        res.set(http::field::content_type, "text/plain; charset=utf-8");
        res.body() = absl::StrCat("400 Bad Request: ", ec.message(), "\n");
        res.keep_alive(false);
        res.prepare_payload();
        http::write(stream, res, ec);
      }
      return;
    }
    const bool is_push = PathOf(BSv(parser.get().target())).starts_with(kPushPath);
    if (!too_large && beast::iequals(parser.get()[http::field::expect], "100-continue")) {
      http::response<http::empty_body> cont{http::status::continue_, parser.get().version()};
      http::write(stream, cont, ec);
      if (ec) return;
    }
    if (!too_large) {
      http::read(stream, buffer, parser, ec);
      too_large = ec == http::error::body_limit;
      if (ec && !too_large) return;
    }
    if (too_large) {
      const auto& h = parser.get();
      FakeLokiRequest info;
      FillRequestInfo(h, peer, &info);
      // The header is parsed but not "done" when the limit trips, so read the field directly.
      uint64_t length = 0;
      if (absl::SimpleAtoi(Av(BSv(h[http::field::content_length])), &length)) {
        info.body_bytes = length;
      }
      info.status = 413;
      info.response_body =
          absl::StrCat("request body too large: limit: ", opts_.max_body_bytes, " bytes\n");
      http::response<http::string_body> res{http::status::payload_too_large, h.version()};
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      res.body() = info.response_body;
      res.keep_alive(false);
      res.prepare_payload();
      if (is_push) Record(std::move(info));
      http::write(stream, res, ec);
      DrainAndClose(c, stream);
      return;
    }
    http::request<http::string_body> req = parser.release();
    std::optional<http::response<http::string_body>> res = Dispatch(req, peer);
    if (!res) {
      c.Close(/*abort=*/true);
      return;
    }
    http::write(stream, *res, ec);
    if (ec || !res->keep_alive()) return;
  }
}

std::optional<http::response<http::string_body>> FakeLoki::Impl::Dispatch(
    const http::request<http::string_body>& req, const Peer& peer) {
  // Absolute-form (through a proxy): the path is what names the handler.
  std::string_view target = PathOf(BSv(req.target()));
  target = target.substr(0, target.find('?'));
  http::response<http::string_body> res{http::status::ok, req.version()};
  res.keep_alive(req.keep_alive());
  auto text = [&](http::status status, std::string body) {
    res.result(status);
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = std::move(body);
  };
  if (target == kPushPath) {
    if (req.method() != http::verb::post) {
      text(http::status::method_not_allowed, "method not allowed\n");
    } else {
      FakeLokiRequest info;
      FillRequestInfo(req, peer, &info);
      Outcome outcome = HandlePush(req, &info);
      if (outcome.drop) return std::nullopt;
      res.result(static_cast<http::status>(outcome.status));
      if (!outcome.body.empty()) text(res.result(), std::move(outcome.body));
      if (outcome.retry_after)
        res.set(http::field::retry_after, std::to_string(*outcome.retry_after));
    }
  } else if (target == "/ready") {
    if (req.method() != http::verb::get) {
      text(http::status::method_not_allowed, "method not allowed\n");
    } else {
      text(http::status::ok, "ready");
    }
  } else if (target == "/metrics") {
    if (req.method() != http::verb::get) {
      text(http::status::method_not_allowed, "method not allowed\n");
    } else {
      text(http::status::ok, MetricsText());
      res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    }
  } else {
    text(http::status::not_found, "404 page not found\n");
  }
  const http::status result = res.result();
  if (result == http::status::no_content || result == http::status::not_modified ||
      http::to_status_class(result) == http::status_class::informational) {
    // No body and, like Go's net/http, no Content-Length (RFC 9110 forbids it on 204).
    res.body().clear();
    res.erase(http::field::content_type);
    res.erase(http::field::content_length);
  } else {
    res.prepare_payload();
  }
  return res;
}

FakeLoki::Impl::Outcome FakeLoki::Impl::HandlePush(const http::request<http::string_body>& req,
                                                   FakeLokiRequest* info) {
  info->body_bytes = req.body().size();

  Outcome outcome;
  bool stall = false;
  absl::Duration stall_for;
  // A queued step, taken at arrival: it alone decides this request.
  std::optional<Fault> queued;
  {
    std::unique_lock l(mu_);
    if (!fault_queue_.empty()) {
      queued = fault_queue_.front();
      if (--fault_queue_.front().count == 0) {
        fault_queue_.pop_front();
        cv_.notify_all();  // WaitForQueuedFaults
      }
      outcome.drop = queued->kind == Fault::Kind::kDrop;
    } else if (drop_remaining_ != 0) {
      if (drop_remaining_ > 0) --drop_remaining_;
      outcome.drop = true;
    } else if (stall_remaining_ != 0) {
      if (stall_remaining_ > 0) --stall_remaining_;
      stall = true;
      stall_for = stall_duration_;
    }
  }
  if (outcome.drop) {
    info->status = 0;
    Record(std::move(*info));
    return outcome;
  }
  if (stall) {
    std::unique_lock l(mu_);
    ++stalled_now_;
    cv_.notify_all();
    const uint64_t generation = release_generation_;
    auto released = [&] { return stopping_ || release_generation_ != generation; };
    WaitOn(cv_, l, stall_for, released);
    --stalled_now_;
    cv_.notify_all();
    if (stopping_) {
      outcome.drop = true;  // shutting down: no answer, not recorded
      return outcome;
    }
  }
  bool failed = false;
  if (queued.has_value()) {
    if (queued->kind == Fault::Kind::kStatus) {
      failed = true;
      outcome.status = queued->status;
      outcome.body = queued->body;
      outcome.retry_after = queued->retry_after_seconds;
    }
  } else {
    std::lock_guard l(mu_);
    if (fail_remaining_ != 0) {
      if (fail_remaining_ > 0) --fail_remaining_;
      failed = true;
      outcome.status = fail_status_;
      outcome.body = fail_body_;
      outcome.retry_after = fail_retry_after_;
    }
  }
  if (!failed) {
    outcome = [&]() -> Outcome {
      if (!opts_.required_authorization.empty() &&
          info->authorization != opts_.required_authorization) {
        return {false, 401, "unauthorized\n", {}};
      }
      if (opts_.require_tenant && info->org_id.empty()) return {false, 401, "no org id\n", {}};
      const std::string media_type = MediaType(info->content_type);
      if (media_type.empty()) return {false, 400, "mime: no media type\n", {}};
      const std::string& encoding = info->content_encoding;
      if (encoding == "gzip" || encoding == "deflate") {
        return {false,
                400,
                absl::StrCat("Content-Encoding ", encoding, " is not supported by fake_loki\n"),
                {}};
      }
      if (!encoding.empty() && encoding != "snappy") {
        return {
            false, 400, absl::StrCat("Content-Encoding \"", encoding, "\" not supported\n"), {}};
      }
      std::vector<PushStream> streams;
      DecodeError err;
      // Loki: JSON when the media type says so, snappy-compressed protobuf otherwise.
      const bool ok =
          media_type == "application/json"
              ? DecodeJson(req.body(), &streams, &err)
              : DecodeProtobuf(req.body(), opts_.max_decompressed_bytes, &streams, &err);
      if (!ok) return {false, err.status, err.message + "\n", {}};
      for (const auto& s : streams) info->entries_received += s.entries.size();
      if (streams.empty()) {
        return {false, 422, "error at least one valid stream is required for ingestion\n", {}};
      }
      if (opts_.reject_request_on_unparsable_labels) {
        for (const auto& s : streams) {
          LabelPairs pairs;
          std::string error;
          if (!ParseAndNormalize(s.labels, &pairs, &error)) {
            return {false, 400, absl::StrCat("couldn't parse labels: ", error, "\n"), {}};
          }
        }
      }
      return Ingest(streams, info->org_id, info);
    }();
  }
  info->status = outcome.status;
  info->response_body = outcome.body;
  Record(std::move(*info));
  return outcome;
}

void FakeLoki::Impl::Reject(RequestErrors* errors, const std::string& labels, int64_t ts,
                            std::string_view reason, const std::string& message, bool distributor) {
  ++rejected_;
  ++rejected_by_reason_[std::string(reason)];
  rejections_.push_back({labels, ts, std::string(reason), message});
  while (rejections_.size() > opts_.rejection_log_size) rejections_.pop_front();
  if (!distributor) return;
  auto [it, inserted] = errors->group_index.try_emplace(message, errors->grouped.size());
  if (inserted) errors->grouped.emplace_back(message, 0);
  ++errors->grouped[it->second].second;
}

std::string FakeLoki::Impl::RenderErrors(const RequestErrors& errors) const {
  // Distributor part, like Loki's GroupedErrors: "N errors like: msg" joined by "; ".
  std::vector<std::string> parts;
  const bool counted = errors.grouped.size() > 1;
  for (const auto& [message, n] : errors.grouped) {
    if (parts.size() == opts_.max_errors_in_response) {
      parts.push_back(absl::StrCat("and ", errors.grouped.size() - parts.size(), " more errors"));
      break;
    }
    parts.push_back((counted || n > 1) ? absl::StrCat(n, " errors like: ", message) : message);
  }
  std::string body = absl::StrJoin(parts, "; ");
  for (const auto& block : errors.ingester) {
    if (!body.empty()) body += "\n";
    body += block;
  }
  body += "\n";
  return body;
}

FakeLoki::Impl::Outcome FakeLoki::Impl::Ingest(std::vector<PushStream>& streams,
                                               const std::string& tenant, FakeLokiRequest* info) {
  const int64_t now = clock_->NowUnixNanos();
  const int64_t oldest_ok = now - absl::ToInt64Nanoseconds(opts_.reject_old_samples_max_age);
  const int64_t newest_ok = now + absl::ToInt64Nanoseconds(opts_.creation_grace_period);
  const int64_t behind_window = absl::ToInt64Nanoseconds(opts_.max_chunk_age / 2);
  const std::string user = tenant.empty() ? "fake" : tenant;  // Loki's single-tenant id

  std::lock_guard l(mu_);
  RequestErrors errors;
  size_t accepted = 0;
  for (PushStream& s : streams) {
    if (s.entries.empty()) continue;  // Loki skips these before looking at the labels
    auto reject_stream = [&](std::string_view reason, const std::string& message) {
      for (const auto& e : s.entries)
        Reject(&errors, s.labels, e.timestamp_ns, reason, message, true);
    };

    // Distributor: labels.
    LabelPairs pairs;
    std::string error;
    if (!ParseAndNormalize(s.labels, &pairs, &error)) {
      reject_stream("invalid_labels",
                    absl::StrCat("Error parsing labels '", s.labels, "' with error: ", error));
      continue;
    }
    if (pairs.empty()) {
      reject_stream("missing_labels", "error at least one label pair is required per stream");
      continue;
    }
    int names = static_cast<int>(pairs.size());
    // Loki does not count the service_name label it may add itself.
    if (std::any_of(pairs.begin(), pairs.end(),
                    [](const auto& p) { return p.first == "service_name"; })) {
      --names;
    }
    if (names > opts_.max_label_names_per_series) {
      reject_stream("max_label_names_per_series",
                    absl::StrCat("entry for stream '", s.labels, "' has ", names,
                                 " label names; limit ", opts_.max_label_names_per_series));
      continue;
    }
    bool labels_ok = true;
    for (size_t i = 0; i < pairs.size() && labels_ok; ++i) {
      const auto& [name, value] = pairs[i];
      labels_ok = false;
      if (name.size() > opts_.max_label_name_length) {
        reject_stream(
            "label_name_too_long",
            absl::StrCat("stream '", s.labels, "' has label name too long: '", name, "'"));
      } else if (value.size() > opts_.max_label_value_length) {
        reject_stream(
            "label_value_too_long",
            absl::StrCat("stream '", s.labels, "' has label value too long: '", value, "'"));
      } else if (i > 0 && pairs[i - 1].first == name) {
        reject_stream(
            "duplicate_label_names",
            absl::StrCat("stream '", s.labels, "' has duplicate label name: '", name, "'"));
      } else {
        labels_ok = true;
      }
    }
    if (!labels_ok) continue;
    const std::string canonical = FormatPairs(pairs);

    // Distributor: entries. Ingester: duplicates and ordering against the stream's state.
    StreamState* state = nullptr;
    std::vector<std::string> ingester_errors;
    size_t ingester_failed = 0;
    for (PushEntry& e : s.entries) {
      const int64_t ts = e.timestamp_ns;
      if (opts_.reject_old_samples && ts < oldest_ok) {
        Reject(&errors, canonical, ts, "greater_than_max_sample_age",
               absl::StrCat("entry for stream '", canonical, "' has timestamp too old: ",
                            Rfc3339(ts), ", oldest acceptable timestamp is: ", Rfc3339(oldest_ok)),
               true);
        continue;
      }
      if (ts > newest_ok) {
        Reject(
            &errors, canonical, ts, "too_far_in_future",
            absl::StrCat("entry for stream '", canonical, "' has timestamp too new: ", Rfc3339(ts)),
            true);
        continue;
      }
      if (opts_.max_line_size != 0 && e.line.size() > opts_.max_line_size) {
        Reject(&errors, canonical, ts, "line_too_long",
               absl::StrCat("Max entry size '", opts_.max_line_size,
                            "' bytes exceeded for stream '", canonical,
                            "' while adding an entry with length '", e.line.size(), "' bytes"),
               true);
        continue;
      }
      if (opts_.reject_invalid_utf8) {
        bool valid = IsValidUtf8(e.line);
        for (const auto& [n, v] : e.structured_metadata)
          valid = valid && IsValidUtf8(n) && IsValidUtf8(v);
        if (!valid) {
          Reject(&errors, canonical, ts, "invalid_utf8",
                 absl::StrCat("entry for stream '", canonical,
                              "' is not valid UTF-8 (fake_loki rejects it; Loki would store the "
                              "bytes)"),
                 true);
          continue;
        }
      }
      if (!e.structured_metadata.empty()) {
        size_t sm_size = 0;
        for (const auto& [n, v] : e.structured_metadata) sm_size += n.size() + v.size();
        const size_t sm_count = e.structured_metadata.size();
        if (!opts_.allow_structured_metadata) {
          Reject(&errors, canonical, ts, "disallowed_structured_metadata",
                 absl::StrCat("stream '", canonical,
                              "' includes structured metadata, but this feature is disallowed. "
                              "Please see `limits_config.allow_structured_metadata` or contact "
                              "your Loki administrator to enable it."),
                 true);
          continue;
        }
        if (opts_.max_structured_metadata_size != 0 &&
            sm_size > opts_.max_structured_metadata_size) {
          Reject(&errors, canonical, ts, "structured_metadata_too_large",
                 absl::StrCat("stream '", canonical, "' has structured metadata too large: '",
                              sm_size, "' bytes, limit: '", opts_.max_structured_metadata_size,
                              "' bytes. Please see `limits_config.max_structured_metadata_size` "
                              "or contact your Loki administrator to increase it."),
                 true);
          continue;
        }
        if (opts_.max_structured_metadata_entries != 0 &&
            sm_count > opts_.max_structured_metadata_entries) {
          Reject(&errors, canonical, ts, "structured_metadata_too_many",
                 absl::StrCat("stream '", canonical, "' has too many structured metadata labels: '",
                              sm_count, "', limit: '", opts_.max_structured_metadata_entries,
                              "'. Please see `limits_config.max_structured_metadata_entries_count` "
                              "or contact your Loki administrator to increase it."),
                 true);
          continue;
        }
      }

      if (state == nullptr) {
        const std::string key = Key(tenant, canonical);
        auto it = index_.find(key);
        if (it == index_.end()) {
          it = index_.emplace(key, streams_.size()).first;
          StreamState& fresh = streams_.emplace_back();
          fresh.data.tenant = tenant;
          fresh.data.labels = canonical;
          fresh.data.label_map = std::map<std::string, std::string>(pairs.begin(), pairs.end());
        }
        state = &streams_[it->second];
      }
      auto& stored = state->data.entries;
      if (!stored.empty() && stored.back().timestamp_ns == ts && stored.back().line == e.line &&
          stored.back().structured_metadata == e.structured_metadata) {
        ++duplicates_;  // Loki drops these silently
        continue;
      }
      std::string ingester_error;
      std::string_view reason;
      if (opts_.ordered_writes) {
        if (!stored.empty() && ts < stored.back().timestamp_ns) {
          reason = "out_of_order";
          ingester_error = "entry out of order";
        }
      } else if (!stored.empty() && ts < state->highest_ts - behind_window) {
        reason = "too_far_behind";
        ingester_error = absl::StrCat(
            "entry too far behind, entry timestamp is: ", Rfc3339(ts),
            ", oldest acceptable timestamp is: ", Rfc3339(state->highest_ts - behind_window));
      }
      if (!reason.empty()) {
        Reject(&errors, canonical, ts, reason, ingester_error, false);
        ++ingester_failed;
        if (ingester_errors.size() < opts_.max_errors_in_response) {
          ingester_errors.push_back(absl::StrCat("entry with timestamp ", GoTimeString(ts),
                                                 " ignored, reason: '", ingester_error, "',"));
        }
        continue;
      }
      state->highest_ts = stored.empty() ? ts : std::max(state->highest_ts, ts);
      stored.push_back({ts, std::move(e.line), std::move(e.structured_metadata)});
      ++total_entries_;
      ++accepted;
    }
    if (ingester_failed > 0) {
      ingester_errors.push_back(absl::StrCat("user '", user, "', total ignored: ", ingester_failed,
                                             " out of ", s.entries.size(),
                                             " for stream: ", canonical));
      errors.ingester.push_back(absl::StrJoin(ingester_errors, "\n"));
    }
  }
  info->entries_accepted = accepted;
  if (accepted > 0) cv_.notify_all();
  if (errors.any()) return {false, 400, RenderErrors(errors), {}};
  return {};
}

void FakeLoki::Impl::Record(FakeLokiRequest info) {
  std::lock_guard l(mu_);
  ++request_count_;
  ++requests_by_status_[info.status];
  requests_.push_back(std::move(info));
  while (requests_.size() > opts_.request_log_size) requests_.pop_front();
  cv_.notify_all();
}

std::string FakeLoki::Impl::MetricsText() const {
  std::lock_guard l(mu_);
  std::string out;
  absl::StrAppend(&out, "# TYPE fake_loki_push_requests_total counter\n");
  for (const auto& [status, n] : requests_by_status_) {
    absl::StrAppend(&out, "fake_loki_push_requests_total{status=\"", status, "\"} ", n, "\n");
  }
  absl::StrAppend(&out, "# TYPE fake_loki_entries_total counter\nfake_loki_entries_total ",
                  total_entries_, "\n");
  absl::StrAppend(&out, "# TYPE fake_loki_streams gauge\nfake_loki_streams ", streams_.size(),
                  "\n");
  absl::StrAppend(&out, "# TYPE fake_loki_duplicates_total counter\nfake_loki_duplicates_total ",
                  duplicates_, "\n");
  absl::StrAppend(&out, "# TYPE fake_loki_discarded_samples_total counter\n");
  for (const auto& [reason, n] : rejected_by_reason_) {
    absl::StrAppend(&out, "fake_loki_discarded_samples_total{reason=\"", reason, "\"} ", n, "\n");
  }
  absl::StrAppend(&out, "# TYPE fake_loki_stalled_requests gauge\nfake_loki_stalled_requests ",
                  stalled_now_, "\n");
  return out;
}

std::string FakeLoki::Impl::StatsJson() const {
  std::lock_guard l(mu_);
  std::string out = absl::StrCat("{\"entries\":", total_entries_, ",\"streams\":", streams_.size(),
                                 ",\"duplicates\":", duplicates_, ",\"rejected\":", rejected_,
                                 ",\"requests\":", request_count_, ",\"requests_by_status\":{");
  bool first = true;
  for (const auto& [status, n] : requests_by_status_) {
    absl::StrAppend(&out, first ? "" : ",", "\"", status, "\":", n);
    first = false;
  }
  out += "},\"rejected_by_reason\":{";
  first = true;
  for (const auto& [reason, n] : rejected_by_reason_) {
    absl::StrAppend(&out, first ? "" : ",", "\"", reason, "\":", n);  // reasons are identifiers
    first = false;
  }
  out += "}}";
  return out;
}

// ---- FakeLoki forwarding -----------------------------------------------------------------------

FakeLoki::FakeLoki() : FakeLoki(Options()) {}
FakeLoki::FakeLoki(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
FakeLoki::~FakeLoki() { Stop(); }

absl::Status FakeLoki::Start() { return impl_->Start(); }
void FakeLoki::Stop() { impl_->Stop(); }
int FakeLoki::port() const { return impl_->port(); }
std::string FakeLoki::base_url() const {
  return absl::StrCat(impl_->tls() ? "https" : "http", "://127.0.0.1:", port());
}
std::string FakeLoki::push_url() const { return absl::StrCat(base_url(), Av(kPushPath)); }
std::string FakeLoki::push_url_for(std::string_view host) const {
  return absl::StrCat(impl_->tls() ? "https" : "http", "://", Av(host), ":", port(), Av(kPushPath));
}

void FakeLoki::FailNext(int count, int status, std::string body,
                        std::optional<int> retry_after_seconds) {
  impl_->FailNext(count, status, std::move(body), retry_after_seconds);
}
void FakeLoki::StallNext(int count, absl::Duration duration) { impl_->StallNext(count, duration); }
void FakeLoki::ReleaseStall() { impl_->ReleaseStall(); }
void FakeLoki::DropNext(int count) { impl_->DropNext(count); }
void FakeLoki::ClearFaults() { impl_->ClearFaults(); }
void FakeLoki::QueueFaults(std::vector<Fault> steps) { impl_->QueueFaults(std::move(steps)); }
size_t FakeLoki::queued_faults() const { return impl_->queued_faults(); }
bool FakeLoki::WaitForQueuedFaults(absl::Duration timeout) const {
  return impl_->WaitForQueuedFaults(timeout);
}

std::vector<FakeLokiStream> FakeLoki::Streams() const { return impl_->Streams(); }
std::optional<FakeLokiStream> FakeLoki::FindStream(std::string_view labels,
                                                   std::string_view tenant) const {
  return impl_->FindStream(labels, tenant);
}
std::vector<std::string> FakeLoki::AllLines() const { return impl_->AllLines(); }
size_t FakeLoki::total_entries() const { return impl_->total_entries(); }
size_t FakeLoki::stream_count() const { return impl_->stream_count(); }
size_t FakeLoki::duplicates() const { return impl_->duplicates(); }
size_t FakeLoki::rejected_entries() const { return impl_->rejected_entries(); }
std::map<std::string, size_t> FakeLoki::rejected_by_reason() const {
  return impl_->rejected_by_reason();
}
std::vector<FakeLokiRejection> FakeLoki::Rejections() const { return impl_->Rejections(); }
size_t FakeLoki::request_count() const { return impl_->request_count(); }
std::map<int, size_t> FakeLoki::requests_by_status() const { return impl_->requests_by_status(); }
std::vector<FakeLokiRequest> FakeLoki::Requests() const { return impl_->Requests(); }
size_t FakeLoki::stalled_now() const { return impl_->stalled_now(); }
std::vector<FakeLokiRequest> FakeLoki::ConnectRequests() const { return impl_->ConnectRequests(); }
size_t FakeLoki::tls_handshake_failures() const { return impl_->tls_handshake_failures(); }
std::string FakeLoki::last_tls_error() const { return impl_->last_tls_error(); }
void FakeLoki::ClearObservations() { impl_->ClearObservations(); }
bool FakeLoki::WaitForEntries(size_t n, absl::Duration timeout) const {
  return impl_->WaitForEntries(n, timeout);
}
bool FakeLoki::WaitForRequests(size_t n, absl::Duration timeout) const {
  return impl_->WaitForRequests(n, timeout);
}
bool FakeLoki::WaitForStalled(size_t n, absl::Duration timeout) const {
  return impl_->WaitForStalled(n, timeout);
}
bool FakeLoki::WaitForTlsFailures(size_t n, absl::Duration timeout) const {
  return impl_->WaitForTlsFailures(n, timeout);
}
std::string FakeLoki::MetricsText() const { return impl_->MetricsText(); }
std::string FakeLoki::StatsJson() const { return impl_->StatsJson(); }

}  // namespace sluice::testing
