#include "agent/process/extracted_map.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/labels.h"

namespace sluice {
namespace {

using ::sluice::testing::Labels;

// The map's content as sorted "k=v" strings (numbers and bools through ToString).
std::vector<std::string> Content(const ExtractedMap& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m) {
    std::string s;
    if (!v.ToString(&s)) s = "<null>";
    out.push_back(k + "=" + s);
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ExtractedMapTest, ResetShowsTheLabelsAndNothingOfTheEntryBefore) {
  ExtractedMap m;
  m.Reset(Labels({{"app", "api"}, {"pod", "p-1"}}));
  EXPECT_TRUE(m.contains("app"));
  EXPECT_EQ(m.size(), 2u);
  m["level"] = ExtractedValue::String("info");
  m["app"] = ExtractedValue::Number(2);
  EXPECT_EQ(Content(m), (std::vector<std::string>{"app=2", "level=info", "pod=p-1"}));

  m.Reset(Labels({{"job", "j"}}));
  EXPECT_FALSE(m.contains("level"));
  EXPECT_FALSE(m.contains("app"));
  EXPECT_EQ(m.find("level"), m.end());
  EXPECT_EQ(m.find("app"), m.end());
  EXPECT_EQ(Content(m), (std::vector<std::string>{"job=j"}));
  EXPECT_EQ(m.size(), 1u);
  EXPECT_FALSE(m.empty());

  m.clear();
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.begin(), m.end());
}

TEST(ExtractedMapTest, ASeededLabelCanBeChangedThroughFind) {
  ExtractedMap m;
  m.Reset(Labels({{"app", "api"}}));
  auto it = m.find("app");
  ASSERT_NE(it, m.end());
  EXPECT_EQ(it->first, "app");
  EXPECT_EQ(it->second.kind, ExtractedValue::Kind::kString);
  it->second.str = "web";
  EXPECT_EQ(m.at("app").str, "web");
  EXPECT_EQ(Content(m), (std::vector<std::string>{"app=web"}));
}

// Overwrite gives a fresh value whether the key is a seeded label, a value of this entry, an
// erased key or a key of an earlier entry, and hides the seeded label from then on.
TEST(ExtractedMapTest, OverwriteReplacesSeededAndEarlierValues) {
  ExtractedMap m;
  m.Reset(Labels({{"app", "api"}, {"level", "seed"}}));
  m["msg"] = ExtractedValue::Number(3);
  m.erase("app");
  for (const char* key : {"level", "msg", "app", "new"}) {
    ExtractedValue& v = m.Overwrite(key);
    EXPECT_EQ(v.kind, ExtractedValue::Kind::kString) << key;
    EXPECT_EQ(v.str, "") << key;
    v.str = std::string("w-") + key;
  }
  EXPECT_EQ(Content(m),
            (std::vector<std::string>{"app=w-app", "level=w-level", "msg=w-msg", "new=w-new"}));
  m.Reset(Labels({{"level", "next"}}));
  EXPECT_EQ(Content(m), (std::vector<std::string>{"level=next"}));
  EXPECT_EQ(m.Overwrite("level").str, "");
  EXPECT_EQ(Content(m), (std::vector<std::string>{"level="}));
}

TEST(ExtractedMapTest, ErasingASeededLabelHidesIt) {
  ExtractedMap m;
  m.Reset(Labels({{"app", "api"}, {"pod", "p"}}));
  EXPECT_EQ(m.erase("app"), 1u);
  EXPECT_EQ(m.erase("app"), 0u);
  EXPECT_EQ(m.erase("nothing"), 0u);
  EXPECT_FALSE(m.contains("app"));
  EXPECT_EQ(m.find("app"), m.end());
  EXPECT_THROW(m.at("app"), std::out_of_range);
  EXPECT_EQ(Content(m), (std::vector<std::string>{"pod=p"}));
  // Set again after the erase: a fresh value, not the label.
  EXPECT_EQ(m["app"].str, "");
  EXPECT_EQ(Content(m), (std::vector<std::string>{"app=", "pod=p"}));
  // The next entry sees its own labels again.
  m.Reset(Labels({{"app", "api"}}));
  EXPECT_EQ(Content(m), (std::vector<std::string>{"app=api"}));
}

TEST(ExtractedMapTest, AKeyOfAnEarlierEntryStartsEmptyWhenSetAgain) {
  ExtractedMap m;
  m.Reset(LabelSet());
  m["n"] = ExtractedValue::Number(7);
  m["b"] = ExtractedValue::Bool(true);
  m.Reset(LabelSet());
  ExtractedValue& n = m["n"];
  EXPECT_EQ(n.kind, ExtractedValue::Kind::kString);
  EXPECT_EQ(n.num, 0);
  EXPECT_EQ(n.str, "");
  EXPECT_FALSE(m["b"].boolean);
}

TEST(ExtractedMapTest, SetLabelsOverwritesAndKeepsTheRest) {
  ExtractedMap m;
  m.Reset(Labels({{"app", "api"}}));
  m["app"] = ExtractedValue::Number(1);
  m["other"] = ExtractedValue::Null();
  m.SetLabels(Labels({{"app", "web"}, {"new", "n"}}));
  EXPECT_EQ(Content(m), (std::vector<std::string>{"app=web", "new=n", "other=<null>"}));
}

TEST(ExtractedMapTest, CopiesAndMovesCarryTheEntry) {
  ExtractedMap m;
  m.Reset(Labels({{"app", "api"}}));
  m["level"] = ExtractedValue::String("warn");
  ExtractedMap copy = m;
  m.Reset(LabelSet());  // the original goes on to another entry
  EXPECT_EQ(Content(copy), (std::vector<std::string>{"app=api", "level=warn"}));
  EXPECT_TRUE(Content(m).empty());

  ExtractedMap moved = std::move(copy);
  EXPECT_EQ(Content(moved), (std::vector<std::string>{"app=api", "level=warn"}));
  EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move): a moved-from map is empty
  copy.Reset(Labels({{"x", "1"}}));
  EXPECT_EQ(Content(copy), (std::vector<std::string>{"x=1"}));
}

TEST(ExtractedMapTest, StartValuesComeOnTopOfTheLabelsAndAreTakenOver) {
  // What the tailer passes for stage.cri: time, flags, content; a label of the same name loses.
  ExtractedMap m;
  LabelSet start = Labels({{"content", "hello"}, {"flags", "F"}, {"time", "T"}});
  m.Reset(Labels({{"flags", "label"}, {"pod", "p"}}), &start);
  EXPECT_TRUE(start.empty()) << "taken over";
  EXPECT_EQ(m.at("flags").str, "F");
  EXPECT_TRUE(m.contains("time"));
  EXPECT_EQ(Content(m), (std::vector<std::string>{"content=hello", "flags=F", "pod=p", "time=T"}));
  // Not carried to the next entry.
  m.Reset(Labels({{"pod", "q"}}));
  EXPECT_FALSE(m.contains("content"));
  EXPECT_EQ(Content(m), (std::vector<std::string>{"pod=q"}));
}

TEST(ExtractedMapTest, ManyEntriesThroughOneMapKeepOnlyTheLast) {
  // The tail thread's scratch entry: one map for every line.
  ExtractedMap m;
  for (int i = 0; i < 1000; ++i) {
    m.Reset(Labels({{"i", std::to_string(i)}}));
    m[i % 2 == 0 ? "even" : "odd"] = ExtractedValue::Number(i);
  }
  EXPECT_EQ(Content(m), (std::vector<std::string>{"i=999", "odd=999"}));
}

}  // namespace
}  // namespace sluice
