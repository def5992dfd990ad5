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
  // Parses `text`; the DOM is valid until the next call. False on malformed JSON.
  bool Parse(std::string_view text, simdjson::dom::element* root);

 private:
  simdjson::error_code ParseOnce(std::string_view text, simdjson::dom::element* root);

  // Appends ".0" to integer literals of 19 digits or more (outside strings). False when there
  // are none, i.e. the number error has another cause.
  static bool WidenBigIntegers(std::string_view in, std::string* out);

  bool Reserve(size_t len);

  simdjson::dom::parser parser_;
  std::unique_ptr<char[]> buf_;
  size_t capacity_ = 0;
};

}  // namespace sluice::stage_util
