// ProxySelector: which proxy, if any, a request goes through, decided the way Alloy's Go HTTP
// client decides it (Prometheus' ProxyConfig.Proxy on golang.org/x/net/http/httpproxy):
//
//  - proxy_url without no_proxy: every request goes through proxy_url, loopback included.
//  - proxy_url with no_proxy, and proxy_from_environment: requests to "localhost" and loopback
//    addresses go direct, and so do hosts no_proxy matches. no_proxy is a comma-separated list
//    of "*" (everything), IPs (optionally with a port), CIDRs, and domains: "example.com" matches
//    it and its subdomains, ".example.com" and "*.example.com" only its subdomains; a domain or IP
//    entry with ":port" matches that port only. Domain entries never match an IP host.
//  - proxy_from_environment reads HTTPS_PROXY/https_proxy (https URLs), HTTP_PROXY/http_proxy
//    (http URLs; ignored when REQUEST_METHOD is set, as Go does in CGI programs) and
//    NO_PROXY/no_proxy, the upper-case name first, once, when the selector is made.
//
// Deciding here rather than leaving it to libcurl's own environment handling and NOPROXY
// matching keeps Go's rules (curl ignores HTTP_PROXY, and does not send loopback traffic
// direct). Immutable after construction; any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

class ProxySelector {
 public:
  // Direct connections for every request.
  ProxySelector() = default;
  // `proxy_url` (and `no_proxy`) as written in an endpoint block.
  static ProxySelector Fixed(std::string proxy_url, std::string_view no_proxy);
  static ProxySelector FromEnvironment();
  // What FromEnvironment does with these values (tests).
  static ProxySelector FromValues(std::string http_proxy, std::string https_proxy,
                                  std::string_view no_proxy, bool cgi);

  // The proxy URL for a request to scheme://host:port ("" = connect directly). `host` without
  // brackets; `port` the URL's or the scheme's default.
  std::string For(std::string_view scheme, std::string_view host, int port) const;

 private:
  struct Ip {
    bool v4 = false;
    std::array<uint8_t, 16> bytes{};  // v4: the first 4
    bool operator==(const Ip&) const = default;
  };
  struct IpRule {
    Ip ip;
    int prefix = -1;  // -1: exact address (then `port` applies); else a CIDR of this length
    std::string port;
  };
  struct DomainRule {
    std::string suffix;  // with its leading '.'
    bool match_host = false;
    std::string port;
  };
  static bool ParseIp(std::string_view s, Ip* out);
  void ParseNoProxy(std::string_view no_proxy);
  bool UseProxy(std::string_view host, int port) const;

  std::string http_proxy_;
  std::string https_proxy_;
  bool rules_ = false;  // false: the proxy for every request, no exceptions at all
  bool bypass_all_ = false;
  std::vector<IpRule> ip_rules_;
  std::vector<DomainRule> domain_rules_;
};

}  // namespace sluice
