#include "agent/metadata/kube_object.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "agent/common/utf8.h"
#include "agent/metadata/kube_json.h"

namespace sluice::metadata {

namespace kube_json {

std::string Str(element e, std::string_view key) {
  std::string_view v;
  if (e[key].get_string().get(v) != simdjson::SUCCESS) return "";
  return std::string(v);
}

bool Bool(element e, std::string_view key) {
  bool b = false;
  if (e[key].get_bool().get(b) != simdjson::SUCCESS) return false;
  return b;
}

int64_t Int(element e, std::string_view key) {
  int64_t n = 0;
  if (e[key].get_int64().get(n) != simdjson::SUCCESS) return 0;
  return n;
}

StringPairs StringMap(element e, std::string_view key) {
  StringPairs out;
  simdjson::dom::object o;
  if (e[key].get_object().get(o) != simdjson::SUCCESS) return out;
  for (auto field : o) {
    std::string_view v;
    if (field.value.get_string().get(v) != simdjson::SUCCESS) continue;
    out.emplace_back(std::string(field.key), std::string(v));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string MetaStr(element obj, std::string_view key) {
  element meta;
  if (obj["metadata"].get(meta) != simdjson::SUCCESS) return "";
  return Str(meta, key);
}

ObjectMeta Meta(element obj) {
  ObjectMeta out;
  element meta;
  if (obj["metadata"].get(meta) != simdjson::SUCCESS) return out;
  out.name = Str(meta, "name");
  out.labels = StringMap(meta, "labels");
  out.annotations = StringMap(meta, "annotations");
  return out;
}

absl::Status JsonError(simdjson::error_code code, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("cannot parse ", Av(what), ": ", simdjson::error_message(code)));
}

absl::Status ParseDoc(std::string_view json, std::string_view what, simdjson::dom::parser* parser,
                      simdjson::padded_string* padded, element* doc) {
  *padded = simdjson::padded_string(json);
  if (auto err = parser->parse(*padded).get(*doc); err) return JsonError(err, what);
  return absl::OkStatus();
}

absl::Status ParseSpan(std::string_view json, std::string_view what, simdjson::dom::parser* parser,
                       element* out) {
  // realloc_if_needed: the span is copied into the parser's own padded buffer (kept and reused),
  // as a view into the list has no padding of its own.
  if (auto err = parser->parse(json.data(), json.size(), true).get(*out); err) {
    return JsonError(err, what);
  }
  return absl::OkStatus();
}

namespace {

// A cursor over the list's text for SplitList.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : t_(text) {}

  void SkipSpace() {
    while (i_ < t_.size() &&
           (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r')) {
      ++i_;
    }
  }
  bool Eat(char c) {
    SkipSpace();
    if (i_ < t_.size() && t_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool Peek(char c) {
    SkipSpace();
    return i_ < t_.size() && t_[i_] == c;
  }
  bool AtEnd() {
    SkipSpace();
    return i_ == t_.size();
  }
  size_t pos() const { return i_; }

  // A string at the cursor (its opening quote already checked): its content, without quotes.
  bool String(std::string_view* content) {
    size_t start = ++i_;
    while (i_ < t_.size()) {
      unsigned char c = static_cast<unsigned char>(t_[i_]);
      if (c == '"') {
        *content = t_.substr(start, i_ - start);
        ++i_;
        return true;
      }
      if (c < 0x20) return false;
      i_ += (c == '\\') ? 2 : 1;
    }
    return false;
  }

  // The text of one value at the cursor: a string, an object or array (brackets balanced, strings
  // skipped), or a scalar up to the next delimiter. Its inner syntax is checked by the parser.
  bool Value(std::string_view* text) {
    SkipSpace();
    if (i_ >= t_.size()) return false;
    size_t start = i_;
    char c = t_[i_];
    std::string_view unused;
    if (c == '"') {
      if (!String(&unused)) return false;
    } else if (c == '{' || c == '[') {
      int depth = 0;
      while (i_ < t_.size()) {
        char d = t_[i_];
        if (d == '"') {
          if (!String(&unused)) return false;
          continue;
        }
        ++i_;
        if (d == '{' || d == '[') {
          ++depth;
        } else if (d == '}' || d == ']') {
          if (--depth == 0) break;
        }
      }
      if (depth != 0) return false;
    } else {
      while (i_ < t_.size() && t_[i_] != ',' && t_[i_] != '}' && t_[i_] != ']' && t_[i_] != ' ' &&
             t_[i_] != '\t' && t_[i_] != '\n' && t_[i_] != '\r') {
        ++i_;
      }
      if (i_ == start) return false;
    }
    *text = t_.substr(start, i_ - start);
    return true;
  }

 private:
  std::string_view t_;
  size_t i_ = 0;
};

}  // namespace

absl::Status SplitList(std::string_view json, std::string_view what,
                       absl::FunctionRef<absl::Status(std::string_view, std::string_view)> member,
                       absl::FunctionRef<absl::Status(std::string_view)> item) {
  Scanner sc(json);
  auto malformed = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot parse ", Av(what), ": malformed JSON at byte ", sc.pos()));
  };
  if (!simdjson::validate_utf8(json.data(), json.size())) {
    return JsonError(simdjson::UTF8_ERROR, what);
  }
  if (!sc.Eat('{')) return malformed();
  if (!sc.Eat('}')) {
    for (;;) {
      std::string_view key, value;
      if (!sc.Peek('"') || !sc.String(&key) || !sc.Eat(':')) return malformed();
      if (key == "items" && sc.Peek('[')) {
        sc.Eat('[');
        if (!sc.Eat(']')) {
          for (;;) {
            if (!sc.Value(&value)) return malformed();
            if (absl::Status st = item(value); !st.ok()) return st;
            if (sc.Eat(',')) continue;
            if (sc.Eat(']')) break;
            return malformed();
          }
        }
      } else {
        if (!sc.Value(&value)) return malformed();
        if (absl::Status st = member(key, value); !st.ok()) return st;
      }
      if (sc.Eat(',')) continue;
      if (sc.Eat('}')) break;
      return malformed();
    }
  }
  if (!sc.AtEnd()) return malformed();
  return absl::OkStatus();
}

}  // namespace kube_json

namespace {

void DecodeNamespace(kube_json::element e, ObjectMeta* out) { *out = kube_json::Meta(e); }

}  // namespace

absl::Status ParseKubeList(std::string_view json, std::vector<ObjectMeta>* out,
                           std::string* resource_version) {
  return kube_json::ParseList(json, "NamespaceList", DecodeNamespace, out, resource_version);
}

absl::Status ParseKubeWatchEvent(std::string_view json, KubeWatchEvent<ObjectMeta>* out) {
  return kube_json::ParseWatchEvent(json, DecodeNamespace, out);
}

absl::StatusOr<ObjectMeta> ParseObjectMeta(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded;
  kube_json::element doc;
  if (absl::Status st = kube_json::ParseDoc(json, "object", &parser, &padded, &doc); !st.ok()) {
    return st;
  }
  kube_json::element meta;
  if (auto err = doc["metadata"].get(meta); err) {
    return kube_json::JsonError(err, "object metadata");
  }
  return kube_json::Meta(doc);
}

std::string SanitizeLabelName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  size_t i = 0;
  while (i < name.size()) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x80) {
      out.push_back(absl::ascii_isalnum(c) || c == '_' ? static_cast<char>(c) : '_');
      ++i;
      continue;
    }
    // Go's regexp replaces a whole rune (or one invalid byte) with one '_'.
    size_t width = 0;
    DecodeUtf8Rune(name, i, &width);
    out.push_back('_');
    i += std::max<size_t>(width, 1);
  }
  return out;
}

void AddObjectMetaLabels(std::string_view role, const StringPairs& labels,
                         const StringPairs& annotations, LabelSet* out) {
  std::string base = absl::StrCat("__meta_kubernetes_", Av(role));
  for (const auto& [k, v] : labels) {
    std::string n = SanitizeLabelName(k);
    out->Set(absl::StrCat(base, "_label_", n), v);
    out->Set(absl::StrCat(base, "_labelpresent_", n), "true");
  }
  for (const auto& [k, v] : annotations) {
    std::string n = SanitizeLabelName(k);
    out->Set(absl::StrCat(base, "_annotation_", n), v);
    out->Set(absl::StrCat(base, "_annotationpresent_", n), "true");
  }
}

LabelSet NamespaceMetaLabels(const ObjectMeta& ns) {
  LabelSet out;
  AddObjectMetaLabels("namespace", ns.labels, ns.annotations, &out);
  return out;
}

}  // namespace sluice::metadata
