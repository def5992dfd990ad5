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

}  // namespace
}  // namespace sluice
