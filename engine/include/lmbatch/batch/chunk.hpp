// A chunk of consecutive problems travelling through the batch pipeline: the
// inputs a ProblemSource fills, the results the solve stage writes, and what a
// ResultSink stores. Buffers are sized by reserve() once per token and reused,
// so the pipeline allocates nothing per problem.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "lmbatch/batch/status.hpp"

namespace lmbatch::batch {

// How an optional per-sample input (x, sigma) or x0 is laid out.
enum class Layout : std::uint8_t {
  absent,       // not given (x: 0..m-1; sigma: 1; x0: the model's estimate)
  shared,       // one vector for every problem (x, sigma: m values; x0: n values)
  per_problem,  // one vector per problem (count x m, or count x n for x0)
};

// Where a problem's kept solution started from (the result field /start).
enum class StartCode : std::int8_t {
  never_written = -1,  // the fill value of a problem not written
  estimate = 0,        // the model's estimate from the problem's own data
  given_x0 = 1,        // x0 from the caller (/x0, --x0-values, x0=)
  aggregate = 2,       // --x0-from: the aggregate spectrum's fit, intensity-scaled
  neighbour = 3,       // --refine neighbours: a neighbour's solution
  perturbed = 10,      // 10 + k: --starts' k-th perturbation (k >= 1) of the first start
};

struct Chunk {
  // Identity: problems [first, first + count) in row-major order of the
  // leading dimensions of y.
  std::size_t first = 0;
  int count = 0;
  // Of them, solved in SIMD lanes (solve_chunk, --simd auto); not sent
  // between a cluster run's ranks.
  int lane_problems = 0;
  int m = 0;  // samples per problem (the last dimension of y)
  int n = 0;  // parameters of the model

  // ---- inputs, filled by the ProblemSource ----
  std::vector<double> y;  // count x m; NaN marks a missing sample
  Layout x_layout = Layout::absent;
  // Predictors per sample (d): 1 for a plain x (or none), d >= 2 for x1..xd.
  int predictors = 1;
  // m x d (shared) or count x m x d (per_problem), row-major: sample i of a
  // problem holds x1..xd at [i*d, i*d + d). NaN in any predictor marks a
  // missing sample.
  std::vector<double> x;
  Layout sigma_layout = Layout::absent;
  std::vector<double> sigma;  // m or count x m; must be finite and > 0
  Layout x0_layout = Layout::absent;
  std::vector<double> x0;  // n or count x n
  // Per-problem constraints (constraints.hpp), laid out like x0: bounds (NaN
  // or +-inf: none on that side) and a mask of held parameters (non-zero:
  // fixed at its starting value).
  Layout lower_layout = Layout::absent, upper_layout = Layout::absent,
         fixed_layout = Layout::absent;
  std::vector<double> lower, upper, fixed;

  // ---- results, filled by the solve stage ----
  std::vector<double> x_out;  // count x n (NaN where not solved)
  std::vector<double> cov_x;  // count x n x n, NaN where scipy returns None
  std::vector<double> cost;   // count: sum of squared residuals at the solution
  // count x n: standard errors sqrt(diag(cov_x) * cost / (m_valid - n)); NaN
  // where cov_x is absent or m_valid <= n.
  std::vector<double> std_error;
  std::vector<std::int32_t> nfev, njev;  // count
  std::vector<std::int16_t> ier;         // count: leastsq Status or ProblemStatus
  std::vector<std::int32_t> m_valid;     // count: samples used (non-NaN)
  // count x n: -1 at its lower bound, +1 at its upper, 0 free, 2 fixed or tied.
  std::vector<std::int8_t> pegged;
  std::vector<std::int8_t> start;  // count: where the kept solution started (StartCode)
  // full output only (empty otherwise):
  bool full_output = false;
  std::vector<double> fvec;        // count x m (NaN at missing samples)
  std::vector<double> fjac;        // count x n x m, scipy's layout (n x m_valid used, rest NaN)
  std::vector<std::int32_t> ipvt;  // count x n, 1-based
  std::vector<double> qtf;         // count x n

  // Sizes every buffer for up to max_count problems (allocates only when a
  // buffer grows). Per-problem layouts are sized by the source.
  void reserve(int max_count, int m_, int n_, bool full);
};

// Asks for transparent huge pages over the whole 2 MiB pages inside
// [p, p + bytes), before they are first touched: a hint (madvise), without
// effect where THP is off. Where the kernel gives them on request (its usual
// "madvise" setting) a big buffer's first touch is a fault per 2 MiB rather
// than per 4 KiB page, and reading it walks fewer TLB entries. Measured on the
// bench's VM (a fault ~6 us): DirectChunks' 8 MB chunk scratch, so backed,
// cut lmbatch fit of workload 3 by a seventh. A vector's storage is not
// aligned to 2 MiB, so resize_buffer only gains on buffers of several MiB
// (y with long spectra, full output's fjac): workload 3 with --chunk-size
// 1000 (8 MB of y per token) took 4935 faults and 232-248 ms with it, 7485
// and 311-359 ms without.
void advise_huge_pages(void* p, std::size_t bytes) noexcept;

// v.resize(size), where storage that has to be allocated asks for huge pages
// before the resize touches it.
template <class T>
void resize_buffer(std::vector<T>& v, std::size_t size) {
  if (size > v.capacity()) {
    std::vector<T> fresh;
    fresh.reserve(size);
    advise_huge_pages(fresh.data(), size * sizeof(T));
    fresh.assign(v.begin(), v.end());
    v.swap(fresh);
  }
  v.resize(size);
}

}  // namespace lmbatch::batch
