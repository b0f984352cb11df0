// Splitting a flat range of problems into hyperslabs.
//
// Problems are numbered row-major over the leading dimensions of y. A range
// [first, first + count) of that numbering is in general not one rectangular
// block of the leading shape: for (H, W) it is the tail of one row, some
// whole rows, and the head of another. It is always a union of at most
// 2 * rank - 1 blocks, each contiguous in the flat numbering and listed in
// order, so a contiguous memory buffer of count problems maps onto the blocks
// one after another. Reading and writing use the same decomposition.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace lmbatch::io {

struct Block {
  std::vector<unsigned long long> start;  // one entry per leading dimension
  std::vector<unsigned long long> count;
  std::size_t offset = 0;  // index of the block's first problem within the range
  std::size_t size = 0;    // problems in the block (product of count)
};

// The blocks covering [first, first + count) of a leading shape, in flat
// order. An empty leading shape (one problem) gives one block with empty
// start/count when the range is [0, 1). Appends to `out` after clearing it,
// so a caller can reuse its capacity. Precondition: the range lies inside
// the shape (checked by the callers, which know the file names for errors).
void flat_range_blocks(const std::vector<unsigned long long>& shape, std::size_t first,
                       std::size_t count, std::vector<Block>& out);

// Multi-index text of a flat problem index, e.g. "12, 34" for 1234 in (100, 100).
std::string index_text(const std::vector<unsigned long long>& shape, std::size_t flat);

}  // namespace lmbatch::io
