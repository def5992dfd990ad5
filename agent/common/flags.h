// FlagSet: a command's options declared once, in one table, from which both parsing and the
// help text come (so they cannot drift apart).
//
// Parsing follows the spf13/pflag rules Alloy's command line (cobra) uses: `--name=value` or
// `--name value`; a boolean flag takes no separate argument (`--name` sets it, `--name=false`
// clears it); positional arguments may come before, between or after flags; `--` ends the
// flags. Byte sizes mean what they mean in an Alloy configuration (units.h: KB = KiB), durations
// are Go's. Errors say which flag and why, e.g. `--batch-size: invalid byte size unit "XB"`.
//
// Why a table of our own rather than CLI11 or Boost.Program_options: their syntax and error
// texts are not pflag's (CLI11 takes `-abc` bundles and `/flag` forms, Program_options has no
// `--flag=false` for switches and renders its own messages), and the flags here are few; the
// table is ~200 lines. Single-threaded; owned by the caller.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace sluice {

class FlagSet {
 public:
  // Parses one flag's value; an error's message is shown after "--<name>: ".
  using Setter = std::function<absl::Status(std::string_view value)>;

  void String(std::string name, std::string* out, std::string help, bool allow_empty = false,
              std::string value_name = "VALUE");
  void Bool(std::string name, bool* out, std::string help);
  // A boolean flag whose value `set` receives.
  void BoolFunc(std::string name, std::function<absl::Status(bool)> set, std::string help);
  // A byte size > 0 ("1MiB", "512KB", "1048576").
  void Bytes(std::string name, uint64_t* out, std::string help);
  void Duration(std::string name, absl::Duration* out, std::string help);
  void Int(std::string name, int* out, int min, std::string help);
  // Anything else: `set` checks and stores the value. `value_name` shows in the help ("k=v").
  void Custom(std::string name, std::string value_name, Setter set, std::string help);
  // A boolean flag with its own action.
  void Switch(std::string name, std::function<void()> on, std::string help);
  // Accepted and ignored, for compatibility; `takes_value` says whether it has a value.
  void Ignored(std::string name, bool takes_value, std::string help);

  // Parses argv[0..argc); positional arguments go to `positional`. `--help`/`-h` sets *help.
  absl::Status Parse(int argc, char** argv, std::vector<std::string>* positional, bool* help);

  // One line per flag (wrapped), in declaration order, for the usage text.
  std::string Help() const;

 private:
  enum class Kind { kValue, kBool };
  struct Flag {
    std::string name;
    std::string value_name;  // "BYTES", "DURATION", ...; empty for booleans
    Kind kind;
    Setter set;
    std::string help;
  };
  void Add(std::string name, std::string value_name, Kind kind, Setter set, std::string help);
  const Flag* Find(std::string_view name) const;

  std::vector<Flag> flags_;
};

}  // namespace sluice
