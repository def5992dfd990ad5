#include "agent/pipeline/labels.h"
#include "absl/hash/hash.h"

#include <gtest/gtest.h>

#include "agent/common/json_quote.h"
#include "agent/go/strconv.h"

namespace sluice {
namespace {

TEST(LabelSetTest, RendersSortedWithGoQuotingAndSkipsInternal) {
  LabelSet l;
  l.Set("pod", "web-1");
  l.Set("namespace", "prod");
  l.Set("__path__", "/x");
  l.Set("app", "a \"quoted\" \\ value\n");
  EXPECT_EQ(l.RenderLoki(), R"({app="a \"quoted\" \\ value\n", namespace="prod", pod="web-1"})");
  EXPECT_EQ(l.RenderJson(),
            R"({"app":"a \"quoted\" \\ value\n","namespace":"prod","pod":"web-1"})");
}

// Small sets are scanned, large ones searched: both find exactly the name asked for (not a
// prefix of it, not a name it is a prefix of, not one of the same length).
TEST(LabelSetTest, GetFindsExactNamesInSmallAndLargeSets) {
  for (int n : {0, 1, 3, 16, 17, 40}) {
    LabelSet l;
    for (int i = 0; i < n; ++i) l.Set("lab" + std::to_string(i), "v" + std::to_string(i));
    for (int i = 0; i < n; ++i) {
      LabelValue v = l.Get("lab" + std::to_string(i));
      ASSERT_TRUE(v.has_value()) << n << " " << i;
      EXPECT_EQ(*v, "v" + std::to_string(i));
    }
    EXPECT_FALSE(l.Get("la").has_value()) << n;
    EXPECT_FALSE(l.Get("lab").has_value()) << n;
    EXPECT_FALSE(l.Get("lab0x").has_value()) << n;
    EXPECT_FALSE(l.Get("lbb0").has_value()) << n;
    EXPECT_FALSE(l.Get("").has_value()) << n;
    EXPECT_FALSE(l.Get("zzz").has_value()) << n;
  }
}

TEST(LabelSetTest, SetReplacesAndRemove) {
  LabelSet l;
  l.Set("a", "1");
  l.Set("a", "2");
  ASSERT_TRUE(l.Get("a").has_value());
  EXPECT_EQ(*l.Get("a"), "2");
  EXPECT_EQ(l.size(), 1u);
  l.Remove("a");
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(l.RenderLoki(), "{}");
}

// An entry's labels are copied for every line and changed by the stages (a label added, one
// dropped): the strings of removed labels are kept and reused, so the same values come out.
TEST(LabelSetTest, CopiesAndChangesReuseRemovedLabelsCorrectly) {
  const std::string long_value(100, 'v');  // beyond the inline buffer of a string
  LabelSet source;
  source.Set("filename", "/var/log/pods/" + long_value);
  source.Set("namespace", "prod");
  source.Set("pod", "web-" + long_value);
  LabelSet scratch;
  for (int line = 0; line < 3; ++line) {
    scratch = source;
    EXPECT_EQ(scratch, source);
    EXPECT_EQ(scratch.RenderLoki(), source.RenderLoki());
    scratch.Set("level", "info");        // stage.labels
    scratch.Set("cluster", long_value);  // stage.static_labels
    scratch.Remove("filename");          // stage.label_drop
    EXPECT_EQ(scratch.RenderLoki(), "{cluster=\"" + long_value +
                                        "\", level=\"info\", namespace=\"prod\", pod=\"web-" +
                                        long_value + "\"}");
  }
  // Fewer labels than the target holds, then more.
  LabelSet small;
  small.Set("a", "1");
  scratch = small;
  EXPECT_EQ(scratch.RenderLoki(), "{a=\"1\"}");
  scratch = source;
  EXPECT_EQ(scratch, source);
  // A copy is equal whatever capacity either side has.
  LabelSet copy(scratch);
  EXPECT_EQ(copy, source);
  const LabelSet& same = scratch;
  scratch = same;  // self-assignment
  EXPECT_EQ(scratch, source);
}

// Targets are kept by the thousand: a copy takes exactly what it holds, and Compact gives back
// the growth of the labels added to it, keeping the labels.
TEST(LabelSetTest, CopiesAreExactAndCompactGivesBackGrowth) {
  LabelSet pod;
  for (int i = 0; i < 25; ++i) pod.Set("__meta_kubernetes_label_" + std::to_string(i), "v");
  LabelSet copy;
  copy = pod;
  EXPECT_EQ(copy.capacity(), pod.bytes());
  LabelSet target = pod;
  target.Set("container", "c");
  target.Set("__path__", "/var/log/pods/x/c/0.log");
  target.Remove("__meta_kubernetes_label_3");
  EXPECT_GT(target.capacity(), target.bytes());
  LabelSet before = target;
  target.Compact();
  EXPECT_EQ(target.capacity(), target.bytes());
  EXPECT_EQ(target.size(), 26u);
  EXPECT_EQ(target, before);
  ASSERT_TRUE(target.Get("__path__").has_value());
  EXPECT_EQ(*target.Get("__path__"), "/var/log/pods/x/c/0.log");
  target.Set("job", "j");  // still a working set afterwards
  EXPECT_EQ(target.size(), 27u);
  EXPECT_EQ(*target.Get("job"), "j");
}

// Setting a label to another label's short value while the buffer has to grow: the value is
// read before the labels move.
TEST(LabelSetTest, SetFromOwnValueWhileGrowing) {
  for (int n = 1; n < 20; ++n) {
    LabelSet l;
    for (int i = 0; i < n; ++i) l.Set("k" + std::to_string(100 + i), "v" + std::to_string(i));
    std::string_view own = *l.Get("k100");
    l.Set("a", own);  // inserted first: every label moves
    ASSERT_TRUE(l.Get("a").has_value());
    EXPECT_EQ(*l.Get("a"), "v0") << n;
  }
}

TEST(LabelSetTest, GoQuotesControlAndInvalidBytesKeepsUtf8) {
  std::string out;
  AppendGoQuoted(std::string("\x01\t\xff h\xc3\xa9", 7), &out);
  EXPECT_EQ(out, "\"\\x01\\t\\xff h\xc3\xa9\"");
}

TEST(LabelSetTest, JsonQuotesControlCharacters) {
  std::string out;
  AppendJsonQuoted(std::string("a\x01z\"", 4), &out);
  EXPECT_EQ(out, "\"a\\u0001z\\\"\"");
}

// Internal names ("__" prefix) are held once for the process and coded in the set; they sort,
// compare, hash and render as if inline.
TEST(LabelSetTest, InternalNamesAreCodedAndBehaveAsInline) {
  const std::string long_name = "__meta_kubernetes_pod_annotation_kubectl_kubernetes_io_restart";
  LabelSet a;
  a.Set("app", "web");
  a.Set(long_name, "2024");
  a.Set("Zeta", "upper");  // 'Z' < '_' < 'a'
  a.Set("__path__", "/var/log/pods/x/0.log");
  // The internal names' bytes are not in the set: 8 bytes of lengths per label, then the
  // inline names and the values.
  EXPECT_EQ(a.bytes(), 4 * 8 + (3 + 3) + (4 + 5) + 4 + 21u);
  std::vector<std::string> names;
  for (const auto& [k, v] : a.labels()) names.emplace_back(k);
  EXPECT_EQ(names, (std::vector<std::string>{"Zeta",
                                             "__meta_kubernetes_pod_annotation_kubectl_"
                                             "kubernetes_io_restart",
                                             "__path__", "app"}));
  EXPECT_EQ(*a.Get(long_name), "2024");
  EXPECT_EQ(*a.Get("__path__"), "/var/log/pods/x/0.log");
  EXPECT_FALSE(a.Has("__meta_kubernetes_pod_annotation"));  // a prefix of a coded name
  EXPECT_EQ(a.RenderLoki(), R"({Zeta="upper", app="web"})");

  // Built in another order, and through a copy: equal, same hash and fingerprint.
  LabelSet b;
  b.Set("__path__", "/var/log/pods/x/0.log");
  b.Set(long_name, "2024");
  b.Set("app", "web");
  b.Set("Zeta", "upper");
  LabelSet c = b;
  EXPECT_TRUE(a == c);
  EXPECT_EQ(absl::HashOf(a), absl::HashOf(c));
  EXPECT_EQ(a.Fingerprint(), c.Fingerprint());

  // Replacing, moving values within the set, removing.
  c.Set(long_name, *c.Get("__path__"));
  EXPECT_EQ(*c.Get(long_name), "/var/log/pods/x/0.log");
  EXPECT_FALSE(a == c);
  EXPECT_NE(a.Fingerprint(), c.Fingerprint());
  c.Set("__a", *c.Get("app"));  // inserted before the coded names
  EXPECT_EQ(*c.Get("__a"), "web");
  EXPECT_EQ(*c.Get(long_name), "/var/log/pods/x/0.log");
  c.Remove(long_name);
  c.Remove("__a");
  EXPECT_EQ(c.size(), 3u);
  EXPECT_FALSE(c.Has(long_name));
  EXPECT_EQ(*c.Get("__path__"), "/var/log/pods/x/0.log");
  EXPECT_EQ(c.RenderLoki(), R"({Zeta="upper", app="web"})");
  // A name taken from a set (a view of the process's copy) sets another.
  LabelSet d;
  d.Set(a.labels()[1].first, "x");
  EXPECT_EQ(*d.Get(long_name), "x");
}

// Append (names in order, no search) builds the same set as Set, internal names coded alike.
TEST(LabelSetTest, AppendInNameOrderEqualsSet) {
  LabelSet appended, set;
  appended.Append("Zeta", "1");
  appended.Append("__meta_kubernetes_namespace", "ns");
  appended.Append("content", std::string(300, 'c'));
  appended.Append("time", *appended.Get("Zeta"));  // a value from the set itself
  set.Set("time", "1");
  set.Set("content", std::string(300, 'c'));
  set.Set("__meta_kubernetes_namespace", "ns");
  set.Set("Zeta", "1");
  EXPECT_TRUE(appended == set);
  EXPECT_EQ(absl::HashOf(appended), absl::HashOf(set));
  EXPECT_EQ(*appended.Get("time"), "1");
  EXPECT_EQ(appended.RenderLoki(), set.RenderLoki());
  appended.Clear();
  appended.Append("a", "x");
  EXPECT_EQ(appended.RenderLoki(), R"({a="x"})");
}

// Past the table's bound new internal names stay inline, and every set still finds them. It
// fills the process's table: declared after the tests that need room in it (gtest runs tests in
// declaration order).
TEST(LabelSetTest, InternalNamesPastTheTablesBoundStayInline) {
  constexpr int kNames = (1 << 14) + 100;  // past NameTable::kMaxNames
  LabelSet last;
  for (int i = 0; i < kNames; ++i) {
    LabelSet l;
    const std::string name = "__bound_test_" + std::to_string(i);
    l.Set(name, "v");
    l.Set("b", "w");
    ASSERT_EQ(*l.Get(name), "v") << i;
    ASSERT_EQ(l.labels()[0].first, name) << i;
    if (i == kNames - 1) last = l;
  }
  EXPECT_GT(last.bytes(), std::string("__bound_test_16483").size());  // inline
  LabelSet again;
  again.Set("b", "w");
  again.Set("__bound_test_" + std::to_string(kNames - 1), "v");
  EXPECT_TRUE(again == last);
}

// A token names one content: copies carry it, every change drops it, a moved-from set keeps
// neither labels nor token; sets without a token, or with another, compare by bytes for ==,
// and Matches takes a token as the whole answer.
TEST(LabelSetTest, TokensNameOneContent) {
  LabelSet a;
  a.Set("app", "web");
  a.Set("level", "info");
  EXPECT_EQ(a.token(), 0u);
  a.Stamp();
  const uint64_t t = a.token();
  ASSERT_NE(t, 0u);
  a.Stamp();
  EXPECT_EQ(a.token(), t) << "a set keeps the token it has";

  LabelSet b = a;
  EXPECT_EQ(b.token(), t);
  EXPECT_TRUE(b == a);
  EXPECT_TRUE(b.Matches(a));
  b.Set("level", "info");
  EXPECT_EQ(b.token(), t) << "setting the value it has changes nothing";

  // Every change drops the token.
  LabelSet c = a;
  c.Set("level", "warn");
  EXPECT_EQ(c.token(), 0u);
  c = a;
  c.Set("zone", "z");
  EXPECT_EQ(c.token(), 0u);
  c = a;
  c.Append("zzz", "1");
  EXPECT_EQ(c.token(), 0u);
  c = a;
  c.Remove("app");
  EXPECT_EQ(c.token(), 0u);
  c = a;
  c.Remove("missing");
  EXPECT_EQ(c.token(), t) << "removing what is not there changes nothing";
  c.Clear();
  EXPECT_EQ(c.token(), 0u);
  EXPECT_FALSE(c == a);

  // Assigning a set with the token the target already has: the labels stay those of the token.
  LabelSet d = a;
  d = a;
  EXPECT_EQ(d.RenderLoki(), a.RenderLoki());
  LabelSet e;
  e.Set("other", "x");
  e.Stamp();
  d = e;
  EXPECT_EQ(d.RenderLoki(), "{other=\"x\"}");
  EXPECT_EQ(d.token(), e.token());

  // Moves take the token along and leave an empty set without one.
  LabelSet m = a;
  LabelSet moved(std::move(m));
  EXPECT_EQ(moved.token(), t);
  EXPECT_TRUE(m.empty());  // NOLINT(bugprone-use-after-move): specified empty
  EXPECT_EQ(m.token(), 0u);
  EXPECT_FALSE(m == a);
  m = a;
  LabelSet moved2;
  moved2 = std::move(m);
  EXPECT_EQ(moved2.token(), t);
  EXPECT_TRUE(m.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(m.token(), 0u);
  EXPECT_EQ(moved2.RenderLoki(), a.RenderLoki());

  // The same labels stamped separately: different tokens; == still compares the bytes, Matches
  // does not.
  LabelSet f;
  f.Set("app", "web");
  f.Set("level", "info");
  EXPECT_TRUE(f == a);
  EXPECT_TRUE(f.Matches(a)) << "no token: by bytes";
  f.Stamp();
  EXPECT_NE(f.token(), t);
  EXPECT_TRUE(f == a);
  EXPECT_FALSE(f.Matches(a));
  LabelSet g;
  g.Set("app", "web");
  EXPECT_FALSE(g.Matches(a));
  g.Set("level", "info");
  EXPECT_TRUE(g.Matches(a));
}

// A stamped set's bytes are shared by its copies: a copy is a reference, and a change to any of
// them first takes its own copy.
TEST(LabelSetTest, StampedSetsAreSharedUntilChanged) {
  LabelSet a;
  a.Set("app", "web");
  a.Set("level", "info");
  a.Stamp();
  LabelSet b = a;  // copy construction
  LabelSet c;
  c.Set("some", std::string(300, 'x'));  // a buffer of its own, kept for changes
  const size_t c_capacity = c.capacity();
  c = a;  // copy assignment
  EXPECT_EQ(c.capacity(), c_capacity);
  EXPECT_EQ(a.Get("app")->data(), b.Get("app")->data()) << "the same bytes, not a copy";
  EXPECT_EQ(a.Get("app")->data(), c.Get("app")->data());
  EXPECT_EQ(a.bytes(), b.bytes());

  // A change: the changed set has its own bytes, the others keep the shared ones and the token.
  c.Set("level", "warn");
  EXPECT_NE(c.Get("app")->data(), a.Get("app")->data());
  EXPECT_EQ(c.capacity(), c_capacity) << "its own buffer, not a new one";
  EXPECT_EQ(c.RenderLoki(), R"({app="web", level="warn"})");
  EXPECT_EQ(a.RenderLoki(), R"({app="web", level="info"})");
  EXPECT_EQ(b.RenderLoki(), R"({app="web", level="info"})");
  EXPECT_EQ(b.token(), a.token());
  EXPECT_EQ(c.token(), 0u);
  b.Remove("app");
  EXPECT_EQ(b.RenderLoki(), R"({level="info"})");
  EXPECT_EQ(a.RenderLoki(), R"({app="web", level="info"})");
  LabelSet d = a;
  d.Append("zone", "z");
  EXPECT_EQ(d.RenderLoki(), R"({app="web", level="info", zone="z"})");
  EXPECT_EQ(a.size(), 2u);
  EXPECT_TRUE(LabelSet(a) == a);
  EXPECT_EQ(absl::HashOf(LabelSet(a)), absl::HashOf(a));
  EXPECT_EQ(LabelSet(a).Fingerprint(), a.Fingerprint());
}

// The last holder of shared bytes sets a label from its own value: the value is read before
// taking its own copy frees the shared bytes (ASan would see a use after free).
TEST(LabelSetTest, SetFromOwnValueOfTheLastSharedHolder) {
  LabelSet only;
  {
    LabelSet a;
    a.Set("k1", std::string(100, 'v'));
    a.Set("k2", "w");
    a.Stamp();
    only = a;
  }
  only.Set("k0", *only.Get("k1"));  // inserted first
  EXPECT_EQ(*only.Get("k0"), std::string(100, 'v'));
  LabelSet again;
  {
    LabelSet a;
    a.Set("k1", "short");
    a.Stamp();
    again = a;
  }
  again.Append("k9", *again.Get("k1"));
  EXPECT_EQ(*again.Get("k9"), "short");
  LabelSet moved = std::move(again);
  EXPECT_TRUE(again.empty());  // NOLINT(bugprone-use-after-move): specified empty
  EXPECT_EQ(again.bytes(), 0u);
  EXPECT_EQ(moved.size(), 2u);
}

TEST(LabelNameTest, Validates) {
  EXPECT_TRUE(IsValidLabelName("namespace"));
  EXPECT_TRUE(IsValidLabelName("_a1"));
  EXPECT_FALSE(IsValidLabelName(""));
  EXPECT_FALSE(IsValidLabelName("1a"));
  EXPECT_FALSE(IsValidLabelName("a-b"));
  EXPECT_FALSE(IsValidLabelName("a.b"));
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// The set is one buffer of length-prefixed records: names and values that run together the same
// way stay apart, values of any length and bytes survive, equal sets compare and hash alike
// whatever order they were built in, and a value set from the set's own bytes is read first.
TEST(LabelSetBufferTest, RecordsKeepTheirBoundsOrderAndBytes) {
  LabelSet a, b;
  a.Set("a", "bc");
  b.Set("ab", "c");
  EXPECT_FALSE(a == b);
  EXPECT_NE(absl::HashOf(a), absl::HashOf(b));

  LabelSet x, y;
  const std::string big(100'000, 'v');
  const std::string nul("x\0y", 3);
  x.Set("zeta", big);
  x.Set("alpha", nul);
  x.Set("mid", "");
  y.Set("mid", "");
  y.Set("alpha", nul);
  y.Set("zeta", big);
  EXPECT_TRUE(x == y);
  EXPECT_EQ(absl::HashOf(x), absl::HashOf(y));
  ASSERT_EQ(x.size(), 3u);
  EXPECT_EQ(x.labels()[0].first, "alpha");
  EXPECT_EQ(x.labels()[0].second, nul);
  EXPECT_EQ(x.labels()[1].first, "mid");
  EXPECT_EQ(x.labels()[2].second.size(), big.size());
  std::vector<std::string> names;
  for (const auto& [k, v] : x.labels()) names.emplace_back(k);
  EXPECT_EQ(names, (std::vector<std::string>{"alpha", "mid", "zeta"}));

  // A value taken from the set itself, into a label that moves the bytes around it.
  x.Set("beta", *x.Get("zeta"));
  EXPECT_EQ(*x.Get("beta"), big);
  x.Set("alpha", *x.Get("beta"));  // replaced by a longer value, from the same buffer
  EXPECT_EQ(*x.Get("alpha"), big);
  x.Set("alpha", "short");
  EXPECT_EQ(*x.Get("alpha"), "short");
  EXPECT_EQ(*x.Get("zeta"), big);
  x.Remove("beta");
  x.Remove("nope");
  EXPECT_EQ(x.size(), 3u);
  EXPECT_FALSE(x.Has("beta"));
  EXPECT_EQ(x.RenderLoki().substr(0, 27), "{alpha=\"short\", mid=\"\", zet");
}

}  // namespace
}  // namespace sluice
