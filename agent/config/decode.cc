#include "agent/config/decode.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/common/strings.h"
#include "agent/common/units.h"

namespace sluice::config {

std::string TypeMismatch(std::string_view expected, const Value& got) {
  return absl::StrCat("expected ", Av(expected), ", got ", Av(got.TypeName()));
}

Decoder::Decoder(const Block& block, Diags* diags)
    : block_(&block),
      diags_(diags),
      attr_used_(block.body.attrs.size(), false),
      block_used_(block.body.blocks.size(), false) {}

void Decoder::Error(const Span& span, std::string message) {
  diags_->Add(span, std::move(message));
}

void Decoder::ErrorAt(std::string_view name, std::string message) {
  for (const Attr& a : block_->body.attrs) {
    if (a.name == name) return Error(a.value_span, std::move(message));
  }
  Error(block_->span, std::move(message));
}

const Attr* Decoder::Get(std::string_view name, Required required) {
  const Attr* found = nullptr;
  for (size_t i = 0; i < block_->body.attrs.size(); ++i) {
    const Attr& a = block_->body.attrs[i];
    if (a.name != name) continue;
    if (found != nullptr && !attr_used_[i]) {
      // The parser already refuses a repeated attribute; this guards hand-built blocks.
      Error(a.name_span, absl::StrFormat("attribute %s may only be provided once",
                                         absl::StrCat("\"", Av(name), "\"")));
    }
    attr_used_[i] = true;
    if (found == nullptr) found = &a;
  }
  if (found == nullptr && required == Required::kYes) {
    Error(block_->span, absl::StrCat("missing required attribute \"", Av(name), "\""));
  }
  return found;
}

void Decoder::TypeError(const Attr& attr, std::string_view expected) {
  if (!attr.value_text.empty()) {
    // Alloy's wording names the expression: `"x" should be number, got string`.
    Error(attr.value_span, absl::StrCat(Av(attr.value_text), " should be ", Av(expected), ", got ",
                                        Av(attr.value.TypeName())));
    return;
  }
  Error(attr.value_span, TypeMismatch(expected, attr.value));
}

const Attr* Decoder::TypedAttr(std::string_view name, Value::Kind kind, Required required) {
  const Attr* a = Get(name, required);
  if (a == nullptr) return nullptr;
  if (a->value.kind() != kind) {
    TypeError(*a, Value::KindName(kind));
    return nullptr;
  }
  return a;
}

bool Decoder::String(std::string_view name, std::string* out, Required required) {
  const Attr* a = Get(name, required);
  if (a == nullptr) return false;
  // Alloy converts a number to a string where a string is expected.
  if (a->value.kind() == Value::Kind::kNumber) {
    std::string s = a->value.ToString();
    *out = std::move(s);
    return true;
  }
  if (a->value.kind() != Value::Kind::kString) {
    TypeError(*a, "string");
    return false;
  }
  *out = a->value.as_string();
  return true;
}

bool Decoder::Secret(std::string_view name, std::string* out, Required required) {
  const Attr* a = Get(name, required);
  if (a == nullptr) return false;
  if (a->value.is_secret()) {
    *out = a->value.as_capsule().id;
    return true;
  }
  return String(name, out, required);
}

bool Decoder::Bool(std::string_view name, bool* out, Required required) {
  const Attr* a = TypedAttr(name, Value::Kind::kBool, required);
  if (a == nullptr) return false;
  *out = a->value.as_bool();
  return true;
}

bool Decoder::Int(std::string_view name, int64_t* out, Required required) {
  const Attr* a = Get(name, required);
  if (a == nullptr) return false;
  const Value& v = a->value;
  if (v.kind() == Value::Kind::kString) {
    // Alloy converts a numeric string where a number is expected.
    int64_t n;
    if (absl::SimpleAtoi(Av(v.as_string()), &n)) {
      *out = n;
      return true;
    }
  }
  if (v.kind() != Value::Kind::kNumber) {
    TypeError(*a, "number");
    return false;
  }
  if (!v.is_int()) {
    Error(a->value_span,
          absl::StrCat("cannot assign non-integer number ", v.ToString(), " to an integer"));
    return false;
  }
  *out = v.as_int();
  return true;
}

bool Decoder::Float(std::string_view name, double* out, Required required) {
  const Attr* a = Get(name, required);
  if (a == nullptr) return false;
  const Value& v = a->value;
  if (v.kind() == Value::Kind::kString) {
    double d;
    if (absl::SimpleAtod(Av(v.as_string()), &d)) {
      *out = d;
      return true;
    }
  }
  if (v.kind() != Value::Kind::kNumber) {
    TypeError(*a, "number");
    return false;
  }
  *out = v.as_double();
  return true;
}

bool Decoder::Duration(std::string_view name, absl::Duration* out, Required required) {
  const Attr* a = TypedAttr(name, Value::Kind::kString, required);
  if (a == nullptr) return false;
  absl::StatusOr<absl::Duration> d = ParseDurationArg(a->value.as_string());
  if (!d.ok()) {
    Error(a->value_span, absl::StrCat("time: invalid duration \"", Av(a->value.as_string()), "\""));
    return false;
  }
  *out = *d;
  return true;
}

bool Decoder::Bytes(std::string_view name, uint64_t* out, Required required) {
  const Attr* a = Get(name, required);
  if (a == nullptr) return false;
  if (a->value.kind() == Value::Kind::kNumber && a->value.is_int() && a->value.as_int() >= 0) {
    *out = static_cast<uint64_t>(a->value.as_int());
    return true;
  }
  if (a->value.kind() != Value::Kind::kString) {
    TypeError(*a, "string");
    return false;
  }
  // Alloy's units.Base2Bytes: "1MB" and "1MiB" are both 1048576.
  absl::StatusOr<int64_t> b = ParseBase2Bytes(a->value.as_string());
  if (!b.ok()) {
    Error(a->value_span, std::string(Sv(b.status().message())));
    return false;
  }
  if (*b < 0) {
    Error(a->value_span,
          absl::StrCat("byte size must not be negative: ", Av(a->value.as_string())));
    return false;
  }
  *out = static_cast<uint64_t>(*b);
  return true;
}

bool Decoder::StringList(std::string_view name, std::vector<std::string>* out, Required required) {
  const Attr* a = TypedAttr(name, Value::Kind::kArray, required);
  if (a == nullptr) return false;
  std::vector<std::string> list;
  for (const Value& e : a->value.as_array()) {
    if (e.kind() != Value::Kind::kString) {
      Error(a->value_span, TypeMismatch("string", e));
      return false;
    }
    list.push_back(e.as_string());
  }
  *out = std::move(list);
  return true;
}

bool Decoder::StringMap(std::string_view name, std::map<std::string, std::string>* out,
                        Required required) {
  const Attr* a = TypedAttr(name, Value::Kind::kObject, required);
  if (a == nullptr) return false;
  std::map<std::string, std::string> m;
  for (const auto& [k, v] : a->value.as_object()) {
    if (v.kind() == Value::Kind::kNull) {
      m[k] = "";
    } else if (v.kind() == Value::Kind::kString) {
      m[k] = v.as_string();
    } else {
      Error(a->value_span, TypeMismatch("string", v));
      return false;
    }
  }
  *out = std::move(m);
  return true;
}

bool Decoder::Capsules(std::string_view name, std::string_view capsule_type,
                       std::vector<Capsule>* out, Required required) {
  const Attr* a = TypedAttr(name, Value::Kind::kArray, required);
  if (a == nullptr) return false;
  std::vector<Capsule> list;
  for (const Value& e : a->value.as_array()) {
    if (e.kind() != Value::Kind::kCapsule || e.as_capsule().type != capsule_type) {
      Error(a->value_span, TypeMismatch(absl::StrCat("capsule(\"", Av(capsule_type), "\")"), e));
      return false;
    }
    list.push_back(e.as_capsule());
  }
  *out = std::move(list);
  return true;
}

bool Decoder::Targets(std::string_view name, SharedTargets* out, Required required) {
  const Attr* a = TypedAttr(name, Value::Kind::kArray, required);
  if (a == nullptr) return false;
  if (const SharedTargets* shared = a->value.as_targets()) {
    *out = *shared;
    return true;
  }
  auto list = std::make_shared<TargetList>();
  for (const Value& e : a->value.as_array()) {
    if (e.kind() != Value::Kind::kObject) {
      Error(a->value_span, TypeMismatch("object", e));
      return false;
    }
    LabelSet set;
    for (const auto& [k, v] : e.as_object()) {
      if (v.kind() != Value::Kind::kString) {
        Error(a->value_span, TypeMismatch("string", v));
        return false;
      }
      set.Set(k, v.as_string());
    }
    list->push_back(std::move(set));
  }
  *out = std::move(list);
  return true;
}

bool Decoder::Targets(std::string_view name, std::vector<LabelSet>* out, Required required) {
  SharedTargets shared;
  if (!Targets(name, &shared, required)) return false;
  *out = *shared;
  return true;
}

std::vector<const Block*> Decoder::Blocks(std::string_view name) {
  std::vector<const Block*> out;
  for (size_t i = 0; i < block_->body.blocks.size(); ++i) {
    if (block_->body.blocks[i].name != name) continue;
    block_used_[i] = true;
    out.push_back(&block_->body.blocks[i]);
  }
  return out;
}

const Block* Decoder::OptionalBlock(std::string_view name) {
  std::vector<const Block*> all = Blocks(name);
  if (all.empty()) return nullptr;
  for (size_t i = 1; i < all.size(); ++i) {
    Error(all[i]->span, absl::StrCat("block \"", Av(name), "\" may only be specified once"));
  }
  return all[0];
}

std::vector<const Block*> Decoder::BlocksWithPrefix(std::string_view prefix) {
  std::vector<const Block*> out;
  for (size_t i = 0; i < block_->body.blocks.size(); ++i) {
    if (block_->body.blocks[i].name.rfind(prefix, 0) != 0) continue;
    block_used_[i] = true;
    out.push_back(&block_->body.blocks[i]);
  }
  return out;
}

bool Decoder::Finish() {
  for (size_t i = 0; i < attr_used_.size(); ++i) {
    if (attr_used_[i]) continue;
    const Attr& a = block_->body.attrs[i];
    Error(a.name_span, absl::StrCat("unrecognized attribute name \"", Av(a.name), "\""));
  }
  for (size_t i = 0; i < block_used_.size(); ++i) {
    if (block_used_[i]) continue;
    const Block& b = block_->body.blocks[i];
    Error(b.span, absl::StrCat("unrecognized block name \"", Av(b.name), "\""));
  }
  return diags_->ok();
}

}  // namespace sluice::config
