// End-to-end tests of loki.source.syslog and loki.source.gelf: the real `sluice run` with
// syslog listeners (TCP octet counting, TCP newline framing, UDP, TCP with TLS and client
// certificates) and a GELF listener, fed by Python's socket/ssl modules, delivering to the
// in-process FakeLoki. Each message carries a unique id and must arrive exactly once with the
// labels Alloy gives it; malformed input is counted in /metrics; an idle connection is closed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "tests/support/fake_loki.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_certs.h"

namespace sluice {
namespace {

using ::sluice::testing::FakeLoki;
using ::sluice::testing::ReadFile;
using ::sluice::testing::Subprocess;
using ::sluice::testing::TempDir;
using ::sluice::testing::WriteFile;
using ::testing::HasSubstr;

class SyslogE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(loki_.Start().ok()); }
  void TearDown() override {
    if (agent_ && agent_->running()) {
      agent_->Signal(SIGKILL);
      agent_->Wait(absl::Seconds(10));
    }
    if (HasFailure()) {
      std::fprintf(stderr, "--- agent stderr ---\n%s\n", ReadFile(dir_.Join("agent.err")).c_str());
    }
    loki_.Stop();
  }

  // Starts the agent on `config` and waits for `listeners` log lines containing `needle`;
  // returns their ports in the order logged (a component's listeners in block order).
  std::vector<std::string> Run(const std::string& config, size_t listeners,
                               const std::string& needle = "syslog listening on address") {
    std::string path = dir_.Join("config.alloy");
    WriteFile(path, absl::StrReplaceAll(config, {{"LOKI_URL", loki_.push_url()}}));
    agent_ = std::make_unique<Subprocess>();
    EXPECT_TRUE(agent_->Start({SLUICE_BINARY, "run", path, "--storage.path", dir_.Join("state"),
                               "--server.http.listen-addr", "127.0.0.1:0"},
                              dir_.Join("agent.out"), dir_.Join("agent.err")));
    return Ports(needle, listeners);
  }

  // Ports from the agent's log lines containing `needle` (polled until `n` are there).
  std::vector<std::string> Ports(const std::string& needle, size_t n) {
    std::vector<std::string> ports;
    for (int i = 0; i < 400; ++i) {
      std::string err = ReadFile(dir_.Join("agent.err"));
      ports.clear();
      for (size_t at = err.find(needle); at != std::string::npos; at = err.find(needle, at + 1)) {
        size_t line_end = err.find('\n', at);
        size_t p = err.find(" port=", at);
        if (p == std::string::npos || p > line_end) continue;
        ports.push_back(err.substr(p + 6, err.find_first_of(" \n", p + 6) - p - 6));
      }
      size_t hp = err.find("http_port=");
      if (hp != std::string::npos) {
        http_port_ = err.substr(hp + 10, err.find_first_of(" \n", hp) - hp - 10);
      }
      if (ports.size() >= n && !http_port_.empty()) break;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return ports;
  }

  int Python(const std::string& script, std::vector<std::string> args, std::string* out) {
    std::string file = dir_.Join("client.py");
    WriteFile(file, script);
    std::vector<std::string> argv = {"/usr/bin/python3", file};
    argv.insert(argv.end(), args.begin(), args.end());
    Subprocess p;
    EXPECT_TRUE(p.Start(argv, dir_.Join("py.out"), dir_.Join("py.err")));
    int rc = p.Wait(absl::Seconds(60));
    *out = ReadFile(dir_.Join("py.out")) + ReadFile(dir_.Join("py.err"));
    return rc;
  }

  std::string Metrics() {
    std::string out;
    Python(
        "import sys, urllib.request\n"
        "sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:' + sys.argv[1] + "
        "'/metrics').read().decode())\n",
        {http_port_}, &out);
    return out;
  }

  // Polls /metrics until `needle` shows.
  bool WaitForMetric(const std::string& needle, std::string* last) {
    for (int i = 0; i < 200; ++i) {
      *last = Metrics();
      if (last->find(needle) != std::string::npos) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

  // Every entry whose line contains `id`, with its stream's labels.
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> Find(
      const std::string& id) {
    std::vector<std::pair<std::string, std::map<std::string, std::string>>> out;
    for (const auto& s : loki_.Streams()) {
      for (const auto& e : s.entries) {
        if (e.line.find(id) != std::string::npos) out.emplace_back(e.line, s.label_map);
      }
    }
    return out;
  }

  TempDir dir_;
  FakeLoki loki_;
  std::unique_ptr<Subprocess> agent_;
  std::string http_port_;
};

constexpr char kClient[] = R"PY(
import socket, ssl, sys, zlib, gzip, json, time
tcp, udp, tls, gelf, certdir = sys.argv[1:6]

def send_tcp(port, data, wrap=None):
    s = socket.create_connection(('127.0.0.1', int(port)), timeout=20)
    if wrap:
        s = wrap(s)
        s.sendall(data)
        try:
            s.unwrap()  # close_notify: the end of the stream; reads the session tickets too
        except (ssl.SSLError, OSError):
            pass
        s.close()
        return
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    while s.recv(4096):
        pass
    s.close()

def octet(m):
    b = m.encode()
    return str(len(b)).encode() + b' ' + b

sd = '[custom@32473 exkey="1"]'
# TCP, octet counting: three good messages, one frame whose message is malformed.
send_tcp(tcp, b''.join([
    octet('<165>1 2018-10-11T22:14:15.003Z host5 app1 - id1 ' + sd + ' tcp-octet-1'),
    octet('<165>1 2018-10-11T22:14:15.003Z host5 app1 - id1 ' + sd + ' tcp-octet-2'),
    octet('<13>1 bad-timestamp - - - - - broken-octet'),
    octet('<14>1 - host6 app2 77 - - tcp-octet-3'),
]))
# TCP, newline framing: three good lines, one garbage line.
send_tcp(tcp, ('<165>1 2018-10-11T22:14:15.003Z host5 app1 - id1 ' + sd + ' tcp-nl-1\n'
               'garbage line\n'
               '<165>1 - host5 app1 - - - tcp-nl-2\n'
               '<165>1 - host5 app1 - - - tcp-nl-3').encode())
# UDP: one message per datagram, one malformed.
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for m in ['<165>1 - host7 app3 - - - udp-1', '<165>1 - host7 app3 - - - udp-2', 'nonsense',
          '<165>1 - host7 app3 - - - udp-3']:
    u.sendto(m.encode(), ('127.0.0.1', int(udp)))
# TLS with a client certificate.
ctx = ssl.create_default_context(cafile=certdir + '/ca.pem')
ctx.load_cert_chain(certdir + '/client.pem', certdir + '/client.key')
send_tcp(tls, octet('<165>1 - host8 app4 - - - tls-1') + octet('<165>1 - host8 app4 - - - tls-2'),
         lambda s: ctx.wrap_socket(s, server_hostname='localhost'))
# GELF: plain, zlib, gzip, chunked, and one malformed.
def gmsg(i):
    return json.dumps({'version': '1.1', 'host': 'ghost', 'short_message': 'gelf-%d' % i,
                       'level': 3, 'timestamp': 1700000000.5, '_id': i}).encode()
g = ('127.0.0.1', int(gelf))
u.sendto(gmsg(1), g)
u.sendto(zlib.compress(gmsg(2)), g)
u.sendto(gzip.compress(gmsg(3)), g)
p = gzip.compress(gmsg(4))
parts = [p[i:i + 30] for i in range(0, len(p), 30)]
assert len(parts) > 1
for i, part in reversed(list(enumerate(parts))):
    u.sendto(b'\x1e\x0f' + b'MSGID004' + bytes([i, len(parts)]) + part, g)
u.sendto(b'{"short_message": broken', g)
print('sent')
)PY";

TEST_F(SyslogE2eTest, ListenersDeliverEachMessageOnceWithAlloysLabels) {
  testing::TestPki pki = testing::MakeTestPki();
  std::string certs = dir_.Join("certs");
  std::filesystem::create_directories(certs);
  WriteFile(certs + "/ca.pem", pki.ca_cert_pem);
  WriteFile(certs + "/server.pem", pki.server_cert_pem);
  WriteFile(certs + "/server.key", pki.server_key_pem);
  WriteFile(certs + "/client.pem", pki.client_cert_pem);
  WriteFile(certs + "/client.key", pki.client_key_pem);
  const std::string config = absl::StrCat(R"(
loki.relabel "syslog" {
  forward_to = []
  rule {
    source_labels = ["__syslog_message_hostname"]
    target_label  = "host"
  }
  rule {
    source_labels = ["__syslog_message_app_name"]
    target_label  = "app"
  }
  rule {
    source_labels = ["__syslog_message_severity"]
    target_label  = "severity"
  }
  rule {
    source_labels = ["__syslog_message_facility"]
    target_label  = "facility"
  }
  rule {
    source_labels = ["__syslog_message_proc_id"]
    target_label  = "proc_id"
  }
  rule {
    source_labels = ["__syslog_message_sd_custom_32473_exkey"]
    target_label  = "exkey"
  }
  rule {
    source_labels = ["__syslog_connection_ip_address"]
    target_label  = "ip"
  }
}

loki.source.syslog "in" {
  listener {
    address               = "127.0.0.1:0"
    labels                = { transport = "tcp" }
    label_structured_data = true
  }
  listener {
    address  = "127.0.0.1:0"
    protocol = "udp"
    labels   = { transport = "udp" }
  }
  listener {
    address = "127.0.0.1:0"
    labels  = { transport = "tls" }
    tls_config {
      cert_file = ")",
                                          certs, R"(/server.pem"
      key_file  = ")",
                                          certs, R"(/server.key"
      ca_file   = ")",
                                          certs, R"(/ca.pem"
    }
  }
  relabel_rules = loki.relabel.syslog.rules
  forward_to    = [loki.write.out.receiver]
}

loki.relabel "gelf" {
  forward_to = []
  rule {
    source_labels = ["__gelf_message_host"]
    target_label  = "gelf_host"
  }
  rule {
    source_labels = ["__gelf_message_level"]
    target_label  = "level"
  }
}

loki.source.gelf "in" {
  listen_address         = "127.0.0.1:0"
  relabel_rules          = loki.relabel.gelf.rules
  forward_to             = [loki.write.out.receiver]
}

loki.write "out" {
  endpoint {
    url        = "LOKI_URL"
    batch_wait = "100ms"
  }
}
)");
  std::vector<std::string> ports = Run(config, 3);
  ASSERT_EQ(ports.size(), 3u) << ReadFile(dir_.Join("agent.err"));
  std::vector<std::string> gelf = Ports("listening for GELF UDP messages", 1);
  ASSERT_EQ(gelf.size(), 1u) << ReadFile(dir_.Join("agent.err"));
  std::string out;
  ASSERT_EQ(Python(kClient, {ports[0], ports[1], ports[2], gelf[0], certs}, &out), 0) << out;
  ASSERT_TRUE(loki_.WaitForEntries(15, absl::Seconds(30))) << loki_.total_entries();

  using Labels = std::map<std::string, std::string>;
  auto expect_once = [&](const std::string& id, const std::string& line, const Labels& labels) {
    auto got = Find(id);
    ASSERT_EQ(got.size(), 1u) << id;
    EXPECT_EQ(got[0].first, line) << id;
    EXPECT_EQ(got[0].second, labels) << id;
  };
  const Labels tcp5 = {{"transport", "tcp"},   {"host", "host5"},      {"app", "app1"},
                       {"severity", "notice"}, {"facility", "local4"}, {"exkey", "1"},
                       {"ip", "127.0.0.1"}};
  expect_once("tcp-octet-1", "tcp-octet-1", tcp5);
  expect_once("tcp-octet-2", "tcp-octet-2", tcp5);
  expect_once("tcp-octet-3", "tcp-octet-3",
              {{"transport", "tcp"},
               {"host", "host6"},
               {"app", "app2"},
               {"proc_id", "77"},
               {"severity", "informational"},
               {"facility", "user"},
               {"ip", "127.0.0.1"}});
  expect_once("tcp-nl-1", "tcp-nl-1", tcp5);
  Labels tcp5_nosd = tcp5;
  tcp5_nosd.erase("exkey");
  expect_once("tcp-nl-2", "tcp-nl-2", tcp5_nosd);
  expect_once("tcp-nl-3", "tcp-nl-3", tcp5_nosd);
  const Labels udp = {{"transport", "udp"},   {"host", "host7"},      {"app", "app3"},
                      {"severity", "notice"}, {"facility", "local4"}, {"ip", "127.0.0.1"}};
  for (const char* id : {"udp-1", "udp-2", "udp-3"}) expect_once(id, id, udp);
  const Labels tls = {{"transport", "tls"},   {"host", "host8"},      {"app", "app4"},
                      {"severity", "notice"}, {"facility", "local4"}, {"ip", "127.0.0.1"}};
  for (const char* id : {"tls-1", "tls-2"}) expect_once(id, id, tls);
  for (int i = 1; i <= 4; ++i) {
    auto got = Find(absl::StrCat("\"gelf-", i, "\""));
    ASSERT_EQ(got.size(), 1u) << i;
    EXPECT_EQ(got[0].first,
              absl::StrCat(R"({"version":"1.1","host":"ghost","short_message":"gelf-)", i,
                           R"(","timestamp":1700000000.5,"level":3,"_id":)", i, "}"));
    EXPECT_EQ(got[0].second, (Labels{{"gelf_host", "ghost"}, {"level", "error"}}));
  }
  EXPECT_EQ(loki_.total_entries(), 15u);

  std::string metrics;
  const std::string syslog_labels = R"({component_id="loki.source.syslog.in",component_path="/"})";
  const std::string gelf_labels = R"({component_id="loki.source.gelf.in",component_path="/"})";
  EXPECT_TRUE(WaitForMetric("loki_source_syslog_entries_total" + syslog_labels + " 11", &metrics))
      << metrics;
  EXPECT_THAT(metrics, HasSubstr("loki_source_syslog_parsing_errors_total" + syslog_labels + " 3"));
  EXPECT_THAT(metrics, HasSubstr("loki_source_gelf_target_entries_total" + gelf_labels + " 4"));
  EXPECT_THAT(metrics,
              HasSubstr("loki_source_gelf_target_parsing_errors_total" + gelf_labels + " 1"));
  agent_->Signal(SIGTERM);
  EXPECT_EQ(agent_->Wait(absl::Seconds(30)), 0);
}

TEST_F(SyslogE2eTest, IdleConnectionIsClosed) {
  std::vector<std::string> ports = Run(R"(
loki.source.syslog "in" {
  listener {
    address      = "127.0.0.1:0"
    idle_timeout = "1s"
    labels       = { job = "idle" }
  }
  forward_to = [loki.write.out.receiver]
}

loki.write "out" {
  endpoint {
    url        = "LOKI_URL"
    batch_wait = "100ms"
  }
}
)",
                                       1);
  ASSERT_EQ(ports.size(), 1u);
  std::string out;
  // Sends one message, keeps the connection open without data, and reports when the agent
  // closed it (recv returns b'').
  ASSERT_EQ(Python(R"PY(
import socket, sys, time
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=30)
s.sendall(b'<13>1 - - - - - - idle-message-1\n')
start = time.time()
print('closed' if s.recv(1) == b'' else 'data')
)PY",
                   {ports[0]}, &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("closed"));
  ASSERT_TRUE(loki_.WaitForEntries(1, absl::Seconds(30)));
  auto got = Find("idle-message-1");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].second, (std::map<std::string, std::string>{{"job", "idle"}}));
  std::string metrics;
  EXPECT_TRUE(WaitForMetric(
      R"(sluice_source_syslog_idle_closed_total{component_id="loki.source.syslog.in",component_path="/"} 1)",
      &metrics))
      << metrics;
  agent_->Signal(SIGTERM);
  EXPECT_EQ(agent_->Wait(absl::Seconds(30)), 0);
}

// Configuration errors are Alloy's texts at the attribute's position.
TEST_F(SyslogE2eTest, ValidateReportsAlloysErrors) {
  struct Case {
    std::string body, error;
  };
  const std::vector<Case> cases = {
      {"    protocol = \"sctp\"\n",
       "cfg.alloy:4:16: syslog listener protocol should be either 'tcp' or 'udp', got sctp"},
      {"    syslog_format = \"raw\"\n",
       "cfg.alloy:4:21: \"raw\" syslog format is available only at experimental stability level"},
      {"    syslog_format = \"bsd\"\n", "cfg.alloy:4:21: unknown syslog format: bsd"},
      {"    syslog_format = \"rfc3164\"\n    rfc5424_allow_empty_msg = true\n",
       "\"rfc5424_allow_empty_msg\" has no effect when syslog format is set to \"rfc3164\""},
  };
  for (const Case& c : cases) {
    std::string cfg = dir_.Join("cfg.alloy");
    WriteFile(cfg, "loki.echo \"out\" {}\nloki.source.syslog \"s\" {\n  listener {\n" + c.body +
                       "    address = \"127.0.0.1:0\"\n  }\n  forward_to = "
                       "[loki.echo.out.receiver]\n}\n");
    Subprocess p;
    ASSERT_TRUE(p.Start({SLUICE_BINARY, "validate", cfg}, dir_.Join("v.out"), dir_.Join("v.err")));
    EXPECT_EQ(p.Wait(absl::Seconds(30)), 1) << c.body;
    EXPECT_THAT(ReadFile(dir_.Join("v.err")), HasSubstr(c.error)) << c.body;
  }
}

// While the pipeline holds the memory budget (Loki does not answer), UDP datagrams are dropped
// and counted; TCP is not read, and what was sent arrives once Loki answers again.
TEST_F(SyslogE2eTest, BackpressureDropsUdpAndHoldsTcp) {
  loki_.StallNext(1);
  std::string path = dir_.Join("config.alloy");
  WriteFile(path, absl::StrReplaceAll(R"(
loki.source.syslog "in" {
  listener {
    address = "127.0.0.1:0"
    labels  = { job = "bp" }
  }
  listener {
    address  = "127.0.0.1:0"
    protocol = "udp"
    labels   = { job = "bp" }
  }
  forward_to = [loki.write.out.receiver]
}

loki.write "out" {
  endpoint {
    url                = "LOKI_URL"
    batch_wait         = "50ms"
    min_backoff_period = "50ms"
  }
}
)",
                                      {{"LOKI_URL", loki_.push_url()}}));
  agent_ = std::make_unique<Subprocess>();
  ASSERT_TRUE(agent_->Start({SLUICE_BINARY, "run", path, "--storage.path", dir_.Join("state"),
                             "--server.http.listen-addr", "127.0.0.1:0", "--memory-budget", "4KiB"},
                            dir_.Join("agent.out"), dir_.Join("agent.err")));
  std::vector<std::string> ports = Ports("syslog listening on address", 2);
  ASSERT_EQ(ports.size(), 2u);
  std::string out;
  // One big TCP message fills the budget (its push is stalled); then UDP is dropped.
  ASSERT_EQ(Python(R"PY(
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=30)
s.sendall(b'<13>1 - - - - - - big-' + b'x' * 5000 + b'\n')
s.close()
)PY",
                   {ports[0]}, &out),
            0)
      << out;
  ASSERT_TRUE(loki_.WaitForStalled(1, absl::Seconds(30)));
  ASSERT_EQ(Python(R"PY(
import socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(5):
    u.sendto(b'<13>1 - - - - - - udp-dropped', ('127.0.0.1', int(sys.argv[1])))
)PY",
                   {ports[1]}, &out),
            0)
      << out;
  std::string metrics;
  EXPECT_TRUE(WaitForMetric(
      R"(sluice_source_syslog_udp_dropped_total{component_id="loki.source.syslog.in",component_path="/"} 5)",
      &metrics))
      << metrics;
  loki_.ReleaseStall();
  ASSERT_TRUE(loki_.WaitForEntries(1, absl::Seconds(30)));
  EXPECT_EQ(Find("big-").size(), 1u);
  EXPECT_TRUE(Find("udp-dropped").empty());
  agent_->Signal(SIGTERM);
  EXPECT_EQ(agent_->Wait(absl::Seconds(30)), 0);
}

}  // namespace
}  // namespace sluice
