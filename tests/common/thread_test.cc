#include "agent/common/thread.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace sluice {
namespace {

TEST(ThreadTest, AnEscapedExceptionIsLoggedWithTheThreadAndExitsNonZero) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_EXIT(
      {
        std::thread t = StartThread("sluice-test", [] { throw std::runtime_error("boom"); });
        t.join();
      },
      ::testing::ExitedWithCode(kThreadFailureExitCode), "thread=sluice-test.*boom");
  EXPECT_EXIT(RunGuarded("main", [] { throw 42; }),
              ::testing::ExitedWithCode(kThreadFailureExitCode), "not a std::exception");
}

TEST(ThreadTest, ABodyThatReturnsJustEnds) {
  int ran = 0;
  std::thread t = StartThread("sluice-test", [&] { ++ran; });
  t.join();
  EXPECT_EQ(ran, 1);
}

}  // namespace
}  // namespace sluice
