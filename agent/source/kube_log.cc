#include "agent/source/kube_log.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
#include "agent/common/timestamp.h"
#include "agent/common/utf8.h"

namespace sluice {
namespace {

std::string First(const LabelSet& l, const char* a, const char* b) {
  for (const char* name : {a, b}) {
    LabelValue v = l.Get(name);
    if (v.has_value() && !v->empty()) return std::string(*v);
  }
  return std::string();
}

}  // namespace

absl::StatusOr<KubeLogTarget> PrepareKubeLogTarget(const LabelSet& target,
                                                   std::string_view default_job,
                                                   bool preserve_meta) {
  KubeLogTarget t;
  t.ns = First(target, kPodNamespaceLabel, "__meta_kubernetes_namespace");
  t.pod = First(target, kPodNameLabel, "__meta_kubernetes_pod_name");
  t.container = First(target, kPodContainerNameLabel, "__meta_kubernetes_pod_container_name");
  t.uid = First(target, kPodUidLabel, "__meta_kubernetes_pod_uid");
  if (t.ns.empty()) return absl::InvalidArgumentError("missing pod namespace label");
  if (t.pod.empty()) return absl::InvalidArgumentError("missing pod name label");
  if (t.container.empty()) return absl::InvalidArgumentError("missing pod container name label");
  if (t.uid.empty()) return absl::InvalidArgumentError("missing pod UID label");
  for (const auto& [k, v] : target.labels()) {
    if (!IsValidUtf8(v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid label value for \"", Av(k), "\": ", Av(v)));
    }
    if (preserve_meta && absl::StartsWith(Av(k), "__meta_")) {
      t.labels.Set(k, v);
      continue;
    }
    if (absl::StartsWith(Av(k), "__")) continue;
    t.labels.Set(k, v);
  }
  if (!target.Has("job")) t.labels.Set("job", default_job);
  if (!target.Has("instance")) t.labels.Set("instance", t.Name());
  // Alloy keys by Target.Labels(): the public labels, sorted, as Prometheus renders them. With
  // preserve_meta those include the __meta_* ones.
  t.positions_labels = t.labels.RenderLoki();
  t.positions_path = absl::StrCat("cursor-", t.Name(), ":", t.uid);
  return t;
}

KubeLogLine ParseKubeLogLine(std::string_view text, int64_t now_ns) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  KubeLogLine out;
  out.timestamp_ns = now_ns;
  out.line = text;
  size_t sp = text.find(' ');
  if (sp == std::string_view::npos) return out;
  int64_t ts = 0;
  // RFC3339 is RFC3339Nano without a fraction: one parser reads both.
  if (!ParseRfc3339Nano(text.substr(0, sp), &ts)) return out;
  out.timestamp_ns = ts;
  out.line = text.substr(sp + 1);
  out.parsed = true;
  return out;
}

std::string KubeSinceTime(int64_t ts_ns) {
  int64_t secs = ts_ns >= 0 ? ts_ns / 1000000000 : -((-ts_ns + 999999999) / 1000000000);
  std::string out;
  AppendRfc3339Nano(secs * 1000000000, &out);
  return out;
}

void KubeLogResume::Read(int64_t ts_ns) {
  if (ts_ns == read_ns_) {
    ++read_count_;
  } else {
    read_ns_ = ts_ns;
    read_count_ = 1;
  }
  seen_at_read_ = read_count_;
  skipping_ = false;
}

int64_t KubeLogResume::start_ns() const {
  if (read_ns_ != INT64_MIN) return read_ns_;
  return saved_us_ * 1000;
}

bool KubeLogResume::Skip(int64_t ts_ns) {
  if (!skipping_) return false;
  if (read_ns_ != INT64_MIN) {
    if (ts_ns < read_ns_) return true;
    if (ts_ns == read_ns_ && seen_at_read_ < read_count_) {
      ++seen_at_read_;
      return true;
    }
  } else if (saved_us_ > 0 && NanosToMicros(ts_ns) <= saved_us_) {
    return true;
  }
  skipping_ = false;
  return false;
}

int64_t KubeLogCommits::Acked(int64_t offset) {
  bool any = false;
  int64_t ts = 0;
  while (!pending_.empty() && pending_.front().offset <= offset) {
    ts = pending_.front().ts_ns;
    any = true;
    pending_.pop_front();
  }
  if (!any) return 0;
  int64_t us = NanosToMicros(ts);
  if (!pending_.empty() && NanosToMicros(pending_.front().ts_ns) == us) --us;
  if (us <= saved_us_) return 0;
  saved_us_ = us;
  return us;
}

}  // namespace sluice
