// ReleaseFreeMemory gives back the free pages inside an arena, which glibc keeps otherwise.
#include "agent/common/memory.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

namespace sluice {
namespace {

// Resident pages of this process, from /proc/self/statm.
[[maybe_unused]] long ResidentPages() {
  long size = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return -1;
  if (std::fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
  std::fclose(f);
  return resident;
}

TEST(MemoryTest, FreedPagesInsideAnArenaGoBack) {
#if defined(SLUICE_SANITIZER_BUILD) || !defined(__GLIBC__)
  GTEST_SKIP() << "the sanitizers' allocators replace glibc's";
#else
  const long page = sysconf(_SC_PAGESIZE);
  constexpr size_t kChunk = 16 * 1024;
  constexpr size_t kChunks = 4096;  // 64 MiB
  long before_release = 0;
  // On a thread of its own, as the pod discovery's: its own arena. Every eighth chunk stays
  // allocated, so the arena cannot shrink from its top: only a trim of the pages inside frees
  // anything.
  std::vector<char*> kept;
  std::thread t([&] {
    std::vector<char*> chunks;
    for (size_t i = 0; i < kChunks; ++i) {
      char* c = new char[kChunk];
      std::memset(c, 1, kChunk);
      chunks.push_back(c);
    }
    for (size_t i = 0; i < kChunks; ++i) {
      if (i % 8 == 0) {
        kept.push_back(chunks[i]);
      } else {
        delete[] chunks[i];
      }
    }
    before_release = ResidentPages();
  });
  t.join();
  ASSERT_GT(before_release, 0);
  ReleaseFreeMemory();
  const long after = ResidentPages();
  const long freed_pages = static_cast<long>(kChunks / 8 * 7 * kChunk) / page;
  // Most of the 56 MiB freed (whole pages inside the free runs) are no longer resident.
  EXPECT_LT(after, before_release - freed_pages / 2)
      << "before " << before_release << " pages, after " << after;
  for (char* c : kept) delete[] c;
#endif
}

}  // namespace
}  // namespace sluice
