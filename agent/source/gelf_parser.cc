// GELF decoding and chunk reassembly (see gelf_parser.h).
#include "agent/source/gelf_parser.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
#include "agent/go/json.h"
#include "simdjson.h"

namespace sluice {
namespace {

constexpr size_t kMaxMessageBytes = 8u << 20;  // a decompressed message
constexpr size_t kHeaderLen = 12;

// Inflates a zlib (window bits 15) or gzip (31) payload, bounded by kMaxMessageBytes.
absl::StatusOr<std::string> Inflate(std::string_view in, int window_bits) {
  z_stream zs{};
  if (inflateInit2(&zs, window_bits) != Z_OK) return absl::InternalError("inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string out;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (out.size() >= kMaxMessageBytes) {
      inflateEnd(&zs);
      return absl::ResourceExhaustedError(
          absl::StrCat("NewReader: decompressed message larger than ", kMaxMessageBytes, " bytes"));
    }
    size_t old = out.size();
    out.resize(std::min(kMaxMessageBytes, old + 64 * 1024));
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + old);
    zs.avail_out = static_cast<uInt>(out.size() - old);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.resize(out.size() - zs.avail_out);
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && !(rc == Z_BUF_ERROR && zs.avail_out == 0)) {
      inflateEnd(&zs);
      return absl::InvalidArgumentError(
          absl::StrCat(window_bits > 15 ? "gzip" : "zlib", ": invalid or truncated stream"));
    }
  }
  inflateEnd(&zs);
  return out;
}

// A decoded JSON value as encoding/json writes an interface{} back: numbers as float64, object
// keys sorted, strings with HTML escaping.
void RenderValue(simdjson::dom::element e, std::string* out) {
  switch (e.type()) {
    case simdjson::dom::element_type::OBJECT: {
      std::map<std::string_view, simdjson::dom::element> sorted;
      // (Held in a local: iterating the temporary result would outlive it.)
      simdjson::dom::object obj = e.get_object().value_unsafe();
      for (auto field : obj) sorted[field.key] = field.value;
      out->push_back('{');
      bool first = true;
      for (const auto& [k, v] : sorted) {
        if (!first) out->push_back(',');
        first = false;
        AppendGoJsonString(k, out, GoJson::kEncodingJson);
        out->push_back(':');
        RenderValue(v, out);
      }
      out->push_back('}');
      return;
    }
    case simdjson::dom::element_type::ARRAY: {
      out->push_back('[');
      bool first = true;
      simdjson::dom::array arr = e.get_array().value_unsafe();
      for (auto v : arr) {
        if (!first) out->push_back(',');
        first = false;
        RenderValue(v, out);
      }
      out->push_back(']');
      return;
    }
    case simdjson::dom::element_type::INT64:
      AppendGoJsonNumber(static_cast<double>(e.get_int64().value_unsafe()), out);
      return;
    case simdjson::dom::element_type::UINT64:
      AppendGoJsonNumber(static_cast<double>(e.get_uint64().value_unsafe()), out);
      return;
    case simdjson::dom::element_type::DOUBLE:
      AppendGoJsonNumber(e.get_double().value_unsafe(), out);
      return;
    case simdjson::dom::element_type::STRING:
      AppendGoJsonString(e.get_string().value_unsafe(), out, GoJson::kEncodingJson);
      return;
    case simdjson::dom::element_type::BOOL:
      *out += e.get_bool().value_unsafe() ? "true" : "false";
      return;
    case simdjson::dom::element_type::NULL_VALUE:
      *out += "null";
      return;
  }
}

bool AsNumber(simdjson::dom::element e, double* out) {
  switch (e.type()) {
    case simdjson::dom::element_type::INT64:
      *out = static_cast<double>(e.get_int64().value_unsafe());
      return true;
    case simdjson::dom::element_type::UINT64:
      *out = static_cast<double>(e.get_uint64().value_unsafe());
      return true;
    case simdjson::dom::element_type::DOUBLE:
      *out = e.get_double().value_unsafe();
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string_view GelfLevelName(int32_t level) {
  static constexpr std::string_view kNames[] = {"emergency", "alert",  "critical",      "error",
                                                "warning",   "notice", "informational", "debug"};
  return level >= 0 && level < 8 ? kNames[level] : std::string_view();
}

absl::StatusOr<GelfMessage> DecodeGelfPayload(std::string_view payload) {
  std::string inflated;
  if (payload.size() >= 2 && static_cast<unsigned char>(payload[0]) == 0x1f &&
      static_cast<unsigned char>(payload[1]) == 0x8b) {
    absl::StatusOr<std::string> got = Inflate(payload, 16 + MAX_WBITS);
    if (!got.ok()) return got.status();
    inflated = std::move(*got);
    payload = inflated;
  } else if (payload.size() >= 2 && static_cast<unsigned char>(payload[0]) == 0x78 &&
             (0x78 * 256 + static_cast<unsigned char>(payload[1])) % 31 == 0) {
    absl::StatusOr<std::string> got = Inflate(payload, MAX_WBITS);
    if (!got.ok()) return got.status();
    inflated = std::move(*got);
    payload = inflated;
  }
  // Go's json.Decoder reads the first value and ignores what follows; senders commonly end a
  // message with a NUL or a newline.
  while (!payload.empty() && (payload.back() == '\0' || payload.back() == '\n' ||
                              payload.back() == '\r' || payload.back() == ' ')) {
    payload.remove_suffix(1);
  }
  simdjson::dom::parser parser;
  simdjson::padded_string padded(payload);
  simdjson::dom::element root;
  if (auto err = parser.parse(padded).get(root); err != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        absl::StrCat("json.Unmarshal: ", simdjson::error_message(err)));
  }
  simdjson::dom::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("json.Unmarshal: a GELF message must be a JSON object");
  }
  GelfMessage m;
  for (auto field : obj) {
    std::string_view k = field.key;
    if (k.empty()) return absl::InvalidArgumentError("json.Unmarshal: empty field name");
    if (k[0] == '_') {
      std::string v;
      RenderValue(field.value, &v);
      m.extra[std::string(k)] = std::move(v);
      continue;
    }
    std::string* str = nullptr;
    if (k == "version") {
      str = &m.version;
    } else if (k == "host") {
      str = &m.host;
    } else if (k == "short_message") {
      str = &m.short_message;
    } else if (k == "full_message") {
      str = &m.full_message;
    } else if (k == "facility") {
      str = &m.facility;
    } else if (k == "timestamp" || k == "level") {
      double d = 0;
      if (!AsNumber(field.value, &d)) {
        return absl::InvalidArgumentError(absl::StrCat("invalid type for field ", Av(k)));
      }
      if (k == "timestamp") {
        m.timestamp = d;
      } else {
        // Go's int32(float64) conversion; out-of-range values are clamped here.
        m.level =
            std::isnan(d) ? 0 : static_cast<int32_t>(std::clamp(d, -2147483648.0, 2147483647.0));
      }
      continue;
    } else {
      continue;  // go-gelf keeps only the known fields and the additional ("_") ones
    }
    std::string_view s;
    if (field.value.get_string().get(s) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(absl::StrCat("invalid type for field ", Av(k)));
    }
    str->assign(s.data(), s.size());
  }
  return m;
}

std::string RenderGelf(const GelfMessage& m) {
  std::string out = "{\"version\":";
  AppendGoJsonString(m.version, &out, GoJson::kEncodingJson);
  out += ",\"host\":";
  AppendGoJsonString(m.host, &out, GoJson::kEncodingJson);
  out += ",\"short_message\":";
  AppendGoJsonString(m.short_message, &out, GoJson::kEncodingJson);
  if (!m.full_message.empty()) {
    out += ",\"full_message\":";
    AppendGoJsonString(m.full_message, &out, GoJson::kEncodingJson);
  }
  out += ",\"timestamp\":";
  AppendGoJsonNumber(m.timestamp, &out);
  if (m.level != 0) absl::StrAppend(&out, ",\"level\":", m.level);
  if (!m.facility.empty()) {
    out += ",\"facility\":";
    AppendGoJsonString(m.facility, &out, GoJson::kEncodingJson);
  }
  for (const auto& [k, v] : m.extra) {
    out += ",";
    AppendGoJsonString(k, &out, GoJson::kEncodingJson);
    out += ":";
    out += v;
  }
  out += "}";
  return out;
}

absl::StatusOr<std::optional<std::string>> GelfAssembler::Add(std::string_view d, int64_t now_ns) {
  if (d.size() < 2 || static_cast<unsigned char>(d[0]) != 0x1e ||
      static_cast<unsigned char>(d[1]) != 0x0f) {
    return std::optional<std::string>(std::string(d));
  }
  if (d.size() <= kHeaderLen) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunked message size must be greather than ", kHeaderLen));
  }
  std::string id(d.substr(2, 8));
  int seq = static_cast<unsigned char>(d[10]);
  int count = static_cast<unsigned char>(d[11]);
  if (count == 0 || count > kMaxChunks) {
    return absl::InvalidArgumentError(
        absl::StrCat("message must not be split into more than ", kMaxChunks, " chunks"));
  }
  auto it = pending_.find(id);
  if (it == pending_.end()) {
    if (pending_.size() >= kMaxPendingMessages) {
      return absl::ResourceExhaustedError("too many partial GELF messages pending");
    }
    it = pending_.emplace(id, Pending{}).first;
    it->second.deadline_ns = now_ns + kTimeoutNanos;
    it->second.count = count;
  }
  Pending& p = it->second;
  if (now_ns > p.deadline_ns) {
    pending_bytes_ -= p.bytes;
    pending_.erase(it);
    return absl::DeadlineExceededError("message with ID is expired");
  }
  // go-gelf ignores a chunk whose count disagrees with the first one's, or out of range.
  if (count != p.count || seq >= count) return std::optional<std::string>();
  if (p.chunks.count(seq) != 0) return std::optional<std::string>();  // a duplicate
  std::string_view body = d.substr(kHeaderLen);
  if (pending_bytes_ + body.size() > kMaxPendingBytes) {
    pending_bytes_ -= p.bytes;
    pending_.erase(it);
    return absl::ResourceExhaustedError("partial GELF messages over the memory bound");
  }
  p.chunks.emplace(seq, std::string(body));
  p.bytes += body.size();
  pending_bytes_ += body.size();
  if (static_cast<int>(p.chunks.size()) < p.count) return std::optional<std::string>();
  std::string whole;
  whole.reserve(p.bytes);
  for (const auto& [i, c] : p.chunks) whole += c;
  pending_bytes_ -= p.bytes;
  pending_.erase(it);
  return std::optional<std::string>(std::move(whole));
}

size_t GelfAssembler::Expire(int64_t now_ns) {
  size_t n = 0;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (now_ns > it->second.deadline_ns) {
      pending_bytes_ -= it->second.bytes;
      it = pending_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

}  // namespace sluice
