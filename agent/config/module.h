// A loaded configuration: the files of `alloy run <file|dir>`, their component blocks and the
// graph of references between them.
//
// Load parses every file (a directory: each *.alloy directly in it, sorted by name), sorts the
// top-level blocks into components (names in Registry::components) and config blocks (names in
// Registry::config_blocks, e.g. "logging"), and checks what Alloy's loader checks before
// running anything: unknown block names, components without a label, config blocks with one,
// duplicate ids, references to components that do not exist, cycles. Each check reports with
// Alloy's wording and position. Evaluation is separate: the caller walks Order(), evaluates
// each component with Evaluate (its references resolve to the exports set so far with
// SetExports), builds it, and sets its exports for the components after it.
//
// Owned by whoever loads the configuration; used on that thread only (Evaluate refreshes the
// scope after SetExports). Movable; Component and
// AST pointers stay valid across moves.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/config/ast.h"
#include "agent/config/body.h"
#include "agent/config/diag.h"
#include "agent/config/eval.h"
#include "agent/config/value.h"

namespace sluice::config {

// What an import.http or import.git block asks for; the loader's caller fetches it (the
// configuration code does no I/O beyond reading files).
struct ImportRequest {
  std::string kind;  // "http" or "git"
  std::string id;    // global id of the import block: "import.git.mods", "a.x/import.http.m"
  // http: url, method, headers, body, poll_timeout. git: repository, revision, path.
  std::string url;
  std::string method = "GET";
  std::map<std::string, std::string> headers;
  std::string body;
  absl::Duration timeout = absl::Seconds(10);
  std::string revision = "main";
  std::string path;
};
// Fetched module sources: file name -> text (a directory of a repository gives several).
struct ImportResult {
  std::map<std::string, std::string> sources;
  std::string module_path;  // what `module_path` is inside the module
};
using ImportFetcher = std::function<absl::StatusOr<ImportResult>(const ImportRequest&)>;
// The exports of a value component (local.file, remote.kubernetes.*) read at load, for an
// import.string whose content uses them; `poll`: how often it would read again. NotFound for a
// component that is not one.
using ValueReader = std::function<absl::StatusOr<Value>(const std::string& name, const Block& args,
                                                        absl::Duration* poll)>;

// What the agent knows how to run.
struct Registry {
  absl::flat_hash_set<std::string> components;     // "loki.write", "local.file_match", ...
  absl::flat_hash_set<std::string> config_blocks;  // "logging"
  ImportFetcher fetch;     // import.http and import.git; unset: they are errors
  ValueReader read_value;  // import.string content from components; unset: an error
};

// What a node of the graph is. Custom components (declare) are expanded at load: an instance
// becomes an instance node (its exports), one argument node per argument (evaluated in the
// instance's scope) and export node per export (in the body's scope), and the body's
// components with ids prefixed by the instance's ("k8s.feature/loki.process.x", Alloy's global
// ids).
enum class NodeKind { kComponent, kConfig, kArgument, kExport, kInstance };

struct Component {
  std::string name;   // "loki.write"
  std::string label;  // "default"; "" for a config block
  std::string id;     // global: "loki.write.default", "logging", "mod.x/loki.write.default"
  std::string file;   // the file the block is in (as named in sources())
  Span span;          // the block's header: name and label
  const BlockStmt* ast = nullptr;
  std::vector<std::string> deps;  // global ids it references directly, sorted, no repeats
  bool config_block = false;
  NodeKind kind = NodeKind::kComponent;
  int scope = 0;  // the scope its references resolve in (0: the root)
  // kArgument: the value given by the instance (nullptr: the argument block's default), in
  // `expr_file`, resolved in scope `expr_scope`.
  const Expr* expr = nullptr;
  std::string expr_file;
  int expr_scope = 0;
  // kInstance: the global ids of its export nodes, with their names.
  std::vector<std::pair<std::string, std::string>> exports;

  bool is_value() const {
    return kind == NodeKind::kArgument || kind == NodeKind::kExport || kind == NodeKind::kInstance;
  }
};

// A module loaded by an import block, kept for the poller: what it was read from and its text.
struct LoadedImport {
  std::string id;    // global id of the import block
  std::string kind;  // "file", "string", "http", "git"
  std::string filename;
  ImportRequest request;
  absl::Duration poll_frequency = absl::Minutes(1);
  std::map<std::string, std::string> sources;  // as read at load
  // import.string whose content uses value components: each as read at load (the poller reads
  // them again every poll_frequency and reloads when one changed).
  struct ValueSource {
    std::string name;  // "local.file"
    Block args;
    Value exports;
  };
  std::vector<ValueSource> value_sources;
};

class Module {
 public:
  // `path` is a file or a directory. nullopt with `diags` filled on any error; file names in
  // errors and in sources() are `path` itself or `path`/<name>.
  static std::optional<Module> Load(std::string_view path, const Registry& registry, Diags* diags);
  // One file's text, named `name` (tests, config from a string).
  static std::optional<Module> Parse(std::string name, std::string text, const Registry& registry,
                                     Diags* diags);
  // Several files: name -> text, processed in name order. `module_path` is the variable of
  // that name (the directory of the configuration).
  static std::optional<Module> ParseSources(std::map<std::string, std::string> sources,
                                            const Registry& registry, Diags* diags,
                                            std::string module_path = "");

  Module(Module&&);
  Module& operator=(Module&&);
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  ~Module();

  // file name -> text, for Render (diag.h).
  const std::map<std::string, std::string>& sources() const { return sources_; }
  const std::deque<File>& files() const { return files_; }

  // Components (not config blocks, not value nodes) in dependency order: every component after
  // the ones it references; ties in source order (files by name, then position).
  std::vector<const Component*> Order() const;
  // Config blocks (e.g. logging), in dependency order.
  std::vector<const Component*> ConfigBlocks() const;
  // Every node: components, config blocks and value nodes, in dependency order.
  std::vector<const Component*> All() const;
  // Modules read by import blocks (for polling).
  const std::vector<LoadedImport>& imports() const { return imports_; }
  const Component* Find(std::string_view id) const;

  // Sets the exports of component `id` (an Object: {receiver = capsule}, {targets = [...]}),
  // visible to components evaluated afterwards as `<id>.<field>`. A component whose exports
  // were never set exports an empty object (references to its fields then fail with
  // `field "x" does not exist`).
  void SetExports(const std::string& id, Value exports);
  const Value* Exports(std::string_view id) const;

  // Evaluates c's body with the standard library and the exports set so far. false with one
  // diagnostic (Alloy's message, span in c's file) on error.
  bool Evaluate(const Component& c, Block* out, Diags* diags) const;
  // Evaluates a value node (argument, export, instance) and sets its exports. false with one
  // diagnostic on error.
  bool EvaluateValue(const Component& c, Diags* diags);

  // Ids of the components and config blocks that reference `id`, directly or through others
  // (transitively), sorted.
  std::vector<std::string> Dependents(std::string_view id) const;
  // Only those that reference `id` directly, sorted.
  std::vector<std::string> DirectDependents(std::string_view id) const;

 private:
  struct Expander;
  // Names visible to the expressions of one body: the root file(s), or one custom component
  // instance. `local` maps the ids as written in the body to nodes.
  struct EvalScope {
    std::string prefix;  // "" or "mod.x/"
    std::string module_path;
    std::map<std::string, int, std::less<>> local;
    // Variables for evaluation, rebuilt after SetExports: local ids as nested objects.
    mutable std::unique_ptr<Scope> scope;
    mutable bool dirty = true;
  };

  Module() = default;
  bool Build(const Registry& registry, Diags* diags);
  bool ResolveAndSort(Diags* diags);
  const Scope& ScopeOf(int scope) const;

  std::map<std::string, std::string> sources_;
  std::deque<File> files_;        // a deque: imports append while earlier files are walked
  std::vector<Component> nodes_;  // source order
  std::vector<int> order_;        // indexes into nodes_, dependency order
  absl::flat_hash_map<std::string, int> by_id_;
  std::map<std::string, Value, std::less<>> exports_;
  std::vector<EvalScope> scopes_;
  std::vector<LoadedImport> imports_;
  // Definitions (declare and import blocks) by scope; kept for the lifetime of the module.
  struct Defs;
  std::vector<std::unique_ptr<Defs>> defs_;
};

}  // namespace sluice::config
