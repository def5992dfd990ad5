#include "agent/discovery/file_match.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "tests/support/block_builder.h"
#include "tests/support/temp_dir.h"

namespace sluice {
namespace {

using ::sluice::testing::Arr;
using ::sluice::testing::BlockBuilder;
using ::sluice::testing::Int;
using ::sluice::testing::Obj;
using ::sluice::testing::Str;
using ::sluice::testing::TempDir;
using ::sluice::testing::WriteFile;
using ::testing::ElementsAre;

LabelSet L(std::initializer_list<std::pair<std::string, std::string>> kv) {
  LabelSet s;
  for (const auto& [k, v] : kv) s.Set(k, v);
  return s;
}

std::vector<std::string> Paths(const std::vector<LabelSet>& targets) {
  std::vector<std::string> out;
  for (const LabelSet& t : targets) {
    LabelValue p = t.Get("__path__");
    out.push_back(p ? std::string(*p) : "<none>");
  }
  return out;
}

void SetMtime(const std::string& path, int64_t unix_ns) {
  struct timespec times[2];
  times[0].tv_sec = unix_ns / 1'000'000'000;
  times[0].tv_nsec = unix_ns % 1'000'000'000;
  times[1] = times[0];
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

class FileMatchTest : public ::testing::Test {
 protected:
  std::vector<LabelSet> Expand(std::vector<LabelSet> targets,
                               absl::Duration ignore = absl::ZeroDuration(),
                               FileMatchStats* stats = nullptr) {
    return ExpandFileTargets(targets, clock_, ignore, {}, stats);
  }
  TempDir dir_;
  FakeClock clock_;
};

TEST_F(FileMatchTest, OneTargetPerFileWithLabelsKept) {
  WriteFile(dir_.Join("t1.txt"), "x");
  WriteFile(dir_.Join("t2.txt"), "x");
  WriteFile(dir_.Join("other.log"), "x");
  std::vector<LabelSet> out =
      Expand({L({{"__path__", dir_.Join("*.txt")}, {"job", "app"}, {"__meta_x", "m"}})});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], L({{"__path__", dir_.Join("t1.txt")}, {"job", "app"}, {"__meta_x", "m"}}));
  EXPECT_EQ(out[1], L({{"__path__", dir_.Join("t2.txt")}, {"job", "app"}, {"__meta_x", "m"}}));
}

TEST_F(FileMatchTest, DirectoriesAreSkipped) {
  // Alloy's TestDirectoryFile: "dir/**/" matches the directory itself and subdir too.
  WriteFile(dir_.Join("subdir/t1.txt"), "x");
  EXPECT_THAT(Paths(Expand({L({{"__path__", dir_.path() + "/**/"}})})),
              ElementsAre(dir_.Join("subdir/t1.txt")));
}

TEST_F(FileMatchTest, SubdirectoriesWithDoubleStar) {
  WriteFile(dir_.Join("t1.txt"), "x");
  WriteFile(dir_.Join("subdir/t3.txt"), "x");
  EXPECT_THAT(Paths(Expand({L({{"__path__", dir_.Join("**/*.txt")}})})),
              ElementsAre(dir_.Join("t1.txt"), dir_.Join("subdir/t3.txt")));
}

TEST_F(FileMatchTest, Exclude) {
  WriteFile(dir_.Join("t1.txt"), "x");
  WriteFile(dir_.Join("subdir/exclude_me.txt"), "x");
  WriteFile(dir_.Join("subdir2/another.txt"), "x");
  std::vector<LabelSet> out = Expand(
      {L({{"__path__", dir_.Join("**/*.txt")}, {"__path_exclude__", dir_.Join("subdir/*.txt")}})});
  EXPECT_THAT(Paths(out), ElementsAre(dir_.Join("t1.txt"), dir_.Join("subdir2/another.txt")));
  // The exclusion label stays on the output, as in Alloy.
  ASSERT_FALSE(out.empty());
  ASSERT_TRUE(out[0].Get("__path_exclude__").has_value());
  EXPECT_EQ(*out[0].Get("__path_exclude__"), dir_.Join("subdir/*.txt"));
}

TEST_F(FileMatchTest, MultiplePatternsWithAlternatives) {
  // Alloy's TestMultiplePatterns.
  for (std::string sub : {"nginx", "apache", "caddy", "other"}) {
    for (std::string f : {"access.log", "error.txt", "config.json", "debug.yaml", "access.log.gz",
                          "error.txt.zip", "config.json.bak", "old.log.old"}) {
      WriteFile(dir_.Join(sub + "/" + f), "x");
    }
  }
  std::vector<LabelSet> out =
      Expand({L({{"__path__", dir_.Join("{nginx,apache,caddy}/*.{log,txt,json}")},
                 {"__path_exclude__", dir_.Join("{nginx,apache,caddy}/*.{gz,zip,bak,old}")}})});
  std::vector<std::string> want;
  for (std::string sub : {"apache", "caddy", "nginx"}) {
    for (std::string f : {"access.log", "config.json", "error.txt"}) {
      want.push_back(dir_.Join(sub + "/" + f));
    }
  }
  EXPECT_EQ(Paths(out), want);  // one sorted list across the alternatives
}

TEST_F(FileMatchTest, ExcludeAlternativesReallyExclude) {
  WriteFile(dir_.Join("a.log"), "x");
  WriteFile(dir_.Join("a.log.gz"), "x");
  WriteFile(dir_.Join("b.log.1"), "x");
  EXPECT_THAT(
      Paths(
          Expand({L({{"__path__", dir_.Join("*")}, {"__path_exclude__", dir_.Join("*.{gz,1}")}})})),
      ElementsAre(dir_.Join("a.log")));
}

TEST_F(FileMatchTest, BadExcludePatternExcludesNothing) {
  WriteFile(dir_.Join("a.log"), "x");
  EXPECT_THAT(Paths(Expand({L({{"__path__", dir_.Join("*.log")}, {"__path_exclude__", "["}})})),
              ElementsAre(dir_.Join("a.log")));
}

TEST_F(FileMatchTest, IgnoreOlderThan) {
  WriteFile(dir_.Join("old.log"), "x");
  WriteFile(dir_.Join("new.log"), "x");
  WriteFile(dir_.Join("edge.log"), "x");
  const int64_t now = clock_.NowUnixNanos();
  SetMtime(dir_.Join("old.log"), now - absl::ToInt64Nanoseconds(absl::Hours(2)));
  SetMtime(dir_.Join("new.log"), now - absl::ToInt64Nanoseconds(absl::Minutes(5)));
  // Exactly at the limit is not "before" it: kept.
  SetMtime(dir_.Join("edge.log"), now - absl::ToInt64Nanoseconds(absl::Hours(1)));
  std::vector<LabelSet> targets = {L({{"__path__", dir_.Join("*.log")}})};
  EXPECT_THAT(Paths(Expand(targets, absl::Hours(1))),
              ElementsAre(dir_.Join("edge.log"), dir_.Join("new.log")));
  // Time passes: now only new.log is young enough.
  clock_.Advance(absl::ToInt64Nanoseconds(absl::Minutes(30)));
  EXPECT_THAT(Paths(Expand(targets, absl::Hours(1))), ElementsAre(dir_.Join("new.log")));
  // 0 keeps everything.
  EXPECT_EQ(Expand(targets).size(), 3u);
}

TEST_F(FileMatchTest, SameFileFromTwoTargetsTwice) {
  // Alloy's TestMultiLabels: no deduplication across targets; order follows the inputs.
  WriteFile(dir_.Join("t1.txt"), "x");
  std::vector<LabelSet> out = Expand({L({{"__path__", dir_.Join("**/*.txt")}, {"n", "1"}}),
                                      L({{"__path__", dir_.Join("**/*.txt")}, {"n", "2"}})});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(*out[0].Get("n"), "1");
  EXPECT_EQ(*out[1].Get("n"), "2");
}

TEST_F(FileMatchTest, MissingPathOrBadPattern) {
  WriteFile(dir_.Join("a.log"), "x");
  FileMatchStats stats;
  std::vector<LabelSet> out =
      Expand({L({{"job", "x"}}), L({{"__path__", ""}}), L({{"__path__", dir_.Join("[")}}),
              L({{"__path__", dir_.Join("a.log")}})},
             absl::ZeroDuration(), &stats);
  EXPECT_THAT(Paths(out), ElementsAre(dir_.Join("a.log")));
  EXPECT_EQ(stats.bad_patterns, 1u);
}

TEST_F(FileMatchTest, RelativePatternsBecomeAbsolute) {
  WriteFile(dir_.Join("logs/a.log"), "x");
  WriteFile(dir_.Join("logs/skip.log"), "x");
  char old[4096];
  ASSERT_NE(getcwd(old, sizeof(old)), nullptr);
  ASSERT_EQ(chdir(dir_.path().c_str()), 0);
  // The exclusion is matched against the glob's (relative) result, as Alloy does.
  std::vector<LabelSet> out =
      Expand({L({{"__path__", "logs/*.log"}, {"__path_exclude__", "logs/skip*"}})});
  ASSERT_EQ(chdir(old), 0);
  EXPECT_THAT(Paths(out), ElementsAre(dir_.Join("logs/a.log")));
}

TEST_F(FileMatchTest, EmptyLabelValuesAreDropped) {
  WriteFile(dir_.Join("a.log"), "x");
  std::vector<LabelSet> out = Expand({L({{"__path__", dir_.Join("a.log")}, {"gone", ""}})});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].Get("gone").has_value());
}

TEST_F(FileMatchTest, SymlinkedFilesAndBrokenLinks) {
  WriteFile(dir_.Join("real/a.log"), "x");
  ASSERT_EQ(symlink(dir_.Join("real/a.log").c_str(), dir_.Join("link.log").c_str()), 0);
  ASSERT_EQ(symlink(dir_.Join("nowhere").c_str(), dir_.Join("broken.log").c_str()), 0);
  EXPECT_THAT(Paths(Expand({L({{"__path__", dir_.Join("*.log")}})})),
              ElementsAre(dir_.Join("link.log")));
}

TEST_F(FileMatchTest, TruncatedGlobIsCounted) {
  for (int i = 0; i < 5; ++i) WriteFile(dir_.Join("f" + std::to_string(i)), "x");
  glob::GlobOptions opts;
  opts.max_matches = 3;
  FileMatchStats stats;
  std::vector<LabelSet> out = ExpandFileTargets({L({{"__path__", dir_.Join("*")}})}, clock_,
                                                absl::ZeroDuration(), opts, &stats);
  EXPECT_EQ(out.size(), 3u);
  EXPECT_EQ(stats.truncated_globs, 1u);
}

// --- arguments ---------------------------------------------------------------------------------

TEST(FileMatchArgsTest, DefaultsAndValues) {
  config::Block b =
      BlockBuilder("local.file_match", "logs")
          .Attr("path_targets",
                Arr({Obj({{"__path__", Str("/var/log/*.log")}, {"job", Str("varlog")}})}))
          .Build();
  config::Diags diags;
  FileMatchArgs args;
  ASSERT_TRUE(DecodeFileMatchArgs(b, &diags, &args));
  ASSERT_EQ(args.path_targets->size(), 1u);
  EXPECT_EQ((*args.path_targets)[0], L({{"__path__", "/var/log/*.log"}, {"job", "varlog"}}));
  EXPECT_EQ(args.sync_period, absl::Seconds(10));
  EXPECT_EQ(args.ignore_older_than, absl::ZeroDuration());

  config::Block b2 = BlockBuilder("local.file_match", "logs")
                         .Attr("path_targets", Arr({}))
                         .Attr("sync_period", Str("1m"))
                         .Attr("ignore_older_than", Str("24h"))
                         .Build();
  ASSERT_TRUE(DecodeFileMatchArgs(b2, &diags, &args));
  EXPECT_TRUE(args.path_targets->empty());
  EXPECT_EQ(args.sync_period, absl::Minutes(1));
  EXPECT_EQ(args.ignore_older_than, absl::Hours(24));
}

TEST(FileMatchArgsTest, Errors) {
  auto errors = [](config::Block b) {
    config::Diags diags;
    FileMatchArgs args;
    EXPECT_FALSE(DecodeFileMatchArgs(b, &diags, &args));
    std::vector<std::string> out;
    for (const config::Diagnostic& d : diags.list()) out.push_back(d.message);
    return out;
  };
  EXPECT_THAT(errors(BlockBuilder("local.file_match", "x").Build()),
              ElementsAre("missing required attribute \"path_targets\""));
  EXPECT_THAT(errors(BlockBuilder("local.file_match", "x")
                         .Attr("path_targets", Arr({Str("/var/log")}))
                         .Build()),
              ElementsAre("expected object, got string"));
  EXPECT_THAT(errors(BlockBuilder("local.file_match", "x")
                         .Attr("path_targets", Arr({}))
                         .Attr("sync_period", Str("soon"))
                         .Build()),
              ElementsAre("time: invalid duration \"soon\""));
  EXPECT_THAT(errors(BlockBuilder("local.file_match", "x")
                         .Attr("path_targets", Arr({}))
                         .Attr("sync_period", Str("0s"))
                         .Build()),
              ElementsAre("sync_period must be greater than 0"));
  EXPECT_THAT(errors(BlockBuilder("local.file_match", "x")
                         .Attr("path_targets", Arr({}))
                         .Attr("ignore_older_than", Int(5))
                         .Build()),
              ElementsAre("expected string, got number"));
  EXPECT_THAT(errors(BlockBuilder("local.file_match", "x")
                         .Attr("path_targets", Arr({}))
                         .Attr("path", Str("/x"))
                         .Build()),
              ElementsAre("unrecognized attribute name \"path\""));
}

TEST(FileMatchArgsTest, FailedDecodeLeavesOutputAlone) {
  config::Diags diags;
  FileMatchArgs args;
  args.sync_period = absl::Seconds(3);
  EXPECT_FALSE(DecodeFileMatchArgs(BlockBuilder("local.file_match", "x").Build(), &diags, &args));
  EXPECT_EQ(args.sync_period, absl::Seconds(3));
}

}  // namespace
}  // namespace sluice
