// LeaderElector: client-go's acquire / renew / expiry rules on a fake Lease API and a fake clock
// (times are passed in); KubeLeaseApi against FakeKube.
#include "agent/metadata/lease.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "tests/support/fake_kube.h"

namespace sluice::metadata {
namespace {

// One Lease in memory, shared by the electors of a test (as the API server is).
struct Store {
  std::optional<LeaseRecord> lease;
  int64_t version = 0;
  bool down = false;
  int conflicts = 0;
};

class FakeLeaseApi final : public LeaseApi {
 public:
  explicit FakeLeaseApi(Store* s) : s_(s) {}
  absl::StatusOr<std::optional<LeaseRecord>> Get() override {
    if (s_->down) return absl::UnavailableError("down");
    return s_->lease;
  }
  absl::StatusOr<LeaseRecord> Create(const LeaseRecord& r) override {
    if (s_->down) return absl::UnavailableError("down");
    if (s_->lease) return absl::AlreadyExistsError("exists");
    s_->lease = r;
    s_->lease->resource_version = std::to_string(++s_->version);
    return *s_->lease;
  }
  absl::StatusOr<LeaseRecord> Update(const LeaseRecord& r) override {
    if (s_->down) return absl::UnavailableError("down");
    if (!s_->lease || s_->lease->resource_version != r.resource_version) {
      ++s_->conflicts;
      return absl::AbortedError("conflict");
    }
    s_->lease = r;
    s_->lease->resource_version = std::to_string(++s_->version);
    return *s_->lease;
  }

 private:
  Store* s_;
};

LeaderElector Make(Store* s, std::string id) {
  LeaderElectionConfig c;
  c.identity = std::move(id);
  return LeaderElector(c, std::make_unique<FakeLeaseApi>(s));
}

LeaderElector::Annotate Cursor(std::string value) {
  return [value](const std::map<std::string, std::string>&) {
    return std::map<std::string, std::string>{{"cursor", value}};
  };
}

const absl::Time kT0 = absl::FromUnixSeconds(1714557600);

TEST(LeaderElectorTest, FirstCreatesTheLeaseOthersWaitForExpiry) {
  Store s;
  LeaderElector a = Make(&s, "pod-a");
  LeaderElector b = Make(&s, "pod-b");
  EXPECT_TRUE(a.Tick(kT0, Cursor("1")));
  ASSERT_TRUE(s.lease.has_value());
  EXPECT_EQ(s.lease->holder, "pod-a");
  EXPECT_EQ(s.lease->lease_duration_seconds, 15);
  EXPECT_EQ(s.lease->lease_transitions, 0);
  EXPECT_EQ(s.lease->annotations.at("cursor"), "1");
  EXPECT_FALSE(b.Tick(kT0 + absl::Seconds(1), Cursor("0")));
  // a renews every 2s: b never takes over.
  for (int i = 1; i <= 20; ++i) {
    EXPECT_TRUE(a.Tick(kT0 + absl::Seconds(2 * i), Cursor(std::to_string(i + 1))));
    EXPECT_FALSE(b.Tick(kT0 + absl::Seconds(2 * i + 1), Cursor("0")));
  }
  EXPECT_EQ(s.lease->acquire_time, kT0);  // renewals keep the acquire time
  EXPECT_EQ(s.lease->annotations.at("cursor"), "21");
}

TEST(LeaderElectorTest, ExpiryIsMeasuredOnTheObserversClock) {
  Store s;
  LeaderElector a = Make(&s, "pod-a");
  LeaderElector b = Make(&s, "pod-b");
  ASSERT_TRUE(a.Tick(kT0, Cursor("5")));
  // b first sees the record at t0+10 (its own clock): it must wait 15s from then, whatever
  // renewTime says.
  absl::Time seen = kT0 + absl::Seconds(10);
  EXPECT_FALSE(b.Tick(seen, Cursor("0")));
  EXPECT_FALSE(b.Tick(seen + absl::Seconds(14), Cursor("0")));
  std::map<std::string, std::string> seen_annotations;
  EXPECT_TRUE(b.Tick(seen + absl::Seconds(15), [&](const std::map<std::string, std::string>& cur) {
    seen_annotations = cur;
    return std::map<std::string, std::string>{{"cursor", "5"}};
  }));
  EXPECT_EQ(seen_annotations.at("cursor"), "5");  // the predecessor's state reaches the successor
  EXPECT_EQ(s.lease->holder, "pod-b");
  EXPECT_EQ(s.lease->lease_transitions, 1);
  EXPECT_EQ(s.lease->acquire_time, seen + absl::Seconds(15));
  // a comes back: it lost the lease.
  EXPECT_FALSE(a.Tick(seen + absl::Seconds(16), Cursor("9")));
  EXPECT_EQ(s.lease->holder, "pod-b");
}

TEST(LeaderElectorTest, LeaderStepsDownAfterRenewDeadlineBeforeOthersMayTakeOver) {
  Store s;
  LeaderElector a = Make(&s, "pod-a");
  ASSERT_TRUE(a.Tick(kT0, Cursor("1")));
  s.down = true;
  EXPECT_TRUE(a.Tick(kT0 + absl::Seconds(2), Cursor("1")));  // still within the deadline
  EXPECT_FALSE(a.last_error().ok());
  EXPECT_TRUE(a.Tick(kT0 + absl::Seconds(9), Cursor("1")));
  EXPECT_FALSE(a.Tick(kT0 + absl::Seconds(10), Cursor("1")));  // renew deadline 10s < lease 15s
  EXPECT_FALSE(a.leader());
  s.down = false;
  EXPECT_TRUE(a.Tick(kT0 + absl::Seconds(11), Cursor("1")));  // its own lease: taken again
}

TEST(LeaderElectorTest, ConcurrentWritersConflict) {
  Store s;
  LeaderElector a = Make(&s, "pod-a");
  ASSERT_TRUE(a.Tick(kT0, Cursor("1")));
  // The racer read the lease, then a renewed before b's update: b's update conflicts.
  class Racing final : public LeaseApi {
   public:
    Racing(Store* s, LeaderElector* a) : inner_(s), a_(a) {}
    absl::StatusOr<std::optional<LeaseRecord>> Get() override { return inner_.Get(); }
    absl::StatusOr<LeaseRecord> Create(const LeaseRecord& r) override { return inner_.Create(r); }
    absl::StatusOr<LeaseRecord> Update(const LeaseRecord& r) override {
      a_->Tick(kT0 + absl::Seconds(30), Cursor("2"));
      return inner_.Update(r);
    }

   private:
    FakeLeaseApi inner_;
    LeaderElector* a_;
  };
  LeaderElectionConfig c;
  c.identity = "pod-b";
  LeaderElector racer(c, std::make_unique<Racing>(&s, &a));
  // Released: the racer may take it at once, but a writes first.
  ASSERT_TRUE(a.Release(kT0 + absl::Seconds(1), {}).ok());
  EXPECT_EQ(s.lease->holder, "");
  EXPECT_FALSE(racer.Tick(kT0 + absl::Seconds(29), Cursor("0")));
  EXPECT_EQ(s.conflicts, 1);
  EXPECT_EQ(s.lease->holder, "pod-a");
}

TEST(LeaderElectorTest, ReleaseLetsASuccessorTakeOverAtOnce) {
  Store s;
  LeaderElector a = Make(&s, "pod-a");
  LeaderElector b = Make(&s, "pod-b");
  ASSERT_TRUE(a.Tick(kT0, Cursor("1")));
  EXPECT_FALSE(b.Tick(kT0 + absl::Seconds(1), Cursor("0")));
  ASSERT_TRUE(a.Release(kT0 + absl::Seconds(2), {{"cursor", "3"}}).ok());
  EXPECT_FALSE(a.leader());
  EXPECT_EQ(s.lease->lease_duration_seconds, 1);
  EXPECT_EQ(s.lease->annotations.at("cursor"), "3");
  EXPECT_TRUE(b.Tick(kT0 + absl::Seconds(3), Cursor("3")));
}

TEST(KubeLeaseApiTest, TalksToTheApiServer) {
  testing::FakeKube kube;
  ASSERT_TRUE(kube.Start().ok());
  KubeEndpoint ep;
  ep.base_url = kube.base_url();
  KubeClient client(ep, "API server", nullptr);
  KubeLeaseApi api(&client, "monitoring", "events");
  absl::StatusOr<std::optional<LeaseRecord>> none = api.Get();
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  LeaseRecord r;
  r.holder = "pod-a";
  r.lease_duration_seconds = 15;
  r.acquire_time = kT0 + absl::Microseconds(123456);
  r.renew_time = kT0;
  r.annotations["sluice.grafana.com/events-cursors.x"] = "{\"cursor-events\":1}";
  absl::StatusOr<LeaseRecord> created = api.Create(r);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_FALSE(created->resource_version.empty());
  EXPECT_EQ(created->acquire_time, r.acquire_time);
  EXPECT_TRUE(absl::IsAlreadyExists(api.Create(r).status()));
  std::optional<testing::FakeLease> stored = kube.GetLease("monitoring", "events");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->renew_time, "2024-05-01T10:00:00.000000Z");
  EXPECT_EQ(stored->annotations.at("sluice.grafana.com/events-cursors.x"), "{\"cursor-events\":1}");
  LeaseRecord next = *created;
  next.holder = "pod-b";
  absl::StatusOr<LeaseRecord> updated = api.Update(next);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->holder, "pod-b");
  EXPECT_TRUE(absl::IsAborted(api.Update(next).status()));  // stale resourceVersion: 409
  EXPECT_EQ(kube.lease_conflicts(), 2u);

  // The elector over the real API: two replicas, one leader.
  KubeClient client_b(ep, "API server", nullptr);
  LeaderElectionConfig ca, cb;
  ca.identity = "pod-b";  // the current holder
  cb.identity = "pod-c";
  LeaderElector ea(ca, std::make_unique<KubeLeaseApi>(&client, "monitoring", "events"));
  LeaderElector eb(cb, std::make_unique<KubeLeaseApi>(&client_b, "monitoring", "events"));
  EXPECT_TRUE(ea.Tick(absl::Now(), Cursor("1")));
  EXPECT_FALSE(eb.Tick(absl::Now(), Cursor("1")));
}

}  // namespace
}  // namespace sluice::metadata
