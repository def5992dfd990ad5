// End-to-end tests of `sluice run`'s HTTP endpoints and reload: the real binary, a config written
// by the test, FakeLoki, and requests made with libcurl.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tests/support/fake_loki.h"
#include "tests/support/http_request.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace sluice {
namespace {

using ::sluice::testing::AppendFile;
using ::sluice::testing::FakeLoki;
using ::sluice::testing::ReadFile;
using ::sluice::testing::Subprocess;
using ::sluice::testing::TempDir;
using ::sluice::testing::WriteFile;
using ::testing::HasSubstr;

using Reply = ::sluice::testing::HttpResponse;

Reply Http(const std::string& method, const std::string& url) {
  return ::sluice::testing::HttpRequest(method, url);
}

// The value of `name{labels}` as the text format shows it (sum over series when `labels` is "").
double Metric(const std::string& text, const std::string& name, const std::string& labels = "") {
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    std::string l(line);
    size_t space = l.rfind(' ');
    std::string series = l.substr(0, space);
    std::string base = series.substr(0, series.find('{'));
    if (base != name) continue;
    if (!labels.empty() && series.find(labels) == std::string::npos) continue;
    double v = 0;
    if (absl::SimpleAtod(l.substr(space + 1), &v)) sum += v;
  }
  return sum;
}

class ServerE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(loki_.Start().ok());
    std::filesystem::create_directories(dir_.Join("logs"));
    WriteConfig("first");
  }
  void TearDown() override {
    if (agent_ && agent_->running()) {
      agent_->Signal(SIGKILL);
      agent_->Wait(absl::Seconds(10));
    }
    if (HasFailure()) {
      std::fprintf(stderr, "--- agent stderr ---\n%s\n", ReadFile(dir_.Join("agent.err")).c_str());
    }
    loki_.Stop();
  }
  std::string Config() { return dir_.Join("config.alloy"); }
  void WriteConfig(const std::string& job, const std::string& extra = "") {
    WriteFile(Config(),
              absl::StrCat("local.file_match \"logs\" {\n  path_targets = [{__path__ = \"",
                           dir_.Join("logs"), "/*.log\", job = \"", job,
                           "\"}]\n}\n"
                           "loki.source.file \"logs\" {\n"
                           "  targets    = local.file_match.logs.targets\n"
                           "  forward_to = [loki.write.default.receiver]\n}\n"
                           "loki.write \"default\" {\n  endpoint {\n    url = \"",
                           loki_.push_url(),
                           "\"\n    batch_wait = \"50ms\"\n    min_backoff_period = "
                           "\"50ms\"\n    max_backoff_period = \"200ms\"\n  }\n}\n",
                           extra));
  }
  void Run(std::vector<std::string> extra = {}) {
    agent_ = std::make_unique<Subprocess>();
    std::vector<std::string> argv = {SLUICE_BINARY,
                                     "run",
                                     Config(),
                                     "--storage.path",
                                     dir_.Join("state"),
                                     "--server.http.listen-addr",
                                     "127.0.0.1:0",
                                     "--shutdown-timeout",
                                     "3s"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    ASSERT_TRUE(agent_->Start(argv, dir_.Join("agent.out"), dir_.Join("agent.err")));
    // The port the kernel gave: in the "started" log line.
    std::regex re("http_port=([0-9]+)");
    absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      std::smatch m;
      std::string err = ReadFile(dir_.Join("agent.err"));
      if (std::regex_search(err, m, re)) {
        base_ = absl::StrCat("http://127.0.0.1:", m[1].str());
        return;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    FAIL() << "the agent never said which port it listens on";
  }
  std::string Scrape() { return Http("GET", base_ + "/metrics").body; }
  template <typename Pred>
  bool WaitFor(Pred pred, absl::Duration timeout = absl::Seconds(20)) {
    absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (pred()) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return pred();
  }

  TempDir dir_;
  FakeLoki loki_;
  std::unique_ptr<Subprocess> agent_;
  std::string base_;
};

// The arguments the grafana/alloy chart renders (clustering on, as its "clustered" preset):
// the agent starts, becomes ready and ships.
TEST_F(ServerE2eTest, AlloyChartArgumentsBecomeReady) {
  WriteFile(dir_.Join("logs/a.log"), "one\n");
  Run({"--server.http.ui-path-prefix=/", "--disable-reporting",
       "--stability.level=generally-available", "--cluster.enabled=true",
       "--cluster.join-addresses=alloy-cluster", "--cluster.name=alloy-logs"});
  EXPECT_TRUE(WaitFor([&] { return Http("GET", base_ + "/-/ready").status == 200; }));
  EXPECT_TRUE(loki_.WaitForEntries(1, absl::Seconds(20)));
}

TEST_F(ServerE2eTest, MetricsMoveAsLinesAreShipped) {
  WriteFile(dir_.Join("logs/a.log"), "one\ntwo\n");
  Run();
  ASSERT_TRUE(loki_.WaitForEntries(2, absl::Seconds(20)));
  Reply r = Http("GET", base_ + "/metrics");
  EXPECT_EQ(r.status, 200);
  ASSERT_TRUE(WaitFor([&] { return Metric(Scrape(), "loki_write_sent_entries_total") == 2; }));
  std::string text = Scrape();
  EXPECT_THAT(text, HasSubstr("# TYPE loki_write_sent_entries_total counter"));
  EXPECT_EQ(Metric(text, "loki_source_file_read_lines_total"), 2);
  EXPECT_EQ(Metric(text, "alloy_config_last_load_successful"), 1);
  EXPECT_EQ(Metric(text, "alloy_config_load_failures_total"), 0);
  AppendFile(dir_.Join("logs/a.log"), "three\n");
  ASSERT_TRUE(loki_.WaitForEntries(3, absl::Seconds(20)));
  EXPECT_TRUE(WaitFor([&] { return Metric(Scrape(), "loki_write_sent_entries_total") == 3; }));
  EXPECT_EQ(Http("GET", base_ + "/nope").status, 404);
  EXPECT_EQ(Http("POST", base_ + "/metrics").status, 405);
}

// The dashboard and the alerts of the chart query only the names in
// tests/charts/exported_metrics.txt (chart_test checks that side); this checks the other: the
// live endpoint serves every one of them.
TEST_F(ServerE2eTest, ServesEveryMetricTheDashboardAndAlertsQuery) {
  // Besides the usual pipeline: a kubelet that does not answer, and a stage that drops a line.
  std::filesystem::create_directories(dir_.Join("other"));
  WriteFile(dir_.Join("other/b.txt"), "drop me\nkeep me\n");
  WriteConfig("first",
              absl::StrCat("discovery.kubelet \"k\" {\n  url = \"http://127.0.0.1:1\"\n"
                           "  refresh_interval = \"1s\"\n}\n"
                           "loki.source.file \"other\" {\n  targets = [{__path__ = \"",
                           dir_.Join("other/b.txt"),
                           "\"}]\n  forward_to = [loki.process.p.receiver]\n}\n"
                           "loki.process \"p\" {\n  forward_to = [loki.write.default.receiver]\n"
                           "  stage.drop {\n    expression = \"drop.*\"\n  }\n}\n"));
  WriteFile(dir_.Join("logs/a.log"), "one\n");
  Run();
  ASSERT_TRUE(loki_.WaitForEntries(2, absl::Seconds(20)));
  std::vector<std::string> names;
  std::string list =
      ReadFile(absl::StrCat(SLUICE_SOURCE_DIR, "/tests/charts/exported_metrics.txt"));
  for (absl::string_view line : absl::StrSplit(list, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    names.emplace_back(line);
  }
  ASSERT_GT(names.size(), 15u);
  ASSERT_TRUE(WaitFor([&] { return Metric(Scrape(), "sluice_kubelet_refresh_errors_total") > 0; }));
  // Loki holding the entries does not mean the agent has read its answer yet (the request
  // duration is observed then): wait until every name is there, then say which are not.
  std::set<std::string> served;
  auto scrape_names = [&] {
    served.clear();
    for (absl::string_view line : absl::StrSplit(Scrape(), '\n')) {
      if (line.empty() || line[0] == '#') continue;
      std::string l(line);
      served.insert(l.substr(0, l.find_first_of("{ ")));
    }
    for (const std::string& name : names) {
      if (!served.count(name)) return false;
    }
    return true;
  };
  (void)WaitFor(scrape_names);
  for (const std::string& name : names) EXPECT_TRUE(served.count(name)) << name;
}

TEST_F(ServerE2eTest, HealthyNamesFailingComponents) {
  WriteFile(dir_.Join("logs/a.log"), "one\n");
  Run();
  EXPECT_EQ(Http("GET", base_ + "/-/ready").status, 200);
  Reply healthy = Http("GET", base_ + "/-/healthy");
  EXPECT_EQ(healthy.status, 200);
  EXPECT_EQ(healthy.body, "All sluice components are healthy.\n");
  ASSERT_TRUE(loki_.WaitForEntries(1, absl::Seconds(20)));

  // Loki fails every push: the endpoint retries and /-/healthy names it, with 200 (a liveness
  // probe must not restart the agent through a Loki outage).
  loki_.FailNext(-1, 503, "ingester unavailable");
  AppendFile(dir_.Join("logs/a.log"), "two\n");
  ASSERT_TRUE(WaitFor([&] {
    return Http("GET", base_ + "/-/healthy").body.find("degraded") != std::string::npos;
  }));
  Reply degraded = Http("GET", base_ + "/-/healthy");
  EXPECT_EQ(degraded.status, 200);
  EXPECT_THAT(degraded.body, HasSubstr("loki.write.default: push to 127.0.0.1:"));
  EXPECT_THAT(degraded.body, HasSubstr("503"));
  EXPECT_EQ(Http("GET", base_ + "/-/ready").status, 200);
  loki_.ClearFaults();
  ASSERT_TRUE(loki_.WaitForEntries(2, absl::Seconds(20)));
  EXPECT_TRUE(WaitFor([&] {
    return Http("GET", base_ + "/-/healthy").body.find("degraded") == std::string::npos;
  }));

  // The positions file cannot be written (its directory replaced by a file): the source is
  // unhealthy, 500, named; healthy again once it can.
  // (Moved away with one rename, not removed file by file: the agent writes positions into it
  // after every acknowledgement, so a recursive removal could race a write.)
  std::string component_dir = dir_.Join("state/loki.source.file.logs");
  std::filesystem::rename(component_dir, component_dir + ".away");
  WriteFile(component_dir, "not a directory");
  AppendFile(dir_.Join("logs/a.log"), "three\n");
  ASSERT_TRUE(WaitFor([&] { return Http("GET", base_ + "/-/healthy").status == 500; }));
  Reply sick = Http("GET", base_ + "/-/healthy");
  EXPECT_THAT(sick.body, HasSubstr("unhealthy components: loki.source.file.logs: cannot write "
                                   "positions file"));
  std::filesystem::remove(component_dir);
  std::filesystem::rename(component_dir + ".away", component_dir);
  AppendFile(dir_.Join("logs/a.log"), "four\n");
  EXPECT_TRUE(WaitFor([&] { return Http("GET", base_ + "/-/healthy").status == 200; }));
}

TEST_F(ServerE2eTest, ReloadAppliesAValidConfigKeepingOffsets) {
  WriteFile(dir_.Join("logs/a.log"), "before 1\nbefore 2\n");
  Run();
  ASSERT_TRUE(loki_.WaitForEntries(2, absl::Seconds(20)));
  WriteConfig("second");
  Reply r = Http("POST", base_ + "/-/reload");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "config reloaded\n");
  AppendFile(dir_.Join("logs/a.log"), "after\n");
  ASSERT_TRUE(loki_.WaitForEntries(3, absl::Seconds(20)));
  // The file kept its offset: the first two lines were not sent again, the new one carries the
  // new label.
  EXPECT_EQ(loki_.total_entries(), 3u);
  EXPECT_EQ(loki_.duplicates(), 0u);
  auto second = loki_.FindStream(
      absl::StrCat("{filename=\"", dir_.Join("logs/a.log"), "\", job=\"second\"}"));
  ASSERT_TRUE(second.has_value());
  ASSERT_EQ(second->entries.size(), 1u);
  EXPECT_EQ(second->entries[0].line, "after");
  EXPECT_EQ(Metric(Scrape(), "sluice_config_reloads_total"), 1);
  EXPECT_EQ(Http("GET", base_ + "/-/ready").status, 200);
  // Reload by GET and by SIGHUP too.
  WriteConfig("third");
  EXPECT_EQ(Http("GET", base_ + "/-/reload").status, 200);
  WriteConfig("fourth");
  agent_->Signal(SIGHUP);
  ASSERT_TRUE(WaitFor([&] { return Metric(Scrape(), "sluice_config_reloads_total") == 3; }));
  AppendFile(dir_.Join("logs/a.log"), "last\n");
  ASSERT_TRUE(loki_.WaitForEntries(4, absl::Seconds(20)));
  EXPECT_TRUE(
      loki_.FindStream(absl::StrCat("{filename=\"", dir_.Join("logs/a.log"), "\", job=\"fourth\"}"))
          .has_value());
  agent_->Signal(SIGTERM);
  EXPECT_EQ(agent_->Wait(absl::Seconds(30)), 0);
  EXPECT_EQ(loki_.total_entries(), 4u);
}

TEST_F(ServerE2eTest, InvalidConfigIsRefusedAndTheOldOneKeepsRunning) {
  WriteFile(dir_.Join("logs/a.log"), "one\n");
  Run();
  ASSERT_TRUE(loki_.WaitForEntries(1, absl::Seconds(20)));
  WriteConfig("broken", "loki.echo \"e\" {\n  bogus = 1\n}\n");
  Reply r = Http("POST", base_ + "/-/reload");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr(Config() + ":17:3: unrecognized attribute name \"bogus\""));
  std::string text = Scrape();
  EXPECT_EQ(Metric(text, "alloy_config_last_load_successful"), 0);
  EXPECT_EQ(Metric(text, "alloy_config_load_failures_total"), 1);
  EXPECT_EQ(Http("GET", base_ + "/-/ready").status, 200);
  // Still shipping with the old configuration.
  AppendFile(dir_.Join("logs/a.log"), "two\n");
  ASSERT_TRUE(loki_.WaitForEntries(2, absl::Seconds(20)));
  EXPECT_TRUE(
      loki_.FindStream(absl::StrCat("{filename=\"", dir_.Join("logs/a.log"), "\", job=\"first\"}"))
          ->entries.size() == 2);
}

TEST_F(ServerE2eTest, NotReadyWhileAReloadDrainsTheOldGraph) {
  WriteFile(dir_.Join("logs/a.log"), "one\n");
  Run();
  ASSERT_TRUE(loki_.WaitForEntries(1, absl::Seconds(20)));
  // A push held by Loki: the reload waits for it (up to --shutdown-timeout 3s).
  loki_.StallNext(1);
  AppendFile(dir_.Join("logs/a.log"), "two\n");
  ASSERT_TRUE(loki_.WaitForStalled(1, absl::Seconds(20)));
  WriteConfig("second");
  auto reload = std::async(std::launch::async, [&] { return Http("POST", base_ + "/-/reload"); });
  EXPECT_TRUE(WaitFor([&] { return Http("GET", base_ + "/-/ready").status == 503; }));
  // A second reload queued behind the first: both wait off the server's threads, so scrapes and
  // health checks are answered while the old graph drains (the stalled push holds it until the
  // test releases it, or --shutdown-timeout).
  auto again = std::async(std::launch::async, [&] { return Http("POST", base_ + "/-/reload"); });
  Reply scrape = Http("GET", base_ + "/metrics");
  Reply health = Http("GET", base_ + "/-/healthy");
  EXPECT_EQ(scrape.status, 200);
  EXPECT_THAT(scrape.body, HasSubstr("alloy_config_last_load_successful"));
  EXPECT_NE(health.status, 0);
  EXPECT_EQ(reload.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
      << "answered while the reload still drains";
  loki_.ReleaseStall();
  EXPECT_EQ(reload.get().status, 200);
  EXPECT_EQ(again.get().status, 200);
  EXPECT_EQ(Http("GET", base_ + "/-/ready").status, 200);
  ASSERT_TRUE(loki_.WaitForEntries(2, absl::Seconds(20)));
}

}  // namespace
}  // namespace sluice
