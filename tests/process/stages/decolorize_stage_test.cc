// Tests of stage.decolorize (agent/process/stages/decolorize.cc), case by case after Alloy's
// stages/*_test.go behaviour.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/process/stages/stage_test_util.h"

namespace sluice::testing {
namespace {

TEST(DecolorizeStageTest, RemovesAnsiEscapes) {
  StageHarness h;
  ASSERT_TRUE(h.Build(NewDecolorizeStage, BlockBuilder("stage.decolorize").Build()));
  EXPECT_EQ(h.One(Entry("sample text")).line, "sample text");
  EXPECT_EQ(h.One(Entry("\033[0;32mgreen\033[0m \033[0;31mred\033[0m")).line, "green red");
  EXPECT_EQ(h.One(Entry("\033[1;4;38;5;196mbold\033[K!")).line, "bold!");
  EXPECT_EQ(h.One(Entry("\xC2\x9B"
                        "31mc1\xC2\x9Bm"))
                .line,
            "c1");                                               // C1 CSI
  EXPECT_EQ(h.One(Entry("\033]0;title\007text")).line, "text");  // OSC with BEL
  EXPECT_EQ(h.One(Entry("caf\xC3\xA9 \033[0m")).line, "caf\xC3\xA9 ");
  EXPECT_FALSE(
      h.Build(NewDecolorizeStage, BlockBuilder("stage.decolorize").Attr("x", Int(1)).Build()));
}

}  // namespace
}  // namespace sluice::testing
