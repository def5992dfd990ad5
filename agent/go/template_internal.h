// Internals of the text/template implementation (template.h) shared by its two files: the
// function table and the syntax tree that the parser (template.cc) builds and the executor
// (template_exec.cc) runs. Not for use outside agent/go/template*.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/go/template.h"

namespace sluice {

// ---------------------------------------------------------------------------------------------
// Functions

enum class Fn {
  kAnd,
  kOr,
  kNot,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kLen,
  kPrint,
  kToLower,
  kToUpper,
  kReplace,
  kTrim,
  kTrimLeft,
  kTrimRight,
  kTrimPrefix,
  kTrimSuffix,
  kTrimSpace,
  kHash,
  kSha2Hash,
  kRegexReplaceAll,
  kRegexReplaceAllLiteral,
  kLower,
  kUpper,
  kSprigTrim,
  kTrimAll,
  kSprigTrimPrefix,
  kSprigTrimSuffix,
  kSprigReplace,
  kContains,
  kHasPrefix,
  kHasSuffix,
  kRepeat,
  kSubstr,
  kTrunc,
  kDefault,
  kEmpty,
  kQuote,
  kSquote,
  kSha256sum,
};

// Parameter kinds: 'S' string, 'I' int, 'A' any; a trailing '*' makes the last one variadic.
struct FnDef {
  std::string_view name;
  Fn fn;
  std::string_view params;
};

// The function called `name` in a template, or nullptr.
const FnDef* FindFunction(std::string_view name);

// ---------------------------------------------------------------------------------------------
// AST

struct TPipeline;

struct TArg {
  enum class Kind { kDot, kField, kFunc, kString, kInt, kFloat, kBool, kNil, kPipe };
  Kind kind = Kind::kDot;
  std::vector<std::string> fields;  // kField: .a.b -> {"a", "b"}
  std::string str;                  // kString
  int64_t i = 0;
  double f = 0;
  bool b = false;
  const FnDef* fn = nullptr;
  std::shared_ptr<TPipeline> pipe;
};

struct TCommand {
  std::vector<TArg> args;
};

struct TPipeline {
  std::vector<TCommand> cmds;
};

struct TemplateNode {
  enum class Kind { kText, kAction, kIf };
  Kind kind = Kind::kText;
  std::string text;
  TPipeline pipe;
  std::vector<TemplateNode> then_list;
  std::vector<TemplateNode> else_list;
};

// Runs the nodes of `list` on `data`, appending to *out; false on an execution error.
bool ExecuteTemplate(const std::vector<TemplateNode>& list, const TemplateData& data,
                     std::string* out);

}  // namespace sluice
