// loki.secretfilter: redacts secrets found in each entry's line before forwarding it, with
// Alloy's arguments (redact_with with $SECRET_NAME and $SECRET_HASH, else gitleaks-style
// percentage masking: the first (100 - redact_percent)% of the secret and "...", or "REDACTED"
// at 100; rate sampling; origin_label) and metrics (loki_secretfilter_secrets_redacted_total,
// ..._by_category_total{name, origin}, ..._entries_bypassed_total).
//
// Detection: sluice's own rules for the token formats vendors publish (AWS access keys, GitHub,
// GitLab, Slack, Stripe, Google API keys, Grafana Cloud and service account tokens, JWTs,
// private key blocks), compiled with RE2, each run only when its keyword appears in the line
// (as gitleaks' keyword prefilter). This is a subset of gitleaks' default ruleset, which Alloy
// embeds; `gitleaks_config` (a custom TOML ruleset) is refused rather than ignored. Arguments of
// older Alloy versions (types, include_generic, partial_mask, allowlist, enable_entropy) are
// accepted; `allowlist` regexes exempt what they match, the rest is logged as having no effect.
//
// A LogsNode on the tail thread; owned by the Runtime.
#include <re2/re2.h>

#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "agent/common/log.h"
#include "agent/common/strings.h"
#include "agent/components/component.h"
#include "agent/go/regexp.h"

#include <openssl/sha.h>

namespace sluice {
namespace {

struct Rule {
  const char* id;
  const char* keywords;  // comma-separated, lower case; any of them in the lower-cased line
  const char* regex;     // RE2; group 1 is the secret when present, else the whole match
};

constexpr Rule kRules[] = {
    {"aws-access-token", "akia,asia,abia,acca,a3t",
     R"(\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b)"},
    {"github-pat", "ghp_", R"((ghp_[0-9A-Za-z]{36}))"},
    {"github-oauth", "gho_", R"((gho_[0-9A-Za-z]{36}))"},
    {"github-app-token", "ghu_,ghs_", R"(((?:ghu|ghs)_[0-9A-Za-z]{36}))"},
    {"github-refresh-token", "ghr_", R"((ghr_[0-9A-Za-z]{36}))"},
    {"github-fine-grained-pat", "github_pat_", R"((github_pat_[0-9A-Za-z_]{82}))"},
    {"gitlab-pat", "glpat-", R"((glpat-[0-9A-Za-z_-]{20,}))"},
    {"slack-token", "xox", R"((xox[abeoprs]-(?:[0-9A-Za-z]+-){1,4}[0-9A-Za-z]{6,}))"},
    {"stripe-access-token", "sk_,rk_", R"(\b((?:sk|rk)_(?:test|live|prod)_[0-9A-Za-z]{10,99}))"},
    {"gcp-api-key", "aiza", R"(\b(AIza[0-9A-Za-z_-]{35}))"},
    {"grafana-cloud-api-token", "glc_", R"((glc_[A-Za-z0-9+/]{32,400}={0,2}))"},
    {"grafana-service-account-token", "glsa_", R"((glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}))"},
    {"jwt", "eyj", R"(\b(eyJ[0-9A-Za-z_-]{10,}\.eyJ[0-9A-Za-z_-]{10,}\.[0-9A-Za-z_-]{10,}))"},
    {"private-key", "-----begin",
     R"((-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY-----[\s\S]{32,}?-----END[ A-Z0-9_-]{0,100}PRIVATE KEY-----))"},
};

struct CompiledRule {
  const Rule* rule;
  std::vector<std::string> keywords;
  std::unique_ptr<RE2> re;
};

std::string Sha1Hex(std::string_view s) {
  unsigned char d[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : d) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

class SecretFilterNode final : public LogsNode {
 public:
  struct Options {
    std::string redact_with;
    unsigned redact_percent = 80;
    double rate = 1.0;
    std::string origin_label;
    std::vector<std::unique_ptr<RE2>> allowlist;
  };

  SecretFilterNode(const std::string& id, Options o, MetricsRegistry* metrics, uint64_t seed)
      : id_(id), o_(std::move(o)), metrics_(metrics), rng_(seed) {
    for (const Rule& r : kRules) {
      CompiledRule c;
      c.rule = &r;
      for (absl::string_view k : absl::StrSplit(r.keywords, ',')) c.keywords.emplace_back(k);
      RE2::Options opt;
      opt.set_log_errors(false);
      opt.set_dot_nl(true);
      c.re = std::make_unique<RE2>(r.regex, opt);
      rules_.push_back(std::move(c));
    }
    MetricLabels l = ComponentLabels(id);
    redacted_ = metrics->GetCounter("loki_secretfilter_secrets_redacted_total",
                                    "Total number of secrets redacted.", l);
    bypassed_ = metrics->GetCounter(
        "loki_secretfilter_entries_bypassed_total",
        "Total number of entries forwarded without processing due to sampling.", l);
  }

  void SetForward(std::vector<LogsNode*> f) { forward_ = std::move(f); }

  void Push(ProcessEntry& e) override {
    if (o_.rate < 1.0 && std::uniform_real_distribution<double>(0, 1)(rng_) >= o_.rate) {
      bypassed_->Inc();
    } else {
      Redact(e);
    }
    PushToAll(forward_, e, &fanout_);
  }
  void PushMark(uint64_t file_id, uint64_t generation, int64_t offset) override {
    for (LogsNode* n : forward_) n->PushMark(file_id, generation, offset);
  }

 private:
  void Redact(ProcessEntry& e) {
    lower_ = absl::AsciiStrToLower(Av(e.line));
    std::vector<std::pair<const char*, std::string>> found;
    for (const CompiledRule& r : rules_) {
      bool hit = false;
      for (const std::string& k : r.keywords) hit = hit || lower_.find(k) != std::string::npos;
      if (!hit) continue;
      re2::StringPiece input(e.line.view()), m1;
      while (RE2::FindAndConsume(&input, *r.re, &m1)) {
        std::string secret(m1.data(), m1.size());
        bool allowed = false;
        for (const auto& a : o_.allowlist) allowed = allowed || RE2::PartialMatch(secret, *a);
        if (!allowed && !secret.empty()) found.emplace_back(r.rule->id, std::move(secret));
        if (input.empty()) break;
      }
    }
    if (found.empty()) return;
    LabelValue origin = o_.origin_label.empty() ? LabelValue() : e.labels.Get(o_.origin_label);
    for (const auto& [rule, secret] : found) {
      std::string replacement;
      if (!o_.redact_with.empty()) {
        replacement = absl::StrReplaceAll(
            o_.redact_with, {{"$SECRET_NAME", rule}, {"$SECRET_HASH", Sha1Hex(secret)}});
      } else if (o_.redact_percent >= 100) {
        replacement = "REDACTED";
      } else {
        // gitleaks' maskSecret: the leading (100 - percent)% of the secret, rounded to even.
        double keep = static_cast<double>(secret.size()) * (100.0 - o_.redact_percent) / 100.0;
        replacement = secret.substr(0, static_cast<size_t>(std::nearbyint(keep))) + "...";
      }
      e.line = absl::StrReplaceAll(Av(e.line.view()), {{secret, replacement}});
      redacted_->Inc();
      MetricLabels labels = ComponentLabels(id_);
      labels.emplace_back("name", rule);
      labels.emplace_back("origin", origin.has_value() ? *origin : "");
      metrics_
          ->GetCounter(
              "loki_secretfilter_secrets_redacted_by_category_total",
              "Number of secrets redacted, partitioned by rule name and origin label value.",
              labels)
          ->Inc();
    }
  }

  std::string id_;
  Options o_;
  MetricsRegistry* metrics_;
  std::vector<CompiledRule> rules_;
  std::vector<LogsNode*> forward_;
  ProcessEntry fanout_;  // the copies for all but the last receiver (buffers reused)
  Counter* redacted_;
  Counter* bypassed_;
  std::mt19937_64 rng_;
  std::string lower_;  // reused
};

class LokiSecretFilter final : public Component {
 public:
  LokiSecretFilter(std::string id, std::unique_ptr<SecretFilterNode> node)
      : Component(std::move(id)), node_(std::move(node)) {}
  bool Update(const config::Block&, config::Diags*) override { return true; }
  bool UpdatesInPlace() const override { return false; }

 private:
  std::unique_ptr<SecretFilterNode> node_;
};

}  // namespace

std::unique_ptr<Component> BuildLokiSecretFilter(const config::Component& c,
                                                 const config::Block& args, ComponentEnv& env,
                                                 config::Diags* diags) {
  config::Decoder d(args, diags);
  std::vector<LogsNode*> forward;
  env.Receivers(d, &forward);
  SecretFilterNode::Options o;
  std::string gitleaks;
  int64_t percent = 0;
  d.String("redact_with", &o.redact_with);
  if (d.Int("redact_percent", &percent) && (percent < 0 || percent > 100)) {
    d.ErrorAt("redact_percent", "redact_percent must be between 0 and 100");
  }
  o.redact_percent = percent >= 1 && percent <= 100 ? static_cast<unsigned>(percent) : 80;
  if (d.Float("rate", &o.rate) && (o.rate < 0 || o.rate > 1)) {
    d.ErrorAt("rate", "rate must be between 0.0 and 1.0");
  }
  d.String("origin_label", &o.origin_label);
  if (d.String("gitleaks_config", &gitleaks) && !gitleaks.empty()) {
    d.ErrorAt("gitleaks_config",
              "sluice: gitleaks_config is not supported (sluice has its own built-in rules)");
  }
  // processing_timeout and its companions: sluice's rules run in bounded time (RE2).
  absl::Duration timeout;
  bool b = false;
  d.Duration("processing_timeout", &timeout);
  d.Bool("drop_on_timeout", &b);
  d.Bool("label_timed_out", &b);
  // Older Alloy versions' arguments.
  std::vector<std::string> allow;
  if (const config::Attr* a = d.Get("allowlist")) {
    if (a->value.kind() == config::Value::Kind::kArray) {
      for (const config::Value& v : a->value.as_array()) {
        if (v.kind() == config::Value::Kind::kString) allow.push_back(v.as_string());
      }
    } else if (a->value.kind() == config::Value::Kind::kObject) {
      for (const auto& [k, v] : a->value.as_object()) allow.push_back(k);
    }
  }
  for (const std::string& p : allow) {
    std::string err;
    std::unique_ptr<RE2> re = CompileGoRegexp(p, &err);
    if (re == nullptr) {
      d.ErrorAt("allowlist", absl::StrCat("invalid allowlist regex ", p, ": ", err));
    } else {
      o.allowlist.push_back(std::move(re));
    }
  }
  for (const char* old : {"types", "include_generic", "partial_mask", "enable_entropy"}) {
    if (d.Get(old) != nullptr) {
      LogWarn("loki.secretfilter", "an argument of an older Alloy version has no effect in sluice",
              {{"component_id", c.id}, {"argument", old}});
    }
  }
  if (!d.Finish()) return nullptr;
  auto node = std::make_unique<SecretFilterNode>(c.id, std::move(o), env.metrics,
                                                 static_cast<uint64_t>(env.clock->NowUnixNanos()));
  node->SetForward(std::move(forward));
  env.receivers[c.id] = node.get();
  env.router->AddNode(node.get());
  config::Object exports;
  exports["receiver"] = ReceiverValue(c.id);
  env.Export(c.id, std::move(exports));
  return std::make_unique<LokiSecretFilter>(c.id, std::move(node));
}

}  // namespace sluice
