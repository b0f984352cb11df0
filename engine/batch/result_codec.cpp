#include "lmbatch/batch/result_codec.hpp"

#include "lmbatch/batch/result_fields.hpp"

#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace lmbatch::batch {
namespace {

// Calls f(values, values per problem) for every result field of c, in the
// table's order (result_fields.hpp).
template <class ChunkRef, class F>
void for_each_result_field(ChunkRef& c, F&& f) {
  batch::for_each_result_field(c.full_output, [&](const auto& field) {
    f(c.*field.in_chunk, values_per_problem(field.extent, c.m, c.n));
  });
}

template <class V>
constexpr std::size_t value_bytes = sizeof(typename std::remove_cvref_t<V>::value_type);

}  // namespace

std::size_t encoded_result_bytes(std::size_t count, int m, int n, bool full_output) {
  std::size_t bytes = 0;
  Chunk shape;  // only the field types and sizes matter here
  shape.m = m;
  shape.n = n;
  shape.full_output = full_output;
  for_each_result_field(shape, [&](const auto& v, std::size_t per) {
    bytes += per * count * value_bytes<decltype(v)>;
  });
  return bytes;
}

void encode_results(const Chunk& c, std::vector<unsigned char>& out) {
  const auto count = static_cast<std::size_t>(c.count);
  for_each_result_field(c, [&](const auto& v, std::size_t per) {
    const std::size_t values = per * count;
    if (v.size() < values)
      throw std::invalid_argument("encode_results: a result buffer is smaller than the chunk");
    const auto* p = reinterpret_cast<const unsigned char*>(v.data());
    out.insert(out.end(), p, p + values * value_bytes<decltype(v)>);
  });
}

void decode_results(const unsigned char* bytes, std::size_t size, Chunk& c) {
  const auto count = static_cast<std::size_t>(c.count);
  const std::size_t expected = encoded_result_bytes(count, c.m, c.n, c.full_output);
  if (size != expected)
    throw std::invalid_argument("decode_results: " + std::to_string(size) + " bytes for " +
                                std::to_string(count) + " problems; expected " +
                                std::to_string(expected));
  std::size_t at = 0;
  for_each_result_field(c, [&](auto& v, std::size_t per) {
    const std::size_t values = per * count;
    if (v.size() < values)
      throw std::invalid_argument("decode_results: the chunk's buffers are not reserved");
    const std::size_t n_bytes = values * value_bytes<decltype(v)>;
    std::memcpy(v.data(), bytes + at, n_bytes);
    at += n_bytes;
  });
}

}  // namespace lmbatch::batch
