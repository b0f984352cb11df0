#include "lmbatch/batch/chunk.hpp"

#include <sys/mman.h>

#include <cstdint>

#include "lmbatch/batch/result_fields.hpp"

namespace lmbatch::batch {

void advise_huge_pages(void* p, std::size_t bytes) noexcept {
#ifdef MADV_HUGEPAGE
  constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
  const auto begin = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t first = (begin + kHuge - 1) & ~(kHuge - 1);
  const std::uintptr_t last = (begin + bytes) & ~(kHuge - 1);
  if (p && last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

void Chunk::reserve(int max_count, int m_, int n_, bool full) {
  m = m_;
  n = n_;
  full_output = full;
  const auto count = static_cast<std::size_t>(max_count);
  resize_buffer(y, count * static_cast<std::size_t>(m_));
  for_each_result_field(full, [&](const auto& field) {
    resize_buffer(this->*field.in_chunk, count * values_per_problem(field.extent, m_, n_));
  });
}

}  // namespace lmbatch::batch
