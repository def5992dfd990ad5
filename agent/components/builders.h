// The Build function of each component type, defined in its own unit under agent/components/
// and listed in the table of registry.cc. Declared here so that tests can build one component
// with a ComponentEnv of their own and drive its Update.
#pragma once

#include <memory>

#include "agent/components/component.h"

namespace sluice {

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
std::unique_ptr<Component> BuildOtelcolExporterLoki(const config::Component&, const config::Block&,
                                                    ComponentEnv&, config::Diags*);
std::unique_ptr<Component> BuildRemoteKubernetesSecret(const config::Component&,
                                                       const config::Block&, ComponentEnv&,
                                                       config::Diags*);
std::unique_ptr<Component> BuildRemoteKubernetesConfigMap(const config::Component&,
                                                          const config::Block&, ComponentEnv&,
                                                          config::Diags*);
std::unique_ptr<Component> BuildLocalFile(const config::Component&, const config::Block&,
                                          ComponentEnv&, config::Diags*);
std::unique_ptr<Component> BuildDiscoveryFile(const config::Component&, const config::Block&,
                                              ComponentEnv&, config::Diags*);
std::unique_ptr<Component> BuildLokiSecretFilter(const config::Component&, const config::Block&,
                                                 ComponentEnv&, config::Diags*);
std::unique_ptr<Component> BuildLokiEcho(const config::Component&, const config::Block&,
                                         ComponentEnv&, config::Diags*);

}  // namespace sluice
