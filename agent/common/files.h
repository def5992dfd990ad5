// Reading a whole small file (configuration inputs: kubeconfig, target files, local.file).
// Any thread.
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace sluice {

// The file's bytes; NotFound ("open PATH: No such file or directory") when it cannot be opened,
// ResourceExhausted when it holds more than `max_bytes`.
absl::StatusOr<std::string> ReadFileLimited(const std::string& path, size_t max_bytes);

}  // namespace sluice
