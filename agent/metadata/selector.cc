#include "agent/metadata/selector.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/common/strings.h"

namespace sluice::metadata {
namespace {

std::string_view Trim(std::string_view s) { return Sv(absl::StripAsciiWhitespace(Av(s))); }

// Splits at commas outside parentheses.
std::vector<std::string_view> SplitTerms(std::string_view text) {
  std::vector<std::string_view> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || (text[i] == ',' && depth == 0)) {
      std::string_view term = Trim(text.substr(start, i - start));
      if (!term.empty()) out.push_back(term);
      start = i + 1;
    } else if (text[i] == '(') {
      ++depth;
    } else if (text[i] == ')') {
      --depth;
    }
  }
  return out;
}

// Kubernetes label keys: an optional DNS prefix and '/', then [A-Za-z0-9._-] (checked loosely:
// the API server is the judge of the rest).
bool ValidKey(std::string_view key) {
  if (key.empty() || key.size() > 317) return false;
  for (char c : key) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_' &&
        c != '/') {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<LabelSelector> LabelSelector::Parse(std::string_view text) {
  LabelSelector sel;
  for (std::string_view term : SplitTerms(text)) {
    Req r;
    size_t paren = term.find('(');
    if (paren != std::string_view::npos) {
      if (term.back() != ')') {
        return absl::InvalidArgumentError(
            absl::StrCat("label selector \"", Av(text), "\": missing ')' in \"", Av(term), "\""));
      }
      std::string_view head = Trim(term.substr(0, paren));
      size_t space = head.find_last_of(" \t");
      if (space == std::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("label selector \"", Av(text), "\": bad term \"", Av(term), "\""));
      }
      std::string_view op = head.substr(space + 1);
      r.key = std::string(Trim(head.substr(0, space)));
      if (op == "in") {
        r.op = Op::kIn;
      } else if (op == "notin") {
        r.op = Op::kNotIn;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("label selector \"", Av(text), "\": unknown operator \"", Av(op), "\""));
      }
      for (absl::string_view v :
           absl::StrSplit(Av(term.substr(paren + 1, term.size() - paren - 2)), ',')) {
        r.values.emplace_back(Trim(Sv(v)));
      }
    } else if (term.front() == '!') {
      r.op = Op::kNotExists;
      r.key = std::string(Trim(term.substr(1)));
    } else if (size_t ne = term.find("!="); ne != std::string_view::npos) {
      r.op = Op::kNotEquals;
      r.key = std::string(Trim(term.substr(0, ne)));
      r.values.emplace_back(Trim(term.substr(ne + 2)));
    } else if (size_t eq = term.find('='); eq != std::string_view::npos) {
      r.op = Op::kEquals;
      r.key = std::string(Trim(term.substr(0, eq)));
      size_t skip = eq + 1 < term.size() && term[eq + 1] == '=' ? 2 : 1;
      r.values.emplace_back(Trim(term.substr(eq + skip)));
    } else {
      r.op = Op::kExists;
      r.key = std::string(term);
    }
    if (!ValidKey(r.key)) {
      return absl::InvalidArgumentError(
          absl::StrCat("label selector \"", Av(text), "\": invalid key \"", r.key, "\""));
    }
    sel.reqs_.push_back(std::move(r));
  }
  return sel;
}

bool LabelSelector::Matches(const std::vector<std::pair<std::string, std::string>>& labels) const {
  for (const Req& r : reqs_) {
    const std::string* value = nullptr;
    for (const auto& [k, v] : labels) {
      if (k == r.key) value = &v;
    }
    bool in = false;
    if (value != nullptr) {
      for (const std::string& v : r.values) in |= v == *value;
    }
    bool ok = false;
    switch (r.op) {
      case Op::kEquals:
      case Op::kIn:
        ok = in;
        break;
      case Op::kNotEquals:
      case Op::kNotIn:
        ok = !in;  // as Kubernetes: a missing label satisfies != and notin
        break;
      case Op::kExists:
        ok = value != nullptr;
        break;
      case Op::kNotExists:
        ok = value == nullptr;
        break;
    }
    if (!ok) return false;
  }
  return true;
}

namespace {

// The pod fields the API server accepts in a field selector, and their values.
const std::string* PodField(const Pod& pod, std::string_view field, std::string* scratch) {
  if (field == "metadata.name") return &pod.name;
  if (field == "metadata.namespace") return &pod.ns;
  if (field == "spec.nodeName") return &pod.node_name;
  if (field == "spec.restartPolicy") return &pod.restart_policy;
  if (field == "spec.schedulerName") return &pod.scheduler_name;
  if (field == "spec.serviceAccountName") return &pod.service_account;
  if (field == "status.phase") return &pod.phase;
  if (field == "status.podIP") return &pod.pod_ip;
  if (field == "spec.hostNetwork") {
    *scratch = pod.host_network ? "true" : "false";
    return scratch;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<FieldSelector> FieldSelector::Parse(std::string_view text, SelectorObject object) {
  FieldSelector sel;
  Pod probe;
  std::string scratch;
  for (std::string_view term : SplitTerms(text)) {
    Req r;
    if (size_t ne = term.find("!="); ne != std::string_view::npos) {
      r.equals = false;
      r.field = std::string(Trim(term.substr(0, ne)));
      r.value = std::string(Trim(term.substr(ne + 2)));
    } else if (size_t eq = term.find('='); eq != std::string_view::npos) {
      r.equals = true;
      r.field = std::string(Trim(term.substr(0, eq)));
      size_t skip = eq + 1 < term.size() && term[eq + 1] == '=' ? 2 : 1;
      r.value = std::string(Trim(term.substr(eq + skip)));
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "field selector \"", Av(text), "\": invalid term \"", Av(term), "\" (want field=value)"));
    }
    bool known = object == SelectorObject::kPod
                     ? PodField(probe, r.field, &scratch) != nullptr
                     : r.field == "metadata.name" || r.field == "spec.unschedulable";
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat("field selector \"", Av(text), "\": field label not supported: ", r.field));
    }
    sel.reqs_.push_back(std::move(r));
  }
  return sel;
}

bool FieldSelector::Matches(const Pod& pod) const {
  std::string scratch;
  for (const Req& r : reqs_) {
    const std::string* v = PodField(pod, r.field, &scratch);
    if (v == nullptr || (*v == r.value) != r.equals) return false;
  }
  return true;
}

std::optional<std::string> FieldSelector::NodeName() const {
  for (const Req& r : reqs_) {
    if (r.field == "spec.nodeName" && r.equals && !r.value.empty()) return r.value;
  }
  return std::nullopt;
}

}  // namespace sluice::metadata
