// The component table: one line per component type. Kept explicit (no static registrars, which
// a static library drops when nothing references their object file).
#include "agent/components/builders.h"

namespace sluice {

const std::vector<ComponentType>& ComponentTypes() {
  static const std::vector<ComponentType> kTypes = {
      {"local.file_match", &BuildLocalFileMatch},
      {"local.file", &BuildLocalFile},
      {"discovery.relabel", &BuildDiscoveryRelabel},
      {"discovery.file", &BuildDiscoveryFile},
      {"discovery.kubelet", &BuildDiscoveryKubelet},
      {"discovery.kubernetes", &BuildDiscoveryKubernetes},
      {"discovery.docker", &BuildDiscoveryDocker},
      {"loki.source.file", &BuildLokiSourceFile},
      {"loki.source.api", &BuildLokiSourceApi},
      {"loki.source.kubernetes_events", &BuildLokiSourceKubernetesEvents},
      {"loki.source.kubernetes", &BuildLokiSourceKubernetes},
      {"loki.source.podlogs", &BuildLokiSourcePodLogs},
      {"loki.source.journal", &BuildLokiSourceJournal},
      {"loki.source.syslog", &BuildLokiSourceSyslog},
      {"loki.source.gelf", &BuildLokiSourceGelf},
      {"loki.source.docker", &BuildLokiSourceDocker},
      {"loki.process", &BuildLokiProcess},
      {"loki.relabel", &BuildLokiRelabel},
      {"loki.secretfilter", &BuildLokiSecretFilter},
      {"loki.write", &BuildLokiWrite},
      {"loki.echo", &BuildLokiEcho},
      {"otelcol.exporter.loki", &BuildOtelcolExporterLoki},
      {"remote.kubernetes.secret", &BuildRemoteKubernetesSecret},
      {"remote.kubernetes.configmap", &BuildRemoteKubernetesConfigMap},
  };
  return kTypes;
}

absl::StatusOr<config::Value> ReadValueComponent(std::string_view name, const config::Block& args,
                                                 bool validate_only, absl::Duration* poll) {
  if (name == "local.file") return ReadLocalFileExports(args, validate_only, poll);
  if (name == "remote.kubernetes.secret") {
    return ReadRemoteKubernetesExports(args, /*secret=*/true, validate_only, poll);
  }
  if (name == "remote.kubernetes.configmap") {
    return ReadRemoteKubernetesExports(args, /*secret=*/false, validate_only, poll);
  }
  return absl::NotFoundError("not a value component");
}

}  // namespace sluice
