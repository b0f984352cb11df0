// Solving one problem of a chunk: masking missing samples, the residual
// (y - f) / sigma and its Jacobian, the LM solve, and the per-problem outputs.
#pragma once

#include <vector>

#include "lmbatch/batch/chunk.hpp"
#include "lmbatch/batch/engine.hpp"

namespace lmbatch::batch::detail {

// Per-thread scratch, sized once for (m, n); reused for every problem.
struct SolverScratch {
  leastsq::Workspace workspace;
  std::vector<double> xs, ys, inv_sigma, f, p, estimate_scratch, cov_tmp;
  int m = 0, n = 0;
  void size_for(int m_, int n_);
};

void solve_problem(const models::Model& model, Chunk& chunk, int k, SolverScratch& scratch,
                   const BatchOptions& options);

}  // namespace lmbatch::batch::detail
