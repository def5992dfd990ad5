// What loki.source.file's `decompression` and `encoding` arguments put between a file's bytes and
// its lines, as Alloy's tailer does:
//   Decompressor   a gz (gzip members, concatenated ones too), z (zlib) or bz2 file read as the
//                  stream it holds. Offsets (and positions) are in that stream, as Alloy's: a
//                  restart inflates from the start again and skips what was read.
//   Transcoder     a file in another encoding (any iconv knows: UTF-16LE/BE, ISO-8859-1,
//                  windows-1252, Shift_JIS, ...): lines are split on the encoded newline (aligned
//                  to the code unit), and each line, its encoded carriage return cut, becomes
//                  UTF-8. Offsets stay the file's bytes.
//   DetectBom      Alloy reads a byte order mark at the start of every file: a UTF-8 one is
//                  skipped, a UTF-16 one decides the file's encoding over the configured one.
//
// Plain classes owned by their file's state (TailFile::transform) and used on the tail thread
// only. Bounded: a Decompressor holds one input buffer and its library's state (zlib: ~44 KiB;
// bzip2 in its small mode: at most ~2.3 MiB, so the TailManager lets only a few inflate at once);
// a Transcoder keeps at most raw_limit bytes of an incomplete line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice {

enum class Compression { kNone, kGzip, kZlib, kBzip2 };

// Alloy's format names: "gz", "z", "bz2".
std::optional<Compression> ParseCompression(std::string_view name);

class Decompressor {
 public:
  enum class State {
    kData,     // produced bytes; there may be more
    kWaiting,  // the file ends inside its compressed stream: it may still be being written
    kEnd,      // the stream (and the file) ended: everything is read
    kError,    // corrupt data (error() says why); nothing more can be read
  };

  static absl::StatusOr<std::unique_ptr<Decompressor>> Create(Compression format);
  virtual ~Decompressor() = default;

  // Decompressed bytes before `offset` are discarded (a restart resumes at a stored position).
  void SkipTo(int64_t offset) { skip_to_ = offset; }
  // Reads `fd` (with pread, from its own offset in the compressed file) and writes up to `cap`
  // decompressed bytes to `out`. `*n`: bytes written; `*base`: their offset in the stream.
  State Read(int fd, char* out, size_t cap, size_t* n, int64_t* base);
  const std::string& error() const { return error_; }
  int64_t raw_offset() const { return raw_offset_; }

 protected:
  enum class Step { kOk, kStreamEnd, kNeedInput, kError };
  // One library call: consumes from in/in_len, produces into out/out_cap.
  virtual Step Inflate(const char** in, size_t* in_len, char** out, size_t* out_cap) = 0;
  // A new stream after one ended (concatenated gzip members or bzip2 streams); false: the format
  // allows one stream only.
  virtual bool Restart() = 0;
  std::string error_;

 private:
  std::string in_buf_ = std::string(64 * 1024, '\0');
  size_t in_pos_ = 0, in_len_ = 0;
  int64_t raw_offset_ = 0;  // next byte of the compressed file to read
  int64_t out_offset_ = 0;  // decompressed bytes produced so far
  int64_t skip_to_ = 0;
  bool ended_ = false;  // the last stream ended (more input may start another)
  bool failed_ = false;
};

// The byte order mark at the start of `head` (a file's first up to 4 bytes): its length, and the
// encoding it decides ("" for UTF-8 or none: the configured one stays; "UTF-16LE"/"UTF-16BE").
struct Bom {
  size_t length = 0;
  std::string_view encoding;
};
Bom DetectBom(std::string_view head);

// A file's incomplete encoded line (the Transcoder's LineCarry).
struct EncodedCarry {
  std::string bytes;
  int64_t start = 0;
  bool skipping = false;  // past raw_limit: the rest of the line is dropped
  char unit[4] = {};      // the first bytes of a code unit cut by the end of a read
  size_t unit_len = 0;
  void Clear() {
    bytes.clear();
    skipping = false;
    unit_len = 0;
  }
};

class Transcoder {
 public:
  // `encoding`: a name iconv knows (IANA names and aliases, case-insensitive). InvalidArgument
  // names it when it is unknown or has no newline (iconv cannot encode one in it).
  static absl::StatusOr<std::unique_ptr<Transcoder>> Create(std::string_view encoding);
  ~Transcoder();
  Transcoder(const Transcoder&) = delete;
  Transcoder& operator=(const Transcoder&) = delete;

  size_t unit() const { return newline_.size(); }
  const std::string& name() const { return name_; }

  using OnLine = absl::FunctionRef<void(std::string_view utf8, int64_t start, int64_t end)>;
  // Splits `n` bytes read at file offset `base` into lines (the encoded newline, at a code unit
  // boundary counted from `align`: where the text starts, after a byte order mark), each turned
  // into UTF-8 (its encoded carriage return cut) for on_line with its file bytes [start, end).
  // Lines longer than `raw_limit` encoded bytes are cut (*cut incremented once per line).
  // Sequences that are not valid in the encoding become U+FFFD (*invalid incremented once per
  // line). Returns the number of lines.
  uint64_t Split(EncodedCarry* c, const char* data, size_t n, int64_t base, int64_t align,
                 size_t raw_limit, uint64_t* cut, uint64_t* invalid, OnLine on_line);
  // The carried incomplete line as a last line ending at `end`.
  void Flush(EncodedCarry* c, int64_t end, uint64_t* invalid, OnLine on_line);
  // `raw` (one line, no newline) as UTF-8 in scratch; true when every sequence was valid.
  bool Decode(std::string_view raw, std::string* out);

 private:
  Transcoder(void* cd, std::string name, std::string newline, std::string cr);
  void EmitLine(std::string_view raw, int64_t start, int64_t end, uint64_t* invalid,
                OnLine on_line);

  void* cd_;  // iconv_t, to UTF-8
  std::string name_;
  std::string newline_;  // "\n" in the encoding: its length is the code unit
  std::string cr_;       // "\r" in the encoding
  std::string line_;     // a line assembled from the carry
  std::string utf8_;     // the decoded line
};

// A file's transform state (TailFile::transform), present when the file is compressed or not
// in UTF-8 (configured, or told by its byte order mark).
struct FileTransform {
  bool compressed = false;                // read through a Decompressor (created for its turn)
  std::unique_ptr<Decompressor> inflate;  // while being read; released at its end
  std::unique_ptr<Transcoder> transcode;  // null: the text is UTF-8
  EncodedCarry carry;                     // the incomplete line, when transcoding
  int64_t text_start = 0;                 // offset after the byte order mark
  int64_t not_before_mono = 0;            // decompression's initial_delay: not read before
  bool finished = false;                  // a compressed file read to its end: nothing more to read
};

}  // namespace sluice
