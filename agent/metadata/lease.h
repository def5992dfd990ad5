// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection package does
// it, so that a cluster-wide source (loki.source.kubernetes_events) ships from one replica only.
//
//  - LeaseRecord: the Lease's spec (holderIdentity, leaseDurationSeconds, acquireTime, renewTime,
//    leaseTransitions), its resourceVersion and its annotations (where the leader keeps state a
//    successor needs: the events source keeps its acknowledged cursors there).
//  - LeaseApi: get / create / update of one Lease (update sends the resourceVersion it read: a
//    409 Conflict means someone else wrote first). KubeLeaseApi talks to the API server; tests
//    use a fake.
//  - LeaderElector: client-go's tryAcquireOrRenew, driven by its caller's clock. A Lease held by
//    another identity is taken only after it went unrenewed for leaseDurationSeconds as observed
//    on *this* clock (no clock sync between nodes is assumed); the leader renews every
//    retry_period and gives up leadership when it could not renew for renew_deadline (shorter
//    than the lease duration, so it stops before anyone may take over). Release() ends the lease
//    at once (holder "", duration 1s), as ReleaseOnCancel.
//
// A LeaderElector is used by one thread (the component's election thread); it owns its LeaseApi.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/metadata/kube_watch.h"

namespace sluice::metadata {

struct LeaseRecord {
  std::string holder;
  int64_t lease_duration_seconds = 0;
  absl::Time acquire_time = absl::InfinitePast();
  absl::Time renew_time = absl::InfinitePast();
  int64_t lease_transitions = 0;
  std::map<std::string, std::string> annotations;
  std::string resource_version;  // as read; sent back by Update
  friend bool operator==(const LeaseRecord&, const LeaseRecord&) = default;
};

// The Lease object's JSON (name, namespace, resourceVersion when set, annotations, spec), times
// as MicroTime (RFC 3339 with 6 fractional digits).
std::string LeaseJson(std::string_view ns, std::string_view name, const LeaseRecord& r);
absl::StatusOr<LeaseRecord> ParseLease(std::string_view json);

class LeaseApi {
 public:
  virtual ~LeaseApi() = default;
  // nullopt: there is no such Lease (404).
  virtual absl::StatusOr<std::optional<LeaseRecord>> Get() = 0;
  // AlreadyExists when someone created it first.
  virtual absl::StatusOr<LeaseRecord> Create(const LeaseRecord& r) = 0;
  // Aborted (409 Conflict) when its resourceVersion is not the stored one any more.
  virtual absl::StatusOr<LeaseRecord> Update(const LeaseRecord& r) = 0;
};

// /apis/coordination.k8s.io/v1/namespaces/<ns>/leases/<name> on the API server.
class KubeLeaseApi final : public LeaseApi {
 public:
  KubeLeaseApi(KubeClient* client, std::string ns, std::string name,
               absl::Duration timeout = absl::Seconds(10));
  absl::StatusOr<std::optional<LeaseRecord>> Get() override;
  absl::StatusOr<LeaseRecord> Create(const LeaseRecord& r) override;
  absl::StatusOr<LeaseRecord> Update(const LeaseRecord& r) override;

 private:
  absl::StatusOr<LeaseRecord> Write(std::string_view method, const std::string& path,
                                    const LeaseRecord& r);
  KubeClient* client_;
  std::string ns_;
  std::string name_;
  absl::Duration timeout_;
};

struct LeaderElectionConfig {
  std::string identity;  // holderIdentity: the pod's name
  // client-go's defaults as most controllers use them.
  absl::Duration lease_duration = absl::Seconds(15);
  absl::Duration renew_deadline = absl::Seconds(10);
  absl::Duration retry_period = absl::Seconds(2);
};

class LeaderElector {
 public:
  LeaderElector(LeaderElectionConfig config, std::unique_ptr<LeaseApi> api);

  // The annotations to write, given the Lease's current ones (the caller merges its state with
  // a predecessor's: a leader that just took over must not overwrite newer state with older).
  using Annotate = std::function<std::map<std::string, std::string>(
      const std::map<std::string, std::string>& current)>;

  // One attempt at `now` (the caller's clock): acquire, or renew while leader, writing
  // annotate(current annotations) merged over the Lease's. Returns whether this replica is the
  // leader after it. A leader whose renewals failed for renew_deadline is not any more. An API
  // error (last_error()) changes nothing else.
  bool Tick(absl::Time now, const Annotate& annotate);
  // Leader: write holder "" (and `annotations`) so a successor need not wait for expiry.
  absl::Status Release(absl::Time now, const std::map<std::string, std::string>& annotations);

  bool leader() const { return leader_; }
  // The record last read or written (nullopt before the first successful read).
  const std::optional<LeaseRecord>& observed() const { return observed_; }
  // The last API error of Tick, OK when it worked.
  const absl::Status& last_error() const { return last_error_; }
  const LeaderElectionConfig& config() const { return config_; }

 private:
  bool TryAcquireOrRenew(absl::Time now, const Annotate& annotate);

  LeaderElectionConfig config_;
  std::unique_ptr<LeaseApi> api_;
  std::optional<LeaseRecord> observed_;
  absl::Time observed_time_ = absl::InfinitePast();  // when observed_ last changed, our clock
  bool leader_ = false;
  absl::Time last_renew_ = absl::InfinitePast();  // our last successful write, our clock
  absl::Status last_error_;
};

}  // namespace sluice::metadata
