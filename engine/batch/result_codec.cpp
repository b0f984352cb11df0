#include "lmbatch/batch/result_codec.hpp"

#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace lmbatch::batch {
namespace {

// The result fields, in encoding order, with their values per problem.
template <class ChunkRef, class F>
void for_each_result_field(ChunkRef& c, int m, int n, bool full, F&& f) {
  const auto mm = static_cast<std::size_t>(m), nn = static_cast<std::size_t>(n);
  f(c.x_out, nn);
  f(c.cov_x, nn * nn);
  f(c.cost, 1);
  f(c.std_error, nn);
  f(c.nfev, 1);
  f(c.njev, 1);
  f(c.ier, 1);
  f(c.m_valid, 1);
  if (full) {
    f(c.fvec, mm);
    f(c.fjac, nn * mm);
    f(c.ipvt, nn);
    f(c.qtf, nn);
  }
}

template <class V>
constexpr std::size_t value_bytes = sizeof(typename std::remove_cvref_t<V>::value_type);

}  // namespace

std::size_t encoded_result_bytes(std::size_t count, int m, int n, bool full_output) {
  std::size_t bytes = 0;
  Chunk shape;  // only the field types matter here
  for_each_result_field(shape, m, n, full_output, [&](const auto& v, std::size_t per) {
    bytes += per * count * value_bytes<decltype(v)>;
  });
  return bytes;
}

void encode_results(const Chunk& c, std::vector<unsigned char>& out) {
  const auto count = static_cast<std::size_t>(c.count);
  for_each_result_field(c, c.m, c.n, c.full_output, [&](const auto& v, std::size_t per) {
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
  for_each_result_field(c, c.m, c.n, c.full_output, [&](auto& v, std::size_t per) {
    const std::size_t values = per * count;
    if (v.size() < values)
      throw std::invalid_argument("decode_results: the chunk's buffers are not reserved");
    const std::size_t n_bytes = values * value_bytes<decltype(v)>;
    std::memcpy(v.data(), bytes + at, n_bytes);
    at += n_bytes;
  });
}

}  // namespace lmbatch::batch
