// loki_counter: a counting Loki push receiver for the end-to-end benchmark (bench/run).
//
//   loki_counter [--listen HOST:PORT] [--max-body BYTES] [--ack-after-decode]
//                [--decoder wire|generated|both] [--defer-decode MS]
//
// Listens on 127.0.0.1 with a kernel-chosen port by default and prints the port on stdout as its
// first line. Speaks HTTP/1.1 with keep-alive (Boost.Beast) and answers:
//
//   POST .../push       Loki's push API. application/x-protobuf bodies are snappy block
//                       compressed logproto.PushRequest (as Loki reads them, whether or not
//                       Content-Encoding says snappy); application/json bodies are Loki's JSON
//                       push ({"streams":[{"stream":{...},"values":[["<ns>","<line>"],...]}]}),
//                       which Fluent Bit sends. Every request is decoded in full. By default
//                       the 204 goes out as soon as the body is in and decoding follows, so the
//                       agent's next request never waits for this receiver (a body that then
//                       fails to decode is counted in bad_requests and its lines as missing).
//                       With --ack-after-decode it answers like Loki: 204 after decoding, 400
//                       when the body does not decode. Other content types and encodings
//                       (gzip) get 415 either way.
//                       Protobuf is decoded from the wire format by this program (every field
//                       walked, lines left in place); --decoder generated uses the protoc classes
//                       instead, --decoder both runs both and counts disagreements.
//                       --defer-decode MS keeps the acknowledged bodies until no push has come
//                       for MS milliseconds and decodes them then (receipt times kept), so
//                       that the receiver takes no core from the agent while it works.
//   GET  /stats         counters as one JSON object (see Counter::StatsJson).
//   GET  /timeline      [[receive time ns, unique lines so far], ...], one pair per push.
//   GET  /streams       ["{label=\"value\", ...}", ...]: the distinct label sets received (as
//                       the agent sent them in protobuf; rebuilt that way from JSON pushes),
//                       up to 65536.
//   POST /expect        body: the number of lines written per file id, in fid order, separated
//                       by anything that is not a digit. From then on /stats reports the lines
//                       that are still missing and the unexpected ones.
//   GET  /ready         200, for agents that probe Loki before pushing.
//   POST /quit          200, then exits.
//
// Every line is searched for loggen's tag `fid=F seq=S wt=W len=L`: (F, S) must arrive exactly
// once (one bitmap per fid), receive time minus W is the delivery delay (log-linear histogram,
// p50/p99), the entry's timestamp should equal W (the CRI timestamp) and the line's length
// should be L (nothing cut or glued on). Lines without a tag are counted as foreign.
//
// Single-threaded: one io_context runs the acceptor and every connection, so the counters need
// no lock, and the harness can pin the whole receiver to one core. SIGINT/SIGTERM stop it; it
// prints its final stats on stderr.
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <bit>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <google/protobuf/arena.h>
#include <simdjson.h>
#include <snappy.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
#include "agent/common/units.h"
#include "push.pb.h"

namespace sluice::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

int64_t RealtimeNanos() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Log-linear histogram of non-negative microsecond values: exact below 2048 us, then 1024
// sub-buckets per power of two (relative error under 0.1%). Fixed memory whatever the count.
class Histogram {
 public:
  Histogram() : counts_(kExact + kMaxExponent * kSub) {}

  void Add(uint64_t us) {
    ++counts_[Index(us)];
    ++total_;
    max_ = std::max(max_, us);
  }
  uint64_t total() const { return total_; }
  uint64_t max() const { return max_; }

  // Lower bound of the bucket holding the q-quantile (0 < q <= 1), in microseconds.
  uint64_t Quantile(double q) const {
    if (total_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total_));
    rank = std::clamp<uint64_t>(rank, 1, total_);
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return Value(i);
    }
    return max_;
  }

 private:
  static constexpr uint64_t kSubBits = 10;
  static constexpr uint64_t kSub = 1 << kSubBits;  // sub-buckets per power of two
  static constexpr uint64_t kExact = 2 * kSub;     // values below this have their own bucket
  static constexpr uint64_t kMaxExponent = 64 - kSubBits;

  static size_t Index(uint64_t v) {
    if (v < kExact) return static_cast<size_t>(v);
    const uint64_t msb = 63 - static_cast<uint64_t>(std::countl_zero(v));  // >= kSubBits + 1
    const uint64_t shift = msb - kSubBits;
    return static_cast<size_t>(kExact + (shift - 1) * kSub + ((v >> shift) - kSub));
  }
  static uint64_t Value(size_t index) {
    if (index < kExact) return index;
    const uint64_t shift = (index - kExact) / kSub + 1;
    return (kSub + (index - kExact) % kSub) << shift;
  }

  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  uint64_t max_ = 0;
};

// Parses the decimal digits at s[*pos...], advancing *pos. False when there are none.
bool ParseDigits(std::string_view s, size_t* pos, uint64_t* out) {
  uint64_t v = 0;
  size_t i = *pos;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - *pos < 19) {
    v = v * 10 + static_cast<uint64_t>(s[i] - '0');
    ++i;
  }
  if (i == *pos) return false;
  *pos = i;
  *out = v;
  return true;
}

bool Expect(std::string_view s, size_t* pos, std::string_view word) {
  if (s.substr(*pos, word.size()) != word) return false;
  *pos += word.size();
  return true;
}

// All the accounting. Touched only by the io_context thread; owned by main().
class Counter {
 public:
  // One decoded entry received at now_ns.
  void Observe(std::string_view line, int64_t ts_ns, int64_t now_ns) {
    ++entries_;
    line_bytes_ += line.size();
    // Loki refuses lines that are not UTF-8; an agent must repair them.
    if (!simdjson::validate_utf8(line.data(), line.size())) ++invalid_utf8_;
    last_entry_ns_ = now_ns;
    if (first_entry_ns_ == 0) first_entry_ns_ = now_ns;
    const size_t at = line.find("fid=");
    if (at == std::string_view::npos) {
      ++foreign_;
      return;
    }
    size_t pos = at + 4;
    uint64_t fid = 0, seq = 0, wt = 0, len = 0;
    if (!ParseDigits(line, &pos, &fid) || !Expect(line, &pos, " seq=") ||
        !ParseDigits(line, &pos, &seq) || !Expect(line, &pos, " wt=") ||
        !ParseDigits(line, &pos, &wt) || !Expect(line, &pos, " len=") ||
        !ParseDigits(line, &pos, &len) || fid >= kMaxFid || seq >= kMaxSeq) {
      ++bad_tag_;
      return;
    }
    if (fid >= bits_.size()) {
      bits_.resize(fid + 1);
    }
    std::vector<uint64_t>& b = bits_[fid];
    const size_t word = seq / 64;
    if (word >= b.size()) b.resize(std::max<size_t>(word + 1, b.size() * 2));
    const uint64_t mask = uint64_t{1} << (seq % 64);
    if (b[word] & mask) {
      ++duplicates_;
      if (duplicate_sample_.size() < kSample) duplicate_sample_.emplace_back(fid, seq);
      return;
    }
    b[word] |= mask;
    ++unique_;
    last_new_ns_ = now_ns;
    if (static_cast<uint64_t>(ts_ns) != wt) ++ts_mismatch_;
    if (len != line.size()) {
      ++len_mismatch_;
      if (len_mismatch_sample_.empty()) len_mismatch_sample_ = std::string(line.substr(0, 300));
    }
    const int64_t delay_ns = now_ns - static_cast<int64_t>(wt);
    delays_.Add(delay_ns > 0 ? static_cast<uint64_t>(delay_ns) / 1000 : 0);
  }

  void ObserveStream(std::string_view labels) {
    if (streams_.size() < kMaxStreams) streams_.insert(std::string(labels));
  }

  void CountRequest(bool ok, size_t body_bytes, std::string_view user_agent, bool json,
                    int64_t now_ns) {
    timeline_.emplace_back(now_ns, unique_);
    ++requests_;
    body_bytes_ += body_bytes;
    if (!ok) ++bad_requests_;
    (json ? json_requests_ : protobuf_requests_)++;
    if (user_agent_ != user_agent) user_agent_ = std::string(user_agent);
  }
  void CountOther() { ++other_requests_; }
  void CountDecoderMismatch() { ++decoder_mismatch_; }

  // [[receive time ns, unique lines after that request], ...] per push request, in order.
  std::string TimelineJson() const {
    std::string out = "[";
    for (size_t i = 0; i < timeline_.size(); ++i) {
      absl::StrAppend(&out, i ? "," : "", "[", timeline_[i].first, ",", timeline_[i].second, "]");
    }
    out.append("]\n");
    return out;
  }

  // The distinct label sets, as a JSON array of strings, sorted.
  std::string StreamsJson() const {
    std::vector<std::string_view> sorted(streams_.begin(), streams_.end());
    std::sort(sorted.begin(), sorted.end());
    std::string out = "[";
    for (size_t i = 0; i < sorted.size(); ++i) {
      if (i) out.push_back(',');
      AppendJsonString(sorted[i], &out);
    }
    out.append("]\n");
    return out;
  }

  void SetExpected(std::vector<uint64_t> expected) { expected_ = std::move(expected); }

  // Requests (by type, bad ones), entries and line bytes, unique/duplicate (fid, seq) pairs,
  // lines without a tag or with a broken one, timestamp/length/UTF-8/decoder disagreements,
  // distinct label sets, first/last receive times, the delay percentiles, samples of duplicates
  // and of a length mismatch, and once /expect was posted: expected, missing (with a sample)
  // and unexpected (received but beyond the expected counts).
  std::string StatsJson() const {
    std::string out = absl::StrCat(
        "{\"requests\":", requests_, ",\"protobuf_requests\":", protobuf_requests_,
        ",\"json_requests\":", json_requests_, ",\"bad_requests\":", bad_requests_,
        ",\"other_requests\":", other_requests_, ",\"body_bytes\":", body_bytes_,
        ",\"entries\":", entries_, ",\"line_bytes\":", line_bytes_, ",\"unique\":", unique_,
        ",\"duplicates\":", duplicates_, ",\"foreign\":", foreign_, ",\"bad_tag\":", bad_tag_,
        ",\"ts_mismatch\":", ts_mismatch_, ",\"len_mismatch\":", len_mismatch_,
        ",\"invalid_utf8\":", invalid_utf8_, ",\"decoder_mismatch\":", decoder_mismatch_,
        ",\"streams\":", streams_.size(), ",\"first_entry_ns\":", first_entry_ns_,
        ",\"last_entry_ns\":", last_entry_ns_, ",\"last_new_ns\":", last_new_ns_,
        ",\"now_ns\":", RealtimeNanos(), ",\"user_agent\":\"", JsonSafe(user_agent_), "\"");
    absl::StrAppend(
        &out, ",\"delay_ms\":{\"count\":", delays_.total(), ",\"p50\":", Ms(delays_.Quantile(0.50)),
        ",\"p90\":", Ms(delays_.Quantile(0.90)), ",\"p99\":", Ms(delays_.Quantile(0.99)),
        ",\"p999\":", Ms(delays_.Quantile(0.999)), ",\"max\":", Ms(delays_.max()), "}");
    AppendSample(",\"duplicate_sample\":", duplicate_sample_, &out);
    absl::StrAppend(&out, ",\"len_mismatch_sample\":\"", JsonSafe(len_mismatch_sample_), "\"");
    if (!expected_.empty()) {
      uint64_t expected_total = 0, in_range = 0;
      std::vector<std::pair<uint64_t, uint64_t>> missing_sample;
      for (size_t fid = 0; fid < expected_.size(); ++fid) {
        const uint64_t want = expected_[fid];
        expected_total += want;
        const std::vector<uint64_t>* b = fid < bits_.size() ? &bits_[fid] : nullptr;
        for (uint64_t w = 0; w * 64 < want; ++w) {
          uint64_t word = b != nullptr && w < b->size() ? (*b)[w] : 0;
          if ((w + 1) * 64 > want) word &= (uint64_t{1} << (want % 64)) - 1;
          const int ones = std::popcount(word);
          in_range += static_cast<uint64_t>(ones);
          const uint64_t span = std::min<uint64_t>(64, want - w * 64);
          if (static_cast<uint64_t>(ones) != span && missing_sample.size() < kSample) {
            for (uint64_t bit = 0; bit < span && missing_sample.size() < kSample; ++bit) {
              if (!(word & (uint64_t{1} << bit))) missing_sample.emplace_back(fid, w * 64 + bit);
            }
          }
        }
      }
      absl::StrAppend(&out, ",\"expected\":", expected_total,
                      ",\"missing\":", expected_total - in_range,
                      ",\"unexpected\":", unique_ - in_range);
      AppendSample(",\"missing_sample\":", missing_sample, &out);
    }
    out.append("}\n");
    return out;
  }

 private:
  static constexpr uint64_t kMaxFid = 1 << 20;
  static constexpr uint64_t kMaxSeq = uint64_t{1} << 32;
  static constexpr size_t kSample = 20;
  static constexpr size_t kMaxStreams = 1 << 16;

  static std::string Ms(uint64_t us) { return absl::StrCat(static_cast<double>(us) / 1000.0); }
  // Keeps a JSON string literal valid whatever an agent sent: drops quotes, backslashes and
  // control characters instead of escaping them (the sample is for eyes, not for parsing).
  static std::string JsonSafe(std::string_view s) {
    std::string out;
    for (char c : s) {
      if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) c = '_';
      out.push_back(c);
    }
    return out;
  }
  // A JSON string literal of s (bytes >= 0x80 passed through: label sets are UTF-8).
  static void AppendJsonString(std::string_view s, std::string* out) {
    out->push_back('"');
    for (char c : s) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        out->push_back('\\');
        out->push_back(c);
      } else if (u < 0x20) {
        static constexpr char kHex[] = "0123456789abcdef";
        out->append("\\u00");
        out->push_back(kHex[u >> 4]);
        out->push_back(kHex[u & 15]);
      } else {
        out->push_back(c);
      }
    }
    out->push_back('"');
  }
  static void AppendSample(std::string_view key,
                           const std::vector<std::pair<uint64_t, uint64_t>>& sample,
                           std::string* out) {
    out->append(key);
    out->push_back('[');
    for (size_t i = 0; i < sample.size(); ++i) {
      absl::StrAppend(out, i ? "," : "", "[", sample[i].first, ",", sample[i].second, "]");
    }
    out->push_back(']');
  }

  uint64_t requests_ = 0, protobuf_requests_ = 0, json_requests_ = 0, bad_requests_ = 0;
  uint64_t other_requests_ = 0, body_bytes_ = 0;
  uint64_t entries_ = 0, line_bytes_ = 0, unique_ = 0, duplicates_ = 0, foreign_ = 0;
  uint64_t bad_tag_ = 0, ts_mismatch_ = 0, len_mismatch_ = 0, invalid_utf8_ = 0;
  uint64_t decoder_mismatch_ = 0;
  int64_t first_entry_ns_ = 0, last_entry_ns_ = 0, last_new_ns_ = 0;
  std::string user_agent_;
  std::string len_mismatch_sample_;
  std::vector<std::vector<uint64_t>> bits_;  // per fid, bit seq set once received
  std::vector<uint64_t> expected_;
  std::vector<std::pair<uint64_t, uint64_t>> duplicate_sample_;
  std::vector<std::pair<int64_t, uint64_t>> timeline_;
  absl::flat_hash_set<std::string> streams_;
  Histogram delays_;
};

// One entry of a decoded push: views into the decompressed request.
struct WireEntry {
  int64_t ts_ns;
  std::string_view line;
};

// Reads a base-128 varint at *p, advancing it. False when truncated or longer than 10 bytes.
bool ReadVarint(const char** p, const char* end, uint64_t* out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 70 && *p < end; shift += 7) {
    const uint8_t b = static_cast<uint8_t>(*(*p)++);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return true;
    }
  }
  return false;
}

// Walks the fields of one protobuf message in [p, end): calls on_field(number, wire_type,
// varint value, length-delimited bytes) for each, skipping fixed32/fixed64 values. Returns ""
// or what is wrong with the encoding. Groups (wire types 3 and 4) are not valid in proto3.
template <typename OnField>
std::string WalkMessage(const char* p, const char* end, OnField&& on_field) {
  while (p < end) {
    uint64_t key = 0;
    if (!ReadVarint(&p, end, &key)) return "protobuf: truncated field key";
    const uint64_t number = key >> 3;
    const int type = static_cast<int>(key & 7);
    if (number == 0) return "protobuf: field number 0";
    uint64_t value = 0;
    std::string_view bytes;
    switch (type) {
      case 0:
        if (!ReadVarint(&p, end, &value)) return "protobuf: truncated varint";
        break;
      case 1:
        if (end - p < 8) return "protobuf: truncated fixed64";
        p += 8;
        continue;
      case 2:
        if (!ReadVarint(&p, end, &value) || value > static_cast<uint64_t>(end - p)) {
          return "protobuf: length-delimited field overruns its message";
        }
        bytes = std::string_view(p, static_cast<size_t>(value));
        p += value;
        break;
      case 5:
        if (end - p < 4) return "protobuf: truncated fixed32";
        p += 4;
        continue;
      default:
        return absl::StrCat("protobuf: invalid wire type ", type);
    }
    std::string error = on_field(number, type, value, bytes);
    if (!error.empty()) return error;
  }
  return "";
}

// Decodes a logproto.PushRequest (proto/logproto/push.proto) straight from the wire format:
// every field of every stream and entry is walked and checked, lines stay views into `raw`.
// Several times faster than the generated classes, which copy each line into a std::string and
// check its UTF-8 on the way; that speed keeps the receiver from pacing the agent.
std::string DecodePushRequestWire(std::string_view raw, std::vector<std::string_view>* labels,
                                  std::vector<WireEntry>* entries) {
  auto want = [](int type, int expected, const char* what) -> std::string {
    return type == expected ? "" : absl::StrCat("protobuf: ", what, " has wire type ", type);
  };
  return WalkMessage(
      raw.data(), raw.data() + raw.size(),
      [&](uint64_t n, int type, uint64_t, std::string_view stream) {
        if (n != 1) return std::string();  // unknown PushRequest field: skipped, as protobuf does
        if (std::string e = want(type, 2, "PushRequest.streams"); !e.empty()) return e;
        return WalkMessage(
            stream.data(), stream.data() + stream.size(),
            [&](uint64_t sn, int st, uint64_t, std::string_view v) {
              if (sn == 1) {
                if (std::string e = want(st, 2, "StreamAdapter.labels"); !e.empty()) return e;
                labels->push_back(v);
              } else if (sn == 2) {
                if (std::string e = want(st, 2, "StreamAdapter.entries"); !e.empty()) return e;
                WireEntry entry{0, {}};
                std::string error = WalkMessage(
                    v.data(), v.data() + v.size(),
                    [&](uint64_t en, int et, uint64_t, std::string_view ev) {
                      if (en == 1) {
                        if (std::string e = want(et, 2, "EntryAdapter.timestamp"); !e.empty())
                          return e;
                        int64_t seconds = 0, nanos = 0;
                        std::string te =
                            WalkMessage(ev.data(), ev.data() + ev.size(),
                                        [&](uint64_t tn, int tt, uint64_t tv, std::string_view) {
                                          if (tn != 1 && tn != 2) return std::string();
                                          if (tt != 0)
                                            return std::string(
                                                "protobuf: Timestamp "
                                                "field not a varint");
                                          (tn == 1 ? seconds : nanos) = static_cast<int64_t>(tv);
                                          return std::string();
                                        });
                        if (!te.empty()) return te;
                        // nanos is an int32 on the wire: negative values arrive sign-extended to 64
                        // bits.
                        entry.ts_ns = seconds * 1000000000 + static_cast<int32_t>(nanos);
                      } else if (en == 2) {
                        if (std::string e = want(et, 2, "EntryAdapter.line"); !e.empty()) return e;
                        entry.line = ev;
                      } else if (en == 3) {
                        if (std::string e = want(et, 2, "EntryAdapter.structuredMetadata");
                            !e.empty()) {
                          return e;
                        }
                      }
                      return std::string();
                    });
                if (!error.empty()) return error;
                entries->push_back(entry);
              } else if (sn == 3) {
                if (std::string e = want(st, 0, "StreamAdapter.hash"); !e.empty()) return e;
              }
              return std::string();
            });
      });
}

// Decodes push bodies into the Counter. Holds buffers reused across requests; io thread only.
class PushDecoder {
 public:
  // kWire: DecodePushRequestWire (default). kGenerated: the protoc-generated classes.
  // kBoth: both, counting requests where they disagree (a check of the wire decoder).
  enum class Mode { kWire, kGenerated, kBoth };

  PushDecoder(Counter* counter, Mode mode)
      : counter_(counter), mode_(mode), arena_block_(kArenaBlock) {}

  // Returns "" on success, else the reason for a 400. Nothing is counted from a request that
  // does not decode, as Loki stores nothing from it.
  std::string DecodeProtobuf(std::string_view body, int64_t now_ns) {
    size_t raw_len = 0;
    if (!snappy::GetUncompressedLength(body.data(), body.size(), &raw_len)) {
      return "snappy: bad length header";
    }
    if (raw_len > raw_.size()) raw_.resize(std::max(raw_len, raw_.size() * 2));
    if (!snappy::RawUncompress(body.data(), body.size(), raw_.data())) {
      return "snappy: corrupt input";
    }
    const std::string_view raw(raw_.data(), raw_len);
    labels_.clear();
    entries_.clear();
    if (mode_ != Mode::kGenerated) {
      if (std::string error = DecodePushRequestWire(raw, &labels_, &entries_); !error.empty()) {
        return error;
      }
    }
    if (mode_ != Mode::kWire) {
      // The reused first block keeps the common request free of arena allocations; lines
      // larger than what is left spill into blocks the arena frees at the end of this scope.
      google::protobuf::Arena arena(arena_block_.data(), arena_block_.size());
      auto* req = google::protobuf::Arena::CreateMessage<logproto::PushRequest>(&arena);
      if (!req->ParseFromArray(raw.data(), static_cast<int>(raw.size()))) {
        return "protobuf: cannot parse PushRequest";
      }
      if (mode_ == Mode::kGenerated) {
        for (const logproto::StreamAdapter& s : req->streams()) {
          counter_->ObserveStream(s.labels());
          for (const logproto::EntryAdapter& e : s.entries()) {
            counter_->Observe(e.line(),
                              e.timestamp().seconds() * 1000000000 + e.timestamp().nanos(), now_ns);
          }
        }
        return "";
      }
      // kBoth: the two decoders must have seen the same streams and entries, in order.
      bool same = static_cast<size_t>(req->streams_size()) == labels_.size();
      size_t i = 0;
      for (int si = 0; same && si < req->streams_size(); ++si) {
        const logproto::StreamAdapter& s = req->streams(si);
        same = s.labels() == labels_[static_cast<size_t>(si)];
        for (const logproto::EntryAdapter& e : s.entries()) {
          const int64_t ts = e.timestamp().seconds() * 1000000000 + e.timestamp().nanos();
          same = same && i < entries_.size() && entries_[i].ts_ns == ts &&
                 entries_[i].line == e.line();
          ++i;
        }
      }
      if (!same || i != entries_.size()) counter_->CountDecoderMismatch();
    }
    for (std::string_view l : labels_) counter_->ObserveStream(l);
    for (const WireEntry& e : entries_) counter_->Observe(e.line, e.ts_ns, now_ns);
    return "";
  }

  std::string DecodeJson(std::string_view body, int64_t now_ns) {
    simdjson::padded_string padded(body.data(), body.size());
    simdjson::dom::element doc;
    if (auto e = json_.parse(padded).get(doc); e != simdjson::SUCCESS) {
      return absl::StrCat("json: ", simdjson::error_message(e));
    }
    simdjson::dom::array streams;
    if (doc["streams"].get(streams) != simdjson::SUCCESS) return "json: no \"streams\" array";
    for (simdjson::dom::element s : streams) {
      simdjson::dom::object labels;
      if (s["stream"].get(labels) == simdjson::SUCCESS) {
        std::string canon = "{";
        for (auto field : labels) {
          std::string_view v;
          if (field.value.get(v) != simdjson::SUCCESS) continue;
          absl::StrAppend(&canon, canon.size() > 1 ? ", " : "", Av(field.key), "=\"", Av(v), "\"");
        }
        canon.push_back('}');
        counter_->ObserveStream(canon);
      }
      simdjson::dom::array values;
      if (s["values"].get(values) != simdjson::SUCCESS) return "json: stream without values";
      for (simdjson::dom::element v : values) {
        simdjson::dom::array tuple;
        std::string_view ts_text, line;
        if (v.get(tuple) != simdjson::SUCCESS || tuple.size() < 2 ||
            tuple.at(0).get(ts_text) != simdjson::SUCCESS ||
            tuple.at(1).get(line) != simdjson::SUCCESS) {
          return "json: values must be [\"<unix ns>\", \"<line>\", ...]";
        }
        int64_t ts = 0;
        if (!absl::SimpleAtoi(Av(ts_text), &ts)) return "json: timestamp is not unix ns";
        counter_->Observe(line, ts, now_ns);
      }
    }
    return "";
  }

 private:
  static constexpr size_t kArenaBlock = 8 << 20;

  Counter* counter_;
  Mode mode_;
  std::vector<char> raw_;
  std::vector<std::string_view> labels_;
  std::vector<WireEntry> entries_;
  std::vector<char> arena_block_;
  simdjson::dom::parser json_;
};

// Shared by every connection; lives in main().
struct Server {
  Counter counter;
  PushDecoder::Mode decoder_mode = PushDecoder::Mode::kWire;
  std::unique_ptr<PushDecoder> decoder;
  uint64_t max_body = 256 << 20;
  bool early_ack = true;  // --ack-after-decode turns it off
  int errors_logged = 0;
  asio::io_context* io = nullptr;
  // --defer-decode MS: early-acknowledged pushes wait here, with their receive times, until no
  // push has come for MS milliseconds, so that a catch-up's decoding does not take a core from
  // the agent being measured (bench/run --no-pin). Their delay and order are those of receipt.
  int64_t defer_ms = 0;
  std::deque<std::pair<http::request<http::string_body>, int64_t>> deferred;
  std::optional<asio::steady_timer> defer_timer;
};

// One keep-alive connection: read a request, answer it, repeat. Owned by the shared_ptr its
// pending handlers hold; io thread only.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Server* server) : stream_(std::move(socket)), server_(server) {}

  void Start() {
    // Beast reads at most the buffer's free capacity (never less than 512 bytes): an unreserved
    // buffer that only ever held a header reads a 1 MB body in ~2,000 system calls.
    buffer_.reserve(kReadBytes);
    Read();
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(server_->max_body);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec) {
      // end_of_stream is the client closing a keep-alive connection; anything else ends it too.
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      return;
    }
    const int64_t now_ns = RealtimeNanos();
    http::request<http::string_body> req = parser_->release();
    res_ = {};
    res_.version(req.version());
    res_.keep_alive(req.keep_alive());
    res_.set(http::field::server, "loki_counter");
    const std::string_view target(req.target().data(), req.target().size());
    if (req.method() == http::verb::post && target.ends_with("/push")) {
      if (server_->early_ack && Unsupported(req).empty()) {
        // Answer first, decode after: the agent's next request is then not held up by this
        // receiver's decoding (the agent, not the receiver, should set the pace). A body that
        // does not decode is still counted (bad_requests) and its lines show up as missing.
        res_.result(http::status::no_content);
        res_.prepare_payload();
        beast::error_code write_ec;
        http::write(stream_.socket(), res_, write_ec);
        if (server_->defer_ms > 0) {
          server_->deferred.emplace_back(std::move(req), now_ns);
          ArmDeferTimer(server_);
        } else {
          DecodeAcknowledged(server_, req, now_ns);
        }
        if (write_ec || !res_.keep_alive()) {
          beast::error_code ignored;
          stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
          return;
        }
        return Read();
      }
      http::status status;
      const std::string error = Push(server_, req, now_ns, &status);
      res_.result(status);
      if (!error.empty()) {
        res_.set(http::field::content_type, "text/plain");
        res_.body() = error + "\n";
      }
    } else {
      Handle(req);
    }
    res_.prepare_payload();
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->OnWrite(ec);
    });
  }

  // Why a push cannot be decoded at all (415), judging by its headers; "" when it can.
  static std::string Unsupported(const http::request<http::string_body>& req) {
    const std::string_view type(req[http::field::content_type].data(),
                                req[http::field::content_type].size());
    const std::string_view encoding(req[http::field::content_encoding].data(),
                                    req[http::field::content_encoding].size());
    if (!encoding.empty() && encoding != "snappy" && encoding != "identity") {
      return absl::StrCat("unsupported Content-Encoding ", Av(encoding));
    }
    if (type.starts_with("application/json") || type.starts_with("application/x-protobuf") ||
        type.empty()) {
      return "";
    }
    return absl::StrCat("unsupported Content-Type ", Av(type));
  }

  // A push already answered 204: decoded and counted; a failure is logged (the first ten).
  static void DecodeAcknowledged(Server* server, const http::request<http::string_body>& req,
                                 int64_t now_ns) {
    http::status status;
    const std::string error = Push(server, req, now_ns, &status);
    if (!error.empty() && server->errors_logged++ < 10) {
      std::fprintf(stderr, "loki_counter: push answered 204 but failed: %s\n", error.c_str());
    }
  }

  // (Re)starts the quiet period after which the deferred pushes are decoded, in receipt order.
  static void ArmDeferTimer(Server* server) {
    server->defer_timer->expires_after(std::chrono::milliseconds(server->defer_ms));
    server->defer_timer->async_wait([server](beast::error_code ec) {
      if (ec) return;  // restarted by a newer push
      while (!server->deferred.empty()) {
        auto [req, now_ns] = std::move(server->deferred.front());
        server->deferred.pop_front();
        DecodeAcknowledged(server, req, now_ns);
      }
    });
  }

  // Decodes and counts one push. Returns "" (and 204) or the error text (and 400 or 415).
  static std::string Push(Server* server_, const http::request<http::string_body>& req,
                          int64_t now_ns, http::status* status) {
    const std::string_view body = req.body();
    const std::string_view type(req[http::field::content_type].data(),
                                req[http::field::content_type].size());
    const std::string_view agent(req[http::field::user_agent].data(),
                                 req[http::field::user_agent].size());
    const bool json = type.starts_with("application/json");
    std::string error = Unsupported(req);
    *status = http::status::bad_request;
    if (!error.empty()) {
      *status = http::status::unsupported_media_type;
    } else if (json) {
      error = server_->decoder->DecodeJson(body, now_ns);
    } else {
      error = server_->decoder->DecodeProtobuf(body, now_ns);
    }
    server_->counter.CountRequest(error.empty(), body.size(), agent, json, now_ns);
    if (error.empty()) *status = http::status::no_content;
    return error;
  }

  // Everything but pushes.
  void Handle(const http::request<http::string_body>& req) {
    const std::string_view target(req.target().data(), req.target().size());
    const std::string_view body = req.body();
    auto reply = [&](http::status status, std::string text) {
      res_.result(status);
      if (!text.empty()) {
        res_.set(http::field::content_type, "text/plain");
        res_.body() = std::move(text);
      }
    };
    server_->counter.CountOther();
    if (req.method() == http::verb::get && target.starts_with("/stats")) {
      reply(http::status::ok, server_->counter.StatsJson());
      res_.set(http::field::content_type, "application/json");
      return;
    }
    if (req.method() == http::verb::get && target == "/timeline") {
      reply(http::status::ok, server_->counter.TimelineJson());
      res_.set(http::field::content_type, "application/json");
      return;
    }
    if (req.method() == http::verb::get && target == "/streams") {
      reply(http::status::ok, server_->counter.StreamsJson());
      res_.set(http::field::content_type, "application/json");
      return;
    }
    if (req.method() == http::verb::post && target == "/expect") {
      std::vector<uint64_t> expected;
      for (size_t pos = 0; pos < body.size();) {
        uint64_t v = 0;
        if (ParseDigits(body, &pos, &v)) {
          expected.push_back(v);
        } else {
          ++pos;
        }
      }
      server_->counter.SetExpected(std::move(expected));
      return reply(http::status::no_content, "");
    }
    if (req.method() == http::verb::get && target == "/ready") {
      return reply(http::status::ok, "ready\n");
    }
    if (req.method() == http::verb::post && target == "/quit") {
      asio::post(*server_->io, [io = server_->io] { io->stop(); });
      return reply(http::status::ok, "bye\n");
    }
    reply(http::status::not_found, "not found\n");
  }

  void OnWrite(beast::error_code ec) {
    if (ec || !res_.keep_alive()) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    Read();
  }

  static constexpr size_t kReadBytes = 64 * 1024;  // Beast's largest single read
  beast::tcp_stream stream_;
  Server* server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
};

void Accept(tcp::acceptor* acceptor, Server* server) {
  acceptor->async_accept([acceptor, server](beast::error_code ec, tcp::socket socket) {
    if (!ec) {
      socket.set_option(tcp::no_delay(true));
      std::make_shared<Session>(std::move(socket), server)->Start();
    }
    if (acceptor->is_open()) Accept(acceptor, server);
  });
}

[[noreturn]] void Die(std::string_view message) {
  std::fprintf(stderr, "loki_counter: %.*s\n", static_cast<int>(message.size()), message.data());
  std::exit(1);
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  using namespace sluice::bench;
  std::string listen = "127.0.0.1:0";
  auto server = std::make_unique<Server>();
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (flag == "--ack-after-decode") {
      server->early_ack = false;
      continue;
    }
    if (flag == "--decoder" && i + 1 < argc) {
      const std::string_view mode = argv[++i];
      if (mode == "wire") {
        server->decoder_mode = PushDecoder::Mode::kWire;
      } else if (mode == "generated") {
        server->decoder_mode = PushDecoder::Mode::kGenerated;
      } else if (mode == "both") {
        server->decoder_mode = PushDecoder::Mode::kBoth;
      } else {
        Die("--decoder wants wire, generated or both");
      }
      continue;
    }
    if (i + 1 >= argc)
      Die("usage: loki_counter [--listen HOST:PORT] [--max-body BYTES] [--ack-after-decode] "
          "[--decoder wire|generated|both] [--defer-decode MS]");
    std::string_view value = argv[++i];
    if (flag == "--listen") {
      listen = std::string(value);
    } else if (flag == "--max-body") {
      absl::StatusOr<uint64_t> v = sluice::ParseByteSize(value);
      if (!v.ok()) Die(absl::StrCat("--max-body: ", v.status().message()));
      server->max_body = *v;
    } else if (flag == "--defer-decode") {
      if (!absl::SimpleAtoi(sluice::Av(value), &server->defer_ms) || server->defer_ms < 0) {
        Die("--defer-decode wants milliseconds");
      }
    } else {
      Die(absl::StrCat("unknown flag ", sluice::Av(flag)));
    }
  }
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) Die("--listen wants HOST:PORT");
  uint32_t port = 0;
  if (!absl::SimpleAtoi(sluice::Av(std::string_view(listen).substr(colon + 1)), &port) ||
      port > 65535) {
    Die("--listen: bad port");
  }
  server->decoder = std::make_unique<PushDecoder>(&server->counter, server->decoder_mode);
  asio::io_context io(1);
  server->io = &io;
  server->defer_timer.emplace(io);
  beast::error_code ec;
  const auto address = asio::ip::make_address(listen.substr(0, colon), ec);
  if (ec) Die(absl::StrCat("--listen: ", ec.message()));
  tcp::acceptor acceptor(io);
  const tcp::endpoint endpoint(address, static_cast<uint16_t>(port));
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) Die(absl::StrCat("listen on ", listen, ": ", ec.message()));
  std::printf("%u\n", static_cast<unsigned>(acceptor.local_endpoint().port()));
  std::fflush(stdout);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&io](beast::error_code, int) { io.stop(); });
  Accept(&acceptor, server.get());
  io.run();
  const std::string stats = server->counter.StatsJson();
  std::fwrite(stats.data(), 1, stats.size(), stderr);
  return 0;
}
