// A reusable simdjson parser for the loki.process stages that read JSON lines (docker, json).
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace sluice::stage_util {

// A padded copy buffer and DOM parser for simdjson, grown to the largest input seen and reused.
// Owned by one stage; pipeline thread.
class JsonParser {
 public:
  // Parses `text`; the DOM is valid until the next call (its strings are the parser's, not
  // views of `text`). False on malformed JSON. `padded`: kEntryLinePadding readable bytes follow
  // `text` (EntryLine::padded()), so it is parsed where it is; else it is copied first.
  bool Parse(std::string_view text, simdjson::dom::element* root, bool padded = false);
  // Bytes copied into the padded buffer so far (tests: a padded line is not copied).
  uint64_t copied_bytes() const { return copied_bytes_; }

 private:
  simdjson::error_code ParseOnce(std::string_view text, simdjson::dom::element* root, bool padded);

  // Appends ".0" to integer literals of 19 digits or more (outside strings). False when there
  // are none, i.e. the number error has another cause.
  static bool WidenBigIntegers(std::string_view in, std::string* out);

  bool Reserve(size_t len);

  simdjson::dom::parser parser_;
  std::unique_ptr<char[]> buf_;
  size_t capacity_ = 0;
  uint64_t copied_bytes_ = 0;
};

}  // namespace sluice::stage_util
