// The reader of sluice's first positions format (version 1, a YAML list of its own), kept so
// that nodes upgraded from it resume where they were. sluice no longer writes it.
#include "agent/source/positions_v1.h"

#include <cstring>
#include <limits>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "agent/common/status_macros.h"
#include "agent/common/strings.h"

namespace sluice {
namespace {

constexpr uint64_t kVersion = 1;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One list entry (outside the parser class: clang rejects std::optional::emplace of a nested
// struct with default member initialisers) under `positions:` while it is being read.
struct PositionsEntry {
  PositionRecord record;
  int first_line = 0;
  size_t key_indent = 0;  // column of the entry's keys; 0 = not known yet
  bool has_path = false;
  bool has_offset = false;
  std::vector<std::string> keys;  // seen keys, to reject duplicates
  bool skipping_unknown = false;  // inside the nested block of an unknown key
};

// Parses a document line by line. Single use; errors carry the line number.
class PositionsParser {
 public:
  using Entry = PositionsEntry;
  explicit PositionsParser(std::string_view text) : text_(text) {}

  absl::StatusOr<std::vector<PositionRecord>> Parse();

 private:
  absl::Status Error(std::string_view msg) const {
    return absl::InvalidArgumentError(absl::StrCat("line ", line_no_, ": ", Av(msg)));
  }

  absl::Status ParseTopLevel(std::string_view rest);
  absl::Status ParseEntryLine(size_t indent, std::string_view rest);
  absl::Status ParseEntryKey(size_t key_indent, std::string_view rest);
  absl::Status FinishEntry();

  // Splits "key: value" (or "key:"); the key is [A-Za-z0-9_]+.
  absl::Status SplitKey(std::string_view rest, std::string_view* key, std::string_view* value);
  // After a value: only spaces and an optional comment may remain.
  absl::Status ExpectEndOfLine(std::string_view tail);
  absl::StatusOr<std::string> ParseQuoted(std::string_view value);
  absl::StatusOr<uint64_t> ParseUnsigned(std::string_view value, uint64_t max);

  std::string_view text_;
  int line_no_ = 0;

  std::optional<uint64_t> version_;
  bool seen_positions_ = false;
  bool in_positions_ = false;
  bool skipping_top_block_ = false;  // inside the nested block of an unknown top-level key
  std::optional<uint64_t> count_;
  int count_line_ = 0;
  uint64_t entries_read_ = 0;
  std::optional<Entry> entry_;

  std::vector<PositionRecord> records_;
  absl::flat_hash_map<std::string, size_t> index_by_path_;
};

absl::StatusOr<std::vector<PositionRecord>> PositionsParser::Parse() {
  if (text_.empty()) {
    line_no_ = 1;
    return Error("empty document (truncated file?)");
  }
  if (size_t nul = text_.find('\0'); nul != std::string_view::npos) {
    line_no_ = 1;
    for (size_t i = 0; i < nul; ++i) line_no_ += text_[i] == '\n';
    return Error("NUL byte (file zero-filled by a crash?)");
  }

  size_t pos = 0;
  while (pos < text_.size()) {
    size_t eol = text_.find('\n', pos);
    if (eol == std::string_view::npos) eol = text_.size();
    std::string_view line = text_.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // edited on Windows

    size_t indent = 0;
    while (indent < line.size() && line[indent] == ' ') ++indent;
    std::string_view rest = line.substr(indent);
    if (rest.empty() || rest[0] == '#') continue;
    if (rest[0] == '\t') return Error("tab in indentation");
    if (count_.has_value()) return Error("content after `count` (the last line)");

    if (indent == 0) {
      RETURN_IF_ERROR(FinishEntry());
      RETURN_IF_ERROR(ParseTopLevel(rest));
    } else if (skipping_top_block_) {
      continue;
    } else if (!in_positions_) {
      return Error("unexpected indented line");
    } else {
      RETURN_IF_ERROR(ParseEntryLine(indent, rest));
    }
  }
  RETURN_IF_ERROR(FinishEntry());

  if (!version_.has_value()) return Error("document has no `version`");
  if (!seen_positions_) return Error("document has no `positions`");
  if (!count_.has_value()) return Error("document ends without `count` (truncated file?)");
  if (*count_ != entries_read_) {
    line_no_ = count_line_;
    return Error(absl::StrCat("count is ", *count_, " but ", entries_read_,
                              " entries were read (truncated or edited file?)"));
  }
  return std::move(records_);
}

absl::Status PositionsParser::ParseTopLevel(std::string_view rest) {
  in_positions_ = false;
  skipping_top_block_ = false;
  std::string_view key, value;
  RETURN_IF_ERROR(SplitKey(rest, &key, &value));
  if (key == "version") {
    if (version_.has_value()) return Error("duplicate `version`");
    ASSIGN_OR_RETURN(version_, ParseUnsigned(value, std::numeric_limits<uint64_t>::max()));
    if (*version_ != kVersion) {
      return absl::FailedPreconditionError(
          absl::StrCat("line ", line_no_, ": unsupported positions version ", *version_,
                       " (this sluice reads version ", kVersion, ")"));
    }
    return absl::OkStatus();
  }
  if (key == "positions") {
    if (seen_positions_) return Error("duplicate `positions`");
    seen_positions_ = true;
    if (value.starts_with("[]")) return ExpectEndOfLine(value.substr(2));  // empty list
    // SplitKey made sure a space follows the ':', so a '#' here starts a comment.
    if (!value.empty() && value[0] != '#') return Error("unexpected text after `positions:`");
    in_positions_ = true;
    return absl::OkStatus();
  }
  if (key == "count") {
    ASSIGN_OR_RETURN(count_, ParseUnsigned(value, std::numeric_limits<uint64_t>::max()));
    count_line_ = line_no_;
    return absl::OkStatus();
  }
  // Unknown key from a newer writer: ignore it, and any block nested under it.
  skipping_top_block_ = true;
  return absl::OkStatus();
}

absl::Status PositionsParser::ParseEntryLine(size_t indent, std::string_view rest) {
  if (rest[0] == '-' && (rest.size() == 1 || rest[1] == ' ')) {
    RETURN_IF_ERROR(FinishEntry());
    entry_.emplace();
    entry_->first_line = line_no_;
    ++entries_read_;
    size_t skip = 1;
    while (skip < rest.size() && rest[skip] == ' ') ++skip;
    if (skip == rest.size()) return absl::OkStatus();  // "-" alone: keys follow on next lines
    return ParseEntryKey(indent + skip, rest.substr(skip));
  }
  if (!entry_.has_value()) return Error("expected a list entry (\"- path: ...\")");
  if (entry_->skipping_unknown && entry_->key_indent != 0 && indent > entry_->key_indent) {
    return absl::OkStatus();  // nested under an unknown key
  }
  if (entry_->key_indent != 0 && indent != entry_->key_indent) {
    return Error(
        absl::StrCat("bad indentation: expected ", entry_->key_indent, " spaces, got ", indent));
  }
  return ParseEntryKey(indent, rest);
}

absl::Status PositionsParser::ParseEntryKey(size_t key_indent, std::string_view rest) {
  Entry& e = *entry_;
  if (e.key_indent == 0) e.key_indent = key_indent;
  e.skipping_unknown = false;
  std::string_view key, value;
  RETURN_IF_ERROR(SplitKey(rest, &key, &value));
  for (const std::string& seen : e.keys) {
    if (seen == key) return Error(absl::StrCat("duplicate key `", Av(key), "` in entry"));
  }
  e.keys.emplace_back(key);

  PositionRecord& r = e.record;
  if (key == "path") {
    ASSIGN_OR_RETURN(r.path, ParseQuoted(value));
    if (r.path.empty()) return Error("empty path");
    if (r.path.find('\0') != std::string::npos) return Error("path contains a NUL byte");
    e.has_path = true;
  } else if (key == "offset") {
    if (value.starts_with("-")) return Error("negative offset");
    ASSIGN_OR_RETURN(uint64_t v, ParseUnsigned(value, std::numeric_limits<int64_t>::max()));
    r.offset = static_cast<int64_t>(v);
    e.has_offset = true;
  } else if (key == "device") {
    ASSIGN_OR_RETURN(r.id.device, ParseUnsigned(value, std::numeric_limits<uint64_t>::max()));
  } else if (key == "inode") {
    ASSIGN_OR_RETURN(r.id.inode, ParseUnsigned(value, std::numeric_limits<uint64_t>::max()));
  } else if (key == "fingerprint") {
    ASSIGN_OR_RETURN(std::string hex, ParseQuoted(value));
    if (hex.size() != 16) return Error("fingerprint must be 16 hex digits");
    uint64_t fp = 0;
    for (char c : hex) {
      int d = HexValue(c);
      if (d < 0) return Error("fingerprint must be 16 hex digits");
      fp = (fp << 4) | static_cast<uint64_t>(d);
    }
    r.id.fingerprint = fp;
  } else if (key == "fingerprint_len") {
    ASSIGN_OR_RETURN(uint64_t v, ParseUnsigned(value, kFingerprintMaxBytes));
    r.id.fingerprint_len = static_cast<uint32_t>(v);
  } else if (key == "labels") {
    ASSIGN_OR_RETURN(r.labels, ParseQuoted(value));
  } else {
    e.skipping_unknown = true;  // a newer writer's field: ignore its value
  }
  return absl::OkStatus();
}

absl::Status PositionsParser::FinishEntry() {
  if (!entry_.has_value()) return absl::OkStatus();
  Entry e = std::move(*entry_);
  entry_.reset();
  if (!e.has_path || !e.has_offset) {
    return absl::InvalidArgumentError(absl::StrCat("line ", e.first_line, ": entry has no `",
                                                   e.has_path ? "offset" : "path", "`"));
  }
  auto [it, inserted] = index_by_path_.try_emplace(e.record.path, records_.size());
  if (inserted) {
    records_.push_back(std::move(e.record));
  } else {
    records_[it->second] = std::move(e.record);  // duplicate path: the last entry wins
  }
  return absl::OkStatus();
}

absl::Status PositionsParser::SplitKey(std::string_view rest, std::string_view* key,
                                       std::string_view* value) {
  size_t i = 0;
  while (i < rest.size() && (std::isalnum(static_cast<unsigned char>(rest[i])) || rest[i] == '_')) {
    ++i;
  }
  if (i == 0 || i == rest.size() || rest[i] != ':' || (i + 1 < rest.size() && rest[i + 1] != ' ')) {
    return Error("expected `key: value`");
  }
  *key = rest.substr(0, i);
  std::string_view v = rest.substr(i + 1);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  *value = v;
  return absl::OkStatus();
}

absl::Status PositionsParser::ExpectEndOfLine(std::string_view tail) {
  size_t i = 0;
  while (i < tail.size() && tail[i] == ' ') ++i;
  if (i == tail.size()) return absl::OkStatus();
  // YAML needs whitespace before a comment; a '#' glued to a value is garbage here.
  if (tail[i] == '#' && i > 0) return absl::OkStatus();
  return Error("unexpected text after value");
}

absl::StatusOr<std::string> PositionsParser::ParseQuoted(std::string_view value) {
  if (value.empty() || value[0] != '"') return Error("expected a double-quoted string");
  std::string out;
  size_t i = 1;
  while (true) {
    if (i >= value.size()) return Error("unterminated string (truncated file?)");
    char c = value[i++];
    if (c == '"') break;
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (i >= value.size()) return Error("unterminated string (truncated file?)");
    char esc = value[i++];
    switch (esc) {
      case '"':
      case '\\':
      case '/':
        out.push_back(esc);
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case '0':
        out.push_back('\0');
        break;
      case 'x': {
        int hi = i < value.size() ? HexValue(value[i]) : -1;
        int lo = i + 1 < value.size() ? HexValue(value[i + 1]) : -1;
        if (hi < 0 || lo < 0) return Error("bad \\x escape: expected two hex digits");
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        break;
      }
      default:
        return Error(absl::StrCat("unsupported escape \\", std::string(1, esc)));
    }
  }
  RETURN_IF_ERROR(ExpectEndOfLine(value.substr(i)));
  return out;
}

absl::StatusOr<uint64_t> PositionsParser::ParseUnsigned(std::string_view value, uint64_t max) {
  size_t i = 0;
  uint64_t v = 0;
  while (i < value.size() && value[i] >= '0' && value[i] <= '9') {
    uint64_t d = static_cast<uint64_t>(value[i] - '0');
    if (v > (max - d) / 10) return Error(absl::StrCat("number out of range (max ", max, ")"));
    v = v * 10 + d;
    ++i;
  }
  if (i == 0) {
    if (!value.empty() && value[0] == '-') return Error("negative number");
    return Error("expected a non-negative decimal integer");
  }
  RETURN_IF_ERROR(ExpectEndOfLine(value.substr(i)));
  return v;
}

}  // namespace

absl::StatusOr<std::vector<PositionRecord>> ParseSluiceV1Positions(std::string_view text) {
  absl::StatusOr<std::vector<PositionRecord>> records = PositionsParser(text).Parse();
  if (!records.ok()) return records;
  for (PositionRecord& r : *records) {
    // Version 1 did not key by labels; the path is the key, as Alloy's "{}" fallback.
    r.labels = "{}";
    r.has_identity = true;
  }
  return records;
}

}  // namespace sluice
