// discovery.file: targets from JSON or YAML files (Prometheus' file_sd): each file a list of
// {targets: [...], labels: {...}}; each target becomes {__address__ = target, __meta_filepath =
// file, the group's labels}. `files` are globs, read at load and every refresh_interval (default
// 5m). A file that cannot be read or parsed keeps its last targets and is counted
// (sluice_discovery_file_read_errors_total) and logged, as Prometheus keeps them.
//
// Tail thread (reads are small and periodic); owned by the Runtime.
#include <boost/asio/steady_timer.hpp>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/common/files.h"
#include "agent/common/log.h"
#include "agent/common/yaml_doc.h"
#include "agent/components/component.h"
#include "agent/discovery/glob.h"

namespace sluice {
namespace {

constexpr size_t kMaxFileBytes = 16 << 20;

// The target groups of one file, or why not.
absl::StatusOr<std::vector<LabelSet>> ReadTargetFile(const std::string& path) {
  if (!absl::EndsWith(path, ".json") && !absl::EndsWith(path, ".yml") &&
      !absl::EndsWith(path, ".yaml")) {
    return absl::InvalidArgumentError(
        absl::StrCat("retrieval of target groups failed: invalid file extension: \"", path, "\""));
  }
  absl::StatusOr<std::string> text = ReadFileLimited(path, kMaxFileBytes);
  if (!text.ok()) return text.status();
  YamlDoc doc;
  if (absl::Status st = doc.Load(*text); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", st.message()));
  }
  std::vector<LabelSet> out;
  yaml_node_t* root = doc.Root();
  if (root == nullptr) return out;  // an empty file: no targets
  if (root->type != YAML_SEQUENCE_NODE) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a list of target groups"));
  }
  for (yaml_node_item_t* g = root->data.sequence.items.start; g < root->data.sequence.items.top;
       ++g) {
    yaml_node_t* group = doc.Node(*g);
    LabelSet common;
    common.Set("__meta_filepath", path);
    if (yaml_node_t* labels = doc.Get(group, "labels"); labels != nullptr) {
      if (labels->type != YAML_MAPPING_NODE) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": labels must be a map"));
      }
      for (yaml_node_pair_t* p = labels->data.mapping.pairs.start;
           p < labels->data.mapping.pairs.top; ++p) {
        yaml_node_t* k = doc.Node(p->key);
        yaml_node_t* v = doc.Node(p->value);
        if (k == nullptr || v == nullptr || k->type != YAML_SCALAR_NODE ||
            v->type != YAML_SCALAR_NODE) {
          return absl::InvalidArgumentError(absl::StrCat(path, ": label values must be strings"));
        }
        std::string name(YamlDoc::Scalar(k));
        if (!IsValidLabelName(name)) {
          return absl::InvalidArgumentError(
              absl::StrCat(path, ": \"", name, "\" is not a valid label name"));
        }
        common.Set(name, YamlDoc::Scalar(v));
      }
    }
    yaml_node_t* targets = doc.Get(group, "targets");
    if (targets == nullptr || targets->type != YAML_SEQUENCE_NODE) continue;
    for (yaml_node_item_t* t = targets->data.sequence.items.start;
         t < targets->data.sequence.items.top; ++t) {
      yaml_node_t* n = doc.Node(*t);
      if (n == nullptr || n->type != YAML_SCALAR_NODE) continue;
      LabelSet target = common;
      target.Set("__address__", YamlDoc::Scalar(n));
      out.push_back(std::move(target));
    }
  }
  return out;
}

class DiscoveryFile final : public Component {
 public:
  DiscoveryFile(const config::Component& c, ComponentEnv& env)
      : Component(c.id), env_(&env), timer_(*env.io) {
    errors_ = env.metrics->GetCounter("sluice_discovery_file_read_errors_total",
                                      "Target files of discovery.file that could not be read.",
                                      ComponentLabels(c.id));
  }

  bool Update(const config::Block& args, config::Diags* diags) override {
    config::Decoder d(args, diags);
    std::vector<std::string> files;
    absl::Duration refresh = absl::Minutes(5);
    d.StringList("files", &files, config::Required::kYes);
    d.Duration("refresh_interval", &refresh);
    if (!d.Finish()) return false;
    if (refresh <= absl::ZeroDuration()) {
      d.ErrorAt("refresh_interval", "refresh_interval must be greater than 0");
      return false;
    }
    files_ = std::move(files);
    refresh_ = refresh;
    Refresh(/*publish_always=*/true);
    return true;
  }

  absl::Status Start() override {
    Arm();
    return absl::OkStatus();
  }
  void StopReading() override { timer_.cancel(); }

 private:
  void Arm() {
    timer_.expires_after(absl::ToChronoMilliseconds(refresh_));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      Refresh(false);
      Arm();
    });
  }

  void Refresh(bool publish_always) {
    std::map<std::string, std::vector<LabelSet>> next;
    for (const std::string& pattern : files_) {
      absl::StatusOr<glob::GlobResult> found = glob::Glob(pattern);
      if (!found.ok()) continue;
      for (const glob::GlobMatch& m : found->matches) {
        absl::StatusOr<std::vector<LabelSet>> t = ReadTargetFile(m.path);
        if (!t.ok()) {
          errors_->Inc();
          LogWarn("discovery.file", "cannot read a target file; its last targets stay",
                  {{"component_id", id()}, {"error", std::string(t.status().message())}});
          auto last = by_file_.find(m.path);
          if (last != by_file_.end()) next[m.path] = last->second;
          continue;
        }
        next[m.path] = std::move(*t);
      }
    }
    if (!publish_always && next == by_file_) return;
    by_file_ = std::move(next);
    std::vector<LabelSet> all;
    for (const auto& [path, targets] : by_file_)
      all.insert(all.end(), targets.begin(), targets.end());
    config::Object exports;
    exports["targets"] = TargetsToValue(std::move(all));
    env_->Export(id(), std::move(exports));
    if (!publish_always) env_->exports_changed(id());
  }

  ComponentEnv* env_;
  boost::asio::steady_timer timer_;
  std::vector<std::string> files_;
  absl::Duration refresh_ = absl::Minutes(5);
  std::map<std::string, std::vector<LabelSet>> by_file_;
  Counter* errors_;
};

}  // namespace

std::unique_ptr<Component> BuildDiscoveryFile(const config::Component& c, const config::Block& args,
                                              ComponentEnv& env, config::Diags* diags) {
  auto comp = std::make_unique<DiscoveryFile>(c, env);
  if (!comp->Update(args, diags)) return nullptr;
  return comp;
}

}  // namespace sluice
