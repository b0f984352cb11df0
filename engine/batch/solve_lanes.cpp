// A chunk's problems in SIMD lanes (--simd auto; leastsq/lanes.hpp): every
// problem whose solve is the plain or the constrained one (lmder or lmdif, any
// loss, --starts, --x0-from, --refine's passes, bounds, fixed and tied
// parameters, a fixed mask that holds the same parameters in every problem
// of the chunk, counts >= 0 under poisson) and that has every sample of the
// lanes
// (lane_samples: the chunk's samples, less those no problem has) goes into a
// lane, each of its starts or refits a lane's problem; the others go through
// solve_problem. A lane's problem gets solve_problem's bits (the same start,
// residuals, Jacobian, MINPACK arithmetic and choice among starts), so results
// do not depend on which problems share lanes, nor on --simd.
#include <algorithm>
#include <cmath>
#include <limits>

#include "lmbatch/batch/loss.hpp"
#include "lmbatch/simd/lanes.hpp"
#include "solve_problem.hpp"

namespace lmbatch::batch::detail {

void LaneScratch::size_for(int m_, int n_, int n_solve_, bool analytic) {
  if (lmder && m_ == m && n_ == n && n_solve_ == n_solve && lmder->analytic_jacobian() == analytic)
    return;
  m = m_;
  n = n_;
  n_solve = n_solve_;
  lmder.emplace(m_, n_solve_, analytic);
  lane.resize(static_cast<size_t>(lmder->width()));
  for (SolverScratch& s : lane) s.size_for(m_, n_);
  problem.assign(lane.size(), -1);
  start.assign(lane.size(), 0);
  neighbour.assign(lane.size(), 0);
  options.assign(lane.size(), leastsq::Options{});
  const auto mm = static_cast<size_t>(m_);
  x.assign(mm, 0.0);  // samples: sized by lane_samples
  for (leastsq::LaneVector* v : {&y, &sigma, &f, &g}) v->assign(mm * lane.size(), 1.0);
  const size_t held = n_solve_ < n_ ? static_cast<size_t>(n_) * lane.size() : 0;
  full_x.assign(held, 0.0);
  full_jac.assign(held * mm, 0.0);
  tie_grad.assign(held, 0.0);
}

bool lanes_apply(const BatchOptions& options, const Chunk& chunk) {
  // Either Jacobian mode: lmder and lmdif both run in lanes; --starts and
  // --x0-from's starts too (each start a lane's problem), --refine's passes,
  // bounds (MPFIT's limits, per lane) and fixed and tied parameters (the
  // same free set in every lane: lane_parameters).
  return options.simd == Simd::automatic && chunk.m >= chunk.n && simd::lane_width() > 1;
}

int lane_parameters(const ResolvedConstraints& constraints, const Chunk& chunk) {
  // A tied parameter under the mask stays tied: problem_constraints refuses
  // it, naming the problem, when the lane takes it.
  const double* mask = chunk.fixed_layout == Layout::absent ? nullptr : chunk.fixed.data();
  int free = 0;
  for (size_t j = 0; j < static_cast<size_t>(chunk.n); ++j)
    free += (constraints.role.empty() || constraints.role[j] == ParameterRole::free) &&
            !(mask && mask[j] != 0.0);
  return free;
}

bool holds_lane_mask(const Chunk& chunk, int k) {
  if (chunk.fixed_layout != Layout::per_problem) return true;
  const auto n = static_cast<size_t>(chunk.n);
  const double* first = chunk.fixed.data();
  const double* row = first + static_cast<size_t>(k) * n;
  for (size_t j = 0; j < n; ++j)
    if ((row[j] != 0.0) != (first[j] != 0.0)) return false;
  return true;
}

namespace {

// The samples a lane's problem has, as indices into the chunk's m, into
// samples; returns their count. They are those present in some problem of the
// chunk: every sample where no problem misses one (the first problem decides
// then), less the channels missing from every problem (a dead detector channel,
// NaN in y or in a shared x). A problem whose present samples are exactly these
// takes a lane; its gathered samples (gather_present_samples) are then the
// lane's, in the same order, so the solve is solve_problem's.
int lane_samples(const Chunk& chunk, std::vector<int>& samples) {
  const int m = chunk.m;
  samples.assign(static_cast<size_t>(m), 0);  // first a flag per sample
  int count = 0;
  for (int k = 0; k < chunk.count && count < m; ++k) {
    const ProblemRow r = problem_row(chunk, k);
    for (int i = 0; i < m; ++i) {
      int& seen = samples[static_cast<size_t>(i)];
      if (!seen && r.present(i)) {
        seen = 1;
        ++count;
      }
    }
  }
  for (int i = 0, at = 0; i < m; ++i)
    if (samples[static_cast<size_t>(i)]) samples[static_cast<size_t>(at++)] = i;
  samples.resize(static_cast<size_t>(count));  // no reallocation: shrinks
  return count;
}

// The lanes' side of a chunk's solves: its lane problems' samples (the lane
// samples of rows whose present samples they are), residuals and Jacobian,
// as solve_problem's. Which rows and starts go into the lanes, and where the
// results go, is the derived class's.
class LaneFits : public leastsq::LaneProblems {
 public:
  // held: the constraints where parameters are fixed (by name or by the
  // chunk's mask) or tied: the lanes then solve the free ones
  // (lanes.n_solve); else null.
  LaneFits(const models::Model& model, Chunk& chunk, SolverScratch& scalar, LaneScratch& lanes,
           const BatchOptions& options, const ResolvedConstraints* held = nullptr)
      : model_(model),
        chunk_(chunk),
        scalar_(scalar),
        lanes_(lanes),
        options_(options),
        w_(static_cast<size_t>(lanes.lmder->width())),
        m_(lanes.m),
        n_solve_(lanes.n_solve),
        held_(lanes.n_solve < chunk.n ? held : nullptr),
        vector_model_(model.has_lane_kernels() && chunk.x_layout != Layout::per_problem &&
                      (chunk.x_layout == Layout::absent || chunk.predictors == 1)),
        weighted_(chunk.sigma_layout != Layout::absent),
        loss_(options.loss),
        predictor_count_(chunk.x_layout == Layout::absent ? 1 : chunk.predictors) {
    if (!vector_model_) return;
    // Every lane problem's x, as gather_present_samples makes it (a lane's
    // problem has the lane samples, all finite in x).
    for (size_t j = 0; j < static_cast<size_t>(m_); ++j) {
      const int i = lanes.samples[j];
      lanes.x[j] = chunk.x_layout == Layout::absent ? static_cast<double>(i) : chunk.x[i];
    }
  }

  // The lane's y and sigma (1 where unweighted) at the lane samples, for the
  // model's lane kernels: gather_present_samples' values.
  void place_samples(int lane, const ProblemRow& r) {
    const auto l = static_cast<size_t>(lane);
    for (size_t j = 0; j < static_cast<size_t>(m_); ++j) {
      const int i = lanes_.samples[j];
      lanes_.y[j * w_ + l] = r.y[i];
      lanes_.sigma[j * w_ + l] = r.sigma ? r.sigma[i] : 1.0;
    }
  }

  // r = (y - f) / sigma, as run_solver's residuals; under a loss each
  // sample's transformed residual and (lmder) its factor g, as
  // run_transformed_solver's transform. With the model's lane kernels every
  // lane's model values at once.
  void residuals(const double* x, double* r, const std::uint8_t* active) override {
    const auto mm = static_cast<size_t>(m_);
    if (vector_model_) {
      model_.value_lanes(held_ ? full_points(x, active) : x, lanes_.x.data(), mm, lanes_.f.data());
      if (loss_ == Loss::linear) {
        simd::residuals_lanes(lanes_.y.data(), lanes_.f.data(),
                              weighted_ ? lanes_.sigma.data() : nullptr, r, mm * w_);
        return;
      }
      if (loss_ == Loss::poisson)
        return poisson_residual_lanes(lanes_.y.data(), lanes_.f.data(), active, r, lanes_.g.data(),
                                      mm);
      return robust_residual_lanes(loss_, lanes_.y.data(), lanes_.f.data(), lanes_.sigma.data(),
                                   active, r, lanes_.g.data(), mm, scale());
    }
    for (size_t l = 0; l < w_; ++l) {
      if (!active[l]) continue;
      SolverScratch& s = lanes_.lane[l];
      const std::span<double> f(s.f.data(), mm);
      if (held_)
        reduced(s).value(lane_point(x, l, s), predictors(s), f);
      else
        model_.value(lane_point(x, l, s), predictors(s), f);
      if (loss_ != Loss::linear) {
        with_loss(loss_, [&](auto loss) {
          for (size_t i = 0; i < mm; ++i) {
            const RobustResidual t =
                transformed<decltype(loss)::value>(s.ys[i], lane_sigma(s, i), f[i], scale());
            r[i * w_ + l] = t.r;
            s.loss_factor[i] = t.g;
          }
        });
      } else if (weighted_) {
        for (size_t i = 0; i < mm; ++i) r[i * w_ + l] = (s.ys[i] - f[i]) / s.inv_sigma[i];
      } else {
        for (size_t i = 0; i < mm; ++i) r[i * w_ + l] = s.ys[i] - f[i];
      }
    }
  }

  // dr/dp = -(df/dp) / sigma, as run_solver's Jacobian; under a loss
  // -(df/dp) / sigma * g (poisson: -(df/dp) g). lmder asks for a lane's
  // Jacobian only at the point whose residuals it evaluated last (the start,
  // or the step it just accepted), and a lane's g is written only by its own
  // evaluations: g is that point's, as run_transformed_solver's loss_factor.
  void jacobian(const double* x, double* jac, const std::uint8_t* active) override {
    const auto mm = static_cast<size_t>(m_), nn = static_cast<size_t>(n_solve_);
    const bool divide = weighted_ && loss_ != Loss::poisson;  // poisson: no sigma
    if (vector_model_) {
      // Every lane, the inactive ones' columns with whatever their g holds.
      if (held_) {
        model_.jacobian_lanes(full_points(x, active), lanes_.x.data(), mm, lanes_.full_jac.data());
        reduce_jacobian(jac, active);
      } else {
        model_.jacobian_lanes(x, lanes_.x.data(), mm, jac);
      }
      const double* sigma = divide ? lanes_.sigma.data() : nullptr;
      const double* g = loss_ == Loss::linear ? nullptr : lanes_.g.data();
      for (size_t j = 0; j < nn; ++j) simd::negate_lanes(jac + j * mm * w_, sigma, mm * w_, g);
      return;
    }
    for (size_t l = 0; l < w_; ++l) {
      if (!active[l]) continue;
      SolverScratch& s = lanes_.lane[l];
      const std::span<double> col_major(s.model_jac.data(), mm * nn);
      if (held_)
        reduced(s).jacobian(lane_point(x, l, s), predictors(s), col_major);
      else
        model_.jacobian(lane_point(x, l, s), predictors(s), col_major);
      for (size_t j = 0; j < nn; ++j) {
        const double* col = col_major.data() + j * mm;
        double* out = jac + j * mm * w_ + l;
        if (loss_ != Loss::linear) {
          for (size_t i = 0; i < mm; ++i)
            out[i * w_] =
                divide ? -col[i] / s.inv_sigma[i] * s.loss_factor[i] : -col[i] * s.loss_factor[i];
        } else if (weighted_) {
          for (size_t i = 0; i < mm; ++i) out[i * w_] = -col[i] / s.inv_sigma[i];
        } else {
          for (size_t i = 0; i < mm; ++i) out[i * w_] = -col[i];
        }
      }
    }
  }

 protected:
  // Row k's samples into `lane` for a start that needs no gathered samples:
  // with the model's lane kernels y and sigma, else gathered into the lane's
  // scratch.
  void take_samples(int lane, const ProblemRow& r) {
    if (vector_model_)
      place_samples(lane, r);
    else
      gather_present_samples(r, lanes_.lane[static_cast<size_t>(lane)]);
  }
  // Whether row k's present samples are the lane samples (and, under poisson,
  // its counts >= 0): gathered into s, as solve_problem gathers them.
  bool fits_lanes(const ProblemRow& r, SolverScratch& s) const {
    const int mv = gather_present_samples(r, s);
    return mv == m_ &&
           !(loss_ == Loss::poisson && has_negative_count(s.ys.data(), static_cast<size_t>(mv)));
  }

  std::span<const double> lane_point(const double* x, size_t l, SolverScratch& s) const {
    for (size_t j = 0; j < static_cast<size_t>(n_solve_); ++j) s.p[j] = x[j * w_ + l];
    return {s.p.data(), static_cast<size_t>(n_solve_)};
  }
  // Fixed or tied parameters: lane problem's model over its free parameters,
  // its held values and roles in its lane scratch s (lane_start's).
  ReducedModel reduced(SolverScratch& s) const { return {model_, *held_, s, n_solve_}; }
  // Every active lane's full parameter vector at its free parameters x
  // (n_solve x W), as the scalar solve expands them, into lanes_.full_x.
  const double* full_points(const double* x, const std::uint8_t* active) {
    const auto n = static_cast<size_t>(chunk_.n);
    for (size_t l = 0; l < w_; ++l) {
      if (!active[l]) continue;
      SolverScratch& s = lanes_.lane[l];
      reduced(s).expand(lane_point(x, l, s));
      for (size_t j = 0; j < n; ++j) lanes_.full_x[j * w_ + l] = s.full[j];
    }
    return lanes_.full_x.data();
  }
  // The Jacobian over the free parameters from the model's full one in
  // lanes_.full_jac (at full_points), as ReducedModel::jacobian forms it in
  // every lane: the free columns, then for each tie, in order, its column
  // times each lane's gradient added to its free arguments' columns (a
  // multiplication and an addition, each rounded, per element).
  void reduce_jacobian(double* jac, const std::uint8_t* active) {
    const ResolvedConstraints& rc = *held_;
    const size_t column = static_cast<size_t>(m_) * w_;
    const double* full = lanes_.full_jac.data();
    // Every lane problem has the same free set (lane_parameters): any active
    // lane's scratch says which (ifree, free_at), as problem_constraints made it.
    const SolverScratch& free_set = lanes_.lane[static_cast<size_t>(
        std::find_if(active, active + w_, [](std::uint8_t a) { return a != 0; }) - active)];
    for (int k = 0; k < n_solve_; ++k)
      std::copy_n(full + static_cast<size_t>(free_set.ifree[static_cast<size_t>(k)]) * column,
                  column, jac + static_cast<size_t>(k) * column);
    double* g = lanes_.tie_grad.data();
    for (const Tie& t : rc.ties) {
      for (size_t l = 0; l < w_; ++l) {
        SolverScratch& s = lanes_.lane[l];
        if (active[l]) reduced(s).tie_gradient(t);
        for (size_t a = 0; a < t.refs.size(); ++a) g[a * w_ + l] = active[l] ? s.tie_grad[a] : 0.0;
      }
      const double* tied = full + static_cast<size_t>(t.parameter) * column;
      for (size_t a = 0; a < t.refs.size(); ++a) {
        const int k = free_set.free_at[static_cast<size_t>(t.refs[a])];
        if (k < 0) continue;  // a fixed parameter: no column
        double* col = jac + static_cast<size_t>(k) * column;
        const double* ga = g + a * w_;
        for (size_t i = 0; i < column; i += w_)
          for (size_t l = 0; l < w_; ++l) col[i + l] += tied[i + l] * ga[l];
      }
    }
  }
  models::Predictors predictors(const SolverScratch& s) const {
    return {s.columns.data(), predictor_count_, static_cast<size_t>(m_)};
  }
  // sigma_i of a lane's gathered problem for a loss's e = (y - f) / sigma (1
  // unweighted: the same bits as y - f).
  double lane_sigma(const SolverScratch& s, size_t i) const {
    return weighted_ ? s.inv_sigma[i] : 1.0;
  }
  double scale() const { return options_.f_scale; }

  const models::Model& model_;
  Chunk& chunk_;
  SolverScratch& scalar_;
  LaneScratch& lanes_;
  const BatchOptions& options_;
  size_t w_;
  int m_;        // the lane samples' count (lane_samples): a lane problem's m
  int n_solve_;  // the solver's parameters: the model's, or the free ones (held_)
  // Fixed or tied parameters by name: the lanes solve the free ones.
  const ResolvedConstraints* held_;
  // The model's lane kernels evaluate every lane at once (x shared).
  bool vector_model_;
  bool weighted_;        // sigma given: every problem of the chunk is weighted
  Loss loss_;            // linear: the plain residuals; else transformed (loss.hpp)
  int predictor_count_;  // x's predictors per sample, as problem_row's d
};

// The chunk's plain and bounded problems, handed to the lanes in order, each
// start a lane's problem; the others are solved on the way, through
// solve_problem.
class ChunkLanes final : public LaneFits {
 public:
  ChunkLanes(const models::Model& model, Chunk& chunk, SolverScratch& scalar, LaneScratch& lanes,
             const BatchOptions& options, const ResolvedConstraints& constraints, const Seed* seed,
             const RefineState* refined)
      : LaneFits(model, chunk, scalar, lanes, options, &constraints),
        constraints_(constraints),
        seed_(seed),
        refined_(refined),
        // Given starts need no gathered samples (the estimate does): y and
        // sigma go straight from the chunk into the lanes.
        direct_(vector_model_ && chunk.x0_layout != Layout::absent),
        bounded_(constraints.has_bounds || chunk.lower_layout != Layout::absent ||
                 chunk.upper_layout != Layout::absent),
        constrained_(bounded_ || held_),
        own_estimate_(seed && chunk.x0_layout == Layout::absent && model.can_estimate()),
        starts_(options.starts + (own_estimate_ ? 1 : 0)),
        first_code_(chunk.x0_layout != Layout::absent ? StartCode::given_x0
                    : seed                            ? StartCode::aggregate
                                                      : StartCode::estimate) {}

  bool next(int lane, std::span<double> x0) override {
    SolverScratch& s = lanes_.lane[static_cast<size_t>(lane)];
    lanes_.start[static_cast<size_t>(lane)] = 0;
    if (start_ > 0) return next_start(lane, x0);
    while (next_ < chunk_.count) {
      const int k = next_++;
      const ProblemRow r = problem_row(chunk_, k);
      const int d = static_cast<int>(r.d);
      if (!model_.accepts_predictors(d)) model_.check_predictors(d);  // throws, naming the term
      // Samples missing beyond the lanes' (a shorter problem) or a negative
      // count under poisson (not solved, solve_problem says why): alone.
      if (!holds_lane_mask(chunk_, k) || (direct_ ? !direct_fits(r) : !fits_lanes(r, s))) {
        solve_problem(model_, chunk_, k, scalar_, options_, constraints_, seed_, refined_);
        continue;
      }
      reset_outputs(chunk_, k, m_);
      if (constrained_) {
        // The first start in full, then its free parameters into x0.
        const std::span<double> full(s.full.data(), static_cast<size_t>(chunk_.n));
        chunk_.start[k] = static_cast<std::int8_t>(first_start(k, s, r, full, !direct_));
        if (!constrain_lane(lane, k, x0)) continue;  // a given start outside its bounds
      } else {
        chunk_.start[k] = static_cast<std::int8_t>(first_start(k, s, r, x0, !direct_));
      }
      lanes_.problem[static_cast<size_t>(lane)] = k;
      if (vector_model_) place_samples(lane, r);
      return took_first_start(k, x0);
    }
    return false;
  }

  // With constraints: problem k's roles and bounds in the lane's scratch and
  // its start there checked against them (lane_start), its free parameters
  // into x0 and its bounds into the lane's options; false where a given start
  // is outside them (marked).
  bool constrain_lane(int lane, int k, std::span<double> x0) {
    SolverScratch& s = lanes_.lane[static_cast<size_t>(lane)];
    if (lane_start(model_, chunk_, k, constraints_, s, x0) < 0) return false;
    if (!bounded_) return true;
    leastsq::Options& o = lanes_.options[static_cast<size_t>(lane)];
    o = options_.solver;
    o.lower = {s.free_lower.data(), static_cast<size_t>(n_solve_)};
    o.upper = {s.free_upper.data(), static_cast<size_t>(n_solve_)};
    return true;
  }
  const leastsq::Options& options(int lane, const leastsq::Options& run) override {
    return bounded_ ? lanes_.options[static_cast<size_t>(lane)] : run;
  }

  // --starts: problem k's first start is x0; its other starts follow it
  // into the next lanes (a refined row has one).
  bool took_first_start(int k, std::span<const double> x0) {
    if (starts_ == 1) return true;
    lanes_.kept_start[static_cast<size_t>(k)] = -1;
    if (refined_from(k)) return true;
    const auto row = static_cast<size_t>(k) * static_cast<size_t>(chunk_.n);
    std::copy(x0.begin(), x0.end(), lanes_.first_start.begin() + static_cast<std::ptrdiff_t>(row));
    start_ = 1;
    return true;
  }

  // Start start_ of the last problem taken into `lane`: its samples again
  // and, as solve_problem's, the perturbation of its first start, or after
  // --x0-from's starts the problem's own estimate.
  bool next_start(int lane, std::span<double> x0) {
    const int k = next_ - 1;
    const int start = start_;
    start_ = start_ + 1 == starts_ ? 0 : start_ + 1;
    const ProblemRow r = problem_row(chunk_, k);
    SolverScratch& s = lanes_.lane[static_cast<size_t>(lane)];
    take_samples(lane, r);
    // The estimate's samples (take_samples gathered them without lane kernels).
    if (start == options_.starts && vector_model_) gather_present_samples(r, s);
    const auto n = static_cast<size_t>(chunk_.n), mm = static_cast<size_t>(m_);
    if (start == options_.starts)  // own_estimate_
      model_.estimate({s.xs.data(), mm}, {s.ys.data(), mm}, x0, {s.estimate_scratch.data(), mm});
    else
      perturbed_start({lanes_.first_start.data() + static_cast<size_t>(k) * n, n},
                      chunk_.first + static_cast<size_t>(k), start, x0);
    lanes_.problem[static_cast<size_t>(lane)] = k;
    lanes_.start[static_cast<size_t>(lane)] = start;
    return true;
  }

  // fits_lanes for direct_ (the lanes' x is finite: present() is y's test),
  // without gathering.
  bool direct_fits(const ProblemRow& r) const {
    bool finite = true, negative = false;
    for (const int i : lanes_.samples) {
      finite &= std::isfinite(r.y[i]);
      negative |= r.y[i] < 0.0;
    }
    return finite && !(loss_ == Loss::poisson && negative);
  }

  void finished(int lane, const leastsq::Summary& summary, std::span<const double> x,
                const leastsq::Workspace& ws) override {
    const int k = lanes_.problem[static_cast<size_t>(lane)];
    const int start = lanes_.start[static_cast<size_t>(lane)];
    if (start == 0) ++chunk_.lane_problems;
    if (constrained_)  // one start (refuse_seeding_with_constraints)
      return store_lane_constrained(model_, chunk_, k, constraints_, summary, x, ws,
                                    lanes_.lane[static_cast<size_t>(lane)], options_);
    if (starts_ > 1) {
      // The starts finish in any order: start_wins keeps the result that
      // solve_problem, solving them in order, keeps.
      int& kept = lanes_.kept_start[static_cast<size_t>(k)];
      if (kept >= 0) {
        if (!start_wins(solve_cost(summary), start, chunk_.cost[k], kept)) return;
        reset_outputs(chunk_, k, m_);
      }
      kept = start;
      chunk_.start[k] = static_cast<std::int8_t>(
          start == 0 ? static_cast<int>(refined_from(k) ? StartCode::neighbour : first_code_)
          : start == options_.starts ? static_cast<int>(StartCode::estimate)  // own_estimate_
                                     : static_cast<int>(StartCode::perturbed) + start);
    }
    store_solution(chunk_, k, summary, x, m_, ws, scalar_.cov_tmp);
    if (loss_ == Loss::poisson) {
      const bool converged = leastsq::converged(summary.status);
      if (vector_model_)  // the kept start's, W rows at a time at the chunk's end
        lanes_.covariance_due[static_cast<size_t>(k)] = converged;
      else if (converged)
        store_poisson_covariance(model_, chunk_, k, scalar_, x);
    }
    if (chunk_.full_output && summary.status != leastsq::Status::improper_input)
      store_full_output(chunk_, k, problem_row(chunk_, k), m_, ws, chunk_.n);
  }
  bool full_output() const override { return chunk_.full_output; }

  // Under poisson with the model's lane kernels, after the lanes have run:
  // the covariance of every row whose kept solve converged
  // (store_poisson_covariance's, with its bits), W rows at a time. The model's
  // lane kernels give its scalar values and Jacobian bit for bit, and
  // poisson_covariance_lanes inverse_fisher_information's arithmetic.
  void store_poisson_covariances() {
    if (loss_ != Loss::poisson || !vector_model_) return;
    const auto n = static_cast<size_t>(chunk_.n);
    int filled = 0;
    for (int k = 0; k < chunk_.count; ++k) {
      if (!lanes_.covariance_due[static_cast<size_t>(k)]) continue;
      lanes_.covariance_row[static_cast<size_t>(filled)] = k;
      const double* x = chunk_.x_out.data() + static_cast<size_t>(k) * n;
      for (size_t j = 0; j < n; ++j)
        lanes_.fisher_points[j * w_ + static_cast<size_t>(filled)] = x[j];
      if (++filled == static_cast<int>(w_)) {
        store_covariance_group(filled);
        filled = 0;
      }
    }
    if (filled > 0) store_covariance_group(filled);
  }

 private:
  // The first `filled` lanes of fisher_points: their covariance into their
  // rows (NaN where the information is not positive definite, as
  // store_poisson_covariance). The other lanes repeat lane 0's point.
  void store_covariance_group(int filled) {
    constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
    const auto n = static_cast<size_t>(chunk_.n), mm = static_cast<size_t>(m_);
    double* p = lanes_.fisher_points.data();
    for (size_t j = 0; j < n; ++j)
      for (size_t l = static_cast<size_t>(filled); l < w_; ++l) p[j * w_ + l] = p[j * w_];
    model_.value_lanes(p, lanes_.x.data(), mm, lanes_.f.data());
    model_.jacobian_lanes(p, lanes_.x.data(), mm, lanes_.fisher_jac.data());
    poisson_covariance_lanes(lanes_.f.data(), lanes_.fisher_jac.data(), mm, n,
                             lanes_.fisher_factor.data(), lanes_.fisher_cov.data(),
                             lanes_.fisher_std_error.data(), lanes_.covariance_ok.data());
    for (size_t l = 0; l < static_cast<size_t>(filled); ++l) {
      const auto row = static_cast<size_t>(lanes_.covariance_row[l]);
      double* cov = chunk_.cov_x.data() + row * n * n;
      double* std_error = chunk_.std_error.data() + row * n;
      const bool ok = lanes_.covariance_ok[l] != 0;
      for (size_t e = 0; e < n * n; ++e) cov[e] = ok ? lanes_.fisher_cov[e * w_ + l] : kNaN;
      for (size_t j = 0; j < n; ++j) std_error[j] = ok ? lanes_.fisher_std_error[j * w_ + l] : kNaN;
    }
  }

  // --refine neighbours' last pass: where a refinement improved row k, the
  // neighbour's x it was refitted from (its one start), else null.
  const double* refined_from(int k) const {
    const size_t problem = chunk_.first + static_cast<size_t>(k);
    if (!refined_ || !refined_->holds(problem)) return nullptr;
    const double* from =
        refined_->from.data() + (problem - refined_->first) * static_cast<size_t>(chunk_.n);
    return std::isfinite(from[0]) ? from : nullptr;
  }
  // Row k's first start into x0 (solve_problem's): the refined one, else
  // starting_point's from the samples in s. Returns its /start.
  StartCode first_start(int k, SolverScratch& s, const ProblemRow& r, std::span<double> x0,
                        bool gathered) {
    if (const double* from = refined_from(k)) {
      std::copy_n(from, chunk_.n, x0.begin());
      return StartCode::neighbour;
    }
    const auto valid = static_cast<size_t>(gathered ? m_ : 0);
    return starting_point(model_, chunk_, k, s, {s.xs.data(), valid}, {s.ys.data(), valid}, x0, r,
                          seed_);
  }

  const ResolvedConstraints& constraints_;
  const Seed* seed_;            // --x0-from: the first start of a problem without x0
  const RefineState* refined_;  // --refine neighbours: the passes' solutions
  bool direct_;       // direct_fits() admits the rows, ungathered (vector model, x0 given)
  bool bounded_;      // MPFIT's limits, by name or per problem (solve_constrained's)
  bool constrained_;  // bounds, or fixed or tied parameters
  // --x0-from without x0: the problem's own estimate is one more start, the
  // last (solve_problem's), where the model has one.
  bool own_estimate_;
  int starts_;            // --starts (and the own estimate): each a lane's problem
  StartCode first_code_;  // the first start's /start (estimate, given x0 or aggregate)
  int next_ = 0;          // the next chunk row to take
  int start_ = 0;         // > 0: the start of row next_ - 1 to take next
};

// One refinement pass over the chunk's problems (refine_problem's): each
// problem's refits from its neighbours, its candidates, are lane problems;
// problems whose samples are not the lanes' are refined alone.
class RefineLanes final : public LaneFits {
 public:
  RefineLanes(const models::Model& model, Chunk& chunk, SolverScratch& scalar, LaneScratch& lanes,
              const BatchOptions& options, const RefineState& prev, RefineState& next)
      : LaneFits(model, chunk, scalar, lanes, options), prev_(prev), next_state_(next) {}

  bool next(int lane, std::span<double> x0) override {
    while (candidate_ == candidates_) {
      if (next_ == chunk_.count) return false;
      const int k = next_++;
      const ProblemRow r = problem_row(chunk_, k);
      if (!fits_lanes(r, scalar_)) {
        improved_ |= refine_problem(model_, chunk_, k, scalar_, options_, prev_, next_state_);
        continue;
      }
      candidates_ = refine_candidates(chunk_, k, prev_, next_state_, at_);
      candidate_ = 0;
      current_ = k;
      lanes_.kept_start[static_cast<size_t>(k)] = -1;  // the own solution
    }
    const int c = candidate_++;
    const size_t from = at_[static_cast<size_t>(c)], n = static_cast<size_t>(chunk_.n);
    take_samples(lane, problem_row(chunk_, current_));
    std::copy_n(prev_.x.data() + from * n, n, x0.begin());
    lanes_.problem[static_cast<size_t>(lane)] = current_;
    lanes_.start[static_cast<size_t>(lane)] = c;
    lanes_.neighbour[static_cast<size_t>(lane)] = from;
    return true;
  }

  // The refits finish in any order: start_wins keeps refine_problem's.
  void finished(int lane, const leastsq::Summary& summary, std::span<const double> x,
                const leastsq::Workspace&) override {
    const int k = lanes_.problem[static_cast<size_t>(lane)];
    const int c = lanes_.start[static_cast<size_t>(lane)];
    const size_t row = chunk_.first + static_cast<size_t>(k) - prev_.first;
    int& kept = lanes_.kept_start[static_cast<size_t>(k)];
    if (!start_wins(solve_cost(summary), c, next_state_.cost[row], kept)) return;
    kept = c;
    const size_t from = lanes_.neighbour[static_cast<size_t>(lane)];
    keep_refit(next_state_, row, summary, x, prev_.x.data() + from * static_cast<size_t>(chunk_.n));
    improved_ = true;
  }

  bool improved() const { return improved_; }

 private:
  const RefineState& prev_;
  RefineState& next_state_;
  std::array<size_t, 8> at_{};          // the current problem's candidates (rows of prev_)
  int candidates_ = 0, candidate_ = 0;  // their count; the next to take
  int current_ = -1;                    // the current problem's chunk row
  int next_ = 0;                        // the next chunk row to take
  bool improved_ = false;
};

}  // namespace

bool refine_chunk(const models::Model& model, Chunk& chunk, SolverScratch& s, LaneScratch& lanes,
                  const BatchOptions& options, const RefineState& prev, RefineState& next) {
  // Per-problem bounds: refine_problem's unconstrained refits, as before.
  int lane_m = 0;
  if (!lanes_apply(options, chunk) || chunk.fixed_layout != Layout::absent ||
      chunk.lower_layout != Layout::absent || chunk.upper_layout != Layout::absent ||
      (lane_m = lane_samples(chunk, lanes.samples)) < chunk.n) {
    bool improved = false;
    for (int k = 0; k < chunk.count; ++k)
      improved |= refine_problem(model, chunk, k, s, options, prev, next);
    return improved;
  }
  lanes.size_for(lane_m, chunk.n, chunk.n, options.jacobian == JacobianMode::analytic);
  lanes.kept_start.resize(static_cast<size_t>(chunk.count));
  RefineLanes problems(model, chunk, s, lanes, options, prev, next);
  lanes.lmder->run(problems, options.solver);
  return problems.improved();
}

void solve_chunk(const models::Model& model, Chunk& chunk, SolverScratch& s, LaneScratch& lanes,
                 const BatchOptions& options, const ResolvedConstraints& constraints,
                 const Seed* seed, const RefineState* refined) {
  chunk.lane_problems = 0;
  refuse_seeding_with_constraints(options, constraints, chunk);
  // With fewer lane samples than parameters every problem is short
  // (solve_problem marks it).
  int lane_m = 0;
  if (!lanes_apply(options, chunk) || (lane_m = lane_samples(chunk, lanes.samples)) < chunk.n) {
    for (int k = 0; k < chunk.count; ++k)
      solve_problem(model, chunk, k, s, options, constraints, seed, refined);
    return;
  }
  lanes.size_for(lane_m, chunk.n, lane_parameters(constraints, chunk),
                 options.jacobian == JacobianMode::analytic);
  if (options.starts > 1 || seed) {  // no reallocation after the first chunk of a thread
    lanes.first_start.resize(static_cast<size_t>(chunk.count) * static_cast<size_t>(chunk.n));
    lanes.kept_start.resize(static_cast<size_t>(chunk.count));
  }
  if (options.loss == Loss::poisson) {  // no reallocation after the first chunk of a thread
    const auto w = lanes.lane.size(), n = static_cast<size_t>(chunk.n);
    lanes.covariance_due.assign(static_cast<size_t>(chunk.count), 0);
    lanes.covariance_row.resize(w);
    lanes.covariance_ok.resize(w);
    lanes.fisher_points.resize(n * w);
    lanes.fisher_jac.resize(n * static_cast<size_t>(lane_m) * w);
    lanes.fisher_factor.resize(n * n * w);
    lanes.fisher_cov.resize(n * n * w);
    lanes.fisher_std_error.resize(n * w);
  }
  const leastsq::Options& opt = options.solver;
  ChunkLanes problems(model, chunk, s, lanes, options, constraints, seed, refined);
  lanes.lmder->run(problems, opt);  // runs until every problem is taken and done
  problems.store_poisson_covariances();
}

}  // namespace lmbatch::batch::detail
