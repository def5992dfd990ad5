// Helpers shared by module.cc and module_build.cc. Loading thread.
#pragma once

#include <map>
#include <string>

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

}  // namespace sluice::config
