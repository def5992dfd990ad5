// PartialJoin: pieces appended up to the limit, where the latest piece starts, a cut reported per
// piece and remembered for the line, the joined bytes readable after the line ends.
#include "agent/source/partial_join.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

TEST(PartialJoinTest, JoinsPiecesAndKnowsWhereTheLatestStarts) {
  PartialJoin j;
  EXPECT_FALSE(j.active());
  EXPECT_TRUE(j.Append("hello "));
  EXPECT_TRUE(j.active());
  EXPECT_TRUE(j.Append("big "));
  EXPECT_TRUE(j.Append("world"));
  EXPECT_EQ(j.joined(), "hello big world");
  EXPECT_EQ(j.piece_at(), 10u);
  EXPECT_FALSE(j.truncated());
  j.End();
  EXPECT_FALSE(j.active());
  EXPECT_EQ(j.joined(), "hello big world") << "readable until the next line starts";
  EXPECT_TRUE(j.Append("next"));
  EXPECT_EQ(j.joined(), "next");
  EXPECT_EQ(j.piece_at(), 0u);
}

TEST(PartialJoinTest, TheLimitCutsAPieceAndDropsTheRest) {
  PartialJoin j;
  EXPECT_TRUE(j.Append("abcd", 10));
  EXPECT_FALSE(j.Append("efghijkl", 10)) << "cut to the 6 bytes left";
  EXPECT_EQ(j.joined(), "abcdefghij");
  EXPECT_TRUE(j.truncated());
  EXPECT_FALSE(j.Append("k", 10)) << "no room: dropped whole";
  EXPECT_TRUE(j.Append("", 10)) << "an empty piece always fits";
  EXPECT_EQ(j.joined(), "abcdefghij");
  EXPECT_EQ(j.piece_at(), 10u);
  j.End();
  EXPECT_TRUE(j.truncated()) << "known until the next line starts";
  EXPECT_TRUE(j.Append("new", 10));
  EXPECT_FALSE(j.truncated()) << "a new line starts uncut";
}

TEST(PartialJoinTest, TakeIntoHandsOverTheBytesAndResetDropsThem) {
  PartialJoin j;
  j.Append("one ");
  j.Append("two");
  std::string out = "old";
  j.TakeInto(&out);
  EXPECT_EQ(out, "one two");
  EXPECT_FALSE(j.active());
  EXPECT_TRUE(j.joined().empty());
  j.Append("pending", 3);
  j.Reset();
  EXPECT_FALSE(j.active());
  EXPECT_FALSE(j.truncated());
  EXPECT_TRUE(j.joined().empty());
}

}  // namespace
}  // namespace sluice
