#include "agent/common/memory.h"

#include <malloc.h>

namespace sluice {

void ReleaseFreeMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace sluice
