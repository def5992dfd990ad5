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
#include "agent/common/strings.h"
#include "agent/config/eval.h"
#include "agent/config/parser.h"
#include "agent/config/stdlib.h"
#include "agent/go/strconv.h"

namespace sluice::config {
namespace {

std::string PosString(const std::string& file, Loc l) {
  return absl::StrCat(file, ":", l.line, ":", l.col);
}

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

bool ReadWholeFile(const std::string& path, std::string* out, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = absl::StrCat("open ", path, ": ", std::strerror(errno));
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

// Collects the reference chains of a body as Alloy's traversal walker does: an identifier
// followed by field accesses (`loki.write.default.receiver`); indexing and calls end a chain.
class TraversalCollector {
 public:
  using Chain = std::vector<const Expr*>;  // the identifier, then each access
  std::vector<Chain> chains;

  void Walk(const StmtList& body) {
    for (const Stmt& s : body) {
      if (s.attr) {
        Walk(*s.attr->value);
      } else {
        Walk(s.block->body);
      }
    }
    Flush();
  }

 private:
  void Flush() {
    if (building_ && !current_.empty()) chains.push_back(current_);
    building_ = false;
    current_.clear();
  }

  void Walk(const Expr& e) {
    switch (e.kind) {
      case ExprKind::kIdent:
        Flush();
        building_ = true;
        current_.push_back(&e);
        return;
      case ExprKind::kAccess:
        Walk(*e.left);
        if (building_) current_.push_back(&e);
        return;
      case ExprKind::kIndex:
        Walk(*e.left);
        Flush();
        Walk(*e.right);
        return;
      case ExprKind::kCall:
        Walk(*e.left);
        Flush();
        for (const auto& a : e.elems) Walk(*a);
        return;
      case ExprKind::kUnary:
      case ExprKind::kParen:
        Walk(*e.left);
        return;
      case ExprKind::kBinary:
        Walk(*e.left);
        Walk(*e.right);
        return;
      case ExprKind::kArray:
        for (const auto& a : e.elems) Walk(*a);
        return;
      case ExprKind::kObject:
        for (const auto& f : e.fields) Walk(*f.value);
        return;
      case ExprKind::kLiteral:
        return;
    }
  }

  bool building_ = false;
  Chain current_;
};

std::string ChainName(const TraversalCollector::Chain& chain, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out.push_back('.');
    out += chain[i]->text;
  }
  return out;
}

}  // namespace

Module::~Module() = default;

std::optional<Module> Module::Load(std::string_view path, const Registry& registry, Diags* diags) {
  std::string p(path);
  struct stat st;
  if (stat(p.c_str(), &st) != 0) {
    diags->Add(Span{p, {}, {}}, absl::StrCat("stat ", p, ": ", std::strerror(errno)));
    return std::nullopt;
  }
  std::map<std::string, std::string> sources;
  if (S_ISDIR(st.st_mode)) {
    // Every *.alloy directly in the directory; subdirectories are not read.
    DIR* dir = opendir(p.c_str());
    if (dir == nullptr) {
      diags->Add(Span{p, {}, {}}, absl::StrCat("open ", p, ": ", std::strerror(errno)));
      return std::nullopt;
    }
    std::vector<std::string> names;
    while (dirent* ent = readdir(dir)) {
      std::string name = ent->d_name;
      if (name == "." || name == "..") continue;
      if (name.size() < 6 || name.compare(name.size() - 6, 6, ".alloy") != 0) continue;
      std::string full = JoinPath(p, name);
      struct stat fst;
      if (stat(full.c_str(), &fst) == 0 && S_ISDIR(fst.st_mode)) continue;
      names.push_back(std::move(full));
    }
    closedir(dir);
    for (const std::string& full : names) {
      std::string text, error;
      if (!ReadWholeFile(full, &text, &error)) {
        diags->Add(Span{full, {}, {}}, error);
        return std::nullopt;
      }
      sources[full] = std::move(text);
    }
  } else {
    std::string text, error;
    if (!ReadWholeFile(p, &text, &error)) {
      diags->Add(Span{p, {}, {}}, error);
      return std::nullopt;
    }
    sources[p] = std::move(text);
  }
  return ParseSources(std::move(sources), registry, diags);
}

std::optional<Module> Module::Parse(std::string name, std::string text, const Registry& registry,
                                    Diags* diags) {
  std::map<std::string, std::string> sources;
  sources[std::move(name)] = std::move(text);
  return ParseSources(std::move(sources), registry, diags);
}

std::optional<Module> Module::ParseSources(std::map<std::string, std::string> sources,
                                           const Registry& registry, Diags* diags) {
  Module m;
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
  m.scope_ = std::make_unique<Scope>();
  m.RebuildScope();
  return m;
}

bool Module::Build(const Registry& registry, Diags* diags) {
  const size_t before = diags->list().size();
  auto failed = [&] { return diags->list().size() > before || !diags->ok(); };
  bool error = false;

  // Config blocks first, then components, each in source order (Alloy adds them to its graph
  // in that order).
  std::vector<std::pair<const File*, const BlockStmt*>> configs, comps;
  for (const File& f : files_) {
    for (const Stmt& s : f.body) {
      if (!s.block) continue;
      if (registry.config_blocks.contains(s.block->FullName())) {
        configs.emplace_back(&f, s.block.get());
      } else {
        comps.emplace_back(&f, s.block.get());
      }
    }
  }

  std::map<std::string, std::pair<const File*, const BlockStmt*>> seen_config, seen_comp;
  auto add_node = [&](const File& f, const BlockStmt& b, bool config) {
    Component c;
    c.name = b.FullName();
    c.label = b.label;
    c.id = b.Id();
    c.file = f.name;
    c.span = BlockHeaderSpan(f.name, b);
    c.ast = &b;
    c.config_block = config;
    by_id_[c.id] = static_cast<int>(nodes_.size());
    nodes_.push_back(std::move(c));
  };
  auto duplicate = [&](auto& seen, const File& f, const BlockStmt& b) {
    std::string id = b.Id();
    auto it = seen.find(id);
    if (it == seen.end()) {
      seen[id] = {&f, &b};
      return false;
    }
    diags->Add(MakeSpan(f.name, b.name_pos, b.name_pos.Add(static_cast<int>(id.size()) - 1)),
               absl::StrCat("block ", id, " already declared at ",
                            PosString(it->second.first->name, it->second.second->name_pos)));
    error = true;
    return true;
  };

  for (auto [f, b] : configs) {
    if (duplicate(seen_config, *f, *b)) continue;
    if (!b->label.empty()) {
      diags->Add(
          MakeSpan(f->name, b->name_pos, b->lcurly),
          absl::StrCat("block ", GoQuote(b->FullName()), " does not support specifying labels"));
      error = true;
      continue;
    }
    add_node(*f, *b, true);
  }
  for (auto [f, b] : comps) {
    if (duplicate(seen_comp, *f, *b)) continue;
    std::string name = b->FullName();
    Span name_span =
        MakeSpan(f->name, b->name_pos, b->name_pos.Add(static_cast<int>(name.size()) - 1));
    if (!registry.components.contains(name)) {
      diags->Add(name_span,
                 absl::StrCat("cannot find the definition of component name ", GoQuote(name)));
      error = true;
      continue;
    }
    if (b->label.empty()) {
      diags->Add(name_span, absl::StrCat("component ", GoQuote(name), " must have a label"));
      error = true;
      continue;
    }
    add_node(*f, *b, false);
  }

  // References: the longest-known prefix rule of Alloy's ResolveTraversal (the shortest prefix
  // that names a node wins).
  for (Component& c : nodes_) {
    TraversalCollector tc;
    tc.Walk(c.ast->body);
    std::set<std::string> deps;
    for (const auto& chain : tc.chains) {
      bool found = false;
      for (size_t n = 1; n <= chain.size(); ++n) {
        std::string id = ChainName(chain, n);
        if (by_id_.contains(id)) {
          deps.insert(id);
          found = true;
          break;
        }
      }
      if (found || StdlibLookup(chain[0]->text) != nullptr) continue;
      diags->Add(MakeSpan(c.file, chain.front()->pos, EndLoc(*chain.back())),
                 absl::StrCat("component ", GoQuote(ChainName(chain, chain.size())),
                              " does not exist or is out of scope"));
      error = true;
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

void Module::RebuildScope() const {
  // loki.write.default -> loki{write{default{<exports>}}}; a component whose exports were
  // never set is an empty object.
  static const Value* const kEmpty = new Value(Value::MakeObject({}));
  IdNode root;
  for (const Component& c : nodes_) {
    if (c.config_block) continue;
    IdNode* n = &root;
    for (absl::string_view part : absl::StrSplit(c.id, '.')) n = &n->children[std::string(part)];
    auto it = exports_.find(c.id);
    n->exports = it != exports_.end() ? &it->second : kEmpty;
  }
  auto scope = std::make_unique<Scope>();
  for (const auto& [k, child] : root.children) scope->Set(k, IdNodeValue(child));
  scope_ = std::move(scope);
  scope_dirty_ = false;
}

std::vector<const Component*> Module::Order() const {
  std::vector<const Component*> out;
  for (int i : order_) {
    if (!nodes_[static_cast<size_t>(i)].config_block)
      out.push_back(&nodes_[static_cast<size_t>(i)]);
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
  scope_dirty_ = true;  // rebuilt by the next Evaluate: setting n exports costs O(n), not O(n^2)
}

const Value* Module::Exports(std::string_view id) const {
  auto it = exports_.find(id);
  return it == exports_.end() ? nullptr : &it->second;
}

bool Module::Evaluate(const Component& c, Block* out, Diags* diags) const {
  if (scope_dirty_) RebuildScope();
  *out = Block{};
  return EvalBlock(c.file, *c.ast, *scope_, out, diags);
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
