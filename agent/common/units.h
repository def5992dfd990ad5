// Parsing of the byte sizes and durations users write on the command line and in configs
// ("1MiB", "512KB", "8388608"; "1s", "500ms", "5m"), as Alloy accepts them. Pure functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sluice {

// Command-line byte sizes, with the meaning Alloy gives byte sizes in configs (ParseBase2Bytes):
// KB, MB, GB and KiB, MiB, GiB (also Ki, Mi, Gi) are all powers of 1024, so "1MB" means the same
// on the command line and in a config; a bare number is bytes. Rejects negatives, fractions and
// overflow.
absl::StatusOr<uint64_t> ParseByteSize(std::string_view text);

// Alloy's byte sizes in configs (alecthomas/units.ParseBase2Bytes, Go's units.Base2Bytes):
// <number><unit> terms summed, units B, KiB..EiB or KB..EB, every K/M/G... a power of 1024 (so
// "1MB" is 1048576), decimal fractions, an optional sign, and "0"; a bare
// number is refused. Errors carry Alloy's text ("units: invalid x", "units: unknown unit u in x").
// (ParseByteSize gives units the same meaning.)
absl::StatusOr<int64_t> ParseBase2Bytes(std::string_view text);

// Go-style durations ("300ms", "1.5s", "2h45m"); negative durations rejected.
absl::StatusOr<absl::Duration> ParseDurationArg(std::string_view text);

}  // namespace sluice
