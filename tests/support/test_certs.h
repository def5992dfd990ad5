// TestPki: a certificate authority and certificates it signed, made with OpenSSL when a test
// runs (nothing checked in, nothing that expires between runs). P-256 keys, SHA-256 signatures,
// valid from an hour ago for 30 days. Test thread only.
#pragma once

#include <string>
#include <vector>

namespace sluice::testing {

struct TestPki {
  std::string ca_cert_pem;
  std::string ca_key_pem;
  // serverAuth; subject alternative names as asked (default: DNS localhost, IP 127.0.0.1).
  std::string server_cert_pem;
  std::string server_key_pem;
  // clientAuth; common name `client_cn`.
  std::string client_cert_pem;
  std::string client_key_pem;
};

struct TestPkiOptions {
  std::string ca_cn = "sluice test CA";
  std::vector<std::string> server_dns = {"localhost"};
  std::vector<std::string> server_ips = {"127.0.0.1"};
  std::string client_cn = "sluice-client";
};

// Aborts the test binary when OpenSSL fails: a test without its certificates has nothing to say.
TestPki MakeTestPki(const TestPkiOptions& options = {});

}  // namespace sluice::testing
