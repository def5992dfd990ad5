#include "agent/components/component.h"

#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"

namespace sluice {

config::Value TargetsToValue(std::vector<LabelSet> targets) {
  return config::Value::MakeTargets(std::make_shared<const config::TargetList>(std::move(targets)));
}

config::Value ReceiverValue(const std::string& id) {
  return config::Value::MakeCapsule({kReceiverType, id});
}

void ComponentEnv::Export(const std::string& id, config::Object exports) {
  module->SetExports(id, config::Value::MakeObject(std::move(exports)));
}

bool ComponentEnv::Receivers(config::Decoder& d, std::vector<LogsNode*>* out,
                             std::vector<std::string>* ids, const char* attr) {
  std::vector<config::Capsule> caps;
  const bool required = std::string_view(attr) == "forward_to";
  if (!required && d.Get(attr) == nullptr) return true;  // absent: no receivers
  if (!d.Capsules(attr, kReceiverType, &caps,
                  required ? config::Required::kYes : config::Required::kNo)) {
    return false;
  }
  for (const config::Capsule& cap : caps) {
    auto it = receivers.find(cap.id);
    if (it == receivers.end()) {
      d.ErrorAt(attr, absl::StrCat("component \"", Av(cap.id), "\" is not a receiver"));
      return false;
    }
    out->push_back(it->second);
    if (ids != nullptr) ids->push_back(cap.id);
  }
  return true;
}

}  // namespace sluice
