#include "agent/common/flags.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/common/strings.h"
#include "agent/common/units.h"

namespace sluice {

void FlagSet::Add(std::string name, std::string value_name, Kind kind, Setter set,
                  std::string help) {
  flags_.push_back({std::move(name), std::move(value_name), kind, std::move(set), std::move(help)});
}

void FlagSet::String(std::string name, std::string* out, std::string help, bool allow_empty,
                     std::string value_name) {
  Add(
      std::move(name), std::move(value_name), Kind::kValue,
      [out, allow_empty](std::string_view v) {
        if (v.empty() && !allow_empty) return absl::InvalidArgumentError("needs a value");
        *out = std::string(v);
        return absl::OkStatus();
      },
      std::move(help));
}

void FlagSet::Bool(std::string name, bool* out, std::string help) {
  BoolFunc(
      std::move(name),
      [out](bool v) {
        *out = v;
        return absl::OkStatus();
      },
      std::move(help));
}

void FlagSet::BoolFunc(std::string name, std::function<absl::Status(bool)> set, std::string help) {
  Add(
      std::move(name), "", Kind::kBool,
      [set = std::move(set)](std::string_view v) {
        // strconv.ParseBool, as pflag reads a boolean's value.
        if (v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True") {
          return set(true);
        }
        if (v == "0" || v == "f" || v == "F" || v == "false" || v == "FALSE" || v == "False") {
          return set(false);
        }
        return absl::InvalidArgumentError(absl::StrCat("invalid boolean \"", Av(v), "\""));
      },
      std::move(help));
}

void FlagSet::Bytes(std::string name, uint64_t* out, std::string help) {
  Add(
      std::move(name), "BYTES", Kind::kValue,
      [out](std::string_view v) {
        absl::StatusOr<uint64_t> n = ParseByteSize(v);
        if (!n.ok()) return n.status();
        if (*n == 0) return absl::InvalidArgumentError("must be greater than 0");
        *out = *n;
        return absl::OkStatus();
      },
      std::move(help));
}

void FlagSet::Duration(std::string name, absl::Duration* out, std::string help) {
  Add(
      std::move(name), "DURATION", Kind::kValue,
      [out](std::string_view v) {
        absl::StatusOr<absl::Duration> d = ParseDurationArg(v);
        if (!d.ok()) return d.status();
        *out = *d;
        return absl::OkStatus();
      },
      std::move(help));
}

void FlagSet::Int(std::string name, int* out, int min, std::string help) {
  Add(
      std::move(name), "N", Kind::kValue,
      [out, min](std::string_view v) {
        int n;
        if (!absl::SimpleAtoi(Av(v), &n) || n < min) {
          return absl::InvalidArgumentError(absl::StrCat("needs a whole number >= ", min));
        }
        *out = n;
        return absl::OkStatus();
      },
      std::move(help));
}

void FlagSet::Custom(std::string name, std::string value_name, Setter set, std::string help) {
  Add(std::move(name), std::move(value_name), Kind::kValue, std::move(set), std::move(help));
}

void FlagSet::Switch(std::string name, std::function<void()> on, std::string help) {
  Add(
      std::move(name), "", Kind::kBool,
      [on = std::move(on)](std::string_view v) {
        if (v == "true" || v == "1") on();
        return absl::OkStatus();
      },
      std::move(help));
}

void FlagSet::Ignored(std::string name, bool takes_value, std::string help) {
  Add(
      std::move(name), takes_value ? "VALUE" : "", takes_value ? Kind::kValue : Kind::kBool,
      [](std::string_view) { return absl::OkStatus(); }, std::move(help));
}

const FlagSet::Flag* FlagSet::Find(std::string_view name) const {
  for (const Flag& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

absl::Status FlagSet::Parse(int argc, char** argv, std::vector<std::string>* positional,
                            bool* help) {
  *help = false;
  bool flags_done = false;
  for (int i = 0; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (flags_done || arg.size() < 2 || arg[0] != '-') {
      positional->emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      *help = true;
      return absl::OkStatus();
    }
    if (arg.substr(0, 2) != "--") {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown shorthand flag ", Av(arg), " (flags are written --name)"));
    }
    std::string_view name = arg.substr(2);
    std::string_view value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string_view::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const Flag* f = Find(name);
    if (f == nullptr)
      return absl::InvalidArgumentError(absl::StrCat("unknown option --", Av(name)));
    if (!has_value) {
      if (f->kind == Kind::kBool) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("--", Av(name), " needs a value"));
      }
    }
    absl::Status st = f->set(value);
    if (!st.ok())
      return absl::InvalidArgumentError(absl::StrCat("--", Av(name), ": ", st.message()));
  }
  return absl::OkStatus();
}

std::string FlagSet::Help() const {
  constexpr size_t kColumn = 30;
  constexpr size_t kWidth = 96;
  std::string out;
  for (const Flag& f : flags_) {
    std::string head = absl::StrCat("  --", f.name, f.value_name.empty() ? "" : " ", f.value_name);
    std::string line = head;
    if (line.size() + 1 > kColumn) {
      out += line + "\n";
      line.clear();
    }
    line.resize(kColumn, ' ');
    size_t used = kColumn;
    for (absl::string_view word : absl::StrSplit(f.help, ' ', absl::SkipEmpty())) {
      if (used + word.size() + 1 > kWidth && used > kColumn) {
        out += line + "\n";
        line.assign(kColumn, ' ');
        used = kColumn;
      }
      if (used > kColumn) {
        line += ' ';
        ++used;
      }
      absl::StrAppend(&line, word);
      used += word.size();
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace sluice
