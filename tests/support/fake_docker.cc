#include "tests/support/fake_docker.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <list>
#include <mutex>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "agent/common/json_quote.h"
#include "agent/common/strings.h"
#include "agent/common/timestamp.h"

namespace sluice::testing {
namespace {

struct LogLine {
  int64_t ts = 0;
  int stream = 1;
  std::string text;
};

std::string Q(std::string_view s) {
  std::string out;
  AppendJsonQuoted(s, &out);
  return out;
}

std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int v = 0;
      if (absl::SimpleHexAtoi(Av(s.substr(i + 1, 2)), &v)) {
        out.push_back(static_cast<char>(v));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

struct FakeDocker::Impl {
  mutable std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, FakeDockerContainer> containers;
  std::vector<std::string> order;  // container ids in creation order
  std::map<std::string, std::vector<LogLine>> logs;
  std::vector<FakeDockerNetwork> networks;
  std::map<std::string, int64_t> finished;  // id -> FinishedAt (ns)
  std::vector<std::string> requests;
  uint64_t drop_gen = 0;
  size_t split = 0;
  int open_streams = 0;
  bool stopping = false;
  int listen_fd = -1;
  std::string path;
  std::thread acceptor;
  std::list<std::thread> conns;

  void Accept() {
    while (true) {
      int fd = accept(listen_fd, nullptr, nullptr);
      if (fd < 0) {
        std::lock_guard<std::mutex> lock(mu);
        if (stopping) return;
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;
      }
      std::lock_guard<std::mutex> lock(mu);
      if (stopping) {
        close(fd);
        return;
      }
      conns.emplace_back([this, fd] {
        Serve(fd);
        close(fd);
      });
    }
  }

  void Reply(int fd, int status, const std::string& body) {
    std::string reason = status == 200 ? "OK" : status == 404 ? "Not Found" : "Bad Request";
    SendAll(fd, absl::StrCat("HTTP/1.1 ", status, " ", reason,
                             "\r\nContent-Type: application/json\r\nContent-Length: ", body.size(),
                             "\r\nConnection: close\r\n\r\n", body));
  }

  void Serve(int fd) {
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos && req.size() < 65536) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return;
      req.append(buf, static_cast<size_t>(n));
    }
    std::vector<std::string> first = absl::StrSplit(req.substr(0, req.find("\r\n")), ' ');
    if (first.size() < 2) return Reply(fd, 400, "{}");
    std::string target = first[1];
    {
      std::lock_guard<std::mutex> lock(mu);
      requests.push_back(absl::StrCat(first[0], " ", target));
    }
    std::string path = target.substr(0, target.find('?'));
    std::map<std::string, std::string> query;
    if (size_t q = target.find('?'); q != std::string::npos) {
      for (absl::string_view akv : absl::StrSplit(target.substr(q + 1), '&')) {
        std::string_view kv = Sv(akv);
        size_t eq = kv.find('=');
        query[Unescape(kv.substr(0, eq))] =
            eq == std::string_view::npos ? "" : Unescape(kv.substr(eq + 1));
      }
    }
    // An API version prefix.
    if (path.rfind("/v1.", 0) == 0) path = path.substr(path.find('/', 1));
    if (path == "/containers/json") return Reply(fd, 200, ListContainers(query["filters"]));
    if (path == "/networks") return Reply(fd, 200, ListNetworks());
    if (path.rfind("/containers/", 0) == 0) {
      std::string rest = path.substr(12);
      size_t slash = rest.find('/');
      std::string id = rest.substr(0, slash);
      std::string what = slash == std::string::npos ? "" : rest.substr(slash + 1);
      if (what == "json") return Inspect(fd, id);
      if (what == "logs") return Logs(fd, id, query);
    }
    Reply(fd, 404, "{\"message\":\"page not found\"}");
  }

  std::string ListContainers(const std::string& filters) {
    std::lock_guard<std::mutex> lock(mu);
    std::string out = "[";
    bool first = true;
    for (const std::string& id : order) {
      auto it = containers.find(id);
      if (it == containers.end() || !it->second.running) continue;  // `all` is not asked for
      const FakeDockerContainer& c = it->second;
      // Filters: {"label":{"k=v":true}} or {"name":{"x":true}}; a crude match is enough here.
      if (!filters.empty() && filters != "{}") {
        bool ok = true;
        size_t lp = filters.find("\"label\":{");
        if (lp != std::string::npos) {
          std::string want = filters.substr(lp + 10, filters.find('"', lp + 10) - lp - 10);
          size_t eq = want.find('=');
          auto l = c.labels.find(want.substr(0, eq));
          ok = l != c.labels.end() && (eq == std::string::npos || l->second == want.substr(eq + 1));
        }
        size_t np = filters.find("\"name\":{");
        if (np != std::string::npos) {
          std::string want = filters.substr(np + 9, filters.find('"', np + 9) - np - 9);
          ok = ok && c.name.find(want) != std::string::npos;
        }
        if (!ok) continue;
      }
      if (!first) out += ',';
      first = false;
      out += absl::StrCat("{\"Id\":", Q(c.id), ",\"Names\":[", Q(c.name),
                          "],\"Image\":", Q(c.image), ",\"Labels\":{");
      bool f2 = true;
      for (const auto& [k, v] : c.labels) {
        absl::StrAppend(&out, f2 ? "" : ",", Q(k), ":", Q(v));
        f2 = false;
      }
      absl::StrAppend(&out, "},\"State\":\"running\",\"Ports\":[");
      f2 = true;
      for (const FakeDockerPort& p : c.ports) {
        absl::StrAppend(&out, f2 ? "" : ",", "{\"PrivatePort\":", p.private_port,
                        ",\"Type\":", Q(p.type));
        if (p.public_port > 0) {
          absl::StrAppend(&out, ",\"PublicPort\":", p.public_port, ",\"IP\":", Q(p.ip));
        }
        out += '}';
        f2 = false;
      }
      absl::StrAppend(&out, "],\"HostConfig\":{\"NetworkMode\":", Q(c.network_mode),
                      "},\"NetworkSettings\":{\"Networks\":{");
      f2 = true;
      for (const auto& [name, ip] : c.networks) {
        std::string nid;
        for (const FakeDockerNetwork& n : networks) {
          if (n.name == name) nid = n.id;
        }
        absl::StrAppend(&out, f2 ? "" : ",", Q(name), ":{\"NetworkID\":", Q(nid),
                        ",\"IPAddress\":", Q(ip), "}");
        f2 = false;
      }
      out += "}}}";
    }
    out += ']';
    return out;
  }

  std::string ListNetworks() {
    std::lock_guard<std::mutex> lock(mu);
    std::string out = "[";
    for (size_t i = 0; i < networks.size(); ++i) {
      const FakeDockerNetwork& n = networks[i];
      absl::StrAppend(&out, i ? "," : "", "{\"Name\":", Q(n.name), ",\"Id\":", Q(n.id),
                      ",\"Scope\":", Q(n.scope),
                      ",\"Driver\":\"bridge\",\"Internal\":", n.internal ? "true" : "false",
                      ",\"Ingress\":false,\"Labels\":{");
      bool f = true;
      for (const auto& [k, v] : n.labels) {
        absl::StrAppend(&out, f ? "" : ",", Q(k), ":", Q(v));
        f = false;
      }
      out += "}}";
    }
    out += ']';
    return out;
  }

  void Inspect(int fd, const std::string& id) {
    std::string body;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = containers.find(id);
      if (it == containers.end()) {
        body = absl::StrCat("{\"message\":\"No such container: ", id, "\"}");
      } else {
        std::string fin = "0001-01-01T00:00:00Z";
        if (auto f = finished.find(id); f != finished.end()) {
          fin.clear();
          AppendRfc3339Nano(f->second, &fin);
        }
        body = absl::StrCat("{\"Id\":", Q(id), ",\"Name\":", Q(it->second.name),
                            ",\"Config\":{\"Tty\":", it->second.tty ? "true" : "false",
                            "},\"State\":{\"Running\":", it->second.running ? "true" : "false",
                            ",\"FinishedAt\":", Q(fin), "}}");
      }
    }
    Reply(fd, body.rfind("{\"message\"", 0) == 0 ? 404 : 200, body);
  }

  // One log line as the engine sends it (frames of at most 16 KiB of text, each stamped).
  static std::string Encode(const LogLine& l, bool tty) {
    std::string ts;
    AppendRfc3339Nano(l.ts, &ts);
    if (tty) return absl::StrCat(ts, " ", l.text, "\r\n");
    std::string out;
    std::string_view text = l.text;
    constexpr size_t kChunk = 16384;
    do {
      std::string_view part = text.substr(0, kChunk);
      text.remove_prefix(part.size());
      std::string msg = absl::StrCat(ts, " ", Av(part), text.empty() ? "\n" : "");
      uint32_t n = static_cast<uint32_t>(msg.size());
      char h[8] = {static_cast<char>(l.stream),
                   0,
                   0,
                   0,
                   static_cast<char>(n >> 24),
                   static_cast<char>(n >> 16),
                   static_cast<char>(n >> 8),
                   static_cast<char>(n)};
      out.append(h, 8);
      out += msg;
    } while (!text.empty());
    return out;
  }

  bool Chunk(int fd, std::string_view data, size_t split_bytes) {
    if (data.empty()) return true;
    std::string c = absl::StrCat(absl::Hex(data.size()), "\r\n", Av(data), "\r\n");
    if (split_bytes == 0) return SendAll(fd, c);
    for (size_t i = 0; i < c.size(); i += split_bytes) {
      if (!SendAll(fd, std::string_view(c).substr(i, split_bytes))) return false;
    }
    return true;
  }

  void Logs(int fd, const std::string& id, std::map<std::string, std::string>& q) {
    bool tty = false;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = containers.find(id);
      if (it == containers.end()) {
        mu.unlock();
        Reply(fd, 404, absl::StrCat("{\"message\":\"No such container: ", id, "\"}"));
        mu.lock();
        return;
      }
      tty = it->second.tty;
    }
    int64_t since = 0;
    if (!q["since"].empty()) {
      std::string s = q["since"];
      size_t dot = s.find('.');
      int64_t sec = 0, frac = 0;
      (void)absl::SimpleAtoi(s.substr(0, dot), &sec);
      if (dot != std::string::npos) {
        std::string f = s.substr(dot + 1);
        f.resize(9, '0');
        (void)absl::SimpleAtoi(f, &frac);
      }
      since = sec * 1000000000 + frac;
    }
    const bool follow = q["follow"] == "1" || q["follow"] == "true";
    const bool want_out = q["stdout"] == "1" || q["stdout"] == "true";
    const bool want_err = q["stderr"] == "1" || q["stderr"] == "true";
    const bool timestamps = q["timestamps"] == "1" || q["timestamps"] == "true";
    (void)timestamps;  // always stamped: the component asks for them
    if (!SendAll(fd, absl::StrCat("HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.",
                                  tty ? "raw-stream" : "multiplexed-stream",
                                  "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"))) {
      return;
    }
    std::unique_lock<std::mutex> lock(mu);
    ++open_streams;
    const uint64_t gen = drop_gen;
    size_t next = 0;
    bool cut = false;
    while (true) {
      std::vector<LogLine>& lines = logs[id];
      std::string out;
      for (; next < lines.size(); ++next) {
        const LogLine& l = lines[next];
        if (l.ts < since) continue;
        if ((l.stream == 1 && !want_out) || (l.stream == 2 && !want_err)) continue;
        out += Encode(l, tty);
      }
      size_t sp = split;
      auto it = containers.find(id);
      bool ended = it == containers.end() || !it->second.running || !follow;
      if (stopping || drop_gen != gen) {
        cut = true;
        break;
      }
      lock.unlock();
      bool ok = Chunk(fd, out, sp);
      lock.lock();
      if (!ok) {
        cut = true;
        break;
      }
      if (ended) break;
      cv.wait_for(lock, std::chrono::milliseconds(100));
      // The client went away?
      char b;
      if (recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
        cut = true;
        break;
      }
    }
    --open_streams;
    lock.unlock();
    if (cut) {
      shutdown(fd, SHUT_RDWR);
      return;
    }
    SendAll(fd, "0\r\n\r\n");
  }
};

FakeDocker::FakeDocker() : impl_(std::make_unique<Impl>()) {}
FakeDocker::~FakeDocker() { Stop(); }

absl::Status FakeDocker::Start(const std::string& socket_path) {
  Impl& m = *impl_;
  unlink(socket_path.c_str());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    close(fd);
    return absl::InvalidArgumentError("socket path too long");
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 64) != 0) {
    close(fd);
    return absl::InternalError(absl::StrCat("bind/listen ", socket_path, ": ", strerror(errno)));
  }
  m.listen_fd = fd;
  m.path = socket_path;
  m.acceptor = std::thread([&m] { m.Accept(); });
  return absl::OkStatus();
}

void FakeDocker::Stop() {
  Impl& m = *impl_;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    if (m.listen_fd < 0) return;
    m.stopping = true;
  }
  m.cv.notify_all();
  shutdown(m.listen_fd, SHUT_RDWR);
  if (m.acceptor.joinable()) m.acceptor.join();
  close(m.listen_fd);
  std::list<std::thread> conns;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    conns.swap(m.conns);
    m.listen_fd = -1;
  }
  for (std::thread& t : conns) t.join();
  unlink(m.path.c_str());
}

void FakeDocker::AddNetwork(FakeDockerNetwork n) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->networks.push_back(std::move(n));
}

void FakeDocker::AddContainer(FakeDockerContainer c) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->order.push_back(c.id);
  impl_->containers[c.id] = std::move(c);
}

void FakeDocker::RemoveContainer(const std::string& id) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->containers.erase(id);
  }
  impl_->cv.notify_all();
}

void FakeDocker::SetRunning(const std::string& id, bool running) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->containers.find(id);
    if (it == impl_->containers.end()) return;
    it->second.running = running;
    if (!running) impl_->finished[id] = absl::GetCurrentTimeNanos();
  }
  impl_->cv.notify_all();
}

void FakeDocker::AppendLog(const std::string& id, const std::string& text, int stream,
                           int64_t ts_ns) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    std::vector<LogLine>& lines = impl_->logs[id];
    if (ts_ns == 0) {
      ts_ns = absl::GetCurrentTimeNanos();
      if (!lines.empty()) ts_ns = std::max(ts_ns, lines.back().ts);
    }
    lines.push_back(LogLine{ts_ns, stream, text});
  }
  impl_->cv.notify_all();
}

void FakeDocker::DropStreams() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    ++impl_->drop_gen;
  }
  impl_->cv.notify_all();
}

void FakeDocker::SetWriteSplit(size_t bytes) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->split = bytes;
}

std::vector<std::string> FakeDocker::Requests() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->requests;
}

int FakeDocker::OpenStreams() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->open_streams;
}

}  // namespace sluice::testing
