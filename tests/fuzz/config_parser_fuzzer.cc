// libFuzzer target for the configuration language: arbitrary bytes through the parser, the
// formatter, the module loader and the evaluator. Nothing may crash, hang or recurse without
// bound (nesting is limited by the parser); invariants are checked with __builtin_trap() so
// that libFuzzer reports a violation as a crash. Single-threaded, as libFuzzer calls it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/config/eval.h"
#include "agent/config/format.h"
#include "agent/config/module.h"
#include "agent/config/parser.h"

namespace {

using namespace sluice::config;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

const Registry& FuzzRegistry() {
  static const Registry* r = new Registry{
      {"loki.write", "loki.process", "loki.source.file", "local.file_match", "discovery.relabel"},
      {"logging"},
      {},
      {}};
  return *r;
}

// Renders the first few diagnostics: each prints its source lines, so rendering thousands of
// errors over one long line is quadratic by design (as in Alloy) and would only slow fuzzing.
void RenderSome(const Diags& d, const std::map<std::string, std::string>& sources) {
  Diags some;
  for (size_t i = 0; i < d.list().size() && i < 20; ++i) {
    some.Append(d.list()[i].span, d.list()[i].message);
  }
  (void)RenderAll(some, sources);
}

void EvaluateBlocks(const File& f) {
  Scope scope;
  for (const Stmt& s : f.body) {
    if (s.block) {
      Block b;
      Diags d;
      bool ok = EvalBlock(f.name, *s.block, scope, &b, &d);
      Check(ok == d.ok());
    } else if (s.attr) {
      Value v;
      Diags d;
      bool ok = EvalExpr(f.name, *s.attr->value, scope, &v, &d);
      Check(ok == d.ok());
      if (ok) (void)v.ToString();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;  // configs are small; keep each run quick
  std::string text(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::string> sources{{"fuzz.alloy", text}};

  Diags diags;
  std::optional<File> file = ParseFile("fuzz.alloy", text, &diags);
  Check(file.has_value() == diags.ok());
  // Rendering must cope with any span over any text.
  RenderSome(diags, sources);

  if (file) {
    // Formatting a parsed file gives text that parses again and formats to itself.
    std::string once = Format(*file);
    Diags again;
    std::optional<File> reparsed = ParseFile("fuzz.alloy", once, &again);
    Check(reparsed.has_value());
    Check(Format(*reparsed) == once);
    EvaluateBlocks(*file);
  }

  Diags mdiags;
  std::optional<Module> m = Module::Parse("fuzz.alloy", text, FuzzRegistry(), &mdiags);
  Check(m.has_value() == mdiags.ok());
  if (m) {
    for (const Component* c : m->All()) {
      Block b;
      Diags d;
      m->Evaluate(*c, &b, &d);
      RenderSome(d, m->sources());
      m->SetExports(c->id, Value::MakeObject({}));
    }
  } else {
    RenderSome(mdiags, sources);
  }
  return 0;
}
