// Solving one problem of a chunk: masking missing samples, the residual
// (y - f) / sigma (through a robust loss when one is chosen) and its
// Jacobian, the LM solve, and the per-problem outputs.
#pragma once

#include <vector>

#include "lmbatch/batch/chunk.hpp"
#include "lmbatch/batch/constraints.hpp"
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
  // Constrained solves (constraints.hpp): the problem's bounds and roles, the
  // free set (MPFIT's ifree) and each parameter's place in it (-1: held), the
  // full parameter vector, the model's full Jacobian, the free parameters'
  // bounds and covariance, a tie's arguments and gradient.
  std::vector<double> lower, upper, full, jac_full, free_lower, free_upper, cov_free, tie_args,
      tie_grad;
  std::vector<ParameterRole> role;
  std::vector<int> ifree, free_at;
  int m = 0, n = 0;
  void size_for(int m_, int n_);
};

// constraints: resolved against the model (every problem's by-name part); the
// chunk may add per-problem bounds and a fixed mask.
void solve_problem(const models::Model& model, Chunk& chunk, int k, SolverScratch& scratch,
                   const BatchOptions& options, const ResolvedConstraints& constraints);

}  // namespace lmbatch::batch::detail
