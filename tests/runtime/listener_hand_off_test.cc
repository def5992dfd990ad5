// ListenerHandOff: bytes posted count against the budget until their job runs on the tail
// thread; the router's in-flight bytes are seen after each job; a stopped component's jobs are
// told so. The io_context is run by hand (poll), so no thread and no timing is involved.
#include "agent/runtime/listener_hand_off.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <vector>

#include "agent/common/clock.h"

namespace sluice {
namespace {

class ListenerHandOffTest : public ::testing::Test {
 protected:
  boost::asio::io_context io_;
  // Keeps poll() from stopping the context when it runs out of jobs (it would then need restart).
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  FakeClock clock_;
  LogsRouter router_{&io_, &clock_};
};

TEST_F(ListenerHandOffTest, PostedBytesCountUntilTheirJobRuns) {
  ListenerHandOff h(&io_, &router_, 100);
  EXPECT_FALSE(h.Full(1000));  // nothing held: one request larger than the budget still goes
  std::vector<bool> ran;
  h.Post(60, [&](bool stopped) { ran.push_back(stopped); });
  EXPECT_FALSE(h.Full(39));
  EXPECT_TRUE(h.Full(40));
  h.Post(50, [&](bool stopped) { ran.push_back(stopped); });
  EXPECT_TRUE(h.Full());
  io_.poll();
  EXPECT_EQ(ran, (std::vector<bool>{false, false}));
  EXPECT_FALSE(h.Full());  // both handed on; the router holds nothing
}

TEST_F(ListenerHandOffTest, TheRoutersInflightBytesAreSeenAfterEachJob) {
  ListenerHandOff h(&io_, &router_, 100);
  h.Post(10, [&](bool) { router_.AddInflight(150); });
  io_.poll();
  // Full() asks the tail thread to look at the router again (it may have drained since), one
  // request at a time.
  EXPECT_TRUE(h.Full());
  EXPECT_TRUE(h.Full());
  EXPECT_EQ(io_.poll(), 1u);
  EXPECT_TRUE(h.Full());  // still 150 held
  EXPECT_EQ(io_.poll(), 1u);
}

TEST_F(ListenerHandOffTest, JobsAfterStopAreToldSo) {
  ListenerHandOff h(&io_, &router_, 100);
  std::vector<bool> ran;
  h.Post(10, [&](bool stopped) { ran.push_back(stopped); });
  h.Stop();
  EXPECT_TRUE(h.stopped());
  io_.poll();
  EXPECT_EQ(ran, (std::vector<bool>{true}));
}

}  // namespace
}  // namespace sluice
