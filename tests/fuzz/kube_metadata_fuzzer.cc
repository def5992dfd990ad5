// libFuzzer target for what sluice reads from the kubelet and the API server, and for the
// selectors in configs: PodList JSON (then the targets built from it, both flavours), watch event
// lines, Node/Namespace objects, NodeList/NamespaceList JSON and node watch events (then the
// node targets), label and field selectors (then matched against a pod), and pod directory names
// via SanitizeLabelName. The first byte picks the parser; none may crash, hang or
// read out of bounds, whatever a compromised or buggy server sends.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/metadata/node.h"
#include "agent/metadata/pod.h"
#include "agent/metadata/selector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  using namespace sluice::metadata;
  switch (data[0] % 5) {
    case 0: {
      auto pods = ParsePodList(in);
      if (pods.ok()) {
        std::vector<sluice::LabelSet> out;
        for (const Pod& p : *pods) {
          AppendPodTargets(p, TargetFlavor::kKubelet, nullptr, &out);
          AppendPodTargets(p, TargetFlavor::kKubernetes, nullptr, &out);
        }
      }
      break;
    }
    case 1: {
      auto ev = ParseWatchEvent(in);
      if (ev.ok()) {
        std::vector<sluice::LabelSet> out;
        AppendPodTargets(ev->object, TargetFlavor::kKubernetes, nullptr, &out);
      }
      break;
    }
    case 2: {
      (void)ParseObjectMeta(in);
      std::vector<Node> nodes;
      if (ParseKubeList(in, &nodes, nullptr).ok()) {
        for (const Node& n : nodes) (void)NodeTarget(n);
      }
      KubeWatchEvent<Node> ev;
      if (ParseKubeWatchEvent(in, &ev).ok()) (void)NodeTarget(ev.object);
      std::vector<ObjectMeta> namespaces;
      if (ParseKubeList(in, &namespaces, nullptr).ok()) {
        for (const ObjectMeta& m : namespaces) (void)NamespaceMetaLabels(m);
      }
      break;
    }
    case 3: {
      Pod p;
      p.labels = {{"app", "x"}, {"tier", "y"}};
      p.node_name = "n";
      auto ls = LabelSelector::Parse(in);
      if (ls.ok()) (void)ls->Matches(p.labels);
      auto fs = FieldSelector::Parse(in);
      if (fs.ok()) {
        (void)fs->Matches(p);
        (void)fs->NodeName();
      }
      break;
    }
    case 4:
      (void)SanitizeLabelName(in);
      break;
  }
  return 0;
}
