#include "agent/sink/proxy_selector.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace sluice {
namespace {

TEST(ProxySelectorTest, DefaultIsDirect) {
  ProxySelector s;
  EXPECT_EQ(s.For("http", "loki", 80), "");
  EXPECT_EQ(s.For("https", "loki", 443), "");
}

TEST(ProxySelectorTest, FixedWithoutNoProxyProxiesEverythingEvenLoopback) {
  ProxySelector s = ProxySelector::Fixed("http://proxy:3128", "");
  EXPECT_EQ(s.For("http", "loki", 80), "http://proxy:3128");
  EXPECT_EQ(s.For("https", "loki", 443), "http://proxy:3128");
  EXPECT_EQ(s.For("http", "127.0.0.1", 3100), "http://proxy:3128");
  EXPECT_EQ(s.For("http", "localhost", 3100), "http://proxy:3128");
}

TEST(ProxySelectorTest, SchemeLessProxyIsHttp) {
  EXPECT_EQ(ProxySelector::Fixed("proxy:3128", "").For("http", "loki", 80), "http://proxy:3128");
  EXPECT_EQ(ProxySelector::Fixed("socks5://p:1080", "").For("http", "loki", 80), "socks5://p:1080");
}

TEST(ProxySelectorTest, NoProxyRulesAsGo) {
  ProxySelector s = ProxySelector::Fixed(
      "http://p:1",
      " example.com, .sub.org,*.star.net, 10.0.0.0/8, 192.168.1.1, 172.16.0.1:8080, "
      "tagged.io:3100, [fd00::1]:443, fe80::/10 ,");
  // Loopback and localhost go direct once there are rules.
  EXPECT_EQ(s.For("http", "localhost", 80), "");
  EXPECT_EQ(s.For("http", "127.1.2.3", 80), "");
  EXPECT_EQ(s.For("http", "::1", 80), "");
  // Domains: "example.com" matches itself and subdomains; ".sub.org" and "*.star.net" only
  // subdomains.
  EXPECT_EQ(s.For("http", "example.com", 80), "");
  EXPECT_EQ(s.For("http", "LOKI.Example.com", 80), "");
  EXPECT_EQ(s.For("http", "notexample.com", 80), "http://p:1");
  EXPECT_EQ(s.For("http", "sub.org", 80), "http://p:1");
  EXPECT_EQ(s.For("http", "a.sub.org", 80), "");
  EXPECT_EQ(s.For("http", "star.net", 80), "http://p:1");
  EXPECT_EQ(s.For("http", "x.star.net", 80), "");
  // Port-qualified entries.
  EXPECT_EQ(s.For("http", "tagged.io", 3100), "");
  EXPECT_EQ(s.For("http", "tagged.io", 80), "http://p:1");
  EXPECT_EQ(s.For("http", "172.16.0.1", 8080), "");
  EXPECT_EQ(s.For("http", "172.16.0.1", 80), "http://p:1");
  EXPECT_EQ(s.For("https", "fd00::1", 443), "");
  EXPECT_EQ(s.For("https", "fd00::1", 8443), "http://p:1");
  // IPs and CIDRs.
  EXPECT_EQ(s.For("http", "10.1.2.3", 80), "");
  EXPECT_EQ(s.For("http", "11.1.2.3", 80), "http://p:1");
  EXPECT_EQ(s.For("http", "192.168.1.1", 80), "");
  EXPECT_EQ(s.For("http", "192.168.1.2", 80), "http://p:1");
  EXPECT_EQ(s.For("http", "fe80::1", 80), "");
  EXPECT_EQ(s.For("http", "::ffff:10.0.0.1", 80), "") << "v4-mapped is the v4 address";
}

TEST(ProxySelectorTest, DomainRulesNeverMatchIpHosts) {
  ProxySelector s = ProxySelector::Fixed("http://p:1", "0.1");
  EXPECT_EQ(s.For("http", "10.0.0.1", 80), "http://p:1");
}

TEST(ProxySelectorTest, StarBypassesAll) {
  ProxySelector s = ProxySelector::Fixed("http://p:1", "*");
  EXPECT_EQ(s.For("http", "loki", 80), "");
  EXPECT_EQ(s.For("https", "8.8.8.8", 443), "");
}

TEST(ProxySelectorTest, EnvironmentValuesPerScheme) {
  ProxySelector s = ProxySelector::FromValues("http://hp:1", "https://sp:2", "", false);
  EXPECT_EQ(s.For("http", "loki", 80), "http://hp:1");
  EXPECT_EQ(s.For("https", "loki", 443), "https://sp:2");
  EXPECT_EQ(s.For("http", "127.0.0.1", 3100), "") << "loopback goes direct";
  s = ProxySelector::FromValues("http://hp:1", "", "", false);
  EXPECT_EQ(s.For("https", "loki", 443), "") << "no HTTPS_PROXY: https goes direct";
  s = ProxySelector::FromValues("http://hp:1", "https://sp:2", "", true);
  EXPECT_EQ(s.For("http", "loki", 80), "") << "CGI: HTTP_PROXY is ignored";
  EXPECT_EQ(s.For("https", "loki", 443), "https://sp:2");
}

TEST(ProxySelectorTest, FromEnvironmentPrefersUpperCase) {
  setenv("HTTP_PROXY", "http://upper:1", 1);
  setenv("http_proxy", "http://lower:1", 1);
  setenv("https_proxy", "http://lower-s:1", 1);
  setenv("no_proxy", "skip.me", 1);
  unsetenv("HTTPS_PROXY");
  unsetenv("NO_PROXY");
  unsetenv("REQUEST_METHOD");
  ProxySelector s = ProxySelector::FromEnvironment();
  unsetenv("HTTP_PROXY");
  unsetenv("http_proxy");
  unsetenv("https_proxy");
  unsetenv("no_proxy");
  EXPECT_EQ(s.For("http", "loki", 80), "http://upper:1");
  EXPECT_EQ(s.For("https", "loki", 443), "http://lower-s:1");
  EXPECT_EQ(s.For("http", "skip.me", 80), "");
}

}  // namespace
}  // namespace sluice
