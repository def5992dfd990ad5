// The stage table and BuildStages; see registry.h and stage.h.
#include "agent/process/stages/registry.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"

namespace sluice {
namespace {

struct KindEntry {
  std::string_view kind;
  StageFactory factory;  // null: an Alloy stage sluice does not implement
};

// Every stage kind Alloy's loki.process knows, with sluice's constructor where there is one.
#define SLUICE_STAGE_ENTRY(kind, factory) {kind, &factory},
#define SLUICE_ALLOY_ONLY_ENTRY(kind) {kind, nullptr},
constexpr KindEntry kKinds[] = {
    SLUICE_LOKI_PROCESS_STAGES(SLUICE_STAGE_ENTRY, SLUICE_ALLOY_ONLY_ENTRY)};
#undef SLUICE_STAGE_ENTRY
#undef SLUICE_ALLOY_ONLY_ENTRY

const KindEntry* FindKind(std::string_view kind) {
  for (const KindEntry& k : kKinds) {
    if (k.kind == kind) return &k;
  }
  return nullptr;
}

}  // namespace

StageFactory FindStageFactory(std::string_view kind) {
  const KindEntry* k = FindKind(kind);
  return k == nullptr ? nullptr : k->factory;
}

bool IsSupportedStageKind(std::string_view kind) { return FindStageFactory(kind) != nullptr; }

bool IsAlloyStageKind(std::string_view kind) { return FindKind(kind) != nullptr; }

std::vector<std::unique_ptr<Stage>> BuildStages(const std::vector<const config::Block*>& blocks,
                                                config::Diags* diags, const StageContext& ctx) {
  std::vector<std::unique_ptr<Stage>> stages;
  bool failed = false;
  constexpr std::string_view kPrefix = "stage.";
  for (const config::Block* b : blocks) {
    const size_t before = diags->list().size();
    std::string_view name = b->name;
    const KindEntry* k = nullptr;
    if (name.substr(0, kPrefix.size()) == kPrefix) k = FindKind(name.substr(kPrefix.size()));
    if (k == nullptr) {
      diags->Add(b->span, absl::StrCat("unrecognized block name \"", Av(name), "\""));
      failed = true;
      continue;
    }
    if (k->factory == nullptr) {
      diags->Add(b->span, absl::StrCat("stage \"", Av(k->kind), "\" is not supported by sluice"));
      failed = true;
      continue;
    }
    config::Decoder d(*b, diags);
    std::unique_ptr<Stage> s = k->factory(d, ctx);
    // Every block is built, even after a failure, so that one run reports every error.
    if (s == nullptr || diags->list().size() != before) {
      failed = true;
      continue;
    }
    stages.push_back(std::move(s));
  }
  if (failed) stages.clear();
  return stages;
}

}  // namespace sluice
