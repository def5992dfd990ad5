#include "agent/common/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice {
namespace {

struct Args {
  explicit Args(std::vector<std::string> a) : strings(std::move(a)) {
    for (std::string& s : strings) ptrs.push_back(s.data());
  }
  int argc() { return static_cast<int>(ptrs.size()); }
  char** argv() { return ptrs.data(); }
  std::vector<std::string> strings;
  std::vector<char*> ptrs;
};

struct Values {
  std::string name;
  bool flag = false;
  uint64_t size = 0;
  absl::Duration wait;
  int count = 0;
  std::vector<std::string> labels;
};

FlagSet Make(Values* v) {
  FlagSet f;
  f.String("name", &v->name, "a name");
  f.Bool("flag", &v->flag, "a switch");
  f.Bytes("size", &v->size, "a size");
  f.Duration("wait", &v->wait, "a duration");
  f.Int("count", &v->count, 1, "a count");
  f.Custom(
      "label", "k=v",
      [v](std::string_view s) {
        if (s.find('=') == std::string_view::npos) return absl::InvalidArgumentError("wants k=v");
        v->labels.emplace_back(s);
        return absl::OkStatus();
      },
      "repeatable");
  f.Ignored("disable-reporting", false, "ignored");
  return f;
}

absl::Status Parse(std::vector<std::string> argv, Values* v, std::vector<std::string>* pos,
                   bool* help) {
  FlagSet f = Make(v);
  Args a(std::move(argv));
  return f.Parse(a.argc(), a.argv(), pos, help);
}

TEST(FlagsTest, PflagSyntaxAndPositionalsAnywhere) {
  Values v;
  std::vector<std::string> pos;
  bool help = false;
  ASSERT_TRUE(Parse({"a", "--name=x", "--size", "1MB", "b", "--flag", "--wait=1500ms", "--count",
                     "3", "--label", "k=1", "--label=j=2", "--disable-reporting", "--", "--c"},
                    &v, &pos, &help)
                  .ok());
  EXPECT_FALSE(help);
  EXPECT_EQ(pos, (std::vector<std::string>{"a", "b", "--c"}));
  EXPECT_EQ(v.name, "x");
  EXPECT_EQ(v.size, 1024u * 1024u);  // Alloy's units: MB is MiB
  EXPECT_TRUE(v.flag);
  EXPECT_EQ(v.wait, absl::Milliseconds(1500));
  EXPECT_EQ(v.count, 3);
  EXPECT_EQ(v.labels, (std::vector<std::string>{"k=1", "j=2"}));
  // A boolean takes its value only after '='.
  ASSERT_TRUE(Parse({"--flag=false", "--name", "y"}, &v, &pos, &help).ok());
  EXPECT_FALSE(v.flag);
}

TEST(FlagsTest, ErrorsNameTheFlag) {
  Values v;
  std::vector<std::string> pos;
  bool help = false;
  auto error = [&](std::vector<std::string> argv) {
    absl::Status st = Parse(std::move(argv), &v, &pos, &help);
    return std::string(st.message());
  };
  EXPECT_EQ(error({"--bogus"}), "unknown option --bogus");
  EXPECT_EQ(error({"--name"}), "--name needs a value");
  EXPECT_EQ(error({"--name="}), "--name: needs a value");
  EXPECT_THAT(error({"--size", "12XB"}), ::testing::StartsWith("--size: invalid byte size unit"));
  EXPECT_EQ(error({"--size", "0"}), "--size: must be greater than 0");
  EXPECT_EQ(error({"--count", "0"}), "--count: needs a whole number >= 1");
  EXPECT_THAT(error({"--wait", "soon"}), ::testing::StartsWith("--wait: "));
  EXPECT_EQ(error({"--flag=maybe"}), "--flag: invalid boolean \"maybe\"");
  EXPECT_EQ(error({"--label", "x"}), "--label: wants k=v");
  EXPECT_THAT(error({"-n"}), ::testing::HasSubstr("unknown shorthand flag -n"));
  EXPECT_TRUE(Parse({"x", "--help", "--bogus"}, &v, &pos, &help).ok());
  EXPECT_TRUE(help);
}

TEST(FlagsTest, HelpListsEveryFlagInOrder) {
  Values v;
  FlagSet f = Make(&v);
  std::string text = f.Help();
  size_t name = text.find("--name VALUE");
  size_t flag = text.find("--flag ");
  size_t size = text.find("--size BYTES");
  size_t label = text.find("--label k=v");
  ASSERT_NE(name, std::string::npos) << text;
  ASSERT_NE(flag, std::string::npos) << text;
  ASSERT_NE(size, std::string::npos) << text;
  ASSERT_NE(label, std::string::npos) << text;
  EXPECT_LT(name, flag);
  EXPECT_LT(flag, size);
  EXPECT_LT(size, label);
}

}  // namespace
}  // namespace sluice
