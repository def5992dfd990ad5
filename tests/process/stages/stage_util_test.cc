// Tests of the helpers shared by the stages (agent/process/stages/stage_util.h).
#include <gtest/gtest.h>

#include "tests/process/stages/stage_test_util.h"

namespace sluice::testing {
namespace {

TEST(StageErrorsTest, ErrorsPointAtTheAttribute) {
  StageHarness h;
  config::Block b = BlockBuilder("stage.output").Attr("source", Str("")).Build();
  EXPECT_FALSE(h.Build(NewOutputStage, b));
  ASSERT_EQ(h.diags.list().size(), 1u);
  EXPECT_EQ(h.diags.list()[0].span.begin.line, b.body.attrs[0].value_span.begin.line);
  EXPECT_EQ(h.diags.list()[0].span.begin.col, b.body.attrs[0].value_span.begin.col);
}

}  // namespace
}  // namespace sluice::testing
