#include "agent/relabel/relabel.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "agent/common/digest.h"
#include "tests/support/block_builder.h"

namespace sluice {
namespace {

using ::sluice::testing::Arr;
using ::sluice::testing::BlockBuilder;
using ::sluice::testing::Int;
using ::sluice::testing::Str;
using ::testing::HasSubstr;

LabelSet L(std::initializer_list<std::pair<std::string, std::string>> kv) {
  LabelSet s;
  for (const auto& [k, v] : kv) s.Set(k, v);
  return s;
}

std::vector<RelabelRule> Compile(std::vector<RelabelRule> rules) {
  for (RelabelRule& r : rules) {
    absl::Status st = CompileRule(&r);
    EXPECT_TRUE(st.ok()) << st;
  }
  return rules;
}

std::string CompileError(RelabelRule r) {
  absl::Status st = CompileRule(&r);
  return st.ok() ? "" : std::string(st.message());
}

// Runs `rules` on `in`; returns the result or "dropped".
std::string Apply(std::vector<RelabelRule> rules, LabelSet in,
                  LabelNameScheme scheme = LabelNameScheme::kUtf8) {
  std::vector<RelabelRule> compiled = Compile(std::move(rules));
  if (!Relabel(compiled, &in, scheme)) return "dropped";
  std::string out;
  for (const auto& [k, v] : in.labels()) absl::StrAppend(&out, Av(k), "=", Av(v), " ");
  return out;
}

// --- defaults and parsing --------------------------------------------------------------------

TEST(RelabelTest, Defaults) {
  RelabelRule r;
  EXPECT_EQ(r.separator, ";");
  EXPECT_EQ(r.regex, "(.*)");
  EXPECT_EQ(r.replacement, "$1");
  EXPECT_EQ(r.action, RelabelAction::kReplace);
  EXPECT_EQ(r.modulus, 0u);
  EXPECT_TRUE(r.target_label.empty());
}

TEST(RelabelTest, ActionNamesRoundTrip) {
  for (std::string_view n : {"replace", "keep", "drop", "keepequal", "dropequal", "hashmod",
                             "labelmap", "labeldrop", "labelkeep", "lowercase", "uppercase"}) {
    absl::StatusOr<RelabelAction> a = ParseRelabelAction(n);
    ASSERT_TRUE(a.ok()) << n;
    EXPECT_EQ(RelabelActionName(*a), n);
  }
  EXPECT_EQ(ParseRelabelAction("Replace").status().message(),
            "unrecognized action type \"Replace\"");
  EXPECT_EQ(ParseRelabelAction("").status().message(), "unrecognized action type \"\"");
}

// --- replace -----------------------------------------------------------------------------------

TEST(RelabelTest, ReplaceWithBraceReference) {
  EXPECT_EQ(Apply({{.source_labels = {"a"},
                    .regex = "f(.*)",
                    .target_label = "d",
                    .replacement = "ch${1}-ch${1}"}},
                  L({{"a", "foo"}, {"b", "bar"}, {"c", "baz"}})),
            "a=foo b=bar c=baz d=choo-choo ");
}

TEST(RelabelTest, ReplaceChainsAndJoinsWithSeparator) {
  EXPECT_EQ(Apply({{.source_labels = {"a", "b"},
                    .regex = "f(.*);(.*)r",
                    .target_label = "a",
                    .replacement = "b${1}${2}m"},
                   {.source_labels = {"c", "a"},
                    .regex = "(b).*b(.*)ba(.*)",
                    .target_label = "d",
                    .replacement = "$1$2$2$3"}},
                  L({{"a", "foo"}, {"b", "bar"}, {"c", "baz"}})),
            "a=boobam b=bar c=baz d=boooom ");
}

TEST(RelabelTest, ReplaceCustomSeparatorAndMissingSource) {
  EXPECT_EQ(Apply({{.source_labels = {"a", "missing", "b"}, .separator = "/", .target_label = "t"}},
                  L({{"a", "x"}, {"b", "y"}})),
            "a=x b=y t=x//y ");
}

TEST(RelabelTest, ReplaceIsAnchored) {
  // ".*(b).*" must consume the whole value; "b" alone must not match "abc".
  EXPECT_EQ(
      Apply({{.source_labels = {"a"}, .regex = ".*(b).*", .target_label = "d"}}, L({{"a", "abc"}})),
      "a=abc d=b ");
  EXPECT_EQ(Apply({{.source_labels = {"a"}, .regex = "b", .target_label = "d", .replacement = "x"}},
                  L({{"a", "abc"}})),
            "a=abc ");
}

TEST(RelabelTest, ReplaceNoMatchIsNoOp) {
  EXPECT_EQ(
      Apply({{.source_labels = {"a"}, .regex = "f", .target_label = "b", .replacement = "bar"}},
            L({{"a", "boo"}})),
      "a=boo ");
}

TEST(RelabelTest, ReplaceEmptyResultDeletesTarget) {
  EXPECT_EQ(
      Apply({{.source_labels = {"a"}, .regex = "(f).*", .target_label = "$1", .replacement = "$2"}},
            L({{"a", "foo"}, {"f", "baz"}})),
      "a=foo ");
}

TEST(RelabelTest, ReplaceDotMatchesNewline) {
  EXPECT_EQ(
      Apply(
          {{.source_labels = {"a"}, .regex = "foo.bar", .target_label = "m", .replacement = "yes"}},
          L({{"a", "foo\nbar"}})),
      "a=foo\nbar m=yes ");
}

TEST(RelabelTest, ReplaceStaticValueFromNothing) {
  // No source labels: the joined value is "", which "(.*)" matches; the label is set.
  EXPECT_EQ(Apply({{.target_label = "cluster", .replacement = "dev"}}, L({{"a", "1"}})),
            "a=1 cluster=dev ");
}

TEST(RelabelTest, ReplaceTargetFromGroups) {
  EXPECT_EQ(Apply({{.source_labels = {"a"},
                    .regex = "some-([^-]+)-([^,]+)",
                    .target_label = "${1}",
                    .replacement = "${2}"}},
                  L({{"a", "some-name-value"}})),
            "a=some-name-value name=value ");
  // ${3} does not exist: empty replacement deletes (the target "name" is absent anyway).
  EXPECT_EQ(Apply({{.source_labels = {"a"},
                    .regex = "some-([^-]+)-([^,]+)",
                    .target_label = "${1}",
                    .replacement = "${3}"}},
                  L({{"a", "some-name-value"}})),
            "a=some-name-value ");
}

TEST(RelabelTest, ReplaceInvalidExpandedTargetIsSkipped) {
  // ${3} expands to "" (not a valid name): nothing happens.
  EXPECT_EQ(Apply({{.source_labels = {"a"},
                    .regex = "some-([^-]+)-([^,]+)",
                    .target_label = "${3}",
                    .replacement = "${1}"}},
                  L({{"a", "some-name-0"}})),
            "a=some-name-0 ");
  // "${2}" -> "0": valid UTF-8 (Alloy's engine writes it), not a legacy name (Prometheus' skips).
  std::vector<RelabelRule> r = {{.source_labels = {"a"},
                                 .regex = "some-([^-]+)-([^,]+)",
                                 .target_label = "${2}",
                                 .replacement = "v"}};
  EXPECT_EQ(Apply(r, L({{"a", "some-name-0"}}), LabelNameScheme::kUtf8), "0=v a=some-name-0 ");
  EXPECT_EQ(Apply(r, L({{"a", "some-name-0"}}), LabelNameScheme::kLegacy), "a=some-name-0 ");
}

TEST(RelabelTest, ReplaceRealLifeTags) {
  LabelSet in = L({{"__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar"}});
  EXPECT_EQ(Apply({{.source_labels = {"__meta_sd_tags"},
                    .regex = "(?:.+,|^)path:(/[^,]+).*",
                    .target_label = "__metrics_path__",
                    .replacement = "${1}"},
                   {.source_labels = {"__meta_sd_tags"},
                    .regex = "(?:.+,|^)job:([^,]+).*",
                    .target_label = "job",
                    .replacement = "${1}"},
                   {.source_labels = {"__meta_sd_tags"},
                    .regex = "(?:.+,|^)label:([^=]+)=([^,]+).*",
                    .target_label = "${1}",
                    .replacement = "${2}"}},
                  in),
            "__meta_sd_tags=path:/secret,job:some-job,label:foo=bar __metrics_path__=/secret "
            "foo=bar job=some-job ");
}

TEST(RelabelTest, TemplateExpansionFollowsGoRules) {
  auto expand = [](std::string regex, std::string replacement, std::string value) {
    return Apply({{.source_labels = {"a"},
                   .regex = std::move(regex),
                   .target_label = "t",
                   .replacement = std::move(replacement)}},
                 L({{"a", std::move(value)}}));
  };
  // `$1x` names a group "1x", which does not exist: expands to nothing.
  EXPECT_EQ(expand("(a)(b)", "$1x-${1}x", "ab"), "a=ab t=-ax ");
  // `$$` is a dollar; a lone `$` or `${` without a name is literal.
  EXPECT_EQ(expand("(a)(b)", "$$1 $ ${ $}", "ab"), "a=ab t=$1 $ ${ $} ");
  // Named groups by name; leading zeros make a name, not a number.
  EXPECT_EQ(expand("(?P<first>a)(?P<second>b)", "${second}$first$01", "ab"), "a=ab t=ba ");
  // A group that did not take part expands to nothing.
  EXPECT_EQ(expand("(a)|(b)", "[$1][$2]", "b"), "a=b t=[][b] ");
  // A group above the count expands to nothing.
  EXPECT_EQ(expand("(a)", "x$9-y", "a"), "a=a t=x-y ");
  // `$9y` is one name, "9y", not group 9 followed by "y".
  EXPECT_EQ(expand("(a)", "x$9y", "a"), "a=a t=x ");
  // Unicode letters continue a name (Go's unicode.IsLetter).
  EXPECT_EQ(expand("(a)", "$1é|$1-", "a"), "a=a t=|a- ");
}

TEST(RelabelTest, RegexEscapingTheAnchorsBehavesAsInGo) {
  // "^(?s:a)|(b)$": two alternatives, each anchored at one end only.
  EXPECT_EQ(
      Apply({{.source_labels = {"v"}, .regex = "a)|(b", .target_label = "t", .replacement = "hit"}},
            L({{"v", "xxb"}})),
      "t=hit v=xxb ");
}

// --- keep / drop -------------------------------------------------------------------------------

TEST(RelabelTest, Drop) {
  EXPECT_EQ(Apply({{.source_labels = {"a"}, .regex = ".*o.*", .action = RelabelAction::kDrop},
                   {.source_labels = {"a"}, .regex = "f(.*)", .target_label = "d"}},
                  L({{"a", "foo"}})),
            "dropped");
  EXPECT_EQ(Apply({{.source_labels = {"a"}, .regex = "no-match", .action = RelabelAction::kDrop}},
                  L({{"a", "foo"}})),
            "a=foo ");
  // Partial matches do not count.
  EXPECT_EQ(Apply({{.source_labels = {"a"}, .regex = "f|o", .action = RelabelAction::kDrop}},
                  L({{"a", "foo"}})),
            "a=foo ");
}

TEST(RelabelTest, Keep) {
  EXPECT_EQ(Apply({{.source_labels = {"a"}, .regex = "no-match", .action = RelabelAction::kKeep}},
                  L({{"a", "foo"}})),
            "dropped");
  EXPECT_EQ(Apply({{.source_labels = {"a"}, .regex = "f.*", .action = RelabelAction::kKeep}},
                  L({{"a", "foo"}})),
            "a=foo ");
  // A missing label is "": `.+` does not keep it.
  EXPECT_EQ(Apply({{.source_labels = {"x"}, .regex = ".+", .action = RelabelAction::kKeep}},
                  L({{"a", "foo"}})),
            "dropped");
}

TEST(RelabelTest, KeepEqualAndDropEqual) {
  LabelSet in = L({{"__tmp_port", "1234"}, {"__port1", "1234"}, {"__port2", "5678"}});
  const std::string all = "__port1=1234 __port2=5678 __tmp_port=1234 ";
  EXPECT_EQ(Apply({{.source_labels = {"__tmp_port"},
                    .target_label = "__port1",
                    .action = RelabelAction::kKeepEqual}},
                  in),
            all);
  EXPECT_EQ(Apply({{.source_labels = {"__tmp_port"},
                    .target_label = "__port2",
                    .action = RelabelAction::kKeepEqual}},
                  in),
            "dropped");
  EXPECT_EQ(Apply({{.source_labels = {"__tmp_port"},
                    .target_label = "__port1",
                    .action = RelabelAction::kDropEqual}},
                  in),
            "dropped");
  EXPECT_EQ(Apply({{.source_labels = {"__tmp_port"},
                    .target_label = "__port2",
                    .action = RelabelAction::kDropEqual}},
                  in),
            all);
  // Missing target compares as "".
  EXPECT_EQ(Apply({{.source_labels = {"nope"},
                    .target_label = "nada",
                    .action = RelabelAction::kDropEqual}},
                  in),
            "dropped");
}

// --- hashmod -----------------------------------------------------------------------------------

TEST(RelabelTest, HashModMatchesPrometheus) {
  EXPECT_EQ(Apply({{.source_labels = {"c"},
                    .modulus = 1000,
                    .target_label = "d",
                    .action = RelabelAction::kHashMod}},
                  L({{"a", "foo"}, {"b", "bar"}, {"c", "baz"}})),
            "a=foo b=bar c=baz d=976 ");
  EXPECT_EQ(Apply({{.source_labels = {"a"},
                    .modulus = 1000,
                    .target_label = "b",
                    .action = RelabelAction::kHashMod}},
                  L({{"a", "foo\nbar"}})),
            "a=foo\nbar b=734 ");
}

TEST(RelabelTest, Md5KnownVectors) {
  auto hex = [](std::string_view s) {
    std::array<uint8_t, 16> d = Md5(s);
    std::string out;
    for (uint8_t b : d) out += "0123456789abcdef"[b >> 4], out += "0123456789abcdef"[b & 15];
    return out;
  };
  EXPECT_EQ(hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(hex("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
  EXPECT_EQ(hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
            "57edf4a22be3c955ac49da2e2107b67a");
  // 55, 56 and 64 bytes: the padding boundaries.
  EXPECT_EQ(hex(std::string(55, 'a')), "ef1772b6dff9a122358552954ad0df65");
  EXPECT_EQ(hex(std::string(56, 'a')), "3b0c8ac703f828b04c6c197006d17218");
  EXPECT_EQ(hex(std::string(64, 'a')), "014842d480b571495a4a0363793f7367");
}

// --- labelmap / labeldrop / labelkeep ---------------------------------------------------------

TEST(RelabelTest, LabelMap) {
  EXPECT_EQ(
      Apply({{.regex = "(b.*)", .replacement = "bar_${1}", .action = RelabelAction::kLabelMap}},
            L({{"a", "foo"}, {"b1", "bar"}, {"b2", "baz"}})),
      "a=foo b1=bar b2=baz bar_b1=bar bar_b2=baz ");
  EXPECT_EQ(
      Apply({{.regex = "__meta_(my.*)", .replacement = "${1}", .action = RelabelAction::kLabelMap}},
            L({{"a", "foo"},
               {"__meta_my_bar", "aaa"},
               {"__meta_my_baz", "bbb"},
               {"__meta_other", "ccc"}})),
      "__meta_my_bar=aaa __meta_my_baz=bbb __meta_other=ccc a=foo my_bar=aaa my_baz=bbb ");
}

TEST(RelabelTest, LabelMapDoesNotRemapItsOwnOutput) {
  // "x" -> "xx" must not be mapped again to "xxx" within the same rule.
  EXPECT_EQ(Apply({{.regex = "(x+)", .replacement = "${1}x", .action = RelabelAction::kLabelMap}},
                  L({{"x", "1"}})),
            "x=1 xx=1 ");
}

TEST(RelabelTest, LabelMapDefaultReplacementCopiesGroup) {
  EXPECT_EQ(
      Apply({{.regex = "__meta_kubernetes_pod_label_(.+)", .action = RelabelAction::kLabelMap}},
            L({{"__meta_kubernetes_pod_label_app", "web"}})),
      "__meta_kubernetes_pod_label_app=web app=web ");
}

TEST(RelabelTest, LabelDropAndKeep) {
  LabelSet in = L({{"a", "foo"}, {"b1", "bar"}, {"b2", "baz"}});
  EXPECT_EQ(Apply({{.regex = "(b.*)", .action = RelabelAction::kLabelKeep}}, in), "b1=bar b2=baz ");
  EXPECT_EQ(Apply({{.regex = "(b.*)", .action = RelabelAction::kLabelDrop}}, in), "a=foo ");
  EXPECT_EQ(Apply({{.regex = "nothing", .action = RelabelAction::kLabelKeep}}, in), "");
}

TEST(RelabelTest, PrometheusIssue12283) {
  EXPECT_EQ(Apply({{.regex = "^__meta_kubernetes_pod_container_port_name$",
                    .action = RelabelAction::kLabelDrop},
                   {.source_labels = {"__meta_kubernetes_pod_annotation_XXX_metrics_port"},
                    .regex = "(.+)",
                    .target_label = "__meta_kubernetes_pod_container_port_name",
                    .replacement = "metrics"},
                   {.source_labels = {"__meta_kubernetes_pod_container_port_name"},
                    .regex = "^metrics$",
                    .action = RelabelAction::kKeep}},
                  L({{"__meta_kubernetes_pod_container_port_name", "foo"},
                     {"__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"}})),
            "__meta_kubernetes_pod_annotation_XXX_metrics_port=9091 "
            "__meta_kubernetes_pod_container_port_name=metrics ");
}

// --- lowercase / uppercase ---------------------------------------------------------------------

TEST(RelabelTest, LowercaseUppercase) {
  EXPECT_EQ(Apply({{.source_labels = {"foo"},
                    .target_label = "foo_uppercase",
                    .action = RelabelAction::kUppercase},
                   {.source_labels = {"foo"},
                    .target_label = "foo_lowercase",
                    .action = RelabelAction::kLowercase}},
                  L({{"foo", "bAr123Foo"}})),
            "foo=bAr123Foo foo_lowercase=bar123foo foo_uppercase=BAR123FOO ");
}

TEST(RelabelTest, CaseMappingIsUnicode) {
  EXPECT_EQ(
      Apply({{.source_labels = {"v"}, .target_label = "l", .action = RelabelAction::kLowercase},
             {.source_labels = {"v"}, .target_label = "u", .action = RelabelAction::kUppercase}},
            L({{"v", "ÉtéΣ"}})),
      "l=étéσ u=ÉTÉΣ v=ÉtéΣ ");
  // Invalid bytes become U+FFFD, as Go's strings.ToLower does.
  EXPECT_EQ(
      Apply({{.source_labels = {"v"}, .target_label = "l", .action = RelabelAction::kLowercase}},
            L({{"v", "A\xff"}})),
      "l=a\xEF\xBF\xBD v=A\xff ");
}

TEST(RelabelTest, LowercaseOfNothingDeletesTarget) {
  EXPECT_EQ(Apply({{.source_labels = {"missing"},
                    .target_label = "t",
                    .action = RelabelAction::kLowercase}},
                  L({{"t", "old"}})),
            "");
}

// --- empty values ------------------------------------------------------------------------------

TEST(RelabelTest, EmptyValuesCountAsAbsent) {
  EXPECT_EQ(Apply({}, L({{"a", ""}, {"b", "x"}})), "b=x ");
  EXPECT_EQ(Apply({{.regex = "(.*)", .replacement = "copy_$1", .action = RelabelAction::kLabelMap}},
                  L({{"a", ""}, {"b", "x"}})),
            "b=x copy_b=x ");
}

TEST(RelabelTest, UncompiledRulesAreIgnored) {
  std::vector<RelabelRule> rules = {{.regex = ".*", .action = RelabelAction::kDrop}};
  LabelSet in = L({{"a", "1"}});
  EXPECT_TRUE(Relabel(rules, &in));
}

TEST(RelabelTest, RulesAreSharedAcrossThreads) {
  std::vector<RelabelRule> rules = Compile(
      {{.source_labels = {"a"}, .regex = "(.)(.*)", .target_label = "b", .replacement = "$2$1"}});
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        LabelSet s = L({{"a", "xyz"}});
        Relabel(rules, &s);
        if (*s.Get("b") != "yzx") ++bad;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(RelabelTest, InvalidUtf8ValuesStillMatchDot) {
  EXPECT_EQ(Apply({{.source_labels = {"a"}, .target_label = "b"}}, L({{"a", "x\xffy"}})),
            "a=x\xffy b=x\xffy ");
  // Each invalid byte is one character, and groups give back the original bytes.
  EXPECT_EQ(Apply({{.source_labels = {"a"},
                    .regex = "x(.)(.)y",
                    .target_label = "b",
                    .replacement = "$2$1"}},
                  L({{"a", "x\xe2\x82y"}})),
            "a=x\xe2\x82y b=\x82\xe2 ");
  EXPECT_EQ(
      Apply({{.source_labels = {"a"}, .regex = "é(.)", .target_label = "b"}}, L({{"a", "é\xff"}})),
      "a=é\xff b=\xff ");
  EXPECT_EQ(Apply({{.source_labels = {"a"}, .regex = "x.y", .action = RelabelAction::kDrop}},
                  L({{"a", "x\xffy"}})),
            "dropped");
}

// --- validation (CompileRule) ------------------------------------------------------------------

TEST(RelabelValidateTest, Messages) {
  EXPECT_EQ(CompileError({.target_label = "t", .action = RelabelAction::kHashMod}),
            "relabel configuration for hashmod requires non-zero modulus");
  EXPECT_EQ(CompileError({}),
            "relabel configuration for replace action requires 'target_label' value");
  EXPECT_EQ(CompileError({.action = RelabelAction::kLowercase}),
            "relabel configuration for lowercase action requires 'target_label' value");
  EXPECT_EQ(CompileError({.action = RelabelAction::kUppercase}),
            "relabel configuration for uppercase action requires 'target_label' value");
  EXPECT_EQ(CompileError({.action = RelabelAction::kKeepEqual}),
            "relabel configuration for keepequal action requires 'target_label' value");
  EXPECT_EQ(CompileError({.action = RelabelAction::kDropEqual}),
            "relabel configuration for dropequal action requires 'target_label' value");
  EXPECT_EQ(CompileError({.modulus = 2, .action = RelabelAction::kHashMod}),
            "relabel configuration for hashmod action requires 'target_label' value");
  EXPECT_EQ(CompileError({.target_label = "0${3}"}),
            "\"0${3}\" is invalid 'target_label' for replace action");
  EXPECT_EQ(CompileError({.target_label = "-${3}"}),
            "\"-${3}\" is invalid 'target_label' for replace action");
  EXPECT_EQ(CompileError({.target_label = "a\xff"}),
            "\"a\\xff\" is invalid 'target_label' for replace action");
  EXPECT_EQ(
      CompileError({.target_label = "t", .replacement = "x", .action = RelabelAction::kLowercase}),
      "'replacement' can not be set for lowercase action");
  EXPECT_EQ(
      CompileError({.target_label = "t", .replacement = "x", .action = RelabelAction::kKeepEqual}),
      "'replacement' can not be set for keepequal action");
  EXPECT_EQ(CompileError({.replacement = "-x", .action = RelabelAction::kLabelMap}),
            "\"-x\" is invalid 'replacement' for labelmap action");
  EXPECT_EQ(
      CompileError({.modulus = 2, .target_label = "a\xff", .action = RelabelAction::kHashMod}),
      "\"a\\xff\" is invalid 'target_label' for hashmod action");
  EXPECT_EQ(CompileError({.target_label = "a\xff", .action = RelabelAction::kUppercase}),
            "\"a\\xff\" is invalid 'target_label' for uppercase action");
  EXPECT_EQ(CompileError({.regex = "(", .target_label = "t"}),
            "error parsing regexp: missing closing ): `^(?s:()$`");
  EXPECT_EQ(CompileError({.regex = "a**", .target_label = "t"}),
            "error parsing regexp: invalid nested repetition operator: `**`");
  EXPECT_EQ(CompileError({.regex = "[z-a]", .target_label = "t"}),
            "error parsing regexp: invalid character class range: `z-a`");
  EXPECT_EQ(CompileError({.regex = "\\8", .target_label = "t"}),
            "error parsing regexp: invalid escape sequence: `\\8`");
}

TEST(RelabelValidateTest, LabelDropAndKeepTakeOnlyRegex) {
  const std::string drop_msg = "labeldrop action requires only 'regex', and no other fields";
  EXPECT_EQ(CompileError({.regex = "x", .action = RelabelAction::kLabelDrop}), "");
  EXPECT_EQ(CompileError({.source_labels_set = true, .action = RelabelAction::kLabelDrop}),
            drop_msg);
  EXPECT_EQ(CompileError({.target_label = "t", .action = RelabelAction::kLabelDrop}), drop_msg);
  EXPECT_EQ(CompileError({.modulus = 1, .action = RelabelAction::kLabelDrop}), drop_msg);
  EXPECT_EQ(CompileError({.separator = ",", .action = RelabelAction::kLabelDrop}), drop_msg);
  EXPECT_EQ(CompileError({.replacement = "x", .action = RelabelAction::kLabelDrop}), drop_msg);
  EXPECT_EQ(CompileError({.replacement = "x", .action = RelabelAction::kLabelKeep}),
            "labelkeep action requires only 'regex', and no other fields");
}

TEST(RelabelValidateTest, EqualActionsTakeOnlySourceAndTarget) {
  const std::string msg =
      "dropequal action requires only 'source_labels' and 'target_label', and no other fields";
  EXPECT_EQ(CompileError(
                {.source_labels = {"a"}, .target_label = "t", .action = RelabelAction::kDropEqual}),
            "");
  // The default regex written out is still the default.
  EXPECT_EQ(
      CompileError({.regex = "(.*)", .target_label = "t", .action = RelabelAction::kDropEqual}),
      "");
  EXPECT_EQ(CompileError({.regex = "x", .target_label = "t", .action = RelabelAction::kDropEqual}),
            msg);
  EXPECT_EQ(
      CompileError({.separator = ",", .target_label = "t", .action = RelabelAction::kDropEqual}),
      msg);
  EXPECT_EQ(CompileError({.modulus = 3, .target_label = "t", .action = RelabelAction::kKeepEqual}),
            "keepequal action requires only 'source_labels' and 'target_label', and no other "
            "fields");
}

TEST(RelabelValidateTest, AcceptedTargets) {
  // UTF-8 names are legal in Alloy's validation (prometheus/common's default scheme).
  EXPECT_EQ(CompileError({.target_label = "foo-bar"}), "");
  EXPECT_EQ(CompileError({.target_label = "${3}", .action = RelabelAction::kLowercase}), "");
  for (std::string t :
       {"label", "label${1}", "${1}label", "${1}", "$1", "asd$2asd", "_${1}_", "foo${bar}foo"}) {
    EXPECT_EQ(CompileError({.target_label = t}), "") << t;
  }
  for (std::string t : {"-label${1}", "${", "$", "${}", "foo${", "-foo${1}bar-"}) {
    EXPECT_THAT(CompileError({.target_label = t}), HasSubstr("is invalid 'target_label'")) << t;
  }
}

TEST(RelabelValidateTest, RegexErrorComesFirst) {
  // The regex is compiled first (Alloy decodes before it validates).
  EXPECT_THAT(CompileError({.regex = "(", .action = RelabelAction::kHashMod}),
              HasSubstr("error parsing regexp"));
}

// --- decoding ----------------------------------------------------------------------------------

struct Decoded {
  std::vector<RelabelRule> rules;
  config::Diags diags;
};

Decoded DecodeParent(config::Block parent) {
  Decoded out;
  config::Decoder d(parent, &out.diags);
  out.rules = DecodeRules(d);
  d.Finish();
  return out;
}

TEST(RelabelDecodeTest, ReadsEveryRuleInOrder) {
  BlockBuilder parent("discovery.relabel", "x");
  parent.Child(BlockBuilder("rule")
                   .Attr("source_labels", Arr({Str("a"), Str("b")}))
                   .Attr("separator", Str("/"))
                   .Attr("regex", Str("(.*)/(.*)"))
                   .Attr("target_label", Str("t"))
                   .Attr("replacement", Str("$2"))
                   .Build());
  parent.Child(BlockBuilder("rule")
                   .Attr("action", Str("hashmod"))
                   .Attr("source_labels", Arr({Str("t")}))
                   .Attr("modulus", Int(7))
                   .Attr("target_label", Str("h"))
                   .Build());
  parent.Child(
      BlockBuilder("rule").Attr("action", Str("labeldrop")).Attr("regex", Str("a")).Build());
  Decoded d = DecodeParent(parent.Build());
  ASSERT_TRUE(d.diags.ok()) << d.diags.list()[0].message;
  ASSERT_EQ(d.rules.size(), 3u);
  EXPECT_EQ(d.rules[0].separator, "/");
  EXPECT_EQ(d.rules[1].action, RelabelAction::kHashMod);
  EXPECT_EQ(d.rules[1].modulus, 7u);
  EXPECT_EQ(d.rules[2].action, RelabelAction::kLabelDrop);
  LabelSet s = L({{"a", "x"}, {"b", "y"}});
  ASSERT_TRUE(Relabel(d.rules, &s));
  EXPECT_EQ(*s.Get("t"), "y");
  EXPECT_FALSE(s.Get("a").has_value());
  EXPECT_TRUE(s.Get("h").has_value());
}

TEST(RelabelDecodeTest, DefaultsWhenAttributesAreAbsent) {
  BlockBuilder parent("loki.relabel", "x");
  parent.Child(BlockBuilder("rule").Attr("target_label", Str("t")).Build());
  Decoded d = DecodeParent(parent.Build());
  ASSERT_TRUE(d.diags.ok());
  ASSERT_EQ(d.rules.size(), 1u);
  EXPECT_EQ(d.rules[0].regex, "(.*)");
  EXPECT_EQ(d.rules[0].replacement, "$1");
  EXPECT_EQ(d.rules[0].separator, ";");
  EXPECT_EQ(d.rules[0].action, RelabelAction::kReplace);
  EXPECT_FALSE(d.rules[0].source_labels_set);
}

TEST(RelabelDecodeTest, ErrorsCarryPositions) {
  BlockBuilder parent("discovery.relabel", "x");
  config::Block bad_action = BlockBuilder("rule").Attr("action", Str("explode")).Build();
  config::Block bad_regex =
      BlockBuilder("rule").Attr("regex", Str("(")).Attr("target_label", Str("t")).Build();
  config::Block invalid =
      BlockBuilder("rule").Attr("action", Str("hashmod")).Attr("target_label", Str("t")).Build();
  config::Block unknown =
      BlockBuilder("rule").Attr("target_label", Str("t")).Attr("colour", Str("red")).Build();
  config::Block ok = BlockBuilder("rule").Attr("target_label", Str("fine")).Build();
  parent.Child(bad_action).Child(bad_regex).Child(invalid).Child(unknown).Child(ok);
  Decoded d = DecodeParent(parent.Build());
  ASSERT_EQ(d.diags.list().size(), 4u);
  EXPECT_EQ(d.diags.list()[0].message, "unrecognized action type \"explode\"");
  EXPECT_EQ(d.diags.list()[0].span.begin, bad_action.body.attrs[0].value_span.begin);
  EXPECT_EQ(d.diags.list()[1].message, "error parsing regexp: missing closing ): `^(?s:()$`");
  EXPECT_EQ(d.diags.list()[1].span.begin, bad_regex.body.attrs[0].value_span.begin);
  EXPECT_EQ(d.diags.list()[2].message,
            "relabel configuration for hashmod requires non-zero modulus");
  EXPECT_EQ(d.diags.list()[2].span.begin, invalid.span.begin);
  EXPECT_EQ(d.diags.list()[3].message, "unrecognized attribute name \"colour\"");
  EXPECT_EQ(d.diags.list()[3].span.begin, unknown.body.attrs[1].name_span.begin);
  // Only the good rule survives.
  ASSERT_EQ(d.rules.size(), 1u);
  EXPECT_EQ(d.rules[0].target_label, "fine");
}

TEST(RelabelDecodeTest, TypeErrors) {
  BlockBuilder parent("discovery.relabel", "x");
  parent.Child(
      BlockBuilder("rule").Attr("source_labels", Str("a")).Attr("target_label", Str("t")).Build());
  Decoded d = DecodeParent(parent.Build());
  ASSERT_EQ(d.diags.list().size(), 1u);
  EXPECT_EQ(d.diags.list()[0].message, "expected array, got string");
  EXPECT_TRUE(d.rules.empty());
}

TEST(RelabelDecodeTest, EmptySourceLabelsStillCountForLabelDrop) {
  BlockBuilder parent("discovery.relabel", "x");
  parent.Child(
      BlockBuilder("rule").Attr("action", Str("labeldrop")).Attr("source_labels", Arr({})).Build());
  Decoded d = DecodeParent(parent.Build());
  ASSERT_EQ(d.diags.list().size(), 1u);
  EXPECT_EQ(d.diags.list()[0].message,
            "labeldrop action requires only 'regex', and no other fields");
}

TEST(RelabelDecodeTest, NegativeModulusWrapsAsInAlloy) {
  BlockBuilder parent("discovery.relabel", "x");
  parent.Child(BlockBuilder("rule")
                   .Attr("action", Str("hashmod"))
                   .Attr("modulus", Int(-1))
                   .Attr("target_label", Str("h"))
                   .Build());
  Decoded d = DecodeParent(parent.Build());
  ASSERT_TRUE(d.diags.ok());
  EXPECT_EQ(d.rules[0].modulus, ~uint64_t{0});
}

TEST(RelabelDecodeTest, NoRuleBlocksIsEmpty) {
  Decoded d = DecodeParent(BlockBuilder("discovery.relabel", "x").Build());
  EXPECT_TRUE(d.diags.ok());
  EXPECT_TRUE(d.rules.empty());
}

// --- rule sets as values -----------------------------------------------------------------------

TEST(RelabelValueTest, RoundTrip) {
  auto rules =
      std::make_shared<const RuleSet>(Compile({{.target_label = "t", .replacement = "v"}}));
  config::Value v = RulesToValue(rules, "discovery.relabel.a");
  ASSERT_EQ(v.kind(), config::Value::Kind::kCapsule);
  EXPECT_EQ(v.as_capsule().type, "relabel.Rules");
  EXPECT_THAT(v.as_capsule().id, HasSubstr("discovery.relabel.a#"));
  absl::StatusOr<std::shared_ptr<const RuleSet>> back = RulesFromValue(v);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->get(), rules.get());
}

TEST(RelabelValueTest, EachExportIsANewValue) {
  auto rules = std::make_shared<const RuleSet>();
  config::Value a = RulesToValue(rules, "loki.relabel.x");
  config::Value b = RulesToValue(rules, "loki.relabel.x");
  EXPECT_FALSE(a == b);
}

TEST(RelabelValueTest, GoneWhenTheExporterLetsGo) {
  auto rules = std::make_shared<const RuleSet>();
  config::Value v = RulesToValue(rules, "loki.relabel.x");
  absl::StatusOr<std::shared_ptr<const RuleSet>> held = RulesFromValue(v);
  ASSERT_TRUE(held.ok());
  rules.reset();
  // The consumer's reference keeps it alive.
  EXPECT_TRUE(RulesFromValue(v).ok());
  held->reset();
  EXPECT_EQ(RulesFromValue(v).status().code(), absl::StatusCode::kNotFound);
}

TEST(RelabelValueTest, WrongTypes) {
  EXPECT_EQ(RulesFromValue(Str("x")).status().message(),
            "expected capsule(\"relabel.Rules\"), got string");
  EXPECT_EQ(RulesFromValue(testing::Receiver("loki.write.a")).status().message(),
            "expected capsule(\"relabel.Rules\"), got loki.LogsReceiver");
}

TEST(RelabelValueTest, DecodeRulesAttr) {
  auto rules = std::make_shared<const RuleSet>(Compile({{.target_label = "t"}}));
  config::Block b = BlockBuilder("loki.source.syslog", "x")
                        .Attr("relabel_rules", RulesToValue(rules, "loki.relabel.r"))
                        .Build();
  config::Diags diags;
  config::Decoder d(b, &diags);
  std::shared_ptr<const RuleSet> out;
  EXPECT_TRUE(DecodeRulesAttr(d, "relabel_rules", &out));
  EXPECT_TRUE(d.Finish());
  EXPECT_EQ(out.get(), rules.get());

  config::Block bad = BlockBuilder("loki.source.syslog", "x").Attr("relabel_rules", Int(1)).Build();
  config::Decoder d2(bad, &diags);
  EXPECT_FALSE(DecodeRulesAttr(d2, "relabel_rules", &out));
  ASSERT_EQ(diags.list().size(), 1u);
  EXPECT_EQ(diags.list()[0].message, "expected capsule(\"relabel.Rules\"), got number");
  EXPECT_EQ(diags.list()[0].span.begin, bad.body.attrs[0].value_span.begin);

  config::Block none = BlockBuilder("loki.source.syslog", "x").Build();
  config::Decoder d3(none, &diags);
  EXPECT_FALSE(DecodeRulesAttr(d3, "relabel_rules", &out));
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

TEST(RelabelGoSyntaxTest, GoNamedGroupFormIsAccepted) {
  // Go 1.22 (Alloy) accepts (?<name>...); RE2 here only (?P<name>...): translated.
  RelabelRule r;
  r.source_labels = {"a"};
  r.source_labels_set = true;
  r.regex = "(?<first>x+)-(y)";
  r.target_label = "b";
  r.replacement = "$1/$2";
  ASSERT_TRUE(CompileRule(&r).ok());
  LabelSet l;
  l.Set("a", "xx-y");
  ASSERT_TRUE(Relabel({r}, &l));
  EXPECT_EQ(*l.Get("b"), "xx/y");
}

}  // namespace
}  // namespace sluice
