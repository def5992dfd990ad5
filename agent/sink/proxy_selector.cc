#include "agent/sink/proxy_selector.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "agent/common/strings.h"

namespace sluice {
namespace {

std::string EnvAny(const char* upper, const char* lower) {
  const char* v = std::getenv(upper);
  if (v != nullptr && *v != '\0') return v;
  v = std::getenv(lower);
  return v != nullptr ? v : "";
}

// Go retries a proxy value that does not parse as a URL with a known scheme as "http://" + it.
std::string NormalizeProxy(std::string p) {
  if (p.empty()) return p;
  std::string lower = absl::AsciiStrToLower(p);
  for (std::string_view scheme : {"http://", "https://", "socks5://", "socks5h://"}) {
    if (absl::StartsWith(lower, Av(scheme))) return p;
  }
  return "http://" + p;
}

// net.SplitHostPort for no_proxy entries: "host:port" or "[v6]:port"; false when there is no
// port part.
bool SplitHostPort(std::string_view s, std::string_view* host, std::string_view* port) {
  if (!s.empty() && s[0] == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return false;
    }
    *host = s.substr(1, close - 1);
    *port = s.substr(close + 2);
    return true;
  }
  size_t colon = s.find(':');
  if (colon == std::string_view::npos || s.find(':', colon + 1) != std::string_view::npos) {
    return false;  // none, or a bare IPv6 address
  }
  *host = s.substr(0, colon);
  *port = s.substr(colon + 1);
  return true;
}

// 127.0.0.0/8 and ::1.
bool IsLoopback(bool v4, const uint8_t* b) {
  if (v4) return b[0] == 127;
  for (int i = 0; i < 15; ++i) {
    if (b[i] != 0) return false;
  }
  return b[15] == 1;
}

}  // namespace

bool ProxySelector::ParseIp(std::string_view s, Ip* out) {
  std::string text(s);
  uint8_t buf[16];
  if (inet_pton(AF_INET, text.c_str(), buf) == 1) {
    out->v4 = true;
    out->bytes = {};
    std::copy(buf, buf + 4, out->bytes.begin());
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    // A v4-mapped address is the v4 address, as Go's To4 says.
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(kMapped, kMapped + 12, buf)) {
      out->v4 = true;
      out->bytes = {};
      std::copy(buf + 12, buf + 16, out->bytes.begin());
      return true;
    }
    out->v4 = false;
    std::copy(buf, buf + 16, out->bytes.begin());
    return true;
  }
  return false;
}

void ProxySelector::ParseNoProxy(std::string_view no_proxy) {
  rules_ = true;
  for (absl::string_view piece : absl::StrSplit(Av(no_proxy), ',')) {
    std::string p = absl::AsciiStrToLower(absl::StripAsciiWhitespace(piece));
    if (p.empty()) continue;
    if (p == "*") {
      bypass_all_ = true;
      return;
    }
    size_t slash = p.find('/');
    if (slash != std::string::npos) {
      Ip ip;
      int bits = 0;
      std::string_view len = std::string_view(p).substr(slash + 1);
      bool digits =
          !len.empty() && len.size() <= 3 &&
          std::all_of(len.begin(), len.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (digits) bits = std::atoi(std::string(len).c_str());
      if (digits && ParseIp(std::string_view(p).substr(0, slash), &ip) &&
          bits <= (ip.v4 ? 32 : 128)) {
        ip_rules_.push_back({ip, bits, ""});
        continue;
      }
    }
    std::string_view host = p;
    std::string_view port;
    std::string_view h, pt;
    if (SplitHostPort(p, &h, &pt)) {
      if (h.empty()) continue;  // ":80": malformed, ignored as Go ignores it
      host = h;
      port = pt;
    } else if (p.size() > 2 && p.front() == '[' && p.back() == ']') {
      host = std::string_view(p).substr(1, p.size() - 2);
    }
    Ip ip;
    if (ParseIp(host, &ip)) {
      ip_rules_.push_back({ip, -1, std::string(port)});
      continue;
    }
    if (host.empty()) continue;
    std::string suffix(host);
    if (absl::StartsWith(suffix, "*.")) suffix = suffix.substr(1);
    bool match_host = false;
    if (suffix[0] != '.') {
      match_host = true;
      suffix = "." + suffix;
    }
    domain_rules_.push_back({suffix, match_host, std::string(port)});
  }
}

ProxySelector ProxySelector::Fixed(std::string proxy_url, std::string_view no_proxy) {
  ProxySelector s;
  s.http_proxy_ = NormalizeProxy(proxy_url);
  s.https_proxy_ = s.http_proxy_;
  if (!no_proxy.empty()) s.ParseNoProxy(no_proxy);
  return s;
}

ProxySelector ProxySelector::FromValues(std::string http_proxy, std::string https_proxy,
                                        std::string_view no_proxy, bool cgi) {
  ProxySelector s;
  s.http_proxy_ = cgi ? "" : NormalizeProxy(std::move(http_proxy));
  s.https_proxy_ = NormalizeProxy(std::move(https_proxy));
  s.ParseNoProxy(no_proxy);
  return s;
}

ProxySelector ProxySelector::FromEnvironment() {
  const char* cgi = std::getenv("REQUEST_METHOD");
  return FromValues(EnvAny("HTTP_PROXY", "http_proxy"), EnvAny("HTTPS_PROXY", "https_proxy"),
                    EnvAny("NO_PROXY", "no_proxy"), cgi != nullptr && *cgi != '\0');
}

bool ProxySelector::UseProxy(std::string_view host_in, int port_num) const {
  if (!rules_) return true;
  std::string host = absl::AsciiStrToLower(Av(host_in));
  if (host == "localhost") return false;
  Ip ip;
  const bool is_ip = ParseIp(host, &ip);
  if (is_ip && IsLoopback(ip.v4, ip.bytes.data())) return false;
  if (bypass_all_) return false;
  const std::string port = std::to_string(port_num);
  if (is_ip) {
    for (const IpRule& r : ip_rules_) {
      if (r.ip.v4 != ip.v4) continue;
      if (r.prefix < 0) {
        if (r.ip == ip && (r.port.empty() || r.port == port)) return false;
        continue;
      }
      bool inside = true;
      for (int bit = 0; bit < r.prefix && inside; ++bit) {
        const uint8_t mask = static_cast<uint8_t>(0x80 >> (bit % 8));
        inside = (r.ip.bytes[bit / 8] & mask) == (ip.bytes[bit / 8] & mask);
      }
      if (inside) return false;
    }
    return true;  // domain rules never match an IP host
  }
  for (const DomainRule& r : domain_rules_) {
    if (absl::EndsWith(host, r.suffix) || (r.match_host && host == r.suffix.substr(1))) {
      if (r.port.empty() || r.port == port) return false;
    }
  }
  return true;
}

std::string ProxySelector::For(std::string_view scheme, std::string_view host, int port) const {
  std::string lower = absl::AsciiStrToLower(Av(scheme));
  const std::string& proxy = lower == "https" ? https_proxy_ : http_proxy_;
  if (proxy.empty()) return "";
  return UseProxy(host, port) ? proxy : "";
}

}  // namespace sluice
