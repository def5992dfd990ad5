// Golden tests of the configuration language: every file in testdata/valid (and each directory
// there, loaded as one configuration) loads and evaluates without error; every
// testdata/invalid/<case>.alloy fails with exactly the text of <case>.err, rendered as `alloy
// run` prints it. File names in the errors are relative to testdata/, as given to Load.
// SLUICE_UPDATE_GOLDEN=1 rewrites the .err files (review the diff before committing).
#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "agent/config/module.h"
#include "gtest/gtest.h"
#include "tests/config/test_registry.h"

namespace sluice::config {
namespace {

const std::string kTestdata = std::string(SLUICE_SOURCE_DIR) + "/tests/config/testdata";

std::vector<std::string> List(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Loads `path` (relative to testdata/) and evaluates every block in order with the exports a
// running pipeline would give; returns every error rendered.
std::string LoadAndEvaluate(const std::string& path) {
  Diags diags;
  std::optional<Module> m = Module::Load(path, test::TestRegistry(), &diags);
  if (!m) return RenderAll(diags, {});  // sources below
  for (const Component* c : m->All()) {
    Block block;
    if (m->Evaluate(*c, &block, &diags)) m->SetExports(c->id, test::FakeExports(*c));
  }
  return RenderAll(diags, m->sources());
}

std::string LoadErrors(const std::string& path) {
  Diags diags;
  std::optional<Module> m = Module::Load(path, test::TestRegistry(), &diags);
  if (!m) {
    // Render with the file's text: Load failed before a Module could hold the sources.
    std::map<std::string, std::string> sources{{path, Slurp(path)}};
    return RenderAll(diags, sources);
  }
  for (const Component* c : m->All()) {
    Block block;
    if (m->Evaluate(*c, &block, &diags)) m->SetExports(c->id, test::FakeExports(*c));
  }
  return RenderAll(diags, m->sources());
}

class GoldenTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(chdir(kTestdata.c_str()), 0); }
};

TEST_F(GoldenTest, ValidFilesLoadAndEvaluate) {
  std::vector<std::string> names = List("valid");
  ASSERT_FALSE(names.empty());
  for (const std::string& n : names) {
    SCOPED_TRACE(n);
    EXPECT_EQ(LoadAndEvaluate("valid/" + n), "");
  }
}

TEST_F(GoldenTest, InvalidFilesFailWithAlloysMessages) {
  std::vector<std::string> names = List("invalid");
  int cases = 0;
  const bool update = getenv("SLUICE_UPDATE_GOLDEN") != nullptr;
  for (const std::string& n : names) {
    if (n.size() < 6 || n.substr(n.size() - 6) != ".alloy") continue;
    ++cases;
    SCOPED_TRACE(n);
    std::string path = "invalid/" + n;
    std::string got = LoadErrors(path);
    std::string err_path = path.substr(0, path.size() - 6) + ".err";
    if (update) {
      std::ofstream(err_path, std::ios::binary) << got;
      continue;
    }
    EXPECT_NE(got, "");
    EXPECT_EQ(got, Slurp(err_path));
  }
  EXPECT_GE(cases, 13);
}

}  // namespace
}  // namespace sluice::config
