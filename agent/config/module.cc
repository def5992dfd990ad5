#include "agent/config/module.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <queue>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/common/files.h"
#include "agent/common/strings.h"
#include "agent/config/eval.h"
#include "agent/config/module_internal.h"
#include "agent/config/parser.h"
#include "agent/config/stdlib.h"
#include "agent/go/strconv.h"

namespace sluice::config {
namespace {

// Go's filepath.Join(dir, name): the joined path, cleaned.
std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string p = absl::StrCat(Av(dir), "/", Av(name));
  bool rooted = !p.empty() && p[0] == '/';
  std::vector<std::string> parts;
  for (absl::string_view part : absl::StrSplit(p, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
        continue;
      }
      if (rooted) continue;
    }
    parts.emplace_back(part);
  }
  std::string out = (rooted ? "/" : "") + absl::StrJoin(parts, "/");
  return out.empty() ? "." : out;
}

// A configuration file or module: bounded, so that a name like /dev/zero cannot hang a load.
constexpr size_t kMaxConfigFileBytes = 64 << 20;

bool ReadWholeFile(const std::string& path, std::string* out, std::string* error) {
  absl::StatusOr<std::string> text = ReadFileLimited(path, kMaxConfigFileBytes);
  if (!text.ok()) {
    *error = std::string(text.status().message());
    return false;
  }
  *out = std::move(*text);
  return true;
}

}  // namespace

Module::~Module() = default;
Module::Module(Module&&) = default;
Module& Module::operator=(Module&&) = default;

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool ReadModuleFiles(const std::string& p, std::map<std::string, std::string>* sources,
                     std::string* error) {
  struct stat st;
  if (stat(p.c_str(), &st) != 0) {
    *error = absl::StrCat("stat ", p, ": ", std::strerror(errno));
    return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    std::string text;
    if (!ReadWholeFile(p, &text, error)) return false;
    (*sources)[p] = std::move(text);
    return true;
  }
  // Every *.alloy directly in the directory; subdirectories are not read.
  DIR* dir = opendir(p.c_str());
  if (dir == nullptr) {
    *error = absl::StrCat("open ", p, ": ", std::strerror(errno));
    return false;
  }
  std::vector<std::string> names;
  while (dirent* ent = readdir(dir)) {
    std::string name = ent->d_name;
    if (name == "." || name == "..") continue;
    if (name.size() < 6 || name.compare(name.size() - 6, 6, ".alloy") != 0) continue;
    std::string full = JoinPath(p, name);
    if (IsDirectory(full)) continue;
    names.push_back(std::move(full));
  }
  closedir(dir);
  for (const std::string& full : names) {
    std::string text;
    if (!ReadWholeFile(full, &text, error)) return false;
    (*sources)[full] = std::move(text);
  }
  return true;
}

std::optional<Module> Module::Load(std::string_view path, const Registry& registry, Diags* diags) {
  std::string p(path);
  std::map<std::string, std::string> sources;
  std::string error;
  if (!ReadModuleFiles(p, &sources, &error)) {
    diags->Add(Span{p, {}, {}}, error);
    return std::nullopt;
  }
  // module_path: the directory of the configuration (the path itself when a directory).
  std::string module_path = p;
  if (!IsDirectory(p)) {
    size_t slash = p.rfind('/');
    module_path = slash == std::string::npos ? "." : (slash == 0 ? "/" : p.substr(0, slash));
  }
  return ParseSources(std::move(sources), registry, diags, module_path);
}

std::optional<Module> Module::Parse(std::string name, std::string text, const Registry& registry,
                                    Diags* diags) {
  std::map<std::string, std::string> sources;
  sources[std::move(name)] = std::move(text);
  return ParseSources(std::move(sources), registry, diags);
}

std::optional<Module> Module::ParseSources(std::map<std::string, std::string> sources,
                                           const Registry& registry, Diags* diags,
                                           std::string module_path) {
  Module m;
  m.scopes_.emplace_back();
  m.scopes_[0].module_path = std::move(module_path);
  m.sources_ = std::move(sources);
  bool ok = true;
  for (const auto& [name, text] : m.sources_) {
    std::optional<File> f = ParseFile(name, text, diags);
    if (!f) {
      ok = false;
      continue;
    }
    // Only blocks at the top level: the first attribute found fails the file.
    for (const Stmt& s : f->body) {
      if (s.attr) {
        diags->Add(MakeSpan(name, s.attr->name_pos,
                            s.attr->name_pos.Add(static_cast<int>(s.attr->name.size()) - 1)),
                   "unrecognized attribute " + s.attr->name);
        ok = false;
        break;
      }
    }
    m.files_.push_back(std::move(*f));
  }
  if (!ok) return std::nullopt;
  if (!m.Build(registry, diags)) return std::nullopt;
  return m;
}

bool Module::ResolveAndSort(Diags* diags) {
  const size_t before = diags->list().size();
  auto failed = [&] { return diags->list().size() > before || !diags->ok(); };
  bool error = false;

  // References: the longest-known prefix rule of Alloy's ResolveTraversal (the shortest prefix
  // that names a node wins), among the names of the node's scope.
  auto resolve = [&](const std::string& file, int scope, const auto& chains,
                     std::set<std::string>* deps) {
    const EvalScope& sc = scopes_[static_cast<size_t>(scope)];
    for (const auto& chain : chains) {
      bool found = false;
      for (size_t n = 1; n <= chain.size(); ++n) {
        auto it = sc.local.find(ChainName(chain, n));
        if (it != sc.local.end()) {
          deps->insert(nodes_[static_cast<size_t>(it->second)].id);
          found = true;
          break;
        }
      }
      if (found || chain[0]->text == "module_path" || StdlibLookup(chain[0]->text) != nullptr) {
        continue;
      }
      diags->Add(MakeSpan(file, chain.front()->pos, EndLoc(*chain.back())),
                 absl::StrCat("component ", GoQuote(ChainName(chain, chain.size())),
                              " does not exist or is out of scope"));
      error = true;
    }
  };
  for (Component& c : nodes_) {
    std::set<std::string> deps;
    if (c.kind == NodeKind::kInstance) {
      for (const auto& [name, id] : c.exports) deps.insert(id);
    } else if (c.kind == NodeKind::kArgument) {
      TraversalCollector tc;
      if (c.expr != nullptr) {
        tc.WalkExpr(*c.expr);
      } else {
        for (const Stmt& s : c.ast->body) {
          if (s.attr && s.attr->name == "default") tc.WalkExpr(*s.attr->value);
        }
      }
      resolve(c.expr_file, c.expr_scope, tc.chains, &deps);
    } else {
      TraversalCollector tc;
      tc.Walk(c.ast->body);
      resolve(c.file, c.scope, tc.chains, &deps);
    }
    c.deps.assign(deps.begin(), deps.end());
  }

  // Cycles (strongly connected components of more than one node) and self references.
  const int n = static_cast<int>(nodes_.size());
  std::vector<std::vector<int>> out(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    for (const std::string& d : nodes_[static_cast<size_t>(i)].deps)
      out[static_cast<size_t>(i)].push_back(by_id_[d]);
  }
  {
    std::vector<int> index(static_cast<size_t>(n), -1), low(static_cast<size_t>(n), 0);
    std::vector<bool> on_stack(static_cast<size_t>(n), false);
    std::vector<int> stack;
    int counter = 0;
    // Iterative Tarjan: a configuration with thousands of components must not exhaust the stack.
    for (int root = 0; root < n; ++root) {
      if (index[static_cast<size_t>(root)] >= 0) continue;
      std::vector<std::pair<int, size_t>> work{{root, 0}};
      while (!work.empty()) {
        auto& [v, next] = work.back();
        const size_t vi = static_cast<size_t>(v);
        if (next == 0 && index[vi] < 0) {
          index[vi] = low[vi] = counter++;
          stack.push_back(v);
          on_stack[vi] = true;
        }
        if (next < out[vi].size()) {
          int w = out[vi][next++];
          const size_t wi = static_cast<size_t>(w);
          if (index[wi] < 0) {
            work.emplace_back(w, 0);
          } else if (on_stack[wi]) {
            low[vi] = std::min(low[vi], index[wi]);
          }
          continue;
        }
        if (low[vi] == index[vi]) {
          std::vector<std::string> scc;
          for (;;) {
            int w = stack.back();
            stack.pop_back();
            on_stack[static_cast<size_t>(w)] = false;
            scc.push_back(nodes_[static_cast<size_t>(w)].id);
            if (w == v) break;
          }
          if (scc.size() > 1) {
            diags->Add(Span{}, "cycle: " + absl::StrJoin(scc, ", "));
            error = true;
          }
        }
        int done = v;
        work.pop_back();
        if (!work.empty()) {
          size_t pi = static_cast<size_t>(work.back().first);
          low[pi] = std::min(low[pi], low[static_cast<size_t>(done)]);
        }
      }
    }
  }
  for (int i = 0; i < n; ++i) {
    for (int d : out[static_cast<size_t>(i)]) {
      if (d == i) {
        diags->Add(Span{}, "self reference: " + nodes_[static_cast<size_t>(i)].id);
        error = true;
      }
    }
  }
  if (error || failed()) return false;

  // Dependency order: Kahn's algorithm, lowest source index first among the ready nodes.
  std::vector<int> pending(static_cast<size_t>(n), 0);
  std::vector<std::vector<int>> users(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    for (int d : out[static_cast<size_t>(i)]) {
      ++pending[static_cast<size_t>(i)];
      users[static_cast<size_t>(d)].push_back(i);
    }
  }
  // Source order: files by name, then position; nodes_ holds config blocks first.
  std::vector<int> rank(static_cast<size_t>(n));
  {
    std::vector<int> idx(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = i;
    std::sort(idx.begin(), idx.end(), [&](int a, int b) {
      const Component& x = nodes_[static_cast<size_t>(a)];
      const Component& y = nodes_[static_cast<size_t>(b)];
      if (x.file != y.file) return x.file < y.file;
      return x.ast->name_pos.offset < y.ast->name_pos.offset;
    });
    for (int r = 0; r < n; ++r) rank[static_cast<size_t>(idx[static_cast<size_t>(r)])] = r;
  }
  auto later = [&](int a, int b) {
    return rank[static_cast<size_t>(a)] > rank[static_cast<size_t>(b)];
  };
  std::priority_queue<int, std::vector<int>, decltype(later)> ready(later);
  for (int i = 0; i < n; ++i) {
    if (pending[static_cast<size_t>(i)] == 0) ready.push(i);
  }
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    order_.push_back(i);
    for (int u : users[static_cast<size_t>(i)]) {
      if (--pending[static_cast<size_t>(u)] == 0) ready.push(u);
    }
  }
  return true;
}

namespace {

// Component ids as a tree of names, turned into nested objects for the scope.
struct IdNode {
  std::map<std::string, IdNode, std::less<>> children;
  const Value* exports = nullptr;
};

Value IdNodeValue(const IdNode& n) {
  if (n.children.empty() && n.exports != nullptr) return *n.exports;
  Object o;
  if (n.exports != nullptr && n.exports->kind() == Value::Kind::kObject) o = n.exports->as_object();
  for (const auto& [k, child] : n.children) o[k] = IdNodeValue(child);
  return Value::MakeObject(std::move(o));
}

}  // namespace

const Scope& Module::ScopeOf(int scope) const {
  const EvalScope& sc = scopes_[static_cast<size_t>(scope)];
  if (!sc.dirty && sc.scope != nullptr) return *sc.scope;
  // loki.write.default -> loki{write{default{<exports>}}}; a component whose exports were
  // never set is an empty object.
  static const Value* const kEmpty = new Value(Value::MakeObject({}));
  IdNode root;
  for (const auto& [local, idx] : sc.local) {
    const Component& c = nodes_[static_cast<size_t>(idx)];
    if (c.config_block) continue;
    IdNode* n = &root;
    for (absl::string_view part : absl::StrSplit(local, '.')) n = &n->children[std::string(part)];
    auto it = exports_.find(c.id);
    n->exports = it != exports_.end() ? &it->second : kEmpty;
  }
  auto out = std::make_unique<Scope>();
  for (const auto& [k, child] : root.children) out->Set(k, IdNodeValue(child));
  out->Set("module_path", Value::String(sc.module_path));
  sc.scope = std::move(out);
  sc.dirty = false;
  return *sc.scope;
}

std::vector<const Component*> Module::Order() const {
  std::vector<const Component*> out;
  for (int i : order_) {
    const Component& c = nodes_[static_cast<size_t>(i)];
    if (c.kind == NodeKind::kComponent) out.push_back(&c);
  }
  return out;
}

std::vector<const Component*> Module::ConfigBlocks() const {
  std::vector<const Component*> out;
  for (int i : order_) {
    if (nodes_[static_cast<size_t>(i)].config_block) out.push_back(&nodes_[static_cast<size_t>(i)]);
  }
  return out;
}

std::vector<const Component*> Module::All() const {
  std::vector<const Component*> out;
  for (int i : order_) out.push_back(&nodes_[static_cast<size_t>(i)]);
  return out;
}

const Component* Module::Find(std::string_view id) const {
  auto it = by_id_.find(Av(id));
  return it == by_id_.end() ? nullptr : &nodes_[static_cast<size_t>(it->second)];
}

void Module::SetExports(const std::string& id, Value exports) {
  exports_[id] = std::move(exports);
  // Rebuilt by the next Evaluate in that scope: setting n exports costs O(n), not O(n^2).
  auto it = by_id_.find(id);
  if (it != by_id_.end()) {
    scopes_[static_cast<size_t>(nodes_[static_cast<size_t>(it->second)].scope)].dirty = true;
  } else {
    for (EvalScope& sc : scopes_) sc.dirty = true;
  }
}

const Value* Module::Exports(std::string_view id) const {
  auto it = exports_.find(id);
  return it == exports_.end() ? nullptr : &it->second;
}

bool Module::Evaluate(const Component& c, Block* out, Diags* diags) const {
  *out = Block{};
  return EvalBlock(c.file, *c.ast, ScopeOf(c.scope), out, diags);
}

bool Module::EvaluateValue(const Component& c, Diags* diags) {
  Value v;
  switch (c.kind) {
    case NodeKind::kArgument: {
      const Expr* e = c.expr;
      if (e == nullptr) {
        for (const Stmt& s : c.ast->body) {
          if (s.attr && s.attr->name == "default") e = s.attr->value.get();
        }
      }
      if (e != nullptr && !EvalExpr(c.expr_file, *e, ScopeOf(c.expr_scope), &v, diags)) {
        return false;
      }
      Object o;
      o["value"] = std::move(v);
      SetExports(c.id, Value::MakeObject(std::move(o)));
      return true;
    }
    case NodeKind::kExport: {
      for (const Stmt& s : c.ast->body) {
        if (s.attr && s.attr->name == "value" &&
            !EvalExpr(c.file, *s.attr->value, ScopeOf(c.scope), &v, diags)) {
          return false;
        }
      }
      SetExports(c.id, std::move(v));
      return true;
    }
    case NodeKind::kInstance: {
      Object o;
      for (const auto& [name, id] : c.exports) {
        const Value* e = Exports(id);
        o[name] = e != nullptr ? *e : Value();
      }
      SetExports(c.id, Value::MakeObject(std::move(o)));
      return true;
    }
    default:
      return true;
  }
}

std::vector<std::string> Module::DirectDependents(std::string_view id) const {
  std::vector<std::string> out;
  for (const Component& c : nodes_) {
    if (std::binary_search(c.deps.begin(), c.deps.end(), std::string(id))) out.push_back(c.id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Module::Dependents(std::string_view id) const {
  std::set<std::string> seen;
  std::vector<std::string> queue{std::string(id)};
  while (!queue.empty()) {
    std::string cur = std::move(queue.back());
    queue.pop_back();
    for (std::string& d : DirectDependents(cur)) {
      if (seen.insert(d).second) queue.push_back(std::move(d));
    }
  }
  seen.erase(std::string(id));
  return {seen.begin(), seen.end()};
}

}  // namespace sluice::config
