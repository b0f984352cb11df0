// Solving one problem of a chunk: masking missing samples, the residual
// (y - f) / sigma (through a robust loss when one is chosen) and its
// Jacobian, the LM solve, and the per-problem outputs.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "lmbatch/batch/chunk.hpp"
#include "lmbatch/batch/constraints.hpp"
#include "lmbatch/batch/engine.hpp"
#include "lmbatch/batch/loss.hpp"
#include "lmbatch/leastsq/lanes.hpp"

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
  std::vector<double> first_start;  // n: the first start, which --starts perturbs
  int m = 0, n = 0;
  void size_for(int m_, int n_);
};

// Whether a sample is a negative count: poisson does not solve such a
// problem (ProblemStatus::negative_count).
inline bool has_negative_count(const double* ys, std::size_t count) {
  return std::any_of(ys, ys + count, [](double y) { return y < 0.0; });
}

// One sample's transformed residual r and factor g = dr/df under loss L
// (loss.hpp), for run_transformed_solver and the lanes alike: a robust
// loss's of e = (y - f) / sigma (sigma 1 where unweighted: the same bits as
// y - f), poisson's deviance residual of the count y (sigma plays no part: a
// count's variance is its mean).
template <Loss L>
RobustResidual transformed(double y, double sigma, double f, double scale) {
  if constexpr (L == Loss::poisson)
    return poisson_residual(y, f);
  else
    return robust_residual(L, (y - f) / sigma, scale);
}

// The cost a solve reached, as /cost holds it: MINPACK's final sum of
// squares, NaN where the solve did not start (improper input).
inline double solve_cost(const leastsq::Summary& summary) {
  return summary.status == leastsq::Status::improper_input
             ? std::numeric_limits<double>::quiet_NaN()
             : summary.fnorm * summary.fnorm;
}

// --starts: whether start `start`, of cost `cost`, replaces the kept start
// (kept_start, of cost kept_cost) as the problem's result. The lowest cost
// wins, a number beats NaN, and of equal costs (or all NaN) the lowest start:
// so the result is the one solving the starts in order and keeping a strictly
// lower cost gives, in whatever order the starts finish (lanes).
inline bool start_wins(double cost, int start, double kept_cost, int kept_start) {
  if (std::isnan(cost)) return std::isnan(kept_cost) && start < kept_start;
  if (std::isnan(kept_cost)) return true;
  return cost < kept_cost || (cost == kept_cost && start < kept_start);
}

// Start `start` >= 1 of problem `problem` (its index in the run) into p: a
// perturbation of the first start, a function of (problem, start) alone.
void perturbed_start(std::span<const double> first, std::size_t problem, int start,
                     std::span<double> p);

// body(std::integral_constant<Loss, L>) for the run's loss, so that the
// per-sample transform is compiled per loss, without a switch per sample.
template <class Body>
auto with_loss(Loss loss, Body&& body) {
  switch (loss) {
    case Loss::soft_l1:
      return body(std::integral_constant<Loss, Loss::soft_l1>{});
    case Loss::huber:
      return body(std::integral_constant<Loss, Loss::huber>{});
    case Loss::cauchy:
      return body(std::integral_constant<Loss, Loss::cauchy>{});
    case Loss::arctan:
      return body(std::integral_constant<Loss, Loss::arctan>{});
    case Loss::poisson:
      return body(std::integral_constant<Loss, Loss::poisson>{});
    case Loss::linear:
      break;
  }
  return body(std::integral_constant<Loss, Loss::linear>{});
}

// --simd auto's per-thread scratch: the lane solver and each lane's problem
// (its samples, model values and point), sized once for (m, n).
struct LaneScratch {
  std::optional<leastsq::LaneLmder> lmder;  // lmder or lmdif (JacobianMode::forward)
  std::vector<SolverScratch> lane;
  std::vector<int> problem;            // the chunk row each lane holds
  std::vector<int> start;              // and which of its --starts (0: the first), or of its refits
  std::vector<std::size_t> neighbour;  // --refine: the row of the pass the refit starts from
  // --starts: per chunk row, the first start (n values) and the start whose
  // result the row holds (-1: none yet); --refine's passes: the refit whose
  // result the row holds (-1: its own).
  std::vector<double> first_start;
  std::vector<int> kept_start;
  std::vector<leastsq::Options> options;  // W: each lane's, with its problem's bounds
  std::vector<int> samples;  // the chunk's samples a lane problem has (m of the chunk's)
  // With the model's lane kernels: the lane samples' x (shared by every problem),
  // and each lane's y, sigma (1 where unweighted) and model values, m x W;
  // under a robust loss or poisson, each sample's factor g (loss.hpp), m x W.
  leastsq::LaneVector x, y, sigma, f, g;
  // Fixed or tied parameters (n_solve < n), with the model's lane kernels:
  // each lane's full parameter vector (n x W), the model's full Jacobian
  // (n x m x W) and a tie's gradient (n x W).
  leastsq::LaneVector full_x, full_jac, tie_grad;
  // Poisson's covariance of W converged lane problems at once, with the
  // model's lane kernels (ChunkLanes::store_poisson_covariances): the rows
  // whose covariance is due, and each group's points (n x W), Jacobian
  // (n x m x W), factor (n x n x W), cov_x (n x n x W), standard errors
  // (n x W) and the lanes that had one. Sized by solve_chunk under poisson
  // (no reallocation after a thread's first chunk).
  std::vector<std::uint8_t> covariance_due, covariance_ok;
  std::vector<int> covariance_row;
  leastsq::LaneVector fisher_points, fisher_jac, fisher_factor, fisher_cov, fisher_std_error;
  int m = 0, n = 0;  // samples; the model's parameters
  int n_solve = 0;   // the solver's parameters: n, or the free ones of fixed or tied
  // Lanes for problems of m samples and n parameters, n_solve of them free.
  void size_for(int m_, int n_, int n_solve_, bool analytic);
};

// The aggregate spectrum's fit that --x0-from starts every problem from.
struct Seed {
  std::vector<double> x0;  // n: the fit of the aggregate
  std::vector<double> y;   // m: the aggregate spectrum (NaN where no problem has the sample)
};

// --refine neighbours: the solutions of one pass over the problems
// [first, first + count) (a range of whole image rows and a halo).
struct RefineState {
  std::size_t first = 0, count = 0, width = 0;
  int n = 0;
  std::vector<double> x;              // count x n: the pass's solutions
  std::vector<double> cost;           // count
  std::vector<std::int32_t> m_valid;  // count
  std::vector<std::int16_t> ier;      // count
  std::vector<double> from;  // count x n: the neighbour's x it was refitted from (NaN: none)
  void size_for(std::size_t first_, std::size_t count_, std::size_t width_, int n_);
  bool holds(std::size_t problem) const { return problem >= first && problem - first < count; }
};

// Problem k's rows of the chunk's inputs: y, its predictors (nullptr: the
// sample index is x) and sigma (nullptr: unweighted).
struct ProblemRow {
  const double* y = nullptr;
  const double* x = nullptr;
  const double* sigma = nullptr;
  int m = 0;
  std::size_t d = 1;  // predictors per sample (x1..xd); 1 for a plain x

  // A sample is present when y and every predictor are finite (NaN marks a
  // missing sample).
  bool present(int i) const {
    if (!std::isfinite(y[i])) return false;
    if (!x) return true;
    for (std::size_t v = 0; v < d; ++v)
      if (!std::isfinite(x[static_cast<size_t>(i) * d + v])) return false;
    return true;
  }
};

ProblemRow problem_row(const Chunk& chunk, int k);
// Copies the present samples into the scratch: each predictor into its
// column of xs, y into ys, sigma into inv_sigma. Returns their count.
int gather_present_samples(const ProblemRow& r, SolverScratch& s);
// The inverse of the Poisson Fisher information at p,
//   I = sum_i (df_i/dp) (df_i/dp)^T / f_i,
// into cov (n x n, row-major) by Cholesky (I = L L^T, I^-1 = L^-T L^-1);
// false where I is not positive definite. Samples with f_i == 0 (a vanished
// term against a zero count, whose gradient vanishes with it) add nothing.
// Model: a models::Model, or a constrained problem's ReducedModel (n: n_free);
// poisson_covariance_lanes (loss.hpp) does its arithmetic in lanes.
template <class Model>
inline bool inverse_fisher_information(const Model& model, const models::Predictors& predictors,
                                       int mv, int n, SolverScratch& s, std::span<const double> p,
                                       double* cov) {
  const auto nn = static_cast<size_t>(n), mm = static_cast<size_t>(mv);
  const std::span<double> f(s.f.data(), mm);
  const std::span<double> jac(s.model_jac.data(), mm * nn);
  model.value(p, predictors, f);
  model.jacobian(p, predictors, jac);
  double* l = s.cov_tmp.data();  // lower triangle of I, then of L (row-major)
  for (size_t a = 0; a < nn; ++a)
    for (size_t b = 0; b <= a; ++b) {
      double sum = 0.0;
      for (size_t i = 0; i < mm; ++i)
        if (f[i] != 0.0) sum += jac[a * mm + i] * jac[b * mm + i] / f[i];
      l[a * nn + b] = sum;
    }
  for (size_t j = 0; j < nn; ++j) {
    double d = l[j * nn + j];
    for (size_t k = 0; k < j; ++k) d -= l[j * nn + k] * l[j * nn + k];
    if (!(d > 0.0) || !std::isfinite(d)) return false;
    l[j * nn + j] = std::sqrt(d);
    for (size_t i = j + 1; i < nn; ++i) {
      double v = l[i * nn + j];
      for (size_t k = 0; k < j; ++k) v -= l[i * nn + k] * l[j * nn + k];
      l[i * nn + j] = v / l[j * nn + j];
    }
  }
  // L^-1 in place (lower triangular), then cov = L^-T L^-1.
  for (size_t j = 0; j < nn; ++j) {
    l[j * nn + j] = 1.0 / l[j * nn + j];
    for (size_t i = j + 1; i < nn; ++i) {
      double v = 0.0;
      for (size_t k = j; k < i; ++k) v -= l[i * nn + k] * l[k * nn + j];
      l[i * nn + j] = v / l[i * nn + i];
    }
  }
  for (size_t a = 0; a < nn; ++a)
    for (size_t b = 0; b <= a; ++b) {
      double sum = 0.0;
      for (size_t k = a; k < nn; ++k) sum += l[k * nn + a] * l[k * nn + b];
      cov[a * nn + b] = cov[b * nn + a] = sum;
    }
  return true;
}

// The outputs every problem starts from: NaN covariance and standard
// errors, no Jacobian calls, and with full output NaN/0 infodict arrays.
void reset_outputs(Chunk& chunk, int k, int mv);
// x0 into p: the chunk's (shared or per problem), the seed scaled to the
// problem's intensity, or the model's estimate. Returns where it came from.
StartCode starting_point(const models::Model& model, const Chunk& chunk, int k, SolverScratch& s,
                         std::span<const double> xs, std::span<const double> ys,
                         std::span<double> p, const ProblemRow& r, const Seed* seed);
// x, status, counts and cost into the chunk's rows; cov_x (from the
// workspace's R) and standard errors where converged.
void store_solution(Chunk& chunk, int k, const leastsq::Summary& summary, std::span<const double> p,
                    int mv, const leastsq::Workspace& workspace, std::span<double> cov_tmp);

// scipy's infodict arrays (fvec, fjac, ipvt, qtf) from the workspace of
// problem k's solve; ns: the solver's parameters (n, or a constrained
// problem's free ones). Only fvec where the solve formed no Jacobian.
void store_full_output(Chunk& chunk, int k, const ProblemRow& r, int mv,
                       const leastsq::Workspace& workspace, int ns);

// A converged Poisson fit's cov_x (the inverse Fisher information) and
// standard errors at p, problem k's samples gathered into s (as
// solve_problem stores them).
void store_poisson_covariance(const models::Model& model, Chunk& chunk, int k, SolverScratch& s,
                              std::span<const double> p);

// The model over a constrained problem's free parameters q (MPFIT's ifree):
// q expands into the full vector (held values kept, tied ones computed) and
// the Jacobian is the full one's free columns plus, for each tied parameter
// t = e(p_r1, p_r2, ...), the chain rule d f / d p_r += d f / d p_t * d e / d p_r
// with the expression's exact derivatives. Only the full vector's free and
// tied entries change, so the held values set before the solve stay.
struct ReducedModel {
  const models::Model& model;
  const ResolvedConstraints& rc;
  SolverScratch& s;
  int n_free = 0;

  // A tie's one sample of its (unused) per-sample variable (kTieVariable).
  static constexpr double kZero = 0.0;
  static constexpr const double* kTieSample[1] = {&kZero};

  void expand(std::span<const double> q) const {
    for (int k = 0; k < n_free; ++k) s.full[static_cast<size_t>(s.ifree[k])] = q[k];
    for (const Tie& t : rc.ties) {
      for (size_t a = 0; a < t.refs.size(); ++a) s.tie_args[a] = s.full[t.refs[a]];
      t.expression.value(s.tie_args.data(), kTieSample, 1,
                         &s.full[static_cast<size_t>(t.parameter)]);
    }
  }
  // s.tie_grad = the gradient of tie t's expression at s.full (expanded),
  // one entry per argument (t.refs).
  void tie_gradient(const Tie& t) const {
    for (size_t a = 0; a < t.refs.size(); ++a) s.tie_args[a] = s.full[t.refs[a]];
    t.expression.jacobian(s.tie_args.data(), kTieSample, 1, s.tie_grad.data(), 1);
  }
  // Nothing held (only bounds): q is the model's vector itself, no copies.
  bool identity() const { return n_free == static_cast<int>(s.full.size()) && rc.ties.empty(); }

  void value(std::span<const double> q, const models::Predictors& x, std::span<double> f) const {
    if (identity()) return model.value(q, x, f);
    expand(q);
    model.value(std::span<const double>(s.full.data(), s.full.size()), x, f);
  }
  void jacobian(std::span<const double> q, const models::Predictors& x,
                std::span<double> jac) const {
    if (identity()) return model.jacobian(q, x, jac);
    expand(q);
    const size_t mv = x.m, n = s.full.size();
    model.jacobian(std::span<const double>(s.full.data(), n), x,
                   std::span<double>(s.jac_full.data(), mv * n));
    for (int k = 0; k < n_free; ++k)
      std::copy_n(s.jac_full.data() + static_cast<size_t>(s.ifree[k]) * mv, mv,
                  jac.data() + static_cast<size_t>(k) * mv);
    for (const Tie& t : rc.ties) {
      tie_gradient(t);
      const double* tied_col = s.jac_full.data() + static_cast<size_t>(t.parameter) * mv;
      for (size_t a = 0; a < t.refs.size(); ++a) {
        const int k = s.free_at[static_cast<size_t>(t.refs[a])];
        if (k < 0) continue;  // a fixed parameter: no column
        double* col = jac.data() + static_cast<size_t>(k) * mv;
        const double g = s.tie_grad[a];
        for (size_t i = 0; i < mv; ++i) col[i] += tied_col[i] * g;
      }
    }
  }
};

// A constrained problem's start (solve_constrained's), its first start in
// s.full (n values) and its roles and bounds in s (problem_constraints): the
// fixed parameters set (rc.fixed_value, or held at the start where NaN), the
// free ones checked against their bounds (a given start outside marks the
// problem, ier -6, and returns false; an estimate outside is projected into
// them), q (n_free) the free ones and the tied ones computed from them.
bool constrain_start(const models::Model& model, Chunk& chunk, int k, const ResolvedConstraints& rc,
                     SolverScratch& s, int n_free, std::span<double> q);
// Lanes with constraints (bounds, fixed and tied parameters by name; bounds
// per problem): problem k's roles and bounds into s (problem_constraints,
// which throws alike) and constrain_start on its first start in s.full.
// Returns n_free, or -1 where a given start is outside its bounds (marked).
int lane_start(const models::Model& model, Chunk& chunk, int k, const ResolvedConstraints& rc,
               SolverScratch& s, std::span<double> q);
// Such a problem's rows from its lane's solution q (n_free) and workspace, as
// solve_constrained stores them; s: the lane's scratch, as lane_start left it
// (the held values in s.full).
void store_lane_constrained(const models::Model& model, Chunk& chunk, int k,
                            const ResolvedConstraints& rc, const leastsq::Summary& summary,
                            std::span<const double> q, const leastsq::Workspace& ws,
                            SolverScratch& s, const BatchOptions& options);

// The first pass's solution of problem k into state.
void capture_solution(const Chunk& chunk, int k, RefineState& state);

// One refinement of problem k of the chunk (its data read): from each of its
// 8 neighbours in prev whose solution converged (ier 1..4) with a cost per
// sample lower than its own, in row-major order, a fit; the lowest cost
// below its own is
// kept in next (with the neighbour's x as `from`), else next is prev. True
// when it improved.
bool refine_problem(const models::Model& model, Chunk& chunk, int k, SolverScratch& s,
                    const BatchOptions& options, const RefineState& prev, RefineState& next);

// refine_problem's first part: copies problem k's row of prev into next and
// lists in `at` (rows of prev) the neighbours it is refitted from, in
// row-major order; returns their count (0: none, or too few samples). Its
// refits then compete as starts 0, 1, ... against the own solution as start
// -1 (start_wins), and keep_refit writes a winner into next's row.
int refine_candidates(const Chunk& chunk, int k, const RefineState& prev, RefineState& next,
                      std::array<std::size_t, 8>& at);
void keep_refit(RefineState& next, std::size_t row, const leastsq::Summary& summary,
                std::span<const double> p, const double* from);

// One pass of refinement over the chunk's problems, as refine_problem (the
// same bits): where lanes_apply, every refit of the problems whose samples
// are the lanes' side by side in SIMD lanes, the others one by one. True
// when a problem improved.
bool refine_chunk(const models::Model& model, Chunk& chunk, SolverScratch& s, LaneScratch& lanes,
                  const BatchOptions& options, const RefineState& prev, RefineState& next);

// The passes of --refine neighbours over [lo, hi): the first (solve_problem),
// then refinements while any improves, at most options.refine_passes.
RefineState refine_neighbours(const models::Model& model, ProblemSource& source,
                              const BatchOptions& options, const Seed* seed, std::size_t lo,
                              std::size_t hi, int threads);

// Whether the chunk's problems are constrained: by name (constraints) or by
// the chunk's per-problem lower, upper or fixed.
bool constrained(const ResolvedConstraints& constraints, const Chunk& chunk);

// Seeding and refinement (starts, x0_from, refine) run the unconstrained
// solve, so with constraints they are refused: std::invalid_argument. The
// by-name constraints are refused by BatchOptions::validate before the run;
// per-problem datasets are known once a chunk is read, so solve_chunk checks
// every chunk before solving any problem of it, --refine's passes included
// (they solve with no by-name constraints resolved, so per-problem bounds
// must not reach them).
void refuse_seeding_with_constraints(const BatchOptions& options,
                                     const ResolvedConstraints& constraints, const Chunk& chunk);

// Fits problem k of the chunk into its result rows: options.starts starts
// from the estimate, the chunk's x0 or the seed (when given, scaled to the
// problem's intensity), keeping the lowest cost. constraints: resolved
// against the model (every problem's by-name part); the chunk may add
// per-problem bounds and a fixed mask (constraints do not combine with
// seeding or refinement: refuse_seeding_with_constraints).
void solve_problem(const models::Model& model, Chunk& chunk, int k, SolverScratch& scratch,
                   const BatchOptions& options, const ResolvedConstraints& constraints,
                   const Seed* seed = nullptr, const RefineState* refined = nullptr);

// Whether solve_chunk may put the chunk's problems into SIMD lanes: --simd
// auto, lmder or lmdif, any loss, --starts, --x0-from and --refine, bounds
// (by name or per problem), fixed and tied parameters (by name, or by a
// fixed mask: holds_lane_mask), and a CPU with vectors of two doubles or
// more.
bool lanes_apply(const BatchOptions& options, const Chunk& chunk);

// The free parameters of the chunk's lane problems, the lanes' n: those
// free by name (all where nothing is resolved) that the chunk's fixed mask
// does not hold (with a mask per problem, the first problem's).
int lane_parameters(const ResolvedConstraints& constraints, const Chunk& chunk);
// Whether row k's fixed mask holds the parameters lane_parameters left out (those of
// the chunk's first row): only then can it share the lanes' free set; the
// other rows solve alone.
bool holds_lane_mask(const Chunk& chunk, int k);

// Every problem of the chunk, as solve_problem solves it (the same bits):
// where lanes_apply, side by side in SIMD lanes the problems that have every
// sample some problem of the chunk has (all, where none misses one), and the
// others one by one; else one by one.
void solve_chunk(const models::Model& model, Chunk& chunk, SolverScratch& s, LaneScratch& lanes,
                 const BatchOptions& options, const ResolvedConstraints& constraints,
                 const Seed* seed = nullptr, const RefineState* refined = nullptr);

// The seed of --x0-from: reads every problem of the source (serially, in
// order, so the sums do not depend on threads or chunks), forms the
// aggregate and fits it from several starts. Throws std::invalid_argument
// when the input has per-problem x or an x0, and std::runtime_error when
// the aggregate's fit does not give finite parameters.
Seed aggregate_seed(const models::Model& model, ProblemSource& source, const BatchOptions& options);

}  // namespace lmbatch::batch::detail
