// stage.json: JMESPath expressions (and a key regex) over a JSON line or extracted value, into
// the extracted map, as Alloy's json stage.
//
// Owned by its pipeline (agent/process/pipeline.h: a loki.process component's, or the nested one
// of a stage.match) and run on that pipeline's thread, the tail thread (see stage.h).
#include "agent/process/stages/registry.h"

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "agent/go/jmespath.h"
#include "agent/process/stage.h"
#include "agent/process/stages/json_parser.h"
#include "agent/process/stages/stage_util.h"
#include "re2/re2.h"

namespace sluice {
namespace {

using stage_util::JsonParser;
using stage_util::OptionalRegex;
using stage_util::ResolveSource;
using stage_util::StageErrors;

constexpr std::string_view kMalformedJsonReason = "malformed_json";

class JsonStage final : public Stage {
 public:
  JsonStage(const StageContext& ctx,
            std::vector<std::pair<std::string, jmespath::Expression>> exprs,
            std::unique_ptr<RE2> regex, std::string source, bool has_source, bool drop_malformed)
      : ctx_(ctx),
        exprs_(std::move(exprs)),
        regex_(std::move(regex)),
        source_(std::move(source)),
        has_source_(has_source),
        drop_malformed_(drop_malformed) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    std::string_view input = e.line;
    if (has_source_) {
      if (!ResolveSource(e, source_, &scratch_, &input)) {
        emit(std::move(e));
        return;
      }
      // No copy needed even when the input lives in the map: the parser copies it, and the
      // DOM's strings point into the parser's own buffers.
    }
    simdjson::dom::element root;
    // Only an object (or null, which Go decodes into an empty map) is accepted: a line that
    // starts otherwise (logfmt, plain text) is refused without parsing it.
    size_t first = input.find_first_not_of(" \t\n\r");
    bool candidate = first != std::string::npos && (input[first] == '{' || input[first] == 'n');
    if (!candidate || !parser_.Parse(input, &root, /*padded=*/!has_source_ && e.line.padded()) ||
        (root.type() != simdjson::dom::element_type::OBJECT && !root.is_null())) {
      if (drop_malformed_) {
        CountDroppedLine(ctx_, kMalformedJsonReason);
        return;
      }
      emit(std::move(e));
      return;
    }
    const jmespath::Value doc = jmespath::Value::Dom(root);
    for (const auto& [name, expr] : exprs_) {
      if (const std::string* field = expr.field(); field != nullptr) {
        // Most expressions are one field (`level`, `msg`): looked up here as Value::Field does
        // (null unless an object; the last of repeated keys), without the interpreter's Values.
        StoreField(root, *field, &e.extracted.Overwrite(name));
        continue;
      }
      jmespath::Value result;
      if (!expr.Search(doc, &result)) continue;
      Store(result, &e.extracted.Overwrite(name));
    }
    if (regex_ != nullptr && doc.kind() == jmespath::Value::Kind::kObject) {
      simdjson::dom::object obj = root.get_object().value_unsafe();
      for (simdjson::dom::key_value_pair kv : obj) {
        re2::StringPiece key(kv.key.data(), kv.key.size());
        if (!RE2::PartialMatch(key, *regex_)) continue;
        Store(jmespath::Value::Dom(kv.value), &e.extracted.Overwrite(kv.key));
      }
    }
    emit(std::move(e));
  }

 private:
  static void StoreField(simdjson::dom::element root, std::string_view field, ExtractedValue* out) {
    simdjson::dom::object obj;
    simdjson::dom::element found;
    bool has = false;
    if (root.get_object().get(obj) == simdjson::SUCCESS) {
      for (simdjson::dom::key_value_pair kv : obj) {
        if (kv.key == field) {
          found = kv.value;
          has = true;
        }
      }
    }
    std::string_view str;
    if (has && found.get_string().get(str) == simdjson::SUCCESS) {
      out->kind = ExtractedValue::Kind::kString;
      out->str.assign(str.data(), str.size());
      return;
    }
    Store(has ? jmespath::Value::Dom(found) : jmespath::Value(), out);
  }

  // Scalars keep their type; arrays and objects become their JSON text.
  static void Store(const jmespath::Value& v, ExtractedValue* out) {
    switch (v.kind()) {
      case jmespath::Value::Kind::kNull:
        *out = ExtractedValue::Null();
        return;
      case jmespath::Value::Kind::kBool:
        *out = ExtractedValue::Bool(v.boolean());
        return;
      case jmespath::Value::Kind::kNumber:
        *out = ExtractedValue::Number(v.number());
        return;
      case jmespath::Value::Kind::kString:
        out->kind = ExtractedValue::Kind::kString;
        out->str.assign(v.str());
        return;
      case jmespath::Value::Kind::kArray:
      case jmespath::Value::Kind::kObject:
        out->kind = ExtractedValue::Kind::kString;
        out->str.clear();
        v.AppendJson(&out->str);
        return;
    }
  }

  const StageContext ctx_;
  bool ExtractedKeysRead(std::vector<std::string>* keys) const override {
    if (has_source_) keys->push_back(source_);  // else the line
    return true;
  }

  const std::vector<std::pair<std::string, jmespath::Expression>> exprs_;
  const std::unique_ptr<RE2> regex_;
  const std::string source_;
  const bool has_source_;
  const bool drop_malformed_;
  JsonParser parser_;
  std::string scratch_;
};

}  // namespace

std::unique_ptr<Stage> NewJsonStage(config::Decoder& d, const StageContext& ctx) {
  StageErrors errs(d);
  std::map<std::string, std::string> expressions;
  std::string regex, source;
  bool drop_malformed = false;
  d.StringMap("expressions", &expressions);
  d.String("regex", &regex);
  const bool has_source = d.String("source", &source);
  d.Bool("drop_malformed", &drop_malformed);
  bool ok = true;
  if (expressions.empty() && regex.empty()) {
    errs.Block("JMES expressions or regex is required");
    ok = false;
  } else if (has_source && source.empty()) {
    errs.At("source", "empty source");
    ok = false;
  }
  std::vector<std::pair<std::string, jmespath::Expression>> compiled;
  if (ok) {
    for (const auto& [name, expr] : expressions) {
      // An empty expression means the key itself.
      const std::string& text = expr.empty() ? name : expr;
      absl::StatusOr<jmespath::Expression> e = jmespath::Expression::Compile(text);
      if (!e.ok()) {
        errs.At("expressions",
                absl::StrCat("could not compile JMES expression: ", e.status().message(),
                             " (expression \"", text, "\" for \"", name, "\")"));
        continue;
      }
      compiled.emplace_back(name, std::move(*e));
    }
  }
  std::unique_ptr<RE2> re;
  if (ok) OptionalRegex(d, errs, "regex", &re);
  if (!errs.Finish()) return nullptr;
  return std::make_unique<JsonStage>(ctx, std::move(compiled), std::move(re), std::move(source),
                                     has_source, drop_malformed);
}

}  // namespace sluice
