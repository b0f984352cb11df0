#include "solve_problem.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>

namespace lmbatch::batch::detail {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

void SolverScratch::size_for(int m_, int n_) {
  if (m_ == m && n_ == n) return;
  m = m_;
  n = n_;
  const auto mm = static_cast<size_t>(m_), nn = static_cast<size_t>(n_);
  workspace.resize(m_, n_);
  xs.resize(mm);
  ys.resize(mm);
  inv_sigma.resize(mm);
  f.resize(mm);
  p.resize(nn);
  estimate_scratch.resize(mm);
  cov_tmp.resize(nn * nn);
  loss_factor.resize(mm);
  loss_at.resize(nn);
  model_jac.resize(mm * nn);
  first_start.resize(nn);
  if (columns.empty()) columns.resize(1);  // one predictor; solve_problem grows it for more
  for (auto* v : {&lower, &upper, &full, &free_lower, &free_upper, &tie_args, &tie_grad})
    v->resize(nn);
  jac_full.resize(mm * nn);
  cov_free.resize(nn * nn);
  role.resize(nn);
  ifree.resize(nn);
  free_at.resize(nn);
}

ProblemRow problem_row(const Chunk& chunk, int k) {
  const auto mm = static_cast<size_t>(chunk.m);
  const size_t row = static_cast<size_t>(k);
  ProblemRow r;
  r.m = chunk.m;
  r.d = static_cast<size_t>(chunk.x_layout == Layout::absent ? 1 : chunk.predictors);
  r.y = chunk.y.data() + row * mm;
  r.x = chunk.x_layout == Layout::absent   ? nullptr
        : chunk.x_layout == Layout::shared ? chunk.x.data()
                                           : chunk.x.data() + row * mm * r.d;
  r.sigma = chunk.sigma_layout == Layout::absent   ? nullptr
            : chunk.sigma_layout == Layout::shared ? chunk.sigma.data()
                                                   : chunk.sigma.data() + row * mm;
  return r;
}

// Copies the present samples into the scratch: each predictor into its
// column of xs, y into ys, sigma into inv_sigma. Returns their count.
int gather_present_samples(const ProblemRow& r, SolverScratch& s) {
  const auto mm = static_cast<size_t>(r.m);
  // Grows once per thread for d >= 2 predictors, not per problem (size_for
  // sized both for one).
  if (s.xs.size() < mm * r.d) s.xs.resize(mm * r.d);
  if (s.columns.size() < r.d) s.columns.resize(r.d);
  for (size_t v = 0; v < r.d; ++v) s.columns[v] = s.xs.data() + v * mm;
  int mv = 0;
  for (int i = 0; i < r.m; ++i) {
    if (!r.present(i)) continue;
    if (r.x) {
      for (size_t v = 0; v < r.d; ++v) s.xs[v * mm + mv] = r.x[static_cast<size_t>(i) * r.d + v];
    } else {
      s.xs[mv] = static_cast<double>(i);
    }
    s.ys[mv] = r.y[i];
    s.inv_sigma[mv] = r.sigma ? r.sigma[i] : 1.0;  // holds sigma; residuals divide by it
    ++mv;
  }
  return mv;
}

// The outputs every problem starts from: NaN covariance and standard
// errors, no Jacobian calls, and with full output NaN/0 infodict arrays.
void reset_outputs(Chunk& chunk, int k, int mv) {
  const auto mm = static_cast<size_t>(chunk.m), nn = static_cast<size_t>(chunk.n);
  const size_t row = static_cast<size_t>(k);
  double* cov = chunk.cov_x.data() + row * nn * nn;
  double* std_error = chunk.std_error.data() + row * nn;
  std::fill(std_error, std_error + nn, kNaN);
  chunk.m_valid[k] = mv;
  chunk.njev[k] = 0;
  std::fill(cov, cov + nn * nn, kNaN);
  std::fill_n(chunk.pegged.data() + row * nn, nn, kPeggedFree);
  if (chunk.full_output) {
    std::fill_n(chunk.fvec.data() + row * mm, mm, kNaN);
    std::fill_n(chunk.fjac.data() + row * nn * mm, nn * mm, kNaN);
    std::fill_n(chunk.ipvt.data() + row * nn, nn, 0);
    std::fill_n(chunk.qtf.data() + row * nn, nn, kNaN);
  }
}

// A problem not solved (fewer present samples than parameters, ier -3; a
// negative count under the poisson loss, ier -5): x and cost NaN.
void mark_not_solved(Chunk& chunk, int k, ProblemStatus status) {
  const auto nn = static_cast<size_t>(chunk.n);
  double* x_out = chunk.x_out.data() + static_cast<size_t>(k) * nn;
  std::fill(x_out, x_out + nn, kNaN);
  chunk.cost[k] = kNaN;
  chunk.nfev[k] = 0;
  chunk.ier[k] = static_cast<std::int16_t>(status);
  chunk.start[k] = static_cast<std::int8_t>(
      chunk.x0_layout == Layout::absent ? StartCode::estimate : StartCode::given_x0);
}

// The problem's intensity relative to the aggregate spectrum: the ratio of
// their sums over the problem's present samples (1 where it is not a
// positive number).
double intensity_ratio(const ProblemRow& r, const Seed& seed) {
  double own = 0.0, aggregate = 0.0;
  for (int i = 0; i < r.m; ++i) {
    if (!r.present(i) || !std::isfinite(seed.y[static_cast<size_t>(i)])) continue;
    own += r.y[i];
    aggregate += seed.y[static_cast<size_t>(i)];
  }
  const double ratio = own / aggregate;
  return std::isfinite(ratio) && ratio > 0.0 ? ratio : 1.0;
}

// x0 into p: the chunk's (shared or per problem), the seed scaled to the
// problem's intensity, or the model's estimate. Returns where it came from.
StartCode starting_point(const models::Model& model, const Chunk& chunk, int k, SolverScratch& s,
                         std::span<const double> xs, std::span<const double> ys,
                         std::span<double> p, const ProblemRow& r, const Seed* seed) {
  const auto nn = static_cast<size_t>(chunk.n);
  if (seed && chunk.x0_layout == Layout::absent) {
    std::copy(seed->x0.begin(), seed->x0.end(), p.begin());
    model.scale_intensity(p, intensity_ratio(r, *seed));
    return StartCode::aggregate;
  }
  if (chunk.x0_layout == Layout::absent) {
    model.estimate(xs, ys, p, std::span<double>(s.estimate_scratch.data(), xs.size()));
    return StartCode::estimate;
  } else {
    const double* x0 = chunk.x0_layout == Layout::shared
                           ? chunk.x0.data()
                           : chunk.x0.data() + static_cast<size_t>(k) * nn;
    std::copy(x0, x0 + nn, p.begin());
  }
  return StartCode::given_x0;
}

namespace {

// splitmix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number
// generators", OOPSLA 2014): a counter-based generator, so that a start's
// perturbation is a function of (problem, start) alone, never of the thread
// or the chunk that solves it.
std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

// Start `start` >= 1 of problem `problem`: each parameter of the first start
// times 2^u, u uniform in [-1, 1): signs (and zeros) stay, so widths and decay
// constants stay positive, while peaks move by up to a factor 2 along x and
// in height.
void perturbed_start(std::span<const double> first, std::size_t problem, int start,
                     std::span<double> p) {
  std::uint64_t state =
      static_cast<std::uint64_t>(problem) * kMaxStarts + static_cast<std::uint64_t>(start);
  splitmix64(state);
  for (std::size_t j = 0; j < p.size(); ++j) {
    const double u = static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53;  // [0, 1)
    p[j] = first[j] * std::exp2(2.0 * u - 1.0);
  }
}

namespace {

// Bounds on the solver's parameters (the free ones), for the leastsq core's
// MPFIT limits; empty: unbounded, the solve is lmdif's/lmder's bit for bit.
struct Bounds {
  std::span<const double> lower, upper;
};

// The core's MPFIT limits over the solver's (free) parameters; none when
// empty, so an unconstrained solve's Options are as before.
void set_bounds(leastsq::Options& opt, const Bounds& bounds) {
  opt.lower = bounds.lower;
  opt.upper = bounds.upper;
}

// /pegged of the free parameters: the core's Workspace::pegged() of the
// returned x (-1 lower, +1 upper; all 0 without bounds or with improper input).
void set_pegged(Chunk& chunk, int k, int n_free, const SolverScratch& s,
                const leastsq::Workspace& ws) {
  const auto pegged = ws.pegged();
  std::int8_t* out = chunk.pegged.data() + static_cast<size_t>(k) * chunk.n;
  for (int a = 0; a < n_free && static_cast<size_t>(a) < pegged.size(); ++a)
    out[s.ifree[static_cast<size_t>(a)]] = pegged[static_cast<size_t>(a)];
}

// MINPACK lmder with the Jacobian functor, or lmdif (forward differences of
// the residuals), from p (updated in place).
template <class Residuals, class Jacobian>
leastsq::Summary minpack(Residuals& residuals, Jacobian& jacobian, int mv, int n, SolverScratch& s,
                         std::span<double> p, const BatchOptions& options,
                         const Bounds& bounds = {}) {
  leastsq::Options opt = options.solver;
  opt.col_deriv = true;
  set_bounds(opt, bounds);
  s.workspace.resize(mv, n);  // no allocation: capacity is (m, n)
  return options.jacobian == JacobianMode::analytic
             ? leastsq::lmder(residuals, jacobian, p, s.workspace, opt)
             : leastsq::lmdif(residuals, p, s.workspace, opt);
}

// MINPACK on r = (y - f) / sigma from p (updated in place), with the
// model's Jacobian (lmder) or forward differences (lmdif). Model: a
// models::Model, or a ReducedModel over the free parameters of a constrained
// problem.
template <class Model>
leastsq::Summary run_solver(const Model& model, const models::Predictors& predictors, bool weighted,
                            int mv, int n, SolverScratch& s, std::span<double> p,
                            const BatchOptions& options, const Bounds& bounds = {}) {
  const std::span<const double> ys(s.ys.data(), static_cast<size_t>(mv));
  const std::span<double> f(s.f.data(), static_cast<size_t>(mv));
  // r = (y - f) / sigma; dr/dp = -(df/dp) / sigma, column-major (col_deriv).
  auto residuals = [&](std::span<const double> params, std::span<double> r) {
    model.value(params, predictors, f);
    if (weighted) {
      for (int i = 0; i < mv; ++i) r[i] = (ys[i] - f[i]) / s.inv_sigma[i];
    } else {
      for (int i = 0; i < mv; ++i) r[i] = ys[i] - f[i];
    }
  };
  auto jacobian = [&](std::span<const double> params, std::span<double> jac) {
    model.jacobian(params, predictors, jac);
    for (int j = 0; j < n; ++j) {
      double* col = jac.data() + static_cast<size_t>(j) * mv;
      if (weighted) {
        for (int i = 0; i < mv; ++i) col[i] = -col[i] / s.inv_sigma[i];
      } else {
        for (int i = 0; i < mv; ++i) col[i] = -col[i];
      }
    }
  };
  return minpack(residuals, jacobian, mv, n, s, p, options, bounds);
}

// MINPACK on transformed residuals r_i (a robust loss's, or Poisson's
// deviance residuals) whose sum of squares is the objective, with
// dr_i/dp = -g_i (df_i/dp) / sigma_i: `sample(i, f_i)` returns {r_i, g_i}.
// A separate function from run_solver, chosen once per problem, so that the
// linear loss runs the plain residuals untouched; one instance per loss, so
// that the per-sample transform has no switch.
template <class Model, class Sample>
leastsq::Summary run_transformed_solver(const Model& model, const models::Predictors& predictors,
                                        bool weighted, int mv, int n, SolverScratch& s,
                                        std::span<double> p, const BatchOptions& options,
                                        const Bounds& bounds, Sample sample) {
  const std::span<double> f(s.f.data(), static_cast<size_t>(mv));
  const bool analytic = options.jacobian == JacobianMode::analytic;
  // Fills r (and, for lmder, the factors g at params) from the model's values.
  auto transform = [&](std::span<const double> params, double* r) {
    model.value(params, predictors, f);
    for (int i = 0; i < mv; ++i) {
      const RobustResidual t = sample(i, f[i]);
      if (r) r[i] = t.r;
      s.loss_factor[i] = t.g;
    }
    std::copy(params.begin(), params.end(), s.loss_at.begin());
  };
  auto residuals = [&](std::span<const double> params, std::span<double> r) {
    if (!analytic) {  // lmdif differences r itself: no factors needed
      model.value(params, predictors, f);
      for (int i = 0; i < mv; ++i) r[i] = sample(i, f[i]).r;
      return;
    }
    transform(params, r.data());
  };
  auto jacobian = [&](std::span<const double> params, std::span<double> jac) {
    // MINPACK asks for the Jacobian at the point it evaluated last (the
    // accepted one); should it not, the factors are evaluated here.
    if (!std::equal(params.begin(), params.end(), s.loss_at.begin())) transform(params, nullptr);
    model.jacobian(params, predictors, jac);
    for (int j = 0; j < n; ++j) {
      double* col = jac.data() + static_cast<size_t>(j) * mv;
      if (weighted) {
        for (int i = 0; i < mv; ++i) col[i] = -col[i] / s.inv_sigma[i] * s.loss_factor[i];
      } else {
        for (int i = 0; i < mv; ++i) col[i] = -col[i] * s.loss_factor[i];
      }
    }
  };
  return minpack(residuals, jacobian, mv, n, s, p, options, bounds);
}

// A robust loss (r_i = sign(e_i) C sqrt(rho((e_i/C)^2)) of e_i = (y_i - f_i) /
// sigma_i, whose sum of squares is the robust objective; loss.hpp says why
// this and not scipy's IRLS scaling) or Poisson maximum likelihood (the
// deviance residuals of the counts y against f; sigma plays no part), each
// sample through `transformed`, as the lanes transform theirs.
template <class Model>
leastsq::Summary run_robust(const Model& model, const models::Predictors& predictors, bool weighted,
                            int mv, int n, SolverScratch& s, std::span<double> p,
                            const BatchOptions& options, const Bounds& bounds = {}) {
  const double* ys = s.ys.data();
  const double* sigma = s.inv_sigma.data();
  const double scale = options.f_scale;
  const bool weigh = weighted && options.loss != Loss::poisson;
  const auto run = [&](auto sample) {
    return run_transformed_solver(model, predictors, weigh, mv, n, s, p, options, bounds, sample);
  };
  return with_loss(options.loss, [&](auto loss) {
    constexpr Loss L = decltype(loss)::value;
    // Unweighted: sigma the constant 1, so that no division is left.
    if (weigh)
      return run([=](int i, double fi) { return transformed<L>(ys[i], sigma[i], fi, scale); });
    return run([=](int i, double fi) { return transformed<L>(ys[i], 1.0, fi, scale); });
  });
}

// The plain or the robust solve from p, as the options say.
leastsq::Summary solve_from(const models::Model& model, const models::Predictors& predictors,
                            bool weighted, int mv, int n, SolverScratch& s, std::span<double> p,
                            const BatchOptions& options) {
  return options.loss == Loss::linear
             ? run_solver(model, predictors, weighted, mv, n, s, p, options)
             : run_robust(model, predictors, weighted, mv, n, s, p, options);
}

}  // namespace

// x, status, counts and cost; cov_x and standard errors where converged.
void store_solution(Chunk& chunk, int k, const leastsq::Summary& summary, std::span<const double> p,
                    int mv, const leastsq::Workspace& workspace, std::span<double> cov_tmp) {
  const int n = chunk.n;
  const auto nn = static_cast<size_t>(n);
  const size_t row = static_cast<size_t>(k);
  double* x_out = chunk.x_out.data() + row * nn;
  double* cov = chunk.cov_x.data() + row * nn * nn;
  double* std_error = chunk.std_error.data() + row * nn;
  std::copy(p.begin(), p.end(), x_out);
  chunk.ier[k] = static_cast<std::int16_t>(leastsq::ier(summary.status));
  chunk.nfev[k] = summary.nfev;
  chunk.njev[k] = summary.njev;
  // The sum of squares MINPACK minimised: with a robust loss, of the
  // transformed residuals, C^2 sum rho (twice scipy least_squares' cost), and
  // cov_x below is from their Jacobian (the Gauss-Newton covariance there);
  // with poisson, the deviance.
  chunk.cost[k] = solve_cost(summary);
  if (leastsq::converged(summary.status)) {
    // cov_x is n x n; covariance() writes it row-major into the chunk.
    if (!leastsq::covariance(workspace, std::span<double>(cov, nn * nn), cov_tmp)) {
      std::fill(cov, cov + nn * nn, kNaN);
    } else if (mv > n) {
      // The docstring's scaling of cov_x: residual variance s^2 = cost / (m - n).
      const double s2 = chunk.cost[k] / static_cast<double>(mv - n);
      for (int j = 0; j < n; ++j)
        std_error[j] = std::sqrt(cov[static_cast<size_t>(j) * (n + 1)] * s2);
    }
  }
}

// scipy's infodict arrays from the workspace. ns: the solver's parameters
// (n, or a constrained problem's n_free: its first ns rows of fjac, ipvt and
// qtf are the solver's, numbering the free parameters).
void store_full_output(Chunk& chunk, int k, const ProblemRow& r, int mv,
                       const leastsq::Workspace& workspace, int ns) {
  const int m = chunk.m, n = ns;
  const auto mm = static_cast<size_t>(m), nn = static_cast<size_t>(chunk.n);
  const size_t row = static_cast<size_t>(k);
  // fvec goes back to the samples' positions (missing samples stay NaN).
  // fjac is scipy's n x m_valid array (MINPACK's column-major m_valid x n),
  // packed at the start of each of its n rows of length m.
  const auto fvec = workspace.fvec();
  const auto fjac = workspace.fjac();
  double* fvec_out = chunk.fvec.data() + row * mm;
  double* fjac_out = chunk.fjac.data() + row * nn * mm;
  for (int i = 0, iv = 0; i < m; ++i)
    if (r.present(i)) fvec_out[i] = fvec[iv++];
  // A solve that ended before its first Jacobian (residuals at x0 not
  // finite) has no factorisation: fjac and qtf stay NaN, ipvt 0 (the
  // workspace holds the previous problem's).
  if (!workspace.factored()) return;
  for (int j = 0; j < n; ++j)
    std::copy_n(fjac.data() + static_cast<size_t>(j) * mv, mv,
                fjac_out + static_cast<size_t>(j) * mm);
  for (int j = 0; j < n; ++j) {
    chunk.ipvt[row * nn + j] = workspace.ipvt()[j] + 1;
    chunk.qtf[row * nn + j] = workspace.qtf()[j];
  }
}

namespace {

// store_solution with the problem's own workspace.
void store_solution(Chunk& chunk, int k, const leastsq::Summary& summary, std::span<const double> p,
                    int mv, SolverScratch& s) {
  detail::store_solution(chunk, k, summary, p, mv, s.workspace, s.cov_tmp);
}

// A converged Poisson fit's cov_x is the inverse Fisher information (not
// MINPACK's (J^T J)^-1 of the deviance residuals, which equals it only where
// y == f) and its standard errors are sqrt(diag(cov_x)), unscaled: the
// Poisson variance is the model's own, there is no residual variance to
// estimate.
void store_poisson_covariance(const models::Model& model, const models::Predictors& predictors,
                              Chunk& chunk, int k, int mv, SolverScratch& s,
                              std::span<const double> p) {
  const int n = chunk.n;
  const auto nn = static_cast<size_t>(n);
  const size_t row = static_cast<size_t>(k);
  double* cov = chunk.cov_x.data() + row * nn * nn;
  double* std_error = chunk.std_error.data() + row * nn;
  if (!inverse_fisher_information(model, predictors, mv, n, s, p, cov)) {
    std::fill(cov, cov + nn * nn, kNaN);
    std::fill(std_error, std_error + nn, kNaN);
    return;
  }
  for (int j = 0; j < n; ++j) std_error[j] = std::sqrt(cov[static_cast<size_t>(j) * (n + 1)]);
}

// ---- constrained problems (constraints.hpp; MPFIT's fixed, tied and limited) ----

// Problem k's row of a per-problem constraint input (nullptr: absent).
const double* constraint_row(const Chunk& chunk, Layout layout, const std::vector<double>& v,
                             int k) {
  if (layout == Layout::absent) return nullptr;
  return layout == Layout::shared ? v.data() : v.data() + static_cast<size_t>(k) * chunk.n;
}

// The problem's bounds (the by-name ones and the chunk's, both holding) and
// roles, and its free set; returns n_free. Throws std::invalid_argument,
// naming the problem and the parameter, where a free parameter's lower bound
// is not below its upper or the mask holds a tied parameter.
int problem_constraints(const models::Model& model, const Chunk& chunk, int k,
                        const ResolvedConstraints& rc, SolverScratch& s) {
  const double* lo_row = constraint_row(chunk, chunk.lower_layout, chunk.lower, k);
  const double* hi_row = constraint_row(chunk, chunk.upper_layout, chunk.upper, k);
  const double* fixed_row = constraint_row(chunk, chunk.fixed_layout, chunk.fixed, k);
  const auto problem = [&] {
    return "problem " + std::to_string(chunk.first + k) + ": parameter ";
  };
  int n_free = 0;
  for (int j = 0; j < chunk.n; ++j) {
    const auto jj = static_cast<size_t>(j);
    double lo = rc.lower[jj], hi = rc.upper[jj];
    if (lo_row && std::isfinite(lo_row[j])) lo = std::max(lo, lo_row[j]);
    if (hi_row && std::isfinite(hi_row[j])) hi = std::min(hi, hi_row[j]);
    ParameterRole role = rc.role[jj];
    if (fixed_row && fixed_row[j] != 0.0) {
      if (role == ParameterRole::tied)
        throw std::invalid_argument(problem() + model.parameter_names()[jj] +
                                    " is tied and held by the fixed mask");
      role = ParameterRole::fixed;
    }
    if (role == ParameterRole::free && !(lo < hi)) {
      char bounds[96];
      std::snprintf(bounds, sizeof bounds, "the lower bound %g is not below the upper bound %g", lo,
                    hi);
      throw std::invalid_argument(problem() + model.parameter_names()[jj] + ": " + bounds);
    }
    s.lower[jj] = lo;
    s.upper[jj] = hi;
    s.role[jj] = role;
    s.free_at[jj] = role == ParameterRole::free ? n_free : -1;
    if (role == ParameterRole::free) {
      s.ifree[static_cast<size_t>(n_free)] = j;
      s.free_lower[static_cast<size_t>(n_free)] = lo;
      s.free_upper[static_cast<size_t>(n_free)] = hi;
      ++n_free;
    }
  }
  return n_free;
}

// /pegged of the held (fixed or tied) parameters; the free ones as given.
void store_roles(Chunk& chunk, int k, const SolverScratch& s) {
  std::int8_t* pegged = chunk.pegged.data() + static_cast<size_t>(k) * chunk.n;
  for (int j = 0; j < chunk.n; ++j)
    if (s.role[static_cast<size_t>(j)] != ParameterRole::free) pegged[j] = kPeggedHeld;
}

// Given starting values outside the bounds: ier -6, x the start as given.
void mark_start_outside(Chunk& chunk, int k, std::span<const double> p) {
  std::copy(p.begin(), p.end(), chunk.x_out.data() + static_cast<size_t>(k) * chunk.n);
  chunk.cost[k] = kNaN;
  chunk.nfev[k] = 0;
  chunk.ier[k] = static_cast<std::int16_t>(ProblemStatus::start_outside_bounds);
}

// x (full), status, counts and cost; cov_x and standard errors over the free
// parameters the bounds leave free, NaN for the others (the core's
// covariance() gives NaN rows for pegged ones). The residual variance is
// cost / (m_valid - n_free): fixed and tied parameters are not estimated
// (MPFIT's and lmfit's degrees of freedom; a pegged parameter still counts).
void store_constrained_solution(Chunk& chunk, int k, const leastsq::Summary& summary, int mv,
                                int n_free, SolverScratch& s, const leastsq::Workspace& ws) {
  const int n = chunk.n;
  const auto nn = static_cast<size_t>(n), nf = static_cast<size_t>(n_free);
  const size_t row = static_cast<size_t>(k);
  double* cov = chunk.cov_x.data() + row * nn * nn;
  double* std_error = chunk.std_error.data() + row * nn;
  std::copy_n(s.full.data(), nn, chunk.x_out.data() + row * nn);
  chunk.ier[k] = static_cast<std::int16_t>(leastsq::ier(summary.status));
  chunk.nfev[k] = summary.nfev;
  chunk.njev[k] = summary.njev;
  chunk.cost[k] = solve_cost(summary);
  store_roles(chunk, k, s);
  set_pegged(chunk, k, n_free, s, ws);
  if (!leastsq::converged(summary.status)) return;
  if (!leastsq::covariance(ws, std::span<double>(s.cov_free.data(), nf * nf), s.cov_tmp))
    return;  // stays NaN
  const double s2 = mv > n_free ? chunk.cost[k] / static_cast<double>(mv - n_free) : kNaN;
  for (size_t a = 0; a < nf; ++a) {
    const auto ja = static_cast<size_t>(s.ifree[a]);
    for (size_t b = 0; b < nf; ++b)
      cov[ja * nn + static_cast<size_t>(s.ifree[b])] = s.cov_free[a * nf + b];
    if (mv > n_free) std_error[ja] = std::sqrt(s.cov_free[a * nf + a] * s2);
  }
}

// A converged Poisson fit's covariance (store_poisson_covariance) over the
// free parameters the bounds leave free: the inverse Fisher information of
// those alone (as covariance() does for MINPACK's, the pegged ones held),
// scattered into the full n x n with NaN for the others. Runs after the solve
// and set_pegged: it narrows the free set (s.ifree) and q (s.p) to the
// unpegged parameters in place.
void store_constrained_poisson_covariance(const ReducedModel& reduced,
                                          const models::Predictors& predictors, Chunk& chunk, int k,
                                          int mv, int n_free, SolverScratch& s) {
  const auto nn = static_cast<size_t>(chunk.n);
  const size_t row = static_cast<size_t>(k);
  double* cov = chunk.cov_x.data() + row * nn * nn;
  double* std_error = chunk.std_error.data() + row * nn;
  std::fill(cov, cov + nn * nn, kNaN);
  std::fill(std_error, std_error + nn, kNaN);
  int n_open = 0;
  for (int a = 0; a < n_free; ++a) {
    const auto j = static_cast<size_t>(s.ifree[static_cast<size_t>(a)]);
    s.free_at[j] = -1;
    if (chunk.pegged[row * nn + j] != kPeggedFree) continue;
    s.ifree[static_cast<size_t>(n_open)] = static_cast<int>(j);
    s.free_at[j] = n_open;
    s.p[static_cast<size_t>(n_open)] = s.full[j];
    ++n_open;
  }
  if (n_open == 0) return;
  const ReducedModel open{reduced.model, reduced.rc, s, n_open};
  const auto no = static_cast<size_t>(n_open);
  if (!inverse_fisher_information(open, predictors, mv, n_open, s,
                                  std::span<const double>(s.p.data(), no), s.cov_free.data()))
    return;
  for (size_t a = 0; a < no; ++a) {
    const auto ja = static_cast<size_t>(s.ifree[a]);
    for (size_t b = 0; b < no; ++b)
      cov[ja * nn + static_cast<size_t>(s.ifree[b])] = s.cov_free[a * no + b];
    std_error[ja] = std::sqrt(s.cov_free[a * no + a]);
  }
}

// A constrained solve's rows from its workspace, the full x in s.full:
// solution, pegged, cov_x over the unpegged free parameters (Poisson's
// inverse Fisher information), the full output.
void store_constrained(const models::Model& model, const ResolvedConstraints& rc, Chunk& chunk,
                       int k, const leastsq::Summary& summary, const ProblemRow& r,
                       const models::Predictors& predictors, int mv, int n_free, SolverScratch& s,
                       const leastsq::Workspace& ws, const BatchOptions& options) {
  store_constrained_solution(chunk, k, summary, mv, n_free, s, ws);
  if (options.loss == Loss::poisson && leastsq::converged(summary.status))
    store_constrained_poisson_covariance(ReducedModel{model, rc, s, n_free}, predictors, chunk, k,
                                         mv, n_free, s);
  if (chunk.full_output && summary.status != leastsq::Status::improper_input)
    store_full_output(chunk, k, r, mv, ws, n_free);
}

}  // namespace

bool constrain_start(const models::Model& model, Chunk& chunk, int k, const ResolvedConstraints& rc,
                     SolverScratch& s, int n_free, std::span<double> q) {
  const std::span<double> p(s.full.data(), static_cast<size_t>(chunk.n));
  const bool given = chunk.x0_layout != Layout::absent;
  for (int j = 0; j < chunk.n; ++j) {
    const auto jj = static_cast<size_t>(j);
    if (s.role[jj] == ParameterRole::fixed) {
      if (!std::isnan(rc.fixed_value[jj])) p[jj] = rc.fixed_value[jj];
    } else if (s.role[jj] == ParameterRole::free &&
               !(p[jj] >= s.lower[jj] && p[jj] <= s.upper[jj])) {
      // A given start outside explicit bounds is the caller's mistake, said
      // per problem; an estimate is only a guess, projected into the bounds.
      if (given) {
        mark_start_outside(chunk, k, p);
        store_roles(chunk, k, s);
        return false;
      }
      p[jj] = std::clamp(p[jj], s.lower[jj], s.upper[jj]);
    }
  }
  for (int a = 0; a < n_free; ++a) q[a] = p[static_cast<size_t>(s.ifree[a])];
  // The tied parameters of x when the solve stops at once.
  ReducedModel{model, rc, s, n_free}.expand(q);
  return true;
}

namespace {

void solve_constrained(const models::Model& model, Chunk& chunk, int k, SolverScratch& s,
                       const BatchOptions& options, const ResolvedConstraints& rc,
                       const ProblemRow& r, int mv) {
  const int n = chunk.n;
  const int n_free = problem_constraints(model, chunk, k, rc, s);
  if (mv < n_free) {
    mark_not_solved(chunk, k, ProblemStatus::too_few_samples);
    return store_roles(chunk, k, s);
  }
  if (options.loss == Loss::poisson && has_negative_count(s.ys.data(), static_cast<size_t>(mv))) {
    mark_not_solved(chunk, k, ProblemStatus::negative_count);
    return store_roles(chunk, k, s);
  }
  const auto valid = static_cast<size_t>(mv);
  const int d = static_cast<int>(r.d);
  const std::span<const double> xs(s.xs.data(), valid);
  const std::span<const double> ys(s.ys.data(), valid);
  const models::Predictors predictors{s.columns.data(), d, valid};
  starting_point(model, chunk, k, s, xs, ys,
                 std::span<double>(s.full.data(), static_cast<size_t>(n)), r, nullptr);
  std::span<double> q(s.p.data(), static_cast<size_t>(n_free));
  if (!constrain_start(model, chunk, k, rc, s, n_free, q)) return;
  const ReducedModel reduced{model, rc, s, n_free};
  const Bounds bounds =
      rc.has_bounds || chunk.lower_layout != Layout::absent || chunk.upper_layout != Layout::absent
          ? Bounds{{s.free_lower.data(), static_cast<size_t>(n_free)},
                   {s.free_upper.data(), static_cast<size_t>(n_free)}}
          : Bounds{};
  const bool weighted = r.sigma != nullptr;
  const leastsq::Summary summary =
      options.loss == Loss::linear
          ? run_solver(reduced, predictors, weighted, mv, n_free, s, q, options, bounds)
          : run_robust(reduced, predictors, weighted, mv, n_free, s, q, options, bounds);
  reduced.expand(q);  // the full x at the solution
  store_constrained(model, rc, chunk, k, summary, r, predictors, mv, n_free, s, s.workspace,
                    options);
}

}  // namespace

bool constrained(const ResolvedConstraints& constraints, const Chunk& chunk) {
  return constraints.any() || chunk.lower_layout != Layout::absent ||
         chunk.upper_layout != Layout::absent || chunk.fixed_layout != Layout::absent;
}

void refuse_seeding_with_constraints(const BatchOptions& options,
                                     const ResolvedConstraints& constraints, const Chunk& chunk) {
  const bool seeding =
      options.starts > 1 || options.x0_from != X0From::none || options.refine != Refine::none;
  if (seeding && constrained(constraints, chunk))
    throw std::invalid_argument(
        "starts, x0_from and refine do not combine with constraints (bounds, fix, tie, "
        "lower, upper, fixed) yet");
}

void solve_problem(const models::Model& model, Chunk& chunk, int k, SolverScratch& s,
                   const BatchOptions& options, const ResolvedConstraints& constraints,
                   const Seed* seed, const RefineState* refined) {
  const ProblemRow r = problem_row(chunk, k);
  const int d = static_cast<int>(r.d);
  if (!model.accepts_predictors(d)) model.check_predictors(d);  // throws, naming the term
  const int mv = gather_present_samples(r, s);
  reset_outputs(chunk, k, mv);
  if (constrained(constraints, chunk)) {
    refuse_seeding_with_constraints(options, constraints, chunk);
    chunk.start[k] = static_cast<std::int8_t>(
        chunk.x0_layout == Layout::absent ? StartCode::estimate : StartCode::given_x0);
    return solve_constrained(model, chunk, k, s, options, constraints, r, mv);
  }
  if (mv < chunk.n) return mark_not_solved(chunk, k, ProblemStatus::too_few_samples);
  // Poisson counts are >= 0 (not necessarily integers: loss.hpp's deviance
  // holds for any y >= 0, so gain-scaled or background-subtracted counts fit).
  if (options.loss == Loss::poisson && has_negative_count(s.ys.data(), static_cast<size_t>(mv)))
    return mark_not_solved(chunk, k, ProblemStatus::negative_count);

  const auto valid = static_cast<size_t>(mv);
  const std::span<const double> xs(s.xs.data(), valid);  // x (d == 1)
  const std::span<const double> ys(s.ys.data(), valid);
  const models::Predictors predictors{s.columns.data(), d, valid};
  std::span<double> p(s.p.data(), static_cast<size_t>(chunk.n));
  const size_t problem = chunk.first + static_cast<size_t>(k);
  if (refined && refined->holds(problem) &&
      std::isfinite(refined->from[(problem - refined->first) * static_cast<size_t>(chunk.n)])) {
    // Refined: the one start its last improving refinement solved from, so
    // the same solve (bits) with the workspace for cov_x and full output.
    const double* from = refined->from.data() + (problem - refined->first) * chunk.n;
    std::copy(from, from + chunk.n, p.begin());
    const leastsq::Summary summary =
        solve_from(model, predictors, r.sigma != nullptr, mv, chunk.n, s, p, options);
    store_solution(chunk, k, summary, p, mv, s);
    if (options.loss == Loss::poisson && leastsq::converged(summary.status))
      store_poisson_covariance(model, predictors, chunk, k, mv, s, p);
    if (chunk.full_output && summary.status != leastsq::Status::improper_input)
      store_full_output(chunk, k, r, mv, s.workspace, chunk.n);
    chunk.start[k] = static_cast<std::int8_t>(StartCode::neighbour);
    return;
  }
  const StartCode first = starting_point(model, chunk, k, s, xs, ys, p, r, seed);
  if (options.starts > 1) std::copy(p.begin(), p.end(), s.first_start.begin());
  const bool weighted = r.sigma != nullptr;
  // Each start solves into the workspace; a start with a lower cost than the
  // kept one (a number where the kept one is NaN) replaces the problem's rows,
  // while the workspace still holds its factorisation (cov_x, full output).
  // From a seed, the problem's own estimate is the last start: the seed can
  // only improve on the estimate (a cube whose peaks move from pixel to
  // pixel has a smeared aggregate).
  const bool own_estimate_too = first == StartCode::aggregate && model.can_estimate();
  const int starts = options.starts + (own_estimate_too ? 1 : 0);
  for (int start = 0, kept = 0; start < starts; ++start) {
    StartCode code = start == 0 ? first : StartCode::perturbed;
    if (start == options.starts) {
      model.estimate(xs, ys, p, std::span<double>(s.estimate_scratch.data(), xs.size()));
      code = StartCode::estimate;
    } else if (start > 0) {
      perturbed_start(s.first_start, chunk.first + static_cast<size_t>(k), start, p);
    }
    const leastsq::Summary summary =
        solve_from(model, predictors, weighted, mv, chunk.n, s, p, options);
    if (start > 0) {
      if (!start_wins(solve_cost(summary), start, chunk.cost[k], kept)) continue;
      reset_outputs(chunk, k, mv);
      kept = start;
    }
    store_solution(chunk, k, summary, p, mv, s);
    if (options.loss == Loss::poisson && leastsq::converged(summary.status))
      store_poisson_covariance(model, predictors, chunk, k, mv, s, p);
    if (chunk.full_output && summary.status != leastsq::Status::improper_input)
      store_full_output(chunk, k, r, mv, s.workspace, chunk.n);
    chunk.start[k] = static_cast<std::int8_t>(
        code == StartCode::perturbed ? static_cast<int>(code) + start : static_cast<int>(code));
  }
}

void RefineState::size_for(std::size_t first_, std::size_t count_, std::size_t width_, int n_) {
  first = first_;
  count = count_;
  width = width_;
  n = n_;
  const std::size_t nn = static_cast<std::size_t>(n_);
  x.assign(count_ * nn, kNaN);
  cost.assign(count_, kNaN);
  m_valid.assign(count_, 0);
  ier.assign(count_, static_cast<std::int16_t>(ProblemStatus::never_written));
  from.assign(count_ * nn, kNaN);
}

void capture_solution(const Chunk& chunk, int k, RefineState& state) {
  const std::size_t nn = static_cast<std::size_t>(chunk.n);
  const std::size_t row = chunk.first + static_cast<std::size_t>(k) - state.first;
  std::copy_n(chunk.x_out.data() + static_cast<std::size_t>(k) * nn, nn, state.x.data() + row * nn);
  state.cost[row] = chunk.cost[k];
  state.m_valid[row] = chunk.m_valid[k];
  state.ier[row] = chunk.ier[k];
}

int refine_candidates(const Chunk& chunk, int k, const RefineState& prev, RefineState& next,
                      std::array<std::size_t, 8>& at) {
  const int n = chunk.n;
  const std::size_t nn = static_cast<std::size_t>(n);
  const std::size_t problem = chunk.first + static_cast<std::size_t>(k);
  const std::size_t row = problem - prev.first;
  std::copy_n(prev.x.data() + row * nn, nn, next.x.data() + row * nn);
  std::copy_n(prev.from.data() + row * nn, nn, next.from.data() + row * nn);
  next.cost[row] = prev.cost[row];
  next.m_valid[row] = prev.m_valid[row];
  next.ier[row] = prev.ier[row];
  // Not solved from any start (too few samples, or a negative count under
  // poisson, whose refits all end NaN): nothing to refit.
  if (prev.m_valid[row] < n ||
      prev.ier[row] == static_cast<std::int16_t>(ProblemStatus::negative_count))
    return 0;
  // Cost per sample: neighbours may miss different samples. A NaN cost is
  // above every number.
  auto per_sample = [&](std::size_t i) {
    const double c = prev.cost[i] / static_cast<double>(prev.m_valid[i]);
    return std::isnan(c) ? std::numeric_limits<double>::infinity() : c;
  };
  const double own = per_sample(row);
  const std::size_t w = prev.width;
  const std::size_t line = problem / w, column = problem % w;
  int count = 0;
  for (int dr = -1; dr <= 1; ++dr) {
    for (int dc = -1; dc <= 1; ++dc) {
      if ((dr == 0 && dc == 0) || (dr < 0 && line == 0) || (dc < 0 && column == 0) ||
          (dc > 0 && column + 1 == w))
        continue;
      const std::size_t j = (line + static_cast<std::size_t>(dr + 1) - 1) * w + column +
                            static_cast<std::size_t>(dc + 1) - 1;
      if (!prev.holds(j)) continue;
      const std::size_t i = j - prev.first;
      if (prev.m_valid[i] < n || !converged(prev.ier[i]) || !(per_sample(i) < own)) continue;
      const double* start = prev.x.data() + i * nn;
      if (!std::all_of(start, start + nn, [](double v) { return std::isfinite(v); })) continue;
      at[static_cast<std::size_t>(count++)] = i;
    }
  }
  return count;
}

void keep_refit(RefineState& next, std::size_t row, const leastsq::Summary& summary,
                std::span<const double> p, const double* from) {
  const std::size_t nn = p.size();
  next.cost[row] = solve_cost(summary);
  next.ier[row] = static_cast<std::int16_t>(leastsq::ier(summary.status));
  std::copy(p.begin(), p.end(), next.x.data() + row * nn);
  std::copy_n(from, nn, next.from.data() + row * nn);
}

bool refine_problem(const models::Model& model, Chunk& chunk, int k, SolverScratch& s,
                    const BatchOptions& options, const RefineState& prev, RefineState& next) {
  std::array<std::size_t, 8> at{};
  const int count = refine_candidates(chunk, k, prev, next, at);
  if (count == 0) return false;
  const std::size_t nn = static_cast<std::size_t>(chunk.n);
  const std::size_t row = chunk.first + static_cast<std::size_t>(k) - prev.first;
  const int mv = prev.m_valid[row];
  const ProblemRow r = problem_row(chunk, k);
  gather_present_samples(r, s);
  const models::Predictors predictors{s.columns.data(), static_cast<int>(r.d),
                                      static_cast<size_t>(mv)};
  bool improved = false;
  for (int c = 0, kept = -1; c < count; ++c) {
    const double* start = prev.x.data() + at[static_cast<std::size_t>(c)] * nn;
    std::span<double> p(s.p.data(), nn);
    std::copy_n(start, nn, p.begin());
    const leastsq::Summary summary =
        solve_from(model, predictors, r.sigma != nullptr, mv, chunk.n, s, p, options);
    // The own solution is "start" -1: a refit must be strictly lower (or a
    // number where the own cost is NaN).
    if (!start_wins(solve_cost(summary), c, next.cost[row], kept)) continue;
    kept = c;
    keep_refit(next, row, summary, p, start);
    improved = true;
  }
  return improved;
}

int lane_start(const models::Model& model, Chunk& chunk, int k, const ResolvedConstraints& rc,
               SolverScratch& s, std::span<double> q) {
  const int n_free = problem_constraints(model, chunk, k, rc, s);
  return constrain_start(model, chunk, k, rc, s, n_free, q) ? n_free : -1;
}

void store_lane_constrained(const models::Model& model, Chunk& chunk, int k,
                            const ResolvedConstraints& rc, const leastsq::Summary& summary,
                            std::span<const double> q, const leastsq::Workspace& ws,
                            SolverScratch& s, const BatchOptions& options) {
  const ProblemRow r = problem_row(chunk, k);
  const int mv = gather_present_samples(r, s);
  const auto n_free = static_cast<int>(q.size());
  ReducedModel{model, rc, s, n_free}.expand(q);  // the full x at the solution
  const models::Predictors predictors{s.columns.data(), static_cast<int>(r.d),
                                      static_cast<size_t>(mv)};
  store_constrained(model, rc, chunk, k, summary, r, predictors, mv, n_free, s, ws, options);
}

void store_poisson_covariance(const models::Model& model, Chunk& chunk, int k, SolverScratch& s,
                              std::span<const double> p) {
  const ProblemRow r = problem_row(chunk, k);
  const int mv = gather_present_samples(r, s);
  const models::Predictors predictors{s.columns.data(), static_cast<int>(r.d),
                                      static_cast<size_t>(mv)};
  store_poisson_covariance(model, predictors, chunk, k, mv, s, p);
}

}  // namespace lmbatch::batch::detail
