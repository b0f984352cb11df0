// A constrained solve allocates nothing once the per-thread scratch is sized
// (issue #16): fixed and tied parameters (MPFIT's ifree, the tie expressions'
// values and derivatives) and a per-problem mask, on a chunk the way the
// pipeline's solve stage runs it. Part of lmbatch_alloc_tests (global
// operator new counted).
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "batch/solve_problem.hpp"
#include "lmbatch/batch/constraints.hpp"
#include "support/counting_allocator.hpp"

namespace batch = lmbatch::batch;

TEST_CASE("constrained solves allocate nothing once the scratch is sized", "[allocation]") {
  const auto model = lmbatch::models::Model::parse("gaussian*2+constant");
  constexpr int m = 80, n = 7, count = 6;
  batch::Chunk chunk;
  chunk.reserve(count, m, n, false);
  chunk.count = count;
  chunk.x_layout = batch::Layout::shared;
  chunk.x0_layout = batch::Layout::shared;
  chunk.fixed_layout = batch::Layout::per_problem;
  chunk.x0 = {2.5, 29.0, 3.5, 1.8, 52.0, 3.5, 0.4};
  chunk.fixed.assign(count * n, 0.0);
  chunk.fixed[2 * n + 0] = 1.0;  // problem 2 also holds amplitude_1
  for (int i = 0; i < m; ++i) chunk.x.push_back(100.0 * i / (m - 1));
  for (int k = 0; k < count; ++k)
    for (int i = 0; i < m; ++i) {
      const double d1 = (chunk.x[i] - 30.0 - k) / 4.0, d2 = (chunk.x[i] - 51.3 - k) / 4.0;
      chunk.y[k * m + i] = 3.0 * std::exp(-0.5 * d1 * d1) + 2.0 * std::exp(-0.5 * d2 * d2) + 0.5 +
                           0.01 * std::cos(7.0 * i + k);
    }
  batch::BatchOptions options;
  options.fix = "c";
  options.tie = "sigma_2=sigma_1,center_2=center_1+21.3";
  const auto rc =
      batch::resolve_constraints(options.bounds, options.fix, options.tie, model.parameter_names());
  batch::detail::SolverScratch scratch;
  scratch.size_for(m, n);
  // The first solve on a thread sizes the expressions' own scratch.
  batch::detail::solve_problem(model, chunk, 0, scratch, options, rc);

  const long before = allocations_so_far();
  for (int k = 1; k < count; ++k)
    batch::detail::solve_problem(model, chunk, k, scratch, options, rc);
  const long during = allocations_so_far() - before;
  CHECK(during == 0);
  for (int k = 0; k < count; ++k) {
    CHECK(batch::converged(chunk.ier[k]));
    CHECK(chunk.x_out[k * n + 5] == chunk.x_out[k * n + 2]);
  }
  CHECK(chunk.pegged[2 * n + 0] == batch::kPeggedHeld);
}
