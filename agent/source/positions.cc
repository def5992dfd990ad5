#include "agent/source/positions.h"
#include "agent/common/quote.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/common/status_macros.h"
#include "agent/common/strings.h"

namespace sluice {
namespace {

constexpr std::string_view kHeader =
    "# sluice positions: offsets acknowledged by Loki. Written atomically; safe to delete (files "
    "restart per policy).\n";
constexpr uint64_t kVersion = 1;
// A positions file holds one short entry per tailed file; anything this large is not ours.
constexpr off_t kMaxFileBytes = 256 << 20;

// ---- rendering -------------------------------------------------------------------------------

// Paths and labels are written quoted as Go's strconv.Quote does (valid UTF-8 kept, everything
// else escaped); the reader below understands every escape that produces.
void AppendQuoted(std::string* out, std::string_view s) { AppendGoQuoted(s, out); }

// ---- parsing ---------------------------------------------------------------------------------

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

// ---- files -----------------------------------------------------------------------------------

absl::Status ErrnoError(int err, std::string_view path, std::string_view what) {
  return absl::ErrnoToStatus(
      err, absl::StrCat("positions file ", Av(path), ": ", Av(what), ": ", strerror(err)));
}

absl::Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, path, "write");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// mkdir -p with mode 0750 for the directories it creates.
absl::Status MakeDirs(const std::string& dir, const std::string& for_path) {
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return ErrnoError(ENOTDIR, for_path, absl::StrCat("parent ", dir));
  }
  for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
    std::string prefix = dir.substr(0, slash);
    if (!prefix.empty() && mkdir(prefix.c_str(), 0750) != 0 && errno != EEXIST) {
      return ErrnoError(errno, for_path, absl::StrCat("mkdir ", prefix));
    }
    if (slash == std::string::npos) break;
  }
  return absl::OkStatus();
}

absl::Status FsyncDir(const std::string& dir, const std::string& for_path) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, for_path, "open directory for fsync");
  absl::Cleanup close_fd = [fd] { close(fd); };
  if (fsync(fd) != 0) return ErrnoError(errno, for_path, "fsync directory");
  return absl::OkStatus();
}

}  // namespace

std::string RenderPositions(const std::vector<PositionRecord>& records) {
  std::string out(kHeader);
  absl::StrAppend(&out, "version: ", kVersion, "\n");
  if (records.empty()) {
    out.append("positions: []\n");
  } else {
    out.append("positions:\n");
    for (const PositionRecord& r : records) {
      out.append("  - path: ");
      AppendQuoted(&out, r.path);
      absl::StrAppendFormat(&out,
                            "\n    device: %d\n    inode: %d\n    fingerprint: \"%016x\"\n"
                            "    fingerprint_len: %d\n    offset: %d\n",
                            r.id.device, r.id.inode, r.id.fingerprint, r.id.fingerprint_len,
                            r.offset);
      if (!r.labels.empty()) {
        out.append("    labels: ");
        AppendQuoted(&out, r.labels);
        out.push_back('\n');
      }
    }
  }
  absl::StrAppend(&out, "count: ", records.size(), "\n");
  return out;
}

absl::StatusOr<std::vector<PositionRecord>> ParsePositions(std::string_view text) {
  return PositionsParser(text).Parse();
}

absl::Status WritePositionsFile(const std::string& path,
                                const std::vector<PositionRecord>& records) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("positions file \"", path, "\": not a file name"));
  }
  RETURN_IF_ERROR(MakeDirs(dir, path));

  // A fixed name: one writer per path, and a crash leaves one stale file the next write reuses.
  std::string tmp = absl::StrCat(dir, "/.", base, ".tmp");
  std::string data = RenderPositions(records);
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return ErrnoError(errno, path, absl::StrCat("create ", tmp));
  bool renamed = false;
  absl::Cleanup cleanup = [&] {
    if (fd >= 0) close(fd);
    if (!renamed) unlink(tmp.c_str());
  };
  // open's mode is filtered by the umask and ignored for a pre-existing stale temporary.
  if (fchmod(fd, 0600) != 0) return ErrnoError(errno, path, "fchmod");
  RETURN_IF_ERROR(WriteAll(fd, data, path));
  if (fsync(fd) != 0) return ErrnoError(errno, path, "fsync");
  int rc = close(fd);
  fd = -1;
  if (rc != 0) return ErrnoError(errno, path, "close");
  if (rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError(errno, path, "rename");
  renamed = true;
  // Without this the rename itself may not survive a power loss.
  return FsyncDir(dir, path);
}

absl::StatusOr<std::vector<PositionRecord>> ReadPositionsFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(absl::StrCat("positions file ", path, " does not exist"));
    }
    return ErrnoError(err, path, "open");
  }
  absl::Cleanup close_fd = [fd] { close(fd); };
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoError(errno, path, "fstat");
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("positions file ", path, " is not a regular file"));
  }
  if (st.st_size > kMaxFileBytes) {
    return absl::FailedPreconditionError(absl::StrCat("positions file ", path, " is ", st.st_size,
                                                      " bytes, more than a positions file can be"));
  }
  std::string text;
  char buf[64 << 10];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, path, "read");
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (static_cast<off_t>(text.size()) > kMaxFileBytes) {
      return absl::FailedPreconditionError(
          absl::StrCat("positions file ", path, " grew beyond a positions file's size"));
    }
  }
  auto records = ParsePositions(text);
  if (!records.ok()) {
    return absl::Status(records.status().code(),
                        absl::StrCat("positions file ", path, ": ", records.status().message()));
  }
  return records;
}

}  // namespace sluice

namespace sluice {
namespace {

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// A YAML scalar as Promtail and Alloy write them: plain, 'single' or "double" quoted.
bool Scalar(std::string_view s, std::string* out) {
  s = TrimSpaces(s);
  out->clear();
  if (s.size() >= 2 && s.front() == '\'' && s.back() == '\'') {
    s = s.substr(1, s.size() - 2);
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\'' && i + 1 < s.size() && s[i + 1] == '\'') ++i;  // '' is one quote
      out->push_back(s[i]);
    }
    return true;
  }
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') {
    s = s.substr(1, s.size() - 2);
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] != '\\') {
        out->push_back(s[i]);
        continue;
      }
      if (++i >= s.size()) return false;
      switch (s[i]) {
        case 'n':
          out->push_back('\n');
          break;
        case 't':
          out->push_back('\t');
          break;
        case '"':
          out->push_back('"');
          break;
        case '\\':
          out->push_back('\\');
          break;
        case '/':
          out->push_back('/');
          break;
        default:
          return false;
      }
    }
    return true;
  }
  if (!s.empty() && (s.front() == '"' || s.front() == '\'')) return false;
  out->assign(s);
  return true;
}

bool Offset(std::string_view s, int64_t* out) {
  std::string v;
  return Scalar(s, &v) && absl::SimpleAtoi(Av(v), out) && *out >= 0;
}

}  // namespace

absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> ParseLegacyPositions(
    std::string_view text) {
  std::vector<std::pair<std::string, int64_t>> out;
  absl::flat_hash_map<std::string, size_t> index;
  auto add = [&](std::string path, int64_t offset) {
    auto it = index.find(path);
    if (it != index.end()) {
      out[it->second].second = offset;
      return;
    }
    index[path] = out.size();
    out.emplace_back(std::move(path), offset);
  };
  bool in_positions = false;
  std::string pending_path;  // Alloy form: `? path: x` seen, waiting for `: "n"`
  bool have_pending = false;
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view raw = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    std::string_view line = TrimSpaces(raw);
    if (line.empty() || line.front() == '#') {
      if (nl == text.size()) break;
      continue;
    }
    auto bad = [&](std::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("legacy positions line ", line_no, ": ", Av(why)));
    };
    bool indented = raw.front() == ' ' || raw.front() == '\t';
    if (!indented) {
      in_positions = line == "positions:" || line == "positions: {}";
      if (!in_positions && line.substr(0, 10) != "positions:") {
        // Other top-level keys (Promtail writes none; tolerate future ones).
      }
      if (nl == text.size()) break;
      continue;
    }
    if (!in_positions) {
      if (nl == text.size()) break;
      continue;
    }
    std::string scratch;
    if (line.substr(0, 2) == "? ") {
      std::string_view rest = TrimSpaces(line.substr(2));
      if (rest.substr(0, 5) != "path:") return bad("expected `? path: <path>`");
      if (!Scalar(rest.substr(5), &pending_path)) return bad("bad path");
      have_pending = true;
    } else if (line.substr(0, 6) == "labels" && have_pending) {
      // Alloy keys positions by path and labels; sluice by path.
    } else if (line.substr(0, 5) == "path:" && have_pending) {
      if (!Scalar(line.substr(5), &pending_path)) return bad("bad path");
    } else if (line.front() == ':') {
      if (!have_pending) return bad("offset without a path");
      int64_t off;
      if (!Offset(line.substr(1), &off)) return bad("bad offset");
      add(pending_path, off);
      have_pending = false;
    } else {
      // Promtail form: `<path>: "<offset>"`; the path may itself hold ": " only when quoted.
      size_t colon = line.rfind(": ");
      if (colon == std::string_view::npos) return bad("expected `<path>: \"<offset>\"`");
      std::string path;
      int64_t off;
      if (!Scalar(line.substr(0, colon), &path) || path.empty()) return bad("bad path");
      if (!Offset(line.substr(colon + 2), &off)) return bad("bad offset");
      add(std::move(path), off);
    }
    if (nl == text.size()) break;
  }
  if (have_pending) return absl::InvalidArgumentError("legacy positions: path without offset");
  return out;
}

}  // namespace sluice
