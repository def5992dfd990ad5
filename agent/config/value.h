// Values of the Alloy configuration language after evaluation.
//
// null, number, string, bool, array, object, function and capsule, as in Alloy's syntax/value
// package. Numbers keep whether they were written (or computed) as integers, because Alloy
// refuses 1.5 where an int is expected. Objects keep their keys sorted (Alloy's objects are Go
// maps and print sorted). Capsules carry values the language cannot express, here the handles
// of other components' exports (a loki.LogsReceiver is the id of the component that receives).
// Plain value type; any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/status/statusor.h"
#include "agent/pipeline/labels.h"

namespace sluice::config {

class Value;
using Array = std::vector<Value>;
using Object = std::map<std::string, Value, std::less<>>;

// An opaque handle: `type` names it in errors ("loki.LogsReceiver"), `id` is the component that
// exported it ("loki.write.default"). A secret (Alloy's alloytypes.Secret, itself a capsule) is
// the capsule of type kSecretType whose id is the value: never printed (messages show the
// type), accepted only where Alloy accepts a secret, made a string by convert.nonsensitive.
inline constexpr char kSecretType[] = "secret";
struct Capsule {
  std::string type;
  std::string id;
  bool operator==(const Capsule&) const = default;
};

// A callable from the standard library. Arguments are already evaluated; errors are messages
// without position (the caller adds the call's position).
using Function = std::function<absl::StatusOr<Value>(const std::vector<Value>& args)>;

// A list of targets (Alloy's []discovery.Target): an array of objects of strings to the
// language, kept as label sets. Discovery components export thousands of them and pass them on
// unchanged or nearly so: as label sets, shared and never converted, one copy of a node's targets
// costs about a third of the same as objects of values, and a component that only reads them
// (local.file_match, loki.source.file) shares the exporter's copy instead of decoding its own.
using TargetList = std::vector<LabelSet>;
using SharedTargets = std::shared_ptr<const TargetList>;

class Value {
 public:
  enum class Kind { kNull, kNumber, kString, kBool, kArray, kObject, kFunction, kCapsule };

  Value() = default;  // null
  static Value Null() { return Value(); }
  static Value Int(int64_t v);
  static Value Float(double v);
  static Value String(std::string v);
  static Value Bool(bool v);
  static Value MakeArray(Array v);
  static Value MakeObject(Object v);
  static Value MakeFunction(Function f);
  static Value MakeCapsule(Capsule c);
  // An array of objects of strings, held as label sets (see TargetList).
  static Value MakeTargets(SharedTargets targets);
  static Value Secret(std::string s) { return MakeCapsule({kSecretType, std::move(s)}); }
  bool is_secret() const { return kind() == Kind::kCapsule && as_capsule().type == kSecretType; }

  Kind kind() const;
  bool is_null() const { return kind() == Kind::kNull; }
  // Numbers: is_int() when the value is an integer (written without '.'/exponent, or the result
  // of integer arithmetic). as_double() works for every number; so does as_int() (a float:
  // truncated, saturated at int64's range).
  bool is_int() const;
  int64_t as_int() const;
  double as_double() const;
  const std::string& as_string() const;
  bool as_bool() const;
  // A target list's array is built on the first call and kept (thread-safe).
  const Array& as_array() const;
  // The targets of a value made by MakeTargets, shared; nullptr for any other value (an array
  // written in the configuration or built by a function is decoded as usual).
  const SharedTargets* as_targets() const;
  const Object& as_object() const;
  const Function& as_function() const;
  const Capsule& as_capsule() const;

  // Alloy's type names as used in its errors: "null", "number", "string", "bool", "array",
  // "object", "function", "capsule" (a capsule prints as its `type` in messages).
  std::string_view TypeName() const;
  static std::string_view KindName(Kind k);

  // Deep equality (functions are never equal; capsules by type and id).
  bool operator==(const Value& other) const;

  // The value as Alloy's formatter writes it: strings quoted with Go escapes, objects as
  // `{ key = value }` with sorted keys, arrays as `[a, b]`. For messages and `fmt` of constants.
  std::string ToString() const;

 private:
  struct Number {
    bool is_int;
    int64_t i;
    double d;
  };
  struct Targets {
    SharedTargets list;
    mutable absl::once_flag once;
    mutable Array array;  // the list as values, built by the first as_array()
  };
  using Rep = std::variant<std::monostate, Number, std::string, bool, std::shared_ptr<Array>,
                           std::shared_ptr<Object>, std::shared_ptr<Function>, Capsule,
                           std::shared_ptr<const Targets>>;
  Rep rep_;
};

}  // namespace sluice::config
