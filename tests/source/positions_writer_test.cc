#include "agent/source/positions_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/support/temp_dir.h"

namespace sluice {
namespace {

using ::sluice::testing::ReadFile;
using ::sluice::testing::TempDir;
using ::sluice::testing::WriteFile;

// Results as the writer reports them, waited for by the test (no sleeps).
struct Results {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<absl::Status, bool>> got;
  PositionsWriter::ResultFn Fn() {
    return [this](const absl::Status& s, bool synced) {
      std::lock_guard<std::mutex> l(mu);
      got.emplace_back(s, synced);
      cv.notify_all();
    };
  }
  bool WaitFor(size_t n) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, std::chrono::seconds(10), [&] { return got.size() >= n; });
  }
};

TEST(PositionsWriterTest, SubmitWritesTheNewestDocument) {
  TempDir dir;
  std::string path = dir.Join("state/positions.yml");
  Results results;
  {
    PositionsWriter w(path, absl::Hours(1), results.Fn());
    for (int i = 0; i < 100; ++i) w.Submit(absl::StrCat("doc ", i, "\n"));
    // The last one lands; documents submitted while one was being written were replaced.
    ASSERT_TRUE(results.WaitFor(1));
    absl::Status flushed = w.Flush("final\n");
    ASSERT_TRUE(flushed.ok()) << flushed;
    EXPECT_EQ(ReadFile(path), "final\n");
    EXPECT_LE(w.writes(), 101u);
  }
  std::lock_guard<std::mutex> l(results.mu);
  ASSERT_FALSE(results.got.empty());
  for (const auto& [s, synced] : results.got) EXPECT_TRUE(s.ok()) << s;
  EXPECT_TRUE(results.got.back().second) << "Flush syncs";
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST(PositionsWriterTest, DestructorWritesWhatIsPending) {
  TempDir dir;
  std::string path = dir.Join("positions.yml");
  Results results;
  {
    PositionsWriter w(path, absl::Hours(1), results.Fn());
    w.Submit("one\n");
    w.Submit("two\n");
  }
  EXPECT_EQ(ReadFile(path), "two\n");
}

TEST(PositionsWriterTest, FailuresAreReportedAndTheNextDocumentIsTried) {
  TempDir dir;
  // The positions path is a non-empty directory: the rename fails.
  std::string path = dir.Join("positions.yml");
  WriteFile(path + "/inside", "x");
  Results results;
  PositionsWriter w(path, absl::ZeroDuration(), results.Fn());
  w.Submit("doc\n");
  ASSERT_TRUE(results.WaitFor(1));
  {
    std::lock_guard<std::mutex> l(results.mu);
    EXPECT_FALSE(results.got[0].first.ok());
    EXPECT_THAT(std::string(results.got[0].first.message()), ::testing::HasSubstr(path));
  }
  ASSERT_EQ(std::remove((path + "/inside").c_str()), 0);
  ASSERT_EQ(rmdir(path.c_str()), 0);
  w.Submit("doc again\n");
  ASSERT_TRUE(results.WaitFor(2));
  {
    std::lock_guard<std::mutex> l(results.mu);
    EXPECT_TRUE(results.got[1].first.ok()) << results.got[1].first;
    EXPECT_TRUE(results.got[1].second) << "a zero sync interval syncs every write";
  }
  EXPECT_EQ(ReadFile(path), "doc again\n");
}

TEST(PositionsWriterTest, AnEmptyDocumentIsRefusedNotWritten) {
  TempDir dir;
  std::string path = dir.Join("positions.yml");
  WriteFile(path, "kept\n");
  Results results;
  PositionsWriter w(path, absl::Hours(1), results.Fn());
  EXPECT_FALSE(w.Flush("").ok());
  EXPECT_EQ(ReadFile(path), "kept\n");
}

}  // namespace
}  // namespace sluice
