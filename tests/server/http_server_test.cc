#include "agent/server/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/support/http_request.h"

namespace sluice {
namespace {

using Got = ::sluice::testing::HttpResponse;

Got Get(int port, const std::string& path) {
  return ::sluice::testing::HttpRequest("GET", absl::StrCat("http://127.0.0.1:", port, path));
}

// A slow handler that holds until the test opens the gate, counting who is inside.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  int inside = 0;
  int entered = 0;
  void Pass() {
    std::unique_lock<std::mutex> l(mu);
    ++inside;
    ++entered;
    cv.notify_all();
    cv.wait(l, [&] { return open; });
    --inside;
  }
  bool WaitEntered(int n) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, std::chrono::seconds(30), [&] { return entered >= n; });
  }
  void Open() {
    std::lock_guard<std::mutex> l(mu);
    open = true;
    cv.notify_all();
  }
};

TEST(HttpServerTest, SlowPathsRunOneAtATimeOffTheServerThreads) {
  Gate gate;
  HttpServer server(
      [&gate](const std::string&, const std::string& target) {
        if (target.starts_with("/slow")) {
          gate.Pass();
          return HttpReply{200, "text/plain", "slow done\n"};
        }
        return HttpReply{200, "text/plain", "fast\n"};
      },
      {"/slow"});
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  int port = server.port();
  // One slow request running and kMaxSlowPending waiting: more than the server has threads.
  std::vector<std::future<Got>> slow;
  slow.push_back(std::async(std::launch::async, [port] { return Get(port, "/slow?1"); }));
  ASSERT_TRUE(gate.WaitEntered(1));
  for (size_t i = 0; i < HttpServer::kMaxSlowPending; ++i) {
    slow.push_back(std::async(std::launch::async,
                              [port, i] { return Get(port, absl::StrCat("/slow?", i + 2)); }));
  }
  // The server threads are free: fast paths are answered while they all wait.
  for (int tries = 0; tries < 3000 && server.slow_pending() < HttpServer::kMaxSlowPending;
       ++tries) {
    EXPECT_EQ(Get(port, "/fast").body, "fast\n");
  }
  ASSERT_EQ(server.slow_pending(), HttpServer::kMaxSlowPending);
  EXPECT_EQ(Get(port, "/fast").body, "fast\n");
  // One more is refused at once rather than held.
  Got refused = Get(port, "/slow?extra");
  EXPECT_EQ(refused.status, 503);
  EXPECT_THAT(refused.body, ::testing::HasSubstr("busy"));
  {
    std::lock_guard<std::mutex> l(gate.mu);
    EXPECT_EQ(gate.inside, 1) << "one slow handler at a time";
  }
  gate.Open();
  for (auto& f : slow) {
    Got g = f.get();
    EXPECT_EQ(g.status, 200);
    EXPECT_EQ(g.body, "slow done\n");
  }
  server.Stop();
}

TEST(HttpServerTest, StopWithASlowHandlerRunningReturns) {
  Gate gate;
  auto server = std::make_unique<HttpServer>(
      [&gate](const std::string&, const std::string&) {
        gate.Pass();
        return HttpReply{};
      },
      std::vector<std::string>{"/slow"});
  ASSERT_TRUE(server->Start("127.0.0.1:0").ok());
  int port = server->port();
  auto pending = std::async(std::launch::async, [port] { return Get(port, "/slow"); });
  ASSERT_TRUE(gate.WaitEntered(1));
  // Stopped and destroyed while the handler runs: Stop waits for the handler, whose reply goes to
  // a stopped server (no answer) or, if it was quicker than the stop, is written as usual.
  auto stopped = std::async(std::launch::async, [&] { server.reset(); });
  gate.Open();
  stopped.get();
  long status = pending.get().status;
  EXPECT_TRUE(status == 0 || status == 200) << status;
}

}  // namespace
}  // namespace sluice
