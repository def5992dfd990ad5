#include "agent/source/file_transform.h"

#include <bzlib.h>
#include <errno.h>
#include <iconv.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"

namespace sluice {
namespace {

// gzip members and zlib streams: one z_stream, reset between concatenated gzip members (gzip
// allows them, Go's reader reads them all).
class ZlibDecompressor final : public Decompressor {
 public:
  explicit ZlibDecompressor(bool gzip) : gzip_(gzip) {}
  ~ZlibDecompressor() override {
    if (ready_) inflateEnd(&zs_);
  }
  absl::Status Init() {
    std::memset(&zs_, 0, sizeof(zs_));
    // 16 + 15: a gzip header and trailer around the deflate data; 15: zlib's.
    if (inflateInit2(&zs_, gzip_ ? 16 + MAX_WBITS : MAX_WBITS) != Z_OK) {
      return absl::ResourceExhaustedError("zlib: cannot initialise a stream");
    }
    ready_ = true;
    return absl::OkStatus();
  }

 protected:
  Step Inflate(const char** in, size_t* in_len, char** out, size_t* out_cap) override {
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(*in));
    zs_.avail_in = static_cast<uInt>(std::min<size_t>(*in_len, 1u << 30));
    zs_.next_out = reinterpret_cast<Bytef*>(*out);
    zs_.avail_out = static_cast<uInt>(std::min<size_t>(*out_cap, 1u << 30));
    uInt in_before = zs_.avail_in, out_before = zs_.avail_out;
    int rc = inflate(&zs_, Z_NO_FLUSH);
    *in += in_before - zs_.avail_in;
    *in_len -= in_before - zs_.avail_in;
    *out += out_before - zs_.avail_out;
    *out_cap -= out_before - zs_.avail_out;
    switch (rc) {
      case Z_OK:
        return Step::kOk;
      case Z_STREAM_END:
        return Step::kStreamEnd;
      case Z_BUF_ERROR:
        return Step::kNeedInput;
      default:
        error_ = absl::StrCat(gzip_ ? "gzip: " : "zlib: ", zs_.msg != nullptr ? zs_.msg : "",
                              " (code ", rc, ")");
        return Step::kError;
    }
  }
  bool Restart() override { return gzip_ && inflateReset(&zs_) == Z_OK; }

 private:
  bool gzip_;
  bool ready_ = false;
  z_stream zs_;
};

class Bzip2Decompressor final : public Decompressor {
 public:
  ~Bzip2Decompressor() override {
    if (ready_) BZ2_bzDecompressEnd(&bs_);
  }
  absl::Status Init() {
    std::memset(&bs_, 0, sizeof(bs_));
    // small = 1: at most ~2.3 MiB for a 900k block instead of ~3.7 MiB, at half the speed.
    if (BZ2_bzDecompressInit(&bs_, 0, 1) != BZ_OK) {
      return absl::ResourceExhaustedError("bzip2: cannot initialise a stream");
    }
    ready_ = true;
    return absl::OkStatus();
  }

 protected:
  Step Inflate(const char** in, size_t* in_len, char** out, size_t* out_cap) override {
    bs_.next_in = const_cast<char*>(*in);
    bs_.avail_in = static_cast<unsigned>(std::min<size_t>(*in_len, 1u << 30));
    bs_.next_out = *out;
    bs_.avail_out = static_cast<unsigned>(std::min<size_t>(*out_cap, 1u << 30));
    unsigned in_before = bs_.avail_in, out_before = bs_.avail_out;
    int rc = BZ2_bzDecompress(&bs_);
    *in += in_before - bs_.avail_in;
    *in_len -= in_before - bs_.avail_in;
    *out += out_before - bs_.avail_out;
    *out_cap -= out_before - bs_.avail_out;
    if (rc == BZ_STREAM_END) return Step::kStreamEnd;
    if (rc == BZ_OK) {
      return in_before == bs_.avail_in && out_before == bs_.avail_out ? Step::kNeedInput
                                                                      : Step::kOk;
    }
    error_ = absl::StrCat("bzip2: corrupt data (code ", rc, ")");
    return Step::kError;
  }
  bool Restart() override {
    BZ2_bzDecompressEnd(&bs_);
    ready_ = false;
    return Init().ok();
  }

 private:
  bool ready_ = false;
  bz_stream bs_;
};

}  // namespace

std::optional<Compression> ParseCompression(std::string_view name) {
  if (name == "gz") return Compression::kGzip;
  if (name == "z") return Compression::kZlib;
  if (name == "bz2") return Compression::kBzip2;
  return std::nullopt;
}

absl::StatusOr<std::unique_ptr<Decompressor>> Decompressor::Create(Compression format) {
  switch (format) {
    case Compression::kGzip:
    case Compression::kZlib: {
      auto d = std::make_unique<ZlibDecompressor>(format == Compression::kGzip);
      if (absl::Status st = d->Init(); !st.ok()) return st;
      return std::unique_ptr<Decompressor>(std::move(d));
    }
    case Compression::kBzip2: {
      auto d = std::make_unique<Bzip2Decompressor>();
      if (absl::Status st = d->Init(); !st.ok()) return st;
      return std::unique_ptr<Decompressor>(std::move(d));
    }
    case Compression::kNone:
      break;
  }
  return absl::InvalidArgumentError("no compression");
}

Decompressor::State Decompressor::Read(int fd, char* out, size_t cap, size_t* n, int64_t* base) {
  *n = 0;
  *base = std::max(out_offset_, skip_to_);
  if (failed_) return State::kError;
  char* o = out;
  size_t room = cap;
  while (room > 0) {
    if (in_pos_ == in_len_) {
      ssize_t got = ::pread(fd, in_buf_.data(), in_buf_.size(), raw_offset_);
      if (got < 0) {
        if (errno == EINTR) continue;
        error_ = absl::StrCat("read: ", strerror(errno));
        failed_ = true;
        return State::kError;
      }
      if (got == 0) {
        if (*n > 0) return State::kData;
        // The end of the file: inside a stream, more may be written (a file being compressed);
        // after one, the file is done.
        return ended_ ? State::kEnd : State::kWaiting;
      }
      raw_offset_ += got;
      in_pos_ = 0;
      in_len_ = static_cast<size_t>(got);
    }
    if (ended_) {
      // Bytes after a stream: another gzip member or bzip2 stream, else trailing garbage.
      if (!Restart()) {
        error_ = "data after the end of the compressed stream";
        failed_ = true;
        return *n > 0 ? State::kData : State::kError;
      }
      ended_ = false;
    }
    const char* in = in_buf_.data() + in_pos_;
    size_t in_left = in_len_ - in_pos_;
    char* before = o;
    Step step = Inflate(&in, &in_left, &o, &room);
    in_pos_ = in_len_ - in_left;
    size_t produced = static_cast<size_t>(o - before);
    if (produced > 0) {
      // Bytes before the stored position were read before a restart: dropped here.
      int64_t start = out_offset_;
      out_offset_ += static_cast<int64_t>(produced);
      if (out_offset_ <= skip_to_) {
        o = before;
        room += produced;
      } else if (start < skip_to_) {
        size_t drop = static_cast<size_t>(skip_to_ - start);
        std::memmove(before, before + drop, produced - drop);
        o -= drop;
        room += drop;
      }
      *n = static_cast<size_t>(o - out);
    }
    if (step == Step::kError) {
      failed_ = true;
      return *n > 0 ? State::kData : State::kError;
    }
    if (step == Step::kStreamEnd) ended_ = true;
    if (step == Step::kNeedInput && in_pos_ < in_len_) {
      // Input left and no progress: the library cannot go on (not seen with zlib or bzip2).
      error_ = "the decompressor made no progress";
      failed_ = true;
      return *n > 0 ? State::kData : State::kError;
    }
  }
  return State::kData;
}

Bom DetectBom(std::string_view head) {
  auto starts = [&](std::string_view p) { return head.substr(0, p.size()) == p; };
  // UTF-32 marks are checked as Alloy does: after UTF-16's, so FF FE 00 00 reads as UTF-16LE.
  if (starts("\xEF\xBB\xBF")) return {3, ""};
  if (starts("\xFE\xFF")) return {2, "UTF-16BE"};
  if (starts("\xFF\xFE")) return {2, "UTF-16LE"};
  if (starts(std::string_view("\x00\x00\xFE\xFF", 4))) return {4, ""};
  return {};
}

namespace {

// Encodes `utf8` with `cd` (from UTF-8), or "" when it cannot.
std::string Encode(iconv_t cd, std::string_view utf8) {
  iconv(cd, nullptr, nullptr, nullptr, nullptr);
  std::string out(16, '\0');
  char* in = const_cast<char*>(utf8.data());
  size_t in_left = utf8.size();
  char* o = out.data();
  size_t out_left = out.size();
  if (iconv(cd, &in, &in_left, &o, &out_left) == static_cast<size_t>(-1)) return "";
  out.resize(out.size() - out_left);
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Transcoder>> Transcoder::Create(std::string_view encoding) {
  std::string name(encoding);
  std::string upper = absl::AsciiStrToUpper(name);
  // Without a byte order mark (which DetectBom reads and which then decides), UTF-16 and
  // UTF-32 are big-endian (RFC 2781, and Go's decoders); glibc would pick the host's order for
  // one side and big-endian for the other.
  std::string iconv_name = upper == "UTF-16" || upper == "UTF16"   ? "UTF-16BE"
                           : upper == "UTF-32" || upper == "UTF32" ? "UTF-32BE"
                                                                   : name;
  iconv_t to_utf8 = iconv_open("UTF-8", iconv_name.c_str());
  if (to_utf8 == reinterpret_cast<iconv_t>(-1)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown encoding \"", name, "\""));
  }
  iconv_t from_utf8 = iconv_open(iconv_name.c_str(), "UTF-8");
  std::string nl, cr;
  if (from_utf8 != reinterpret_cast<iconv_t>(-1)) {
    // Two newlines less one: encoders that write a byte order mark first write it once.
    std::string one = Encode(from_utf8, "\n"), two = Encode(from_utf8, "\n\n");
    if (!one.empty() && two.size() > one.size()) nl = two.substr(one.size());
    std::string cr_one = Encode(from_utf8, "\r"), cr_two = Encode(from_utf8, "\r\r");
    if (!cr_one.empty() && cr_two.size() > cr_one.size()) cr = cr_two.substr(cr_one.size());
    iconv_close(from_utf8);
  }
  if (nl.empty() || nl.size() > 4 || (nl.size() & (nl.size() - 1)) != 0) {
    iconv_close(to_utf8);
    return absl::InvalidArgumentError(
        absl::StrCat("encoding \"", name, "\" has no newline sluice can split lines on"));
  }
  return std::unique_ptr<Transcoder>(
      new Transcoder(reinterpret_cast<void*>(to_utf8), name, std::move(nl), std::move(cr)));
}

Transcoder::Transcoder(void* cd, std::string name, std::string newline, std::string cr)
    : cd_(cd), name_(std::move(name)), newline_(std::move(newline)), cr_(std::move(cr)) {}

Transcoder::~Transcoder() { iconv_close(reinterpret_cast<iconv_t>(cd_)); }

bool Transcoder::Decode(std::string_view raw, std::string* out) {
  iconv_t cd = reinterpret_cast<iconv_t>(cd_);
  iconv(cd, nullptr, nullptr, nullptr, nullptr);  // stateful encodings start each line afresh
  out->clear();
  // UTF-8 takes at most 3 bytes per UTF-16 code unit, 4 per character otherwise.
  out->resize(raw.size() * 2 + 16);
  char* in = const_cast<char*>(raw.data());
  size_t in_left = raw.size();
  size_t used = 0;
  bool valid = true;
  while (in_left > 0) {
    char* o = out->data() + used;
    size_t out_left = out->size() - used;
    size_t rc = iconv(cd, &in, &in_left, &o, &out_left);
    used = out->size() - out_left;
    if (rc != static_cast<size_t>(-1)) break;
    if (errno == E2BIG) {
      out->resize(out->size() * 2);
      continue;
    }
    // EILSEQ (not a character of the encoding) or EINVAL (cut short at the end): U+FFFD for
    // one code unit, as Go's decoders replace what they cannot read.
    valid = false;
    if (out->size() - used < 3) out->resize(out->size() * 2);
    std::memcpy(out->data() + used, "\xEF\xBF\xBD", 3);
    used += 3;
    size_t skip = std::min(in_left, unit());
    in += skip;
    in_left -= skip;
    iconv(cd, nullptr, nullptr, nullptr, nullptr);
  }
  // Flush a stateful encoding's pending output.
  char* o = out->data() + used;
  size_t out_left = out->size() - used;
  iconv(cd, nullptr, nullptr, &o, &out_left);
  out->resize(out->size() - out_left);
  return valid;
}

void Transcoder::EmitLine(std::string_view raw, int64_t start, int64_t end, uint64_t* invalid,
                          OnLine on_line) {
  // Alloy cuts the encoded carriage return of a CRLF line.
  if (!cr_.empty() && raw.size() >= cr_.size() &&
      raw.substr(raw.size() - cr_.size()) == std::string_view(cr_)) {
    raw.remove_suffix(cr_.size());
  }
  if (!Decode(raw, &utf8_)) ++*invalid;
  on_line(utf8_, start, end);
}

uint64_t Transcoder::Split(EncodedCarry* c, const char* data, size_t n, int64_t base, int64_t align,
                           size_t raw_limit, uint64_t* cut, uint64_t* invalid, OnLine on_line) {
  const size_t w = unit();
  uint64_t lines = 0;
  size_t pos = 0;
  // Appends [from, to) of data to the carried line, within raw_limit.
  auto carry = [&](size_t from, size_t to) {
    if (c->skipping) return;
    if (c->bytes.empty() && c->unit_len == 0) c->start = base + static_cast<int64_t>(from);
    size_t room = raw_limit - std::min(raw_limit, c->bytes.size());
    size_t take = std::min(room, to - from);
    c->bytes.append(data + from, take);
    if (take < to - from) {
      ++*cut;
      c->skipping = true;
    }
  };
  auto finish = [&](int64_t line_end) {
    ++lines;
    line_.swap(c->bytes);
    c->bytes.clear();
    c->skipping = false;
    EmitLine(line_, c->start, line_end, invalid, on_line);
  };
  // A code unit the previous read cut in two.
  if (c->unit_len > 0) {
    size_t need = std::min(w - c->unit_len, n);
    std::memcpy(c->unit + c->unit_len, data, need);
    c->unit_len += need;
    pos = need;
    if (c->unit_len < w) return 0;
    c->unit_len = 0;
    if (std::memcmp(c->unit, newline_.data(), w) == 0) {
      finish(base + static_cast<int64_t>(pos));
    } else if (!c->skipping) {
      if (c->bytes.size() + w <= raw_limit) {
        c->bytes.append(c->unit, w);
      } else {
        ++*cut;
        c->skipping = true;
      }
    }
  }
  // Units start where (offset - align) is a multiple of w.
  size_t skew = static_cast<size_t>(((base + static_cast<int64_t>(pos) - align) % w + w) % w);
  if (skew != 0) pos += w - skew;  // cannot happen when reads start on units; kept safe
  size_t seg = pos;                // start of the current line's bytes in data
  if (c->bytes.empty() && !c->skipping) c->start = base + static_cast<int64_t>(seg);
  while (pos + w <= n) {
    const char* hit;
    if (w == 1) {
      hit = static_cast<const char*>(memchr(data + pos, newline_[0], n - pos));
      if (hit == nullptr) {
        pos = n;
        break;
      }
    } else {
      hit = nullptr;
      for (size_t i = pos; i + w <= n; i += w) {
        if (std::memcmp(data + i, newline_.data(), w) == 0) {
          hit = data + i;
          break;
        }
      }
      if (hit == nullptr) {
        pos = n - (n - pos) % w;
        break;
      }
    }
    size_t end = static_cast<size_t>(hit - data);
    int64_t line_end = base + static_cast<int64_t>(end + w);
    if (c->bytes.empty() && !c->skipping) {
      ++lines;
      std::string_view line(data + seg, end - seg);
      if (line.size() > raw_limit) {
        ++*cut;
        line = line.substr(0, raw_limit - raw_limit % w);
      }
      EmitLine(line, base + static_cast<int64_t>(seg), line_end, invalid, on_line);
    } else {
      carry(seg, end);
      finish(line_end);
    }
    pos = end + w;
    seg = pos;
  }
  if (seg < pos) carry(seg, pos);
  if (pos < n) {
    // Part of a code unit: kept for the next read.
    if (c->bytes.empty() && !c->skipping) c->start = base + static_cast<int64_t>(pos);
    c->unit_len = n - pos;
    std::memcpy(c->unit, data + pos, c->unit_len);
  }
  return lines;
}

void Transcoder::Flush(EncodedCarry* c, int64_t end, uint64_t* invalid, OnLine on_line) {
  if (c->unit_len > 0 && !c->skipping) c->bytes.append(c->unit, c->unit_len);
  c->unit_len = 0;
  if (c->bytes.empty()) {
    c->skipping = false;
    return;
  }
  line_.swap(c->bytes);
  c->bytes.clear();
  c->skipping = false;
  EmitLine(line_, c->start, end, invalid, on_line);
}

}  // namespace sluice
