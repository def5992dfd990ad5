// Loki push requests as loki.source.api receives them (Alloy's loghttp.ParsePushRequest, itself
// Loki's): Content-Encoding "" or "snappy" (the body as it is), "gzip" or "deflate" (then
// decoded); Content-Type application/json for Loki's JSON form
// ({"streams":[{"stream":{...},"values":[["<ns>","<line>",{<metadata>}]]}]}), anything else
// for a snappy-compressed logproto.PushRequest. The protobuf wire format is read by hand (the
// message has three levels and six fields), so that a hostile body cannot make the generated
// classes allocate beyond what the size limit allows; every length is checked against what is
// left.
//
// Plain functions; any thread. Fuzzed by tests/fuzz/push_request_fuzzer.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace sluice {

struct PushEntry {
  int64_t timestamp_ns = 0;
  std::string line;
  std::vector<std::pair<std::string, std::string>> metadata;  // structured metadata, as sent
};

struct PushStream {
  // Protobuf: the stream's labels as text (`{a="b"}`, Prometheus' metric syntax), to be parsed.
  // JSON: already pairs (`stream` is an object), `labels_text` empty.
  std::string labels_text;
  std::vector<std::pair<std::string, std::string>> labels;
  bool labels_parsed = false;
  std::vector<PushEntry> entries;
};

struct PushRequestData {
  std::vector<PushStream> streams;
  size_t entries = 0;
  size_t line_bytes = 0;
};

// Decodes a push body. `max_size`: the most its decoded form may hold (max_send_message_size).
// InvalidArgument with Alloy's or Loki's text on anything it cannot read.
absl::StatusOr<PushRequestData> DecodePushRequest(std::string_view content_type,
                                                  std::string_view content_encoding,
                                                  std::string_view body, size_t max_size);

// Prometheus' metric syntax as Loki's push handler parses a stream's labels: `{name="value",
// ...}`, an optional metric name before the brace, Go string escapes in values. Appends the
// pairs in the order written.
absl::Status ParsePromLabels(std::string_view text,
                             std::vector<std::pair<std::string, std::string>>* out);

}  // namespace sluice
