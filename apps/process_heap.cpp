#include "process_heap.hpp"

#include <cstdint>
#include <cstdlib>

#if defined(__GLIBC__)
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace lmbatch::app {

// Why. `lmbatch fit` allocates its big buffers once (the pipeline's chunks,
// HDF5's metadata caches, the threads' scratch) and then refills them. With
// glibc's defaults every block over 128 KiB is a fresh mmap, and every 4 KiB
// page of it costs a page fault on first touch: about 1900 faults in a
// 20000-problem fit of bench workload 1, 6 us each on the bench's VM, a tenth
// of the process's CPU. Here: blocks up to 32 MiB (glibc's ceiling for
// M_MMAP_THRESHOLD) come from the heap; the heap grows in steps of 32 MiB and
// keeps what it has; and the step it takes now asks for transparent huge
// pages (a fault per 2 MiB), as glibc's own glibc.malloc.hugetlb=1 does.
// Measured: bench/README.md, issue #19.
//
// Only the main thread's arena is set up so; other threads' arenas keep
// glibc's defaults (they hold per-thread scratch, sized once). Results do not
// depend on where memory lies.
void tune_process_heap() noexcept {
#if defined(__GLIBC__)
  // The user's own GLIBC_TUNABLES win: they may have chosen otherwise.
  if (std::getenv("GLIBC_TUNABLES") != nullptr) return;
  constexpr std::size_t kMiB = std::size_t{1} << 20;
  if (mallopt(M_MMAP_THRESHOLD, static_cast<int>(32 * kMiB)) != 1 ||
      mallopt(M_TRIM_THRESHOLD, static_cast<int>(256 * kMiB)) != 1 ||
      mallopt(M_TOP_PAD, static_cast<int>(32 * kMiB)) != 1)
    return;
  // A block bigger than the heap's free top, so that the heap grows by
  // M_TOP_PAD now; volatile, or the compiler drops the malloc/free pair.
  constexpr std::size_t kProbe = 4 * kMiB;
  char* const brk_before = static_cast<char*>(sbrk(0));
  char* volatile probe = static_cast<char*>(std::malloc(kProbe));
  char* const top = probe;  // where the heap's free top begins
  std::free(probe);
  char* const brk_after = static_cast<char*>(sbrk(0));
  // Where malloc is not glibc's (a sanitizer's, a preloaded one) or the heap
  // did not grow by brk, the block is not in the heap: no huge pages then.
  if (top == nullptr || brk_after <= brk_before || top >= brk_after) return;
#ifdef MADV_HUGEPAGE
  // A huge page needs a whole aligned 2 MiB of the heap, none of whose pages
  // was touched before the advice. malloc touched the heap at `top` and just
  // past the probe (the header of what was left). So the heap up to the first
  // 2 MiB boundary above that is held by a block that is never touched
  // (address space, no memory), and what comes next is carved from huge pages.
  constexpr std::uintptr_t kHuge = 2 * kMiB;
  constexpr std::uintptr_t kHeader = 64;  // malloc's own bookkeeping, and more
  const auto begin = reinterpret_cast<std::uintptr_t>(top);
  const auto first = (begin + kProbe + kHeader + kHuge - 1) & ~(kHuge - 1);
  const auto last = reinterpret_cast<std::uintptr_t>(sbrk(0)) & ~(kHuge - 1);
  if (last <= first + kHuge) return;
  ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
  [[maybe_unused]] void* volatile below_first = std::malloc(first - begin - kHeader);
#endif
#endif
}

}  // namespace lmbatch::app
