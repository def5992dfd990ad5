// ReleaseFreeMemory gives back the free pages inside an arena, which glibc keeps otherwise;
// LimitMallocArenas keeps the arenas to two.
#include "agent/common/memory.h"

#include <gtest/gtest.h>
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
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

// The arenas glibc has made so far, from malloc_info's XML (one <heap> element each).
[[maybe_unused]] int Arenas() {
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  if (f == nullptr) return -1;
  malloc_info(0, f);
  std::fclose(f);
  std::string xml(buf, len);
  std::free(buf);
  int n = 0;
  for (size_t at = xml.find("<heap nr="); at != std::string::npos;
       at = xml.find("<heap nr=", at + 1)) {
    ++n;
  }
  return n;
}

TEST(MemoryTest, AtMostTwoArenasHoweverManyThreadsAllocate) {
#if defined(SLUICE_SANITIZER_BUILD) || !defined(__GLIBC__)
  GTEST_SKIP() << "the sanitizers' allocators replace glibc's";
#else
  if (std::getenv("MALLOC_ARENA_MAX") != nullptr) GTEST_SKIP() << "MALLOC_ARENA_MAX is set";
  LimitMallocArenas();
  // Eight threads alive at once, each allocating past its tcache: without the limit glibc gives
  // each its own arena.
  constexpr int kThreads = 8;
  std::atomic<int> started{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      std::vector<char*> blocks;
      for (int i = 0; i < 64; ++i) blocks.push_back(new char[8192]);
      started.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      for (char* b : blocks) delete[] b;
    });
  }
  while (started.load() < kThreads) std::this_thread::yield();
  const int arenas = Arenas();
  go.store(true);
  for (std::thread& t : threads) t.join();
  EXPECT_GE(arenas, 1);
  EXPECT_LE(arenas, 2);
#endif
}

}  // namespace
}  // namespace sluice
