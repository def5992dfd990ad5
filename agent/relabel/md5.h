// MD5 (RFC 1321), only for the hashmod relabel action, which must reproduce Prometheus' shard
// numbers bit for bit. Not for security. Pure function; any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace sluice {

std::array<uint8_t, 16> Md5(std::string_view data);

}  // namespace sluice
