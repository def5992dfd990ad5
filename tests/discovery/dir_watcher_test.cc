#include "agent/discovery/dir_watcher.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "tests/support/temp_dir.h"

namespace sluice {
namespace {

using ::sluice::testing::TempDir;
using ::sluice::testing::WriteFile;

class DirWatcherTest : public ::testing::Test {
 protected:
  // Runs the loop until `fired` moves or 5 s pass (inotify events are real, not simulated).
  bool RunUntilFired(int want) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (fired_ < want && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_for(std::chrono::milliseconds(100));
    }
    return fired_ >= want;
  }
  void Drain() {
    io_.restart();
    io_.poll();
  }
  boost::asio::io_context io_;
  int fired_ = 0;
  TempDir dir_;
};

TEST_F(DirWatcherTest, NewFilesAndDirectoriesAtAnyWatchedDepthFire) {
  std::string root = dir_.Join("pods");
  std::filesystem::create_directories(root);
  DirWatcher w(&io_, absl::ZeroDuration(), 1000, [&] { ++fired_; });
  w.SetRoots({{root, 2}});
  EXPECT_EQ(w.watched(), 1u);
  std::filesystem::create_directories(root + "/ns_pod_uid/app");
  ASSERT_TRUE(RunUntilFired(1));
  // The new directories are watched (depth 1 and 2), so a file deep down fires again.
  WriteFile(root + "/ns_pod_uid/app/0.log", "x\n");
  ASSERT_TRUE(RunUntilFired(2));
  EXPECT_EQ(w.watched(), 3u);
}

TEST_F(DirWatcherTest, DepthIsBoundedByThePattern) {
  std::string root = dir_.Join("r");
  std::filesystem::create_directories(root + "/a/b/c");
  DirWatcher w(&io_, absl::ZeroDuration(), 1000, [&] { ++fired_; });
  w.SetRoots({{root, 1}});
  EXPECT_EQ(w.watched(), 2u);  // r and r/a; not r/a/b
  DirWatcher all(&io_, absl::ZeroDuration(), 1000, [] {});
  all.SetRoots({{root, -1}});
  EXPECT_EQ(all.watched(), 4u);
}

TEST_F(DirWatcherTest, WatchLimitIsRespectedAndMissingRootsComeLater) {
  std::string root = dir_.Join("later");
  DirWatcher w(&io_, absl::ZeroDuration(), 2, [&] { ++fired_; });
  w.SetRoots({{root, -1}});
  EXPECT_EQ(w.watched(), 0u);
  std::filesystem::create_directories(root + "/a/b/c");
  w.Refresh();
  EXPECT_EQ(w.watched(), 2u);
}

TEST_F(DirWatcherTest, BurstsAreDebouncedIntoOneCall) {
  std::string root = dir_.Join("burst");
  std::filesystem::create_directories(root);
  DirWatcher w(&io_, absl::Milliseconds(200), 1000, [&] { ++fired_; });
  w.SetRoots({{root, 0}});
  for (int i = 0; i < 20; ++i) WriteFile(root + "/f" + std::to_string(i) + ".log", "x");
  ASSERT_TRUE(RunUntilFired(1));
  Drain();
  EXPECT_EQ(fired_, 1);
}

}  // namespace
}  // namespace sluice
