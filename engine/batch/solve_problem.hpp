// Solving one problem of a chunk: masking missing samples, the residual
// (y - f) / sigma (through a robust loss when one is chosen) and its
// Jacobian, the LM solve, and the per-problem outputs.
#pragma once

#include <vector>

#include "lmbatch/batch/chunk.hpp"
#include "lmbatch/batch/engine.hpp"

namespace lmbatch::batch::detail {

// Per-thread scratch, sized once for (m, n); reused for every problem.
// xs holds the valid samples' predictors column by column (x1 at [0, m),
// x2 at [m, 2m), ...); for d >= 2 predictors it grows to m x d on the first
// problem that needs it.
struct SolverScratch {
  leastsq::Workspace workspace;
  std::vector<double> xs, ys, inv_sigma, f, p, estimate_scratch, cov_tmp;
  // A robust loss's derivative factors g_i (m) at the point loss_at (n) of
  // the last residual evaluation: the Jacobian's scaling (loss.hpp).
  std::vector<double> loss_factor, loss_at;
  // The model's Jacobian (m x n) at a Poisson fit's solution, for its Fisher
  // information.
  std::vector<double> model_jac;
  std::vector<const double*> columns;  // the d columns of xs
  int m = 0, n = 0;
  void size_for(int m_, int n_);
};

void solve_problem(const models::Model& model, Chunk& chunk, int k, SolverScratch& scratch,
                   const BatchOptions& options);

}  // namespace lmbatch::batch::detail
