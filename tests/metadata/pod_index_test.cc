#include "agent/metadata/pod_index.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace sluice::metadata {
namespace {

Pod MakePod(std::string ns, std::string name, std::string uid, std::string ip = "10.0.0.1") {
  Pod p;
  p.ns = std::move(ns);
  p.name = std::move(name);
  p.uid = std::move(uid);
  p.pod_ip = std::move(ip);
  p.ready = "true";
  p.containers.push_back(Container{"app", "img", "", false, {}});
  return p;
}

PodDir Dir(std::string ns, std::string pod, std::string uid) {
  return PodDir{std::move(ns), std::move(pod), std::move(uid), {"app"}};
}

std::vector<std::string> Pods(const std::vector<LabelSet>& targets) {
  std::vector<std::string> out;
  for (const LabelSet& t : targets) {
    std::string s(*t.Get("__meta_kubernetes_pod_name"));
    if (!t.Has("__meta_kubernetes_pod_ip")) s += "(path)";
    out.push_back(s);
  }
  return out;
}

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

TEST(PodIndexTest, DepartedPodsKeepTheirTargetsForTheGracePeriod) {
  PodIndexOptions o;
  o.grace_period = absl::Seconds(60);
  PodIndex index(o);
  index.Update({MakePod("a", "one", "u1"), MakePod("a", "two", "u2")}, nullptr, kT0);
  EXPECT_EQ(Pods(index.Targets(kT0)), (std::vector<std::string>{"one", "two"}));
  index.Update({MakePod("a", "two", "u2")}, nullptr, kT0 + absl::Seconds(5));
  EXPECT_EQ(Pods(index.Targets(kT0 + absl::Seconds(30))), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(index.NextChange(kT0 + absl::Seconds(30)), kT0 + absl::Seconds(65));
  EXPECT_EQ(Pods(index.Targets(kT0 + absl::Seconds(65))), (std::vector<std::string>{"two"}));
  // Back before its grace ended: one entry, not two.
  index.Update({MakePod("a", "two", "u2")}, nullptr, kT0 + absl::Seconds(70));
  index.Update({MakePod("a", "two", "u2"), MakePod("a", "one", "u1")}, nullptr,
               kT0 + absl::Seconds(71));
  EXPECT_EQ(Pods(index.Targets(kT0 + absl::Seconds(72))), (std::vector<std::string>{"one", "two"}));
}

TEST(PodIndexTest, UnknownPodDirectoryWaitsThenGetsPathLabels) {
  PodIndexOptions o;
  o.unknown_pod_wait = absl::Seconds(10);
  PodIndex index(o);
  index.Update({MakePod("a", "known", "u1")}, nullptr, kT0);
  // A directory of the known pod asks for nothing; a new one asks for a refresh.
  EXPECT_FALSE(index.SetDirs({Dir("a", "known", "u1")}, kT0));
  EXPECT_TRUE(index.SetDirs({Dir("a", "known", "u1"), Dir("b", "new", "u9")}, kT0));
  EXPECT_FALSE(index.SetDirs({Dir("a", "known", "u1"), Dir("b", "new", "u9")}, kT0));
  EXPECT_EQ(Pods(index.Targets(kT0 + absl::Seconds(9))), (std::vector<std::string>{"known"}));
  EXPECT_EQ(index.NextChange(kT0 + absl::Seconds(9)), kT0 + absl::Seconds(10));
  std::vector<LabelSet> t = index.Targets(kT0 + absl::Seconds(10));
  EXPECT_EQ(Pods(t), (std::vector<std::string>{"known", "new(path)"}));
  EXPECT_EQ(*t[1].Get("__meta_kubernetes_namespace"), "b");
  EXPECT_EQ(*t[1].Get("__meta_kubernetes_pod_uid"), "u9");
  EXPECT_EQ(*t[1].Get("__meta_kubernetes_pod_container_name"), "app");
  EXPECT_EQ(index.path_only_targets(), 1u);
  index.Targets(kT0 + absl::Seconds(11));
  EXPECT_EQ(index.path_only_targets(), 1u);  // counted once
  // The pod becomes known: full labels for the same container.
  index.Update({MakePod("a", "known", "u1"), MakePod("b", "new", "u9")}, nullptr,
               kT0 + absl::Seconds(12));
  EXPECT_EQ(Pods(index.Targets(kT0 + absl::Seconds(12))),
            (std::vector<std::string>{"known", "new"}));
  // Gone from the list and past its grace, its directory still there: no second target (its
  // files were read under the pod's labels).
  index.Update({MakePod("a", "known", "u1")}, nullptr, kT0 + absl::Seconds(13));
  EXPECT_EQ(Pods(index.Targets(kT0 + absl::Minutes(10))), (std::vector<std::string>{"known"}));
}

TEST(PodIndexTest, StaticPodDirectoryIsCoveredByItsMirrorAnnotation) {
  PodIndex index(PodIndexOptions{});
  Pod mirror = MakePod("kube-system", "etcd-node-1", "api-uid");
  mirror.annotations = {{"kubernetes.io/config.mirror", "hash-1"}};
  index.Update({mirror}, nullptr, kT0);
  EXPECT_FALSE(index.SetDirs({Dir("kube-system", "etcd-node-1", "hash-1")}, kT0));
  EXPECT_EQ(Pods(index.Targets(kT0 + absl::Minutes(5))), (std::vector<std::string>{"etcd-node-1"}));
}

TEST(PodIndexTest, PodWithoutIpIsNotCoveredAndFallbackRespectsNamespaces) {
  PodIndexOptions o;
  o.fallback_namespaces = {"a"};
  PodIndex index(o);
  index.Update({MakePod("a", "noip", "u1", ""), MakePod("z", "other", "u2", "")}, nullptr, kT0);
  index.SetDirs({Dir("a", "noip", "u1"), Dir("z", "other", "u2")}, kT0);
  EXPECT_EQ(Pods(index.Targets(kT0 + absl::Minutes(1))), (std::vector<std::string>{"noip(path)"}));
  PodIndexOptions off;
  off.fallback = false;
  PodIndex none(off);
  none.SetDirs({Dir("a", "x", "u3")}, kT0);
  EXPECT_TRUE(none.Targets(kT0 + absl::Hours(1)).empty());
  EXPECT_FALSE(none.NextChange(kT0).has_value());
}

// attach_metadata: the node's labels on every target, each namespace's on its pods' targets and
// on the path-only targets of its directories.
TEST(PodIndexTest, NamespaceLabelsGoToThatNamespacesTargetsWithTheNodeLabels) {
  PodIndexOptions o;
  o.unknown_pod_wait = absl::Seconds(10);
  PodIndex index(o);
  LabelSet node;
  node.Set("__meta_kubernetes_node_name", "n1");
  LabelSet shop;
  shop.Set("__meta_kubernetes_namespace_label_team", "payments");
  index.SetNamespaceLabels({{"shop", shop}});
  index.Update({MakePod("shop", "web", "u1"), MakePod("other", "db", "u2")}, &node, kT0);
  index.SetDirs({Dir("shop", "job", "u3")}, kT0);
  std::vector<LabelSet> t = index.Targets(kT0 + absl::Seconds(11));
  ASSERT_EQ(Pods(t), (std::vector<std::string>{"db", "job(path)", "web"}));
  EXPECT_EQ(*t[0].Get("__meta_kubernetes_node_name"), "n1");
  EXPECT_FALSE(t[0].Get("__meta_kubernetes_namespace_label_team").has_value());
  EXPECT_EQ(*t[1].Get("__meta_kubernetes_namespace_label_team"), "payments");
  EXPECT_FALSE(t[1].Get("__meta_kubernetes_node_name").has_value());  // the path does not tell
  EXPECT_EQ(*t[2].Get("__meta_kubernetes_node_name"), "n1");
  EXPECT_EQ(*t[2].Get("__meta_kubernetes_namespace_label_team"), "payments");
  // The namespace relabelled: the next targets follow.
  shop.Set("__meta_kubernetes_namespace_label_team", "checkout");
  index.SetNamespaceLabels({{"shop", shop}});
  EXPECT_EQ(
      *index.Targets(kT0 + absl::Seconds(12))[2].Get("__meta_kubernetes_namespace_label_team"),
      "checkout");
}

TEST(PodIndexTest, ScansPodDirectories) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.Join("shop_web-1_uid-1/web"));
  std::filesystem::create_directories(dir.Join("shop_web-1_uid-1/proxy"));
  std::filesystem::create_directories(dir.Join("not-a-pod-dir"));
  std::ofstream(dir.Join("stray_file_here")) << "x";
  std::vector<PodDir> dirs = ScanPodDirs(dir.path());
  ASSERT_EQ(dirs.size(), 1u);
  EXPECT_EQ(dirs[0], (PodDir{"shop", "web-1", "uid-1", {"proxy", "web"}}));
  EXPECT_TRUE(ScanPodDirs(dir.Join("missing")).empty());
}

}  // namespace
}  // namespace sluice::metadata
