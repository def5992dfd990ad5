#include "tests/support/test_certs.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace sluice::testing {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "test PKI: %s failed\n", what);
    std::abort();
  }
}

EVP_PKEY* NewKey() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  Check(key != nullptr, "EVP_EC_gen");
  return key;
}

void AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  Check(ext != nullptr, "X509V3_EXT_conf_nid");
  Check(X509_add_ext(cert, ext, -1) == 1, "X509_add_ext");
  X509_EXTENSION_free(ext);
}

// An unsigned certificate for `key` named `cn`, issued by `issuer` (itself when null).
X509* NewCert(EVP_PKEY* key, const std::string& cn, X509* issuer, long serial) {
  X509* cert = X509_new();
  Check(cert != nullptr, "X509_new");
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 30L * 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  return cert;
}

void Sign(X509* cert, EVP_PKEY* key) { Check(X509_sign(cert, key, EVP_sha256()) > 0, "X509_sign"); }

std::string CertPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  Check(PEM_write_bio_X509(bio, cert) == 1, "PEM_write_bio_X509");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

std::string KeyPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  Check(PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "PEM_write_bio_PrivateKey");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

}  // namespace

TestPki MakeTestPki(const TestPkiOptions& options) {
  static long serial = 1;
  TestPki pki;

  EVP_PKEY* ca_key = NewKey();
  X509* ca = NewCert(ca_key, options.ca_cn, nullptr, serial++);
  AddExt(ca, ca, NID_basic_constraints, "critical,CA:TRUE");
  AddExt(ca, ca, NID_key_usage, "critical,keyCertSign,cRLSign");
  AddExt(ca, ca, NID_subject_key_identifier, "hash");
  Sign(ca, ca_key);
  pki.ca_cert_pem = CertPem(ca);
  pki.ca_key_pem = KeyPem(ca_key);

  EVP_PKEY* server_key = NewKey();
  X509* server = NewCert(server_key, "sluice test server", ca, serial++);
  std::vector<std::string> names;
  for (const auto& d : options.server_dns) names.push_back(absl::StrCat("DNS:", d));
  for (const auto& ip : options.server_ips) names.push_back(absl::StrCat("IP:", ip));
  AddExt(server, ca, NID_basic_constraints, "critical,CA:FALSE");
  AddExt(server, ca, NID_key_usage, "critical,digitalSignature");
  AddExt(server, ca, NID_ext_key_usage, "serverAuth");
  if (!names.empty()) AddExt(server, ca, NID_subject_alt_name, absl::StrJoin(names, ","));
  AddExt(server, ca, NID_authority_key_identifier, "keyid:always");
  Sign(server, ca_key);
  pki.server_cert_pem = CertPem(server);
  pki.server_key_pem = KeyPem(server_key);

  EVP_PKEY* client_key = NewKey();
  X509* client = NewCert(client_key, options.client_cn, ca, serial++);
  AddExt(client, ca, NID_basic_constraints, "critical,CA:FALSE");
  AddExt(client, ca, NID_key_usage, "critical,digitalSignature");
  AddExt(client, ca, NID_ext_key_usage, "clientAuth");
  AddExt(client, ca, NID_authority_key_identifier, "keyid:always");
  Sign(client, ca_key);
  pki.client_cert_pem = CertPem(client);
  pki.client_key_pem = KeyPem(client_key);

  X509_free(client);
  X509_free(server);
  X509_free(ca);
  EVP_PKEY_free(client_key);
  EVP_PKEY_free(server_key);
  EVP_PKEY_free(ca_key);
  return pki;
}

}  // namespace sluice::testing
