// SHA-256 (FIPS 180-4) and SHA3-256 (FIPS 202) as lower-case hex, for the Sha2Hash, Hash and
// sha256sum template functions of stage.replace. Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

std::string Sha256Hex(std::string_view data);
std::string Sha3_256Hex(std::string_view data);

}  // namespace sluice
