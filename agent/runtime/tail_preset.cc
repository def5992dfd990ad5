#include "agent/runtime/tail_preset.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "agent/go/strconv.h"

namespace sluice {

namespace {

std::string Q(std::string_view s) {
  std::string out;
  AppendGoQuoted(s, &out);  // Go's string escapes are Alloy's
  return out;
}

// kubelet's two layouts. Relabel regexes are anchored at both ends; the pod directory is
// <namespace>_<pod>_<uid> (names and UIDs hold no '_'), the container log link
// <pod>_<namespace>_<container>-<container id>.log.
constexpr char kPodPathRegex[] = "(?:.*/)?([^/_]+)_([^/_]+)_([^/_]+)/([^/]+)/[^/]+";
constexpr char kContainerLinkRegex[] = "(?:.*/)?([^/_]+)_([^/_]+)_([^/]+)-[0-9A-Za-z]+\\.log";

void AppendRule(std::string* out, std::string_view regex, std::string_view target,
                std::string_view replacement) {
  absl::StrAppend(
      out, "  rule {\n    source_labels = [\"__path__\"]\n    regex         = ", Q(regex),
      "\n    target_label  = ", Q(target), "\n    replacement   = ", Q(replacement), "\n  }\n");
}

}  // namespace

std::string GoDurationText(absl::Duration d) {
  struct Unit {
    int64_t ns;
    const char* name;
  };
  static const Unit kUnits[] = {
      {3'600'000'000'000, "h"}, {60'000'000'000, "m"}, {1'000'000'000, "s"},
      {1'000'000, "ms"},        {1'000, "us"},         {1, "ns"}};
  int64_t ns = absl::ToInt64Nanoseconds(d);
  if (ns == 0) return "0s";
  for (const Unit& u : kUnits) {
    if (ns % u.ns == 0) return absl::StrCat(ns / u.ns, u.name);
  }
  return absl::StrCat(ns, "ns");
}

std::string Base2BytesText(uint64_t bytes) {
  static const char* kUnits[] = {"EiB", "PiB", "TiB", "GiB", "MiB", "KiB"};
  for (int i = 0; i < 6; ++i) {
    uint64_t size = uint64_t{1} << (10 * (6 - i));
    if (bytes >= size && bytes % size == 0) return absl::StrCat(bytes / size, kUnits[i]);
  }
  return absl::StrCat(bytes, "B");
}

std::string GlobEscape(std::string_view path) {
  std::string out;
  for (char c : path) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '{' || c == '}' || c == '\\') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  return out;
}

std::string TailPresetConfig(const TailPreset& p, bool (*root_is_file)(const std::string&)) {
  std::string out = "// sluice tail, as the Alloy configuration sluice runs for it.\n\n";
  absl::StrAppend(&out, "local.file_match \"tail\" {\n  path_targets = [\n");
  for (const std::string& root : p.roots) {
    std::string pattern = GlobEscape(root);
    if (!root_is_file(root)) {
      absl::StrAppend(&pattern, root == "/" ? "" : "/", "**/*.log");
    }
    absl::StrAppend(&out, "    {\"__path__\" = ", Q(pattern), "},\n");
  }
  absl::StrAppend(&out, "  ]\n  sync_period = ", Q(GoDurationText(p.sync_period)), "\n}\n\n");

  absl::StrAppend(&out,
                  "discovery.relabel \"tail\" {\n  targets = local.file_match.tail.targets\n\n");
  for (const auto& [k, v] : p.labels) {
    // Replacements expand $1 and ${name}: a literal '$' is written "$$".
    absl::StrAppend(&out, "  rule {\n    target_label = ", Q(k),
                    "\n    replacement  = ", Q(absl::StrReplaceAll(v, {{"$", "$$"}})), "\n  }\n");
  }
  AppendRule(&out, kPodPathRegex, "namespace", "$1");
  AppendRule(&out, kPodPathRegex, "pod", "$2");
  AppendRule(&out, kPodPathRegex, "container", "$4");
  AppendRule(&out, kContainerLinkRegex, "namespace", "$2");
  AppendRule(&out, kContainerLinkRegex, "pod", "$1");
  AppendRule(&out, kContainerLinkRegex, "container", "$3");
  absl::StrAppend(&out, "}\n\n");

  std::string sink = p.url.empty() ? "loki.echo.tail.receiver" : "loki.write.tail.receiver";
  absl::StrAppend(&out,
                  "loki.source.file \"tail\" {\n  targets    = discovery.relabel.tail.output\n",
                  "  forward_to = [", sink, "]\n");
  if (p.tail_from_end) absl::StrAppend(&out, "  tail_from_end = true\n");
  absl::StrAppend(&out, "  on_positions_file_error = ", Q(p.on_positions_error), "\n}\n\n");

  if (p.url.empty()) {
    absl::StrAppend(&out, "loki.echo \"tail\" { }\n");
    return out;
  }
  absl::StrAppend(&out, "loki.write \"tail\" {\n  endpoint {\n    url                 = ", Q(p.url),
                  "\n");
  if (!p.tenant.empty()) absl::StrAppend(&out, "    tenant_id           = ", Q(p.tenant), "\n");
  absl::StrAppend(&out, "    batch_size          = ", Q(Base2BytesText(p.batch_size)), "\n",
                  "    batch_wait          = ", Q(GoDurationText(p.batch_wait)), "\n",
                  "    remote_timeout      = ", Q(GoDurationText(p.remote_timeout)), "\n",
                  "    min_backoff_period  = ", Q(GoDurationText(p.min_backoff)), "\n",
                  "    max_backoff_period  = ", Q(GoDurationText(p.max_backoff)), "\n",
                  "    max_backoff_retries = ", p.max_retries, "\n  }\n}\n");
  return out;
}

}  // namespace sluice
