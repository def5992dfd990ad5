// The stages' reusable simdjson parser; see json_parser.h.
#include "agent/process/stages/json_parser.h"

#include <bit>
#include <cstring>

#include "agent/process/entry_line.h"

namespace sluice::stage_util {

static_assert(simdjson::SIMDJSON_PADDING <= kEntryLinePadding,
              "a padded line must satisfy simdjson");

bool JsonParser::Parse(std::string_view text, simdjson::dom::element* root, bool padded) {
  simdjson::error_code err = ParseOnce(text, root, padded);
  if (err != simdjson::NUMBER_ERROR) return err == simdjson::SUCCESS;
  // simdjson refuses integers beyond 64 bits, which Go decodes as float64: retry with such
  // integers written as decimals (rare, so the rewrite's allocation does not matter). Most
  // number errors are lines that are not JSON at all (a plain line starting with a date): they
  // have no run of 19 digits and are refused without the rewrite.
  size_t run = 0;
  bool long_run = false;
  for (char c : text) {
    run = (c >= '0' && c <= '9') ? run + 1 : 0;
    if (run >= 19) {
      long_run = true;
      break;
    }
  }
  if (!long_run) return false;
  std::string rewritten;
  if (!WidenBigIntegers(text, &rewritten)) return false;
  return ParseOnce(rewritten, root, /*padded=*/false) == simdjson::SUCCESS;
}

simdjson::error_code JsonParser::ParseOnce(std::string_view text, simdjson::dom::element* root,
                                           bool padded) {
  if (padded && !text.empty()) {
    return parser_
        .parse(reinterpret_cast<const uint8_t*>(text.data()), text.size(),
               /*realloc_if_needed=*/false)
        .get(*root);
  }
  if (!Reserve(text.size())) return simdjson::MEMALLOC;
  if (!text.empty()) std::memcpy(buf_.get(), text.data(), text.size());
  copied_bytes_ += text.size();
  return parser_.parse(buf_.get(), text.size(), /*realloc_if_needed=*/false).get(*root);
}

bool JsonParser::WidenBigIntegers(std::string_view in, std::string* out) {
  bool changed = false;
  bool in_string = false;
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (in_string) {
      out->push_back(c);
      if (c == '\\' && i + 1 < in.size()) {
        out->push_back(in[++i]);
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') in_string = true;
    if (c < '0' || c > '9' ||
        (i > 0 && ((in[i - 1] >= '0' && in[i - 1] <= '9') || in[i - 1] == '.' || in[i - 1] == 'e' ||
                   in[i - 1] == 'E' || in[i - 1] == '+'))) {
      out->push_back(c);
      continue;
    }
    size_t j = i;
    while (j < in.size() && in[j] >= '0' && in[j] <= '9') ++j;
    out->append(in.substr(i, j - i));
    const bool is_integer = j >= in.size() || (in[j] != '.' && in[j] != 'e' && in[j] != 'E');
    if (is_integer && j - i >= 19) {
      out->append(".0");
      changed = true;
    }
    i = j - 1;
  }
  return changed;
}

bool JsonParser::Reserve(size_t len) {
  if (buf_ != nullptr && len <= capacity_) return true;
  const size_t cap = std::bit_ceil(len < 4096 ? size_t{4096} : len);
  if (parser_.allocate(cap) != simdjson::SUCCESS) return false;
  // Zeroed so that simdjson's reads past the end never see uninitialised memory.
  buf_ = std::make_unique<char[]>(cap + simdjson::SIMDJSON_PADDING);
  capacity_ = cap;
  return true;
}

}  // namespace sluice::stage_util
