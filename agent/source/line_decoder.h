// LineDecoder: turns a file's raw lines into entries. It decides the file's format from its
// first line (kAuto: CRI, docker json-file or plain), parses CRI and docker lines (a malformed
// one is shipped as it is, and counted) and joins their partial pieces per stream (stdout,
// stderr) into one entry, at most max_line_size long. Plain lines get the read time as their
// timestamp, kept strictly increasing per file.
//
// A partial line holds the file's mark at its start (SafeMark) until its final piece is read,
// so that a restart never resumes in the middle of a joined line.
//
// Its joiner is stage.cri's (PartialJoin, agent/source/partial_join.h); stage.cri keys it by label
// set across files instead of by file and stream, limits it by max_partial_line_size, releases
// every pending line past max_partial_lines streams, and parses leniently as Alloy does.
//
// Owned by a TailManager and run on the tail thread; one per TailManager (its docker parser is
// shared by its files), the per-file state is the file's DecodeState.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "agent/common/metrics.h"
#include "agent/source/cri_parser.h"
#include "agent/source/docker_parser.h"
#include "agent/source/line_splitter.h"
#include "agent/source/log_format.h"
#include "agent/source/partial_join.h"

namespace sluice {

// What Alloy's stage.cri leaves in the extracted map of an entry: the timestamp text, tag and
// content of the entry's last CRI piece (of a joined line: the final one, whose timestamp the
// entry takes too). Views, valid during the emit call.
struct CriPieceFields {
  std::string_view time;
  std::string_view content;
  bool partial = false;
};

// One entry out of the decoder. Views valid during the emit call.
struct DecodedLine {
  LogStream stream = LogStream::kNone;  // kNone for plain lines
  int64_t timestamp_ns = 0;
  std::string_view line;
  int64_t start = 0;                    // the offset its bytes start at
  int64_t mark = 0;                     // the file's mark after it (everything before it is done)
  const CriPieceFields* cri = nullptr;  // CRI entries only
};

// A file's decoding state: its format, and its partial lines by LogStream.
struct DecodeState {
  struct Partial {
    PartialJoin join;  // cut at max_line_size
    int64_t start_offset = 0;
    // Of the latest piece, as Alloy's stage.cri keeps the latest piece's entry: its timestamp and
    // its timestamp's text (its content starts at join.piece_at()).
    int64_t timestamp_ns = 0;
    std::string time;
  };
  LogFormat format = LogFormat::kAuto;
  Partial partial[3];
  int64_t last_ts = 0;  // of its latest plain line
  // Drops the partial lines (the file starts over: truncated).
  void Reset();
};

class LineDecoder {
 public:
  using EmitFn = absl::FunctionRef<void(const DecodedLine&)>;

  LineDecoder(size_t max_line_size, LineCut* cut, MetricsRegistry* metrics);

  // One raw line (without its newline) of bytes [line_start, line_end); `read_time_ns`: the
  // timestamp of a plain line.
  void Decode(DecodeState* s, std::string_view raw, int64_t line_start, int64_t line_end,
              int64_t read_time_ns, EmitFn emit);
  // The file will never complete its partial lines: emit them as they are, marked at `end`.
  void Flush(DecodeState* s, int64_t end, EmitFn emit);

 private:
  // `time`: the CRI timestamp's text (empty for docker lines).
  void HandlePiece(DecodeState* s, LogStream stream, bool partial, int64_t ts,
                   std::string_view content, std::string_view time, int64_t line_start,
                   int64_t line_end, EmitFn emit);
  static int64_t SafeMark(const DecodeState& s, int64_t line_end);

  size_t max_line_size_;
  LineCut* cut_;
  DockerParser docker_;
  Counter* malformed_cri_;
  Counter* malformed_docker_;
};

}  // namespace sluice
