// docker json-file line parser; see docker_parser.h. One instance per thread.
#include "agent/source/docker_parser.h"

#include <simdjson.h>

#include <bit>
#include <cstring>

#include "agent/common/timestamp.h"

namespace sluice {

// The simdjson state behind DockerParser. Owned by the DockerParser; same thread.
struct DockerParser::Impl {
  // Grows `buffer` and the DOM parser so that a line of `len` bytes fits. Capacities are rounded up
  // to a power of two (at least 4 KiB) so that a slowly growing maximum line length costs a
  // logarithmic number of reallocations, not one per new record. False on allocation failure.
  bool Reserve(size_t len) {
    if (buffer != nullptr && len <= capacity) return true;
    const size_t new_capacity = std::bit_ceil(len < 4096 ? size_t{4096} : len);
    if (parser.allocate(new_capacity) != simdjson::SUCCESS) return false;
    // simdjson reads (but never uses) up to SIMDJSON_PADDING bytes past the end of its input. The
    // padding is zeroed once here so those reads never touch uninitialised memory.
    buffer = std::make_unique<char[]>(new_capacity + simdjson::SIMDJSON_PADDING);
    capacity = new_capacity;
    return true;
  }

  simdjson::dom::parser parser;
  std::unique_ptr<char[]> buffer;  // capacity + SIMDJSON_PADDING bytes
  size_t capacity = 0;             // longest line that fits in both buffer and parser
};

DockerParser::DockerParser() : impl_(std::make_unique<Impl>()) {}
DockerParser::~DockerParser() = default;

size_t DockerParser::buffer_capacity() const { return impl_->capacity; }

bool DockerParser::Parse(std::string_view line, DockerLine* out) {
  Impl& impl = *impl_;
  if (!impl.Reserve(line.size())) return false;
  // The copy is what buys the padding simdjson needs; at memcpy speed it is a small part of the
  // parse, and the caller's read buffer stays free of simdjson's requirements.
  if (!line.empty()) std::memcpy(impl.buffer.get(), line.data(), line.size());
  simdjson::dom::element root;
  if (impl.parser.parse(impl.buffer.get(), line.size(), /*realloc_if_needed=*/false).get(root) !=
      simdjson::SUCCESS) {
    return false;
  }
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) return false;

  // Walk the fields once instead of three keyed lookups; docker writes log, stream, time (and
  // sometimes attrs) but the order is not part of the format.
  std::string_view log, stream, time;
  bool have_log = false, have_stream = false, have_time = false;
  for (simdjson::dom::key_value_pair field : object) {
    std::string_view* target;
    bool* seen;
    if (field.key == "log") {
      target = &log;
      seen = &have_log;
    } else if (field.key == "stream") {
      target = &stream;
      seen = &have_stream;
    } else if (field.key == "time") {
      target = &time;
      seen = &have_time;
    } else {
      continue;
    }
    // The string views point into the parser's string buffer, valid until the next parse.
    if (field.value.get_string().get(*target) != simdjson::SUCCESS) return false;
    *seen = true;
  }
  if (!have_log || !have_stream || !have_time) return false;

  LogStream log_stream;
  if (stream == "stdout") {
    log_stream = LogStream::kStdout;
  } else if (stream == "stderr") {
    log_stream = LogStream::kStderr;
  } else {
    return false;
  }
  int64_t timestamp_ns;
  if (!ParseRfc3339Nano(time, &timestamp_ns)) return false;

  const bool partial = log.empty() || log.back() != '\n';
  if (!partial) log.remove_suffix(1);
  out->timestamp_ns = timestamp_ns;
  out->stream = log_stream;
  out->partial = partial;
  out->content = log;
  return true;
}

}  // namespace sluice
