#include "agent/discovery/glob.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "tests/support/temp_dir.h"

namespace sluice::glob {
namespace {

using ::sluice::testing::TempDir;
using ::sluice::testing::WriteFile;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// --- Match ---------------------------------------------------------------------------------------

struct MatchCase {
  const char* pattern;
  const char* path;
  bool match;
};

// Cases mirrored from doublestar's own table (behaviour, on '/' separators).
const MatchCase kMatchCases[] = {
    {"", "", true},
    {"*", "", true},
    {"*", "/", false},
    {"/*", "/", true},
    {"/*", "/debug/", false},
    {"/*", "//", false},
    {"abc", "abc", true},
    {"*", "abc", true},
    {"*c", "abc", true},
    {"*/", "a/", true},
    {"a*", "a", true},
    {"a*", "abc", true},
    {"a*", "ab/c", false},
    {"a*/b", "abc/b", true},
    {"a*/b", "a/c/b", false},
    {"a*/c/", "a/b", false},
    {"a*b*c*d*e*", "axbxcxdxe", true},
    {"a*b*c*d*e*/f", "axbxcxdxe/f", true},
    {"a*b*c*d*e*/f", "axbxcxdxexxx/f", true},
    {"a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false},
    {"a*b*c*d*e*/f", "axbxcxdxexxx/fff", false},
    {"a*b?c*x", "abxbbxdbxebxczzx", true},
    {"a*b?c*x", "abxbbxdbxebxczzy", false},
    {"ab[c]", "abc", true},
    {"ab[b-d]", "abc", true},
    {"ab[e-g]", "abc", false},
    {"ab[^c]", "abc", false},
    {"ab[^b-d]", "abc", false},
    {"ab[^e-g]", "abc", true},
    {"a\\*b", "ab", false},
    {"a\\*b", "a*b", true},
    {"a?b", "a☺b", true},
    {"a[^a]b", "a☺b", true},
    {"a[!a]b", "a☺b", true},
    {"a???b", "a☺b", false},
    {"a[^a][^a][^a]b", "a☺b", false},
    {"[a-ζ]*", "α", true},
    {"*[a-ζ]", "A", false},
    {"a?b", "a/b", false},
    {"a*b", "a/b", false},
    {"[\\]a]", "]", true},
    {"[\\-]", "-", true},
    {"[x\\-]", "x", true},
    {"[x\\-]", "-", true},
    {"[x\\-]", "z", false},
    {"[\\-x]", "x", true},
    {"[\\-x]", "-", true},
    {"[\\-x]", "a", false},
    {"[-]", "-", true},
    {"[x-]", "x", true},
    {"[x-]", "-", true},
    {"[x-]", "z", false},
    {"[-x]", "x", true},
    {"[-x]", "-", true},
    {"[-x]", "a", false},
    {"[a-b-d]", "a", true},
    {"[a-b-d]", "b", true},
    {"[a-b-d]", "-", true},
    {"[a-b-d]", "c", false},
    {"[a-b-x]", "x", true},
    {"*x", "xxx", true},
    {"[abc]", "b", true},
    {"[abc123]", "1", true},
    {"[a-z0-9]", "1", true},
    {"**", "", true},
    {"a/**", "a", true},
    {"a/**/", "a", true},
    {"a/**", "a/", true},
    {"a/**/", "a/", true},
    {"a/**", "a/b", true},
    {"a/**", "a/b/c", true},
    {"**/c", "c", true},
    {"**/c", "b/c", true},
    {"**/c", "a/b/c", true},
    {"**/c", "a/b", false},
    {"**/c", "abcd", false},
    {"**/c", "a/abc", false},
    {"a/**/b", "a/b", true},
    {"a/**/c", "a/b/c", true},
    {"a/**/d", "a/b/c/d", true},
    {"a/\\**", "a/b/c", false},
    {"a/\\[*\\]", "a/bc", false},
    {"a/b/c", "a/b//c", false},
    {"a/", "a", false},
    {"ab{c,d}", "abc", true},
    {"ab{c,d,*}", "abcde", true},
    {"a{,bc}", "a", true},
    {"a{,bc}", "abc", true},
    {"a/{b/c,c/b}", "a/b/c", true},
    {"a/{b/c,c/b}", "a/c/b", true},
    {"a/a*{b,c}", "a/abc", true},
    {"{a/{b,c},abc}", "a/b", true},
    {"{a/{b,c},abc}", "a/c", true},
    {"{a/{b,c},abc}", "abc", true},
    {"{a/{b,c},abc}", "a/b/c", false},
    {"{a/ab*}", "a/abc", true},
    {"{a/*}", "a/b", true},
    {"{a/abc}", "a/abc", true},
    {"{a/b,a/c}", "a/c", true},
    {"abc/**", "abc/b", true},
    {"**/abc", "abc", true},
    {"abc**", "abc/b", false},
    {"**/*.txt", "abc/【test】.txt", true},
    {"**/【*", "abc/【test】.txt", true},
    {"**/{a,b}", "a/b", true},
    {"a/*/*/d", "a/b/c/d", true},
    {"e/[\\*\\?]", "e/*", true},
    {"e/[\\*\\?]", "e/**", false},
    {"e/[\\*\\?]?", "e/**", true},
    {"e/{\\*,\\?}", "e/*", true},
    {"e/{\\*,\\?}", "e/?", true},
    {"e/\\?", "e/**", false},
    {"*\\}", "}", true},
    {"e/]", "e/]", true},
    {"/var/log/**/*.log", "/var/log/a.log", true},
    {"/var/log/**/*.log", "/var/log/pods/x/y/0.log", true},
    {"/var/log/**/*.log", "/var/log/a.log.gz", false},
    {"/var/log/*.{gz,zip}", "/var/log/a.log.gz", true},
    {".*", ".hidden", true},
};

TEST(GlobMatchTest, Table) {
  for (const MatchCase& c : kMatchCases) {
    absl::StatusOr<bool> m = Match(c.pattern, c.path);
    ASSERT_TRUE(m.ok()) << c.pattern;
    EXPECT_EQ(*m, c.match) << "pattern " << c.pattern << " path " << c.path;
  }
}

TEST(GlobMatchTest, BadPatterns) {
  for (const char* p :
       {"[]a]", "\\", "[", "[^", "[^bc", "a[", "ab{c,d}[", "e/[", "{a", "a}", "{a,b}}"}) {
    EXPECT_FALSE(ValidPattern(p)) << p;
    absl::StatusOr<bool> m = Match(p, "a");
    ASSERT_FALSE(m.ok()) << p;
    EXPECT_EQ(m.status().message(), "syntax error in pattern");
  }
  for (const char* p : {"", "a", "{a,b}", "[a]", "a\\[", "{}", "[\\]]"}) {
    EXPECT_TRUE(ValidPattern(p)) << p;
  }
}

TEST(GlobMatchTest, BackslashInPathIsOrdinary) {
  EXPECT_TRUE(*Match("a\\\\b", "a\\b"));
  EXPECT_TRUE(*Match("*", "a\\b"));
}

// A segment's trailing literal bytes refuse a name before matching; the cases around that: escapes,
// classes and '?' before it, non-ASCII literals (matched as runes), invalid bytes in names.
TEST(GlobMatchTest, TrailingLiteralsAndRunes) {
  EXPECT_TRUE(*Match("*abc", "xxabc"));
  EXPECT_FALSE(*Match("*abc", "xxabd"));
  EXPECT_FALSE(*Match("*abc", "bc"));
  EXPECT_TRUE(*Match("*\\*c", "a*c"));  // escaped '*' then a literal
  EXPECT_FALSE(*Match("*\\*c", "abc"));
  EXPECT_TRUE(*Match("a\\bc", "abc"));
  EXPECT_TRUE(*Match("x[abc]", "xb"));
  EXPECT_FALSE(*Match("x[abc]", "xd"));
  EXPECT_TRUE(*Match("*?z", "\xc3\xa9z"));  // '?' is one rune, two bytes
  EXPECT_FALSE(*Match("??z", "\xc3\xa9z"));
  EXPECT_TRUE(*Match("*\xc3\xa9", "caf\xc3\xa9"));
  EXPECT_FALSE(*Match("*\xc3\xa9", "cafe"));
  // An invalid byte decodes to U+FFFD, which a literal U+FFFD matches (as Go's utf8 does).
  EXPECT_TRUE(*Match("a\xef\xbf\xbd", "a\xff"));
  EXPECT_FALSE(*Match("*/*0f1e-uid", "ns_pod_0f1e-uid/0.log"));
  EXPECT_FALSE(*Match("*/*0f1e-uid/*.log", "ns_pod_0f1e-uid/c/0.log"));
  EXPECT_FALSE(*Match("*/*0f1e-uid/*/*.log", "ns_pod_0f1e-uid/c/0.log"));
  EXPECT_TRUE(*Match("*0f1e-uid/*/*.log", "ns_pod_0f1e-uid/c/0.log"));
}

// --- helpers ----------------------------------------------------------------------------------

void Mkdir(const std::string& p) { std::filesystem::create_directories(p); }
void Symlink(const std::string& target, const std::string& link) {
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0) << link;
}

// Glob results relative to `root` (the prefix stripped), for readable expectations.
std::vector<std::string> Rel(const TempDir& root, std::string_view pattern,
                             const GlobOptions& opts = {}) {
  absl::StatusOr<GlobResult> r = Glob(root.Join(std::string(pattern)), opts);
  EXPECT_TRUE(r.ok()) << r.status();
  std::vector<std::string> out;
  if (!r.ok()) return out;
  for (const GlobMatch& m : r->matches) {
    EXPECT_EQ(m.path.rfind(root.path() + "/", 0), 0u) << m.path;
    out.push_back(m.path.substr(root.path().size() + 1));
  }
  return out;
}

class GlobFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* f : {"a.log", "b.log", "c.txt", ".hidden.log", "d1/x.log", "d1/y.txt",
                          "d1/sub/z.log", "d2/x.log", "d2/deep/er/w.log", "abc/file"}) {
      WriteFile(dir_.Join(f), "x");
    }
    Mkdir(dir_.Join("empty"));
  }
  TempDir dir_;
};

TEST_F(GlobFsTest, Star) {
  EXPECT_THAT(Rel(dir_, "*.log"), ElementsAre(".hidden.log", "a.log", "b.log"));
  EXPECT_THAT(Rel(dir_, "*/x.log"), ElementsAre("d1/x.log", "d2/x.log"));
  // Directories never come back, even when the pattern names them.
  EXPECT_THAT(Rel(dir_, "*"), ElementsAre(".hidden.log", "a.log", "b.log", "c.txt"));
}

TEST_F(GlobFsTest, QuestionAndClass) {
  EXPECT_THAT(Rel(dir_, "?.log"), ElementsAre("a.log", "b.log"));
  EXPECT_THAT(Rel(dir_, "[ab].*"), ElementsAre("a.log", "b.log"));
  EXPECT_THAT(Rel(dir_, "[!a].log"), ElementsAre("b.log"));
  EXPECT_THAT(Rel(dir_, "d[0-9]/*.txt"), ElementsAre("d1/y.txt"));
}

TEST_F(GlobFsTest, Alternatives) {
  EXPECT_THAT(Rel(dir_, "*.{log,txt}"), ElementsAre(".hidden.log", "a.log", "b.log", "c.txt"));
  EXPECT_THAT(Rel(dir_, "{d1,d2/deep/er}/*.log"), ElementsAre("d1/x.log", "d2/deep/er/w.log"));
  // Overlapping alternatives give each file once, sorted.
  EXPECT_THAT(Rel(dir_, "{a,*}.log"), ElementsAre(".hidden.log", "a.log", "b.log"));
}

// A DirCache gives the same matches and lists each directory once for all the calls that share
// it: a file added after the first listing is not seen through that cache, only through a new one.
TEST_F(GlobFsTest, DirCacheListsEachDirectoryOnce) {
  DirCache cache;
  GlobOptions shared;
  shared.dir_cache = &cache;
  for (const char* p : {"*.log", "*/x.log", "d[0-9]/*.txt", "**/*.log", "{a,*}.log"}) {
    EXPECT_EQ(Rel(dir_, p, shared), Rel(dir_, p)) << p;
  }
  WriteFile(dir_.Join("new.log"), "x");
  EXPECT_THAT(Rel(dir_, "*.log", shared), ElementsAre(".hidden.log", "a.log", "b.log"));
  EXPECT_THAT(Rel(dir_, "*.log"), ElementsAre(".hidden.log", "a.log", "b.log", "new.log"));
  DirCache fresh;
  GlobOptions again;
  again.dir_cache = &fresh;
  EXPECT_THAT(Rel(dir_, "*.log", again), ElementsAre(".hidden.log", "a.log", "b.log", "new.log"));
}

TEST_F(GlobFsTest, DoubleStar) {
  // Walk order: a directory's own matches, then its subdirectories by name (doublestar's).
  EXPECT_THAT(Rel(dir_, "**/*.log"), ElementsAre(".hidden.log", "a.log", "b.log", "d1/x.log",
                                                 "d1/sub/z.log", "d2/x.log", "d2/deep/er/w.log"));
  EXPECT_THAT(Rel(dir_, "d1/**"), ElementsAre("d1/sub/z.log", "d1/x.log", "d1/y.txt"));
  EXPECT_THAT(Rel(dir_, "d2/**/w.log"), ElementsAre("d2/deep/er/w.log"));
  // Zero directories.
  EXPECT_THAT(Rel(dir_, "d1/**/x.log"), ElementsAre("d1/x.log"));
  // `**` inside a segment is a plain `*`.
  EXPECT_THAT(Rel(dir_, "d**/x.log"), ElementsAre("d1/x.log", "d2/x.log"));
  // A pattern ending in "/**/" is cleaned to "/**" (Alloy's TestDirectoryFile).
  EXPECT_THAT(Rel(dir_, "d1/sub/**/"), ElementsAre("d1/sub/z.log"));
}

TEST_F(GlobFsTest, LiteralPaths) {
  EXPECT_THAT(Rel(dir_, "d1/x.log"), ElementsAre("d1/x.log"));
  EXPECT_THAT(Rel(dir_, "d1/nope.log"), IsEmpty());
  EXPECT_THAT(Rel(dir_, "d1"), IsEmpty());  // a directory
  EXPECT_THAT(Rel(dir_, "*/sub/z.log"), ElementsAre("d1/sub/z.log"));
  EXPECT_THAT(Rel(dir_, "nonexistent/*"), IsEmpty());
  EXPECT_THAT(Rel(dir_, "nonexistent/**"), IsEmpty());
  EXPECT_THAT(Rel(dir_, "a.log/*"), IsEmpty());  // a file is not a directory
}

TEST_F(GlobFsTest, PathsAreCleaned) {
  EXPECT_THAT(Rel(dir_, "d1/../d2/./x.log"), ElementsAre("d2/x.log"));
  EXPECT_THAT(Rel(dir_, "d1//*.txt"), ElementsAre("d1/y.txt"));
}

TEST_F(GlobFsTest, EscapedMetaCharacters) {
  WriteFile(dir_.Join("e/[x]/f*"), "x");
  EXPECT_THAT(Rel(dir_, "e/\\[x\\]/*"), ElementsAre("e/[x]/f*"));
  EXPECT_THAT(Rel(dir_, "e/\\[x\\]/f\\*"), ElementsAre("e/[x]/f*"));
  EXPECT_THAT(Rel(dir_, "*/\\[x\\]/f\\*"), ElementsAre("e/[x]/f*"));
}

TEST_F(GlobFsTest, SymlinksAreFollowed) {
  Symlink(dir_.Join("d1"), dir_.Join("link-dir"));
  Symlink(dir_.Join("a.log"), dir_.Join("link.log"));
  Symlink(dir_.Join("missing"), dir_.Join("broken.log"));
  EXPECT_THAT(Rel(dir_, "*.log"), ElementsAre(".hidden.log", "a.log", "b.log", "link.log"));
  EXPECT_THAT(Rel(dir_, "link-dir/*.log"), ElementsAre("link-dir/x.log"));
  EXPECT_THAT(Rel(dir_, "link-*/sub/*"), ElementsAre("link-dir/sub/z.log"));
  EXPECT_THAT(Rel(dir_, "**/z.log"), ElementsAre("d1/sub/z.log", "link-dir/sub/z.log"));
}

TEST_F(GlobFsTest, SymlinkCyclesAreBounded) {
  Symlink(dir_.Join("d1"), dir_.Join("d1/sub/up"));  // d1/sub/up -> d1
  Symlink(".", dir_.Join("d2/self"));                // d2/self -> d2
  std::vector<std::string> got = Rel(dir_, "**/*.log");
  // A link back to a directory being walked is not entered: each file comes once.
  EXPECT_THAT(got, ElementsAre(".hidden.log", "a.log", "b.log", "d1/x.log", "d1/sub/z.log",
                               "d2/x.log", "d2/deep/er/w.log"));
  // Through the link by name, the target is walked (once) like any directory.
  EXPECT_THAT(Rel(dir_, "d1/sub/up/**/*.log"),
              ElementsAre("d1/sub/up/x.log", "d1/sub/up/sub/z.log"));
}

TEST_F(GlobFsTest, MaxDepth) {
  GlobOptions opts;
  opts.max_depth = 1;
  EXPECT_THAT(Rel(dir_, "d2/**/*.log", opts), ElementsAre("d2/x.log"));
  opts.max_depth = 2;
  EXPECT_THAT(Rel(dir_, "d2/**/*.log", opts), ElementsAre("d2/x.log", "d2/deep/er/w.log"));
}

TEST_F(GlobFsTest, MaxMatchesTruncates) {
  GlobOptions opts;
  opts.max_matches = 2;
  absl::StatusOr<GlobResult> r = Glob(dir_.Join("**/*.log"), opts);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->matches.size(), 2u);
  EXPECT_TRUE(r->truncated);
  r = Glob(dir_.Join("*.txt"), opts);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->truncated);
}

TEST_F(GlobFsTest, TooManyAlternativesIsRefused) {
  GlobOptions opts;
  opts.max_alternatives = 3;
  EXPECT_TRUE(Glob(dir_.Join("{a,b,c}.log"), opts).ok());
  EXPECT_FALSE(Glob(dir_.Join("{a,b}{c,d}.log"), opts).ok());
}

TEST_F(GlobFsTest, RelativePatterns) {
  char old[4096];
  ASSERT_NE(getcwd(old, sizeof(old)), nullptr);
  ASSERT_EQ(chdir(dir_.path().c_str()), 0);
  absl::StatusOr<GlobResult> r = Glob("d1/*.log");
  absl::StatusOr<GlobResult> star = Glob("*.txt");
  absl::StatusOr<GlobResult> dotdot = Glob("d1/../d2/*.log");
  ASSERT_EQ(chdir(old), 0);
  ASSERT_TRUE(r.ok() && star.ok() && dotdot.ok());
  ASSERT_EQ(r->matches.size(), 1u);
  EXPECT_EQ(r->matches[0].path, "d1/x.log");
  ASSERT_EQ(star->matches.size(), 1u);
  EXPECT_EQ(star->matches[0].path, "c.txt");
  ASSERT_EQ(dotdot->matches.size(), 1u);
  EXPECT_EQ(dotdot->matches[0].path, "d2/x.log");
}

TEST_F(GlobFsTest, ReportsModificationTime) {
  struct timespec times[2] = {{1000, 0}, {1234, 567}};
  ASSERT_EQ(utimensat(AT_FDCWD, dir_.Join("a.log").c_str(), times, 0), 0);
  absl::StatusOr<GlobResult> r = Glob(dir_.Join("a.log"));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->matches.size(), 1u);
  EXPECT_EQ(r->matches[0].mtime_ns, 1234'000'000'567);
}

TEST(GlobTest, EmptyAndBadPatterns) {
  absl::StatusOr<GlobResult> r = Glob("");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->matches.empty());
  EXPECT_EQ(Glob("/tmp/[").status().message(), "syntax error in pattern");
  EXPECT_FALSE(Glob("/tmp/{a").ok());
}

// --- prefix, depth, clean ----------------------------------------------------------------------

TEST(GlobTest, StaticPrefix) {
  EXPECT_EQ(StaticPrefix("/var/log/pods/*/*/*.log"), "/var/log/pods");
  EXPECT_EQ(StaticPrefix("/var/log/app.log"), "/var/log");
  EXPECT_EQ(StaticPrefix("/var/log/{a,b}/x.log"), "/var/log");
  EXPECT_EQ(StaticPrefix("/var/lo{g,x}/x.log"), "/var");
  EXPECT_EQ(StaticPrefix("/*.log"), "/");
  EXPECT_EQ(StaticPrefix("*.log"), ".");
  EXPECT_EQ(StaticPrefix("logs/**/*.log"), "logs");
  EXPECT_EQ(StaticPrefix("/var//log/./x/../*.log"), "/var/log");
  EXPECT_EQ(StaticPrefix("/a\\[b\\]/*.log"), "/a[b]");
}

TEST(GlobTest, MaxMatchDepth) {
  EXPECT_EQ(MaxMatchDepth("/var/log/*.log"), 1);
  EXPECT_EQ(MaxMatchDepth("/var/log/app.log"), 1);
  EXPECT_EQ(MaxMatchDepth("/var/log/pods/*/*/*.log"), 3);
  EXPECT_EQ(MaxMatchDepth("/var/log/{a,b/c}/*.log"), 3);
  EXPECT_EQ(MaxMatchDepth("/var/log/**/*.log"), std::nullopt);
  EXPECT_EQ(MaxMatchDepth("/var/log/{a,**}/*.log"), std::nullopt);
  EXPECT_EQ(MaxMatchDepth("/var/log/a**b/*.log"), 2);
  EXPECT_EQ(MaxMatchDepth("*.log"), 1);
  EXPECT_EQ(MaxMatchDepth("/var/[log"), std::nullopt);
}

TEST(GlobTest, CleanPath) {
  EXPECT_EQ(CleanPath(""), ".");
  EXPECT_EQ(CleanPath("/"), "/");
  EXPECT_EQ(CleanPath("a//b/./c/"), "a/b/c");
  EXPECT_EQ(CleanPath("a/../../b"), "../b");
  EXPECT_EQ(CleanPath("/../a"), "/a");
  EXPECT_EQ(CleanPath("a/.."), ".");
  EXPECT_EQ(CleanPath("./a"), "a");
  EXPECT_EQ(CleanPath("../../x/.."), "../..");
}

}  // namespace
}  // namespace sluice::glob
