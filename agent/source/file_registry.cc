#include "agent/source/file_registry.h"

#include <sys/stat.h>

#include "agent/common/strings.h"

namespace sluice {

NameState CheckName(const std::string& path, const FileIdentity& id) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return NameState::kGone;
  return st.st_dev == id.device && st.st_ino == id.inode ? NameState::kSame : NameState::kReplaced;
}

TailFile* FileRegistry::Find(uint64_t id) const {
  auto it = files_.find(id);
  return it == files_.end() ? nullptr : it->second.get();
}

TailFile* FileRegistry::AtPath(std::string_view path) const {
  auto it = by_path_.find(Av(path));
  return it == by_path_.end() ? nullptr : files_.at(it->second).get();
}

TailFile* FileRegistry::AtInode(Key key) const {
  auto it = by_inode_.find(key);
  return it == by_inode_.end() ? nullptr : files_.at(it->second).get();
}

const std::string* FileRegistry::LinkTo(std::string_view real_path) const {
  auto it = link_targets_.find(Av(real_path));
  return it == link_targets_.end() ? nullptr : &it->second;
}

TailFile* FileRegistry::Add(std::unique_ptr<TailFile> file) {
  TailFile* f = file.get();
  by_path_[f->path] = f->id;
  by_inode_[f->inode_key()] = f->id;
  files_[f->id] = std::move(file);
  return f;
}

void FileRegistry::AddAlias(TailFile* f, const std::string& real_path) {
  f->alias = real_path;
  by_path_[real_path] = f->id;
  link_targets_[real_path] = f->path;
}

void FileRegistry::MoveName(TailFile* f, const std::string& path) {
  by_path_.erase(f->path);
  f->path = path;
  by_path_[path] = f->id;
}

void FileRegistry::Renamed(TailFile* f, const std::string& path) {
  auto own = by_path_.find(f->path);
  if (own != by_path_.end() && own->second == f->id) by_path_.erase(own);
  if (!f->alias.empty()) {
    auto a = by_path_.find(f->alias);
    if (a != by_path_.end() && a->second == f->id) by_path_.erase(a);
    f->alias.clear();
  }
  f->path = path;
  by_path_[f->path] = f->id;
}

void FileRegistry::DropInode(const TailFile* f) { by_inode_.erase(f->inode_key()); }

void FileRegistry::Forget(TailFile* f) {
  auto p = by_path_.find(f->path);
  if (p != by_path_.end() && p->second == f->id) by_path_.erase(p);
  if (!f->alias.empty()) {
    auto a = by_path_.find(f->alias);
    if (a != by_path_.end() && a->second == f->id) by_path_.erase(a);
    auto l = link_targets_.find(f->alias);
    if (l != link_targets_.end() && !by_path_.contains(l->second)) link_targets_.erase(l);
  }
  files_.erase(f->id);
}

}  // namespace sluice
