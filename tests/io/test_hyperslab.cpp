// flat_range_blocks: every flat range of a leading shape is covered exactly
// once, in order, by at most 2 * rank - 1 blocks.
#include <catch2/catch.hpp>

#include <numeric>
#include <vector>

#include "lmbatch/io/hyperslab.hpp"

using lmbatch::io::Block;
using lmbatch::io::flat_range_blocks;
using Shape = std::vector<unsigned long long>;

namespace {

// The flat indices a block covers, in row-major order.
std::vector<std::size_t> flat_indices(const Shape& shape, const Block& b) {
  std::vector<std::size_t> out;
  std::vector<unsigned long long> idx(b.start);
  const std::size_t rank = shape.size();
  for (std::size_t i = 0; i < b.size; ++i) {
    std::size_t flat = 0;
    for (std::size_t k = 0; k < rank; ++k) flat = flat * shape[k] + idx[k];
    out.push_back(flat);
    for (std::size_t k = rank; k-- > 0;) {  // next index inside the block
      if (++idx[k] < b.start[k] + b.count[k]) break;
      idx[k] = b.start[k];
    }
  }
  return out;
}

void check_range(const Shape& shape, std::size_t first, std::size_t count) {
  std::vector<Block> blocks;
  flat_range_blocks(shape, first, count, blocks);
  std::vector<std::size_t> covered;
  std::size_t offset = 0;
  for (const Block& b : blocks) {
    REQUIRE(b.start.size() == shape.size());
    REQUIRE(b.count.size() == shape.size());
    REQUIRE(b.offset == offset);  // blocks are contiguous in the range, in order
    std::size_t prod = 1;
    for (auto c : b.count) prod *= c;
    REQUIRE(prod == b.size);
    for (std::size_t k = 0; k < shape.size(); ++k) REQUIRE(b.start[k] + b.count[k] <= shape[k]);
    auto idx = flat_indices(shape, b);
    covered.insert(covered.end(), idx.begin(), idx.end());
    offset += b.size;
  }
  std::vector<std::size_t> expected(count);
  std::iota(expected.begin(), expected.end(), first);
  REQUIRE(covered == expected);
  REQUIRE(blocks.size() <= (shape.empty() ? 1 : 2 * shape.size() - 1));
}

}  // namespace

TEST_CASE("flat_range_blocks covers every range of 1-D to 4-D shapes exactly", "[io][hyperslab]") {
  const std::vector<Shape> shapes = {{1}, {7}, {3, 5}, {1, 6}, {6, 1}, {2, 3, 4}, {3, 1, 4, 2}};
  for (const Shape& shape : shapes) {
    const std::size_t total =
        std::accumulate(shape.begin(), shape.end(), std::size_t{1}, std::multiplies<>());
    for (std::size_t first = 0; first <= total; ++first)
      for (std::size_t count = 0; first + count <= total; ++count) {
        INFO("shape rank " << shape.size() << " first " << first << " count " << count);
        check_range(shape, first, count);
      }
  }
}

TEST_CASE("flat_range_blocks of one problem and of whole rows", "[io][hyperslab]") {
  std::vector<Block> blocks;
  flat_range_blocks({}, 0, 1, blocks);
  REQUIRE(blocks.size() == 1);
  CHECK(blocks[0].start.empty());
  CHECK(blocks[0].size == 1);

  // Whole rows are one block, not one per row.
  flat_range_blocks({10, 8}, 16, 32, blocks);
  REQUIRE(blocks.size() == 1);
  CHECK(blocks[0].start == Shape{2, 0});
  CHECK(blocks[0].count == Shape{4, 8});

  // Tail of a row, whole rows, head of a row.
  flat_range_blocks({10, 8}, 5, 20, blocks);
  REQUIRE(blocks.size() == 3);
  CHECK(blocks[0].start == Shape{0, 5});
  CHECK(blocks[0].count == Shape{1, 3});
  CHECK(blocks[1].start == Shape{1, 0});
  CHECK(blocks[1].count == Shape{2, 8});
  CHECK(blocks[2].start == Shape{3, 0});
  CHECK(blocks[2].count == Shape{1, 1});
}

TEST_CASE("index_text gives the multi-index of a flat index", "[io][hyperslab]") {
  CHECK(lmbatch::io::index_text({100, 100}, 1234) == "12, 34");
  CHECK(lmbatch::io::index_text({2, 3, 4}, 23) == "1, 2, 3");
  CHECK(lmbatch::io::index_text({5}, 3) == "3");
}
