// floor: the least CPU any agent could spend shipping a set of log files, for bench/run.
//
//   floor [--chunk BYTES] PATH...
//
// Reads every regular file under each PATH (recursively) in --chunk pieces (default 1 MiB, the
// agent's batch size), finds every line with memchr and snappy block-compresses each piece: the
// three things an agent cannot avoid (read, split into lines, compress for the wire). No parsing,
// no labels, no protobuf, no HTTP. Prints one JSON object with the CPU seconds it took (user +
// sys, getrusage), so bench/run can report an agent's CPU as a multiple of this floor.
//
// Single-threaded, like the cheapest possible agent on one core.
#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <snappy.h>

#include "absl/strings/str_cat.h"
#include "agent/common/units.h"

namespace {

[[noreturn]] void Die(std::string_view message) {
  std::fprintf(stderr, "floor: %.*s\n", static_cast<int>(message.size()), message.data());
  std::exit(1);
}

double Seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

int64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

int main(int argc, char** argv) {
  size_t chunk = 1 << 20;
  std::vector<std::string> roots;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--chunk") {
      if (i + 1 >= argc) Die("--chunk needs a value");
      absl::StatusOr<uint64_t> v = sluice::ParseByteSize(argv[++i]);
      if (!v.ok() || *v == 0) Die("--chunk: want a byte size");
      chunk = static_cast<size_t>(*v);
    } else {
      roots.emplace_back(arg);
    }
  }
  if (roots.empty()) Die("usage: floor [--chunk BYTES] PATH...");

  std::vector<std::string> files;
  for (const std::string& root : roots) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(root, ec)) {
      files.push_back(root);
      continue;
    }
    for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file()) files.push_back(it->path().string());
    }
    if (ec) Die(absl::StrCat(root, ": ", ec.message()));
  }
  std::sort(files.begin(), files.end());

  const int64_t start = MonotonicNanos();
  std::vector<char> in(chunk);
  std::vector<char> out(snappy::MaxCompressedLength(chunk));
  uint64_t bytes = 0, lines = 0, compressed = 0;
  for (const std::string& path : files) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) Die(absl::StrCat("open ", path, ": ", strerror(errno)));
    for (;;) {
      const ssize_t n = read(fd, in.data(), in.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        Die(absl::StrCat("read ", path, ": ", strerror(errno)));
      }
      if (n == 0) break;
      const char* p = in.data();
      const char* end = p + n;
      while (const void* nl = std::memchr(p, '\n', static_cast<size_t>(end - p))) {
        ++lines;
        p = static_cast<const char*>(nl) + 1;
      }
      size_t out_len = 0;
      snappy::RawCompress(in.data(), static_cast<size_t>(n), out.data(), &out_len);
      compressed += out_len;
      bytes += static_cast<uint64_t>(n);
    }
    close(fd);
  }
  const double wall = static_cast<double>(MonotonicNanos() - start) / 1e9;
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  const double user = Seconds(ru.ru_utime), sys = Seconds(ru.ru_stime);
  std::printf("%s\n", absl::StrCat("{\"files\":", files.size(), ",\"bytes\":", bytes,
                                   ",\"lines\":", lines, ",\"compressed_bytes\":", compressed,
                                   ",\"user_seconds\":", user, ",\"sys_seconds\":", sys,
                                   ",\"cpu_seconds\":", user + sys, ",\"wall_seconds\":", wall, "}")
                          .c_str());
  return 0;
}
