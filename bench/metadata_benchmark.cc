// What one pod list refresh costs the agent: parsing a full node's /pods answer (110 pods, the
// kubelet's default maximum, each shaped like a Deployment pod with labels, annotations, owner,
// two containers and statuses), building Alloy's targets from it, and the pod index's pass.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/metadata/pod.h"
#include "agent/metadata/pod_index.h"

namespace {

std::string PodJson(int i) {
  std::string n = std::to_string(i);
  return absl::StrCat(
      R"({"metadata":{"name":"web-7d9f8c-)", n, R"(","namespace":"shop","uid":"0000-)", n,
      R"(","resourceVersion":"12345","creationTimestamp":"2026-11-24T10:00:00Z",)",
      R"("labels":{"app.kubernetes.io/name":"web","app.kubernetes.io/instance":"web-prod",)",
      R"("pod-template-hash":"7d9f8c"},"annotations":{"kubectl.kubernetes.io/restartedAt":)",
      R"("2026-11-01T00:00:00Z","prometheus.io/scrape":"true"},"ownerReferences":[{"apiVersion":)",
      R"("apps/v1","kind":"ReplicaSet","name":"web-7d9f8c","uid":"rs","controller":true,)",
      R"("blockOwnerDeletion":true}]},"spec":{"nodeName":"node-1","serviceAccountName":"web",)",
      R"("restartPolicy":"Always","containers":[{"name":"web","image":"registry/web:1.2.3",)",
      R"("ports":[{"name":"http","containerPort":8080,"protocol":"TCP"}],"resources":{"limits":)",
      R"({"memory":"256Mi"},"requests":{"cpu":"100m","memory":"128Mi"}},)",
      R"("terminationMessagePath":"/dev/termination-log","imagePullPolicy":"IfNotPresent"},)",
      R"({"name":"proxy","image":"envoy:1.30","resources":{}}]},"status":{"phase":"Running",)",
      R"("conditions":[{"type":"Initialized","status":"True"},{"type":"Ready","status":"True"},)",
      R"({"type":"ContainersReady","status":"True"},{"type":"PodScheduled","status":"True"}],)",
      R"("hostIP":"10.0.0.1","podIP":"10.1.0.)", i % 250, R"(","podIPs":[{"ip":"10.1.0.1"}],)",
      R"("startTime":"2026-11-24T10:00:00Z","containerStatuses":[{"name":"web","containerID":)",
      R"("containerd://aaaa","image":"registry/web:1.2.3","ready":true,"restartCount":0,)",
      R"("started":true,"state":{"running":{"startedAt":"2026-11-24T10:00:01Z"}}},{"name":)",
      R"("proxy","containerID":"containerd://bbbb","ready":true,"restartCount":0}]}})");
}

std::string NodePodList() {
  std::string out = R"({"kind":"PodList","apiVersion":"v1","metadata":{},"items":[)";
  for (int i = 0; i < 110; ++i) {
    if (i > 0) out += ",";
    out += PodJson(i);
  }
  return out + "]}";
}

void BM_ParseNodePodList(benchmark::State& state) {
  std::string json = NodePodList();
  for (auto _ : state) {
    auto pods = sluice::metadata::ParsePodList(json);
    benchmark::DoNotOptimize(pods);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(json.size()));
  state.counters["list_bytes"] = static_cast<double>(json.size());
}
BENCHMARK(BM_ParseNodePodList);

void BM_RefreshToTargets(benchmark::State& state) {
  std::string json = NodePodList();
  sluice::metadata::PodIndex index({});
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  size_t targets = 0;
  for (auto _ : state) {
    auto pods = sluice::metadata::ParsePodList(json);
    index.Update(std::move(*pods), nullptr, now);
    std::vector<sluice::LabelSet> t = index.Targets(now);
    targets = t.size();
    benchmark::DoNotOptimize(t);
  }
  state.counters["targets"] = static_cast<double>(targets);
}
BENCHMARK(BM_RefreshToTargets);

}  // namespace

BENCHMARK_MAIN();
