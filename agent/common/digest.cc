#include "agent/common/digest.h"

// The one-shot EVP_Digest fetches its algorithm through OpenSSL 3's provider machinery, whose
// first use builds every algorithm table: about 3 MiB of libcrypto pages touched for the one
// config hash taken at start. MD5 and SHA-256 through their direct functions touch only their
// own code; they are deprecated in OpenSSL 3 but kept for exactly this use.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/md5.h>
#include <openssl/sha.h>

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
  std::array<uint8_t, 16> out;
  MD5(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data());
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char buf[SHA256_DIGEST_LENGTH];
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, data.data(), data.size());
  SHA256_Final(buf, &ctx);
  return Hex(buf, SHA256_DIGEST_LENGTH);
}

std::string Sha3_256Hex(std::string_view data) {
  unsigned char buf[EVP_MAX_MD_SIZE];
  return Hex(buf, Digest(EVP_sha3_256(), data, buf));
}

}  // namespace sluice
