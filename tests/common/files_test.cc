// ReadFileLimited: the bytes, a clear error for a missing file, and a bound.
#include "agent/common/files.h"

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace sluice {
namespace {

TEST(ReadFileLimitedTest, ReadsMissingAndTooLarge) {
  testing::TempDir dir;
  testing::WriteFile(dir.Join("a"), std::string("x\0y", 3));
  absl::StatusOr<std::string> got = ReadFileLimited(dir.Join("a"), 3);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, std::string("x\0y", 3));
  EXPECT_EQ(ReadFileLimited(dir.Join("a"), 2).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ReadFileLimited(dir.Join("none"), 10).status().message(),
            "open " + dir.Join("none") + ": No such file or directory");
}

}  // namespace
}  // namespace sluice
