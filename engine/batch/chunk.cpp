#include "lmbatch/batch/chunk.hpp"

#include "lmbatch/batch/result_fields.hpp"

namespace lmbatch::batch {

void Chunk::reserve(int max_count, int m_, int n_, bool full) {
  m = m_;
  n = n_;
  full_output = full;
  const auto count = static_cast<std::size_t>(max_count);
  y.resize(count * static_cast<std::size_t>(m_));
  for_each_result_field(full, [&](const auto& field) {
    (this->*field.in_chunk).resize(count * values_per_problem(field.extent, m_, n_));
  });
}

}  // namespace lmbatch::batch
