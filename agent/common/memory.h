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

}  // namespace sluice
