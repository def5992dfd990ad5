// Giving back to the system the memory a large, short-lived working set freed.
//
// glibc keeps freed memory in the arena of the thread that allocated it: a thread that parses a
// pod list of a few MiB now and then (simdjson's tape and string buffers, the decoded pods)
// keeps those pages resident between polls, and no other thread's allocations reuse them.
// malloc_trim(0) returns every free page of every arena (madvise, not only the arena's top).
// Called after such a working set is freed, not on a data path: it locks each arena in turn.
// Any thread; a no-op where the allocator is not glibc's (sanitizers bring their own).
#pragma once

#include <cstddef>

namespace sluice {

// Returns the free pages of the allocator's arenas to the system.
void ReleaseFreeMemory();

// At most two malloc arenas (glibc's M_ARENA_MAX), unless MALLOC_ARENA_MAX says otherwise. glibc
// gives each thread that meets a locked arena a new one, up to 8 per core, and each keeps its
// own free memory: with a dozen threads that allocate a little each, the agent held ~1.2 MiB
// more at its peak (1000 files: 30.7-30.9 MiB against 32.0-32.1; W1 20.0-20.7 against
// 20.7-21.8). Its allocations are few on the data path (per batch, not per line; small ones
// come from each thread's tcache, without the arena's lock): six alternating W1 runs gave the
// same lines per CPU-second on average (947k against 946k). Called first thing in main, before
// any thread starts.
void LimitMallocArenas();

}  // namespace sluice
