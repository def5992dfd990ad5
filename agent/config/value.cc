#include "agent/config/value.h"

#include <cmath>
#include <cstdint>
#include <cstdio>

#include "agent/go/strconv.h"

namespace sluice::config {

Value Value::Int(int64_t v) {
  Value out;
  out.rep_ = Number{true, v, static_cast<double>(v)};
  return out;
}

Value Value::Float(double v) {
  Value out;
  // The integer view of a float: truncated, saturated at int64's range (NaN as 0); casting an
  // out-of-range double is undefined behaviour in C++.
  int64_t i = 0;
  if (v >= 9223372036854775807.0) {
    i = INT64_MAX;
  } else if (v <= -9223372036854775808.0) {
    i = INT64_MIN;
  } else if (v == v) {
    i = static_cast<int64_t>(v);
  }
  out.rep_ = Number{false, i, v};
  return out;
}

Value Value::String(std::string v) {
  Value out;
  out.rep_ = std::move(v);
  return out;
}

Value Value::Bool(bool v) {
  Value out;
  out.rep_ = v;
  return out;
}

Value Value::MakeArray(Array v) {
  Value out;
  out.rep_ = std::make_shared<Array>(std::move(v));
  return out;
}

Value Value::MakeObject(Object v) {
  Value out;
  out.rep_ = std::make_shared<Object>(std::move(v));
  return out;
}

Value Value::MakeFunction(Function f) {
  Value out;
  out.rep_ = std::make_shared<Function>(std::move(f));
  return out;
}

Value Value::MakeCapsule(Capsule c) {
  Value out;
  out.rep_ = std::move(c);
  return out;
}

Value Value::MakeTargets(SharedTargets targets) {
  auto t = std::make_shared<Targets>();
  t->list = targets != nullptr ? std::move(targets) : std::make_shared<const TargetList>();
  Value out;
  out.rep_ = std::shared_ptr<const Targets>(std::move(t));
  return out;
}

Value::Kind Value::kind() const {
  switch (rep_.index()) {
    case 0:
      return Kind::kNull;
    case 1:
      return Kind::kNumber;
    case 2:
      return Kind::kString;
    case 3:
      return Kind::kBool;
    case 4:
      return Kind::kArray;
    case 5:
      return Kind::kObject;
    case 6:
      return Kind::kFunction;
    case 7:
      return Kind::kCapsule;
    default:
      return Kind::kArray;  // a target list
  }
}

bool Value::is_int() const {
  const Number* n = std::get_if<Number>(&rep_);
  return n != nullptr && n->is_int;
}
int64_t Value::as_int() const { return std::get<Number>(rep_).i; }
double Value::as_double() const { return std::get<Number>(rep_).d; }
const std::string& Value::as_string() const { return std::get<std::string>(rep_); }
bool Value::as_bool() const { return std::get<bool>(rep_); }
const Array& Value::as_array() const {
  if (const auto* t = std::get_if<std::shared_ptr<const Targets>>(&rep_)) {
    const Targets& rep = **t;
    absl::call_once(rep.once, [&rep] {
      rep.array.reserve(rep.list->size());
      for (const LabelSet& set : *rep.list) {
        Object o;
        for (const auto& [k, v] : set.labels())
          o.emplace(std::string(k), Value::String(std::string(v)));
        rep.array.push_back(Value::MakeObject(std::move(o)));
      }
    });
    return rep.array;
  }
  return *std::get<std::shared_ptr<Array>>(rep_);
}
const SharedTargets* Value::as_targets() const {
  const auto* t = std::get_if<std::shared_ptr<const Targets>>(&rep_);
  return t == nullptr ? nullptr : &(*t)->list;
}
const Object& Value::as_object() const { return *std::get<std::shared_ptr<Object>>(rep_); }
const Function& Value::as_function() const { return *std::get<std::shared_ptr<Function>>(rep_); }
const Capsule& Value::as_capsule() const { return std::get<Capsule>(rep_); }

std::string_view Value::KindName(Kind k) {
  switch (k) {
    case Kind::kNull:
      return "null";
    case Kind::kNumber:
      return "number";
    case Kind::kString:
      return "string";
    case Kind::kBool:
      return "bool";
    case Kind::kArray:
      return "array";
    case Kind::kObject:
      return "object";
    case Kind::kFunction:
      return "function";
    case Kind::kCapsule:
      return "capsule";
  }
  return "?";
}

std::string_view Value::TypeName() const {
  if (kind() == Kind::kCapsule) return as_capsule().type;
  return KindName(kind());
}

bool Value::operator==(const Value& o) const {
  if (kind() != o.kind()) return false;
  switch (kind()) {
    case Kind::kNull:
      return true;
    case Kind::kNumber:
      if (is_int() && o.is_int()) return as_int() == o.as_int();
      return as_double() == o.as_double();
    case Kind::kString:
      return as_string() == o.as_string();
    case Kind::kBool:
      return as_bool() == o.as_bool();
    case Kind::kArray: {
      // Two target lists compare as label sets, without building their arrays.
      const SharedTargets* a = as_targets();
      const SharedTargets* b = o.as_targets();
      if (a != nullptr && b != nullptr) return *a == *b || **a == **b;
      return as_array() == o.as_array();
    }
    case Kind::kObject:
      return as_object() == o.as_object();
    case Kind::kFunction:
      return false;
    case Kind::kCapsule:
      return as_capsule() == o.as_capsule();
  }
  return false;
}

namespace {

void AppendNumber(const Value& v, std::string* out) {
  if (v.is_int()) {
    out->append(std::to_string(v.as_int()));
    return;
  }
  double d = v.as_double();
  char buf[64];
  // Shortest form that reads back the same, like Go's strconv.FormatFloat(d, 'g', -1, 64).
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  out->append(buf);
}

void Append(const Value& v, std::string* out) {
  switch (v.kind()) {
    case Value::Kind::kNull:
      out->append("null");
      return;
    case Value::Kind::kNumber:
      AppendNumber(v, out);
      return;
    case Value::Kind::kString:
      AppendGoQuoted(v.as_string(), out);
      return;
    case Value::Kind::kBool:
      out->append(v.as_bool() ? "true" : "false");
      return;
    case Value::Kind::kArray: {
      out->push_back('[');
      bool first = true;
      for (const Value& e : v.as_array()) {
        if (!first) out->append(", ");
        first = false;
        Append(e, out);
      }
      out->push_back(']');
      return;
    }
    case Value::Kind::kObject: {
      if (v.as_object().empty()) {
        out->append("{}");
        return;
      }
      out->append("{ ");
      bool first = true;
      for (const auto& [k, e] : v.as_object()) {
        if (!first) out->append(", ");
        first = false;
        AppendGoQuoted(k, out);
        out->append(" = ");
        Append(e, out);
      }
      out->append(" }");
      return;
    }
    case Value::Kind::kFunction:
      out->append("function");
      return;
    case Value::Kind::kCapsule:
      out->append("capsule(\"");
      out->append(v.as_capsule().type);
      out->append("\")");
      return;
  }
}

}  // namespace

std::string Value::ToString() const {
  std::string out;
  Append(*this, &out);
  return out;
}

}  // namespace sluice::config
