// FakeKube: an in-process fake of the two Kubernetes HTTP servers the agent reads pod metadata
// from, for tests:
//  - the kubelet: GET /pods (the node's PodList, as on the HTTPS port 10250 or the read-only
//    plain-HTTP port 10255);
//  - the API server: GET /api/v1/pods, /api/v1/namespaces/<ns>/pods, /api/v1/nodes and
//    /api/v1/namespaces (fieldSelector, labelSelector, watch=true with resourceVersion and
//    timeoutSeconds), one pod, one node, one namespace.
// There is no cluster on the test machines. The JSON has the shape and fields real servers send
// (what discovery code reads), produced from plain C++ descriptions (FakePod, FakeNode, ...).
//
// Threads: Start() spawns one acceptor thread plus one thread per accepted connection; a watch
// holds its connection's thread until it ends. Every public method is thread-safe and may be
// called from any thread while requests are in flight. The object is owned by the test; Stop()
// and the destructor end every watch, close every connection and join every thread.
//
// Deliberate simplifications: one server answers both the kubelet and the API server paths
// (a test uses the one it needs); /pods lists every pod, whatever its node; a watch filters events
// by the selectors on the new object only (an object that stops matching is not sent as DELETED);
// no bookmarks, no pagination (limit/continue are ignored), no protobuf.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace sluice::testing {

struct FakePort {
  std::string name;  // "" = unnamed (omitted from the JSON)
  int32_t number = 0;
  std::string protocol = "TCP";
  bool operator==(const FakePort&) const = default;
};

struct FakeContainer {
  std::string name;
  std::string image;
  // "containerd://<64 hex>" (see FakeContainerId); "" = no status yet (not started).
  std::string id;
  std::vector<FakePort> ports;
  int32_t restart_count = 0;
  bool operator==(const FakeContainer&) const = default;
};

// The controller owner reference (controller: true, blockOwnerDeletion: true).
struct FakeOwner {
  std::string api_version = "apps/v1";
  std::string kind;  // ReplicaSet, DaemonSet, StatefulSet, Job, Node, ...
  std::string name;
  std::string uid;  // "" = derived from kind and name
  bool operator==(const FakeOwner&) const = default;
};

struct FakePod {
  std::string ns = "default";
  std::string name;
  std::string uid;  // "" = derived from ns and name (FakeUid)
  std::string node_name;
  std::string pod_ip;  // "" = none: podIP and podIPs are absent
  std::string host_ip;
  std::string phase = "Running";
  std::optional<bool> ready;  // nullopt = no Ready condition (only PodScheduled)
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::optional<FakeOwner> controller;
  std::vector<FakeContainer> containers;
  std::vector<FakeContainer> init_containers;  // their statuses say terminated, Completed
  std::vector<std::string> extra_pod_ips;      // podIPs after pod_ip (dual stack)
  bool host_network = false;
  std::string service_account = "default";
  std::string creation_timestamp = "2024-05-01T10:00:00Z";  // also start and transition times
  // metadata.resourceVersion; "" = "1" in PodJson. FakeKube sets it from its counter.
  std::string resource_version;
  bool operator==(const FakePod&) const = default;
};

struct FakeNode {
  std::string name;
  std::map<std::string, std::string> labels;  // served as given
  std::map<std::string, std::string> annotations;
  std::string internal_ip;    // "" = FakeNodeIp(name)
  std::string provider_id{};  // spec.providerID; "" = absent
  // status.addresses as (type, address), in order; nullopt = InternalIP (internal_ip) then
  // Hostname (name), as kubeadm nodes have.
  std::optional<std::vector<std::pair<std::string, std::string>>> addresses{};
  // status.conditions as (type, status); empty = Ready True.
  std::vector<std::pair<std::string, std::string>> conditions{};
  int32_t kubelet_port = 10250;  // status.daemonEndpoints.kubeletEndpoint.Port
  bool unschedulable = false;    // spec.unschedulable (a field selector can pick it)
  // metadata.resourceVersion; "" = "1" in NodeJson. FakeKube sets it from its counter.
  std::string resource_version{};
  bool operator==(const FakeNode&) const = default;
};

struct FakeNamespace {
  std::string name;
  // Served with kubernetes.io/metadata.name=<name> added, as the API server always does.
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string resource_version{};  // as FakeNode's
  bool operator==(const FakeNamespace&) const = default;
};

// A core/v1 Event (the fields loki.source.kubernetes_events reads). Times are RFC 3339 strings
// as the API server writes them ("" = null): first/last timestamps with seconds, event_time
// (MicroTime) with 6 fractional digits.
struct FakeEvent {
  std::string ns = "default";
  std::string name;
  std::string uid;  // "" = derived from ns and name
  std::string involved_kind = "Pod";
  std::string involved_namespace;  // "" = ns
  std::string involved_name;
  std::string involved_api_version = "v1";
  std::string involved_resource_version;
  std::string reason;
  std::string message;
  std::string type = "Normal";
  std::string source_component;
  std::string source_host;
  std::string action;
  std::string reporting_component;
  std::string reporting_instance;
  int32_t count = 1;
  std::string first_timestamp;
  std::string last_timestamp;
  std::string event_time;
  std::string resource_version{};  // FakeKube sets it from its counter
  bool operator==(const FakeEvent&) const = default;
};

// A coordination.k8s.io/v1 Lease as stored (times as the client sent them).
struct FakeLease {
  std::string ns;
  std::string name;
  std::string holder;
  int64_t lease_duration_seconds = 0;
  std::string acquire_time;
  std::string renew_time;
  int64_t lease_transitions = 0;
  std::map<std::string, std::string> annotations;
  std::string resource_version;
  bool operator==(const FakeLease&) const = default;
};

// --- JSON, as the kubelet and the API server write it (Go encoding/json, compact). -----------
// A Pod object with kind and apiVersion (GET of one pod, watch events).
std::string PodJson(const FakePod& pod);
// {"kind":"PodList","apiVersion":"v1","metadata":{...},"items":[...]}. An empty resource_version
// gives "metadata":{} (the kubelet's answer); otherwise {"resourceVersion":"<rv>"}.
std::string PodListJson(const std::vector<FakePod>& pods, std::string_view resource_version = "");
// A Node / Namespace object with kind and apiVersion; its resource_version ("" = "1").
std::string NodeJson(const FakeNode& node);
std::string NamespaceJson(const FakeNamespace& ns);
// {"kind":"NodeList"|"NamespaceList","apiVersion":"v1","metadata":{"resourceVersion":..},
// "items":[...]} (items without kind and apiVersion, as the API server writes them).
std::string NodeListJson(const std::vector<FakeNode>& nodes, std::string_view resource_version);
std::string NamespaceListJson(const std::vector<FakeNamespace>& namespaces,
                              std::string_view resource_version);
// An Event object with kind and apiVersion; an EventList (items without them).
std::string EventJson(const FakeEvent& event);
std::string EventListJson(const std::vector<FakeEvent>& events, std::string_view resource_version);
std::string LeaseObjectJson(const FakeLease& lease);
// A metav1.Status failure: {"kind":"Status",...,"status":"Failure","message":..,"reason":..,
// "code":..}; reason "" = the usual one for the code (NotFound, Unauthorized, InternalError, ...).
std::string StatusJson(int code, std::string_view message, std::string_view reason = "");

// --- Deterministic identities (the same seed always gives the same value). --------------------
std::string FakeUid(std::string_view seed);                   // 8-4-4-4-12 lower-case hex
std::string FakeContainerId(std::string_view seed);           // "containerd://" + 64 hex
std::string FakeNodeIp(std::string_view node);                // "10.0.0.<n>"
std::string FakeNameSuffix(std::string_view seed, size_t n);  // [bcdfghjklmnpqrstvwxz2456789]{n}

// --- Typical pods. Containers get ids (started); ready = true unless said otherwise. ----------
// Deployment pod `<deployment>-<hash>-<suffix>` owned by ReplicaSet `<deployment>-<hash>`,
// labels app.kubernetes.io/name=<deployment>, app.kubernetes.io/instance=<deployment>-prod,
// pod-template-hash=<hash>; one container named after the deployment with port "http" 8080.
// `replica` varies the name suffix.
FakePod MakeDeploymentPod(std::string_view ns, std::string_view deployment, std::string_view node,
                          std::string_view pod_ip, int replica = 0);
// DaemonSet pod `<daemonset>-<suffix of node>` owned by DaemonSet <daemonset>, labels
// app=<daemonset>, controller-revision-hash, pod-template-generation=1.
FakePod MakeDaemonSetPod(std::string_view ns, std::string_view daemonset, std::string_view node,
                         std::string_view pod_ip);
// Static pod as the API server mirrors it: `<base>-<node>`, owner kind Node (apiVersion v1),
// annotations kubernetes.io/config.mirror and config.hash (equal), config.source=file,
// config.seen; hostNetwork with pod IP = host IP; label component=<base>, tier=control-plane.
FakePod MakeStaticPod(std::string_view ns, std::string_view base, std::string_view node);
// A Deployment pod with two init containers (init-config, init-db) that completed.
FakePod MakePodWithInitContainers(std::string_view ns, std::string_view deployment,
                                  std::string_view node, std::string_view pod_ip);
// Scheduled but not started: phase Pending, no pod IP, Ready False, containers without ids.
FakePod MakePendingPod(std::string_view ns, std::string_view name, std::string_view node);

// One request as received.
struct FakeKubeRequest {
  absl::Time received;
  std::string method;
  std::string path;                           // without the query
  std::string query;                          // raw, as sent, without '?'
  std::map<std::string, std::string> params;  // query parameters, percent-decoded
  // Every header as received, in order (names as the client wrote them).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string authorization;
  bool tls = false;
  bool watch = false;
  int status = 0;       // as answered (forced ones included)
  bool broken = false;  // the connection was cut mid-response (BreakNext)
};

// A PodLogs (monitoring.grafana.com/v1alpha2) custom resource.
struct FakePodLogs {
  std::string ns = "default";
  std::string name;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::map<std::string, std::string> selector;            // spec.selector.matchLabels
  std::map<std::string, std::string> namespace_selector;  // spec.namespaceSelector.matchLabels
  std::string relabelings_json;  // spec.relabelings as JSON ("[...]"); "" = none
};
std::string PodLogsJson(const FakePodLogs& p, std::string_view resource_version);

class FakeKube {
 public:
  struct Options {
    std::string listen_host = "127.0.0.1";
    uint16_t listen_port = 0;  // 0: the kernel picks one; see port()
    // Serve HTTPS with this certificate (e.g. from MakeTestPki()); nullopt: plain HTTP.
    struct Tls {
      std::string cert_pem;
      std::string key_pem;
    };
    std::optional<Tls> tls;
    // Not empty: every request needs `Authorization: Bearer <token>` (see SetBearerToken).
    std::string bearer_token;
    // The first change gets this + 1.
    int64_t initial_resource_version = 1000;
    size_t request_log_size = 1000;  // FakeKubeRequest records kept (the newest)
  };

  FakeKube();
  explicit FakeKube(Options options);
  ~FakeKube();
  FakeKube(const FakeKube&) = delete;
  FakeKube& operator=(const FakeKube&) = delete;

  // Binds and starts serving. Call once.
  absl::Status Start();
  // Ends watches, closes the listener and every connection, joins all threads. Idempotent.
  void Stop();

  int port() const;
  std::string base_url() const;  // http(s)://127.0.0.1:<port>

  // --- Cluster state. Every change bumps the resource version and is sent to matching watches.
  // Replaces all pods: ADDED / MODIFIED (only pods that changed) / DELETED events as needed.
  void SetPods(std::vector<FakePod> pods);
  // Adds the pod (ADDED) or replaces the one with its namespace and name (MODIFIED). Returns
  // its new resource version.
  int64_t UpsertPod(FakePod pod);
  // DELETED event; false if there was no such pod.
  bool DeletePod(std::string_view ns, std::string_view name);
  std::vector<FakePod> Pods() const;  // sorted by namespace, name; resource_version set
  int64_t resource_version() const;   // the newest
  // Forgets past events: a watch from an older resource version then gets an ERROR event with
  // a 410 Expired Status (and ends), as after etcd compaction.
  void CompactHistory();
  // Nodes and namespaces, likewise: every change is a watch event of its own resource.
  void SetNodes(std::vector<FakeNode> nodes);
  int64_t UpsertNode(FakeNode node);
  bool DeleteNode(std::string_view name);
  void SetNamespaces(std::vector<FakeNamespace> namespaces);
  int64_t UpsertNamespace(FakeNamespace ns);
  bool DeleteNamespace(std::string_view name);
  // A Secret ("secrets": values are base64-encoded in the answer, as the API server does) or a
  // ConfigMap ("configmaps"), served at /api/v1/namespaces/<ns>/<kind>/<name>.
  void SetData(const std::string& kind, const std::string& ns, const std::string& name,
               std::map<std::string, std::string> data);

  // Events ("events", namespaced: /api/v1/events and /api/v1/namespaces/<ns>/events), as pods.
  int64_t UpsertEvent(FakeEvent event);
  bool DeleteEvent(std::string_view ns, std::string_view name);
  std::vector<FakeEvent> Events() const;

  // Leases at /apis/coordination.k8s.io/v1/namespaces/<ns>/leases[/<name>]: GET, POST (409
  // AlreadyExists when it exists), PUT (409 Conflict unless metadata.resourceVersion is the
  // stored one). Every write bumps the resource version (Leases are not watched).
  std::optional<FakeLease> GetLease(std::string_view ns, std::string_view name) const;
  size_t lease_conflicts() const;  // 409 answers to lease writes

  // --- Auth. "" = none required. Takes effect for the next request (token rotation tests).
  void SetBearerToken(std::string token);

  // --- Faults. ---------------------------------------------------------------------------------
  // down: closes the listener (connections are refused) and every open connection and watch.
  // up: listens again on the same port. Fails if the port cannot be bound again.
  absl::Status SetDown(bool down);
  bool down() const;
  // The next `count` requests (-1: all until cleared) are answered `status` with a Status body,
  // before auth and routing; with a `path` (without the query), only requests for that path.
  void FailNext(int count, int status, std::string path = "");
  // Every request waits this long before it is answered (Stop and SetDown cut it short).
  void SetDelay(absl::Duration delay);
  // The next `count` non-watch responses (-1: all) are cut after half their bytes (headers
  // promise the full length), then the connection is reset.
  void BreakNext(int count);
  // Ends every open watch: normally with the terminating chunk (as at timeoutSeconds), or
  // `abrupt`ly with a connection reset.
  void CloseWatches(bool abrupt = false);
  // Cancels FailNext, SetDelay and BreakNext.
  void ClearFaults();

  // --- Observations. ---------------------------------------------------------------------------
  size_t request_count() const;                       // every request answered
  size_t request_count(std::string_view path) const;  // for one path (without query)
  std::vector<FakeKubeRequest> Requests() const;      // newest Options::request_log_size
  std::optional<FakeKubeRequest> LastRequest() const;
  // Headers of the last request (names lower-cased; the last of repeated ones).
  std::map<std::string, std::string> LastRequestHeaders() const;
  std::string last_authorization() const;
  std::vector<std::string> QueryStrings() const;  // raw query of every logged request
  size_t active_watches() const;                  // watch streams open now
  size_t watches_started() const;

  // Block until the condition holds or the timeout passes; true if it holds.
  bool WaitForRequests(size_t n, absl::Duration timeout) const;  // request_count() >= n
  bool WaitForRequests(std::string_view path, size_t n, absl::Duration timeout) const;
  bool WaitForWatches(size_t n, absl::Duration timeout) const;  // active_watches() >= n
  bool WaitForWatchesEnded(absl::Duration timeout) const;       // active_watches() == 0

  // Forgets request records and counters (not the cluster state or faults).
  void ClearObservations();

  // --- Pod logs: GET /api/v1/namespaces/<ns>/pods/<pod>/log (container, follow, timestamps,
  // sinceTime as the API server reads them: lines at or after sinceTime, each prefixed with its
  // RFC3339Nano time and a space when timestamps=true; follow keeps the chunked answer open and
  // sends lines as they are appended). 404 when the pod is neither an object nor has a log; 400
  // when the pod object has no such container.
  void AppendPodLog(std::string_view ns, std::string_view pod, std::string_view container,
                    std::string_view line, int64_t timestamp_ns);
  // Ends every open follow stream: with the terminating chunk (as when the container's log ends)
  // or, `abrupt`ly, after half of a line that is not in the log, with a connection reset.
  void EndLogStreams(bool abrupt = false);
  size_t active_log_streams() const;
  size_t log_streams_started() const;
  bool WaitForLogStreams(size_t n, absl::Duration timeout) const;  // active_log_streams() >= n
  bool WaitForLogStreamsStarted(size_t n, absl::Duration timeout) const;

  // --- PodLogs at /apis/monitoring.grafana.com/v1alpha2/podlogs (list; watch=true holds the
  // stream until the PodLogs change, then sends a 410 ERROR event so that the client lists again).
  void SetPodLogs(std::vector<FakePodLogs> podlogs);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::testing
