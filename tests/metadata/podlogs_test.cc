#include "agent/metadata/podlogs.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"

#include <gtest/gtest.h>

#include "tests/support/fake_kube.h"

namespace sluice::metadata {
namespace {

using sluice::testing::FakePodLogs;

PodLogs Parse(const FakePodLogs& f) {
  std::vector<PodLogs> out;
  std::string list = absl::StrCat(
      "{\"kind\":\"PodLogsList\",\"apiVersion\":\"monitoring.grafana.com/v1alpha2\","
      "\"metadata\":{\"resourceVersion\":\"7\"},\"items\":[",
      sluice::testing::PodLogsJson(f, "7"), "]}");
  std::string rv;
  EXPECT_TRUE(ParseKubeList(list, &out, &rv).ok());
  EXPECT_EQ(rv, "7");
  EXPECT_EQ(out.size(), 1u);
  return out.empty() ? PodLogs() : out[0];
}

std::vector<Pod> Pods() {
  std::vector<sluice::testing::FakePod> fakes = {
      sluice::testing::MakeDeploymentPod("shop", "web", "node-1", "10.1.0.5"),
      sluice::testing::MakePodWithInitContainers("shop", "db", "node-1", "10.1.0.6"),
      sluice::testing::MakeDeploymentPod("other", "web", "node-1", "10.1.0.7")};
  absl::StatusOr<std::vector<Pod>> pods = ParsePodList(sluice::testing::PodListJson(fakes, "1"));
  EXPECT_TRUE(pods.ok());
  return *pods;
}

std::map<std::string, ObjectMeta> Namespaces() {
  std::map<std::string, ObjectMeta> out;
  out["shop"] = ObjectMeta{"shop", {{"team", "a"}}, {}};
  out["other"] = ObjectMeta{"other", {{"team", "b"}}, {}};
  return out;
}

TEST(PodLogsTest, ParsesSpecAndLabelsTargetsAsAlloy) {
  FakePodLogs f;
  f.ns = "mon";
  f.name = "web-logs";
  f.labels = {{"app.kubernetes.io/part-of", "obs"}};
  f.selector = {{"app.kubernetes.io/name", "web"}};
  f.namespace_selector = {{"team", "a"}};
  PodLogs pl = Parse(f);
  EXPECT_EQ(pl.ns, "mon");
  EXPECT_EQ(pl.name, "web-logs");
  ASSERT_EQ(pl.selector.match_labels.size(), 1u);
  std::vector<LabelSet> t = PodLogsTargets(pl, Pods(), Namespaces());
  ASSERT_EQ(t.size(), 1u);  // shop's web only: other's is in a namespace of team b
  const LabelSet& l = t[0];
  EXPECT_EQ(*l.Get("job"), "mon/web-logs");
  EXPECT_EQ(*l.Get("__meta_kubernetes_podlogs_namespace"), "mon");
  EXPECT_EQ(*l.Get("__meta_kubernetes_podlogs_label_app_kubernetes_io_part_of"), "obs");
  EXPECT_EQ(*l.Get("__meta_kubernetes_namespace"), "shop");
  EXPECT_EQ(*l.Get("__meta_kubernetes_namespace_label_team"), "a");
  EXPECT_EQ(*l.Get("__meta_kubernetes_pod_container_name"), "web");
  EXPECT_EQ(*l.Get("__meta_kubernetes_pod_container_init"), "false");
  EXPECT_EQ(*l.Get("__meta_kubernetes_pod_controller_kind"), "ReplicaSet");
  EXPECT_EQ(*l.Get("__pod_container_name__"), "web");
  EXPECT_EQ(*l.Get("instance"),
            absl::StrCat("shop/", Av(*l.Get("__meta_kubernetes_pod_name")), ":web"));
}

TEST(PodLogsTest, InitContainersFirstAndRelabelingsApplied) {
  FakePodLogs f;
  f.ns = "mon";
  f.name = "db";
  f.selector = {{"app.kubernetes.io/name", "db"}};
  f.relabelings_json =
      R"([{"sourceLabels":["__meta_kubernetes_pod_container_name"],"targetLabel":"container"},)"
      R"({"sourceLabels":["__meta_kubernetes_pod_container_init"],"regex":"true","action":"Drop"}])";
  PodLogs pl = Parse(f);
  ASSERT_TRUE(pl.error.empty()) << pl.error;
  ASSERT_EQ(pl.relabelings.size(), 2u);
  std::vector<LabelSet> t = PodLogsTargets(pl, Pods(), Namespaces());
  ASSERT_EQ(t.size(), 1u);  // the init containers are dropped
  EXPECT_EQ(*t[0].Get("container"), "db");
}

TEST(PodLogsTest, BadRelabelingIsAnErrorAndNoTargets) {
  FakePodLogs f;
  f.name = "bad";
  f.relabelings_json = R"([{"action":"hashmod","sourceLabels":["a"],"targetLabel":"b"}])";
  PodLogs pl = Parse(f);
  EXPECT_NE(pl.error.find("invalid relabelings"), std::string::npos) << pl.error;
  EXPECT_TRUE(PodLogsTargets(pl, Pods(), Namespaces()).empty());
}

TEST(PodLogsTest, SelectorSpecs) {
  SelectorSpec s;
  s.expressions.push_back({"tier", "In", {"web", "api"}});
  s.expressions.push_back({"legacy", "DoesNotExist", {}});
  absl::StatusOr<LabelSelector> sel = LabelSelectorFromSpec(s);
  ASSERT_TRUE(sel.ok()) << sel.status();
  EXPECT_TRUE(sel->Matches({{"tier", "web"}}));
  EXPECT_FALSE(sel->Matches({{"tier", "web"}, {"legacy", "1"}}));
  EXPECT_FALSE(sel->Matches({{"tier", "db"}}));
  EXPECT_TRUE(LabelSelectorFromSpec(SelectorSpec())->Matches({}));
  s.expressions.push_back({"x", "Like", {}});
  EXPECT_FALSE(LabelSelectorFromSpec(s).ok());
}

}  // namespace
}  // namespace sluice::metadata
