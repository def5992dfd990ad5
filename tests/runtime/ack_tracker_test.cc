#include "agent/runtime/ack_tracker.h"

#include <tuple>
#include <vector>

#include "gtest/gtest.h"

namespace sluice {
namespace {

struct Recorder {
  std::vector<std::tuple<uint64_t, uint64_t, int64_t>> commits;
  AckTracker::CommitFn fn() {
    return [this](uint64_t id, uint64_t gen, int64_t off) { commits.emplace_back(id, gen, off); };
  }
  int64_t last() const { return commits.empty() ? -1 : std::get<2>(commits.back()); }
};

TEST(AckTrackerTest, OneSlotCommitsWhatItAcknowledges) {
  Recorder r;
  AckTracker t(r.fn());
  t.Handed(0, 7, 0, 100);
  t.Handed(0, 7, 0, 200);
  EXPECT_TRUE(r.commits.empty());
  t.Acked(0, 7, 0, 100);
  EXPECT_EQ(r.last(), 100);
  t.Acked(0, 7, 0, 200);
  EXPECT_EQ(r.last(), 200);
}

TEST(AckTrackerTest, TwoEndpointsCommitOnlyWhatBothHave) {
  Recorder r;
  AckTracker t(r.fn());
  t.Handed(0, 7, 0, 100);
  t.Handed(1, 7, 0, 100);
  t.Acked(0, 7, 0, 100);
  EXPECT_TRUE(r.commits.empty()) << "the second endpoint has not taken it yet";
  t.Handed(0, 7, 0, 300);
  t.Handed(1, 7, 0, 300);
  t.Acked(0, 7, 0, 300);
  EXPECT_TRUE(r.commits.empty());
  t.Acked(1, 7, 0, 100);
  EXPECT_EQ(r.last(), 100);
  t.Acked(1, 7, 0, 300);
  EXPECT_EQ(r.last(), 300);
  EXPECT_EQ(r.commits.size(), 2u);
}

TEST(AckTrackerTest, ASlotThatOwesNothingDoesNotHoldBack) {
  Recorder r;
  AckTracker t(r.fn());
  t.Handed(0, 7, 0, 100);
  t.Handed(1, 7, 0, 100);
  t.Acked(0, 7, 0, 100);
  t.Acked(1, 7, 0, 100);
  EXPECT_EQ(r.last(), 100);
  // A new tenant slot appears later and gets the later marks only.
  t.Handed(0, 7, 0, 150);
  t.Handed(1, 7, 0, 150);
  t.Handed(2, 7, 0, 150);
  t.Acked(0, 7, 0, 150);
  t.Acked(1, 7, 0, 150);
  EXPECT_EQ(r.last(), 100) << "slot 2 still owes 150";
  t.Acked(2, 7, 0, 150);
  EXPECT_EQ(r.last(), 150);
}

TEST(AckTrackerTest, NewGenerationForgetsOldMarks) {
  Recorder r;
  AckTracker t(r.fn());
  t.Handed(0, 7, 0, 500);
  t.Handed(0, 7, 1, 50);  // truncated, read again from zero
  t.Acked(0, 7, 0, 500);  // an old batch comes back: ignored
  EXPECT_TRUE(r.commits.empty());
  t.Acked(0, 7, 1, 50);
  ASSERT_EQ(r.commits.size(), 1u);
  EXPECT_EQ(r.commits[0], std::make_tuple(uint64_t{7}, uint64_t{1}, int64_t{50}));
}

TEST(AckTrackerTest, UnroutedMarksCommitAtOnceUnlessASlotOwes) {
  Recorder r;
  AckTracker t(r.fn());
  t.Unrouted(9, 0, 40);
  EXPECT_EQ(r.last(), 40);
  t.Handed(0, 9, 0, 60);
  t.Unrouted(9, 0, 80);
  EXPECT_EQ(r.last(), 40);
  t.Acked(0, 9, 0, 60);
  EXPECT_EQ(r.last(), 80);
}

TEST(AckTrackerTest, FilesAreIndependentAndForgettable) {
  Recorder r;
  AckTracker t(r.fn());
  t.Handed(0, 1, 0, 10);
  t.Handed(0, 2, 0, 20);
  t.Acked(0, 2, 0, 20);
  ASSERT_EQ(r.commits.size(), 1u);
  EXPECT_EQ(std::get<0>(r.commits[0]), 2u);
  EXPECT_EQ(t.tracked_files(), 2u);
  t.Forget(1);
  t.Forget(2);
  EXPECT_EQ(t.tracked_files(), 0u);
  t.Acked(0, 1, 0, 10);  // a late ack for a forgotten file
  EXPECT_EQ(r.commits.size(), 1u);
}

}  // namespace
}  // namespace sluice
