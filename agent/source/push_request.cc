#include "agent/source/push_request.h"

#include <simdjson.h>
#include <snappy.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
#include "agent/go/strconv.h"

namespace sluice {
namespace {

absl::Status Bad(std::string_view what) { return absl::InvalidArgumentError(std::string(what)); }

// ---- protobuf wire format ------------------------------------------------------------------

class Wire {
 public:
  explicit Wire(std::string_view data) : p_(data.data()), end_(data.data() + data.size()) {}
  bool done() const { return p_ >= end_; }

  bool Varint(uint64_t* out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) return false;
      uint8_t b = static_cast<uint8_t>(*p_++);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        *out = v;
        return true;
      }
    }
    return false;
  }
  // A field's key: its number and wire type.
  bool Key(uint32_t* field, uint32_t* type) {
    uint64_t k;
    if (!Varint(&k) || (k >> 3) == 0 || (k >> 3) > UINT32_MAX) return false;
    *field = static_cast<uint32_t>(k >> 3);
    *type = static_cast<uint32_t>(k & 7);
    return true;
  }
  bool Bytes(std::string_view* out) {
    uint64_t n;
    if (!Varint(&n) || n > static_cast<uint64_t>(end_ - p_)) return false;
    *out = std::string_view(p_, static_cast<size_t>(n));
    p_ += n;
    return true;
  }
  // Skips a field of an unknown number (forward compatibility, as the generated code does).
  bool Skip(uint32_t type) {
    uint64_t ignored;
    std::string_view bytes;
    switch (type) {
      case 0:
        return Varint(&ignored);
      case 1:
        if (end_ - p_ < 8) return false;
        p_ += 8;
        return true;
      case 2:
        return Bytes(&bytes);
      case 5:
        if (end_ - p_ < 4) return false;
        p_ += 4;
        return true;
      default:
        return false;  // groups are not in this message
    }
  }

 private:
  const char* p_;
  const char* end_;
};

bool DecodeTimestamp(std::string_view data, int64_t* ns) {
  Wire w(data);
  int64_t seconds = 0, nanos = 0;
  while (!w.done()) {
    uint32_t field, type;
    if (!w.Key(&field, &type)) return false;
    uint64_t v;
    if ((field == 1 || field == 2) && type == 0) {
      if (!w.Varint(&v)) return false;
      (field == 1 ? seconds : nanos) = static_cast<int64_t>(v);
    } else if (!w.Skip(type)) {
      return false;
    }
  }
  // Beyond what int64 nanoseconds hold (year 2262): clamped, Loki refuses it as too far ahead.
  constexpr int64_t kMaxSeconds = INT64_MAX / 1'000'000'000 - 1;
  seconds = std::clamp<int64_t>(seconds, -kMaxSeconds, kMaxSeconds);
  *ns = seconds * 1'000'000'000 + std::clamp<int64_t>(nanos, 0, 999'999'999);
  return true;
}

bool DecodeEntry(std::string_view data, PushEntry* e) {
  Wire w(data);
  while (!w.done()) {
    uint32_t field, type;
    if (!w.Key(&field, &type)) return false;
    std::string_view bytes;
    if (type == 2 && field <= 3) {
      if (!w.Bytes(&bytes)) return false;
      if (field == 1) {
        if (!DecodeTimestamp(bytes, &e->timestamp_ns)) return false;
      } else if (field == 2) {
        e->line.assign(bytes.data(), bytes.size());
      } else {
        Wire pw(bytes);
        std::string name, value;
        while (!pw.done()) {
          uint32_t f, t;
          std::string_view s;
          if (!pw.Key(&f, &t)) return false;
          if ((f == 1 || f == 2) && t == 2) {
            if (!pw.Bytes(&s)) return false;
            (f == 1 ? name : value).assign(s.data(), s.size());
          } else if (!pw.Skip(t)) {
            return false;
          }
        }
        e->metadata.emplace_back(std::move(name), std::move(value));
      }
    } else if (!w.Skip(type)) {
      return false;
    }
  }
  return true;
}

absl::Status DecodeProto(std::string_view raw, PushRequestData* out) {
  Wire w(raw);
  while (!w.done()) {
    uint32_t field, type;
    if (!w.Key(&field, &type)) return Bad("decoding push request: malformed protobuf");
    if (field != 1 || type != 2) {
      if (!w.Skip(type)) return Bad("decoding push request: malformed protobuf");
      continue;
    }
    std::string_view stream_bytes;
    if (!w.Bytes(&stream_bytes)) return Bad("decoding push request: malformed protobuf");
    PushStream& s = out->streams.emplace_back();
    Wire sw(stream_bytes);
    while (!sw.done()) {
      uint32_t f, t;
      std::string_view bytes;
      if (!sw.Key(&f, &t)) return Bad("decoding push request: malformed stream");
      if (f == 1 && t == 2) {
        if (!sw.Bytes(&bytes)) return Bad("decoding push request: malformed stream");
        s.labels_text.assign(bytes.data(), bytes.size());
      } else if (f == 2 && t == 2) {
        if (!sw.Bytes(&bytes)) return Bad("decoding push request: malformed stream");
        PushEntry& e = s.entries.emplace_back();
        if (!DecodeEntry(bytes, &e)) return Bad("decoding push request: malformed entry");
        ++out->entries;
        out->line_bytes += e.line.size();
      } else if (!sw.Skip(t)) {
        return Bad("decoding push request: malformed stream");
      }
    }
  }
  return absl::OkStatus();
}

// ---- JSON ----------------------------------------------------------------------------------

absl::Status DecodeJson(std::string_view text, PushRequestData* out) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::padded_string padded(text.data(), text.size());
  if (auto err = parser.parse(padded).get(doc); err != simdjson::SUCCESS) {
    return Bad(absl::StrCat("decoding push request: ", simdjson::error_message(err)));
  }
  simdjson::dom::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) {
    return Bad("decoding push request: not a JSON object");
  }
  simdjson::dom::element streams_el;
  if (root["streams"].get(streams_el) != simdjson::SUCCESS || streams_el.is_null()) {
    return absl::OkStatus();
  }
  simdjson::dom::array streams;
  if (streams_el.get_array().get(streams) != simdjson::SUCCESS) {
    return Bad("decoding push request: streams is not an array");
  }
  for (simdjson::dom::element st : streams) {
    simdjson::dom::object so;
    if (st.get_object().get(so) != simdjson::SUCCESS) {
      return Bad("decoding push request: a stream is not an object");
    }
    PushStream& s = out->streams.emplace_back();
    s.labels_parsed = true;
    simdjson::dom::object labels;
    if (so["stream"].get_object().get(labels) == simdjson::SUCCESS) {
      for (auto field : labels) {
        std::string_view v;
        if (field.value.get_string().get(v) != simdjson::SUCCESS) {
          return Bad("decoding push request: a label value is not a string");
        }
        s.labels.emplace_back(std::string(field.key), std::string(v));
      }
    }
    simdjson::dom::array values;
    if (so["values"].get_array().get(values) != simdjson::SUCCESS) continue;
    for (simdjson::dom::element v : values) {
      if (v.is_null()) continue;
      simdjson::dom::array tuple;
      if (v.get_array().get(tuple) != simdjson::SUCCESS) {
        return Bad("decoding push request: an entry is not an array");
      }
      PushEntry e;
      size_t i = 0;
      for (simdjson::dom::element part : tuple) {
        std::string_view str;
        if (i < 2) {
          // Loki: the timestamp and the line are strings.
          if (part.get_string().get(str) != simdjson::SUCCESS) {
            return Bad("decoding push request: Value is not a string");
          }
          if (i == 0 &&
              !absl::SimpleAtoi(absl::string_view(str.data(), str.size()), &e.timestamp_ns)) {
            return Bad(absl::StrCat("decoding push request: invalid timestamp \"", Av(str), "\""));
          }
          if (i == 1) e.line.assign(str.data(), str.size());
        } else if (i == 2) {
          simdjson::dom::object meta;
          if (part.get_object().get(meta) != simdjson::SUCCESS) {
            return Bad(
                "decoding push request: Value looks like object, but can't find closing "
                "'}' symbol");
          }
          for (auto field : meta) {
            if (field.value.get_string().get(str) != simdjson::SUCCESS) {
              return Bad("decoding push request: Value is not a string");
            }
            e.metadata.emplace_back(std::string(field.key), std::string(str));
          }
        }
        ++i;
      }
      ++out->entries;
      out->line_bytes += e.line.size();
      s.entries.push_back(std::move(e));
    }
  }
  return absl::OkStatus();
}

// gzip (16 + 15) or raw deflate (-15, Go's compress/flate), at most `max` bytes out.
absl::Status Inflate(std::string_view in, bool gzip, size_t max, std::string* out) {
  z_stream zs{};
  if (inflateInit2(&zs, gzip ? 16 + MAX_WBITS : -MAX_WBITS) != Z_OK) {
    return absl::ResourceExhaustedError("zlib: cannot initialise a stream");
  }
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(std::min<size_t>(in.size(), UINT32_MAX));
  out->clear();
  int rc = Z_OK;
  char buf[64 * 1024];
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    out->append(buf, sizeof(buf) - zs.avail_out);
    if (out->size() > max) {
      inflateEnd(&zs);
      return Bad(absl::StrCat("received message larger than max (", out->size(), " vs ", max, ")"));
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;  // truncated: what came is all there is
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
    return Bad(absl::StrCat(gzip ? "gzip: " : "flate: ", "invalid data"));
  }
  if (rc == Z_BUF_ERROR) return Bad("unexpected EOF");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PushRequestData> DecodePushRequest(std::string_view content_type,
                                                  std::string_view content_encoding,
                                                  std::string_view body, size_t max_size) {
  std::string inflated;
  if (content_encoding == "gzip" || content_encoding == "deflate") {
    if (absl::Status st = Inflate(body, content_encoding == "gzip", max_size, &inflated);
        !st.ok()) {
      return st;
    }
    body = inflated;
  } else if (!content_encoding.empty() && content_encoding != "snappy") {
    return Bad(absl::StrCat("Content-Encoding \"", Av(content_encoding), "\" not supported"));
  }
  // mime.ParseMediaType: the type before any parameter, lower-cased; none is an error.
  std::string_view media = content_type.substr(0, content_type.find(';'));
  std::string type = absl::AsciiStrToLower(
      absl::StripAsciiWhitespace(absl::string_view(media.data(), media.size())));
  if (type.empty()) return Bad("mime: no media type");
  PushRequestData out;
  if (type == "application/json") {
    if (body.size() > max_size) {
      return Bad(
          absl::StrCat("received message larger than max (", body.size(), " vs ", max_size, ")"));
    }
    if (absl::Status st = DecodeJson(body, &out); !st.ok()) return st;
    return out;
  }
  size_t raw_size = 0;
  if (!snappy::GetUncompressedLength(body.data(), body.size(), &raw_size)) {
    return Bad("decoding push request: snappy: corrupt input");
  }
  if (raw_size > max_size) {
    return Bad(absl::StrCat("received message larger than max (", raw_size, " vs ", max_size, ")"));
  }
  std::string raw;
  if (!snappy::Uncompress(body.data(), body.size(), &raw)) {
    return Bad("decoding push request: snappy: corrupt input");
  }
  if (absl::Status st = DecodeProto(raw, &out); !st.ok()) return st;
  return out;
}

absl::Status ParsePromLabels(std::string_view text,
                             std::vector<std::pair<std::string, std::string>>* out) {
  size_t i = 0;
  auto space = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
  };
  auto ident_char = [](char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
  };
  auto fail = [&](std::string_view what) {
    return Bad(absl::StrCat("1:", i + 1, ": parse error: ", Av(what)));
  };
  space();
  // An optional metric name (Loki never sends one; Prometheus' parser accepts it).
  size_t name_start = i;
  while (i < text.size() && (ident_char(text[i], i == name_start) || text[i] == ':')) ++i;
  if (i > name_start)
    out->emplace_back("__name__", std::string(text.substr(name_start, i - name_start)));
  space();
  if (i >= text.size() || text[i] != '{') {
    if (i > name_start && i >= text.size()) return absl::OkStatus();
    return fail("unexpected character, expected \"{\"");
  }
  ++i;
  space();
  while (i < text.size() && text[i] != '}') {
    size_t k = i;
    while (i < text.size() && ident_char(text[i], i == k)) ++i;
    if (i == k) return fail("unexpected character inside braces");
    std::string name(text.substr(k, i - k));
    space();
    if (i >= text.size() || text[i] != '=') return fail("unexpected character, expected \"=\"");
    ++i;
    space();
    if (i >= text.size() || (text[i] != '"' && text[i] != '\'' && text[i] != '`')) {
      return fail("unexpected character, expected a string");
    }
    char quote = text[i];
    size_t v = i++;
    while (i < text.size() && text[i] != quote) {
      if (text[i] == '\\' && quote != '`') ++i;
      ++i;
    }
    if (i >= text.size()) return fail("unterminated quoted string");
    ++i;
    std::string value;
    if (!GoUnquote(text.substr(v, i - v), &value)) return fail("invalid escape in a string");
    out->emplace_back(std::move(name), std::move(value));
    space();
    if (i < text.size() && text[i] == ',') {
      ++i;
      space();
    } else if (i < text.size() && text[i] != '}') {
      return fail("unexpected character, expected \",\" or \"}\"");
    }
  }
  if (i >= text.size()) return fail("unexpected end of input inside braces");
  ++i;
  space();
  if (i != text.size()) return fail("unexpected character after the closing brace");
  return absl::OkStatus();
}

}  // namespace sluice
