#include "agent/source/pod_path.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(PodPathTest, ParsesKubeletLayout) {
  PodPath p;
  ASSERT_TRUE(ParsePodLogPath(
      "/var/log/pods/kube-system_coredns-5d78c9869d-abcde_0f1e2d3c-aaaa-bbbb-cccc-123456789abc/"
      "coredns/0.log",
      &p));
  EXPECT_EQ(p.namespace_name, "kube-system");
  EXPECT_EQ(p.pod_name, "coredns-5d78c9869d-abcde");
  EXPECT_EQ(p.pod_uid, "0f1e2d3c-aaaa-bbbb-cccc-123456789abc");
  EXPECT_EQ(p.container, "coredns");
}

TEST(PodPathTest, WorksUnderAnyRoot) {
  PodPath p;
  ASSERT_TRUE(ParsePodLogPath("/tmp/x/pods/ns_pod_uid/app/3.log", &p));
  EXPECT_EQ(p.namespace_name, "ns");
  EXPECT_EQ(p.container, "app");
}

TEST(PodPathTest, RejectsOtherLayouts) {
  PodPath p;
  EXPECT_FALSE(ParsePodLogPath("/var/log/syslog", &p));
  EXPECT_FALSE(ParsePodLogPath("/var/log/app/server.log", &p));
  EXPECT_FALSE(ParsePodLogPath("/var/log/pods/ns_pod/app/0.log", &p));
  EXPECT_FALSE(ParsePodLogPath("/var/log/pods/ns_pod_uid_x/app/0.log", &p));
  EXPECT_FALSE(ParsePodLogPath("/var/log/pods/_pod_uid/app/0.log", &p));
  EXPECT_FALSE(ParsePodLogPath("0.log", &p));
}

}  // namespace
}  // namespace sluice
