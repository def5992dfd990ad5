// The Build function of each component type, defined in its own unit under agent/components/
// and listed in the table of registry.cc. Declared here so that tests can build one component
// with a ComponentEnv of their own and drive its Update.
#pragma once

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

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
std::unique_ptr<Component> BuildLokiSourceApi(const config::Component&, const config::Block&,
                                              ComponentEnv&, config::Diags*);
std::unique_ptr<Component> BuildLokiSourceKubernetesEvents(const config::Component&,
                                                           const config::Block&, ComponentEnv&,
                                                           config::Diags*);
std::unique_ptr<Component> BuildLokiSourceKubernetes(const config::Component&, const config::Block&,
                                                     ComponentEnv&, config::Diags*);
std::unique_ptr<Component> BuildLokiSourcePodLogs(const config::Component&, const config::Block&,
                                                  ComponentEnv&, config::Diags*);
std::unique_ptr<Component> BuildLokiSourceJournal(const config::Component&, const config::Block&,
                                                  ComponentEnv&, config::Diags*);
std::unique_ptr<Component> BuildLokiSourceSyslog(const config::Component&, const config::Block&,
                                                 ComponentEnv&, config::Diags*);
std::unique_ptr<Component> BuildLokiSourceGelf(const config::Component&, const config::Block&,
                                               ComponentEnv&, config::Diags*);
std::unique_ptr<Component> BuildDiscoveryDocker(const config::Component&, const config::Block&,
                                                ComponentEnv&, config::Diags*);
std::unique_ptr<Component> BuildLokiSourceDocker(const config::Component&, const config::Block&,
                                                 ComponentEnv&, config::Diags*);
std::unique_ptr<Component> BuildLokiEcho(const config::Component&, const config::Block&,
                                         ComponentEnv&, config::Diags*);

// A value component (local.file, remote.kubernetes.secret, remote.kubernetes.configmap) read
// once outside a running graph: its exports, and in `poll` how often it would read again. What
// an import.string's content is made of at load (Alloy evaluates imports in the graph; sluice
// expands modules before it builds, so it reads these first). NotFound for another component;
// in validate mode a file that cannot be read is empty and no API server is asked. Any thread.
absl::StatusOr<config::Value> ReadValueComponent(std::string_view name, const config::Block& args,
                                                 bool validate_only, absl::Duration* poll);
absl::StatusOr<config::Value> ReadLocalFileExports(const config::Block& args, bool validate_only,
                                                   absl::Duration* poll);
absl::StatusOr<config::Value> ReadRemoteKubernetesExports(const config::Block& args, bool secret,
                                                          bool validate_only, absl::Duration* poll);

}  // namespace sluice
