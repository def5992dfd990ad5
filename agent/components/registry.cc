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
      {"loki.source.file", &BuildLokiSourceFile},
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

}  // namespace sluice
