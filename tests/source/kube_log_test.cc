#include "agent/source/kube_log.h"

#include <gtest/gtest.h>

#include "agent/source/kube_tailer.h"
#include "tests/support/labels.h"

namespace sluice {
namespace {

constexpr int64_t kSec = 1000000000;
// 2024-05-01T10:00:00Z
constexpr int64_t kT0 = int64_t{1714557600} * kSec;

using ::sluice::testing::Labels;

TEST(KubeLogLineTest, ParsesRfc3339NanoPrefix) {
  KubeLogLine l = ParseKubeLogLine("2024-05-01T10:00:00.123456789Z hello world\n", 7);
  EXPECT_TRUE(l.parsed);
  EXPECT_EQ(l.timestamp_ns, kT0 + 123456789);
  EXPECT_EQ(l.line, "hello world");
}

TEST(KubeLogLineTest, ParsesRfc3339WithoutFractionAndOffset) {
  KubeLogLine l = ParseKubeLogLine("2024-05-01T12:00:00+02:00 x", 7);
  EXPECT_TRUE(l.parsed);
  EXPECT_EQ(l.timestamp_ns, kT0);
  EXPECT_EQ(l.line, "x");
}

TEST(KubeLogLineTest, KeepsLineWithoutTimestampWhole) {
  KubeLogLine l = ParseKubeLogLine("not-a-time rest\r\n", 42);
  EXPECT_FALSE(l.parsed);
  EXPECT_EQ(l.timestamp_ns, 42);
  EXPECT_EQ(l.line, "not-a-time rest");
  KubeLogLine none = ParseKubeLogLine("nospace", 43);
  EXPECT_FALSE(none.parsed);
  EXPECT_EQ(none.line, "nospace");
}

TEST(KubeLogLineTest, EmptyLineAfterTimestamp) {
  KubeLogLine l = ParseKubeLogLine("2024-05-01T10:00:00Z \n", 0);
  EXPECT_TRUE(l.parsed);
  EXPECT_EQ(l.line, "");
}

TEST(KubeSinceTimeTest, RoundsDownToTheSecond) {
  EXPECT_EQ(KubeSinceTime(kT0 + 999999999), "2024-05-01T10:00:00Z");
  EXPECT_EQ(KubeSinceTime(kT0), "2024-05-01T10:00:00Z");
}

TEST(KubeLogResumeTest, NothingToSkipWithoutPlace) {
  KubeLogResume r;
  EXPECT_FALSE(r.has_start());
  r.Reopen();
  EXPECT_FALSE(r.Skip(kT0));
}

TEST(KubeLogResumeTest, SavedPlaceSkipsAtOrBeforeItsMicrosecond) {
  KubeLogResume r;
  r.SetSaved((kT0 + 5000) / 1000);  // 5us after kT0
  ASSERT_TRUE(r.has_start());
  EXPECT_EQ(r.start_ns(), kT0 + 5000);
  EXPECT_EQ(KubeSinceTime(r.start_ns()), "2024-05-01T10:00:00Z");
  r.Reopen();
  EXPECT_TRUE(r.Skip(kT0));         // earlier in the second sinceTime gives
  EXPECT_TRUE(r.Skip(kT0 + 5000));  // the saved one
  EXPECT_TRUE(r.Skip(kT0 + 5999));  // same microsecond
  EXPECT_FALSE(r.Skip(kT0 + 6000));
  // Once past the place, nothing is skipped (a clock step back is sent).
  EXPECT_FALSE(r.Skip(kT0));
}

TEST(KubeLogResumeTest, ReconnectSkipsExactlyWhatWasRead) {
  KubeLogResume r;
  r.Reopen();
  for (int64_t ts : {kT0 + 1, kT0 + 2, kT0 + 2}) {
    ASSERT_FALSE(r.Skip(ts));
    r.Read(ts);
  }
  EXPECT_EQ(r.start_ns(), kT0 + 2);
  // The stream comes again from the second: both lines at +2 were read, a third is new.
  r.Reopen();
  EXPECT_TRUE(r.Skip(kT0 + 1));
  EXPECT_TRUE(r.Skip(kT0 + 2));
  EXPECT_TRUE(r.Skip(kT0 + 2));
  EXPECT_FALSE(r.Skip(kT0 + 2));
  r.Read(kT0 + 2);
  EXPECT_FALSE(r.Skip(kT0 + 3));
  r.Read(kT0 + 3);
  r.Reopen();
  EXPECT_TRUE(r.Skip(kT0 + 2));
  EXPECT_TRUE(r.Skip(kT0 + 3));
  EXPECT_FALSE(r.Skip(kT0 + 4));
}

TEST(KubeLogResumeTest, ReadWinsOverSavedPlace) {
  KubeLogResume r;
  r.SetSaved(kT0 / 1000);
  r.Reopen();
  EXPECT_TRUE(r.Skip(kT0));
  EXPECT_FALSE(r.Skip(kT0 + kSec));
  r.Read(kT0 + kSec);
  EXPECT_EQ(r.start_ns(), kT0 + kSec);
}

TEST(KubeLogCommitsTest, AdvancesOnlyOnAcknowledgement) {
  KubeLogCommits c;
  c.Handed(1, kT0 + 1000);
  c.Handed(2, kT0 + 2000);
  c.Handed(3, kT0 + 3000);
  EXPECT_EQ(c.saved_us(), 0);
  EXPECT_EQ(c.Acked(2), kT0 / 1000 + 2);
  EXPECT_EQ(c.pending(), 1u);
  EXPECT_EQ(c.Acked(2), 0);  // nothing new
  EXPECT_EQ(c.Acked(3), kT0 / 1000 + 3);
  EXPECT_EQ(c.pending(), 0u);
}

TEST(KubeLogCommitsTest, NeverSavesInsideAMicrosecondStillInFlight) {
  KubeLogCommits c;
  c.Handed(1, kT0 + 1100);
  c.Handed(2, kT0 + 1200);  // same microsecond as 1
  c.Handed(3, kT0 + 5000);
  // Saving kT0+1us would skip line 2 after a restart: the microsecond before is saved.
  EXPECT_EQ(c.Acked(1), kT0 / 1000);
  EXPECT_EQ(c.Acked(2), kT0 / 1000 + 1);
  EXPECT_EQ(c.Acked(3), kT0 / 1000 + 5);
}

TEST(KubeLogTargetTest, AlloysLabelsAndPositionsKey) {
  LabelSet t = Labels({{"__meta_kubernetes_namespace", "ns"},
                       {"__meta_kubernetes_pod_name", "web-1"},
                       {"__meta_kubernetes_pod_container_name", "app"},
                       {"__meta_kubernetes_pod_uid", "u-1"},
                       {"__address__", "10.0.0.1:80"},
                       {"namespace", "ns"},
                       {"pod", "web-1"}});
  absl::StatusOr<KubeLogTarget> k = PrepareKubeLogTarget(t, "loki.source.kubernetes.pods");
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->ns, "ns");
  EXPECT_EQ(k->pod, "web-1");
  EXPECT_EQ(k->container, "app");
  EXPECT_EQ(k->uid, "u-1");
  EXPECT_EQ(k->labels.RenderLoki(),
            "{instance=\"ns/web-1:app\", job=\"loki.source.kubernetes.pods\", namespace=\"ns\", "
            "pod=\"web-1\"}");
  EXPECT_EQ(k->positions_path, "cursor-ns/web-1:app:u-1");
  EXPECT_EQ(k->positions_labels, k->labels.RenderLoki());
}

TEST(KubeLogTargetTest, InternalLabelsWinAndJobInstanceKept) {
  LabelSet t = Labels({{"__pod_namespace__", "a"},
                       {"__meta_kubernetes_namespace", "b"},
                       {"__pod_name__", "p"},
                       {"__pod_container_name__", "c"},
                       {"__pod_uid__", "u"},
                       {"job", "mine"},
                       {"instance", "i"}});
  absl::StatusOr<KubeLogTarget> k = PrepareKubeLogTarget(t, "x");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->ns, "a");
  EXPECT_EQ(k->labels.RenderLoki(), "{instance=\"i\", job=\"mine\"}");
}

TEST(KubeLogTargetTest, MissingLabelsAreAlloysErrors) {
  EXPECT_EQ(PrepareKubeLogTarget(Labels({}), "x").status().message(),
            "missing pod namespace label");
  EXPECT_EQ(PrepareKubeLogTarget(Labels({{"__pod_namespace__", "a"}}), "x").status().message(),
            "missing pod name label");
  EXPECT_EQ(PrepareKubeLogTarget(Labels({{"__pod_namespace__", "a"}, {"__pod_name__", "p"}}), "x")
                .status()
                .message(),
            "missing pod container name label");
  EXPECT_EQ(PrepareKubeLogTarget(Labels({{"__pod_namespace__", "a"},
                                         {"__pod_name__", "p"},
                                         {"__pod_container_name__", "c"}}),
                                 "x")
                .status()
                .message(),
            "missing pod UID label");
}

TEST(KubeLogTargetTest, PreserveMetaKeepsMetaLabels) {
  LabelSet t = Labels({{"__meta_kubernetes_namespace", "ns"},
                       {"__meta_kubernetes_pod_name", "p"},
                       {"__meta_kubernetes_pod_container_name", "c"},
                       {"__meta_kubernetes_pod_uid", "u"},
                       {"__pod_uid__", "u"}});
  absl::StatusOr<KubeLogTarget> k = PrepareKubeLogTarget(t, "j", /*preserve_meta=*/true);
  ASSERT_TRUE(k.ok());
  EXPECT_TRUE(k->labels.Get("__meta_kubernetes_pod_name").has_value());
  EXPECT_FALSE(k->labels.Get("__pod_uid__").has_value());
}

std::string PodWith(std::string_view uid, std::string_view policy, std::string_view state,
                    std::string_view owner = "") {
  return std::string("{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"uid\":\"") +
         std::string(uid) + "\"" + std::string(owner) + "},\"spec\":{\"restartPolicy\":\"" +
         std::string(policy) + "\"},\"status\":{\"containerStatuses\":[{\"name\":\"app\"," +
         "\"state\":" + std::string(state) + "}]}}";
}

TEST(KubeContainerFinishedTest, AlloysRestartPolicyRules) {
  const std::string running = "{\"running\":{}}";
  const std::string ok_exit = "{\"terminated\":{\"exitCode\":0}}";
  const std::string bad_exit = "{\"terminated\":{\"exitCode\":1}}";
  EXPECT_FALSE(*KubeContainerFinished(PodWith("u", "Always", running), "u", "app", 0));
  EXPECT_FALSE(*KubeContainerFinished(PodWith("u", "Always", ok_exit), "u", "app", 0));
  EXPECT_TRUE(*KubeContainerFinished(PodWith("u", "OnFailure", ok_exit), "u", "app", 0));
  EXPECT_FALSE(*KubeContainerFinished(PodWith("u", "OnFailure", bad_exit), "u", "app", 0));
  EXPECT_TRUE(*KubeContainerFinished(PodWith("u", "Never", bad_exit), "u", "app", 0));
  // Another pod under the same name: ours is gone.
  EXPECT_TRUE(*KubeContainerFinished(PodWith("other", "Always", running), "u", "app", 0));
  EXPECT_FALSE(KubeContainerFinished(PodWith("u", "Always", running), "u", "nope", 0).ok());
  EXPECT_FALSE(KubeContainerFinished("{not json", "u", "app", 0).ok());
}

TEST(KubeContainerFinishedTest, JobPodsGetAGracePeriod) {
  const std::string owner =
      ",\"ownerReferences\":[{\"kind\":\"Job\",\"name\":\"j\",\"controller\":true}]";
  const std::string done =
      "{\"terminated\":{\"exitCode\":0,\"finishedAt\":\"2024-05-01T10:00:00Z\"}}";
  EXPECT_FALSE(*KubeContainerFinished(PodWith("u", "Never", done, owner), "u", "app", kT0 + kSec));
  EXPECT_TRUE(
      *KubeContainerFinished(PodWith("u", "Never", done, owner), "u", "app", kT0 + 61 * kSec));
}

}  // namespace
}  // namespace sluice
