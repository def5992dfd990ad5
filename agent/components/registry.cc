// The component table: one line per component type. Kept explicit (no static registrars, which
// a static library drops when nothing references their object file).
#include "agent/components/component.h"

namespace sluice {

// Each defined in its own unit under agent/components/.
std::unique_ptr<Component> BuildLocalFileMatch(const config::Component&, const config::Block&,
                                               ComponentEnv&, config::Diags*);
std::unique_ptr<Component> BuildDiscoveryRelabel(const config::Component&, const config::Block&,
                                                 ComponentEnv&, config::Diags*);
std::unique_ptr<Component> BuildDiscoveryKubelet(const config::Component&, const config::Block&,
                                                 ComponentEnv&, config::Diags*);
std::unique_ptr<Component> BuildDiscoveryKubernetes(const config::Component&, const config::Block&,
                                                    ComponentEnv&, config::Diags*);
std::unique_ptr<Component> BuildLokiSourceFile(const config::Component&, const config::Block&,
                                               ComponentEnv&, config::Diags*);
std::unique_ptr<Component> BuildLokiProcess(const config::Component&, const config::Block&,
                                            ComponentEnv&, config::Diags*);
std::unique_ptr<Component> BuildLokiRelabel(const config::Component&, const config::Block&,
                                            ComponentEnv&, config::Diags*);
std::unique_ptr<Component> BuildLokiWrite(const config::Component&, const config::Block&,
                                          ComponentEnv&, config::Diags*);
std::unique_ptr<Component> BuildLokiEcho(const config::Component&, const config::Block&,
                                         ComponentEnv&, config::Diags*);

const std::vector<ComponentType>& ComponentTypes() {
  static const std::vector<ComponentType> kTypes = {
      {"local.file_match", &BuildLocalFileMatch},
      {"discovery.relabel", &BuildDiscoveryRelabel},
      {"discovery.kubelet", &BuildDiscoveryKubelet},
      {"discovery.kubernetes", &BuildDiscoveryKubernetes},
      {"loki.source.file", &BuildLokiSourceFile},
      {"loki.process", &BuildLokiProcess},
      {"loki.relabel", &BuildLokiRelabel},
      {"loki.write", &BuildLokiWrite},
      {"loki.echo", &BuildLokiEcho},
  };
  return kTypes;
}

}  // namespace sluice
