// Compression helpers for tests: what clients and log rotators write (gzip, zlib, raw deflate).
// Plain functions; any thread.
#pragma once

#include <string>
#include <string_view>

namespace sluice::testing {

// zlib's deflate of `data` in one call. `window_bits` as deflateInit2's: 16 + 15 gzip, 15 zlib,
// -15 raw deflate. Fails the running test if zlib refuses.
std::string Deflate(std::string_view data, int window_bits);
inline std::string Gzip(std::string_view data) { return Deflate(data, 16 + 15); }
inline std::string Zlib(std::string_view data) { return Deflate(data, 15); }

}  // namespace sluice::testing
