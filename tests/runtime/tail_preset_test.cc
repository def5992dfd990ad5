#include "agent/runtime/tail_preset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/common/units.h"
#include "agent/discovery/glob.h"
#include "agent/runtime/runtime.h"

namespace sluice {
namespace {

bool NeverFile(const std::string&) { return false; }
bool AlwaysFile(const std::string&) { return true; }

TEST(TailPresetTest, DurationsAndSizesReadBackAsWritten) {
  for (absl::Duration d :
       {absl::ZeroDuration(), absl::Nanoseconds(7), absl::Microseconds(3), absl::Milliseconds(1500),
        absl::Seconds(10), absl::Minutes(5), absl::Hours(2), absl::Seconds(61)}) {
    std::string text = GoDurationText(d);
    absl::StatusOr<absl::Duration> back = ParseDurationArg(text);
    ASSERT_TRUE(back.ok()) << text;
    EXPECT_EQ(*back, d) << text;
  }
  EXPECT_EQ(GoDurationText(absl::Milliseconds(1500)), "1500ms");
  EXPECT_EQ(GoDurationText(absl::Minutes(5)), "5m");
  for (uint64_t n : {uint64_t{1}, uint64_t{1000}, uint64_t{1024}, uint64_t{1} << 20,
                     (uint64_t{3} << 30) + 1, uint64_t{256} << 10}) {
    std::string text = Base2BytesText(n);
    absl::StatusOr<int64_t> back = ParseBase2Bytes(text);
    ASSERT_TRUE(back.ok()) << text;
    EXPECT_EQ(static_cast<uint64_t>(*back), n) << text;
  }
  EXPECT_EQ(Base2BytesText(uint64_t{1} << 20), "1MiB");
  EXPECT_EQ(Base2BytesText(1000), "1000B");
}

TEST(TailPresetTest, GlobEscapeMatchesOnlyThePathItself) {
  for (std::string path : {"/logs/a*b/[x]/{y,z}/q?.log", "/plain/path.log", "/back\\slash.log"}) {
    absl::StatusOr<bool> m = glob::Match(GlobEscape(path), path);
    ASSERT_TRUE(m.ok()) << path;
    EXPECT_TRUE(*m) << path;
  }
  absl::StatusOr<bool> other = glob::Match(GlobEscape("/logs/a*b.log"), "/logs/aXb.log");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(*other);
}

TEST(TailPresetTest, ConfigLoadsAsAnAlloyConfiguration) {
  TailPreset p;
  p.roots = {"/var/log/pods", "/tmp/odd \"dir\" {x}"};
  p.labels = {{"cluster", "c$1"}, {"env", "dev"}};
  p.url = "http://127.0.0.1:1/loki/api/v1/push";
  p.tenant = "t1";
  p.batch_size = 256 * 1024;
  p.batch_wait = absl::Milliseconds(200);
  p.max_retries = 3;
  p.tail_from_end = true;
  p.on_positions_error = "skip";
  std::string text = TailPresetConfig(p, &NeverFile);
  EXPECT_THAT(text, ::testing::HasSubstr("\"__path__\" = \"/var/log/pods/**/*.log\""));
  EXPECT_THAT(text, ::testing::HasSubstr("/tmp/odd \\\"dir\\\" \\\\{x\\\\}/**/*.log"));
  EXPECT_THAT(text, ::testing::HasSubstr("replacement  = \"c$$1\""));
  EXPECT_THAT(text, ::testing::HasSubstr("batch_size          = \"256KiB\""));
  EXPECT_THAT(text, ::testing::HasSubstr("max_backoff_retries = 3"));
  EXPECT_THAT(text, ::testing::HasSubstr("loki.write \"tail\""));
  RuntimeOptions o;
  o.config_path = "<sluice tail>";
  o.config_text = text;
  o.storage_path = ::testing::TempDir();
  MetricsRegistry metrics;
  std::string error;
  EXPECT_NE(Runtime::Load(o, &metrics, &error), nullptr) << error << "\n" << text;

  p.url.clear();
  p.roots = {"/var/log/one.log"};
  text = TailPresetConfig(p, &AlwaysFile);
  EXPECT_THAT(text, ::testing::HasSubstr("\"__path__\" = \"/var/log/one.log\""));
  EXPECT_THAT(text, ::testing::HasSubstr("loki.echo \"tail\""));
  o.config_text = text;
  EXPECT_NE(Runtime::Load(o, &metrics, &error), nullptr) << error << "\n" << text;
}

// Without --memory-budget the budget is 4 MiB, or three batches of the largest loki.write when
// that is more (a budget under a batch would leave reading waiting for batch_wait); an explicit
// budget is kept as given. The agent exports what it chose.
TEST(MemoryBudgetTest, AutomaticBudgetHoldsThreeBatchesOfTheLargestWriter) {
  auto budget_for = [](const std::string& batch_size, size_t flag) {
    RuntimeOptions o;
    o.config_path = "budget.alloy";
    o.config_text = absl::StrCat(
        "loki.write \"a\" {\n  endpoint {\n    url = \"http://127.0.0.1:1/loki/api/v1/push\"\n"
        "    batch_size = \"",
        batch_size, "\"\n  }\n}\n",
        "loki.write \"b\" {\n  endpoint {\n    url = \"http://127.0.0.1:1/loki/api/v1/push\"\n"
        "  }\n}\n");
    o.storage_path = ::testing::TempDir();
    o.memory_budget = flag;
    MetricsRegistry metrics;
    std::string error;
    std::unique_ptr<Runtime> rt = Runtime::Load(o, &metrics, &error);
    EXPECT_NE(rt, nullptr) << error;
    return metrics.GetGauge("sluice_memory_budget_bytes", "")->value();
  };
  EXPECT_EQ(budget_for("512KiB", 0), 4 << 20);      // the default: above 3 x 1 MiB
  EXPECT_EQ(budget_for("3MiB", 0), 9 << 20);        // three of the largest batch
  EXPECT_EQ(budget_for("3MiB", 1 << 20), 1 << 20);  // --memory-budget as given
}

}  // namespace
}  // namespace sluice
