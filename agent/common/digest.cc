#include "agent/common/digest.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace sluice {
namespace {

// One-shot digest of `data` into `out` (at least EVP_MAX_MD_SIZE bytes); returns its length.
unsigned Digest(const EVP_MD* md, std::string_view data, unsigned char* out) {
  unsigned n = 0;
  // Fails only when libcrypto cannot allocate or the algorithm is missing: both are broken
  // installations, not bad input.
  if (md == nullptr || EVP_Digest(data.data(), data.size(), out, &n, md, nullptr) != 1) {
    std::abort();
  }
  return n;
}

std::string Hex(const unsigned char* p, unsigned n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (unsigned i = 0; i < n; ++i) {
    out[2 * i] = kHex[p[i] >> 4];
    out[2 * i + 1] = kHex[p[i] & 15];
  }
  return out;
}

}  // namespace

std::array<uint8_t, 16> Md5(std::string_view data) {
  unsigned char buf[EVP_MAX_MD_SIZE];
  Digest(EVP_md5(), data, buf);
  std::array<uint8_t, 16> out;
  for (size_t i = 0; i < out.size(); ++i) out[i] = buf[i];
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char buf[EVP_MAX_MD_SIZE];
  return Hex(buf, Digest(EVP_sha256(), data, buf));
}

std::string Sha3_256Hex(std::string_view data) {
  unsigned char buf[EVP_MAX_MD_SIZE];
  return Hex(buf, Digest(EVP_sha3_256(), data, buf));
}

}  // namespace sluice
