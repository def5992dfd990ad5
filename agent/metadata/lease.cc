#include "agent/metadata/lease.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/common/status_macros.h"
#include "agent/common/strings.h"
#include "agent/go/json.h"
#include "agent/metadata/kube_json.h"

namespace sluice::metadata {
namespace {

constexpr char kLeasesPath[] = "/apis/coordination.k8s.io/v1/namespaces/";

std::string MicroTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

void Json(std::string_view s, std::string* out) {
  AppendGoJsonString(s, out, GoJson::kEncodingJson);
}

absl::Time ParseMicro(kube_json::element e, std::string_view key) {
  std::string_view v;
  if (e[key].get_string().get(v) != simdjson::SUCCESS || v.empty()) return absl::InfinitePast();
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(v), &t, &err)) return absl::InfinitePast();
  return t;
}

}  // namespace

std::string LeaseJson(std::string_view ns, std::string_view name, const LeaseRecord& r) {
  std::string out = R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":)";
  Json(name, &out);
  out += ",\"namespace\":";
  Json(ns, &out);
  if (!r.resource_version.empty()) {
    out += ",\"resourceVersion\":";
    Json(r.resource_version, &out);
  }
  if (!r.annotations.empty()) {
    out += ",\"annotations\":{";
    bool first = true;
    for (const auto& [k, v] : r.annotations) {
      if (!first) out += ',';
      first = false;
      Json(k, &out);
      out += ':';
      Json(v, &out);
    }
    out += '}';
  }
  out += "},\"spec\":{\"holderIdentity\":";
  Json(r.holder, &out);
  absl::StrAppend(&out, ",\"leaseDurationSeconds\":", r.lease_duration_seconds);
  if (r.acquire_time != absl::InfinitePast()) {
    absl::StrAppend(&out, ",\"acquireTime\":\"", MicroTime(r.acquire_time), "\"");
  }
  if (r.renew_time != absl::InfinitePast()) {
    absl::StrAppend(&out, ",\"renewTime\":\"", MicroTime(r.renew_time), "\"");
  }
  absl::StrAppend(&out, ",\"leaseTransitions\":", r.lease_transitions, "}}");
  return out;
}

absl::StatusOr<LeaseRecord> ParseLease(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded;
  kube_json::element doc;
  if (absl::Status st = kube_json::ParseDoc(json, "Lease", &parser, &padded, &doc); !st.ok()) {
    return st;
  }
  LeaseRecord r;
  kube_json::element meta, spec;
  if (doc["metadata"].get(meta) == simdjson::SUCCESS) {
    r.resource_version = kube_json::Str(meta, "resourceVersion");
    for (auto& [k, v] : kube_json::StringMap(meta, "annotations")) r.annotations[k] = v;
  }
  if (doc["spec"].get(spec) == simdjson::SUCCESS) {
    r.holder = kube_json::Str(spec, "holderIdentity");
    r.lease_duration_seconds = kube_json::Int(spec, "leaseDurationSeconds");
    r.acquire_time = ParseMicro(spec, "acquireTime");
    r.renew_time = ParseMicro(spec, "renewTime");
    r.lease_transitions = kube_json::Int(spec, "leaseTransitions");
  }
  return r;
}

KubeLeaseApi::KubeLeaseApi(KubeClient* client, std::string ns, std::string name,
                           absl::Duration timeout)
    : client_(client), ns_(std::move(ns)), name_(std::move(name)), timeout_(timeout) {}

absl::StatusOr<std::optional<LeaseRecord>> KubeLeaseApi::Get() {
  absl::StatusOr<std::string> body =
      client_->Get(absl::StrCat(kLeasesPath, ns_, "/leases/", name_), timeout_, 1 << 20);
  if (!body.ok()) {
    if (absl::StrContains(body.status().message(), "404")) return std::nullopt;
    return body.status();
  }
  ASSIGN_OR_RETURN(LeaseRecord r, ParseLease(*body));
  return std::optional<LeaseRecord>(std::move(r));
}

absl::StatusOr<LeaseRecord> KubeLeaseApi::Write(std::string_view method, const std::string& path,
                                                const LeaseRecord& r) {
  std::string body = LeaseJson(ns_, name_, r);
  ASSIGN_OR_RETURN(HttpResponse resp, client_->Send(method, path, body, timeout_));
  if (resp.status == 409) {
    return method == "POST" ? absl::AlreadyExistsError("lease already exists")
                            : absl::AbortedError("lease changed since it was read (409 Conflict)");
  }
  if (resp.status != 200 && resp.status != 201) {
    return absl::UnavailableError(
        absl::StrCat(Av(method), " of lease ", ns_, "/", name_, ": ", HttpStatusText(resp.status)));
  }
  absl::StatusOr<LeaseRecord> written = ParseLease(resp.body);
  if (!written.ok()) {
    // The answer was cut (kMaxResponseBodyBytes): read it again for its resourceVersion.
    ASSIGN_OR_RETURN(std::optional<LeaseRecord> again, Get());
    if (!again) return absl::UnavailableError("lease vanished after it was written");
    return *again;
  }
  return written;
}

absl::StatusOr<LeaseRecord> KubeLeaseApi::Create(const LeaseRecord& r) {
  LeaseRecord fresh = r;
  fresh.resource_version.clear();
  return Write("POST", absl::StrCat(kLeasesPath, ns_, "/leases"), fresh);
}

absl::StatusOr<LeaseRecord> KubeLeaseApi::Update(const LeaseRecord& r) {
  return Write("PUT", absl::StrCat(kLeasesPath, ns_, "/leases/", name_), r);
}

LeaderElector::LeaderElector(LeaderElectionConfig config, std::unique_ptr<LeaseApi> api)
    : config_(std::move(config)), api_(std::move(api)) {}

bool LeaderElector::Tick(absl::Time now, const Annotate& annotate) {
  if (TryAcquireOrRenew(now, annotate)) {
    last_error_ = absl::OkStatus();
    leader_ = true;
    last_renew_ = now;
  } else if (leader_ && now - last_renew_ >= config_.renew_deadline) {
    // client-go's renew loop gives up after renewDeadline: stop before another may take over.
    leader_ = false;
  }
  return leader_;
}

bool LeaderElector::TryAcquireOrRenew(absl::Time now, const Annotate& annotate) {
  LeaseRecord want;
  want.holder = config_.identity;
  want.lease_duration_seconds = std::max<int64_t>(1, absl::ToInt64Seconds(config_.lease_duration));
  want.acquire_time = now;
  want.renew_time = now;

  absl::StatusOr<std::optional<LeaseRecord>> got = api_->Get();
  if (!got.ok()) {
    last_error_ = got.status();
    return false;
  }
  if (!got->has_value()) {
    want.annotations = annotate({});
    absl::StatusOr<LeaseRecord> created = api_->Create(want);
    if (!created.ok()) {
      last_error_ = created.status();
      return false;
    }
    observed_ = *created;
    observed_time_ = now;
    return true;
  }
  LeaseRecord& old = **got;
  // The record changed since we last saw it: its holder is alive as of now (our clock).
  if (!observed_ || !(*observed_ == old)) {
    observed_ = old;
    observed_time_ = now;
  }
  const bool mine = old.holder == config_.identity;
  const absl::Duration held_for = absl::Seconds(old.lease_duration_seconds);
  if (!old.holder.empty() && !mine && observed_time_ + held_for > now) {
    last_error_ = absl::OkStatus();
    return false;  // held by another, still valid
  }
  if (mine) {
    want.acquire_time = old.acquire_time;
    want.lease_transitions = old.lease_transitions;
  } else {
    want.lease_transitions = old.lease_transitions + 1;
  }
  // Keep annotations others wrote; ours win.
  std::map<std::string, std::string> merged = old.annotations;
  for (auto& [k, v] : annotate(old.annotations)) merged[k] = std::move(v);
  want.annotations = std::move(merged);
  want.resource_version = old.resource_version;
  absl::StatusOr<LeaseRecord> updated = api_->Update(want);
  if (!updated.ok()) {
    last_error_ = updated.status();
    return false;
  }
  observed_ = *updated;
  observed_time_ = now;
  return true;
}

absl::Status LeaderElector::Release(absl::Time now,
                                    const std::map<std::string, std::string>& annotations) {
  if (!leader_ || !observed_) return absl::OkStatus();
  leader_ = false;
  LeaseRecord r = *observed_;
  r.holder.clear();
  r.lease_duration_seconds = 1;
  r.renew_time = now;
  r.acquire_time = now;
  for (const auto& [k, v] : annotations) r.annotations[k] = v;
  absl::StatusOr<LeaseRecord> updated = api_->Update(r);
  if (!updated.ok()) return updated.status();
  observed_ = *updated;
  return absl::OkStatus();
}

}  // namespace sluice::metadata
