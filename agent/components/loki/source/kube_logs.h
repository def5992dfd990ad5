// What loki.source.kubernetes and loki.source.podlogs share: their `client` and `clustering`
// blocks, and the KubeLogTailer each runs (route, stream ids, positions path, budget).
//
// Loading thread (building components).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/components/component.h"
#include "agent/source/kube_tailer.h"

namespace sluice {

// The `client` block (Alloy's commonk8s.ClientArguments; none: in-cluster) into `endpoint`, and
// the `clustering` block (accepted: sluice does not cluster, every target is tailed here, as
// Alloy does when not clustered). False with diagnostics.
bool DecodeKubeLogsCommon(config::Decoder& d, ComponentEnv& env, const config::Block& args,
                          config::Diags* diags, metadata::KubeEndpoint* endpoint);

// A tailer for component `id` sending to `forward`, registered with the router as a source.
std::unique_ptr<KubeLogTailer> MakeKubeLogTailer(const std::string& id, ComponentEnv& env,
                                                 metadata::KubeEndpoint endpoint,
                                                 const std::vector<LogsNode*>& forward,
                                                 bool tail_from_end);

}  // namespace sluice
