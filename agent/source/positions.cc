#include "agent/source/positions.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/common/status_macros.h"
#include "agent/common/strings.h"
#include "agent/common/utf8.h"
#include "agent/source/positions_v1.h"

namespace sluice {
namespace {

// The version of the `sluice` section. A section of another version is ignored (the map still
// gives every offset), so a downgrade never makes the file unreadable.
constexpr uint64_t kSectionVersion = 2;

constexpr char kStrTag[] = "tag:yaml.org,2002:str";
constexpr char kIntTag[] = "tag:yaml.org,2002:int";
constexpr char kMapTag[] = "tag:yaml.org,2002:map";
constexpr char kSeqTag[] = "tag:yaml.org,2002:seq";
constexpr char kBinaryTag[] = "tag:yaml.org,2002:binary";

yaml_char_t* Y(const char* s) { return reinterpret_cast<yaml_char_t*>(const_cast<char*>(s)); }

// ---- writing ---------------------------------------------------------------------------------

// Would gopkg.in/yaml.v2 resolve this text, written plain, to something other than a string
// (null, bool, int, float, timestamp, merge key)? yaml.v2 writes such strings double-quoted (the
// offsets: `"17623"`), and so do we; erring towards quoting is harmless, any style reads back.
bool ResolvesToNonString(std::string_view s) {
  if (s.empty()) return true;
  static constexpr std::string_view kWords[] = {
      "~",     "null",  "Null",  "NULL",  "y",     "Y",    "yes",  "Yes",   "YES",   "n",
      "N",     "no",    "No",    "NO",    "true",  "True", "TRUE", "false", "False", "FALSE",
      "on",    "On",    "ON",    "off",   "Off",   "OFF",  ".inf", ".Inf",  ".INF",  "+.inf",
      "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN",  "<<",    "=",
  };
  for (std::string_view w : kWords) {
    if (s == w) return true;
  }
  char c = s[0];
  if (!((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.')) return false;
  // Numbers in every base yaml.v2 reads (with `_` and base-60 `:`), floats, and timestamps.
  for (char ch : s) {
    bool ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') ||
              ch == 'x' || ch == 'X' || ch == 'o' || ch == 'O' || ch == '+' || ch == '-' ||
              ch == '.' || ch == '_' || ch == ':' || ch == 'T' || ch == 't' || ch == 'Z' ||
              ch == 'z' || ch == ' ';
    if (!ok) return false;
  }
  return true;
}

// Events into a string through libyaml's emitter, set as yaml.v2's encoder sets it (unicode
// output, default indent 2 and width 80).
class Emitter {
 public:
  Emitter() {
    yaml_emitter_initialize(&e_);
    yaml_emitter_set_output(&e_, &Emitter::Write, &out_);
    yaml_emitter_set_unicode(&e_, 1);
    yaml_event_t ev;
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    Emit(&ev);
    yaml_document_start_event_initialize(&ev, nullptr, nullptr, nullptr, 1);
    Emit(&ev);
  }
  ~Emitter() { yaml_emitter_delete(&e_); }
  Emitter(const Emitter&) = delete;
  Emitter& operator=(const Emitter&) = delete;

  void BeginMap() {
    yaml_event_t ev;
    yaml_mapping_start_event_initialize(&ev, nullptr, Y(kMapTag), 1, YAML_BLOCK_MAPPING_STYLE);
    Emit(&ev);
  }
  void EndMap() {
    yaml_event_t ev;
    yaml_mapping_end_event_initialize(&ev);
    Emit(&ev);
  }
  void BeginSeq() {
    yaml_event_t ev;
    yaml_sequence_start_event_initialize(&ev, nullptr, Y(kSeqTag), 1, YAML_BLOCK_SEQUENCE_STYLE);
    Emit(&ev);
  }
  void EndSeq() {
    yaml_event_t ev;
    yaml_sequence_end_event_initialize(&ev);
    Emit(&ev);
  }
  // A string as yaml.v2 marshals one: bytes that are not UTF-8 as base64 under `!!binary`;
  // text that would read back as another type double-quoted; the rest plain where YAML allows,
  // the emitter choosing a quoted style otherwise (`'{a="x"}'`).
  void String(std::string_view s) {
    if (!IsValidUtf8(s)) {
      std::string b64;
      absl::Base64Escape(Av(s), &b64);
      // yaml.v2 breaks base64 into lines of 70 once it reaches that length, then writes it as a
      // literal block.
      constexpr size_t kLine = 70;
      if (b64.size() >= kLine) {
        std::string lines;
        for (size_t i = 0; i < b64.size(); i += kLine) {
          absl::StrAppend(&lines, b64.substr(i, kLine), "\n");
        }
        Scalar(lines, kBinaryTag, false, YAML_LITERAL_SCALAR_STYLE);
      } else {
        Scalar(b64, kBinaryTag, false, YAML_PLAIN_SCALAR_STYLE);
      }
      return;
    }
    yaml_scalar_style_t style = YAML_PLAIN_SCALAR_STYLE;
    if (s.find('\n') != std::string_view::npos) {
      style = YAML_LITERAL_SCALAR_STYLE;  // as yaml.v2; the emitter quotes where it cannot be
    } else if (ResolvesToNonString(s)) {
      style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    }
    Scalar(s, kStrTag, true, style);
  }
  void Int(uint64_t v) { Scalar(absl::StrCat(v), kIntTag, true, YAML_PLAIN_SCALAR_STYLE); }

  // The document; "" if libyaml refused an event (never for the events above: the round-trip
  // tests and the fuzzer hold it to that), which the writer treats as a failed write.
  std::string Finish() && {
    yaml_event_t ev;
    yaml_document_end_event_initialize(&ev, 1);
    Emit(&ev);
    yaml_stream_end_event_initialize(&ev);
    Emit(&ev);
    if (failed_) return std::string();
    return std::move(out_);
  }

 private:
  static int Write(void* data, unsigned char* buffer, size_t size) {
    static_cast<std::string*>(data)->append(reinterpret_cast<const char*>(buffer), size);
    return 1;
  }
  void Scalar(std::string_view s, const char* tag, bool implicit, yaml_scalar_style_t style) {
    yaml_event_t ev;
    yaml_scalar_event_initialize(&ev, nullptr, Y(tag),
                                 reinterpret_cast<yaml_char_t*>(const_cast<char*>(s.data())),
                                 static_cast<int>(s.size()), implicit, implicit, style);
    Emit(&ev);
  }
  void Emit(yaml_event_t* ev) {
    if (!yaml_emitter_emit(&e_, ev)) failed_ = true;
  }

  yaml_emitter_t e_;
  std::string out_;
  bool failed_ = false;
};

// ---- reading ---------------------------------------------------------------------------------

// A loaded libyaml document. Aliases are shared nodes, not copies, and the walk below has a fixed
// depth, so an alias "bomb" costs nothing.
class Document {
 public:
  Document() = default;
  ~Document() {
    if (loaded_) yaml_document_delete(&doc_);
  }
  Document(const Document&) = delete;
  Document& operator=(const Document&) = delete;

  absl::Status Load(std::string_view text) {
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return absl::ResourceExhaustedError("libyaml init");
    absl::Cleanup del = [&parser] { yaml_parser_delete(&parser); };
    yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size());
    if (!yaml_parser_load(&parser, &doc_)) {
      size_t line = parser.problem_mark.line, column = parser.problem_mark.column;
      if (parser.error == YAML_READER_ERROR) {
        // The reader (encoding, control characters) gives a byte offset, not a mark.
        size_t at = std::min(parser.problem_offset, text.size());
        size_t last_nl = text.rfind('\n', at == 0 ? 0 : at - 1);
        line = static_cast<size_t>(std::count(text.begin(), text.begin() + at, '\n'));
        column = last_nl == std::string_view::npos || at == 0 ? at : at - last_nl - 1;
      }
      std::string msg = absl::StrCat("line ", line + 1, ", column ", column + 1, ": ",
                                     parser.problem != nullptr ? parser.problem : "invalid YAML");
      if (parser.context != nullptr) absl::StrAppend(&msg, " ", parser.context);
      return absl::InvalidArgumentError(msg);
    }
    loaded_ = true;
    return absl::OkStatus();
  }

  yaml_node_t* root() { return yaml_document_get_root_node(&doc_); }
  yaml_node_t* node(int index) { return yaml_document_get_node(&doc_, index); }

 private:
  yaml_document_t doc_;
  bool loaded_ = false;
};

absl::Status ErrorAt(const yaml_node_t* n, std::string_view msg) {
  return absl::InvalidArgumentError(absl::StrCat("line ", n->start_mark.line + 1, ", column ",
                                                 n->start_mark.column + 1, ": ", Av(msg)));
}

bool TagIs(const yaml_node_t* n, const char* tag) {
  return n->tag != nullptr && std::strcmp(reinterpret_cast<const char*>(n->tag), tag) == 0;
}

// A scalar's string as yaml.v2 decodes it into a Go string: `!!binary` base64-decoded, `~` /
// `null` / empty plain scalars as "".
absl::StatusOr<std::string> ScalarString(const yaml_node_t* n) {
  if (n->type != YAML_SCALAR_NODE) return ErrorAt(n, "expected a string");
  std::string_view v(reinterpret_cast<const char*>(n->data.scalar.value), n->data.scalar.length);
  if (TagIs(n, kBinaryTag)) {
    std::string compact;
    for (char c : v) {
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') compact.push_back(c);
    }
    std::string out;
    if (!absl::Base64Unescape(compact, &out)) return ErrorAt(n, "invalid !!binary base64");
    return out;
  }
  if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
      (v == "~" || v == "null" || v == "Null" || v == "NULL")) {
    return std::string();
  }
  return std::string(v);
}

// A path: a string without NUL (no file can have one in its name; a NUL in this file is damage).
absl::StatusOr<std::string> ScalarPath(const yaml_node_t* n) {
  ASSIGN_OR_RETURN(std::string s, ScalarString(n));
  if (s.find('\0') != std::string::npos) return ErrorAt(n, "path contains a NUL");
  return s;
}

absl::StatusOr<uint64_t> ScalarUnsigned(const yaml_node_t* n, uint64_t max) {
  ASSIGN_OR_RETURN(std::string s, ScalarString(n));
  uint64_t v = 0;
  if (s.empty() || s[0] == '+' || !absl::SimpleAtoi(s, &v) || v > max) {
    return ErrorAt(n, absl::StrCat("expected a decimal integer from 0 to ", max, ", got \"",
                                   absl::CHexEscape(s), "\""));
  }
  return v;
}

// The value of `key` in mapping `m`, or nullptr.
yaml_node_t* Lookup(Document* doc, const yaml_node_t* m, std::string_view key) {
  for (yaml_node_pair_t* p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; ++p) {
    yaml_node_t* k = doc->node(p->key);
    if (k != nullptr && k->type == YAML_SCALAR_NODE &&
        std::string_view(reinterpret_cast<const char*>(k->data.scalar.value),
                         k->data.scalar.length) == key) {
      return doc->node(p->value);
    }
  }
  return nullptr;
}

bool IsNull(const yaml_node_t* n) {
  if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
  std::string_view v(reinterpret_cast<const char*>(n->data.scalar.value), n->data.scalar.length);
  return v.empty() || v == "~" || v == "null" || v == "Null" || v == "NULL";
}

struct MapEntry {
  std::string path;
  std::string labels;
  int64_t offset = 0;
};

// Alloy's map (`? {path, labels}: "offset"`) or Promtail's (`path: "offset"`), in document order;
// a key given twice keeps its last offset, at its first place.
absl::Status ReadMap(Document* doc, const yaml_node_t* map, std::vector<MapEntry>* out,
                     std::vector<PositionCursor>* cursors) {
  if (IsNull(map)) return absl::OkStatus();
  if (map->type != YAML_MAPPING_NODE) return ErrorAt(map, "`positions` is not a map");
  absl::flat_hash_map<std::pair<std::string, std::string>, size_t> index;
  absl::flat_hash_map<std::pair<std::string, std::string>, size_t> cursor_index;
  for (yaml_node_pair_t* p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; ++p) {
    yaml_node_t* k = doc->node(p->key);
    yaml_node_t* v = doc->node(p->value);
    if (k == nullptr || v == nullptr) return ErrorAt(map, "broken node");
    MapEntry e;
    if (k->type == YAML_MAPPING_NODE) {
      for (yaml_node_pair_t* q = k->data.mapping.pairs.start; q < k->data.mapping.pairs.top; ++q) {
        yaml_node_t* kk = doc->node(q->key);
        yaml_node_t* kv = doc->node(q->value);
        if (kk == nullptr || kv == nullptr) return ErrorAt(k, "broken node");
        ASSIGN_OR_RETURN(std::string name, ScalarString(kk));
        if (name == "path") {
          ASSIGN_OR_RETURN(e.path, ScalarPath(kv));
        } else if (name == "labels") {
          ASSIGN_OR_RETURN(e.labels, ScalarString(kv));
        }  // yaml.v2 ignores fields Entry does not have; so do we.
      }
    } else if (k->type == YAML_SCALAR_NODE) {
      ASSIGN_OR_RETURN(e.path, ScalarPath(k));
      e.labels = "{}";  // what Alloy converts Promtail's entries to
    } else {
      return ErrorAt(k, "a `positions` key must be {path, labels} or a path");
    }
    if (v->type != YAML_SCALAR_NODE) return ErrorAt(v, "a position must be a string");
    // (Not ASSIGN_OR_RETURN: GCC's -O3 sees a maybe-uninitialized string through it.)
    absl::StatusOr<std::string> value_or = ScalarString(v);
    if (!value_or.ok()) return value_or.status();
    const std::string& value = *value_or;
    // Journal cursors ("s=...") share Alloy's map type; they are no file offsets.
    if (value.empty() || value[0] == '+' || !absl::SimpleAtoi(value, &e.offset) || e.offset < 0) {
      auto [it, inserted] =
          cursor_index.try_emplace(std::make_pair(e.path, e.labels), cursors->size());
      if (inserted) {
        cursors->push_back(PositionCursor{std::move(e.path), std::move(e.labels), value});
      } else {
        (*cursors)[it->second].value = value;
      }
      continue;
    }
    auto [it, inserted] = index.try_emplace(std::make_pair(e.path, e.labels), out->size());
    if (inserted) {
      out->push_back(std::move(e));
    } else {
      (*out)[it->second].offset = e.offset;
    }
  }
  return absl::OkStatus();
}

// The `sluice` section; NotFound-free: *present is false when it is absent or of another version.
absl::Status ReadSection(Document* doc, const yaml_node_t* sec, bool* present,
                         std::vector<PositionRecord>* out) {
  *present = false;
  if (sec->type != YAML_MAPPING_NODE) return ErrorAt(sec, "`sluice` is not a map");
  yaml_node_t* version = Lookup(doc, sec, "version");
  if (version == nullptr) return ErrorAt(sec, "`sluice` has no `version`");
  ASSIGN_OR_RETURN(uint64_t v, ScalarUnsigned(version, std::numeric_limits<uint64_t>::max()));
  if (v != kSectionVersion) return absl::OkStatus();  // another sluice's: the map is enough
  yaml_node_t* files = Lookup(doc, sec, "files");
  yaml_node_t* count = Lookup(doc, sec, "count");
  // `count` is written after `files`: a file cut short has no `count` (or a smaller list).
  if (count == nullptr) return ErrorAt(sec, "`sluice` has no `count` (file cut short?)");
  ASSIGN_OR_RETURN(uint64_t n, ScalarUnsigned(count, std::numeric_limits<uint32_t>::max()));
  if (files == nullptr) return ErrorAt(sec, "`sluice` has no `files`");
  if (!IsNull(files)) {
    if (files->type != YAML_SEQUENCE_NODE) return ErrorAt(files, "`files` is not a list");
    for (yaml_node_item_t* i = files->data.sequence.items.start; i < files->data.sequence.items.top;
         ++i) {
      yaml_node_t* f = doc->node(*i);
      if (f == nullptr || f->type != YAML_MAPPING_NODE) {
        return ErrorAt(f != nullptr ? f : files, "a `files` entry is not a map");
      }
      PositionRecord r;
      int identity_fields = 0;
      bool has_path = false, has_offset = false;
      for (yaml_node_pair_t* p = f->data.mapping.pairs.start; p < f->data.mapping.pairs.top; ++p) {
        yaml_node_t* k = doc->node(p->key);
        yaml_node_t* val = doc->node(p->value);
        if (k == nullptr || val == nullptr) return ErrorAt(f, "broken node");
        ASSIGN_OR_RETURN(std::string name, ScalarString(k));
        if (name == "path") {
          ASSIGN_OR_RETURN(r.path, ScalarPath(val));
          has_path = true;
        } else if (name == "labels") {
          ASSIGN_OR_RETURN(r.labels, ScalarString(val));
        } else if (name == "offset") {
          ASSIGN_OR_RETURN(uint64_t o, ScalarUnsigned(val, std::numeric_limits<int64_t>::max()));
          r.offset = static_cast<int64_t>(o);
          has_offset = true;
        } else if (name == "device") {
          ASSIGN_OR_RETURN(r.id.device, ScalarUnsigned(val, std::numeric_limits<uint64_t>::max()));
          ++identity_fields;
        } else if (name == "inode") {
          ASSIGN_OR_RETURN(r.id.inode, ScalarUnsigned(val, std::numeric_limits<uint64_t>::max()));
          ++identity_fields;
        } else if (name == "fingerprint") {
          ASSIGN_OR_RETURN(std::string hex, ScalarString(val));
          if (hex.empty() || hex.size() > 16 || !absl::SimpleHexAtoi(hex, &r.id.fingerprint) ||
              hex[0] == '+' || hex[0] == '-' || hex.find_first_of("xX") != std::string::npos) {
            return ErrorAt(val, "`fingerprint` must be up to 16 hex digits");
          }
          ++identity_fields;
        } else if (name == "fingerprint_len") {
          ASSIGN_OR_RETURN(uint64_t len, ScalarUnsigned(val, kFingerprintMaxBytes));
          r.id.fingerprint_len = static_cast<uint32_t>(len);
          ++identity_fields;
        } else if (name == "timestamp_ns") {
          ASSIGN_OR_RETURN(uint64_t t, ScalarUnsigned(val, std::numeric_limits<int64_t>::max()));
          r.timestamp_ns = static_cast<int64_t>(t);
          r.has_timestamp = true;
        } else if (name == "timestamp_count") {
          ASSIGN_OR_RETURN(r.timestamp_count,
                           ScalarUnsigned(val, std::numeric_limits<uint64_t>::max()));
        }  // unknown keys: a later sluice's additions
      }
      if (!has_path) return ErrorAt(f, "a `files` entry has no `path`");
      if (!has_offset) return ErrorAt(f, "a `files` entry has no `offset`");
      if (identity_fields != 0 && identity_fields != 4) {
        return ErrorAt(f,
                       "a `files` entry needs all of device, inode, fingerprint, "
                       "fingerprint_len, or none");
      }
      r.has_identity = identity_fields == 4;
      out->push_back(std::move(r));
    }
  }
  if (out->size() != n) {
    return ErrorAt(count, absl::StrCat("count is ", n, " but `files` has ", out->size(),
                                       " entries (file cut short or edited?)"));
  }
  *present = true;
  return absl::OkStatus();
}

}  // namespace

std::string PositionsCursorKey(std::string_view component_id) {
  return absl::StrCat("cursor-", Av(component_id));
}

std::string RenderPositions(const std::vector<PositionRecord>& records,
                            const std::vector<PositionCursor>& cursors) {
  Emitter e;
  e.BeginMap();
  // The section first: a file cut short then lacks its `count` (an error) or holds all of it.
  e.String("sluice");
  e.BeginMap();
  e.String("version");
  e.Int(kSectionVersion);
  e.String("files");
  e.BeginSeq();
  for (const PositionRecord& r : records) {
    e.BeginMap();
    e.String("path");
    e.String(r.path);
    e.String("labels");
    e.String(r.labels);
    e.String("offset");
    e.Int(static_cast<uint64_t>(std::max<int64_t>(r.offset, 0)));
    if (r.has_identity) {
      e.String("device");
      e.Int(r.id.device);
      e.String("inode");
      e.Int(r.id.inode);
      e.String("fingerprint");
      e.String(absl::StrFormat("%016x", r.id.fingerprint));
      e.String("fingerprint_len");
      e.Int(r.id.fingerprint_len);
    }
    if (r.has_timestamp) {
      e.String("timestamp_ns");
      e.Int(static_cast<uint64_t>(std::max<int64_t>(r.timestamp_ns, 0)));
      e.String("timestamp_count");
      e.Int(r.timestamp_count);
    }
    e.EndMap();
  }
  e.EndSeq();
  e.String("count");
  e.Int(records.size());
  e.EndMap();

  // Alloy's map: one entry per key (a map cannot hold two).
  e.String("positions");
  e.BeginMap();
  absl::flat_hash_map<std::pair<std::string_view, std::string_view>, bool> seen;
  for (const PositionRecord& r : records) {
    if (!seen.try_emplace(std::make_pair(std::string_view(r.path), std::string_view(r.labels)),
                          true)
             .second) {
      continue;
    }
    e.BeginMap();
    e.String("path");
    e.String(r.path);
    e.String("labels");
    e.String(r.labels);
    e.EndMap();
    e.String(absl::StrCat(std::max<int64_t>(r.offset, 0)));
  }
  for (const PositionCursor& c : cursors) {
    if (!seen.try_emplace(std::make_pair(std::string_view(c.path), std::string_view(c.labels)),
                          true)
             .second) {
      continue;
    }
    e.BeginMap();
    e.String("path");
    e.String(c.path);
    e.String("labels");
    e.String(c.labels);
    e.EndMap();
    e.String(c.value);
  }
  e.EndMap();
  e.EndMap();
  return std::move(e).Finish();
}

absl::StatusOr<std::vector<PositionRecord>> ParsePositions(std::string_view text) {
  ASSIGN_OR_RETURN(PositionsDocument d, ParsePositionsDocument(text));
  return std::move(d.files);
}

absl::StatusOr<PositionsDocument> ParsePositionsDocument(std::string_view text) {
  if (text.size() > static_cast<size_t>(kMaxPositionsFileBytes)) {
    return absl::InvalidArgumentError("larger than a positions file can be");
  }
  Document doc;
  RETURN_IF_ERROR(doc.Load(text));
  PositionsDocument result;
  yaml_node_t* root = doc.root();
  if (root == nullptr || IsNull(root)) return result;  // as Alloy: empty
  if (root->type != YAML_MAPPING_NODE) return ErrorAt(root, "not a positions document (a map)");
  yaml_node_t* map = Lookup(&doc, root, "positions");
  if (map != nullptr && map->type == YAML_SEQUENCE_NODE) {
    ASSIGN_OR_RETURN(result.files, ParseSluiceV1Positions(text));
    return result;
  }

  std::vector<MapEntry> entries;
  if (map != nullptr) RETURN_IF_ERROR(ReadMap(&doc, map, &entries, &result.cursors));
  std::vector<PositionRecord> records;
  bool section = false;
  if (yaml_node_t* sec = Lookup(&doc, root, "sluice"); sec != nullptr) {
    RETURN_IF_ERROR(ReadSection(&doc, sec, &section, &records));
  }
  if (!section) records.clear();

  absl::flat_hash_map<std::pair<std::string_view, std::string_view>, const MapEntry*> by_key;
  for (const MapEntry& m : entries) by_key[{m.path, m.labels}] = &m;
  // Keys whose offset in the map is none of the section's for that key: the map was edited (by
  // hand, to move a file's position) after sluice wrote the file; the edit wins.
  absl::flat_hash_map<std::pair<std::string_view, std::string_view>, bool> agrees;
  for (const PositionRecord& r : records) {
    auto it = by_key.find(std::make_pair(std::string_view(r.path), std::string_view(r.labels)));
    if (it == by_key.end()) continue;
    bool& a = agrees[it->first];
    a = a || it->second->offset == r.offset;
  }
  absl::flat_hash_map<std::pair<std::string, std::string>, bool> covered;
  for (PositionRecord& r : records) {
    auto it = by_key.find(std::make_pair(std::string_view(r.path), std::string_view(r.labels)));
    if (it != by_key.end() && !agrees[it->first]) {
      r.offset = it->second->offset;
      r.has_identity = false;
      r.id = FileIdentity();
      r.has_timestamp = false;
      r.timestamp_ns = 0;
      r.timestamp_count = 0;
    }
    covered[{r.path, r.labels}] = true;
  }
  for (MapEntry& m : entries) {
    if (covered.contains(std::make_pair(m.path, m.labels))) continue;
    PositionRecord r;
    r.path = std::move(m.path);
    r.labels = std::move(m.labels);
    r.offset = m.offset;
    records.push_back(std::move(r));
  }
  result.files = std::move(records);
  return result;
}

namespace {

// The fixed text around one record with offset 0 and no identity, as RenderPositions writes it.
constexpr std::string_view kDocHead = "sluice:\n  version: 2\n  files:\n";
constexpr std::string_view kOneRecordMiddle = "    offset: 0\n  count: 1\npositions:\n  ? ";
constexpr std::string_view kOneRecordTail = "  : \"0\"\n";

void AppendIntLine(std::string* out, std::string_view key, uint64_t v) {
  absl::StrAppend(out, "    ", Av(key), ": ", v, "\n");
}

}  // namespace

const PositionsRenderer::Entry& PositionsRenderer::Lookup(const PositionRecord& r) {
  Key key{absl::HashOf(r.path, r.labels),
          std::hash<std::string_view>()(r.path) * 0x9e3779b97f4a7c15ULL ^
              std::hash<std::string_view>()(r.labels)};
  auto [it, inserted] = cache_.try_emplace(key);
  Entry& e = it->second;
  if (!inserted && (e.path_len != r.path.size() || e.labels_len != r.labels.size())) {
    e.text.clear();  // two pairs on one key (never seen): this one through libyaml
  } else if (inserted) {
    e.path_len = static_cast<uint32_t>(r.path.size());
    e.labels_len = static_cast<uint32_t>(r.labels.size());
    PositionRecord one;
    one.path = r.path;
    one.labels = r.labels;
    std::string doc = RenderPositions({one});
    // "sluice: ... files:\n  - " TEXT "    offset: 0\n  count: 1\npositions:\n  ? " TEXT
    // "  : \"0\"\n": a scalar's continuation lines are indented, so the middle, which starts a
    // line at column 0, cannot occur inside TEXT.
    std::string_view d = doc;
    if (d.substr(0, kDocHead.size()) == kDocHead && d.substr(kDocHead.size(), 4) == "  - " &&
        absl::EndsWith(Av(d), Av(kOneRecordTail))) {
      d.remove_prefix(kDocHead.size() + 4);
      d.remove_suffix(kOneRecordTail.size());
      size_t mid = d.find(kOneRecordMiddle);
      if (mid != std::string_view::npos && !d.substr(0, mid).empty() &&
          d.substr(0, mid) == d.substr(mid + kOneRecordMiddle.size())) {
        e.text = std::string(d.substr(0, mid));
      }
    }
  }
  e.generation = generation_;
  return e;
}

std::string PositionsRenderer::Render(const std::vector<PositionRecord>& records) {
  ++generation_;
  if (records.empty()) {
    ++whole_renders_;
    return RenderPositions(records);
  }
  std::vector<const Entry*> entries;
  entries.reserve(records.size());
  size_t bytes = 64;
  for (const PositionRecord& r : records) {
    const Entry& e = Lookup(r);
    if (e.text.empty()) {
      entries.clear();
      break;
    }
    entries.push_back(&e);
    bytes += 2 * e.text.size() + 200;
  }
  if (cache_.size() > records.size()) {
    absl::erase_if(cache_, [g = generation_](const auto& kv) { return kv.second.generation != g; });
  }
  if (entries.empty()) {
    ++whole_renders_;
    return RenderPositions(records);
  }

  std::string out;
  out.reserve(bytes);
  out.append(kDocHead);
  for (size_t i = 0; i < records.size(); ++i) {
    const PositionRecord& r = records[i];
    out.append("  - ");
    out.append(entries[i]->text);
    AppendIntLine(&out, "offset", static_cast<uint64_t>(std::max<int64_t>(r.offset, 0)));
    if (r.has_identity) {
      AppendIntLine(&out, "device", r.id.device);
      AppendIntLine(&out, "inode", r.id.inode);
      std::string hex = absl::StrFormat("%016x", r.id.fingerprint);
      // As Emitter::String: 16 hex digits are plain unless they would read back as a number.
      if (ResolvesToNonString(hex)) {
        absl::StrAppend(&out, "    fingerprint: \"", hex, "\"\n");
      } else {
        absl::StrAppend(&out, "    fingerprint: ", hex, "\n");
      }
      AppendIntLine(&out, "fingerprint_len", r.id.fingerprint_len);
    }
    if (r.has_timestamp) {
      AppendIntLine(&out, "timestamp_ns",
                    static_cast<uint64_t>(std::max<int64_t>(r.timestamp_ns, 0)));
      AppendIntLine(&out, "timestamp_count", r.timestamp_count);
    }
  }
  absl::StrAppend(&out, "  count: ", records.size(), "\npositions:\n");
  absl::flat_hash_set<const Entry*> seen;
  seen.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    if (!seen.insert(entries[i]).second) continue;  // the map holds a (path, labels) once
    out.append("  ? ");
    out.append(entries[i]->text);
    absl::StrAppend(&out, "  : \"", std::max<int64_t>(records[i].offset, 0), "\"\n");
  }
  return out;
}

}  // namespace sluice
