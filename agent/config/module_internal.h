// Helpers shared by module.cc and module_build.cc. Loading thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "agent/config/module.h"

namespace sluice::config {

// Definitions visible in one body: its declares and import namespaces, then the parent's.
struct Module::Defs {
  const Defs* parent = nullptr;
  struct Declare {
    const BlockStmt* block = nullptr;
    std::string file;
    const Defs* home = nullptr;  // the Defs it was found in: its body's parent
    std::string module_path;
  };
  std::map<std::string, Declare> declares;
  std::map<std::string, const Defs*> imports;  // namespace -> the module's top-level Defs
  std::string module_path;
};

// A file's text, or every *.alloy directly in a directory (by full path, subdirectories not
// read). false with `error` ("open x: No such file or directory") on failure.
bool ReadModuleFiles(const std::string& path, std::map<std::string, std::string>* sources,
                     std::string* error);
bool IsDirectory(const std::string& path);

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
  void WalkExpr(const Expr& e) {
    Walk(e);
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

inline std::string ChainName(const TraversalCollector::Chain& chain, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out.push_back('.');
    out += chain[i]->text;
  }
  return out;
}

}  // namespace sluice::config
