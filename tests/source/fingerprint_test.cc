#include "agent/source/fingerprint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace sluice {
namespace {

using ::sluice::testing::AppendFile;
using ::sluice::testing::TempDir;
using ::sluice::testing::WriteFile;

// Owns an fd opened read-only for one test.
class Fd {
 public:
  explicit Fd(const std::string& path) : fd_(open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

TEST(FingerprintBytesTest, IsFnv1a64) {
  // Published FNV-1a 64 test vectors: the value is persisted, so it must never change.
  EXPECT_EQ(FingerprintBytes(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(FingerprintBytes("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(FingerprintBytes("foobar"), 0x85944171f73967e8ULL);
  EXPECT_NE(FingerprintBytes(std::string_view("\0", 1)), FingerprintBytes(""));
}

TEST(FingerprintTest, EmptyFile) {
  TempDir dir;
  WriteFile(dir.Join("empty.log"), "");
  Fd fd(dir.Join("empty.log"));
  ASSERT_GE(fd.get(), 0);
  FileIdentity id;
  ASSERT_TRUE(ComputeFingerprint(fd.get(), &id).ok());
  EXPECT_EQ(id.fingerprint_len, 0u);
  EXPECT_EQ(id.fingerprint, FingerprintBytes(""));
  // An empty file's fingerprint says nothing, so anything matches it.
  AppendFile(dir.Join("empty.log"), "now with content\n");
  EXPECT_EQ(FingerprintMatches(fd.get(), id).value(), true);
}

TEST(FingerprintTest, CoversAtMostMaxBytesAndKeepsFileOffset) {
  TempDir dir;
  std::string content(kFingerprintMaxBytes + 500, 'x');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>('a' + i % 26);
  WriteFile(dir.Join("big.log"), content);
  Fd fd(dir.Join("big.log"));
  ASSERT_GE(lseek(fd.get(), 77, SEEK_SET), 0);
  FileIdentity id;
  ASSERT_TRUE(ComputeFingerprint(fd.get(), &id).ok());
  EXPECT_EQ(id.fingerprint_len, kFingerprintMaxBytes);
  EXPECT_EQ(id.fingerprint, FingerprintBytes(std::string_view(content).substr(0, 1024)));
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), 77);  // pread leaves the read position alone
}

TEST(FingerprintTest, ShortFileThenGrowsStillMatches) {
  TempDir dir;
  WriteFile(dir.Join("a.log"), "first line\n");
  Fd fd(dir.Join("a.log"));
  FileIdentity id;
  ASSERT_TRUE(ComputeFingerprint(fd.get(), &id).ok());
  EXPECT_EQ(id.fingerprint_len, 11u);
  AppendFile(dir.Join("a.log"), std::string(5000, 'z'));
  EXPECT_EQ(FingerprintMatches(fd.get(), id).value(), true);
}

TEST(FingerprintTest, DifferentContentOrTruncatedDoesNotMatch) {
  TempDir dir;
  WriteFile(dir.Join("a.log"), "first line\nsecond line\n");
  FileIdentity id;
  {
    Fd fd(dir.Join("a.log"));
    ASSERT_TRUE(ComputeFingerprint(fd.get(), &id).ok());
  }
  // Same length, different start: a new file that took over the inode.
  WriteFile(dir.Join("a.log"), "FIRST LINE\nsecond line\n");
  {
    Fd fd(dir.Join("a.log"));
    EXPECT_EQ(FingerprintMatches(fd.get(), id).value(), false);
  }
  // Shorter than the fingerprinted prefix (copytruncate).
  WriteFile(dir.Join("a.log"), "first");
  {
    Fd fd(dir.Join("a.log"));
    EXPECT_EQ(FingerprintMatches(fd.get(), id).value(), false);
  }
}

TEST(FingerprintTest, IdentifyFileFillsDeviceAndInode) {
  TempDir dir;
  WriteFile(dir.Join("a.log"), "hello\n");
  Fd fd(dir.Join("a.log"));
  struct stat st;
  ASSERT_EQ(stat(dir.Join("a.log").c_str(), &st), 0);
  auto id = IdentifyFile(fd.get());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->device, static_cast<uint64_t>(st.st_dev));
  EXPECT_EQ(id->inode, static_cast<uint64_t>(st.st_ino));
  EXPECT_EQ(id->fingerprint, FingerprintBytes("hello\n"));
  EXPECT_EQ(id->fingerprint_len, 6u);
}

TEST(FingerprintTest, Errors) {
  FileIdentity id;
  EXPECT_FALSE(ComputeFingerprint(-1, &id).ok());
  EXPECT_FALSE(IdentifyFile(-1).ok());
  id.fingerprint_len = kFingerprintMaxBytes + 1;
  TempDir dir;
  WriteFile(dir.Join("a.log"), "x");
  Fd fd(dir.Join("a.log"));
  EXPECT_EQ(FingerprintMatches(fd.get(), id).status().code(), absl::StatusCode::kInvalidArgument);
  // A directory cannot be pread.
  Fd dfd(dir.path());
  EXPECT_FALSE(ComputeFingerprint(dfd.get(), &id).ok());
}

}  // namespace
}  // namespace sluice
