// Module::Build: the blocks of the loaded files into graph nodes, custom components (declare)
// expanded, modules of import blocks read, references resolved per scope, cycles refused, and
// the dependency order. Alloy's rules and messages (internal/runtime/internal/controller):
//  - a declare body is checked only when instantiated, in a scope that holds its own
//    components, its arguments and module_path, nothing of the enclosing file;
//  - definitions are found lexically: the body's own declares, then the enclosing ones, up to the
//    file; a declare from an import sees only its module's definitions;
//  - an imported module holds only declare and import blocks.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <queue>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/common/strings.h"
#include "agent/config/decode.h"
#include "agent/config/module.h"
#include "agent/config/module_internal.h"
#include "agent/config/parser.h"
#include "agent/config/stdlib.h"
#include "agent/go/strconv.h"

namespace sluice::config {

namespace {

constexpr int kMaxModuleDepth = 32;
// Instances of instances multiply: a config of a few lines could otherwise ask for 2^32 nodes.
constexpr size_t kMaxNodes = 20'000;

std::string PosString(const std::string& file, Loc l) {
  return absl::StrCat(file, ":", l.line, ":", l.col);
}

Span NameSpan(const std::string& file, const BlockStmt& b) {
  std::string name = b.FullName();
  return MakeSpan(file, b.name_pos, b.name_pos.Add(static_cast<int>(name.size()) - 1));
}

bool IsImport(const std::string& name) { return absl::StartsWith(name, "import."); }

// Alloy's message for a name it does not know; for one of Alloy's own namespaces, what sluice
// does not run and why.
std::string UnknownComponent(const std::string& name) {
  static constexpr const char* kOther[] = {"prometheus.",
                                           "otelcol.",
                                           "pyroscope.",
                                           "beyla.",
                                           "faro.",
                                           "mimir.",
                                           "database_observability.",
                                           "tempo.",
                                           "discovery.",
                                           "remote.",
                                           "local.",
                                           "loki."};
  for (const char* ns : kOther) {
    if (!absl::StartsWith(name, ns)) continue;
    std::string_view n(ns);
    if (n == "discovery." || n == "remote." || n == "local." || n == "loki.") {
      return absl::StrCat("component ", GoQuote(name), " is not supported by sluice");
    }
    return absl::StrCat("component ", GoQuote(name),
                        " is not supported by sluice: it ships logs; metrics, traces and "
                        "profiles components (and otelcol.* other than otelcol.exporter.loki) "
                        "are not run");
  }
  return absl::StrCat("cannot find the definition of component name ", GoQuote(name));
}

}  // namespace

// Walks bodies and adds nodes. One per Build.
struct Module::Expander {
  Module& m;
  const Registry& registry;
  Diags* diags;
  bool error = false;
  // Declares being expanded, outermost first (cycles).
  std::vector<const BlockStmt*> stack;
  std::vector<std::string> stack_names;

  void Fail(Span span, std::string message) {
    diags->Add(std::move(span), std::move(message));
    error = true;
  }

  Defs* NewDefs(const Defs* parent, std::string module_path) {
    m.defs_.push_back(std::make_unique<Defs>());
    Defs* d = m.defs_.back().get();
    d->parent = parent;
    d->module_path = std::move(module_path);
    return d;
  }

  int NewScope(std::string prefix, std::string module_path) {
    EvalScope s;
    s.prefix = std::move(prefix);
    s.module_path = std::move(module_path);
    m.scopes_.push_back(std::move(s));
    return static_cast<int>(m.scopes_.size()) - 1;
  }

  int AddNode(Component c) {
    int idx = static_cast<int>(m.nodes_.size());
    m.by_id_[c.id] = idx;
    m.nodes_.push_back(std::move(c));
    return idx;
  }

  // Registers the declares and imports of `body` in `defs` (which belongs to scope `scope`).
  // `module_only`: an imported module's top level (only declare and import blocks).
  void CollectDefs(const StmtList& body, const std::string& file, Defs* defs, int scope,
                   const std::string& prefix, bool module_only) {
    for (const Stmt& s : body) {
      if (!s.block) continue;
      const BlockStmt& b = *s.block;
      std::string name = b.FullName();
      if (name == "declare") {
        if (b.label == "declare") {
          Fail(NameSpan(file, b), "'declare' is not a valid label for a declare block");
          continue;
        }
        auto [it, added] = defs->declares.try_emplace(b.label);
        if (!added) {
          Fail(NameSpan(file, b),
               absl::StrCat("block declare.", b.label, " already declared at ",
                            PosString(it->second.file, it->second.block->name_pos)));
          continue;
        }
        it->second = {&b, file, defs, defs->module_path};
      } else if (IsImport(name)) {
        if (defs->imports.contains(b.label)) {
          Fail(NameSpan(file, b), absl::StrCat("block ", b.Id(), " already declared"));
          continue;
        }
        const Defs* mod = LoadImport(b, file, defs, scope, prefix, body);
        if (mod != nullptr) defs->imports[b.label] = mod;
      } else if (module_only) {
        Fail(NameSpan(file, b),
             absl::StrCat("only declare and import blocks are allowed in a module, got ", name));
      }
    }
  }

  // Reads the module an import block names; its top-level Defs, or nullptr (reported).
  const Defs* LoadImport(const BlockStmt& b, const std::string& file, const Defs* defs, int scope,
                         const std::string& prefix, const StmtList& body);
  // The value components of `body` (local.file, remote.kubernetes.*) that import block `b`
  // references, read now and set in `s` by their names; false (reported) when one cannot be.
  bool ReadValueSources(const BlockStmt& b, const std::string& file, const StmtList& body,
                        const Defs* defs, Scope* s, LoadedImport* li);
  const Defs* ParseModule(std::map<std::string, std::string> sources, std::string module_path,
                          const std::string& id, const Span& at, int scope,
                          const std::string& prefix, bool from_http);

  // The declare `name` (local "x" or "ns.x") visible from `defs`, or nullptr.
  const Defs::Declare* FindDeclare(const Defs* defs, const std::string& name) {
    size_t dot = name.find('.');
    if (dot == std::string::npos) {
      for (const Defs* d = defs; d != nullptr; d = d->parent) {
        auto it = d->declares.find(name);
        if (it != d->declares.end()) return &it->second;
      }
      return nullptr;
    }
    std::string ns = name.substr(0, dot), rest = name.substr(dot + 1);
    for (const Defs* d = defs; d != nullptr; d = d->parent) {
      auto it = d->imports.find(ns);
      if (it == d->imports.end()) continue;
      auto decl = it->second->declares.find(rest);
      return decl == it->second->declares.end() ? nullptr : &decl->second;
    }
    return nullptr;
  }
  // Whether the first segment of `name` is a declare or import label in scope (Alloy then
  // treats the block as a custom component, even where a builtin of that name exists).
  bool IsCustom(const Defs* defs, const std::string& name) {
    std::string first = name.substr(0, name.find('.'));
    for (const Defs* d = defs; d != nullptr; d = d->parent) {
      if (d->declares.contains(first) || d->imports.contains(first)) return true;
    }
    return false;
  }

  using Bodies = std::vector<std::pair<const StmtList*, std::string>>;  // body, its file

  // Adds the nodes of `bodies` (one scope: the root's files, or a declare's body) in scope
  // `scope`, definitions `defs`. `in_module`: a declare body.
  void ExpandBody(const Bodies& bodies, const Defs* defs, int scope, bool in_module) {
    const std::string prefix = m.scopes_[static_cast<size_t>(scope)].prefix;
    std::map<std::string, std::pair<std::string, Loc>> seen;  // local id -> where
    const std::string* cur_file = nullptr;
    auto duplicate = [&](const BlockStmt& b, const std::string& local) {
      const std::string& file = *cur_file;
      auto [it, added] = seen.try_emplace(local, file, b.name_pos);
      if (added) return false;
      Span span = MakeSpan(file, b.name_pos, b.name_pos.Add(static_cast<int>(local.size()) - 1));
      Fail(span, absl::StrCat("block ", local, " already declared at ",
                              PosString(it->second.first, it->second.second)));
      return true;
    };
    // Config blocks first, then components, each in source order (Alloy's graph order).
    for (int pass = 0; pass < 2; ++pass) {
      for (const auto& [body_ptr, file] : bodies) {
        cur_file = &file;
        for (const Stmt& s : *body_ptr) {
          if (!s.block) continue;
          const BlockStmt& b = *s.block;
          const std::string name = b.FullName();
          if (name == "declare" || IsImport(name)) continue;
          const bool config =
              registry.config_blocks.contains(name) || name == "argument" || name == "export";
          if (config != (pass == 0)) continue;
          if (config) {
            ExpandConfig(b, name, file, scope, prefix, in_module, duplicate);
            continue;
          }
          const std::string local = b.Id();
          if (IsCustom(defs, name)) {
            if (duplicate(b, local)) continue;
            ExpandInstance(b, name, file, defs, scope, prefix);
            continue;
          }
          if (!registry.components.contains(name)) {
            Fail(NameSpan(file, b), UnknownComponent(name));
            continue;
          }
          if (b.label.empty()) {
            Fail(NameSpan(file, b),
                 absl::StrCat("component ", GoQuote(name), " must have a label"));
            continue;
          }
          if (duplicate(b, local)) continue;
          Component c;
          c.name = name;
          c.label = b.label;
          c.id = prefix + local;
          c.file = file;
          c.span = BlockHeaderSpan(file, b);
          c.ast = &b;
          c.scope = scope;
          m.scopes_[static_cast<size_t>(scope)].local[local] = AddNode(std::move(c));
        }
      }
    }
  }

  template <typename Dup>
  void ExpandConfig(const BlockStmt& b, const std::string& name, const std::string& file, int scope,
                    const std::string& prefix, bool in_module, Dup& duplicate) {
    if (name == "argument" || name == "export") {
      if (!in_module) {
        Fail(NameSpan(file, b), absl::StrCat(name, " blocks only allowed inside a module"));
        return;
      }
      // Argument and export nodes are made by ExpandInstance, which reads these blocks.
      return;
    }
    if (in_module) {
      Fail(NameSpan(file, b), absl::StrCat(name, " block not allowed inside a module"));
      return;
    }
    if (!b.label.empty()) {
      Fail(MakeSpan(file, b.name_pos, b.lcurly),
           absl::StrCat("block ", GoQuote(name), " does not support specifying labels"));
      return;
    }
    if (duplicate(b, b.Id())) return;
    Component c;
    c.name = name;
    c.id = prefix + b.Id();
    c.file = file;
    c.span = BlockHeaderSpan(file, b);
    c.ast = &b;
    c.config_block = true;
    c.kind = NodeKind::kConfig;
    c.scope = scope;
    m.scopes_[static_cast<size_t>(scope)].local[b.Id()] = AddNode(std::move(c));
  }

  void ExpandInstance(const BlockStmt& b, const std::string& name, const std::string& file,
                      const Defs* defs, int scope, const std::string& prefix);
};

void Module::Expander::ExpandInstance(const BlockStmt& b, const std::string& name,
                                      const std::string& file, const Defs* defs, int scope,
                                      const std::string& prefix) {
  const std::string local = b.Id();
  const Defs::Declare* decl = FindDeclare(defs, name);
  if (decl == nullptr) {
    size_t dot = name.find('.');
    Fail(NameSpan(file, b),
         absl::StrCat(
             "Failed to build component: loading custom component controller: custom "
             "component config not found in the registry, namespace: ",
             GoQuote(dot == std::string::npos ? "" : name.substr(0, dot)),
             ", componentName: ", GoQuote(dot == std::string::npos ? name : name.substr(dot + 1))));
    return;
  }
  for (size_t i = 0; i < stack.size(); ++i) {
    if (stack[i] != decl->block) continue;
    std::vector<std::string> cycle(stack_names.begin() + static_cast<long>(i), stack_names.end());
    Fail(NameSpan(file, b),
         cycle.size() == 1 ? absl::StrCat("self reference: declare.", cycle[0])
                           : absl::StrCat("cycle: declare.", absl::StrJoin(cycle, ", declare.")));
    return;
  }
  if (m.nodes_.size() >= kMaxNodes) {
    Fail(NameSpan(file, b), absl::StrCat("custom components expand to more than ", kMaxNodes,
                                         " components and values"));
    return;
  }
  if (static_cast<int>(stack.size()) >= kMaxModuleDepth) {
    Fail(NameSpan(file, b),
         absl::StrCat("custom components nested deeper than ", kMaxModuleDepth, " levels"));
    return;
  }
  const std::string inst_id = prefix + local;
  Component inst;
  inst.name = name;
  inst.label = b.label;
  inst.id = inst_id;
  inst.file = file;
  inst.span = BlockHeaderSpan(file, b);
  inst.ast = &b;
  inst.kind = NodeKind::kInstance;
  inst.scope = scope;
  const int inst_idx = AddNode(std::move(inst));
  m.scopes_[static_cast<size_t>(scope)].local[local] = inst_idx;

  const int inner = NewScope(inst_id + "/", decl->module_path);
  const Defs* body_defs = NewDefs(decl->home, decl->module_path);
  const StmtList& body = decl->block->body;
  const std::string& dfile = decl->file;
  CollectDefs(body, dfile, const_cast<Defs*>(body_defs), inner, inst_id + "/", false);

  // The instance's attributes are the arguments given.
  std::map<std::string, const AttributeStmt*> given;
  for (const Stmt& s : b.body) {
    if (s.block) {
      Fail(NameSpan(file, *s.block), "nested blocks not supported here");
      continue;
    }
    given[s.attr->name] = s.attr.get();
  }
  std::set<std::string> declared;
  std::vector<std::pair<std::string, std::string>> exports;
  for (const Stmt& s : body) {
    if (!s.block) {
      Fail(MakeSpan(dfile, s.attr->name_pos,
                    s.attr->name_pos.Add(static_cast<int>(s.attr->name.size()) - 1)),
           "unrecognized attribute " + s.attr->name);
      continue;
    }
    const BlockStmt& ab = *s.block;
    const std::string aname = ab.FullName();
    if (aname != "argument" && aname != "export") continue;
    const std::string node_local = ab.Id();
    if (m.scopes_[static_cast<size_t>(inner)].local.contains(node_local)) {
      Fail(NameSpan(dfile, ab), absl::StrCat("block ", node_local, " already declared"));
      continue;
    }
    Component c;
    c.name = aname;
    c.label = ab.label;
    c.id = inst_id + "/" + node_local;
    c.file = dfile;
    c.span = BlockHeaderSpan(dfile, ab);
    c.ast = &ab;
    c.scope = inner;
    if (aname == "export") {
      c.kind = NodeKind::kExport;
      bool has_value = false;
      for (const Stmt& x : ab.body) {
        if (x.attr && x.attr->name == "value") {
          has_value = true;
        } else {
          Fail(x.attr ? MakeSpan(dfile, x.attr->name_pos, x.attr->name_pos)
                      : NameSpan(dfile, *x.block),
               absl::StrCat("unrecognized ", x.attr ? "attribute" : "block", " name ",
                            GoQuote(x.attr ? x.attr->name : x.block->FullName())));
        }
      }
      if (!has_value) Fail(c.span, "missing required attribute \"value\"");
      exports.emplace_back(ab.label, c.id);
    } else {
      c.kind = NodeKind::kArgument;
      declared.insert(ab.label);
      bool optional = false;
      for (const Stmt& x : ab.body) {
        if (x.block || (x.attr->name != "optional" && x.attr->name != "default" &&
                        x.attr->name != "comment")) {
          Fail(x.attr ? MakeSpan(dfile, x.attr->name_pos, x.attr->name_pos)
                      : NameSpan(dfile, *x.block),
               absl::StrCat("unrecognized ", x.attr ? "attribute" : "block", " name ",
                            GoQuote(x.attr ? x.attr->name : x.block->FullName())));
          continue;
        }
        if (x.attr->name == "optional") {
          Value v;
          Scope empty;
          if (EvalExpr(dfile, *x.attr->value, empty, &v, diags)) {
            if (v.kind() != Value::Kind::kBool) {
              Fail(ExprSpan(dfile, *x.attr->value),
                   absl::StrCat("optional should be bool, got ", Av(v.TypeName())));
            } else {
              optional = v.as_bool();
            }
          } else {
            error = true;
          }
        }
      }
      auto g = given.find(ab.label);
      if (g != given.end()) {
        c.expr = g->second->value.get();
        c.expr_file = file;
        c.expr_scope = scope;
      } else if (!optional) {
        Fail(c.span, absl::StrCat("missing required argument ", GoQuote(ab.label), " to module"));
      } else {
        c.expr_file = dfile;
        c.expr_scope = inner;  // the default, evaluated in the body's scope
      }
    }
    m.scopes_[static_cast<size_t>(inner)].local[node_local] = AddNode(std::move(c));
  }
  for (const auto& [arg, attr] : given) {
    if (!declared.contains(arg)) {
      Fail(MakeSpan(file, attr->name_pos, attr->name_pos.Add(static_cast<int>(arg.size()) - 1)),
           absl::StrCat("Provided argument ", GoQuote(arg), " is not defined in the module"));
    }
  }
  m.nodes_[static_cast<size_t>(inst_idx)].exports = exports;

  stack.push_back(decl->block);
  stack_names.push_back(decl->block->label);
  ExpandBody({{&body, dfile}}, body_defs, inner, /*in_module=*/true);
  stack.pop_back();
  stack_names.pop_back();
}

namespace {

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

namespace {

// Component ids to nested objects, as the graph's scope shows them.
struct ValueTree {
  std::map<std::string, ValueTree> children;
  std::optional<Value> leaf;
  Value ToValue() const {
    if (children.empty() && leaf.has_value()) return *leaf;
    Object o;
    if (leaf.has_value() && leaf->kind() == Value::Kind::kObject) o = leaf->as_object();
    for (const auto& [k, child] : children) o[k] = child.ToValue();
    return Value::MakeObject(std::move(o));
  }
};

}  // namespace

bool Module::Expander::ReadValueSources(const BlockStmt& b, const std::string& file,
                                        const StmtList& body, const Defs* defs, Scope* s,
                                        LoadedImport* li) {
  TraversalCollector tc;
  tc.Walk(b.body);
  ValueTree roots;  // "local" -> "file" -> "x" -> exports
  for (const Stmt& st : body) {
    if (!st.block) continue;
    const BlockStmt& vb = *st.block;
    const std::string name = vb.FullName();
    if (name != "local.file" && name != "remote.kubernetes.secret" &&
        name != "remote.kubernetes.configmap") {
      continue;
    }
    const std::string id = vb.Id();
    bool used = false;
    for (const auto& chain : tc.chains) {
      for (size_t n = 1; n <= chain.size() && !used; ++n) used = ChainName(chain, n) == id;
    }
    if (!used) continue;
    Span at = BlockHeaderSpan(file, b);
    if (!registry.read_value) {
      Fail(at, absl::StrCat("import.string content from ", id, " is not available here"));
      return false;
    }
    Scope base;
    base.Set("module_path", Value::String(defs->module_path));
    Block args;
    if (!EvalBlock(file, vb, base, &args, diags)) {
      error = true;
      return false;
    }
    absl::Duration poll = absl::Minutes(1);
    absl::StatusOr<Value> exports = registry.read_value(name, args, &poll);
    if (!exports.ok()) {
      Fail(at, absl::StrCat("Failed to evaluate node for config block: ", id, ": ",
                            exports.status().message()));
      return false;
    }
    li->poll_frequency = std::min(li->poll_frequency, poll);
    li->value_sources.push_back({name, args, *exports});
    // local.file.x -> {local: {file: {x: exports}}}.
    ValueTree* t = &roots;
    for (absl::string_view part : absl::StrSplit(id, '.')) t = &t->children[std::string(part)];
    t->leaf = *exports;
  }
  for (const auto& [k, child] : roots.children) s->Set(k, child.ToValue());
  return true;
}

const Module::Defs* Module::Expander::LoadImport(const BlockStmt& b, const std::string& file,
                                                 const Defs* defs, int scope,
                                                 const std::string& prefix, const StmtList& body) {
  const std::string kind = b.FullName().substr(7);
  const std::string id = prefix + b.Id();
  Span at = BlockHeaderSpan(file, b);
  // Arguments: the stdlib and module_path only (they are read before anything runs).
  Scope s;
  s.Set("module_path", Value::String(defs->module_path));
  LoadedImport li;
  li.id = id;
  li.kind = kind;
  // import.string's content is usually another component's export (local.file.x.content): the
  // value components it names are read first.
  if (kind == "string") {
    li.poll_frequency = absl::InfiniteDuration();
    if (!ReadValueSources(b, file, body, defs, &s, &li)) return nullptr;
  }
  Block args;
  if (!EvalBlock(file, b, s, &args, diags)) {
    error = true;
    return nullptr;
  }
  Decoder d(args, diags);
  std::map<std::string, std::string> sources;
  std::string module_path = defs->module_path;
  if (kind == "file") {
    std::string detector = "fsnotify";
    d.String("filename", &li.filename, Required::kYes);
    d.Duration("poll_frequency", &li.poll_frequency);
    if (d.String("detector", &detector) && detector != "fsnotify" && detector != "poll") {
      d.ErrorAt("detector", absl::StrCat("unrecognized detector ", GoQuote(detector),
                                         ", expected fsnotify or poll"));
    }
    if (!d.Finish()) {
      error = true;
      return nullptr;
    }
    std::string err;
    if (!ReadModuleFiles(li.filename, &sources, &err)) {
      Fail(at,
           absl::StrCat("Failed to evaluate node for config block: failed to read file: ", err));
      return nullptr;
    }
    module_path = IsDirectory(li.filename) ? li.filename : DirOf(li.filename);
  } else if (kind == "string") {
    std::string content;
    d.Secret("content", &content, Required::kYes);
    if (!d.Finish()) {
      error = true;
      return nullptr;
    }
    sources[b.label] = content;
  } else if (kind == "http" || kind == "git") {
    ImportRequest& r = li.request;
    r.kind = kind;
    r.id = id;
    if (kind == "http") {
      d.String("url", &r.url, Required::kYes);
      d.String("method", &r.method);
      d.StringMap("headers", &r.headers);
      d.String("body", &r.body);
      d.Duration("poll_frequency", &li.poll_frequency);
      d.Duration("poll_timeout", &r.timeout);
      d.OptionalBlock("client");
    } else {
      d.String("repository", &r.url, Required::kYes);
      d.String("revision", &r.revision);
      d.String("path", &r.path, Required::kYes);
      d.Duration("pull_frequency", &li.poll_frequency);
      d.OptionalBlock("basic_auth");
      d.OptionalBlock("ssh_key");
      for (const char* special :
           {"HEAD", "FETCH_HEAD", "ORIG_HEAD", "MERGE_HEAD", "CHERRY_PICK_HEAD"}) {
        if (r.revision == special) {
          d.ErrorAt("revision",
                    "revision cannot be a special git reference such as HEAD, FETCH_HEAD, "
                    "ORIG_HEAD, MERGE_HEAD, or CHERRY_PICK_HEAD");
        }
      }
    }
    if (!d.Finish()) {
      error = true;
      return nullptr;
    }
    if (!registry.fetch) {
      Fail(at, absl::StrCat("import.", kind, " is not available here"));
      return nullptr;
    }
    absl::StatusOr<ImportResult> got = registry.fetch(r);
    if (!got.ok()) {
      Fail(at, absl::StrCat("Failed to evaluate node for config block: ", got.status().message()));
      return nullptr;
    }
    sources = std::move(got->sources);
    module_path = got->module_path;
  } else {
    Fail(NameSpan(file, b),
         absl::StrCat("cannot find the definition of component name ", GoQuote(b.FullName())));
    return nullptr;
  }
  li.sources = sources;
  m.imports_.push_back(std::move(li));
  return ParseModule(std::move(sources), module_path, id, at, scope, prefix, kind == "http");
}

const Module::Defs* Module::Expander::ParseModule(std::map<std::string, std::string> sources,
                                                  std::string module_path, const std::string& id,
                                                  const Span& at, int scope,
                                                  const std::string& prefix, bool from_http) {
  Defs* mod = NewDefs(nullptr, module_path);
  for (auto& [name, text] : sources) {
    std::string fname = name;
    if (m.sources_.contains(fname)) fname = absl::StrCat(id, ":", name);
    auto [it, added] = m.sources_.emplace(fname, std::move(text));
    if (!added) continue;  // the same text read twice (two imports of one file)
    std::optional<File> f = ParseFile(fname, it->second, diags);
    if (!f) {
      error = true;
      continue;
    }
    m.files_.push_back(std::move(*f));
    const File& file = m.files_.back();
    for (const Stmt& s : file.body) {
      if (s.attr) {
        Fail(MakeSpan(fname, s.attr->name_pos, s.attr->name_pos),
             "only declare and import blocks are allowed in a module");
      } else if (from_http && s.block->FullName() == "import.file") {
        Fail(at, absl::StrCat("importing a module via import.http (nodeID: ", id,
                              ") that contains an import.file block is not supported"));
      }
    }
    CollectDefs(file.body, fname, mod, scope, prefix, /*module_only=*/true);
  }
  return mod;
}

bool Module::Build(const Registry& registry, Diags* diags) {
  const size_t before = diags->list().size();
  Expander x{*this, registry, diags, false, {}, {}};
  if (scopes_.empty()) x.NewScope("", "");
  Defs* root = x.NewDefs(nullptr, scopes_[0].module_path);
  // Files are read in name order; definitions of every file are visible in all of them.
  const size_t root_files = files_.size();
  for (size_t i = 0; i < root_files; ++i) {
    x.CollectDefs(files_[i].body, files_[i].name, root, 0, "", false);
  }
  // One body made of every file's blocks, in file order.
  Expander::Bodies bodies;
  for (size_t i = 0; i < root_files; ++i) bodies.emplace_back(&files_[i].body, files_[i].name);
  x.ExpandBody(bodies, root, 0, /*in_module=*/false);
  if (x.error || diags->list().size() > before) return false;
  return ResolveAndSort(diags);
}

}  // namespace sluice::config
