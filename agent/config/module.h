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

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "agent/config/ast.h"
#include "agent/config/body.h"
#include "agent/config/diag.h"
#include "agent/config/eval.h"
#include "agent/config/value.h"

namespace sluice::config {

// What the agent knows how to run.
struct Registry {
  absl::flat_hash_set<std::string> components;     // "loki.write", "local.file_match", ...
  absl::flat_hash_set<std::string> config_blocks;  // "logging"
};

struct Component {
  std::string name;   // "loki.write"
  std::string label;  // "default"; "" for a config block
  std::string id;     // "loki.write.default"; "logging"
  std::string file;   // the file the block is in (as named in sources())
  Span span;          // the block's header: name and label
  const BlockStmt* ast = nullptr;
  std::vector<std::string> deps;  // ids it references directly, sorted, no repeats
  bool config_block = false;
};

class Module {
 public:
  // `path` is a file or a directory. nullopt with `diags` filled on any error; file names in
  // errors and in sources() are `path` itself or `path`/<name>.
  static std::optional<Module> Load(std::string_view path, const Registry& registry, Diags* diags);
  // One file's text, named `name` (tests, config from a string).
  static std::optional<Module> Parse(std::string name, std::string text, const Registry& registry,
                                     Diags* diags);
  // Several files: name -> text, processed in name order.
  static std::optional<Module> ParseSources(std::map<std::string, std::string> sources,
                                            const Registry& registry, Diags* diags);

  Module(Module&&) = default;
  Module& operator=(Module&&) = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  ~Module();

  // file name -> text, for Render (diag.h).
  const std::map<std::string, std::string>& sources() const { return sources_; }
  const std::vector<File>& files() const { return files_; }

  // Components (not config blocks) in dependency order: every component after the ones it
  // references; ties in source order (files by name, then position).
  std::vector<const Component*> Order() const;
  // Config blocks (e.g. logging), in dependency order.
  std::vector<const Component*> ConfigBlocks() const;
  // Components and config blocks together, in dependency order.
  std::vector<const Component*> All() const;
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

  // Ids of the components and config blocks that reference `id`, directly or through others
  // (transitively), sorted.
  std::vector<std::string> Dependents(std::string_view id) const;
  // Only those that reference `id` directly, sorted.
  std::vector<std::string> DirectDependents(std::string_view id) const;

 private:
  Module() = default;
  bool Build(const Registry& registry, Diags* diags);
  void RebuildScope() const;

  std::map<std::string, std::string> sources_;
  std::vector<File> files_;
  std::vector<Component> nodes_;  // source order
  std::vector<int> order_;        // indexes into nodes_, dependency order
  absl::flat_hash_map<std::string, int> by_id_;
  std::map<std::string, Value, std::less<>> exports_;
  // Variables for evaluation, rebuilt by SetExports: component ids as nested objects.
  mutable std::unique_ptr<Scope> scope_;
  mutable bool scope_dirty_ = false;
};

}  // namespace sluice::config
