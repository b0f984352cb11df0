// The one table of per-problem result fields: name, element type, values per
// problem, fill value, whether only --full-output writes it, and where the
// values live in a Chunk and in an ArrayResult. Everything that stores or
// carries results iterates this table: Chunk::reserve, batch::fit's sink,
// the result codec (resume journal, cluster messages), the result file's
// datasets (io/result_file.cpp) and the Python module's arrays. Adding a
// result field is one row here plus its member in Chunk and ArrayResult.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <tuple>
#include <vector>

#include "lmbatch/batch/chunk.hpp"
#include "lmbatch/batch/engine.hpp"

namespace lmbatch::batch {

// The trailing shape of a field, per problem.
enum class Extent : std::uint8_t {
  scalar,  // ()
  n,       // (n,)
  n_by_n,  // (n, n)
  m,       // (m,)
  n_by_m,  // (n, m): scipy's fjac layout
};

// Trailing dimensions of an extent: {}, {n}, {n, n}, {m}, {n, m}.
inline std::vector<std::size_t> trailing_dims(Extent e, int m, int n) {
  const auto mm = static_cast<std::size_t>(m), nn = static_cast<std::size_t>(n);
  switch (e) {
    case Extent::scalar:
      return {};
    case Extent::n:
      return {nn};
    case Extent::n_by_n:
      return {nn, nn};
    case Extent::m:
      return {mm};
    case Extent::n_by_m:
      return {nn, mm};
  }
  return {};
}

inline std::size_t values_per_problem(Extent e, int m, int n) {
  std::size_t p = 1;
  for (std::size_t d : trailing_dims(e, m, n)) p *= d;
  return p;
}

// One result field whose values are of type T.
template <class T>
struct ResultField {
  std::string_view name;  // the dataset /name, the Python key, the journal's order
  Extent extent;
  bool full_output_only;  // written only with --full-output (scipy's infodict)
  T fill;                 // the value of a problem never written (a .partial file, a shard)
  std::vector<T> Chunk::*in_chunk;
  std::vector<T> ArrayResult::*in_array;
  std::string_view description;  // one line, for docs and `lmbatch info`
};

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The table, in the order of the journal's encoding and of the file's datasets.
inline constexpr auto kResultFields = std::make_tuple(
    ResultField<double>{"x", Extent::n, false, kNaN, &Chunk::x_out, &ArrayResult::x,
                        "the solution"},
    ResultField<double>{"cov_x", Extent::n_by_n, false, kNaN, &Chunk::cov_x, &ArrayResult::cov_x,
                        "scipy's cov_x, NaN where scipy returns None"},
    ResultField<double>{"cost", Extent::scalar, false, kNaN, &Chunk::cost, &ArrayResult::cost,
                        "sum of squared residuals at the solution"},
    ResultField<double>{"stderr", Extent::n, false, kNaN, &Chunk::std_error,
                        &ArrayResult::std_error,
                        "standard errors sqrt(diag(cov_x) * cost / (m_valid - n)), or NaN"},
    ResultField<std::int32_t>{"nfev", Extent::scalar, false, 0, &Chunk::nfev, &ArrayResult::nfev,
                              "residual evaluations"},
    ResultField<std::int32_t>{"njev", Extent::scalar, false, 0, &Chunk::njev, &ArrayResult::njev,
                              "Jacobian evaluations (0 for --jacobian forward)"},
    ResultField<std::int16_t>{
        "ier", Extent::scalar, false, static_cast<std::int16_t>(ProblemStatus::never_written),
        &Chunk::ier, &ArrayResult::ier, "status: MINPACK's info (scipy's ier) or lmbatch's -1..-6"},
    ResultField<std::int32_t>{"m_valid", Extent::scalar, false, 0, &Chunk::m_valid,
                              &ArrayResult::m_valid, "samples used (not NaN or Inf)"},
    ResultField<std::int8_t>{"pegged", Extent::n, false, 0, &Chunk::pegged, &ArrayResult::pegged,
                             "-1 at its lower bound, +1 at its upper, 0 free, 2 fixed or tied"},
    ResultField<std::int8_t>{"start", Extent::scalar, false,
                             static_cast<std::int8_t>(StartCode::never_written), &Chunk::start,
                             &ArrayResult::start,
                             "where the solution started: 0 estimate, 1 given x0, 2 x0_from's "
                             "aggregate, 3 a neighbour, 10+k --starts' k-th perturbation"},
    ResultField<double>{"fvec", Extent::m, true, kNaN, &Chunk::fvec, &ArrayResult::fvec,
                        "residuals at the solution (NaN at missing samples)"},
    ResultField<double>{"fjac", Extent::n_by_m, true, kNaN, &Chunk::fjac, &ArrayResult::fjac,
                        "scipy's fjac: R and the Householder vectors, n x m"},
    ResultField<std::int32_t>{"ipvt", Extent::n, true, 0, &Chunk::ipvt, &ArrayResult::ipvt,
                              "column permutation of the QR factorization, 1-based"},
    ResultField<double>{"qtf", Extent::n, true, kNaN, &Chunk::qtf, &ArrayResult::qtf,
                        "the first n elements of Q^T fvec"});

// Calls f(field) for every field of the table, in order; with full_output
// false, the full-output-only fields are skipped.
template <class F>
void for_each_result_field(bool full_output, F&& f) {
  std::apply(
      [&](const auto&... field) {
        (
            [&] {
              if (full_output || !field.full_output_only) f(field);
            }(),
            ...);
      },
      kResultFields);
}

}  // namespace lmbatch::batch
