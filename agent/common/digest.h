// Message digests through OpenSSL's libcrypto (already loaded by libcurl's TLS): MD5 for the
// hashmod relabel action, which must reproduce Prometheus' shard numbers bit for bit (not for
// security), and SHA-256 / SHA3-256 as lower-case hex for the Sha2Hash, Hash and sha256sum
// template functions of stage.replace. Pure functions; any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

std::array<uint8_t, 16> Md5(std::string_view data);
std::string Sha256Hex(std::string_view data);
std::string Sha3_256Hex(std::string_view data);

}  // namespace sluice
