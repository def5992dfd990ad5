// TempDir: a fresh directory under $TMPDIR (or /tmp) removed with everything in it when the
// object dies. Test-only; single-threaded use.
#pragma once

#include <string>
#include <string_view>

namespace sluice::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + rel
  std::string Join(std::string_view rel) const;

 private:
  std::string path_;
};

// Writes (truncating) or appends `data` to `path`, creating parent directories. Aborts the test
// binary on failure: a test that cannot write its input has nothing to say.
void WriteFile(const std::string& path, std::string_view data);
void AppendFile(const std::string& path, std::string_view data);
std::string ReadFile(const std::string& path);

}  // namespace sluice::testing
