#include "lmbatch/io/hyperslab.hpp"

#include <string>
#include <utility>
#include <vector>

namespace lmbatch::io {

namespace {

// Recursive step: covers [a, b) of the flat numbering of shape[d..], with the
// outer indices fixed in `prefix`. `base` is the flat index of the first
// element of this sub-array, `first` the range's start (for Block::offset).
void blocks_rec(const std::vector<unsigned long long>& shape, std::size_t d,
                std::vector<unsigned long long>& prefix, unsigned long long a, unsigned long long b,
                unsigned long long base, std::size_t first, std::vector<Block>& out) {
  const std::size_t rank = shape.size();
  unsigned long long inner = 1;  // elements per index of dimension d
  for (std::size_t k = d + 1; k < rank; ++k) inner *= shape[k];

  auto emit = [&](unsigned long long i0, unsigned long long n0) {
    // Rows i0 .. i0+n0-1 of dimension d, every inner dimension whole.
    Block blk;
    blk.start = prefix;
    blk.count.assign(prefix.size(), 1);
    blk.start.push_back(i0);
    blk.count.push_back(n0);
    for (std::size_t k = d + 1; k < rank; ++k) {
      blk.start.push_back(0);
      blk.count.push_back(shape[k]);
    }
    blk.offset = static_cast<std::size_t>(base + i0 * inner - first);
    blk.size = static_cast<std::size_t>(n0 * inner);
    out.push_back(std::move(blk));
  };
  auto partial = [&](unsigned long long row, unsigned long long lo, unsigned long long hi) {
    // Part [lo, hi) of one row (lo, hi relative to the row's start).
    prefix.push_back(row);
    blocks_rec(shape, d + 1, prefix, lo, hi, base + row * inner, first, out);
    prefix.pop_back();
  };

  if (a >= b) return;
  if (inner == 1 || d + 1 == rank) {  // innermost dimension: one block
    emit(a, b - a);
    return;
  }
  const unsigned long long row_a = a / inner, row_b = b / inner;
  if (row_a == row_b) {  // inside a single row
    partial(row_a, a % inner, b % inner);
    return;
  }
  unsigned long long full_first = row_a;
  if (a % inner != 0) {  // head: the tail end of row_a
    partial(row_a, a % inner, inner);
    full_first = row_a + 1;
  }
  if (row_b > full_first) emit(full_first, row_b - full_first);
  if (b % inner != 0) partial(row_b, 0, b % inner);  // tail: the start of row_b
}

}  // namespace

void flat_range_blocks(const std::vector<unsigned long long>& shape, std::size_t first,
                       std::size_t count, std::vector<Block>& out) {
  out.clear();
  if (count == 0) return;
  if (shape.empty()) {  // one problem, no leading dimensions
    Block blk;
    blk.size = 1;
    out.push_back(std::move(blk));
    return;
  }
  std::vector<unsigned long long> prefix;
  prefix.reserve(shape.size());
  blocks_rec(shape, 0, prefix, first, first + count, 0, first, out);
}

std::string index_text(const std::vector<unsigned long long>& shape, std::size_t flat) {
  std::vector<unsigned long long> idx(shape.size());
  unsigned long long rest = flat;
  for (std::size_t k = shape.size(); k-- > 0;) {
    const unsigned long long d = shape[k] == 0 ? 1 : shape[k];
    idx[k] = rest % d;
    rest /= d;
  }
  std::string s;
  for (std::size_t k = 0; k < idx.size(); ++k) {
    if (k) s += ", ";
    s += std::to_string(idx[k]);
  }
  return s;
}

}  // namespace lmbatch::io
