#include "agent/metadata/selector.h"

#include <gtest/gtest.h>

namespace sluice::metadata {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

bool Sel(const std::string& text, const Labels& labels) {
  auto s = LabelSelector::Parse(text);
  EXPECT_TRUE(s.ok()) << text << ": " << s.status();
  return s.ok() && s->Matches(labels);
}

TEST(SelectorTest, LabelOperators) {
  Labels l = {{"app.kubernetes.io/name", "web"}, {"tier", "front"}};
  EXPECT_TRUE(Sel("", l));
  EXPECT_TRUE(Sel("app.kubernetes.io/name=web", l));
  EXPECT_TRUE(Sel("app.kubernetes.io/name==web", l));
  EXPECT_FALSE(Sel("app.kubernetes.io/name=db", l));
  EXPECT_TRUE(Sel("tier!=back", l));
  EXPECT_TRUE(Sel("missing!=x", l));  // as Kubernetes: an absent label is "not equal"
  EXPECT_TRUE(Sel("tier", l));
  EXPECT_FALSE(Sel("!tier", l));
  EXPECT_TRUE(Sel("!missing", l));
  EXPECT_TRUE(Sel("tier in (front, back)", l));
  EXPECT_FALSE(Sel("tier notin (front,back)", l));
  EXPECT_TRUE(Sel("tier in (front,back),app.kubernetes.io/name=web", l));
  EXPECT_FALSE(Sel("tier in (front,back),app.kubernetes.io/name=db", l));
}

TEST(SelectorTest, BadLabelSelectorsAreErrors) {
  EXPECT_FALSE(LabelSelector::Parse("tier in (a").ok());
  EXPECT_FALSE(LabelSelector::Parse("tier within (a)").ok());
  EXPECT_FALSE(LabelSelector::Parse("bad key=1").ok());
}

TEST(SelectorTest, FieldSelectors) {
  Pod p;
  p.name = "web";
  p.ns = "shop";
  p.node_name = "node-1";
  p.phase = "Running";
  auto s = FieldSelector::Parse("spec.nodeName=node-1,status.phase!=Succeeded");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->Matches(p));
  EXPECT_EQ(s->NodeName(), "node-1");
  p.node_name = "node-2";
  EXPECT_FALSE(s->Matches(p));
  auto ns = FieldSelector::Parse("metadata.namespace==shop");
  ASSERT_TRUE(ns.ok());
  EXPECT_TRUE(ns->Matches(p));
  EXPECT_FALSE(ns->NodeName().has_value());
  auto bad = FieldSelector::Parse("spec.containers=x");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "field selector \"spec.containers=x\": field label not supported: spec.containers");
}

}  // namespace
}  // namespace sluice::metadata
