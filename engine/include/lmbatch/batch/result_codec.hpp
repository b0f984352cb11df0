// The results of a chunk as flat bytes: every result field of batch::Chunk,
// field by field in a fixed order, each as count x (values per problem) raw
// native values. What the resume journal stores (io/journal.cpp) and what the
// ranks of a cluster run send to the writing rank: the bytes the solver
// produced, so the output stays bit-identical whatever carried them.
#pragma once

#include <cstddef>
#include <vector>

#include "lmbatch/batch/chunk.hpp"

namespace lmbatch::batch {

// Bytes of the encoded results of `count` problems.
std::size_t encoded_result_bytes(std::size_t count, int m, int n, bool full_output);

// Appends the results of problems [c.first, c.first + c.count) to out.
void encode_results(const Chunk& c, std::vector<unsigned char>& out);

// Reads encoded results into c: c.count, c.m, c.n and c.full_output say what
// is expected, and c's buffers must hold c.count problems (Chunk::reserve).
// size must be encoded_result_bytes(c.count, c.m, c.n, c.full_output); throws
// std::invalid_argument otherwise.
void decode_results(const unsigned char* bytes, std::size_t size, Chunk& c);

}  // namespace lmbatch::batch
