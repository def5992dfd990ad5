#include "agent/source/journal_entry.h"

#include <memory>
#include <string>
#include <vector>

#include "agent/relabel/relabel.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sluice {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

std::vector<JournalField> Fields(std::vector<std::pair<std::string, std::string>> kv) {
  std::vector<JournalField> out;
  for (auto& [k, v] : kv) out.push_back(JournalField{k, v});
  return out;
}

TEST(JournalEntryTest, EveryFieldIsAJournalLabelLowerCased) {
  LabelSet ls;
  AddJournalLabels(Fields({{"MESSAGE", "hi"},
                           {"_SYSTEMD_UNIT", "kubelet.service"},
                           {"PRIORITY", "3"},
                           {"SYSLOG_IDENTIFIER", "kubelet"},
                           {"EMPTY", ""},
                           {"DUP", "first"},
                           {"DUP", "last"}}),
                   &ls);
  EXPECT_THAT(
      ls.labels(),
      ElementsAre(Pair("__journal__systemd_unit", "kubelet.service"), Pair("__journal_dup", "last"),
                  Pair("__journal_message", "hi"), Pair("__journal_priority", "3"),
                  Pair("__journal_priority_keyword", "error"),
                  Pair("__journal_syslog_identifier", "kubelet")));
}

TEST(JournalEntryTest, PriorityKeywords) {
  const char* want[] = {"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"};
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(JournalPriorityKeyword(std::to_string(i)), want[i]);
  }
  // Anything else is passed through, as Alloy's makeJournalPriority.
  EXPECT_EQ(JournalPriorityKeyword("8"), "8");
  EXPECT_EQ(JournalPriorityKeyword("03"), "03");
  EXPECT_EQ(JournalPriorityKeyword("x"), "x");
  EXPECT_EQ(JournalPriorityKeyword(""), "");
}

TEST(JournalEntryTest, MatchesSplitOnWhiteSpaceAndAreChecked) {
  auto m = ParseJournalMatches("  _SYSTEMD_UNIT=kubelet.service\tPRIORITY=3\n FOO=a=b  ");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT(*m, ElementsAre("_SYSTEMD_UNIT=kubelet.service", "PRIORITY=3", "FOO=a=b"));
  auto empty = ParseJournalMatches("   ");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_TRUE(ParseJournalMatches("X=").ok());  // an empty value matches entries with FIELD=
  for (const char* bad : {"_SYSTEMD_UNIT nginx.service", "lower=x", "=x", "1ABC=x", "A-B=x",
                          "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=x"}) {
    auto r = ParseJournalMatches(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("invalid journal match")) << bad;
  }
}

TEST(JournalEntryTest, JsonIsAlloysMapMarshal) {
  // Keys sorted, the last of a duplicate wins, json-iterator's escaping (HTML characters, control
  // bytes, invalid UTF-8 as \ufffd, U+2028).
  EXPECT_EQ(JournalFieldsJson(Fields({{"MESSAGE", "a \"q\" <b> & c\n\t\x01"},
                                      {"_PID", "42"},
                                      {"B", "\xff"},
                                      {"B", "second\xe2\x80\xa8"},
                                      {"A", "x"}})),
            "{\"A\":\"x\",\"B\":\"second\\u2028\",\"MESSAGE\":\"a \\\"q\\\" \\u003cb\\u003e "
            "\\u0026 c\\n\\t\\u0001\",\"_PID\":\"42\"}");
  EXPECT_EQ(JournalFieldsJson({}), "{}");
}

TEST(JournalEntryTest, BaseLabelsJobIsTheComponentIdUnlessLabelsSetIt) {
  LabelSet base =
      JournalBaseLabels({{"component", "loki.source.journal"}}, "loki.source.journal.read");
  EXPECT_THAT(base.labels(), ElementsAre(Pair("component", "loki.source.journal"),
                                         Pair("job", "loki.source.journal.read")));
  // The k8s-monitoring chart's node-logs feature sets its own job.
  LabelSet chart =
      JournalBaseLabels({{"job", "integrations/kubernetes/journal"}, {"instance", "node-1"}},
                        "loki.source.journal.worker");
  EXPECT_THAT(chart.labels(), ElementsAre(Pair("instance", "node-1"),
                                          Pair("job", "integrations/kubernetes/journal")));
}

std::shared_ptr<const RuleSet> UnitRule() {
  RelabelRule r;
  r.source_labels = {"__journal__systemd_unit"};
  r.target_label = "unit";
  r.source_labels_set = true;
  EXPECT_TRUE(CompileRule(&r).ok());
  return std::make_shared<const RuleSet>(RuleSet{r});
}

TEST(JournalEntryTest, EntryLabelsAfterRulesWithoutDoubleUnderscore) {
  JournalEntryOptions o;
  o.base = JournalBaseLabels({}, "loki.source.journal.read");
  o.rules = UnitRule();
  ProcessEntry e;
  auto fields = Fields({{"_SYSTEMD_UNIT", "containerd.service"}, {"MESSAGE", "started"}});
  ASSERT_EQ(MakeJournalEntry(o, fields, 1700000000123456, &e), JournalVerdict::kSend);
  EXPECT_EQ(e.line, "started");
  EXPECT_EQ(e.timestamp_ns, 1700000000123456000);
  EXPECT_THAT(e.labels.labels(), ElementsAre(Pair("job", "loki.source.journal.read"),
                                             Pair("unit", "containerd.service")));
  // format_as_json: every field, even without MESSAGE.
  o.format_as_json = true;
  auto no_message = Fields({{"_SYSTEMD_UNIT", "containerd.service"}, {"FOO", "bar"}});
  ASSERT_EQ(MakeJournalEntry(o, no_message, 1, &e), JournalVerdict::kSend);
  EXPECT_EQ(e.line, "{\"FOO\":\"bar\",\"_SYSTEMD_UNIT\":\"containerd.service\"}");
}

TEST(JournalEntryTest, NoMessageAndEmptyLabelsAreAlloysErrors) {
  JournalEntryOptions o;
  o.base = JournalBaseLabels({}, "loki.source.journal.read");
  ProcessEntry e;
  EXPECT_EQ(MakeJournalEntry(o, Fields({{"FOO", "bar"}}), 1, &e), JournalVerdict::kNoMessage);
  EXPECT_EQ(MakeJournalEntry(o, Fields({{"MESSAGE", ""}}), 1, &e), JournalVerdict::kNoMessage);
  // Rules that drop the entry.
  RelabelRule drop;
  drop.source_labels = {"__journal_message"};
  drop.regex = "secret.*";
  drop.source_labels_set = true;
  drop.action = RelabelAction::kDrop;
  ASSERT_TRUE(CompileRule(&drop).ok());
  o.rules = std::make_shared<const RuleSet>(RuleSet{drop});
  EXPECT_EQ(MakeJournalEntry(o, Fields({{"MESSAGE", "secret stuff"}}), 1, &e),
            JournalVerdict::kEmptyLabels);
  EXPECT_EQ(MakeJournalEntry(o, Fields({{"MESSAGE", "fine"}}), 1, &e), JournalVerdict::kSend);
  // Rules that leave only "__" labels.
  RelabelRule keep_none;
  keep_none.action = RelabelAction::kLabelDrop;
  keep_none.regex = "job";
  ASSERT_TRUE(CompileRule(&keep_none).ok());
  o.rules = std::make_shared<const RuleSet>(RuleSet{keep_none});
  EXPECT_EQ(MakeJournalEntry(o, Fields({{"MESSAGE", "x"}}), 1, &e), JournalVerdict::kEmptyLabels);
}

}  // namespace
}  // namespace sluice
