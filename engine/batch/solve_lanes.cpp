// A chunk's problems in SIMD lanes (--simd auto; leastsq/lanes.hpp): every
// problem whose solve is the plain one (lmder or lmdif, any loss, any --starts
// and --x0-from, no constraints, counts >= 0 under poisson) and that has every
// sample of the lanes
// (lane_samples: the chunk's samples, less those no problem has) goes into a lane,
// the others through solve_problem. A lane's problem gets solve_problem's bits
// (the same start, residuals, Jacobian and MINPACK arithmetic), so results do
// not depend on which problems share lanes, nor on --simd.
#include <algorithm>
#include <cmath>

#include "lmbatch/batch/loss.hpp"
#include "lmbatch/simd/lanes.hpp"
#include "solve_problem.hpp"

namespace lmbatch::batch::detail {

void LaneScratch::size_for(int m_, int n_, bool analytic) {
  if (lmder && m_ == m && n_ == n && lmder->analytic_jacobian() == analytic) return;
  m = m_;
  n = n_;
  lmder.emplace(m_, n_, analytic);
  lane.resize(static_cast<size_t>(lmder->width()));
  for (SolverScratch& s : lane) s.size_for(m_, n_);
  problem.assign(lane.size(), -1);
  start.assign(lane.size(), 0);
  const auto mm = static_cast<size_t>(m_);
  x.assign(mm, 0.0);  // samples: sized by lane_samples
  for (leastsq::LaneVector* v : {&y, &sigma, &f, &g}) v->assign(mm * lane.size(), 1.0);
}

bool lanes_apply(const BatchOptions& options, const ResolvedConstraints& constraints,
                 const Chunk& chunk, const RefineState* refined) {
  // Either Jacobian mode: lmder and lmdif both run in lanes; --starts and
  // --x0-from's starts too (each start a lane's problem).
  return options.simd == Simd::automatic && !refined && !constraints.any() &&
         chunk.lower_layout == Layout::absent && chunk.upper_layout == Layout::absent &&
         chunk.fixed_layout == Layout::absent && chunk.m >= chunk.n && simd::lane_width() > 1;
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

// The chunk's plain problems, handed to the lanes in order; the others are
// solved on the way, through solve_problem.
class ChunkLanes final : public leastsq::LaneProblems {
 public:
  ChunkLanes(const models::Model& model, Chunk& chunk, SolverScratch& scalar, LaneScratch& lanes,
             const BatchOptions& options, const ResolvedConstraints& constraints, const Seed* seed)
      : model_(model),
        chunk_(chunk),
        scalar_(scalar),
        lanes_(lanes),
        options_(options),
        constraints_(constraints),
        seed_(seed),
        w_(static_cast<size_t>(lanes.lmder->width())),
        m_(lanes.m),
        vector_model_(model.has_lane_kernels() && chunk.x_layout != Layout::per_problem &&
                      (chunk.x_layout == Layout::absent || chunk.predictors == 1)),
        weighted_(chunk.sigma_layout != Layout::absent),
        loss_(options.loss),
        predictor_count_(chunk.x_layout == Layout::absent ? 1 : chunk.predictors),
        own_estimate_(seed && chunk.x0_layout == Layout::absent && model.can_estimate()),
        starts_(options.starts + (own_estimate_ ? 1 : 0)),
        first_code_(chunk.x0_layout != Layout::absent ? StartCode::given_x0
                    : seed                            ? StartCode::aggregate
                                                      : StartCode::estimate) {
    if (!vector_model_) return;
    // Every lane problem's x, as gather_present_samples makes it (a lane's
    // problem has the lane samples, all finite in x).
    for (size_t j = 0; j < static_cast<size_t>(m_); ++j) {
      const int i = lanes.samples[j];
      lanes.x[j] = chunk.x_layout == Layout::absent ? static_cast<double>(i) : chunk.x[i];
    }
    // Given starts need no gathered samples (the estimate does): y and sigma
    // go straight from the chunk into the lanes.
    direct_ = chunk.x0_layout != Layout::absent;
  }

  bool next(int lane, std::span<double> x0) override {
    SolverScratch& s = lanes_.lane[static_cast<size_t>(lane)];
    lanes_.start[static_cast<size_t>(lane)] = 0;
    if (start_ > 0) return next_start(lane, x0);
    while (next_ < chunk_.count) {
      const int k = next_++;
      const ProblemRow r = problem_row(chunk_, k);
      const int d = static_cast<int>(r.d);
      if (!model_.accepts_predictors(d)) model_.check_predictors(d);  // throws, naming the term
      if (direct_) {
        if (!take_direct(lane, k, r, x0)) {  // missing samples: solved alone
          solve_problem(model_, chunk_, k, scalar_, options_, constraints_, seed_);
          continue;
        }
        return took_first_start(k, x0);
      }
      const int mv = gather_present_samples(r, s);
      // Samples missing beyond the lanes' (a shorter problem) or a negative
      // count under poisson (not solved, solve_problem says why): alone.
      if (mv != m_ ||
          (loss_ == Loss::poisson && has_negative_count(s.ys.data(), static_cast<size_t>(mv)))) {
        solve_problem(model_, chunk_, k, scalar_, options_, constraints_, seed_);
        continue;
      }
      reset_outputs(chunk_, k, mv);
      const auto valid = static_cast<size_t>(mv);
      const StartCode code = starting_point(model_, chunk_, k, s, {s.xs.data(), valid},
                                            {s.ys.data(), valid}, x0, r, seed_);
      chunk_.start[k] = static_cast<std::int8_t>(code);
      lanes_.problem[static_cast<size_t>(lane)] = k;
      if (vector_model_) place_samples(lane, r);
      return took_first_start(k, x0);
    }
    return false;
  }

  // --starts: problem k's first start is x0; its other starts follow it
  // into the next lanes.
  bool took_first_start(int k, std::span<const double> x0) {
    if (starts_ == 1) return true;
    const auto row = static_cast<size_t>(k) * static_cast<size_t>(chunk_.n);
    std::copy(x0.begin(), x0.end(), lanes_.first_start.begin() + static_cast<std::ptrdiff_t>(row));
    lanes_.kept_start[static_cast<size_t>(k)] = -1;
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
    if (!vector_model_ || start == options_.starts) gather_present_samples(r, s);
    if (vector_model_) place_samples(lane, r);
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

  // next() for a problem whose samples need no gathering (direct_): false if
  // a lane sample is missing (or, under poisson, a count is negative), else
  // the problem is in the lane, with gather_present_samples' y and sigma
  // (the same values) and its given start.
  bool take_direct(int lane, int k, const ProblemRow& r, std::span<double> x0) {
    bool finite = true, negative = false;  // the lanes' x is finite: present() is y's test
    for (const int i : lanes_.samples) {
      finite &= std::isfinite(r.y[i]);
      negative |= r.y[i] < 0.0;
    }
    if (!finite || (loss_ == Loss::poisson && negative)) return false;
    reset_outputs(chunk_, k, m_);
    chunk_.start[k] = static_cast<std::int8_t>(starting_point(
        model_, chunk_, k, lanes_.lane[static_cast<size_t>(lane)], {}, {}, x0, r, seed_));
    lanes_.problem[static_cast<size_t>(lane)] = k;
    place_samples(lane, r);
    return true;
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
      model_.value_lanes(x, lanes_.x.data(), mm, lanes_.f.data());
      if (loss_ == Loss::linear) {
        simd::residuals_lanes(lanes_.y.data(), lanes_.f.data(),
                              weighted_ ? lanes_.sigma.data() : nullptr, r, mm * w_);
        return;
      }
      if (loss_ == Loss::poisson)
        return poisson_residual_lanes(lanes_.y.data(), lanes_.f.data(), active, r, lanes_.g.data(),
                                      mm);
      with_loss(loss_, [&](auto loss) {
        for (size_t i = 0; i < mm; ++i)
          for (size_t l = 0; l < w_; ++l) {
            if (!active[l]) continue;
            const size_t at = i * w_ + l;
            const RobustResidual t = transformed<decltype(loss)::value>(
                lanes_.y[at], lanes_.sigma[at], lanes_.f[at], scale());
            r[at] = t.r;
            lanes_.g[at] = t.g;
          }
      });
      return;
    }
    for (size_t l = 0; l < w_; ++l) {
      if (!active[l]) continue;
      SolverScratch& s = lanes_.lane[l];
      const std::span<double> f(s.f.data(), mm);
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
    const auto mm = static_cast<size_t>(m_), nn = static_cast<size_t>(chunk_.n);
    const bool divide = weighted_ && loss_ != Loss::poisson;  // poisson: no sigma
    if (vector_model_) {
      model_.jacobian_lanes(x, lanes_.x.data(), mm, jac);
      if (loss_ == Loss::linear) {
        for (size_t j = 0; j < nn; ++j)
          simd::negate_lanes(jac + j * mm * w_, weighted_ ? lanes_.sigma.data() : nullptr, mm * w_);
        return;
      }
      for (size_t j = 0; j < nn; ++j)
        for (size_t i = 0; i < mm; ++i)
          for (size_t l = 0; l < w_; ++l) {
            if (!active[l]) continue;
            const size_t at = i * w_ + l;
            double& d = jac[j * mm * w_ + at];
            d = divide ? -d / lanes_.sigma[at] * lanes_.g[at] : -d * lanes_.g[at];
          }
      return;
    }
    for (size_t l = 0; l < w_; ++l) {
      if (!active[l]) continue;
      SolverScratch& s = lanes_.lane[l];
      const std::span<double> col_major(s.model_jac.data(), mm * nn);
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

  void finished(int lane, const leastsq::Summary& summary, std::span<const double> x,
                const leastsq::Workspace& ws) override {
    const int k = lanes_.problem[static_cast<size_t>(lane)];
    const int start = lanes_.start[static_cast<size_t>(lane)];
    if (start == 0) ++chunk_.lane_problems;
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
          start == 0                 ? static_cast<int>(first_code_)
          : start == options_.starts ? static_cast<int>(StartCode::estimate)  // own_estimate_
                                     : static_cast<int>(StartCode::perturbed) + start);
    }
    store_solution(chunk_, k, summary, x, m_, ws, scalar_.cov_tmp);
    if (loss_ == Loss::poisson && leastsq::converged(summary.status))
      store_poisson_covariance(model_, chunk_, k, scalar_, x);
    if (chunk_.full_output && summary.status != leastsq::Status::improper_input)
      store_full_output(chunk_, k, problem_row(chunk_, k), m_, ws, chunk_.n);
  }
  bool full_output() const override { return chunk_.full_output; }

 private:
  std::span<const double> lane_point(const double* x, size_t l, SolverScratch& s) const {
    for (size_t j = 0; j < static_cast<size_t>(chunk_.n); ++j) s.p[j] = x[j * w_ + l];
    return {s.p.data(), static_cast<size_t>(chunk_.n)};
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
  const ResolvedConstraints& constraints_;
  const Seed* seed_;  // --x0-from: the first start of a problem without x0
  size_t w_;
  int m_;  // the lane samples' count (lane_samples): a lane problem's m
  // The model's lane kernels evaluate every lane at once (x shared).
  bool vector_model_;
  bool weighted_;        // sigma given: every problem of the chunk is weighted
  Loss loss_;            // linear: the plain residuals; else transformed (loss.hpp)
  int predictor_count_;  // x's predictors per sample, as problem_row's d
  bool direct_ = false;  // take_direct() takes the problems (vector model, x0 given)
  // --x0-from without x0: the problem's own estimate is one more start, the
  // last (solve_problem's), where the model has one.
  bool own_estimate_;
  int starts_;            // --starts (and the own estimate): each a lane's problem
  StartCode first_code_;  // the first start's /start (estimate, given x0 or aggregate)
  int next_ = 0;          // the next chunk row to take
  int start_ = 0;         // > 0: the start of row next_ - 1 to take next
};

}  // namespace

void solve_chunk(const models::Model& model, Chunk& chunk, SolverScratch& s, LaneScratch& lanes,
                 const BatchOptions& options, const ResolvedConstraints& constraints,
                 const Seed* seed, const RefineState* refined) {
  chunk.lane_problems = 0;
  // With fewer lane samples than parameters every problem is short
  // (solve_problem marks it).
  int lane_m = 0;
  if (!lanes_apply(options, constraints, chunk, refined) ||
      (lane_m = lane_samples(chunk, lanes.samples)) < chunk.n) {
    for (int k = 0; k < chunk.count; ++k)
      solve_problem(model, chunk, k, s, options, constraints, seed, refined);
    return;
  }
  lanes.size_for(lane_m, chunk.n, options.jacobian == JacobianMode::analytic);
  if (options.starts > 1 || seed) {  // no reallocation after the first chunk of a thread
    lanes.first_start.resize(static_cast<size_t>(chunk.count) * static_cast<size_t>(chunk.n));
    lanes.kept_start.resize(static_cast<size_t>(chunk.count));
  }
  const leastsq::Options& opt = options.solver;
  ChunkLanes problems(model, chunk, s, lanes, options, constraints, seed);
  lanes.lmder->run(problems, opt);  // runs until every problem is taken and done
}

}  // namespace lmbatch::batch::detail
